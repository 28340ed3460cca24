#!/usr/bin/env bash
# Bring your own model and data through the service, end to end on loopback: polyctl uploads a
# TorchScript model and a tensor file that a spec names by local paths, a real worker (whose data
# root holds neither) fetches them by hash into its bounded cache and trains; then every way it
# can go wrong: a damaged cached copy, a damaged stored file, a file over the upload limit, a
# deleted artifact, a standalone run naming an artifact. Fixtures come from python3-torch.
# Usage: byo_service_test.sh BUILD_DIR REPO_ROOT
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

mkdir -p "$tmp/files" "$tmp/empty_root"
/usr/bin/python3 "$root/worker/testdata/make_byo_fixtures.py" "$tmp/files" >/dev/null ||
  { echo "cannot make the fixtures"; exit 1; }
model_hex=$(sha256sum "$tmp/files/mlp.pt" | cut -d' ' -f1)
data_hex=$(sha256sum "$tmp/files/vectors.pt" | cut -d' ' -f1)

start_coordinator "$build" --max_artifact_bytes 5000000
export POLYTRAIN_COORDINATOR=$coordinator_address
"$build/worker/polytrain-worker" --coordinator "$coordinator_address" --name byo-worker \
  --data_root "$tmp/empty_root" --artifact_cache_dir "$tmp/cache" --cancel_grace_seconds 2 \
  2>"$tmp/worker.log" &
worker_pid=$!

cat >"$tmp/files/job.txtpb" <<'SPEC'
name: "byo-service"
model { torchscript { path: "mlp.pt" } }
dataset { tensors { path: "vectors.pt" } }
loss { poly1 { epsilon: 1 } }
optimizer { sgd {} learning_rate: 0.1 }
epochs: 2
batch_size: 64
seed: 3
max_attempts: 1
SPEC

# A spec the coordinator would refuse is refused before its files are sent: nothing stored.
sed 's/batch_size: 64/batch_size: 0/' "$tmp/files/job.txtpb" >"$tmp/files/refused.txtpb"
expect 1 "spec.batch_size: must be in [1, 65536], got 0" -- "$polyctl" submit "$tmp/files/refused.txtpb"
checks=$((checks + 1))
grep -q "is stored as" "$tmp/err" && fail "a refused submit uploaded: $(cat "$tmp/err")"
checks=$((checks + 1))
"$polyctl" artifacts >"$tmp/out" 2>&1 || fail "artifacts failed: $(cat "$tmp/out")"
grep -q "^sha256:" "$tmp/out" && fail "a refused submit left artifacts: $(cat "$tmp/out")"

# What only the coordinator can check (an artifact named by id that nobody uploaded) refuses
# the spec before its other file is sent; a dry run prints the jobs and stores nothing.
sed 's|dataset { tensors { path: "vectors.pt" } }|dataset { tensors { artifact: "sha256:'"$(printf 'a%.0s' $(seq 64))"'" } }|' \
  "$tmp/files/job.txtpb" >"$tmp/files/unknown.txtpb"
expect 4 "spec.dataset.tensors.artifact: no artifact sha256:aaaa" -- "$polyctl" submit \
  "$tmp/files/unknown.txtpb"
checks=$((checks + 1))
grep -q "is stored as" "$tmp/err" && fail "a submit refused by the coordinator uploaded: $(cat "$tmp/err")"
expect 0 "dry run: the coordinator would queue 2 jobs (nothing was uploaded or stored)" -- \
  "$polyctl" sweep "$tmp/files/job.txtpb" --loss-grid 'poly1.epsilon=0,2' --seeds 1 --dry-run
checks=$((checks + 1))
grep -q "^byo-service-poly1-e-2-s3 *poly1(e=2) *3$" "$tmp/out" ||
  fail "dry run: no planned job line: $(cat "$tmp/out")"
checks=$((checks + 1))
"$polyctl" artifacts >"$tmp/out" 2>&1 || fail "artifacts failed: $(cat "$tmp/out")"
grep -q "^sha256:" "$tmp/out" && fail "a refused submit or a dry run left artifacts: $(cat "$tmp/out")"
checks=$((checks + 1))
[[ $("$polyctl" list | wc -l) -eq 1 ]] || fail "a dry run stored jobs: $("$polyctl" list)"

