#!/usr/bin/env bash
# polyctl where no LibTorch runs: against a real coordinator with no worker (jobs stay queued),
# and its offline loss commands. Runs in the LibTorch-off build too.
# Usage: polyctl_no_worker_test.sh BUILD_DIR REPO_ROOT
set -uo pipefail
build=$1
root=$2
polyctl=$build/client/polyctl
tmp=$(mktemp -d)
trap 'kill "${coordinator_pid:-}" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
source "$root/testing/testlib.sh"
losses=$root/examples/losses
spec=$root/examples/jobs/synthetic_poly1.txtpb

# The loss commands are polyloss's: same outputs, YAML too, no coordinator needed.
expect 0 "alpha_1     = 3" -- "$polyctl" loss describe "$losses/poly1.txtpb"
expect 0 "curve:" -- "$polyctl" loss describe "$losses/poly1.txtpb"
expect 0 '"family": "Poly-1"' -- "$polyctl" loss describe --spec "$losses/poly1.txtpb" --format json
printf 'poly1: {epsilon: 2}\n' >"$tmp/poly1.yaml"
expect 0 "poly1(e=2)" -- "$polyctl" loss curve "$tmp/poly1.yaml" --pt 0.5
expect 0 '"dloss_dpt": -4.0' -- "$polyctl" loss curve "$tmp/poly1.yaml" --pt 0.5 --format json
expect 1 "--pt: an empty item between commas" -- "$polyctl" loss curve "$tmp/poly1.yaml" --pt 0.5,,0.6
expect 0 "L(0.50)  dL(0.50)" -- "$polyctl" loss curve "$losses/cross_entropy.txtpb" \
  "$tmp/poly1.yaml" --pt 0.5 --format table
printf 'poly1: {epsilon: -2}\n' >"$tmp/bad.yaml"
expect 1 "bad.yaml: poly1.epsilon: must be >= -1, got -2" -- "$polyctl" loss describe "$tmp/bad.yaml"
expect 0 "Exit codes: 0 success" -- "$polyctl" --help
# A bad --plot name is refused before any output, not after the whole table.
expect 1 "--plot $tmp/x.gif: the file must end in .svg or .png" -- \
  "$polyctl" loss curve "$losses/poly1.txtpb" --plot "$tmp/x.gif"
checks=$((checks + 1))
[[ ! -s "$tmp/out" ]] || fail "loss curve --plot x.gif printed: $(head -2 "$tmp/out")"

start_coordinator "$build"
export POLYTRAIN_COORDINATOR=$coordinator_address

# A job with no worker stays queued; it can be listed, read, compared and cancelled.
expect 0 "job-" -- "$polyctl" submit "$spec" --name waiting --label team=none
job=$(head -1 "$tmp/out")
expect 0 "$job waiting: queued (attempts 0)" -- "$polyctl" get "$job"
expect 0 "waiting: no worker is connected" -- "$polyctl" get "$job"
expect 0 "waiting" -- "$polyctl" list --state queued --label team=none
expect 1 "--label: key 'team' given twice" -- "$polyctl" submit "$spec" --label team=a --label team=b
expect 0 "eval_accuracy by loss" -- "$polyctl" compare "$job"
expect 0 "cancelled" -- "$polyctl" cancel "$job"
expect 6 "cancelled" -- "$polyctl" watch "$job"
expect 5 "already ended (cancelled)" -- "$polyctl" cancel "$job"
expect 4 "id: no job job-000000000000" -- "$polyctl" get job-000000000000
# An id that is not UTF-8: the coordinator's refusal names the field; no protobuf log line.
expect 1 "id: is not valid UTF-8" -- "$polyctl" get "$(printf 'job-\x01\xff')"
checks=$((checks + 1))
! grep -q "libprotobuf" "$tmp/err" || fail "a protobuf log line leaked: $(cat "$tmp/err")"

# Refusals name the field.
sed 's/loss {.*}/loss { cross_entropy {} reduction: REDUCTION_NONE }/' "$spec" >"$tmp/none.txtpb"
expect 1 "spec.loss.reduction: a training job needs REDUCTION_MEAN or REDUCTION_SUM" -- \
  "$polyctl" submit "$tmp/none.txtpb"
sed "s/^name: .*/name: \"$(printf 'n%.0s' $(seq 125))\"/" "$spec" >"$tmp/long.txtpb"
expect 1 "base.name: too long for this sweep" -- "$polyctl" sweep "$tmp/long.txtpb" \
  --loss 'cross_entropy {}'
expect 0 "sweep-" -- "$polyctl" sweep "$spec" --loss 'cross_entropy {}' --loss-grid 'poly1.epsilon=1'
sweep=$(head -1 "$tmp/out")
expect 0 "$sweep running " -- "$polyctl" sweeps --state running
expect 5 "id: sweep $sweep has job job-" -- "$polyctl" delete "$sweep"

# --group-by: rows per label value and loss, the value first (a job without the label: empty).
expect 0 "group,loss,runs,mean" -- "$polyctl" compare "$job" --sweep "$sweep" --group-by sweep --format csv
for row in "$sweep,ce,0," "$sweep,poly1(e=1),0," ",poly1(e=1),0,"; do
  checks=$((checks + 1))
  grep -q "^$row" "$tmp/out" || fail "compare --group-by sweep: no row $row in: $(cat "$tmp/out")"
