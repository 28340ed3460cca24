#!/usr/bin/env bash
# polytrain-worker as a user runs it: a real run writes its metrics and checkpoints; a bad spec
# gets one line naming the field, a non-zero exit, and nothing written.
# Usage: polytrain_worker_cli_test.sh PATH_TO_POLYTRAIN_WORKER REPO_ROOT
set -uo pipefail
worker=$1
root=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
checks=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
check() { checks=$((checks + 1)); if ! eval "$1"; then fail "$2"; fi; }

# A real run on synthetic data: JSON lines, a checkpoint, a summary.
"$worker" --spec "$root/examples/jobs/synthetic_poly1.txtpb" --metrics_out "$tmp/m.jsonl" \
  --checkpoint_dir "$tmp/ckpt" >"$tmp/out" 2>"$tmp/err"
code=$?
check '[[ $code -eq 0 ]]' "synthetic run failed: $(cat "$tmp/err")"
check 'grep -q "job synthetic-poly1 finished after 285/285 steps (5 epochs)" "$tmp/out"' \
  "summary line missing: $(cat "$tmp/out")"
check 'grep -q "eval_accuracy" "$tmp/out"' "summary lacks eval_accuracy"
check '[[ -f "$tmp/ckpt/ckpt-000000000285.pt" ]]' "final checkpoint missing: $(ls "$tmp/ckpt")"
checks=$((checks + 1))
python3 - "$tmp/m.jsonl" <<'PY' || fail "metrics JSON lines malformed"
import json, sys
points = [json.loads(line) for line in open(sys.argv[1])]
train = [p for p in points if p["kind"] == "KIND_TRAIN"]
evals = [p for p in points if p["kind"] == "KIND_EVAL"]
assert len(evals) == 5, len(evals)
assert int(train[-1]["step"]) == 285
assert all(k in train[0]["values"] for k in ("loss", "accuracy", "learning_rate", "samples_per_second", "grad_norm"))
assert evals[-1]["values"]["eval_accuracy"] > 0.85
assert "epoch" in train[0]  # zero values are written too
PY

# Resuming a finished run does no more steps and says it resumed; its --metrics_out holds each
# point once (the final evaluation, done again, replaces its twin).
cp "$tmp/m.jsonl" "$tmp/m-before-resume.jsonl"
"$worker" --spec "$root/examples/jobs/synthetic_poly1.txtpb" --checkpoint_dir "$tmp/ckpt" \
  --metrics_out "$tmp/m.jsonl" --resume --quiet >"$tmp/out" 2>"$tmp/err"
code=$?
check '[[ $code -eq 0 ]] && grep -q "finished after 285/285 steps (5 epochs) in .* (resumed from a checkpoint)" "$tmp/out"' \
  "resume of a finished run: $(cat "$tmp/out" "$tmp/err")"
check 'grep -q "train throughput none (no step trained)" "$tmp/out"' "resume at the end: $(cat "$tmp/out")"
# --quiet logs warnings and errors only: the checkpoint's load is logged without it alone.
check '! grep -q "loaded first in a process of its own" "$tmp/err"' "--quiet logged: $(cat "$tmp/err")"
"$worker" --spec "$root/examples/jobs/synthetic_poly1.txtpb" --checkpoint_dir "$tmp/ckpt" \
  --resume >"$tmp/out" 2>"$tmp/err"
check 'grep -q " info: $tmp/ckpt/ckpt-000000000285.pt: loaded first in a process of its own" "$tmp/err"' \
  "resume without --quiet: $(cat "$tmp/err")"
check '[[ $(wc -l <"$tmp/m.jsonl") -eq $(wc -l <"$tmp/m-before-resume.jsonl") ]]' \
  "resume at the end: $(wc -l <"$tmp/m-before-resume.jsonl") points before, $(wc -l <"$tmp/m.jsonl") after"

# --resume with no checkpoint yet starts from step 0 and says so.
"$worker" --spec "$root/examples/jobs/synthetic_poly1.txtpb" --checkpoint_dir "$tmp/fresh" \
  --resume --quiet >"$tmp/out" 2>"$tmp/err"
code=$?
check '[[ $code -eq 0 ]] && grep -qF "polytrain-worker: --resume: no checkpoint in $tmp/fresh yet; starting from step 0" "$tmp/err"' \
  "resume without a checkpoint: $(cat "$tmp/out" "$tmp/err")"

