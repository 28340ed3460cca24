#!/usr/bin/env bash
# Loss searches through the real service: a coordinator, two workers (one without a checkpoint
# directory of its own) and polyctl on loopback. Successive halving on synthetic data with the
# coordinator SIGKILLed and restarted mid-search; the promoted trials resume from their own
# checkpoints; the losers end "stopped by search"; the ranking recomputed here from the jobs; a
# random search through the Python client; and requests that are wrong, refused by field.
# Usage: search_service_test.sh BUILD_DIR REPO_ROOT
set -uo pipefail
build=$1
root=$2
polyctl=$build/client/polyctl
tmp=$(mktemp -d)
cleanup() {
  kill "${w1_pid:-}" "${w2_pid:-}" "${coordinator_pid:-}" 2>/dev/null
  kill -CONT "${w1_pid:-}" "${w2_pid:-}" 2>/dev/null  # stopped ones take the kill once going
  wait 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
# shellcheck source=../testing/testlib.sh
source "$root/testing/testlib.sh"

start_coordinator "$build"
export POLYTRAIN_COORDINATOR=$coordinator_address
"$build/worker/polytrain-worker" --coordinator "$coordinator_address" --name w1 \
  --checkpoint_dir "$tmp/w1-checkpoints" 2>"$tmp/w1.log" &
w1_pid=$!
"$build/worker/polytrain-worker" --coordinator "$coordinator_address" --name w2 2>"$tmp/w2.log" &
w2_pid=$!

# 9 epochs of synthetic data; rungs of 1, 3 and 9 epochs.
cat >"$tmp/base.txtpb" <<'SPEC'
name: "search"
model { mlp { hidden: [64] } }
dataset { synthetic { classes: 5 features: 20 train_samples: 6000 test_samples: 1000 separation: 3 seed: 7 } }
optimizer { sgd { momentum: 0.9 } learning_rate: 0.05 }
epochs: 9
batch_size: 64
seed: 3
SPEC

expect 0 "sweep-" -- "$polyctl" search "$tmp/base.txtpb" --range poly1.epsilon=-1:10 \
  --trials 9 --draw-seed 5 --min-resource 1 --eta 3 --top-k 2 --seeds 3 --request-id s1
sweep=$(head -1 "$tmp/out")

# Once a third of rung 0 has reported, the coordinator is killed and started again on the same
# database and port; the workers reconnect and the search goes on from the store.
for _ in $(seq 600); do
  "$polyctl" get "$sweep" --format json >"$tmp/sweep.json" 2>/dev/null
  /usr/bin/python3 -c "
import json, sys
d = json.load(open('$tmp/sweep.json'))
sys.exit(0 if d['rungs'][0].get('reported', 0) >= 3 else 1)" 2>/dev/null && break
  sleep 0.05
done
# A watch of the search and one of a trial, begun before the kill, outlive it: they watch again
# once the coordinator is back. The workers are stopped until then, so that the watched trial
# (one not ended yet) cannot end before the kill, however slow this machine is.
kill -STOP "$w1_pid" "$w2_pid"
"$polyctl" get "$sweep" --format json >"$tmp/sweep.json"
"$polyctl" watch "$sweep" >"$tmp/watch-sweep.out" 2>"$tmp/watch-sweep.err" &
watch_sweep_pid=$!
open_trial=$(/usr/bin/python3 -c "
import json
trials = json.load(open('$tmp/sweep.json'))['trials']
by_state = {s: [t['job_id'] for t in trials if t['state'] == s]
            for s in ('JOB_STATE_QUEUED', 'JOB_STATE_RUNNING', 'JOB_STATE_PAUSED')}
# A queued one first; a paused one last: the rung's last report, maybe on its way, may rank it out.
print(next(i for s in by_state for i in by_state[s]))")
"$polyctl" watch "$open_trial" >"$tmp/watch-trial.out" 2>"$tmp/watch-trial.err" &
watch_trial_pid=$!
for _ in $(seq 200); do [[ -s "$tmp/watch-trial.out" ]] && break; sleep 0.05; done
kill -9 "$coordinator_pid"
wait "$coordinator_pid" 2>/dev/null
rm -f "$tmp/port"
"$build/server/polytrain-coordinator" --plaintext --listen "$coordinator_address" \
  --port_file "$tmp/port" --db "$tmp/coordinator.db" --artifacts "$tmp/artifacts" \
  --metrics_listen 127.0.0.1:0 --metrics_port_file "$tmp/metrics_port" \
  2>"$tmp/coordinator2.log" &
coordinator_pid=$!
for _ in $(seq 400); do [[ -s "$tmp/port" ]] && break; sleep 0.05; done
kill -CONT "$w1_pid" "$w2_pid"
# A retry of the same request after the restart names the same sweep and adds no job.
expect 0 "$sweep" -- "$polyctl" search "$tmp/base.txtpb" --range poly1.epsilon=-1:10 \
  --trials 9 --draw-seed 5 --min-resource 1 --eta 3 --top-k 2 --seeds 3 --request-id s1
expect 0 "best: " -- "$polyctl" search "$tmp/base.txtpb" --range poly1.epsilon=-1:10 \
  --trials 9 --draw-seed 5 --min-resource 1 --eta 3 --top-k 2 --seeds 3 --request-id s1 \
  --watch --poll-seconds 0.2
expect 0 "successive halving  done" -- "$polyctl" get "$sweep"
# Every trial and re-run has ended, and w1 keeps no job's checkpoints, though it paused trials: a
# trial's go once it pauses with them stored, as it resumes from the coordinator's copy (probe
# CW: each search left its stopped trials' directories for --checkpoint_keep_hours).
checks=$((checks + 1))
grep -q "paused at its rung" "$tmp/w1.log" || fail "w1 paused no trial: $(tail -3 "$tmp/w1.log")"
left=$(find "$tmp/w1-checkpoints" -mindepth 1 -maxdepth 1 -type d | wc -l)
[[ $left -eq 0 ]] || fail "w1 kept $left job directories: $(ls "$tmp/w1-checkpoints")"
checks=$((checks + 2))
wait "$watch_sweep_pid" || fail "the search's watch exited $?: $(cat "$tmp/watch-sweep.err")"
grep -q "best: " "$tmp/watch-sweep.out" || fail "the search's watch: $(tail -3 "$tmp/watch-sweep.out")"
wait "$watch_trial_pid" || fail "the trial's watch exited $?: $(cat "$tmp/watch-trial.err")"
grep -q "went away" "$tmp/watch-trial.err" ||
  fail "the trial's watch did not see the coordinator go: $(cat "$tmp/watch-trial.err")"
# `polyctl watch` on a search shows its ranking and exits 0: its stopped trials are how a search
# ends, not jobs that failed.
expect 0 "best: " -- "$polyctl" watch "$sweep"
# So does a watch of one trial it stopped.
stopped_trial=$("$polyctl" list --label "sweep=$sweep" --state stopped --format json |
  /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["jobs"][0]["id"])')
expect 0 "stopped by search $sweep" -- "$polyctl" watch "$stopped_trial"
expect 0 "rung   epochs  reported" -- "$polyctl" get "$sweep"
"$polyctl" get "$sweep" --format json >"$tmp/sweep.json"
"$polyctl" list --label "sweep=$sweep" --format json >"$tmp/jobs.json" 2>"$tmp/err" ||
  fail "list: $(cat "$tmp/err")"
checks=$((checks + 1))
/usr/bin/python3 - "$tmp/sweep.json" "$tmp/jobs.json" <<'PY' || fail "the search's outcome is wrong"
import json, math, statistics, sys
sweep = json.load(open(sys.argv[1]))
listed = json.load(open(sys.argv[2]))
jobs = {j["id"]: j for j in (listed["jobs"] if isinstance(listed, dict) else listed)}
assert sweep["state"] == "SWEEP_STATE_DONE", sweep["state"]
trials = [t for t in sweep["trials"] if not t.get("rerun")]
reruns = [t for t in sweep["trials"] if t.get("rerun")]
assert len(trials) == 9, len(trials)
states = [t["state"] for t in trials]
assert all(s in ("JOB_STATE_SUCCEEDED", "JOB_STATE_STOPPED") for s in states), states
assert states.count("JOB_STATE_SUCCEEDED") >= 1, states
stopped = [jobs[t["job_id"]] for t in trials if t["state"] == "JOB_STATE_STOPPED"]
assert stopped and all("stopped by search " + sweep["id"] in j["error"] for j in stopped)
# Every promotion resumed the trial from the checkpoint of the rung before.
full = 9 * 6000 // 64 + (1 if 9 * 6000 % 64 else 0)
steps_per_epoch = -(-6000 // 64)
for t in trials:
    job = jobs[t["job_id"]]
    rung = job.get("search", {}).get("rung", 0)
    if rung > 0:
        resumed = int(job.get("resumed_from_step", 0))
        assert resumed in (steps_per_epoch, 3 * steps_per_epoch), (t, resumed)
# Rung counts add up: 9 reached rung 0, floor or ceil of a third go up.
rungs = sweep["rungs"]
assert [r.get("resource") for r in rungs] == ["1", "3", "9"], rungs
assert rungs[0]["reported"] == 9
assert 3 <= rungs[0]["promoted"] <= 3 + 1, rungs
assert rungs[2]["reported"] >= 1
# Compute: trials trained far less than 9 full runs.
trial_steps = sum(int(t.get("steps", 0)) for t in trials)
assert trial_steps < 9 * 9 * steps_per_epoch / 2, trial_steps
assert int(sweep["total_steps"]) == sum(int(t.get("steps", 0)) for t in sweep["trials"])
# Re-runs: 2 finalists x 2 more seeds (or 3 for one that stopped early) and 3 of the baseline.
assert 7 <= len(reruns) <= 9, len(reruns)
assert sum(1 for t in reruns if t["loss_name"] == "ce") == 3
# The ranking, recomputed from the succeeded jobs.
finals = {}
for t in sweep["trials"]:
    if t["state"] == "JOB_STATE_SUCCEEDED":
        finals.setdefault(t["loss_name"], []).append(jobs[t["job_id"]]["final_metrics"]["eval_accuracy"])
ranking = sweep["ranking"]
means = [r["mean"] for r in ranking]
assert means == sorted(means, reverse=True), means
for row in ranking:
    values = finals[row["loss_name"]]
    assert row["runs"] == len(values)
    assert abs(row["mean"] - statistics.mean(values)) < 1e-12
assert sweep["best_loss"] == ranking[0]["loss_name"]
assert sweep["baseline_loss"] == "ce"
PY
grep -q "starting from scratch\|starts from scratch" "$tmp/w1.log" "$tmp/w2.log" &&
  fail "a trial started from scratch: $(grep -h scratch "$tmp"/w*.log | head -2)"
expect 0 "p: Welch's t-test vs ce" -- "$polyctl" compare --sweep "$sweep"
# The restarted coordinator's log has a line for each start and end of an attempt.
grep -q "): attempt [0-9]* runs on w[12]" "$tmp/coordinator2.log" ||
  fail "no start lines in the coordinator's log: $(head -5 "$tmp/coordinator2.log")"
grep -q "): stopped: stopped by search $sweep" "$tmp/coordinator2.log" ||
  fail "no stop lines in the coordinator's log: $(grep -c . "$tmp/coordinator2.log") lines"
trial=$(/usr/bin/python3 -c "import json; print(json.load(open('$tmp/sweep.json'))['trials'][0]['job_id'])")
expect 0 "trial 0 of $sweep, rung " -- "$polyctl" get "$trial"

# The search's gauges on /metrics say what GetSweep says; a trial deleted once the search is done
# leaves them as the sweep now stands (probe CU: they kept counting it).
search_gauges() {  # SWEEP_JSON [DELETED_JOB]: exit 0 when /metrics agrees with it, less the job
  /usr/bin/python3 - "$(cat "$tmp/metrics_port")" "$sweep" "$@" <<'PY'
import json, re, sys, urllib.request
port, sweep_id, sweep_json = sys.argv[1:4]
deleted = sys.argv[4] if len(sys.argv) > 4 else None
sweep = json.load(open(sweep_json))
text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
def gauge(name, **labels):
    for line in text.splitlines():
        m = re.match(r'(\w+)\{(.*)\} (\S+)$', line)
        if m and m.group(1) == name:
            got = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
            if all(got.get(k) == v for k, v in labels.items()):
                return float(m.group(3))
    return None
gone = next((t for t in sweep["trials"] if t["job_id"] == deleted), None)
for rung in sweep["rungs"]:
    r = str(rung.get("rung", 0))
    want = rung.get("reported", 0) - (1 if gone and len(gone.get("rung_values", [])) > int(r) else 0)
    got = gauge("polytrain_search_rung_trials", sweep=sweep_id, rung=r, status="reported")
    if got != want:
        sys.exit(f"rung {r} reported: /metrics {got}, expected {want}")
steps = int(sweep["total_steps"]) - (int(gone.get("steps", 0)) if gone else 0)
got = gauge("polytrain_search_steps", sweep=sweep_id)
if got != steps:
    sys.exit(f"steps: /metrics {got}, expected {steps}")
PY
}
checks=$((checks + 2))
search_gauges "$tmp/sweep.json" 2>"$tmp/err" || fail "the search's gauges: $(cat "$tmp/err")"
expect 0 ": deleted (" -- "$polyctl" delete "$stopped_trial"
for _ in $(seq 200); do
  search_gauges "$tmp/sweep.json" "$stopped_trial" 2>"$tmp/err" && break
  sleep 0.05
done
search_gauges "$tmp/sweep.json" "$stopped_trial" 2>"$tmp/err" ||
  fail "the search's gauges after a trial's deletion: $(cat "$tmp/err")"

# A random search through the Python client; every draw within its range, each run to the end.
checks=$((checks + 1))
random_search=(/usr/bin/python3 - "$tmp/base.txtpb" "$tmp/random")
PYTHONPATH=$build/python "${random_search[@]}" <<'PY' || fail "python random search"
import math, sys, time
from polytrain.client import Client, FINAL_STATES
from google.protobuf import text_format
from polytrain.v1 import job_pb2
base = text_format.Parse(open(sys.argv[1]).read(), job_pb2.JobSpec())
base.epochs = 1
with Client() as client:
    response = client.search(base, {"strategy": "STRATEGY_RANDOM", "loss": {"focal": {}},
                                    "ranges": [{"field": "focal.gamma", "min": 0.5, "max": 4,
                                                "log_scale": True}],
                                    "trials": 3, "draw_seed": 2}, seeds=1)
    assert len(response.jobs) == 3
    gammas = [j.spec.loss.focal.gamma for j in response.jobs]
    assert all(0.5 <= g <= 4 for g in gammas) and len(set(gammas)) == 3, gammas
    for job in response.jobs:
        assert client.wait(job.id).state in FINAL_STATES
    sweep = client.get_sweep(response.sweep_id)
    assert sweep.state == sweep.SWEEP_STATE_DONE and not sweep.rungs and sweep.best_loss, sweep
    # No cross-entropy run: no baseline, so no p-values (not a test against its first draw).
    assert sweep.baseline_loss == "", sweep.baseline_loss
    assert all(math.isnan(r.p_value) and not r.baseline for r in sweep.ranking), sweep.ranking
    open(sys.argv[2], "w").write(response.sweep_id)
PY
expect 0 "no p-values: no run of the baseline loss" -- "$polyctl" get "$(cat "$tmp/random")"

# Wrong requests name their field; nothing is stored.
expect 1 "search.ranges[0].min: poly1.epsilon = -2 is not a valid loss" -- \
  "$polyctl" search "$tmp/base.txtpb" --range poly1.epsilon=-2:1
# A list's entry is drawn from the form alone: poly_n's epsilons are made long enough (zeros).
expect 1 "search.ranges[0].min: poly_n.epsilons[1] = -2 is not a valid loss" -- \
  "$polyctl" search "$tmp/base.txtpb" --range 'poly_n.epsilons[1]=-2:1'
expect 1 "search.ranges[0].field: 'focal.gamma' needs the search's loss to be focal" -- \
  "$polyctl" search "$tmp/base.txtpb" --range focal.gamma=0:1 --loss 'poly1 {}'
expect 1 "search.min_resource: must be in [1, 9], got 10" -- \
  "$polyctl" search "$tmp/base.txtpb" --range poly1.epsilon=0:1 --min-resource 10
expect 1 "--range poly1.epsilon: expected FIELD=MIN:MAX" -- \
  "$polyctl" search "$tmp/base.txtpb" --range poly1.epsilon
expect 2 "search needs --range FIELD=MIN:MAX (draws) or --loss-grid G" -- \
  "$polyctl" search "$tmp/base.txtpb"
expect 1 "--range foo.bar: 'foo' is not a loss form (one of: cross_entropy, focal, poly1" -- \
  "$polyctl" search "$tmp/base.txtpb" --range foo.bar=1:2
expect 1 "--range =0:1: expected FIELD=MIN:MAX" -- \
  "$polyctl" search "$tmp/base.txtpb" --range =0:1
# Options a search would not read are refused, not dropped.
expect 2 "--loss-grid excludes --trials" -- \
  "$polyctl" search "$tmp/base.txtpb" --loss-grid poly1.epsilon=1,2 --trials 5
expect 2 "--top-k is read by --strategy successive_halving only" -- \
  "$polyctl" search "$tmp/base.txtpb" --strategy random --range poly1.epsilon=0:1 --top-k 1
expect 2 "--min-resource: must be a whole number in [1, 9223372036854775807], got 99999999999999999999" -- \
  "$polyctl" search "$tmp/base.txtpb" --range poly1.epsilon=0:1 --min-resource 99999999999999999999
expect 1 "search.ranges: a random search draws its losses from ranges" -- \
  "$polyctl" search "$tmp/base.txtpb" --strategy random --loss-grid poly1.epsilon=1,2
expect 4 "id: no sweep sweep-000000000000" -- "$polyctl" get sweep-000000000000

# SIGTERM: the coordinator ends its workers' streams itself (they never end on their own) and
# says why, instead of waiting out its grace period for them.
checks=$((checks + 1))
kill -TERM "$coordinator_pid"
wait "$coordinator_pid"
code=$?
[[ $code -eq 0 ]] || fail "the coordinator exited $code on SIGTERM"
for _ in $(seq 200); do
  grep -q "the coordinator is shutting down" "$tmp/w1.log" && break
  sleep 0.05
done
grep -q "the coordinator is shutting down" "$tmp/w1.log" ||
  fail "w1 was not told the coordinator was shutting down: $(tail -3 "$tmp/w1.log")"
finish search_service_test
