#!/usr/bin/env bash
# A worker whose artifact cache sits on a full disk (a 1 MiB tmpfs, smaller than the job's
# uploaded data file): it gives each attempt back, naming its --artifact_cache_dir, rather than
# fail the job as if its spec were wrong; the attempts count against spec.max_attempts, so the
# job ends failed, saying why, once they are used; the disk holds no half-written copy after.
# Needs CAP_SYS_ADMIN (root) to mount the tmpfs; without it the test says so and is skipped
# (exit 77).
# Usage: worker_disk_full_test.sh BUILD_DIR REPO_ROOT
set -uo pipefail
build=$1
root=$2
tmp=$(mktemp -d)
cleanup() {
  kill "${worker_pid:-}" "${coordinator_pid:-}" 2>/dev/null
  wait 2>/dev/null
  umount "$tmp/small" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
# shellcheck source=../testing/testlib.sh
source "$root/testing/testlib.sh"
polyctl=$build/client/polyctl

mkdir -p "$tmp/small" "$tmp/files"
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
finish worker_disk_full_test