# A checkpoint without its size and CRC-32 record cannot be trusted: set aside, said so, and the
# run starts from step 0.
mkdir -p "$tmp/unrecorded"
cp "$(ls "$tmp"/ckpt/ckpt-*.pt | tail -1)" "$tmp/unrecorded/"
"$worker" --spec "$root/examples/jobs/synthetic_poly1.txtpb" --checkpoint_dir "$tmp/unrecorded" \
  --resume --quiet >"$tmp/out" 2>"$tmp/err"
code=$?
check '[[ $code -eq 0 ]] && grep -q "polytrain-worker: passed over .*(set aside as .corrupt)" "$tmp/err" && ! grep -q "resumed" "$tmp/out"' \
  "resume from an unrecorded checkpoint: $(cat "$tmp/out" "$tmp/err")"

# A bad spec: exit 1, one line naming the field, no metrics file, no checkpoint dir.
sed 's/batch_size: 64/batch_size: 0/' "$root/examples/jobs/synthetic_poly1.txtpb" >"$tmp/bad.txtpb"
"$worker" --spec "$tmp/bad.txtpb" --metrics_out "$tmp/bad.jsonl" --checkpoint_dir "$tmp/bad_ckpt" \
  >"$tmp/out" 2>"$tmp/err"
code=$?
check '[[ $code -eq 1 ]]' "bad spec exited $code"
check '[[ $(wc -l <"$tmp/err") -eq 1 ]]' "bad spec printed $(wc -l <"$tmp/err") lines"
check 'grep -qF "polytrain-worker: spec.batch_size: must be in [1, 65536], got 0" "$tmp/err"' \
  "bad spec message: $(cat "$tmp/err")"
check '[[ ! -e "$tmp/bad.jsonl" && ! -e "$tmp/bad_ckpt" ]]' "a refused job wrote files"

# A run that fails before it writes anything (it diverges before its first logging point or
# checkpoint) takes away the directory and file it made: nothing that looks like a result.
sed 's/learning_rate: 0.05/learning_rate: 9.5/; s/separation: 3/separation: 100/; s/momentum: 0.9/momentum: 0.99/; s/poly1 { epsilon: 1 }/focal { gamma: 0.5 }/' \
  "$root/examples/jobs/synthetic_poly1.txtpb" >"$tmp/diverges.txtpb"
echo "log_every_steps: 1000" >>"$tmp/diverges.txtpb"
"$worker" --spec "$tmp/diverges.txtpb" --metrics_out "$tmp/diverged.jsonl" \
  --checkpoint_dir "$tmp/diverged_ckpt" --quiet >"$tmp/out" 2>"$tmp/err"
code=$?
check '[[ $code -eq 6 ]] && grep -q "training diverged" "$tmp/err"' "diverging run: exit $code: $(cat "$tmp/err")"
check '[[ ! -e "$tmp/diverged.jsonl" && ! -e "$tmp/diverged_ckpt" ]]' \
  "a run that failed before writing left $(ls -d "$tmp"/diverged* 2>/dev/null)"

# A --checkpoint_dir that cannot hold files fails before the first step (standalone) or at
# start-up (service mode), naming the flag: not at the first checkpoint, after the training.
touch "$tmp/a-file"
"$worker" --spec "$root/examples/jobs/synthetic_poly1.txtpb" --checkpoint_dir "$tmp/a-file/ckpt" \
  >"$tmp/out" 2>"$tmp/err"
code=$?
check '[[ $code -eq 1 ]] && grep -q "^polytrain-worker: --checkpoint_dir $tmp/a-file/ckpt: " "$tmp/err"' \
  "unwritable --checkpoint_dir: exit $code: $(cat "$tmp/err")"
check '! grep -q "step\|finished" "$tmp/out" "$tmp/err"' "trained before refusing: $(cat "$tmp/out")"
# An empty --checkpoint_dir or --metrics_out is refused, not dropped without a word (probe CJ).
for flag in --checkpoint_dir --metrics_out; do
  "$worker" --spec "$root/examples/jobs/synthetic_poly1.txtpb" "$flag=" >"$tmp/out" 2>"$tmp/err"
  code=$?
  check '[[ $code -eq 2 ]] && grep -qF -- "$flag: must not be empty" "$tmp/err"' \
    "empty $flag: exit $code: $(cat "$tmp/err")"
done
# So does a --metrics_out that cannot be written, naming the flag and why (probe CJ).
"$worker" --spec "$root/examples/jobs/synthetic_poly1.txtpb" --metrics_out "$tmp/a-file/m.jsonl" \
  >"$tmp/out" 2>"$tmp/err"
code=$?
check '[[ $code -eq 1 ]] && grep -qF "polytrain-worker: --metrics_out $tmp/a-file/m.jsonl: cannot open for writing: Not a directory" "$tmp/err"' \
  "unwritable --metrics_out: exit $code: $(cat "$tmp/err")"
