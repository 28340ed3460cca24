#!/usr/bin/env bash
# The real Prometheus scraping a real coordinator and worker while a real job runs; then every
# PromQL expression of the Grafana dashboards (template variables filled) and every recording
# rule must return data through Prometheus's HTTP API. A dashboard panel that would show nothing
# fails this test. Also: promtool checks the configuration and rules and runs their unit tests.
# Usage: monitoring_test.sh BUILD_DIR REPO_ROOT
set -uo pipefail
build=$1
root=$2
tmp=$(mktemp -d)
pids=()
cleanup() {
  kill "${pids[@]}" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
failures=0
checks=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
check() { checks=$((checks + 1)); "$@" >"$tmp/check.log" 2>&1 || fail "$* : $(tail -5 "$tmp/check.log")"; }

check promtool check config "$root/deploy/prometheus/prometheus.yml"
check promtool check rules "$root/deploy/prometheus/rules.yml"
# promtool resolves rule_files relative to the test file; no subshell, so a failure counts.
check promtool test rules "$root/deploy/prometheus/rules_test.yml"

# Every process binds port 0 and says which port it got: no port picked here can be taken by
# another test in between.
wait_for_file() { for _ in $(seq 200); do [[ -s "$1" ]] && return 0; sleep 0.05; done; return 1; }

"$build/server/polytrain-coordinator" --plaintext --listen 127.0.0.1:0 --port_file "$tmp/port" \
  --db "$tmp/db" --artifacts "$tmp/artifacts" --metrics_listen 127.0.0.1:0 \
  --metrics_port_file "$tmp/coordinator_metrics" 2>"$tmp/coordinator.log" &
pids+=($!)
if ! wait_for_file "$tmp/port" || ! wait_for_file "$tmp/coordinator_metrics"; then
  fail "the coordinator did not start: $(cat "$tmp/coordinator.log")"
fi
POLYTRAIN_COORDINATOR="127.0.0.1:$(cat "$tmp/port")"
export POLYTRAIN_COORDINATOR
# Two workers of two slots each: a data-parallel job takes one slot of each, a short search and
# then the sweep the rest.
for w in 1 2; do
  "$build/worker/polytrain-worker" --coordinator "$POLYTRAIN_COORDINATOR" --name "mon-worker-$w" \
    --slots 2 --threads 1 --metrics_listen 127.0.0.1:0 --metrics_port_file "$tmp/worker$w.metrics" \
    2>"$tmp/worker$w.log" &
  pids+=($!)
  wait_for_file "$tmp/worker$w.metrics" || fail "worker $w did not start: $(cat "$tmp/worker$w.log")"
done
coordinator_metrics=$(cat "$tmp/coordinator_metrics")
# The coordinator's page is served as the worker's is: HEAD answered, other paths 404.
check /usr/bin/python3 - "$coordinator_metrics" <<'PY'
import sys, urllib.error, urllib.request
base = f"http://127.0.0.1:{sys.argv[1]}"
head = urllib.request.urlopen(urllib.request.Request(base + "/metrics", method="HEAD"), timeout=10)
assert head.status == 200 and head.read() == b"", head.status
try:
    urllib.request.urlopen(base + "/metricsXYZ", timeout=10)
    raise AssertionError("/metricsXYZ was served")
except urllib.error.HTTPError as error:
    assert error.code == 404, error.code
PY

# The shipped rules, with the shipped job names, scraped every second.
cp "$root/deploy/prometheus/rules.yml" "$tmp/rules.yml"
cat >"$tmp/prometheus.yml" <<YAML
global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [rules.yml]
scrape_configs:
  - job_name: polytrain-coordinator
    static_configs: [{targets: ["127.0.0.1:$coordinator_metrics"]}]
  - job_name: polytrain-workers
    static_configs: [{targets: ["127.0.0.1:$(cat "$tmp/worker1.metrics")", "127.0.0.1:$(cat "$tmp/worker2.metrics")"]}]
YAML
# Prometheus cannot report a port it picked: a free one is drawn, and drawn again if it was
# taken before Prometheus bound it.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
for attempt in 1 2 3; do
  prometheus_port=$(free_port)
  prometheus --config.file "$tmp/prometheus.yml" --storage.tsdb.path "$tmp/tsdb" \
    --web.listen-address "127.0.0.1:$prometheus_port" >"$tmp/prometheus.log" 2>&1 &
  prometheus_pid=$!
  for _ in $(seq 200); do
    python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
      "http://127.0.0.1:$prometheus_port/-/ready" 2>/dev/null && break
    kill -0 "$prometheus_pid" 2>/dev/null || break
    sleep 0.05
  done
  if kill -0 "$prometheus_pid" 2>/dev/null; then
    pids+=("$prometheus_pid")
    break
  fi
  [[ $attempt -eq 3 ]] && fail "prometheus did not start: $(tail -3 "$tmp/prometheus.log")"
done

# A job in a sweep, long enough for several scrapes and evaluations.
cat >"$tmp/job.txtpb" <<'SPEC'
name: "monitored"
model { mlp { hidden: [64] } }
dataset { synthetic { classes: 5 features: 32 train_samples: 4000 test_samples: 500 separation: 2 seed: 1 } }
loss { poly1 { epsilon: 1 } }
optimizer { sgd { momentum: 0.9 } learning_rate: 0.02 }
epochs: 60
batch_size: 32
log_every_steps: 20
SPEC
# First a data-parallel job (replicas: 2) that outlasts the test, for the ranks' series.
sed -e 's/^name: .*/name: "monitored-gang"/' -e 's/^epochs: .*/epochs: 10000/' "$tmp/job.txtpb" \
  >"$tmp/gang.txtpb"
echo "replicas: 2" >>"$tmp/gang.txtpb"
"$build/client/polyctl" submit "$tmp/gang.txtpb" >"$tmp/gang" || fail "gang submission failed"
# A short successive-halving search (two trials, rungs of 1 and 3 epochs), for its panels.
sed -e 's/^name: .*/name: "monitored-search"/' -e 's/^epochs: .*/epochs: 3/' \
  -e 's/train_samples: 4000/train_samples: 400/' "$tmp/job.txtpb" >"$tmp/search.txtpb"
"$build/client/polyctl" search "$tmp/search.txtpb" --loss-grid 'poly1.epsilon=0,1' \
  --min-resource 1 >"$tmp/search" || fail "search submission failed"
"$build/client/polyctl" sweep "$tmp/job.txtpb" --loss 'cross_entropy {}' --loss 'poly1 { epsilon: 1 }' \
  >"$tmp/sweep" || fail "sweep submission failed"

# Waits (polling Prometheus) until every dashboard expression and recording rule has data.
/usr/bin/python3 - "$root" "$prometheus_port" <<'PY' || fail "dashboards or rules without data"
import glob, json, re, sys, time, urllib.parse, urllib.request
root, port = sys.argv[1], sys.argv[2]
exprs = []
for path in sorted(glob.glob(f"{root}/deploy/grafana/dashboards/*.json")):
    dashboard = json.load(open(path))
    variables = [v["name"] for v in dashboard.get("templating", {}).get("list", [])]
    def fill(expr):
        for name in variables:
            expr = expr.replace("$" + name, ".*")  # the "All" value
        assert "$" not in expr, (path, expr)
        return expr
    for variable in dashboard.get("templating", {}).get("list", []):
        query = variable["query"]["query"]
        inner = re.match(r"label_values\((.*),\s*\w+\)$", query)
        exprs.append((path, "variable " + variable["name"], fill(inner.group(1) if inner else query)))
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            exprs.append((path, panel["title"], fill(target["expr"])))
for group in __import__("yaml").safe_load(open(f"{root}/deploy/prometheus/rules.yml"))["groups"]:
    for rule in group["rules"]:
        if "record" in rule:
            exprs.append(("rules.yml", rule["record"], rule["record"]))

def query(expr):
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            body = json.load(r)
    except Exception:
        return None
    return body["data"]["result"] if body.get("status") == "success" else None

deadline = time.time() + 90
missing = exprs
while missing and time.time() < deadline:
    missing = [e for e in missing if not query(e[2])]
    if missing:
        time.sleep(1)
for path, title, expr in missing:
    print(f"no data: {path.split('/')[-1]}: {title}: {expr}")
print(f"{len(exprs) - len(missing)} of {len(exprs)} dashboard and rule expressions returned data")
sys.exit(1 if missing else 0)
PY
checks=$((checks + 1))
if [[ $failures -gt 0 ]]; then
  echo "--- coordinator log"; tail -20 "$tmp/coordinator.log"
  echo "--- worker logs"; tail -20 "$tmp/worker1.log" "$tmp/worker2.log"
fi

echo "monitoring_test: $((checks - failures)) passed, $failures failed"
[[ $failures -eq 0 ]]