# Local paths are uploaded and named by their hashes; the worker trains from its cache.
expect 0 "succeeded on byo-worker" -- "$polyctl" submit "$tmp/files/job.txtpb" --watch
grep -qF "$tmp/files/mlp.pt (" "$tmp/err" || fail "submit did not say it uploaded mlp.pt"
job=$(head -1 "$tmp/out")
expect 0 "\"artifact\":\"sha256:$model_hex\"" -- "$polyctl" get "$job" --format json
# Its trained model: the TorchScript model's weights, by its own names, load into it in Python.
expect 0 "written to $tmp/trained.pt" -- "$polyctl" checkpoint "$job" --output "$tmp/trained.pt"
checks=$((checks + 1))
/usr/bin/python3 -c "
import sys, torch
model = torch.jit.load(sys.argv[2])
trained = dict(torch.jit.load(sys.argv[1]).model.state)
assert sorted(trained) == sorted(model.state_dict()), (sorted(trained), model.state_dict().keys())
model.load_state_dict(trained)
assert any(not torch.equal(v, torch.jit.load(sys.argv[2]).state_dict()[k]) for k, v in trained.items())
" "$tmp/trained.pt" "$tmp/files/mlp.pt" || fail "the trained TorchScript model's weights do not load"
expect 0 "sha256:$data_hex" -- "$polyctl" artifacts
checks=$((checks + 1))
[[ $(grep -c "^sha256:.*  0$" "$tmp/out") -eq 2 ]] || fail "artifacts: expected 2 rows, 0 active: $(cat "$tmp/out")"
expect 0 "sha256:$data_hex" -- "$polyctl" artifacts --format json
checks=$((checks + 1))
/usr/bin/python3 -c "
import json, sys
listed = json.load(open(sys.argv[1]))['artifacts']
assert len(listed) == 2 and 'sha256:' + sys.argv[2] in [a['id'] for a in listed], listed
assert all(a['active_jobs'] == 0 and int(a['size_bytes']) > 0 for a in listed), listed
" "$tmp/out" "$data_hex" || fail "artifacts --format json: $(cat "$tmp/out")"

# The same files again (a sweep of two losses, the spec elsewhere, --files naming where the
# files are): nothing new is fetched.
mkdir "$tmp/specs" && cp "$tmp/files/job.txtpb" "$tmp/specs/"
expect 0 "sweep-" -- "$polyctl" sweep "$tmp/specs/job.txtpb" --files "$tmp/files" \
  --loss-grid 'poly1.epsilon=0,2' --wait
checks=$((checks + 1))
[[ $(grep -c "artifact cache: fetched" "$tmp/worker.log") -eq 2 ]] ||
  fail "expected 2 fetches in the worker's log: $(grep "artifact cache" "$tmp/worker.log")"
checks=$((checks + 1))
[[ $(find "$tmp/cache" -type f | wc -l) -eq 2 ]] || fail "expected 2 files in the cache"
# The worker's own log says what became of each attempt it ran.
checks=$((checks + 1))
[[ $(grep -c ": attempt 1 training$" "$tmp/worker.log") -ge 3 &&
   $(grep -c ": attempt 1 finished at step [0-9]* after " "$tmp/worker.log") -ge 3 ]] ||
  fail "the worker's log misses its attempts: $(grep attempt "$tmp/worker.log")"

# A retry with the same --request-id returns what the first call stored, sending no file again
# (probe CV: the retry was asked with the spec's paths, the stored spec names the files' hashes,
# and it was refused as "submitted with another spec"); a dry run of it names the stored job.
# CUDA jobs, which this worker never takes: they stay queued until cancelled.
cuda=(--set device=DEVICE_CUDA)
retried=$("$polyctl" submit "$tmp/files/job.txtpb" "${cuda[@]}" --request-id byo-retry 2>/dev/null)
checks=$((checks + 1))
[[ $retried == job-* ]] || fail "submit --request-id printed '$retried'"
expect 0 "$retried" -- "$polyctl" submit "$tmp/files/job.txtpb" "${cuda[@]}" --request-id byo-retry
checks=$((checks + 1))
grep -q "is stored as" "$tmp/err" && fail "a retry uploaded again: $(cat "$tmp/err")"
expect 0 "dry run: --request-id already names $retried" -- \
  "$polyctl" submit "$tmp/files/job.txtpb" "${cuda[@]}" --request-id byo-retry --dry-run
