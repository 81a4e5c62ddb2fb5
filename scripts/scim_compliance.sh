#!/usr/bin/env bash
# Runs the outside SCIM compliance suite (scim2-tester, pinned in
# scripts/scim_compliance.requirements.txt) against a Roster of its own: builds the
# binary, starts it on a free loopback port over a fresh SQLite file, makes a tenant
# and an admin API key, runs scripts/scim_compliance.py, and stops the server.
# Exits non-zero when the build, the start or any check fails.
#
# ROSTER_PROFILE=dev uses the debug build (faster to build, slower to run);
# the default is the release build. SCIM_COMPLIANCE_DATABASE_URL runs the server
# over that database instead (an empty PostgreSQL database, say).
set -euo pipefail
cd "$(dirname "$0")/.."

target_dir=${CARGO_TARGET_DIR:-target}
profile=${ROSTER_PROFILE:-release}
venv="$target_dir/scim-venv"

if ! "$venv/bin/python" -c 'import scim2_tester' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    -r scripts/scim_compliance.requirements.txt
fi

if [ "$profile" = release ]; then
  cargo build --locked --release --bin roster
  binary="$target_dir/release/roster"
else
  cargo build --locked --bin roster
  binary="$target_dir/debug/roster"
fi

work=$(mktemp -d)
server=
stop() {
  if [ -n "$server" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap stop EXIT

operator=$("$venv/bin/python" -c 'import secrets; print(secrets.token_urlsafe(32))')
ROSTER_BOOTSTRAP_TOKEN="$operator" RUST_LOG=warn "$binary" serve \
  --listen 127.0.0.1:0 --database-url "${SCIM_COMPLIANCE_DATABASE_URL:-sqlite://$work/roster.db}" \
  >"$work/stdout" 2>"$work/stderr" &
server=$!

# The server prints its address once it listens (port 0: the system picks one).
address=
for _ in $(seq 1 300); do
  address=$(sed -n 's#^roster listening on http://##p' "$work/stdout")
  [ -n "$address" ] && break
  if ! kill -0 "$server" 2>/dev/null; then
    echo "roster exited before listening:" >&2
    cat "$work/stderr" >&2
    exit 1
  fi
  sleep 0.1
done
if [ -z "$address" ]; then
  echo "roster did not listen within 30 s" >&2
  exit 1
fi

json_field() { "$venv/bin/python" -c "import json, sys; print(json.load(sys.stdin)['$1'])"; }
tenant=$(curl -sSf -X POST "http://$address/v1/tenants" \
  -H "authorization: Bearer $operator" -H 'content-type: application/json' \
  -d '{"name": "SCIM compliance"}' | json_field id)
key=$(curl -sSf -X POST "http://$address/v1/tenants/$tenant/api-keys" \
  -H "authorization: Bearer $operator" -H 'content-type: application/json' \
  -d '{"name": "scim2-tester", "role": "admin"}' | json_field secret)

"$venv/bin/python" scripts/scim_compliance.py "http://$address/scim/v2" "$key"
