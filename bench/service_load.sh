#!/usr/bin/env bash
# Starts a fresh polytrain-coordinator (its own SQLite file and artifact directory, plaintext on
# loopback) and WORKERS real polytrain-worker processes, then runs bench/service_load against
# them: CLIENTS concurrent clients submit and watch JOBS tiny jobs; it prints the latencies, the
# coordinator's RSS as the run went and its peak, and checks that every job reached its terminal
# state exactly once. Exits with service_load's status; everything started is killed on exit.
#
# Usage: bench/service_load.sh [BUILD_DIR] [CLIENTS] [JOBS]
# Environment: WORKERS (4), SLOTS per worker (2), TIMEOUT_SECONDS (3600),
#              COORDINATOR_FLAGS (extra flags for the coordinator, e.g. a shorter
#              --job_series_retention_seconds).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
clients=${2:-50}
jobs=${3:-5000}
workers=${WORKERS:-4}
slots=${SLOTS:-2}
tmp=$(mktemp -d)
pids=()
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ $status -ne 0 ]]; then
    for log in "$tmp"/*.log; do
      [[ -s "$log" ]] || continue
      echo "--- last lines of $(basename "$log")" >&2
      tail -n 20 "$log" >&2
    done
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# Polls for a non-empty file until a deadline (a process writing its port when it listens).
wait_for_file() {
  local deadline=$((SECONDS + 30))
  until [[ -s "$1" ]]; do
    if ((SECONDS > deadline)); then
      echo "service_load.sh: $1 never appeared" >&2
      return 1
    fi
    sleep 0.05
  done
}

# shellcheck disable=SC2086  # COORDINATOR_FLAGS is a list of flags
"$build/server/polytrain-coordinator" --plaintext --listen 127.0.0.1:0 --port_file "$tmp/port" \
  --db "$tmp/load.db" --artifacts "$tmp/artifacts" --metrics_listen 127.0.0.1:0 \
  --metrics_port_file "$tmp/metrics_port" ${COORDINATOR_FLAGS:-} 2>"$tmp/coordinator.log" &
coordinator=$!
pids+=("$coordinator")
wait_for_file "$tmp/port"
wait_for_file "$tmp/metrics_port"
port=$(cat "$tmp/port")

worker_pids=()
for i in $(seq "$workers"); do
  "$build/worker/polytrain-worker" --coordinator "127.0.0.1:$port" --name "load-worker-$i" \
    --slots "$slots" 2>"$tmp/worker-$i.log" &
  pids+=($!)
  worker_pids+=($!)
done

echo "service_load.sh: coordinator pid $coordinator, $workers workers x $slots slots," \
  "$clients clients, $jobs jobs, $(nproc) cores"
status=0
"$build/bench/service_load" --coordinator "127.0.0.1:$port" \
  --metrics_port "$(cat "$tmp/metrics_port")" --workers "$workers" --clients "$clients" \
  --jobs "$jobs" --coordinator_pid "$coordinator" \
  --timeout_seconds "${TIMEOUT_SECONDS:-3600}" || status=$?

peaks=()
for pid in "${worker_pids[@]}"; do
  peaks+=("$(awk '/^VmHWM:/ {printf "%.1f", $2 / 1024}' "/proc/$pid/status" 2>/dev/null || echo gone)")
done
echo "service_load.sh: worker peak RSS (VmHWM) MiB: ${peaks[*]}"
for pid in "${pids[@]}"; do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "service_load.sh: process $pid exited during the run" >&2
    status=1
  fi
done
exit "$status"
