#!/usr/bin/env bash
# Full disks, real ones (1 MiB tmpfs file systems):
# - a worker whose artifact cache sits on one, smaller than the job's uploaded data file: it gives
#   each attempt back, naming its --artifact_cache_dir, rather than fail the job as if its spec
#   were wrong; the attempts count against spec.max_attempts, so the job ends failed, saying why,
#   once they are used; the disk holds no half-written copy after;
# - a coordinator whose --artifacts disk is full when a job's last checkpoint is uploaded: the
#   worker tries again until there is room, and the job then succeeds with its checkpoint stored.
# Needs CAP_SYS_ADMIN (root) to mount; without it the test says so and is skipped (exit 77).
# Usage: disk_full_test.sh BUILD_DIR REPO_ROOT
set -uo pipefail
build=$1
root=$2
tmp=$(mktemp -d)
cleanup() {
  kill "${worker_pid:-}" "${coordinator_pid:-}" 2>/dev/null
  wait 2>/dev/null
  umount "$tmp/small" 2>/dev/null
  umount "$tmp/store" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
# shellcheck source=../testing/testlib.sh
source "$root/testing/testlib.sh"
polyctl=$build/client/polyctl

mkdir -p "$tmp/small" "$tmp/store" "$tmp/files"
if ! mount -t tmpfs -o size=1m tmpfs "$tmp/small" 2>"$tmp/mount.err"; then
  echo "SKIP: cannot mount a tmpfs here ($(cat "$tmp/mount.err")); needs CAP_SYS_ADMIN"
  exit 77
fi
# 1.2 MB of tensors: more than the disk holds.
/usr/bin/python3 - "$tmp/files/data.pt" <<'PY' || { echo "cannot make the data file"; exit 1; }
import sys, torch
g = torch.Generator().manual_seed(1)
torch.save({"train_x": torch.randn(3000, 100, generator=g), "train_y": torch.arange(3000) % 3,
            "test_x": torch.randn(100, 100, generator=g), "test_y": torch.arange(100) % 3},
           sys.argv[1])
PY
cat >"$tmp/files/job.txtpb" <<'SPEC'
name: "no-room"
model { mlp { hidden: [8] } }
dataset { tensors { path: "data.pt" } }
loss { cross_entropy {} }
optimizer { sgd {} learning_rate: 0.1 }
max_steps: 5
batch_size: 10
threads: 1
max_attempts: 2
SPEC

start_coordinator "$build"
"$build/worker/polytrain-worker" --coordinator "$coordinator_address" --name w1 --threads 1 \
  --artifact_cache_dir "$tmp/small/cache" 2>"$tmp/worker.log" &
worker_pid=$!

expect 6 "worker w1 gave attempt 2 back: spec.dataset.tensors.artifact: writing the received file failed: the receiver's disk is full" -- \
  "$polyctl" --coordinator "$coordinator_address" submit "$tmp/files/job.txtpb" --watch
checks=$((checks + 1))
grep -qF "(this worker's --artifact_cache_dir $tmp/small/cache); no attempts left of 2" "$tmp/out" ||
  fail "the job's end does not name the cache and its attempts: $(cat "$tmp/out")"
checks=$((checks + 1))
grep -q "worker w1 gave attempt 1 back: " "$tmp/out" ||
  fail "the first attempt was not given back: $(cat "$tmp/out")"
checks=$((checks + 1))
[[ -z "$(find "$tmp/small" -type f)" ]] || fail "the full disk keeps files: $(find "$tmp/small" -type f)"
checks=$((checks + 1))
grep -q "attempt 2 given back: spec.dataset.tensors.artifact: " "$tmp/worker.log" ||
  fail "the worker did not log the give-back: $(tail -5 "$tmp/worker.log")"
kill "$worker_pid" "$coordinator_pid"
wait "$worker_pid" "$coordinator_pid" 2>/dev/null

# The coordinator's --artifacts disk, filled up to its last byte before the job ends.
mount -t tmpfs -o size=1m tmpfs "$tmp/store" || { fail "cannot mount a second tmpfs"; finish disk_full_test; exit; }
rm -f "$tmp/port"
"$build/server/polytrain-coordinator" --plaintext --listen 127.0.0.1:0 --port_file "$tmp/port" \
  --db "$tmp/second.db" --artifacts "$tmp/store/artifacts" --metrics_listen "" \
  2>"$tmp/coordinator2.log" &
coordinator_pid=$!
for _ in $(seq 400); do [[ -s "$tmp/port" ]] && break; sleep 0.05; done
coordinator_address="127.0.0.1:$(cat "$tmp/port")"
dd if=/dev/zero of="$tmp/store/filler" bs=4k 2>/dev/null  # until the disk is full
"$build/worker/polytrain-worker" --coordinator "$coordinator_address" --name w2 --threads 1 \
  2>"$tmp/worker2.log" &
worker_pid=$!
job=$("$polyctl" --coordinator "$coordinator_address" submit --no-upload "$root/examples/jobs/synthetic_poly1.txtpb" \
  --set max_steps=20 --set threads=1 2>"$tmp/err")
checks=$((checks + 1))
[[ -n "$job" ]] || fail "the job was not submitted: $(cat "$tmp/err")"
for _ in $(seq 1200); do  # the upload of its last checkpoint, refused for the disk
  grep -q "$job: the coordinator is away (.*disk is full" "$tmp/worker2.log" && break
  sleep 0.05
done
checks=$((checks + 1))
grep -q "$job: the coordinator is away (.*disk is full" "$tmp/worker2.log" ||
  fail "no retry of the last checkpoint's upload: $(tail -5 "$tmp/worker2.log")"
rm -f "$tmp/store/filler"  # room again: the next try stores it
expect 0 "succeeded" -- "$polyctl" --coordinator "$coordinator_address" watch "$job"
expect 0 "\"checkpoint\":\"$job/ckpt-000000000020.pt\"" -- "$polyctl" \
  --coordinator "$coordinator_address" get "$job" --format json
expect 0 "" -- "$polyctl" --coordinator "$coordinator_address" checkpoint "$job" -o "$tmp/final.pt"
checks=$((checks + 1))
[[ -s "$tmp/final.pt" ]] || fail "the stored checkpoint did not download"
finish disk_full_test