"$worker" --coordinator 127.0.0.1:1 --name nowhere --checkpoint_dir "$tmp/a-file" \
  >"$tmp/out" 2>"$tmp/err"
code=$?
check '[[ $code -eq 1 ]] && grep -q "^polytrain-worker: --checkpoint_dir $tmp/a-file: not a directory" "$tmp/err"' \
  "service mode, file as --checkpoint_dir: exit $code: $(cat "$tmp/err")"
# A missing --token_file is exit 4, as in every tool (probe CJ: it was 1 here, 4 from polyctl).
# A --spec run's flag given in service mode is said to be ignored (it was ignored without a word).
"$worker" --coordinator 127.0.0.1:1 --name nowhere --token_file "$tmp/no-such-token" \
  --metrics_out "$tmp/ignored.jsonl" >"$tmp/out" 2>"$tmp/err"
code=$?
check '[[ $code -eq 4 ]] && grep -qF "polytrain-worker: --token_file $tmp/no-such-token: no such file" "$tmp/err"' \
  "missing --token_file: exit $code: $(cat "$tmp/err")"
check 'grep -qF "polytrain-worker: --metrics_out is for a --spec run; service mode (--coordinator) ignores it" "$tmp/err"' \
  "service mode took --metrics_out without a word: $(cat "$tmp/err")"
# So does an --artifact_cache_dir that cannot hold files (probe CJ: every job naming an upload
# failed on it), and an empty one is a usage error.
"$worker" --coordinator 127.0.0.1:1 --name nowhere --artifact_cache_dir "$tmp/a-file/cache" \
  >"$tmp/out" 2>"$tmp/err"
code=$?
check '[[ $code -eq 1 ]] && grep -q "^polytrain-worker: --artifact_cache_dir $tmp/a-file/cache: " "$tmp/err"' \
  "service mode, unwritable --artifact_cache_dir: exit $code: $(cat "$tmp/err")"
"$worker" --coordinator 127.0.0.1:1 --name nowhere --artifact_cache_dir "" >"$tmp/out" 2>"$tmp/err"
code=$?
check '[[ $code -eq 2 ]] && grep -q -- "--artifact_cache_dir" "$tmp/err"' \
  "service mode, empty --artifact_cache_dir: exit $code: $(cat "$tmp/err")"

# A --data_root given that is not there: exit 4 naming it, in either mode, before anything runs.
"$worker" --spec "$root/examples/jobs/synthetic_poly1.txtpb" --data_root "$tmp/nowhere" \
  >"$tmp/out" 2>"$tmp/err"
code=$?
check '[[ $code -eq 4 ]] && grep -qx "polytrain-worker: --data_root $tmp/nowhere: no such directory" "$tmp/err"' \
  "missing --data_root: exit $code: $(cat "$tmp/err")"
# A port file with no /metrics to write it for, and an empty one, are refused (a script would
# wait for them forever).
"$worker" --coordinator 127.0.0.1:1 --metrics_port_file "$tmp/mport" >"$tmp/out" 2>"$tmp/err"
code=$?
check '[[ $code -eq 2 ]] && grep -q "^polytrain-worker: --metrics_port_file needs --metrics_listen" "$tmp/err"' \
  "--metrics_port_file without --metrics_listen: exit $code, $(cat "$tmp/err")"
"$worker" --coordinator 127.0.0.1:1 --metrics_listen 127.0.0.1:0 --metrics_port_file= \
  >"$tmp/out" 2>"$tmp/err"
code=$?
check '[[ $code -eq 2 ]] && grep -q "^polytrain-worker: --metrics_port_file: must not be empty" "$tmp/err"' \
  "--metrics_port_file=: exit $code, $(cat "$tmp/err")"

# A name the coordinator would refuse at every dial stops the worker at once (it retried forever).
for name in 'bad name' "$(printf 'n%.0s' {1..129})" ''; do
  "$worker" --coordinator 127.0.0.1:1 --name "$name" >"$tmp/out" 2>"$tmp/err"
  code=$?
  check '[[ $code -eq 2 ]] && grep -q "^polytrain-worker: --name: " "$tmp/err"' \
    "worker --name '$name': exit $code, $(cat "$tmp/err")"
done

"$worker" --coordinator 127.0.0.1:1 --name rootless --data_root "$tmp/nowhere" >"$tmp/out" 2>"$tmp/err"
code=$?
check '[[ $code -eq 4 ]] && grep -q "no such directory" "$tmp/err"' \
  "service mode, missing --data_root: exit $code: $(cat "$tmp/err")"
