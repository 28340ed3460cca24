#!/usr/bin/env bash
# A data-parallel job across two "hosts": two network namespaces made here (ip netns, a bridge
# and veth pairs on a private /24), one worker in each, the coordinator in the root namespace
# behind TLS and tokens (plaintext is for loopback only). Each worker advertises its own address
# (the default: its address on the route to the coordinator), so the ranks' rendezvous and Gloo
# connections cross the bridge, not loopback. Needs CAP_NET_ADMIN (root); without it the test
# says so and is skipped (exit 77).
# Usage: data_parallel_netns_test.sh BUILD_DIR REPO_ROOT
set -uo pipefail
build=$1
root=$2
tmp=$(mktemp -d)
tag=$(( $$ % 10000 ))
ns_a=pt-a-$tag ns_b=pt-b-$tag bridge=pt-br-$tag
subnet=10.213.$(( $$ % 250 ))
cleanup() {
  kill "${pids[@]}" 2>/dev/null
  wait 2>/dev/null
  ip netns del "$ns_a" 2>/dev/null
  ip netns del "$ns_b" 2>/dev/null
  ip link del "$bridge" 2>/dev/null
  rm -rf "$tmp"
}
pids=()
trap cleanup EXIT
# shellcheck source=../testing/testlib.sh
source "$root/testing/testlib.sh"

if ! ip netns add "$ns_a" 2>"$tmp/netns.err"; then
  echo "SKIP: cannot make network namespaces here ($(cat "$tmp/netns.err")); needs CAP_NET_ADMIN"
  exit 77
fi
ip netns add "$ns_b"
ip link add "$bridge" type bridge
ip addr add "$subnet.1/24" dev "$bridge"
ip link set "$bridge" up
host=2
for ns in "$ns_a" "$ns_b"; do
  ip link add "v$ns" type veth peer name eth0 netns "$ns"
  ip link set "v$ns" master "$bridge" up
  ip netns exec "$ns" ip addr add "$subnet.$host/24" dev eth0
  ip netns exec "$ns" ip link set eth0 up
  ip netns exec "$ns" ip link set lo up
  host=$((host + 1))
done

"$root/deploy/pki/make-dev-pki.sh" "$tmp/pki" "IP:$subnet.1" >/dev/null 2>&1 ||
  { echo "make-dev-pki.sh failed"; exit 1; }
pki=$tmp/pki
"$build/server/polytrain-coordinator" --listen "$subnet.1:0" --port_file "$tmp/port" \
  --tls_cert "$pki/coordinator.pem" --tls_key "$pki/coordinator.key" --tokens "$pki/tokens" \
  --db "$tmp/db" --artifacts "$tmp/artifacts" --metrics_listen "" 2>"$tmp/coordinator.log" &
pids+=($!)
for _ in $(seq 200); do [[ -s "$tmp/port" ]] && break; sleep 0.05; done
[[ -s "$tmp/port" ]] || { echo "the coordinator did not start: $(cat "$tmp/coordinator.log")"; exit 1; }
coordinator=$subnet.1:$(cat "$tmp/port")

for ns in "$ns_a" "$ns_b"; do
  ip netns exec "$ns" "$build/worker/polytrain-worker" --coordinator "$coordinator" --name "$ns" \
    --tls_ca "$pki/ca.pem" --token_file "$pki/worker.token" --threads 1 \
    --replica_timeout_seconds 60 2>"$tmp/$ns.log" &
  pids+=($!)
done

cat >"$tmp/gang.txtpb" <<'SPEC'
name: "two-hosts"
model { mlp { hidden: [64] } }
dataset { synthetic { classes: 4 features: 16 train_samples: 2000 test_samples: 500 separation: 3 seed: 1 } }
loss { poly1 { epsilon: 1 } }
optimizer { sgd { momentum: 0.9 } learning_rate: 0.05 }
epochs: 3
batch_size: 64
seed: 2
replicas: 2
max_attempts: 1
SPEC
polyctl=("$build/client/polyctl" --coordinator "$coordinator" --tls_ca "$pki/ca.pem"
         --token_file "$pki/client.token")
expect 0 "succeeded" -- "${polyctl[@]}" submit "$tmp/gang.txtpb" --watch
job=$(head -1 "$tmp/out")
# Rank 0 and rank 1 ran in different namespaces, and rank 0's rendezvous was on the bridge.
expect 0 "rank 1 on pt-" -- "${polyctl[@]}" get "$job"
checks=$((checks + 1))
if ! { grep -q "rank 0 on $ns_a" "$tmp/out" && grep -q "rank 1 on $ns_b" "$tmp/out"; } &&
   ! { grep -q "rank 0 on $ns_b" "$tmp/out" && grep -q "rank 1 on $ns_a" "$tmp/out"; }; then
  fail "the ranks did not run one in each namespace: $(cat "$tmp/out")"
fi
checks=$((checks + 1))
grep -q "rendezvous at $subnet\.[23]:[0-9]*" "$tmp/$ns_a.log" "$tmp/$ns_b.log" ||
  fail "no rendezvous on the bridge in the workers' logs: $(tail -3 "$tmp/$ns_a.log" "$tmp/$ns_b.log")"

if [[ $failures -gt 0 ]]; then
  echo "--- coordinator log"; tail -10 "$tmp/coordinator.log"
  echo "--- worker logs"; tail -10 "$tmp/$ns_a.log" "$tmp/$ns_b.log"
fi
finish data_parallel_netns_test
