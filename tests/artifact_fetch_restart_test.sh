#!/usr/bin/env bash
# A coordinator killed (SIGKILL) and restarted while a client uploads a file: the client is
# told (exit 3), and the restarted coordinator lists nothing and keeps no part of the file. Then
# killed while a worker fetches a user's file for a job: the worker waits for it and fetches the
# file again, and the job succeeds on its first attempt (it used to fail for good, blaming the
# spec's field for the outage). The file is 160 MB so that each transfer is caught half-way.
# Usage: artifact_fetch_restart_test.sh BUILD_DIR REPO_ROOT
set -uo pipefail
build=$1
root=$2
tmp=$(mktemp -d)
cleanup() {
  kill "${worker_pid:-}" "${coordinator_pid:-}" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
# shellcheck source=../testing/testlib.sh
source "$root/testing/testlib.sh"
polyctl=$build/client/polyctl

/usr/bin/python3 - "$tmp/data.pt" <<'PY' || { echo "cannot make the data"; exit 1; }
import sys, torch
g = torch.Generator().manual_seed(0)
means = torch.randn(3, 8, generator=g) * 3
y, ty = torch.randint(0, 3, (512,), generator=g), torch.randint(0, 3, (4_000_000,), generator=g)
torch.save({"train_x": means[y] + torch.randn(512, 8, generator=g), "train_y": y,
            "test_x": means[ty] + torch.randn(4_000_000, 8, generator=g), "test_y": ty},
           sys.argv[1])
PY
start_coordinator "$build"
port=${coordinator_address##*:}
export POLYTRAIN_COORDINATOR=$coordinator_address

# Waits (20,000 looks: tens of seconds) until a file matching the glob $1 exists; 1 if none came.
wait_for_file() {
  for _ in $(seq 20000); do
    compgen -G "$1" >/dev/null && return 0
    sleep 0.001
  done
  return 1
}

# Kills the coordinator and starts it again on the same port, database and artifacts.
restarts=0
restart_coordinator() {
  kill -9 "$coordinator_pid"
  wait "$coordinator_pid" 2>/dev/null
  restarts=$((restarts + 1))
  "$build/server/polytrain-coordinator" --plaintext --listen "127.0.0.1:$port" \
    --port_file "$tmp/port$restarts" --db "$tmp/coordinator.db" --artifacts "$tmp/artifacts" \
    --metrics_listen "" 2>"$tmp/coordinator$restarts.log" &
  coordinator_pid=$!
  for _ in $(seq 400); do
    [[ -s "$tmp/port$restarts" ]] && break
    sleep 0.05
  done
  [[ -s "$tmp/port$restarts" ]] ||
    { echo "the coordinator did not restart: $(cat "$tmp/coordinator$restarts.log")"; exit 1; }
}

# An upload cut half-way (its temporary file exists) by the coordinator's death.
"$polyctl" upload "$tmp/data.pt" >"$tmp/cut.out" 2>"$tmp/cut.err" &
upload_pid=$!
checks=$((checks + 1))
wait_for_file "$tmp/artifacts/*/*.upload-*" || fail "the upload never began: $(cat "$tmp/cut.err")"
restart_coordinator
wait "$upload_pid"
upload_exit=$?
checks=$((checks + 1))
[[ $upload_exit -eq 3 ]] && grep -q "lost the connection to the coordinator" "$tmp/cut.err" ||
  fail "the cut upload exited $upload_exit: $(cat "$tmp/cut.out" "$tmp/cut.err")"
checks=$((checks + 1))
! compgen -G "$tmp/artifacts/*/*" >/dev/null ||
  fail "the cut upload left files: $(ls -R "$tmp/artifacts")"
expect 0 "active jobs" -- "$polyctl" artifacts
checks=$((checks + 1))
# The header and the totals only: no row, and nothing counted.
[[ $(wc -l <"$tmp/out") -eq 2 ]] && grep -qx '0 artifact(s), 0 bytes in all, no quota' "$tmp/out" ||
  fail "the cut upload is listed: $(cat "$tmp/out")"

data_id=$("$polyctl" upload "$tmp/data.pt" 2>/dev/null | grep -o 'sha256:[0-9a-f]*' | head -1)
[[ -n "$data_id" ]] || { echo "the upload failed"; exit 1; }
cat >"$tmp/job.txtpb" <<SPEC
name: "fetched-across-a-restart"
model { mlp { hidden: 16 } }
dataset { tensors { artifact: "$data_id" } test_limit: 500 }
loss { poly1 { epsilon: 1 } }
optimizer { sgd {} learning_rate: 0.1 }
max_steps: 5
batch_size: 64
max_attempts: 1
SPEC
"$build/worker/polytrain-worker" --coordinator "$coordinator_address" --name fetcher \
  --artifact_cache_dir "$tmp/cache" 2>"$tmp/worker.log" &
worker_pid=$!
job=$("$polyctl" submit "$tmp/job.txtpb" --no-upload) || { echo "submit failed"; exit 1; }

# Half-way through the fetch (its temporary file exists), the coordinator is killed, then
# started again.
checks=$((checks + 1))
wait_for_file "$tmp/cache/*.upload-*" ||
  fail "the worker never started fetching: $(tail -3 "$tmp/worker.log")"
restart_coordinator

expect 0 "succeeded on fetcher" -- "$polyctl" watch "$job"
expect 0 "succeeded (attempts 1, worker fetcher)" -- "$polyctl" get "$job"
checks=$((checks + 1))
grep -q "$job: the coordinator is away (.*); trying again" "$tmp/worker.log" ||
  fail "the fetch was not cut and retried: $(grep -i "$job" "$tmp/worker.log" | tail -5)"

finish artifact_fetch_restart_test