# Another machine's --advertise_address (TEST-NET-1) is refused at start: Gloo binds to it, and it
# failed only in a gang, whose healthy rank then stalled (probe CA). This machine's is taken.
"$worker" --coordinator 127.0.0.1:1 --advertise_address 192.0.2.1 >"$tmp/out" 2>"$tmp/err"
code=$?
check '[[ $code -eq 1 ]] && grep -qF "polytrain-worker: --advertise_address: 192.0.2.1 is not an address of this machine (binding to it: Cannot assign requested address); give an address of this machine that the other workers reach" "$tmp/err"' \
  "another machine's --advertise_address: exit $code: $(cat "$tmp/err")"
"$worker" --coordinator 127.0.0.1:1 --advertise_address "[::1]" >"$tmp/out" 2>"$tmp/err"
code=$?
check '[[ $code -eq 2 ]] && grep -qF "polytrain-worker: --advertise_address [::1]: a host name or IP address, without brackets or a port (an IPv6 address as ::1, not [::1]; the gang picks its ports)" "$tmp/err"' \
  "a bracketed --advertise_address: exit $code: $(cat "$tmp/err")"
# A port, an unspecified address or an empty value is refused too (probe CJ: "127.0.0.1:5" was only
# warned about, "0.0.0.0" and "" taken).
for bad in 127.0.0.1:5 0.0.0.0 :: ""; do
  "$worker" --coordinator 127.0.0.1:1 --advertise_address "$bad" >"$tmp/out" 2>"$tmp/err"
  code=$?
  check '[[ $code -eq 2 ]] && grep -qF "polytrain-worker: --advertise_address${bad:+ $bad}: " "$tmp/err"' \
    "--advertise_address '$bad': exit $code: $(cat "$tmp/err")"
done
# (The checkpoint directory, tried after it, fails that run.)
"$worker" --coordinator 127.0.0.1:1 --advertise_address 127.0.0.1 --checkpoint_dir "$tmp/a-file" \
  >"$tmp/out" 2>"$tmp/err"
code=$?
check '[[ $code -eq 1 ]] && grep -q "^polytrain-worker: --checkpoint_dir $tmp/a-file: not a directory" "$tmp/err"' \
  "this machine's --advertise_address: exit $code: $(cat "$tmp/err")"
# Under --log_format json that error is a JSON line too, for the log collector, whatever the level.
"$worker" --coordinator 127.0.0.1:1 --name rootless --data_root "$tmp/nowhere" --log_format json \
  --log_level off \
  >"$tmp/out" 2>"$tmp/err"
check 'python3 -c "import json,sys; l=open(sys.argv[1]).read().splitlines(); e=json.loads(l[-1]); sys.exit(not (len(l)==1 and e[\"level\"]==\"error\" and e[\"message\"].endswith(\"no such directory\")))" "$tmp/err"' \
  "a fatal error under --log_format json is not one JSON line: $(cat "$tmp/err")"

# A data path escaping the data root, and a syntax error with line and column.
cat >"$tmp/escape.txtpb" <<'SPEC'
name: "escape"
model { mlp {} }
dataset { fashion_mnist { dir: "/etc" } }
loss { cross_entropy {} }
optimizer { sgd {} learning_rate: 0.1 }
epochs: 1
batch_size: 8
SPEC
"$worker" --spec "$tmp/escape.txtpb" >"$tmp/out" 2>"$tmp/err"
code=$?
check '[[ $code -eq 1 ]] && grep -q "must stay inside the data root" "$tmp/err"' \
  "escaping data path: exit $code: $(cat "$tmp/err")"
printf 'name: "x"\nepochs: one\n' >"$tmp/syntax.txtpb"
"$worker" --spec "$tmp/syntax.txtpb" >"$tmp/out" 2>"$tmp/err"
code=$?
check '[[ $code -eq 1 ]] && grep -q "syntax.txtpb:2:" "$tmp/err"' "syntax error: $(cat "$tmp/err")"

# bfloat16 autocast, asked for in the spec, is what the job says it runs in.
{ cat "$root/examples/jobs/synthetic_poly1.txtpb"; echo "precision: PRECISION_BF16"; } \
  >"$tmp/bf16.txtpb"
"$worker" --spec "$tmp/bf16.txtpb" >"$tmp/out" 2>"$tmp/err"
code=$?
check '[[ $code -eq 0 ]] && grep -q "on cpu in bf16 autocast (" "$tmp/err"' \
  "bf16 run: exit $code: $(head -c 600 "$tmp/err")"

