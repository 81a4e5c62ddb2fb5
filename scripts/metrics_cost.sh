#!/usr/bin/env bash
# The cost of the metrics on throughput (docs/benchmarks.md, "The cost of /metrics"):
# two release servers over SQLite databases of their own, one with --metrics-listen
# and one without, each with a tenant, an admin key and one user. wrk drives
# GET /healthz and then an authenticated SCIM point read (GET /scim/v2/Users/{id})
# with 16 connections, alternating between the two servers round by round, so that
# the machine's drift weighs on both alike. Prints requests per second per run and
# the ratio of each pair (with metrics / without), and the median ratio; which
# server goes first alternates from round to round.
#
#   scripts/metrics_cost.sh [ROUNDS] [SECONDS]     defaults: 3 rounds of 10 s per run
#
# TARGETS="healthz" or "scim" runs one of the two. CONTROL=1 starts the second
# server without metrics too: the ratios then show the machine's noise alone.
#
# Needs wrk (Debian: apt-get install wrk) and python3; run from the repository root.
set -euo pipefail

rounds=${1:-3}
seconds=${2:-10}
binary=${CARGO_TARGET_DIR:-target}/release/roster
cargo build --locked --release --bin roster

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

operator=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')

# start NAME [FLAGS…]: starts a server over $work/NAME.db; sets $address.
start() {
  local name=$1
  shift
  : >"$work/$name.out"
  ROSTER_BOOTSTRAP_TOKEN="$operator" ROSTER_LOG_LEVEL=warn "$binary" serve \
    --listen 127.0.0.1:0 --database-url "sqlite://$work/$name.db" "$@" \
    >"$work/$name.out" 2>"$work/$name.err" &
  pids+=($!)
  address=
  for _ in $(seq 1 300); do
    address=$(sed -n 's#^roster listening on http://##p' "$work/$name.out")
    [ -n "$address" ] && break
    sleep 0.1
  done
  [ -n "$address" ] || { cat "$work/$name.err" >&2; exit 1; }
}

json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

# seed ADDRESS: a tenant, an admin key and a user; sets $key and $user.
seed() {
  local base="http://$1" tenant
  tenant=$(curl -sf -H "Authorization: Bearer $operator" -H 'Content-Type: application/json' \
    -d '{"name":"Bench"}' "$base/v1/tenants" | json "['id']")
  key=$(curl -sf -H "Authorization: Bearer $operator" -H 'Content-Type: application/json' \
    -d '{"name":"bench","role":"admin"}' "$base/v1/tenants/$tenant/api-keys" | json "['secret']")
  user=$(curl -sf -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
    -d '{"email":"ada@bench.example","firstName":"Ada","lastName":"Lovelace"}' \
    "$base/v1/tenants/$tenant/users" | json "['id']")
}

start plain
plain=$address
seed "$plain"
plain_key=$key plain_user=$user
if [ -n "${CONTROL:-}" ]; then
  start metered
else
  start metered --metrics-listen 127.0.0.1:0
fi
metered=$address
metrics=$(sed -n 's#^roster serving metrics on ##p' "$work/metered.out")
seed "$metered"
metered_key=$key metered_user=$user

# rate URL [KEY]: requests per second of one wrk run.
rate() {
  local output headers=()
  [ -n "${2:-}" ] && headers=(-H "Authorization: Bearer $2")
  output=$(wrk -t2 -c16 -d"${seconds}s" "${headers[@]}" "$1")
  if grep -q "Non-2xx" <<<"$output"; then
    echo "non-2xx answers from $1" >&2
    exit 1
  fi
  awk '/^Requests\/sec:/ { print $2 }' <<<"$output"
}

echo "date: $(date -u +%Y-%m-%dT%H:%MZ)  cores: $(nproc)  rounds: $rounds x ${seconds}s, 16 connections${CONTROL:+, control (no metrics on either)}"
for target in ${TARGETS:-healthz scim}; do
  ratios=()
  for round in $(seq 1 "$rounds"); do
    if [ "$target" = healthz ]; then
      runs=("without http://$plain/healthz" "with http://$metered/healthz")
    else
      runs=("without http://$plain/scim/v2/Users/$plain_user $plain_key"
        "with http://$metered/scim/v2/Users/$metered_user $metered_key")
    fi
    # Which server goes first alternates from round to round.
    if [ $((round % 2)) = 0 ]; then runs=("${runs[1]}" "${runs[0]}"); fi
    for run in "${runs[@]}"; do
      read -r which url token <<<"$run"
      printf -v "$which" '%s' "$(rate "$url" "$token")"
    done
    ratios+=("$(python3 -c "print(f'{float($with)/float($without):.3f}')")")
    python3 -c "print(f'$target round $round: without {float($without):9.0f}/s  with {float($with):9.0f}/s  ratio ${ratios[-1]}')"
  done
  python3 -c "import statistics; print('$target median ratio', statistics.median([${ratios[*]/%/,}]))"
done
if [ -n "$metrics" ]; then
  echo "counted by the metered server:"
  curl -sf "$metrics" | grep -E '^roster_http_requests_total\{.*status="200"' | grep -E 'healthz|Users/\{id\}'
fi