done
expect 0 "eval_accuracy by loss and sweep" -- "$polyctl" compare "$job" "$sweep" --group-by sweep
expect 1 "group_by: keys use only [a-z0-9._-/]" -- "$polyctl" compare "$job" --group-by LR

# --from: an earlier job's spec, changed by the flags; a sweep's job leaves its labels behind.
expect 0 "job-" -- "$polyctl" submit --from "$job" --set optimizer.learning_rate=0.5 --seed 9
again=$(head -1 "$tmp/out")
expect 0 '"learning_rate":0.5' -- "$polyctl" get "$again" --format json
expect 0 '"seed":"9"' -- "$polyctl" get "$again" --format json
expect 0 '"labels":{"team":"none"}' -- "$polyctl" get "$again" --format json
member=$(sed -n 's/^\(job-[0-9a-f]*\).*/\1/p' <("$polyctl" list --label "sweep=$sweep") | head -1)
expect 0 "so its labels sweep=$sweep, loss=" -- "$polyctl" submit --from "$member" --dry-run
expect 0 "job-" -- "$polyctl" submit --from "$member"
checks=$((checks + 1))
! "$polyctl" get "$(head -1 "$tmp/out")" --format json | grep -q '"sweep"' ||
  fail "a job submitted --from a sweep's job kept its sweep label"
expect 4 "--from: no job job-000000000000" -- "$polyctl" submit --from job-000000000000
# --from names the job's files as it read them: a file of that name here is uploaded only with
# --files (probe DL: a rerun trained on whatever d.pt the current directory held).
sed 's/synthetic {.*}/tensors { path: "d.pt" }/' "$spec" >"$tmp/tensors.txtpb"
expect 0 "job-" -- "$polyctl" submit "$tmp/tensors.txtpb" --no-upload
tensors_job=$(head -1 "$tmp/out")
mkdir -p "$tmp/here" && printf 'not the job data' >"$tmp/here/d.pt"
expect 0 "would queue 1 job" -- bash -c "cd '$tmp/here' && '$polyctl' submit --from $tensors_job --dry-run"
grep -q "would upload" "$tmp/err" && fail "--from uploaded a file of the current directory: $(cat "$tmp/err")"
expect 0 "dry run: would upload $tmp/here/d.pt" -- \
  "$polyctl" submit --from "$tensors_job" --files "$tmp/here" --dry-run
# A job of no sweep keeps a label "loss" of its own (only a sweep's are left behind).
expect 0 "job-" -- "$polyctl" submit "$spec" --label loss=mine
expect 0 "job-" -- "$polyctl" submit --from "$(head -1 "$tmp/out")"
checks=$((checks + 1))
"$polyctl" get "$(head -1 "$tmp/out")" --format json | grep -q '"labels":{"loss":"mine"}' ||
  fail "a job submitted --from a job of no sweep lost its label loss=mine"
grep -q "note" "$tmp/err" && fail "--from a job of no sweep noted: $(cat "$tmp/err")"
expect 2 "submit needs a JobSpec file or --from JOB_ID" -- "$polyctl" submit
expect 2 "file excludes --from" -- "$polyctl" submit "$spec" --from "$job"
expect 3 "cannot reach the coordinator at 127.0.0.1:1" -- "$polyctl" --coordinator 127.0.0.1:1 list
expect 3 "cannot reach the coordinator at 127.0.0.1:1" -- \
  "$polyctl" --coordinator 127.0.0.1:1 artifacts
checks=$((checks + 1))
[[ ! -s "$tmp/out" ]] || fail "artifacts with no coordinator printed: $(cat "$tmp/out")"

# Uploads take regular files only (a FIFO blocked, /dev/zero was hashed forever); the same
# bytes again keep their first name, and polyctl says so.
mkfifo "$tmp/fifo"
expect 1 "fifo: not a regular file" -- "$polyctl" upload "$tmp/fifo"
expect 1 "/dev/null: not a regular file" -- "$polyctl" upload /dev/null
printf 'some bytes' >"$tmp/a.bin"
expect 0 "sha256:" -- "$polyctl" upload "$tmp/a.bin" --name first.bin
expect 0 "was stored before as 'first.bin'" -- "$polyctl" upload "$tmp/a.bin" --name second.bin

# A search watched while its coordinator stops: an outage (exit 3), not a failed search (6),
# once --reconnect-seconds have passed without it.
expect 0 "sweep-" -- "$polyctl" search "$spec" --range poly1.epsilon=0:5 --trials 3
search=$(head -1 "$tmp/out")
"$polyctl" watch "$search" --reconnect-seconds 1 >"$tmp/watch.out" 2>"$tmp/watch.err" &
watch_pid=$!
for _ in $(seq 400); do  # until its first poll was answered
  [[ -s "$tmp/watch.err" ]] && break
  sleep 0.05
done
kill -TERM "$coordinator_pid"
wait "$coordinator_pid"
wait "$watch_pid"
code=$?
checks=$((checks + 1))
[[ $code -eq 3 ]] && grep -qE "cannot reach the coordinator|lost the connection to the coordinator|ended the call" "$tmp/watch.err" ||
  fail "watch of a search whose coordinator stopped exited $code: $(tail -2 "$tmp/watch.err")"

finish polyctl_no_worker_test