# GPUs: on a machine without one (CI's), asking for one is a clear refusal, never a crash.
if ! command -v nvidia-smi >/dev/null; then
  { grep -v "^device" "$root/examples/jobs/synthetic_poly1.txtpb"; echo "device: DEVICE_CUDA"; } \
    >"$tmp/cuda.txtpb"
  "$worker" --spec "$tmp/cuda.txtpb" >"$tmp/out" 2>"$tmp/err"
  code=$?
  check '[[ $code -eq 5 ]] && grep -q "spec.device: DEVICE_CUDA requested but LibTorch sees no CUDA device" "$tmp/err"' \
    "CUDA job without a GPU: exit $code: $(cat "$tmp/err")"
  for flags in "--gpus 0" "--device cuda"; do
    # shellcheck disable=SC2086
    "$worker" --coordinator 127.0.0.1:1 $flags >"$tmp/out" 2>"$tmp/err"
    code=$?
    check '[[ $code -eq 5 ]] && grep -q "^polytrain-worker: ${flags%% *}.*: LibTorch sees no CUDA device" "$tmp/err"' \
      "worker $flags without a GPU: exit $code: $(cat "$tmp/err")"
  done
fi
"$worker" --coordinator 127.0.0.1:1 --gpus 0,0 >"$tmp/out" 2>"$tmp/err"
code=$?
check '[[ $code -eq 2 ]] && grep -q "^polytrain-worker: --gpus: GPU 0 is listed twice" "$tmp/err"' \
  "--gpus 0,0: exit $code: $(cat "$tmp/err")"
"$worker" --coordinator 127.0.0.1:1 --gpus '' >"$tmp/out" 2>"$tmp/err"
code=$?
check '[[ $code -eq 2 ]] && grep -q "^polytrain-worker: --gpus: must not be empty" "$tmp/err"' \
  "--gpus '': exit $code: $(cat "$tmp/err")"
"$worker" --coordinator 127.0.0.1:1 --gpus 0 --slots 2 >"$tmp/out" 2>"$tmp/err"
code=$?
check '[[ $code -eq 2 ]] && grep -q "excludes" "$tmp/err"' "--gpus with --slots: exit $code"
"$worker" --coordinator 127.0.0.1:1 --device cuda --slots 2 >"$tmp/out" 2>"$tmp/err"
code=$?
check '[[ $code -eq 2 ]] && grep -q "one job per GPU" "$tmp/err"' \
  "--device cuda with --slots: exit $code: $(cat "$tmp/err")"

# A run cut short by max_steps says how much of an epoch it trained (57 steps an epoch here).
sed 's/^epochs: 5/epochs: 5 max_steps: 20/' "$root/examples/jobs/synthetic_poly1.txtpb" >"$tmp/short.txtpb"
"$worker" --spec "$tmp/short.txtpb" --quiet >"$tmp/out" 2>"$tmp/err"
code=$?
check '[[ $code -eq 0 ]] && grep -q "finished after 20/20 steps (0.35 epochs)" "$tmp/out"' \
  "max_steps summary: exit $code: $(cat "$tmp/out" "$tmp/err")"

# SIGINT (Ctrl-C) and SIGTERM stop a standalone run: with --checkpoint_dir it trains on to the
# end of its logging window (every 10 steps, and at each epoch's end: step 57, 114, ...),
# checkpoints there and exits 6; --resume continues from that step. A run far longer than the test (57000 steps), stopped once it has logged a point.
sed 's/^epochs: 5/epochs: 1000/' "$root/examples/jobs/synthetic_poly1.txtpb" >"$tmp/long.txtpb"
# Runs the long spec with "$@" and stops it with signal $1 once its metrics file has a point;
# leaves the exit code in $code.
run_and_signal() {
  local signal=$1
  shift
  rm -f "$tmp/long.jsonl"
  "$worker" --spec "$tmp/long.txtpb" --metrics_out "$tmp/long.jsonl" --quiet "$@" \
    >"$tmp/out" 2>"$tmp/err" &
  local pid=$!
  for _ in $(seq 1200); do [[ -s "$tmp/long.jsonl" ]] && break; sleep 0.05; done
  kill "-$signal" "$pid"
  wait "$pid"
  code=$?
}
run_and_signal INT --checkpoint_dir "$tmp/stopped"
check '[[ $code -eq 6 ]] && grep -q "stopped by SIGINT after [0-9]*/57000 steps" "$tmp/out"' \
  "SIGINT with --checkpoint_dir: exit $code: $(cat "$tmp/out" "$tmp/err")"
