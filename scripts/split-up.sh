#!/usr/bin/env bash
# Starts the four roles as four processes on Kafka + Redis (for benchmarks), prints the
# api URL, and stops them all on exit. Usage: scripts/split-up.sh PREFIX PORT
# (PREFIX isolates topics, groups and keys; KAFKA_PARTITIONS etc. come from the environment.)
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${1:?prefix}; port=${2:-3300}
export BROKER=kafka STORE=redis TOPIC_PREFIX="$prefix." KAFKA_GROUP_PREFIX="$prefix." KEY_PREFIX="$prefix:"
export LOG_LEVEL=${LOG_LEVEL:-warn} ADMIN_TOKEN=${ADMIN_TOKEN:-bench-token-for-local-runs-only-0123} METRICS_PORT=0 MAX_WAITS_PER_CLIENT=0
pids=()
# setsid gives each role its own process group, so the trap stops tsx's node child too.
trap 'for p in "${pids[@]}"; do kill -TERM -- "-$p" 2>/dev/null; done; wait' EXIT INT TERM
for role in stock order payment; do
  setsid npx tsx src/main.ts "$role" > "/tmp/split-$prefix-$role.log" 2>&1 & pids+=($!)
done
for role in stock order payment; do
  until grep -q "is up" "/tmp/split-$prefix-$role.log"; do sleep 0.2; done
done
PORT=$port setsid npx tsx src/main.ts api > "/tmp/split-$prefix-api.log" 2>&1 & pids+=($!)
until grep -q "is up" "/tmp/split-$prefix-api.log"; do sleep 0.2; done
echo "up on http://127.0.0.1:$port"
wait
