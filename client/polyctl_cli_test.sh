#!/usr/bin/env bash
# polyctl end to end against a real coordinator and worker on loopback: outputs, exit codes,
# the compare statistics recomputed here, and every error path.
# Usage: polyctl_cli_test.sh BUILD_DIR REPO_ROOT
set -uo pipefail
build=$1
root=$2
polyctl=$build/client/polyctl
tmp=$(mktemp -d)
cleanup() {
  kill "${worker_pid:-}" "${coordinator_pid:-}" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
failures=0
checks=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
# expect CODE PATTERN -- ARGS: runs polyctl; checks exit code and that the output has PATTERN.
expect() {
  local code=$1 pattern=$2
  shift 3
  checks=$((checks + 1))
  "$polyctl" "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  [[ $got -eq $code ]] || { fail "polyctl $* exited $got, expected $code: $(cat "$tmp/err")"; return; }
  grep -qF -- "$pattern" "$tmp/out" "$tmp/err" || fail "polyctl $*: no '$pattern' in: $(cat "$tmp/out" "$tmp/err" | head -5)"
}

"$build/server/polytrain-coordinator" --plaintext --listen 127.0.0.1:0 --port_file "$tmp/port" \
  --db "$tmp/db.sqlite" --artifacts "$tmp/artifacts" --metrics_listen "" \
  2>"$tmp/coordinator.log" &
coordinator_pid=$!
for _ in $(seq 400); do [[ -s "$tmp/port" ]] && break; sleep 0.05; done
[[ -s "$tmp/port" ]] || { echo "the coordinator did not start: $(cat "$tmp/coordinator.log")"; exit 1; }
export POLYTRAIN_COORDINATOR="127.0.0.1:$(cat "$tmp/port")"
"$build/worker/polytrain-worker" --coordinator "$POLYTRAIN_COORDINATOR" --name cli-worker \
  2>"$tmp/worker.log" &
worker_pid=$!
spec="$root/examples/jobs/synthetic_poly1.txtpb"

# submit --watch follows the job and exits with its outcome.
expect 0 "succeeded on cli-worker" -- submit "$spec" --name cli-one --label team=cli --watch
job=$(head -1 "$tmp/out")
expect 0 "eval  step 285" -- watch "$job"
# Watching a job that already ended: its history, then its final state, last.
checks=$((checks + 1))
[[ $(tail -1 "$tmp/out") == "$job cli-one: succeeded on cli-worker" && $(wc -l <"$tmp/out") -gt 2 ]] ||
  fail "watch of an ended job: the final state is not the last line: $(head -3 "$tmp/out")"
expect 0 "$job cli-one: succeeded (attempts 1, worker cli-worker)" -- get "$job"
checks=$((checks + 1))
metric_names=$(awk 'NR > 1 {print $1}' "$tmp/out")
[[ -n "$metric_names" && "$metric_names" == "$(sort <<<"$metric_names")" ]] ||
  fail "get: final metrics not sorted by name: $metric_names"
# --set replaces fields of the spec by path; the stored spec has them.
expect 0 "set-run: succeeded" -- submit "$spec" --set name=set-run --set epochs=1 \
  --set 'model.mlp.hidden=[16, 8]' --set optimizer.learning_rate=0.1 \
  --set checkpoint.keep_best_by=eval_loss --watch
set_run=$(head -1 "$tmp/out")
# Its best checkpoint by eval_loss: the only one, at its end (its evaluation's step).
expect 0 "  best checkpoint: step " -- get "$set_run"
expect 0 "$set_run: ckpt-" -- checkpoint "$set_run" --best --output "$tmp/best.pt"
checks=$((checks + 1))
grep -qF ", the best by eval_loss: " "$tmp/err" || fail "checkpoint --best: no score: $(cat "$tmp/err")"
expect 0 '"hidden":[16,8]' -- get "$set_run" --format json
checks=$((checks + 1))
grep -qF '"epochs":1,' "$tmp/out" && grep -qF '"learning_rate":0.1' "$tmp/out" ||
  fail "--set: the stored spec lacks a setting: $(cat "$tmp/out")"
expect 1 "polyctl: --set 'batch_sise=3': JobSpec has no field 'batch_sise' (its fields: name, " -- \
  submit "$spec" --set batch_sise=3
expect 1 "polyctl: --set 'epochs=many': epochs: not a value of this field (Expected integer, got: many)" -- \
  sweep "$spec" --loss 'cross_entropy {}' --set epochs=many
# Its trained model: the newest stored checkpoint, byte for byte the coordinator's copy, which
# torch.jit.load reads in Python; never over an existing file.
expect 0 "$job: ckpt-000000000285.pt (step 285, " -- checkpoint "$job" --output "$tmp/model.pt"
checks=$((checks + 1))
cmp -s "$tmp/model.pt" "$tmp/artifacts/$job/ckpt-000000000285.pt" ||
  fail "the downloaded checkpoint differs from the stored one"
checks=$((checks + 1))
/usr/bin/python3 -c "
import sys, torch
weights = torch.jit.load(sys.argv[1]).model.state_dict()
assert {k: tuple(v.shape) for k, v in weights.items()} == {
    '1.weight': (64, 20), '1.bias': (64,), '3.weight': (5, 64), '3.bias': (5,)}, weights.keys()
" "$tmp/model.pt" || fail "the downloaded checkpoint is not the model torch.jit.load reads"
expect 5 "$tmp/model.pt exists; remove it or name another file (nothing was downloaded)" -- \
  checkpoint "$job" --output "$tmp/model.pt"
expect 4 "id: no job job-000000000000" -- checkpoint job-000000000000 --output "$tmp/none.pt"
expect 4 "polyctl: --best: job $job keeps no best checkpoint (its spec.checkpoint.keep_best_by names no metric)" -- \
  checkpoint "$job" --best --output "$tmp/none.pt"
checks=$((checks + 1))
[[ ! -e "$tmp/none.pt" ]] || fail "a refused download left a file"
# A stored checkpoint damaged on the coordinator's disk is never served (the job has no older
# one): DATA_LOSS, and nothing written. Mended, it is served again.
stored="$tmp/artifacts/$job/ckpt-000000000285.pt"
printf 'X' | dd of="$stored" bs=1 seek=100 conv=notrunc status=none
expect 4 " on disk, written as " -- checkpoint "$job" --output "$tmp/damaged.pt"
checks=$((checks + 1))
[[ ! -e "$tmp/damaged.pt" ]] || fail "a damaged checkpoint was written"
cp "$tmp/model.pt" "$stored"
expect 0 "written to $tmp/mended.pt" -- checkpoint "$job" --output "$tmp/mended.pt"
# A newer checkpoint damaged there is passed over for the newest intact older one, and the
# download says so. With the job's files gone, DATA_LOSS naming the id.
cat "$spec" - >"$tmp/checkpoints.txtpb" <<<'checkpoint { every_steps: 100 }'
expect 0 "succeeded on cli-worker" -- submit "$tmp/checkpoints.txtpb" --name cli-ckpts --watch
ckpt_job=$(head -1 "$tmp/out")
printf 'X' | dd of="$tmp/artifacts/$ckpt_job/ckpt-000000000285.pt" bs=1 seek=9 conv=notrunc \
  status=none
expect 0 "warning: $ckpt_job: a newer checkpoint is damaged or missing on the coordinator and was passed over (artifact $ckpt_job/ckpt-000000000285.pt" -- \
  checkpoint "$ckpt_job" --output "$tmp/older.pt"
checks=$((checks + 1))
grep -qF "ckpt-000000000200.pt (step 200, " "$tmp/err" && cmp -s "$tmp/older.pt" \
  "$tmp/artifacts/$ckpt_job/ckpt-000000000200.pt" || fail "not the older checkpoint: $(cat "$tmp/err")"
checks=$((checks + 1))
grep -qF "warning: $ckpt_job trained 285 steps; the newest checkpoint the coordinator holds is step 200's" \
  "$tmp/err" || fail "an older checkpoint than the job's end not said: $(cat "$tmp/err")"
# With every one damaged, DATA_LOSS names each it checked, newest first.
stored_all=("$tmp/artifacts/$ckpt_job"/ckpt-*.pt)
for stored in "${stored_all[@]}"; do
  printf 'X' | dd of="$stored" bs=1 seek=9 conv=notrunc status=none
done
expect 4 "id: job $ckpt_job has no intact stored checkpoint (${#stored_all[@]} checked): artifact $ckpt_job/ckpt-000000000285.pt: " -- \
  checkpoint "$ckpt_job" --output "$tmp/damaged-all.pt"
checks=$((checks + 1))
grep -qF "; artifact $ckpt_job/ckpt-000000000200.pt: " "$tmp/err" ||
  fail "the older damaged checkpoint is not named: $(cat "$tmp/err")"
rm -r "$tmp/artifacts/$ckpt_job"
expect 4 "id: job $ckpt_job has no intact stored checkpoint (1 checked): " -- \
  checkpoint "$ckpt_job" --output "$tmp/gone.pt"
# A bad id is named before any file is made for it (ID.pt would be a name too long here);
# an output whose directory is missing is refused, and an empty one.
pushd "$tmp" >/dev/null || exit 1
expect 1 "id: length must be in [1, 64] characters" -- checkpoint "$(printf 'a%.0s' {1..300})"
checks=$((checks + 1))
[[ -z $(compgen -G "aaaa*") ]] || fail "a refused id left a file: $(compgen -G "aaaa*")"
popd >/dev/null || exit 1
expect 1 "$tmp/missing/x.pt: no directory $tmp/missing (nothing was downloaded; make it first)" -- \
  checkpoint "$job" --output "$tmp/missing/x.pt"
expect 2 "must not be empty" -- checkpoint "$job" --output ""
expect 0 '"state":"JOB_STATE_SUCCEEDED"' -- get "$job" --format json
# Fields at zero are printed too (a script reading .attempts or .jobs[] finds them), and an
# empty list is [] (jq '.jobs[]' failed on {}).
expect 0 '"priority":0' -- get "$job" --format json
# A job's record given back as a spec is said to be one (probe DH).
cp "$tmp/out" "$tmp/job-record.json"
expect 1 'the file holds a whole Job, as polyctl get --format json prints it: its "spec" is the JobSpec to give' \
  -- submit "$tmp/job-record.json" --dry-run
expect 0 '"jobs":[]' -- list --state paused --format json
expect 0 '"jobs":[]' -- list --state PAUSED --format JSON  # words in any case, --state as --format
expect 0 "cli-one" -- list --label team=cli
expect 0 "kind,step,epoch,epoch_progress,elapsed_seconds,accuracy" -- metrics "$job"
checks=$((checks + 1))
[[ $(grep -c '^eval,' "$tmp/out") -eq 5 ]] || fail "metrics csv: expected 5 eval rows"
# Every CSV value reads back as exactly the stored double (the JSON form's).
cp "$tmp/out" "$tmp/metrics.csv"
expect 0 '"points"' -- metrics "$job" --format json
checks=$((checks + 1))
/usr/bin/python3 - "$tmp/metrics.csv" "$tmp/out" <<'PY' || fail "metrics csv: values not exact"
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
points = json.load(open(sys.argv[2]))["points"]
assert len(rows) == len(points), (len(rows), len(points))
for row, point in zip(rows, points):
    for key, value in point["values"].items():
        assert float(row[key]) == value, (key, row[key], value)
    assert float(row["elapsed_seconds"]) == point.get("elapsedSeconds", point.get("elapsed_seconds", 0.0))
PY
# --max-points thins the history, keeping the newest point (the full CSV's last row).
expect 0 "kind,step" -- metrics "$job" --max-points 3
checks=$((checks + 1))
/usr/bin/python3 - "$tmp/metrics.csv" "$tmp/out" <<'PY' || fail "metrics --max-points 3: $(cat "$tmp/out")"
import csv, sys
full, thin = (list(csv.DictReader(open(path))) for path in sys.argv[1:])
assert len(thin) == 3 and len(full) > 3, (len(thin), len(full))
assert {k: v for k, v in thin[-1].items() if v} == {k: v for k, v in full[-1].items() if v}, thin
PY
expect 2 "--max-points: must be a whole number in [0, 10000000]" -- metrics "$job" --max-points -1

# A sweep, then compare; the statistics are recomputed here from the per-job rows.
expect 0 "sweep-" -- sweep "$spec" --loss 'cross_entropy {}' --loss-grid 'poly1.epsilon=1,2' \
  --seeds 3 --wait
sweep=$(head -1 "$tmp/out")
expect 0 "p: Welch's t-test vs ce" -- compare --sweep "$sweep" --per-job
expect 0 '"baseline_loss":"ce"' -- compare --sweep "$sweep" --format json
checks=$((checks + 1))
python3 - "$tmp/out" <<'PY' || fail "compare statistics differ from an independent computation"
import json, math, statistics, sys
d = json.load(open(sys.argv[1]))
by_loss = {}
for job in d["jobs"]:
    by_loss.setdefault(job["loss_name"], []).append(job["final_value"])
assert [r["loss_name"] for r in d["losses"]] == ["ce", "poly1(e=1)", "poly1(e=2)"]
for row in d["losses"]:
    v = by_loss[row["loss_name"]]
    assert row["runs"] == 3 == len(v)
    assert abs(row["mean"] - statistics.mean(v)) < 1e-12
    assert abs(row["std"] - statistics.stdev(v)) < 1e-12
    half = 4.302652729911275 * statistics.stdev(v) / math.sqrt(3)  # t(0.975, 2)
    assert abs(row["ci95_high"] - row["mean"] - half) < 1e-9
    if row["loss_name"] != "ce":
        p = row["p_value"]
        assert p is None or 0 <= p <= 1, p
PY
# A grid's jobs show their final value in polyctl get.
expect 0 "final eval_accuracy" -- get "$sweep"
checks=$((checks + 1))
[[ $(grep -cE '^job-[0-9a-f]+ .* succeeded .* 0\.[0-9]{4}$' "$tmp/out") -eq 9 ]] ||
  fail "get of a grid sweep: not 9 jobs with their final value: $(cat "$tmp/out")"
expect 0 '"baseline_loss":"ce"' -- compare --sweep "$sweep" --format json
cp "$tmp/out" "$tmp/compare.json"
expect 0 "loss,runs,mean,std" -- compare --sweep "$sweep" --format csv
cp "$tmp/out" "$tmp/compare.csv"
expect 0 "job_id,name,loss,state" -- compare --sweep "$sweep" --format csv --per-job
cp "$tmp/out" "$tmp/compare-jobs.csv"
# A loss name with a comma stays one CSV field.
expect 0 "job-" -- submit "$spec" --loss 'poly_n { epsilons: [1, 0.5] }' --name comma --watch
comma_job=$(head -1 "$tmp/out")
expect 0 '"poly_n(e=1,0.5)",1,' -- compare "$comma_job" --format csv
cp "$tmp/out" "$tmp/comma.csv"
expect 0 ',comma,"poly_n(e=1,0.5)",succeeded,' -- compare "$comma_job" --format csv --per-job
checks=$((checks + 1))
python3 - "$tmp/compare.json" "$tmp/compare.csv" "$tmp/compare-jobs.csv" "$tmp/comma.csv" <<'PY' ||
import csv, json, math, sys
d = json.load(open(sys.argv[1]))
rows = list(csv.DictReader(open(sys.argv[2])))
assert [r["loss"] for r in rows] == [r["loss_name"] for r in d["losses"]], rows
for row, want in zip(rows, d["losses"]):
    for key in ("mean", "std", "ci95_low", "ci95_high", "mean_best"):
        assert float(row[key]) == want[key], (key, row[key], want[key])  # exact, not 6 digits
jobs = list(csv.DictReader(open(sys.argv[3])))
assert [j["job_id"] for j in jobs] == [j["job_id"] for j in d["jobs"]], jobs
assert all(float(j["final_value"]) == w["final_value"] for j, w in zip(jobs, d["jobs"]))
comma = list(csv.reader(open(sys.argv[4])))
assert len(comma) == 2 and len(comma[1]) == len(comma[0]) == 10, comma
assert comma[1][3] == comma[1][4] == "", comma  # one run: no std and no interval, not a std of 0
PY
  fail "compare csv does not read back as the json"
expect 0 "synthetic-poly1-poly1-e-2-s5: succeeded" -- watch "$sweep"
# Each job's lines come under a line naming it (probe CE: an ended job's came before its name).
checks=$((checks + 1))
grep -qE "^== job-[0-9a-f]{12} synthetic-.+ \(job 1 of [0-9]+\)$" "$tmp/out" ||
  fail "watch of a sweep: no line naming its first job: $(head -3 "$tmp/out")"
# On a terminal, watch draws a progress line rewritten in place (util-linux's script gives it a
# pseudo-terminal).
"$polyctl" submit "$spec" --name tty-job >"$tmp/out"
tty_job=$(head -1 "$tmp/out")
checks=$((checks + 1))
script -qec "$polyctl watch $tty_job" /dev/null >"$tmp/tty" 2>&1 || fail "watch on a tty failed"
grep -q $'\r''tty-job \[' "$tmp/tty" && grep -q "100% step 285 epoch 4 of 0-4" "$tmp/tty" ||
  fail "no progress line on a terminal: $(tr '\r' '\n' <"$tmp/tty" | tail -3)"

# Plots: a valid SVG with one curve per run in each panel, coloured by loss; a PNG of the
# expected size.
expect 0 "baseline" -- compare --sweep "$sweep" --plot "$tmp/runs.svg"
expect 0 "baseline" -- compare --sweep "$sweep" --plot "$tmp/runs.png"
checks=$((checks + 1))
python3 - "$tmp/runs.svg" "$tmp/runs.png" <<'PY' || fail "compare plots malformed"
import struct, sys, xml.etree.ElementTree as ET
ns = {"s": "http://www.w3.org/2000/svg"}
root = ET.parse(sys.argv[1]).getroot()
curves = root.findall(".//s:polyline[@class='curve']", ns)
assert len(curves) == 2 * 9, len(curves)  # 9 runs x (eval, train-loss) panels
colors = {c.get("data-label"): set() for c in curves}
for c in curves:
    colors[c.get("data-label")].add(c.get("stroke"))
assert set(colors) == {"ce", "poly1(e=1)", "poly1(e=2)"}, colors
assert all(len(v) == 1 for v in colors.values()) and len({min(v) for v in colors.values()}) == 3
assert all(len(c.get("points").split()) >= 2 for c in curves)
assert len(root.findall(".//s:g[@class='legend']", ns)) == 3
png = open(sys.argv[2], "rb").read()
assert png[:8] == b"\x89PNG\r\n\x1a\n"
width, height = struct.unpack(">II", png[16:24])
assert (width, height) == (1120, 32 + 320 + 48 + 20 * 3 + 16), (width, height)
PY
expect 0 "poly1(e=2)" -- loss curve "$root/examples/losses/cross_entropy.txtpb" \
  "$root/examples/losses/poly1.txtpb" --plot "$tmp/curves.svg"
checks=$((checks + 1))
[[ $(grep -c 'class="curve"' "$tmp/curves.svg") -eq 4 ]] || fail "loss curve plot: expected 4 curves"
expect 0 "alpha_1     = 3" -- loss describe "$root/examples/losses/poly1.txtpb"
# Golden text for the stable, offline outputs.
checks=$((checks + 1))
"$polyctl" loss curve "$root/examples/losses/cross_entropy.txtpb" "$root/examples/losses/poly1.txtpb" \
  "$root/examples/losses/focal.txtpb" --pt 0.05,0.5,0.95 --format table >"$tmp/curve.txt"
diff -u "$root/client/testdata/loss_curve.golden" "$tmp/curve.txt" || fail "loss curve golden differs"
checks=$((checks + 1))
"$polyctl" loss describe "$root/examples/losses/poly1_focal.txtpb" >"$tmp/describe.txt"
diff -u "$root/client/testdata/loss_describe.golden" "$tmp/describe.txt" ||
  fail "loss describe golden differs"
expect 1 "--pt: each point must be a number in [0, 1], got '2'" -- \
  loss curve "$root/examples/losses/poly1.txtpb" --pt 2
expect 1 "--plot $tmp/x.gif: the file must end in .svg or .png" -- \
  loss curve "$root/examples/losses/poly1.txtpb" --plot "$tmp/x.gif"
# The file's name is a name, never a command; nothing beside it is written or removed.
mkdir "$tmp/plots"
cd "$tmp/plots"
odd="a'; touch pwned; echo \$(touch pwned2) 'b.png"
echo keep >"$odd.svg"
expect 0 "poly1(e=2)" -- loss curve "$root/examples/losses/poly1.txtpb" --plot "$odd"
checks=$((checks + 1))
[[ ! -e pwned && ! -e pwned2 ]] || fail "--plot ran its file name"
[[ $(head -c 4 "$odd" | tail -c 3) == PNG ]] || fail "--plot with quotes in its name wrote no PNG"
[[ $(cat "$odd.svg") == keep ]] || fail "--plot touched a file beside its own"
[[ $(ls | wc -l) -eq 2 ]] || fail "--plot left files behind: $(ls)"
cd - >/dev/null
expect 1 "--plot $tmp/no/such/dir/x.png: cannot write: No such file or directory" -- \
  loss curve "$root/examples/losses/poly1.txtpb" --plot "$tmp/no/such/dir/x.png"

# YAML specs (the JSON mapping written as YAML).
cat >"$tmp/job.yaml" <<'YAML'
name: yaml-job
model: {mlp: {hidden: [16]}}
dataset:
  synthetic: {classes: 3, features: 8, train_samples: 300, test_samples: 100, separation: 3, seed: 4}
loss: {poly1: {epsilon: 1}}
optimizer: {sgd: {momentum: 0.9}, learning_rate: 0.05}
epochs: 2
batch_size: 30
YAML
expect 0 "yaml-job: succeeded" -- submit "$tmp/job.yaml" --watch
printf 'name: bad\nbatch_size: [1\n' >"$tmp/bad.yaml"
expect 1 "bad.yaml:" -- submit "$tmp/bad.yaml"
printf 'name: bad\nbatch_size: lots\n' >"$tmp/bad_type.yaml"
expect 1 "bad_type.yaml:" -- submit "$tmp/bad_type.yaml"

# Errors: one line each, distinct exit codes.
sed 's/batch_size: 64/batch_size: 0/' "$spec" >"$tmp/bad.txtpb"
expect 1 "spec.batch_size: must be in [1, 65536], got 0" -- submit "$tmp/bad.txtpb"
expect 1 "--loss:1:18: Expected double, got: x" -- submit "$spec" --loss 'poly1 { epsilon: x }'
expect 1 "spec.loss.poly1.epsilon: must be >= -1, got -3" -- submit "$spec" --loss 'poly1 { epsilon: -3 }'
expect 1 "--loss-grid 'poly1.epsilon=-2'" -- sweep "$spec" --loss-grid 'poly1.epsilon=-2'
expect 1 "--label: expected KEY=VALUE" -- submit "$spec" --label nokey
expect 4 "id: no job job-000000000000" -- get job-000000000000
expect 5 "already ended (succeeded)" -- cancel "$job"
expect 5 "id: sweep $sweep is done: every job of it ended" -- cancel "$sweep"
expect 0 ": deleted (succeeded; " -- delete "$comma_job"
expect 4 "id: no job $comma_job" -- get "$comma_job"
# A sweep is cancelled whole: its gangs of two wait queued (one worker here) until then.
{ cat "$spec"; echo "replicas: 2"; } >"$tmp/gang.txtpb"
expect 0 "sweep-" -- sweep "$tmp/gang.txtpb" --loss 'cross_entropy {}' --loss-grid 'poly1.epsilon=1'
gang_sweep=$(head -1 "$tmp/out")
expect 0 "queued" -- list --sweep "$gang_sweep"
queued_job=$(awk 'NR == 2 {print $1}' "$tmp/out")
# A refusal does not keep the rest from going: the exit code is the first refusal's.
expect 4 "id: no job job-000000000000" -- delete job-000000000000 "$queued_job" "$tty_job"
checks=$((checks + 1))
grep -q "id: job $queued_job is queued; cancel it first" "$tmp/err" &&
  grep -q "^$tty_job .*: deleted (succeeded; " "$tmp/out" ||
  fail "delete of several: not each tried: $(cat "$tmp/out" "$tmp/err")"
expect 0 "$gang_sweep  grid  cancelled" -- cancel "$gang_sweep"
expect 0 "cancelled" -- list --sweep "$gang_sweep" --state cancelled
checks=$((checks + 1))
[[ $(grep -c "^job-.* cancelled " "$tmp/out") -eq 2 ]] ||
  fail "cancel of a sweep: not both jobs cancelled: $(cat "$tmp/out")"
# A page at a time: the table names the next page's token on stderr, --page-token takes it.
expect 0 "polyctl: more jobs: the next page (up to 1) with the same filters and --page-token " -- list --sweep "$gang_sweep" --limit 1
first_of_sweep=$(awk 'NR == 2 {print $1}' "$tmp/out")
token=$(sed -n 's/.*--page-token \([0-9a-f.]*\)$/\1/p' "$tmp/err")
expect 0 "job-" -- list --sweep "$gang_sweep" --limit 1 --page-token "$token"
checks=$((checks + 1))
second_of_sweep=$(awk 'NR == 2 {print $1}' "$tmp/out")
[[ -n "$second_of_sweep" && "$second_of_sweep" != "$first_of_sweep" ]] ||
  fail "--page-token: the same page again ($first_of_sweep, $second_of_sweep)"
grep -q "more jobs" "$tmp/err" && fail "the last page names a next one: $(cat "$tmp/err")"
# Sweeps are listed by state, newest first; an ended one is deleted with its jobs.
expect 0 "$gang_sweep cancelled grid " -- sweeps
checks=$((checks + 1))
grep -q "^$sweep done " "$tmp/out" || fail "sweeps: the done sweep is not listed: $(cat "$tmp/out")"
expect 0 "$sweep done " -- sweeps --state DONE  # any case, as list --state
checks=$((checks + 1))
! grep -q "$gang_sweep" "$tmp/out" || fail "sweeps --state done lists a cancelled one"
expect 0 '"sweeps":' -- sweeps --format json --limit 1
expect 1 "--state: unknown state 'finished'; one of running, done, cancelled" -- sweeps --state finished
expect 0 "$gang_sweep: deleted (cancelled; 2 jobs, " -- delete "$gang_sweep"
expect 4 "--sweep: no sweep $gang_sweep" -- list --sweep "$gang_sweep"
expect 4 "id: no sweep $gang_sweep" -- get "$gang_sweep"
expect 1 "page_token: a token of another ListJobs" -- list --limit 1 --page-token "$token"
expect 1 "page_token: not a token from a previous ListJobs" -- list --page-token zz
expect 4 "--sweep: no sweep sweep-000000000000" -- compare --sweep sweep-000000000000
expect 4 "--sweep: no sweep sweep-000000000000" -- list --sweep sweep-000000000000
expect 1 "--sweep: not a sweep id (\"sweep-\" and 12 lowercase hex digits" -- compare --sweep sweep-none
expect 1 "--sweep: not a sweep id (" -- list --sweep sweep-none
expect 2 "compare needs job ids, sweep ids or --sweep ID" -- compare
# Jobs and sweeps together, or sweeps by id among the ids: every job of each, once (probe DH:
# a variant could not be compared with the sweep it came from).
for args in "$job --sweep $sweep" "$sweep $job" "$job $sweep --sweep $sweep"; do
  # shellcheck disable=SC2086 # the ids are words
  expect 0 '"jobs"' -- compare $args --format json
  checks=$((checks + 1))
  /usr/bin/python3 -c 'import json, sys; jobs = json.load(open(sys.argv[1]))["jobs"]; assert len(jobs) == 10 and len({j["job_id"] for j in jobs}) == 10, len(jobs)' "$tmp/out" ||
    fail "compare $args: not the job and the sweep's 9: $(head -c 300 "$tmp/out")"
done
expect 4 "sweep-000000000000: no sweep sweep-000000000000" -- compare "$job" sweep-000000000000
expect 4 "--sweep: no sweep sweep-000000000000" -- compare "$job" --sweep sweep-000000000000
expect 4 "sweep-000000000000: no sweep sweep-000000000000" -- compare sweep-000000000000 --sweep "$sweep"
expect 1 "--plot $tmp/x.jpg: the file must end in .svg or .png" -- compare "$job" --plot "$tmp/x.jpg"
checks=$((checks + 1))
grep -q "eval_accuracy by loss" "$tmp/out" && fail "compare printed its table before refusing --plot"
expect 1 "--plot $tmp/nodir/x.svg: cannot write: No such file or directory" -- \
  compare "$job" --plot "$tmp/nodir/x.svg"
checks=$((checks + 1))
grep -q "eval_accuracy by loss" "$tmp/out" && fail "compare printed its table before refusing --plot"
expect 1 "--state: unknown state 'bogus'; one of queued, running, succeeded, failed, cancelled, paused, stopped" -- \
  list --state bogus
expect 2 "--seed: must be a whole number in [0, 18446744073709551615], got -1" -- submit "$spec" --seed -1
expect 2 "--draw-seed: must be a whole number in [0, 18446744073709551615], got -1" -- \
  search "$spec" --range poly1.epsilon=0:1 --draw-seed -1
# Halving runs a baseline only beside the re-runs of --top-k (probe CJ: taken, never run).
expect 2 "polyctl: --baseline runs with --top-k 1 or more only" -- \
  search "$spec" --range poly1.epsilon=0:1 --baseline 'focal { gamma: 2 }' --dry-run
expect 0 "poly1(e=" -- search "$spec" --range poly1.epsilon=0:1 --baseline 'focal { gamma: 2 }' \
  --top-k 1 --dry-run
# An empty value is refused, not taken as "not given".
expect 2 "--name: must not be empty (leave the option out instead)" -- submit "$spec" --name ''
expect 2 "--loss: must not be empty" -- submit "$spec" --loss ''
expect 2 "--request-id: must not be empty" -- submit "$spec" --request-id ''
expect 2 "--request-id: must not be empty" -- sweep "$spec" --loss 'poly1 {}' --request-id ''
expect 2 "--name: must not be empty" -- upload "$spec" --name ''
# "--x=" is an empty value too, never the next argument (which made a --dry-run a real submit).
expect 2 "--name: must not be empty" -- submit "$spec" --name= --dry-run
expect 2 "--request-id: must not be empty" -- sweep "$spec" --loss 'poly1 {}' --request-id= --dry-run
expect 2 "--dry-run: a flag takes no value" -- submit "$spec" --dry-run=
# An empty value that would be dropped without a word is refused (probe CJ).
expect 2 "--plot: must not be empty" -- compare --sweep some-sweep --plot=
expect 2 "--baseline: must not be empty" -- compare --sweep some-sweep --baseline=
# The coordinator refuses an empty --tokens (an unset variable would have served with no tokens)
# and a --metrics_port_file with /metrics off.
for flags in "--tokens=" "--tls_cert=" "--metrics_listen= --metrics_port_file=$tmp/mp"; do
  checks=$((checks + 1))
  # shellcheck disable=SC2086  # $flags is a list of flags
  timeout 20 "$build/server/polytrain-coordinator" --plaintext --listen 127.0.0.1:0 \
    --db "$tmp/refused.db" \
    $flags >"$tmp/out" 2>"$tmp/err"
  code=$?
  [[ $code -eq 2 ]] || fail "coordinator $flags: exit $code, expected 2: $(cat "$tmp/err")"
done
[[ -e "$tmp/refused.db" ]] && fail "a refused coordinator made its database"
# A missing file a flag names is exit 4 in every tool, as polyctl's own (probe CJ: 1 from the
# coordinator and the worker).
checks=$((checks + 1))
timeout 20 "$build/server/polytrain-coordinator" --plaintext --listen 127.0.0.1:0 \
  --db "$tmp/refused.db" --tokens "$tmp/no-such-tokens" >"$tmp/out" 2>"$tmp/err"
code=$?
[[ $code -eq 4 ]] && grep -q -- "--tokens $tmp/no-such-tokens: no such file" "$tmp/err" ||
  fail "coordinator, missing --tokens: exit $code, expected 4: $(cat "$tmp/err")"
[[ -e "$tmp/refused.db" ]] && fail "a coordinator refused for its --tokens made its database"
# A Unix socket has no port to write (probe CJ: --port_file got "1").
checks=$((checks + 1))
timeout 20 "$build/server/polytrain-coordinator" --plaintext --listen "unix:$tmp/c.sock" \
  --db "$tmp/refused.db" --port_file "$tmp/unix-port" >"$tmp/out" 2>"$tmp/err"
code=$?
[[ $code -eq 2 ]] && grep -q -- "--port_file: a Unix socket (--listen unix:$tmp/c.sock) has no port" "$tmp/err" ||
  fail "coordinator on a Unix socket with --port_file: exit $code, expected 2: $(cat "$tmp/err")"
[[ -e "$tmp/refused.db" || -e "$tmp/unix-port" ]] && fail "a refused coordinator left files"
# Served there, its log names the socket (it said "port 1"), and polyctl reaches it.
"$build/server/polytrain-coordinator" --plaintext --listen "unix:$tmp/c.sock" \
  --db "$tmp/unix.db" --artifacts "$tmp/unix-artifacts" --metrics_listen "" 2>"$tmp/unix.log" &
unix_pid=$!
for _ in $(seq 400); do grep -q "serving on" "$tmp/unix.log" && break; sleep 0.05; done
checks=$((checks + 1))
grep -qF "serving on unix:$tmp/c.sock (plaintext, no tokens)" "$tmp/unix.log" ||
  fail "a coordinator on a Unix socket: $(cat "$tmp/unix.log")"
expect 0 "accuracy" -- --coordinator "unix:$tmp/c.sock" list
kill "$unix_pid"
wait "$unix_pid"
expect 4 "--token_file $tmp/no-such-token: no such file" -- --token_file "$tmp/no-such-token" list
# A dry run of a request id already used names what a submit would return.
retried=$("$polyctl" submit "$spec" --request-id cli-dry-retry)
expect 0 "dry run: --request-id already names $retried: a submit would return it" -- \
  submit "$spec" --request-id cli-dry-retry --dry-run
expect 2 "polyctl: --seed: given 2 times; give it once" -- submit "$spec" --seed 1 --seed 2
{ cat "$spec"; echo "# bytes of their own"; } >"$tmp/my spec.txtpb"
expect 0 "polyctl: stored as 'my_spec.txtpb' (an artifact's name is [A-Za-z0-9._-])" -- \
  upload "$tmp/my spec.txtpb"
# Artifacts page by page: --limit and the token of the page before.
printf 'another artifact\n' >"$tmp/another.bin"
expect 0 "sha256:" -- upload "$tmp/another.bin"
expect 0 "--page-token " -- artifacts --limit 1 --format json
cp "$tmp/out" "$tmp/page1.json"
token=$(/usr/bin/python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["next_page_token"])' "$tmp/page1.json")
expect 0 '"artifacts"' -- artifacts --limit 1 --page-token "$token" --format json
checks=$((checks + 1))
/usr/bin/python3 - "$tmp/page1.json" "$tmp/out" <<'PY' || fail "artifact pages: $(cat "$tmp/page1.json" "$tmp/out")"
import json, sys
first, second = (json.load(open(p))["artifacts"] for p in sys.argv[1:3])
assert len(first) == 1 and len(second) == 1 and first[0]["id"] != second[0]["id"]
PY
expect 1 "page_token: " -- artifacts --page-token not-a-token
# A file whose bytes change between the hash and the upload (each read of this one differs) is
# named as such; nothing is stored.
expect 5 "/proc/sys/kernel/random/uuid changed while it was uploaded" -- upload /proc/sys/kernel/random/uuid
# Seeds are uint64: 2^64 - 1 is a seed, and a number beyond is refused, not clamped.
expect 2 "--draw-seed: must be a whole number in [0, 18446744073709551615], got 18446744073709551616" -- \
  search "$spec" --range poly1.epsilon=0:1 --draw-seed 18446744073709551616
expect 2 "--seed: must be a whole number in [0, 18446744073709551615], got 99999999999999999999999" -- \
  submit "$spec" --seed 99999999999999999999999
expect 0 "job-" -- submit "$spec" --seed 18446744073709551615 --epochs 1
seed_job=$(head -1 "$tmp/out")
expect 0 "\"seed\":\"18446744073709551615\"" -- get "$seed_job" --format json
expect 2 "--poll-seconds: must be a number from 0.05 to 60, got nan" -- \
  search "$spec" --range poly1.epsilon=0:1 --poll-seconds nan
expect 3 "cannot reach the coordinator at 127.0.0.1:1" -- --coordinator 127.0.0.1:1 list
expect 2 "unknown command 'frobnicate' (one of: submit, sweep, search" -- frobnicate
expect 2 "unknown command 'frobnicate' of 'loss' (one of: describe, curve)" -- loss frobnicate
expect 2 "polyctl: unknown command 'rm' of 'artifacts' (one of: delete)" -- artifacts rm sha256:00
expect 2 "a command is needed (one of: submit," --
expect 2 "polyctl: 'loss' needs a command (one of: describe, curve)" -- loss
expect 4 "$tmp/no-such.txtpb: no such file" -- submit "$tmp/no-such.txtpb"
ln -s "$tmp/no-such.pt" "$tmp/dangling.pt"
expect 4 "polyctl: FILE: $tmp/dangling.pt: no such file (a link to $tmp/no-such.pt, which does not exist)" -- upload "$tmp/dangling.pt"
expect 4 "--files: $tmp/no-such-dir: no such directory" -- submit "$spec" --files "$tmp/no-such-dir"
expect 2 "polyctl: FILE: $tmp: is a directory, not a file" -- submit "$tmp"
# A job past spec.time_limit_seconds is stopped by its worker and fails naming the field.
sed 's/^epochs: 5/epochs: 10000 time_limit_seconds: 1/' "$spec" >"$tmp/slow.txtpb"
expect 6 "ran past spec.time_limit_seconds (1 s) on attempt 1" -- submit "$tmp/slow.txtpb" --watch
# sweep --wait says why a job did not succeed, as watch does.
expect 6 ": failed — ran past spec.time_limit_seconds (1 s) on attempt 1" -- \
  sweep "$tmp/slow.txtpb" --loss 'cross_entropy {}' --wait
# --time-limit sets it from the command line.
sed 's/^epochs: 5/epochs: 10000/' "$spec" >"$tmp/long.txtpb"
expect 6 "ran past spec.time_limit_seconds (1 s) on attempt 1" -- \
  submit "$tmp/long.txtpb" --time-limit 1 --watch
slow_job=$(head -1 "$tmp/out")
expect 0 "time limit 1 s per attempt" -- get "$slow_job"
# get of a running job says where its newest metric point is.
running=$("$polyctl" submit "$tmp/long.txtpb" --time-limit 120)
for _ in $(seq 300); do
  "$polyctl" get "$running" >"$tmp/out" 2>&1
  grep -q "progress: step" "$tmp/out" && break
  sleep 0.1
done
checks=$((checks + 1))
grep -qE "^  progress: step [0-9]+, epoch [0-9]+ of 0-9999 \([0-9]+% of it\), [0-9]+ s into the attempt: (train|eval) loss [0-9.]+ accuracy [0-9.]+" "$tmp/out" ||
  fail "get of a running job: no progress line: $(cat "$tmp/out")"
expect 0 "cancel" -- cancel "$running"
# Jobs trained differently are compared all the same, and polyctl says how they differ.
expect 0 "eval_accuracy by loss" -- compare "$job" "$slow_job"
checks=$((checks + 1))
grep -q "^polyctl: note: jobs $job and $slow_job differ in more than their loss and seed (spec.epochs" "$tmp/err" ||
  fail "compare of differently trained jobs: no note: $(cat "$tmp/err")"
expect 2 "polyctl: --time-limit: must be a whole number in [0, 31536000], got 31536001" -- \
  submit "$spec" --time-limit 31536001
expect 2 "polyctl: --limit: must be a whole number in [1, 1000], got abc" -- list --limit abc
# Every refused command line says whose error it is, as every other error does.
expect 2 "polyctl: file is required" -- upload
expect 2 "polyctl: unknown option --bogus" -- list --bogus
# A mistyped option is named with the one it was likely meant to be, from the command given.
expect 2 "polyctl: unknown option --epoch (did you mean --epochs?)" -- submit "$spec" --epoch 2
expect 2 "polyctl: unknown option --lable (did you mean --label?)" -- list --lable=team=cli
expect 2 "--output: a file to write, not stdout ('-'): name a file" -- checkpoint 0123456789abcdef0123456789abcdef -o -
# An address that cannot be dialled is a usage error, named as what set it (probe CJ).
expect 2 "polyctl: --coordinator: expected HOST:PORT with a port in [1, 65535]" -- --coordinator 127.0.0.1:0 list
checks=$((checks + 1))
POLYTRAIN_COORDINATOR=127.0.0.1:0 "$polyctl" list >"$tmp/out" 2>"$tmp/err"
code=$?
[[ $code -eq 2 ]] && grep -q '^polyctl: \$POLYTRAIN_COORDINATOR: expected HOST:PORT' "$tmp/err" ||
  fail "a bad \$POLYTRAIN_COORDINATOR: exit $code, expected 2: $(cat "$tmp/err")"
# A command's option given before it is said so (probe CJ: "did you mean --limit?" for --limit).
expect 2 "polyctl: --limit is an option of 'list': give it after that command" -- --limit 5 list
expect 2 "polyctl: The following argument was not expected: extra" -- list extra
# Every subcommand's --help ends with the exit codes and where the coordinator comes from.
for command in submit sweep search list sweeps get cancel delete watch compare metrics checkpoint upload artifacts; do
  expect 0 "Exit codes: 0 success" -- "$command" --help
done
# A data file that is not on this machine is sent as the worker's path, with a note; the worker
# then says it is not in its data root.
mkdir -p "$tmp/specs"
sed 's/^  synthetic {.*/  tensors { path: "elsewhere.pt" }/' "$spec" >"$tmp/specs/elsewhere.txtpb"
expect 6 "elsewhere.pt is not a file under $tmp/specs: sent as a path under the worker's --data_root" -- \
  submit "$tmp/specs/elsewhere.txtpb" --watch
grep -qF "'elsewhere.pt' does not exist in the data root (the worker's --data_root)" "$tmp/out" ||
  fail "the worker's error does not say where it looked: $(tail -1 "$tmp/out")"
# An absolute path is the worker's too, even where this machine has the file: said, not uploaded.
touch "$tmp/specs/here.pt"
sed "s|^  synthetic {.*|  tensors { path: \"$tmp/specs/here.pt\" }|" "$spec" >"$tmp/specs/absolute.txtpb"
expect 0 "$tmp/specs/here.pt is absolute: sent as a path on the worker, where it must lie inside its --data_root" -- \
  submit "$tmp/specs/absolute.txtpb"
if grep -q "is stored as" "$tmp/err"; then fail "an absolute path was uploaded: $(cat "$tmp/err")"; fi
# A dry run says the same, and what it would upload, without uploading it.
expect 0 "elsewhere.pt is not a file under $tmp/specs: sent as a path" -- \
  submit "$tmp/specs/elsewhere.txtpb" --dry-run
printf 'not really a tensor file' >"$tmp/specs/local.pt"
sed 's/^  synthetic {.*/  tensors { path: "local.pt" }/' "$spec" >"$tmp/specs/local.txtpb"
expect 0 "polyctl: dry run: would upload $tmp/specs/local.pt (24 bytes)" -- \
  submit "$tmp/specs/local.txtpb" --dry-run
grep -qF "dry run: the coordinator would queue 1 job" "$tmp/out" || fail "no dry-run table: $(cat "$tmp/out")"
if "$polyctl" artifacts | grep -q local.pt; then fail "a dry run uploaded local.pt"; fi
expect 0 "polyctl: dry run: local.pt goes to the worker as a path under its --data_root (--no-upload)" -- \
  submit "$tmp/specs/local.txtpb" --dry-run --no-upload
# IDX files are never uploaded: one beside the spec is said to stay behind.
sed 's/^  synthetic {.*/  idx { train_images: "local.pt" train_labels: "a" test_images: "b" test_labels: "c" }/' \
  "$spec" >"$tmp/specs/idx.txtpb"
expect 0 "polyctl: note: spec.dataset.idx: local.pt is not uploaded (IDX files never are)" -- \
  submit "$tmp/specs/idx.txtpb" --dry-run
expect 2 "sweep needs --loss-grid or --loss" -- sweep "$spec"
# A grid over a sigmoid base keeps the base's loss options: sigmoid losses that ignore -1.
sed 's/^loss {.*/loss { poly1 { epsilon: 1 } activation: ACTIVATION_SIGMOID ignore_index: -1 }/' \
  "$spec" >"$tmp/sigmoid.txtpb"
expect 0 "sigmoid_focal(g=2),ig=-1" -- sweep "$tmp/sigmoid.txtpb" --loss-grid 'focal.gamma=0,2' --dry-run
expect 0 "sigmoid_poly1(e=" -- search "$tmp/sigmoid.txtpb" --range poly1.epsilon=0:2 --trials 2 --dry-run
expect 0 "Exit codes: 0 success" -- --help

# Cancel a queued job (the worker is gone) and watch it end as cancelled: exit 6.
kill "$worker_pid"; wait "$worker_pid" 2>/dev/null
# Gone for the coordinator too (it ends the session on its own thread) before the submit.
for _ in $(seq 400); do grep -q "worker cli-worker disconnected" "$tmp/coordinator.log" && break; sleep 0.05; done
"$polyctl" submit "$spec" --name never >"$tmp/out"
queued=$(head -1 "$tmp/out")
# A watch of it says what it waits for, then ends when it is cancelled.
"$polyctl" watch "$queued" >"$tmp/watch.out" 2>&1 &
watcher=$!
for _ in $(seq 400); do grep -q "waiting:" "$tmp/watch.out" && break; sleep 0.05; done
checks=$((checks + 1))
grep -qx "  waiting: no worker is connected" "$tmp/watch.out" ||
  fail "a watch of a queued job does not say what it waits for: $(cat "$tmp/watch.out")"
expect 0 "cancelled" -- cancel "$queued"
wait "$watcher"
watch_code=$?
checks=$((checks + 1))
[[ $watch_code -eq 6 ]] && grep -q "cancelled" "$tmp/watch.out" ||
  fail "the watch did not end cancelled (exit $watch_code): $(cat "$tmp/watch.out")"
expect 6 "cancelled" -- watch "$queued"

echo "polyctl_cli_test: $((checks - failures)) passed, $failures failed"
[[ $failures -eq 0 ]]