stopped_at=$(sed -n 's/.*stopped by SIGINT at step \([0-9]*\); run again with --resume.*/\1/p' "$tmp/err")
check '[[ -n "$stopped_at" && $stopped_at -gt 0 ]] && (( stopped_at % 10 == 0 || stopped_at % 57 == 0 ))' \
  "SIGINT: not stopped where a logging window ends: '$stopped_at': $(cat "$tmp/err")"
check '[[ -f "$tmp/stopped/$(printf "ckpt-%012d.pt" "${stopped_at:-0}")" ]]' \
  "SIGINT: no checkpoint at step $stopped_at: $(ls "$tmp/stopped")"
run_and_signal TERM --checkpoint_dir "$tmp/stopped" --resume
resumed_at=$(sed -n 's/.*stopped by SIGTERM at step \([0-9]*\); run again.*/\1/p' "$tmp/err")
check '[[ $code -eq 6 && -n "$resumed_at" ]] && (( resumed_at > stopped_at )) && grep -q "(resumed from a checkpoint)" "$tmp/out"' \
  "SIGTERM of the resumed run: exit $code, from $stopped_at to '$resumed_at': $(cat "$tmp/out" "$tmp/err")"
run_and_signal INT
check '[[ $code -eq 6 ]] && grep -q "^polytrain-worker: stopped by SIGINT: released at step [0-9]*; nothing saved (no --checkpoint_dir)$" "$tmp/err"' \
  "SIGINT without --checkpoint_dir: exit $code: $(cat "$tmp/err")"

# spec.time_limit_seconds bounds a standalone run as it bounds an attempt in the service.
{ cat "$tmp/long.txtpb"; echo "time_limit_seconds: 1"; } >"$tmp/limited.txtpb"
"$worker" --spec "$tmp/limited.txtpb" --quiet >"$tmp/out" 2>"$tmp/err"
code=$?
check '[[ $code -eq 6 ]] && grep -q "^polytrain-worker: ran past spec.time_limit_seconds (1 s): cancelled at step [0-9]*$" "$tmp/err"' \
  "time limit: exit $code: $(cat "$tmp/err")"

# Service flags do nothing in a --spec run, and it says so; --spec with --coordinator is refused.
"$worker" --spec "$tmp/bad.txtpb" --slots 3 --threads 2 >"$tmp/out" 2>"$tmp/err"
check 'grep -qF "polytrain-worker: --slots is for service mode (--coordinator); a --spec run ignores it" "$tmp/err" &&
       grep -qF "polytrain-worker: --threads is for service mode" "$tmp/err"' \
  "service flags with --spec: $(cat "$tmp/err")"
"$worker" --spec "$tmp/bad.txtpb" --coordinator 127.0.0.1:1 >"$tmp/out" 2>"$tmp/err"
code=$?
check '[[ $code -eq 2 ]] && grep -qF "or --coordinator HOST:PORT (service mode), not both" "$tmp/err"' \
  "--spec and --coordinator: exit $code: $(cat "$tmp/err")"

# A run stuck in its model's code, where nothing looks at the cancel, is ended kStuckSeconds (5)
# after its time limit, exit 6, instead of running on forever. Without the load probe: its child's
# LibTorch start-up took more than the 1 s limit on a busy CI machine, and a limit reached while
# the child loads ends the run cleanly (its own message) before the model's code is ever stuck.
mkdir -p "$tmp/stuck"
/usr/bin/python3 "$root/worker/testdata/make_stuck_model.py" "$tmp/stuck/stuck.pt"
{ cat "$root/worker/testdata/stuck_job.txtpb"; echo "time_limit_seconds: 2"; } >"$tmp/stuck.txtpb"
timeout 60 "$worker" --spec "$tmp/stuck.txtpb" --data_root "$tmp/stuck" --no_load_probe --quiet \
  >"$tmp/out" 2>"$tmp/err"
code=$?
check '[[ $code -eq 6 ]] && grep -qF "polytrain-worker: ran past spec.time_limit_seconds (2 s) and did not stop within 5 s of its cancel (stuck in the model'"'"'s code or in reading a file); ended" "$tmp/err"' \
  "a stuck run: exit $code: $(cat "$tmp/err")"