checks=$((checks + 1))
grep -q "would upload" "$tmp/err" && fail "a retry's dry run would upload: $(cat "$tmp/err")"
# Its files changed since: not a retry, said as such, nothing uploaded.
cp -r "$tmp/files" "$tmp/changed"
printf 'x' >>"$tmp/changed/mlp.pt"
expect 5 "already names job $retried, submitted with another spec; use a new id for a new job (the files it names compared by their sha256" -- \
  "$polyctl" submit "$tmp/changed/job.txtpb" "${cuda[@]}" --request-id byo-retry
checks=$((checks + 1))
grep -q "is stored as" "$tmp/err" && fail "a refused retry uploaded: $(cat "$tmp/err")"
expect 0 "" -- "$polyctl" cancel "$retried"
swept=$("$polyctl" sweep "$tmp/files/job.txtpb" "${cuda[@]}" --loss-grid 'poly1.epsilon=0,2' \
  --request-id byo-retry 2>/dev/null)
checks=$((checks + 1))
[[ $swept == sweep-* ]] || fail "sweep --request-id printed '$swept'"
expect 0 "$swept" -- "$polyctl" sweep "$tmp/files/job.txtpb" "${cuda[@]}" \
  --loss-grid 'poly1.epsilon=0,2' --request-id byo-retry
checks=$((checks + 1))
grep -q "is stored as" "$tmp/err" && fail "a sweep's retry uploaded again: $(cat "$tmp/err")"
expect 0 "" -- "$polyctl" cancel "$swept"

# A copy damaged in the worker's cache is noticed and fetched again.
printf 'x' >>"$tmp/cache/$model_hex"
expect 0 "succeeded on byo-worker" -- "$polyctl" submit "$tmp/files/job.txtpb" --watch
checks=$((checks + 1))
grep -qF "the copy of sha256:$model_hex is damaged; fetching it again" "$tmp/worker.log" ||
  fail "the damaged cached copy was not noticed"

# A file damaged in the coordinator's store is never used: the job fails naming the field.
sed -e "s|path: \"mlp.pt\"|artifact: \"sha256:$model_hex\"|" \
  -e "s|path: \"vectors.pt\"|artifact: \"sha256:$data_hex\"|" "$tmp/files/job.txtpb" \
  >"$tmp/by_id.txtpb"
rm "$tmp/cache/$data_hex"
printf '\x00' | dd of="$tmp/artifacts/sha256/$data_hex" bs=1 seek=100 conv=notrunc 2>/dev/null
expect 6 "failed" -- "$polyctl" submit "$tmp/by_id.txtpb" --watch
expect 0 "spec.dataset.tensors.artifact: artifact sha256/$data_hex: " -- \
  "$polyctl" get "$(head -1 "$tmp/out")"

# Limits and errors, each with its exit code.
head -c 5000001 /dev/zero >"$tmp/big.bin"
expect 1 "$tmp/big.bin (5000001 bytes): size_bytes: the artifact is 5000001 bytes, larger than this coordinator's --max_artifact_bytes (5000000 bytes); nothing sent" -- \
  "$polyctl" upload "$tmp/big.bin"
head -c 5000000 /dev/zero >"$tmp/edge.bin"
expect 0 "sha256:" -- "$polyctl" upload "$tmp/edge.bin" --name edge
expect 1 "id: expected sha256:<64 lowercase hex digits>, got 'sha256:nothex'" -- \
  "$polyctl" artifacts delete sha256:nothex
expect 0 "deleted 1 record(s) of sha256:$model_hex; the file is gone" -- \
  "$polyctl" artifacts delete "sha256:$model_hex"
expect 4 "spec.model.torchscript.artifact: no artifact sha256:$model_hex is stored" -- \
  "$polyctl" submit "$tmp/by_id.txtpb" --no-upload
expect 4 "id: no artifact sha256:$model_hex" -- "$polyctl" artifacts delete "sha256:$model_hex"

