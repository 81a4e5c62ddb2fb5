# Sourced by the scripts that drive a Roster of their own (scim_compliance.sh,
# schemathesis.sh): builds the binary, starts it on a free loopback port over a
# database, and makes a tenant with an admin API key. Expects `set -euo pipefail`,
# the repository root as the working directory, and `$python`, a Python 3 to run
# small helpers with.
#
#   roster_build                 builds the release binary, or with ROSTER_PROFILE=dev
#                                the debug one, and sets $binary
#   roster_start [DATABASE_URL]  starts it (a fresh SQLite file when no URL is given),
#                                sets $work (a temporary folder), $operator, $server
#                                and $address, and stops it and removes $work on exit
#   roster_tenant_key NAME       makes a tenant NAME and an admin key of it, and sets
#                                $tenant and $key

target_dir=${CARGO_TARGET_DIR:-target}

roster_build() {
  if [ "${ROSTER_PROFILE:-release}" = release ]; then
    cargo build --locked --release --bin roster
    binary="$target_dir/release/roster"
  else
    cargo build --locked --bin roster
    binary="$target_dir/debug/roster"
  fi
}

roster_stop() {
  if [ -n "${server:-}" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "${work:-}"
}

roster_start() {
  work=$(mktemp -d)
  server=
  trap roster_stop EXIT
  operator=$("$python" -c 'import secrets; print(secrets.token_urlsafe(32))')
  ROSTER_BOOTSTRAP_TOKEN="$operator" RUST_LOG=warn "$binary" serve \
    --listen 127.0.0.1:0 --database-url "${1:-sqlite://$work/roster.db}" \
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
}

roster_json_field() { "$python" -c "import json, sys; print(json.load(sys.stdin)['$1'])"; }

roster_tenant_key() {
  tenant=$(curl -sSf -X POST "http://$address/v1/tenants" \
    -H "authorization: Bearer $operator" -H 'content-type: application/json' \
    -d "{\"name\": \"$1\"}" | roster_json_field id)
  key=$(curl -sSf -X POST "http://$address/v1/tenants/$tenant/api-keys" \
    -H "authorization: Bearer $operator" -H 'content-type: application/json' \
    -d "{\"name\": \"$1\", \"role\": \"admin\"}" | roster_json_field secret)
}