# The load probe's children of worker $1 found once one exists (two are started ahead, the
# oldest taken first), held stopped (SIGSTOP): their pids, or nothing.
stop_probe_child() {
  local found=""
  for _ in $(seq 1000); do
    found=$(pgrep -P "$1" -f -- --probe_torch_load | tr '\n' ' ')
    [[ -n "$found" ]] && break
    sleep 0.01
  done
  # shellcheck disable=SC2086 # one word per pid
  [[ -n "$found" ]] && kill -STOP $found
  echo "$found"
}
# A time limit reached while a file is loaded first (in the load probe's child, held stopped
# here) ends the run saying both: the limit and where it stood.
"$worker" --spec "$tmp/stuck.txtpb" --data_root "$tmp/stuck" --quiet >"$tmp/out" 2>"$tmp/err" &
loading_pid=$!
child=$(stop_probe_child "$loading_pid")
wait "$loading_pid"
code=$?
check '[[ -n "$child" && $code -eq 6 ]] && grep -qF "polytrain-worker: ran past spec.time_limit_seconds (2 s): spec.model.torchscript.path: the job stopped while its file was being loaded" "$tmp/err"' \
  "a time limit while loading: exit $code, child '$child': $(cat "$tmp/err")"
# Gone, or a zombie its new parent has not reaped yet (the one waiting unused dies with the
# worker: PR_SET_PDEATHSIG).
for pid in $child; do
  check '! kill -0 "$pid" 2>/dev/null || [[ $(cut -d" " -f3 "/proc/$pid/stat" 2>/dev/null) == Z ]]' \
    "the stopped probe child $pid was left behind ($(cat "/proc/$pid/stat" 2>/dev/null))"
done
# And Ctrl-C there, with a checkpoint directory: nothing to save, said as such.
"$worker" --spec "$tmp/stuck.txtpb" --data_root "$tmp/stuck" --checkpoint_dir "$tmp/loading-ckpt" \
  --quiet >"$tmp/out" 2>"$tmp/err" &
loading_pid=$!
child=$(stop_probe_child "$loading_pid")
kill -INT "$loading_pid"
wait "$loading_pid"
code=$?
check '[[ -n "$child" && $code -eq 6 ]] && grep -qF "polytrain-worker: stopped by SIGINT: spec.model.torchscript.path: the job stopped while its file was being loaded; nothing to save (it had not started training)" "$tmp/err"' \
  "SIGINT while loading: exit $code, child '$child': $(cat "$tmp/err")"

# A crafted model whose code nests 100,000 parentheses crashes LibTorch's parser: loaded first in
# a child process (the load probe), it fails the job naming the field, exit 1, instead of
# ending the worker with a segfault (--no_load_probe: exit 139 with Debian's LibTorch 1.13).
/usr/bin/python3 "$root/worker/testdata/make_deep_code_model.py" "$tmp/stuck/deep.pt"
sed 's/stuck.pt/deep.pt/' "$root/worker/testdata/stuck_job.txtpb" >"$tmp/deep.txtpb"
timeout 120 "$worker" --spec "$tmp/deep.txtpb" --data_root "$tmp/stuck" --quiet >"$tmp/out" 2>"$tmp/err"
code=$?
check '[[ $code -eq 1 ]] && grep -q "^polytrain-worker: spec.model.torchscript.path: " "$tmp/err"' \
  "a model crashing LibTorch: exit $code: $(tail -c 400 "$tmp/err")"

# A worker that cannot reach its coordinator says so, with the cause, and keeps trying. Before
# it connects it removes the checkpoint directories of jobs in which nothing was written for
# --checkpoint_keep_hours (it runs none yet); fresh ones and other files stay.
mkdir -p "$tmp/ckpt/job-idle" "$tmp/ckpt/job-fresh"
touch "$tmp/ckpt/job-idle/ckpt-000000000400.pt" "$tmp/ckpt/job-fresh/ckpt-000000000400.pt" "$tmp/ckpt/notes"
touch -d '3 hours ago' "$tmp/ckpt/job-idle/ckpt-000000000400.pt" "$tmp/ckpt/job-idle" "$tmp/ckpt/notes"
"$worker" --coordinator 127.0.0.1:1 --name lonely --checkpoint_dir "$tmp/ckpt" \
  --checkpoint_keep_hours 2 2>"$tmp/lonely.log" &
lonely=$!
for _ in $(seq 200); do grep -q "cannot connect" "$tmp/lonely.log" && break; sleep 0.05; done
kill "$lonely"
wait "$lonely"
code=$?
check 'grep -q "cannot connect to the coordinator at 127.0.0.1:1 (1 attempt(s) so far): .*Connection refused; retrying" "$tmp/lonely.log"' \
  "no log of the failed connection: $(cat "$tmp/lonely.log")"
check '[[ ! -e $tmp/ckpt/job-idle && -e $tmp/ckpt/job-fresh/ckpt-000000000400.pt && -e $tmp/ckpt/notes ]]' \
  "idle checkpoint dirs: $(ls "$tmp/ckpt")"
check 'grep -q "removed $tmp/ckpt/job-idle: the job no longer runs here and nothing was written there for 2 h (--checkpoint_keep_hours)" "$tmp/lonely.log"' \
  "no log of the idle checkpoint dir removed: $(cat "$tmp/lonely.log")"