# Multi-label data (train_y [N, 5] of 0/1) trains with a sigmoid loss through the service, its
# evaluations scored label by label; a softmax loss on it fails naming the field.
cat >"$tmp/files/multi_label.txtpb" <<'SPEC'
name: "byo-multi-label"
model { mlp { hidden: [32] } }
dataset { tensors { path: "multi_label.pt" } }
loss { focal { gamma: 2 } activation: ACTIVATION_SIGMOID }
optimizer { adam {} learning_rate: 0.01 }
epochs: 4
batch_size: 64
seed: 3
max_attempts: 1
SPEC
expect 0 "exact_match" -- "$polyctl" submit "$tmp/files/multi_label.txtpb" --watch
checks=$((checks + 1))
grep -q "succeeded on byo-worker" "$tmp/out" "$tmp/err" ||
  fail "the multi-label job did not succeed: $(tail -3 "$tmp/out" "$tmp/err")"
multi_job=$(cat "$tmp/out" "$tmp/err" | grep -o "job-[0-9a-z-]*" | head -1)
expect 0 '"eval_f1"' -- "$polyctl" get "$multi_job" --format json
sed 's/ activation: ACTIVATION_SIGMOID//' "$tmp/files/multi_label.txtpb" >"$tmp/files/softmax_multi.txtpb"
expect 6 "failed" -- "$polyctl" submit "$tmp/files/softmax_multi.txtpb" --watch
expect 0 "spec.loss.activation: a softmax loss takes one class per sample" -- \
  "$polyctl" get "$(cat "$tmp/out" "$tmp/err" | grep -o "job-[0-9a-z-]*" | head -1)"

# A standalone run has no coordinator to fetch from.
expect 5 "spec.dataset.tensors.artifact: sha256:$data_hex was not fetched" -- \
  "$build/worker/polytrain-worker" --spec "$tmp/by_id.txtpb" --quiet

# Last, as it ends the worker: a job stuck in its model's code (its forward never returns) is
# ended by its cancel all the same. The worker reports it cancelled --cancel_grace_seconds after
# the cancel, then exits 6, since only a new process frees the stuck thread's slot.
/usr/bin/python3 "$root/worker/testdata/make_stuck_model.py" "$tmp/files/stuck.pt"
cp "$root/worker/testdata/stuck_job.txtpb" "$tmp/files/stuck.txtpb"
expect 0 "job-" -- "$polyctl" submit "$tmp/files/stuck.txtpb"
stuck_job=$(head -1 "$tmp/out")
# Stuck once its model was loaded first in a process of its own (a cancel before that ends the
# job cleanly) and its probe forward runs.
stuck_hex=$(sha256sum "$tmp/files/stuck.pt" | cut -d' ' -f1)
for _ in $(seq 300); do
  grep -q "spec.model.torchscript.artifact (.*$stuck_hex.*): loaded first in a process of its own" \
    "$tmp/worker.log" && break
  sleep 0.1
done
# A job queued behind it is never placed on the worker that is about to exit (its slot is
# freed by the stuck job's end, reported as it goes): it stays queued, no attempt spent.
expect 0 "job-" -- "$polyctl" submit "$tmp/files/job.txtpb"
queued_job=$(head -1 "$tmp/out")
expect 0 "" -- "$polyctl" cancel "$stuck_job"
timeout 60 tail --pid="$worker_pid" -f /dev/null || { fail "the worker with a stuck job did not exit"; kill -9 "$worker_pid"; }
wait "$worker_pid"
code=$?
checks=$((checks + 1))
[[ $code -eq 6 ]] || fail "the worker with a stuck job exited $code, expected 6: $(tail -3 "$tmp/worker.log")"
checks=$((checks + 1))
grep -qF "$stuck_job: cancelled; it did not stop within 2 s of its cancel (stuck in its model's code, in reading a file or in a collective), so worker byo-worker exits to end it" "$tmp/worker.log" ||
  fail "the worker did not say why it exits: $(tail -3 "$tmp/worker.log")"
expect 0 "$stuck_job stuck: cancelled" -- "$polyctl" get "$stuck_job"
expect 0 "$queued_job byo-service: queued (attempts 0)" -- "$polyctl" get "$queued_job"

finish byo_service_test
