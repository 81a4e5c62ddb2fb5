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
venv="$target_dir/scim-venv"

if ! "$venv/bin/python" -c 'import scim2_tester' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    -r scripts/scim_compliance.requirements.txt
fi

python="$venv/bin/python"
source scripts/roster_server.sh
roster_build
roster_start "${SCIM_COMPLIANCE_DATABASE_URL:-}"
roster_tenant_key "SCIM compliance"

"$venv/bin/python" scripts/scim_compliance.py "http://$address/scim/v2" "$key"
