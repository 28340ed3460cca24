#!/usr/bin/env bash
# The PolyLoss paper's findings, run again here on Fashion-MNIST through the real service, and
# written to docs/paper-findings.md with its plots (docs/paper-*.svg):
#   (a) Drop-N: accuracy and calibration (ECE) as the number of kept terms N grows, against
#       cross-entropy (the paper's Figure 2a, on ImageNet);
#   (b) Poly-1: accuracy and ECE across epsilon, SEEDS seeds each, with Welch's t-test of each
#       against epsilon = 0;
#   (c) the identities: epsilon = 0 is cross-entropy bit for bit (the same run, metric for
#       metric), and epsilon = -1 removes the first term (its alpha_1 is 0).
# Usage: scripts/reproduce.sh [BUILD_DIR] [SEEDS] [EPOCHS] [OUT_DIR]
#   defaults: build, 5 seeds, 6 epochs (examples/jobs/fashion_mnist_search_base.txtpb), docs.
#   About 5 minutes on 2 cores with the defaults.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
seeds=${2:-5}
epochs=${3:-6}
out=${4:-$root/docs}
mkdir -p "$out"
out=$(cd "$out" && pwd)
tmp=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
polyctl=$build/client/polyctl

"$build/server/polytrain-coordinator" --plaintext --listen 127.0.0.1:0 --port_file "$tmp/port" \
  --db "$tmp/db" --artifacts "$tmp/artifacts" --metrics_listen "" 2>"$tmp/coordinator.log" &
pids+=($!)
for _ in $(seq 400); do [[ -s "$tmp/port" ]] && break; sleep 0.05; done
[[ -s "$tmp/port" ]] || { echo "the coordinator did not start: $(cat "$tmp/coordinator.log")"; exit 1; }
POLYTRAIN_COORDINATOR="127.0.0.1:$(cat "$tmp/port")"
export POLYTRAIN_COORDINATOR
"$build/worker/polytrain-worker" --coordinator "$POLYTRAIN_COORDINATOR" --name reproduce \
  --slots 2 --threads 1 2>"$tmp/worker.log" &
pids+=($!)
sed -e "s/^epochs: .*/epochs: $epochs/" -e 's/^name: .*/name: "paper"/' \
  "$root/examples/jobs/fashion_mnist_search_base.txtpb" >"$tmp/base.txtpb"

# sweep NAME ARGS...: a sweep to the end, then its comparison as JSON in $tmp/NAME.json.
sweep() {
  local name=$1
  shift
  "$polyctl" sweep "$tmp/base.txtpb" --seeds "$seeds" --wait "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" ||
    { echo "sweep $name failed: $(tail -3 "$tmp/$name.err")"; exit 1; }
  "$polyctl" compare --sweep "$(tail -1 "$tmp/$name.out")" --baseline ce --format json \
    >"$tmp/$name.json"
  echo "$name: $(tail -1 "$tmp/$name.out")"
}
echo "reproduce: $seeds seeds, $epochs epochs per run, into $out"
sweep drop --loss 'cross_entropy {}' --loss-grid 'drop.n=1,2,3,5,10,20,50,100,500'
sweep poly1 --loss 'cross_entropy {}' --loss-grid 'poly1.epsilon=-1,-0.5,0.5,1,2,4,7,10'
# (c) The same seed with poly1 { epsilon: 0 } and with cross_entropy {}: two jobs, one run.
"$polyctl" submit "$tmp/base.txtpb" --loss 'poly1 { epsilon: 0 }' --name identity-poly1 --watch \
  >"$tmp/identity-a" 2>/dev/null
"$polyctl" submit "$tmp/base.txtpb" --loss 'cross_entropy {}' --name identity-ce --watch \
  >"$tmp/identity-b" 2>/dev/null
"$polyctl" metrics "$(head -1 "$tmp/identity-a")" --format json >"$tmp/identity-a.json"
"$polyctl" metrics "$(head -1 "$tmp/identity-b")" --format json >"$tmp/identity-b.json"
printf 'poly1 { epsilon: -1 }\n' >"$tmp/minus-one.txtpb"
"$polyctl" loss describe "$tmp/minus-one.txtpb" >"$tmp/minus-one.txt"

/usr/bin/python3 "$root/scripts/paper_findings.py" "$tmp" "$out" "$seeds" "$epochs"
echo "wrote $out/paper-findings.md"
