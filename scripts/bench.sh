#!/usr/bin/env bash
# Runs `npm run load` RUNS times and prints each report, then the median line.
# With --target http://127.0.0.1:PORT among the options, a fresh `npm start` is started on
# that port before each run (so no run sees another's retained orders) and stopped after.
# The environment reaches both (BROKER, STORE, KAFKA_BROKERS, REDIS_URL, ...); ADMIN_TOKEN
# defaults to "bench-token-for-local-runs-only-0123" and the server's LOG_LEVEL to warn.
# Usage: scripts/bench.sh RUNS [load options...]
#   scripts/bench.sh 3 --orders 50000 --concurrency 256 --seed 1
#   scripts/bench.sh 3 --target http://127.0.0.1:3300 --orders 20000 --concurrency 128 --seed 1
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:?usage: scripts/bench.sh RUNS [load options...]}
shift
export ADMIN_TOKEN=${ADMIN_TOKEN:-bench-token-for-local-runs-only-0123}
target=""
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[$i]}" in
    --target) target=${args[$((i + 1))]:-} ;;
    --target=*) target=${args[$i]#--target=} ;;
  esac
done
out=$(mktemp)
server=""
stop_server() {
  if [[ -n $server ]]; then
    kill -TERM -- "-$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    server=""
  fi
}
trap 'stop_server; rm -f "$out"' EXIT

for ((run = 1; run <= runs; run++)); do
  if [[ -n $target ]]; then
    port=${target##*:}
    LOG_LEVEL=${SERVER_LOG_LEVEL:-warn} MAX_WAITS_PER_CLIENT=0 PORT=$port setsid npm start >"${out}.server.log" 2>&1 &
    server=$!
    for _ in $(seq 1 120); do
      curl -sf "$target/healthz" >/dev/null && break
      sleep 0.25
    done
  fi
  echo "run $run/$runs (load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  npm run -s load -- "$@" --quiet | tee -a "$out" || true
  stop_server
done
echo "median of $runs:" >&2
node scripts/bench-median.mjs "$out"