# SIGTERM and SIGINT stop it cleanly, exit 0, whichever of its threads (OpenBLAS starts some
# before main) the signal reaches.
check '[[ $code -eq 0 ]]' "SIGTERM: the worker exited $code, not 0"
check 'grep -q "lonely: SIGTERM received: giving running jobs back to the coordinator (up to 20 s), then exiting" "$tmp/lonely.log" && grep -q "lonely: stopped" "$tmp/lonely.log"' \
  "no log of the SIGTERM and the stop: $(cat "$tmp/lonely.log")"
"$worker" --coordinator 127.0.0.1:1 --name lonely2 --slots 3 --threads 2 2>"$tmp/lonely2.log" &
lonely=$!
for _ in $(seq 200); do grep -q "cannot connect" "$tmp/lonely2.log" && break; sleep 0.05; done
kill -INT "$lonely"
# A worker that ignored the signal would make `wait` hang: give it 30 s, then kill it.
for _ in $(seq 600); do kill -0 "$lonely" 2>/dev/null || break; sleep 0.05; done
kill -9 "$lonely" 2>/dev/null
wait "$lonely"
code=$?
check '[[ $code -eq 0 ]]' "SIGINT: the worker exited $code, not 0"
check 'grep -q "lonely2: SIGINT received" "$tmp/lonely2.log"' "no log of the SIGINT: $(cat "$tmp/lonely2.log")"
# More slots than threads: one thread per job, which together use more than --threads (probe CE:
# the help said "threads for all jobs together", and nothing said otherwise).
check 'grep -qF "lonely2: starting with 3 slot(s), 1 thread(s) per job; coordinator 127.0.0.1:1" "$tmp/lonely2.log" &&
       grep -qF "warning: --slots 3 is more than --threads 2: each job still computes with 1 thread, so the jobs together use up to 3" "$tmp/lonely2.log"' \
  "no warning of more slots than threads: $(cat "$tmp/lonely2.log")"

# A flag's value that is wrong (a credential file) exits 1, as in polyctl and the coordinator.
printf 'not a certificate\n' >"$tmp/junk.pem"
"$worker" --coordinator 127.0.0.1:1 --tls_ca "$tmp/junk.pem" >"$tmp/out" 2>"$tmp/err"
code=$?
check '[[ $code -eq 1 ]] && grep -q "tls_ca" "$tmp/err"' "a junk --tls_ca: exit $code: $(cat "$tmp/err")"

# Usage errors exit 2; --help documents the exit codes.
"$worker" --spec "$root/examples/jobs/synthetic_poly1.txtpb" --resume >"$tmp/out" 2>"$tmp/err"
code=$?
check '[[ $code -eq 2 ]] && grep -q "needs --checkpoint_dir" "$tmp/err"' "--resume without dir"
"$worker" >"$tmp/out" 2>"$tmp/err"
code=$?
check '[[ $code -eq 2 ]]' "missing --spec should exit 2"
"$worker" --spec "$tmp/no-such.txtpb" >"$tmp/out" 2>"$tmp/err"
code=$?
check '[[ $code -eq 4 ]] && grep -qF "polytrain-worker: --spec: $tmp/no-such.txtpb: no such file" "$tmp/err"' \
  "a missing --spec file: exit $code: $(cat "$tmp/err")"
# --drain_seconds in [5, 3600]: a usage error past either edge; accepted at each (exit 4: no spec).
for bad in 4 3601; do
  "$worker" --coordinator 127.0.0.1:1 --drain_seconds "$bad" >"$tmp/out" 2>"$tmp/err"
  code=$?
  check '[[ $code -eq 2 ]] && grep -qF "polytrain-worker: --drain_seconds: must be a whole number in [5, 3600], got $bad" "$tmp/err"' \
    "--drain_seconds $bad: exit $code: $(cat "$tmp/err")"
done
for edge in 5 3600; do
  "$worker" --spec "$tmp/no-such.txtpb" --drain_seconds "$edge" >"$tmp/out" 2>"$tmp/err"; code=$?
  check '[[ $code -eq 4 ]]' "--drain_seconds $edge refused: exit $code: $(cat "$tmp/err")"
done
"$worker" --help >"$tmp/out" 2>&1
check 'grep -q "6 the job did not succeed (failed, training diverged, or cancelled)" "$tmp/out"' \
  "--help lacks exit codes"

echo "polytrain_worker_cli_test: $((checks - failures)) passed, $failures failed"
[[ $failures -eq 0 ]]
