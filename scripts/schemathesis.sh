#!/usr/bin/env bash
# Checks Roster's OpenAPI document against the server it describes: builds the
# binary, starts it on a free loopback port over a fresh SQLite file, makes a tenant
# and an admin API key, validates /openapi.json with openapi-spec-validator, runs
# schemathesis (both pinned in scripts/schemathesis.requirements.txt, installed into
# a venv under target/) with every check, and stops the server. Exits non-zero when
# the build, the start, the validation or any check fails. docs/api.md explains
# what is run and why.
#
# ROSTER_PROFILE=dev uses the debug build (faster to build, slower to run); the
# default is the release build. SCHEMATHESIS_DATABASE_URL runs the server over that
# database instead (an empty PostgreSQL database, say). SCHEMATHESIS_MAX_EXAMPLES
# (25) and SCHEMATHESIS_SEED (1) bound and fix the run; a report goes to
# target/schemathesis-report.
set -euo pipefail
cd "$(dirname "$0")/.."

target_dir=${CARGO_TARGET_DIR:-target}
venv="$target_dir/schemathesis-venv"
requirements=scripts/schemathesis.requirements.txt

# Reinstall when the pins change.
if ! cmp -s "$requirements" "$venv/requirements.txt" 2>/dev/null; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$venv/requirements.txt"
fi

python="$venv/bin/python"
source scripts/roster_server.sh
roster_build
roster_start "${SCHEMATHESIS_DATABASE_URL:-}"
roster_tenant_key "schemathesis"

curl -sSf "http://$address/openapi.json" -o "$work/openapi.json"
"$venv/bin/openapi-spec-validator" "$work/openapi.json"

run() {
  local config=$1 tenant=$2 token=$3
  shift 3
  ROSTER_TENANT_ID="$tenant" SCHEMATHESIS_HOOKS=scripts/schemathesis_hooks.py \
    "$venv/bin/schemathesis" --config-file "$config" run \
    "http://$address/openapi.json" \
    --header "Authorization: Bearer $token" \
    --checks all \
    --exclude-checks use_after_free \
    --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-25}" \
    --seed "${SCHEMATHESIS_SEED:-1}" \
    --workers 1 \
    --request-timeout 10 \
    --report junit --report-dir "$target_dir/schemathesis-report" "$@"
}

# The tenant's admin key on every operation; the operator-only ones (tenants) are
# then checked for their 403. Every path's tenantId is this tenant
# (scripts/schemathesis.toml).
status=0
run scripts/schemathesis.toml "$tenant" "$key" || status=$?

# The operator credential on the tenant operations, with tenant ids left to
# schemathesis: the stateful phase follows each created tenant to its GET, PATCH and
# DELETE (the tenant above is not among them, so it survives).
grep -v '^"path.tenantId"' scripts/schemathesis.toml >"$work/operator.toml"
run "$work/operator.toml" "" "$operator" --include-tag tenants || status=$?

# A server error or a crash shows in the log even when a check missed it.
if ! kill -0 "$server" 2>/dev/null; then
  echo "roster exited during the run:" >&2
  cat "$work/stderr" >&2
  exit 1
fi
if grep -q 'panicked\|internal error' "$work/stderr"; then
  echo "roster logged internal errors during the run:" >&2
  grep 'panicked\|internal error' "$work/stderr" >&2
  status=1
fi
exit "$status"
