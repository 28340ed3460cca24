#!/usr/bin/env bash
# End-to-end test of the polyloss command: outputs, exit codes and one-line errors.
# Usage: polyloss_cli_test.sh PATH_TO_POLYLOSS REPO_ROOT
set -uo pipefail
polyloss=$1
root=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
checks=0

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
check() { checks=$((checks + 1)); if ! eval "$1"; then fail "$2"; fi; }

# expect_exit CODE PATTERN -- ARGS...: runs polyloss, checks the exit code, that stderr is
# exactly one line when the code is non-zero, and that stdout+stderr contains PATTERN.
expect_exit() {
  local code=$1 pattern=$2
  shift 3
  checks=$((checks + 1))
  "$polyloss" "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  if [[ $got -ne $code ]]; then
    fail "polyloss $* exited $got, expected $code: $(cat "$tmp/err")"
    return
  fi
  if [[ $code -eq 1 && $(wc -l <"$tmp/err") -ne 1 ]]; then
    fail "polyloss $* printed $(wc -l <"$tmp/err") error lines, expected 1: $(cat "$tmp/err")"
  fi
  if ! grep -qF -- "$pattern" "$tmp/out" "$tmp/err"; then
    fail "polyloss $*: output lacks '$pattern': $(cat "$tmp/out" "$tmp/err" | head -20)"
  fi
}

# json_check EXPR: evaluates a Python expression over d = the JSON on stdout of the last run.
json_check() {
  checks=$((checks + 1))
  python3 - "$tmp/out" "$1" <<'PY' || fail "JSON check failed: $1"
import json, math, sys
d = json.load(open(sys.argv[1]))
ok = eval(sys.argv[2])
if not ok:
    print("  value:", json.dumps(d)[:400])
sys.exit(0 if ok else 1)
PY
}

ex="$root/examples/losses"

# describe: every example, text and JSON.
for f in "$ex"/*; do expect_exit 0 "loss:" -- describe --spec "$f"; done
expect_exit 0 "Poly-1  [poly1(e=2)]" -- describe --spec "$ex/poly1.txtpb"
expect_exit 0 "alpha_1     = 3" -- describe --spec "$ex/poly1.txtpb"
expect_exit 0 '"family": "Poly-1"' -- describe --spec "$ex/poly1.txtpb" --format json
json_check 'd["alpha"][:3] == [3.0, 0.5, 1/3] and d["ce_tail"] and d["gamma"] == 0'
expect_exit 0 '"family": "Poly-N"' -- describe --spec "$ex/poly3_smoothed.json" --format json
json_check 'abs(d["alpha"][2] - (1/3 - 0.2)) < 1e-15'

# curve: L and dL/dpt at given points; infinities as strings.
expect_exit 0 '"pt"' -- curve --spec "$ex/cross_entropy.txtpb" --pt 0,0.5,1 --format json
json_check 'd[0]["loss"] == "Infinity" and abs(d[1]["loss"] - math.log(2)) < 1e-15 and d[1]["dloss_dpt"] == -2 and d[2]["loss"] == 0'
expect_exit 0 '"pt"' -- curve --spec "$ex/poly1.txtpb" --pt 0.05,0.5,0.95 --format json
json_check 'all(abs(p["loss"] - (-math.log(p["pt"]) + 2 * (1 - p["pt"]))) < 1e-14 for p in d)'
expect_exit 0 "dL/dpt" -- curve --spec "$ex/focal.txtpb" --pt 0.5

# eval: the training kernels on CSV inputs, checked against softmax math done here.
printf '2.0,0.5,-1.0\n0.1,0.2,0.3\n-3,4,0\n' >"$tmp/logits.csv"
printf '0\n2\n1\n' >"$tmp/targets.csv"
expect_exit 0 '"per_sample"' -- eval --spec "$ex/poly1.txtpb" --logits "$tmp/logits.csv" \
  --targets "$tmp/targets.csv" --format json
checks=$((checks + 1))
python3 - "$tmp/out" <<'PY' || fail "eval: poly1 loss or gradient differs from the softmax math"
import json, math, sys
d = json.load(open(sys.argv[1]))
rows, targets = [[2.0, 0.5, -1.0], [0.1, 0.2, 0.3], [-3, 4, 0]], [0, 2, 1]
for i, (z, t) in enumerate(zip(rows, targets)):
    p = [math.exp(v) / sum(math.exp(u) for u in z) for v in z]
    assert abs(d["per_sample"][i] - (-math.log(p[t]) + 2 * (1 - p[t]))) < 1e-12, i
    for k in range(3):
        # d/dz_k of the mean of -log pt + 2 (1 - pt): (1 + 2 pt)(p_k - y_k) / 3.
        want = (1 + 2 * p[t]) * (p[k] - (k == t)) / 3
        assert abs(d["dloss_dlogits"][i][k] - want) < 1e-12, (i, k)
assert abs(d["loss"] - sum(d["per_sample"]) / 3) < 1e-12
assert d["reduction"] == "mean"
PY
printf '1,0,0\n0,0,1\n0,1,1\n' >"$tmp/multi.csv"
expect_exit 0 '"sigmoid_poly1_focal' -- eval --spec "$ex/sigmoid_poly1_focal.txtpb" \
  --logits "$tmp/logits.csv" --targets "$tmp/multi.csv" --format json
json_check 'len(d["per_sample"]) == 3 and len(d["per_sample"][0]) == 3 and abs(d["loss"] - sum(map(sum, d["per_sample"])) / 9) < 1e-12'
expect_exit 0 "loss (mean):" -- eval --spec "$ex/focal.txtpb" --logits "$tmp/logits.csv" \
  --targets "$tmp/targets.csv"

# Errors: invalid input exits 1 with one line naming the field; usage errors exit 2.
printf 'poly_n { epsilons: [1, 0, 0, -0.5] }\n' >"$tmp/bad_eps.txtpb"
expect_exit 1 "bad_eps.txtpb: poly_n.epsilons[3]: must be >= -1/4, got -0.5" -- \
  describe --spec "$tmp/bad_eps.txtpb"
printf 'poly1 {\n  epsilon: two\n}\n' >"$tmp/syntax.txtpb"
expect_exit 1 "syntax.txtpb:2:12:" -- describe --spec "$tmp/syntax.txtpb"
printf '{"poly1": {"epsilon": 2}, "smoothing": 0.1}\n' >"$tmp/unknown.json"
expect_exit 1 "unknown.json: " -- describe --spec "$tmp/unknown.json"
printf 'label_smoothing: 0.1\n' >"$tmp/no_form.txtpb"
expect_exit 1 "form: no loss set" -- curve --spec "$tmp/no_form.txtpb" --pt 0.5
cp "$ex/poly1.txtpb" "$tmp/spec.ini"
expect_exit 1 "unknown file extension" -- describe --spec "$tmp/spec.ini"
# YAML (the JSON mapping written as YAML) is read like text format and JSON, as polyctl reads it.
printf 'poly1:\n  epsilon: 2\n' >"$tmp/spec.yaml"
expect_exit 0 "Poly-1  [poly1(e=2)]" -- describe --spec "$tmp/spec.yaml"
cp "$ex/poly1.txtpb" "$tmp/text.yaml"
expect_exit 1 "text.yaml: " -- describe --spec "$tmp/text.yaml"
expect_exit 1 "--pt: each point must be a number in [0, 1], got '1.5'" -- \
  curve --spec "$ex/poly1.txtpb" --pt 0.5,1.5
expect_exit 1 "--pt: each point must be a number in [0, 1], got 'nan'" -- \
  curve --spec "$ex/poly1.txtpb" --pt nan
# Points closer than two decimals get headers of their own, and a long name widens its column:
# every line of the table ends at the same place.
polyloss_out=$("$polyloss" curve --format table --pt 0.001,0.004,0.9999 "$ex/cross_entropy.txtpb" \
  "$ex/sigmoid_poly1_focal.txtpb")
check 'grep -qF "L(0.001) dL(0.001)  L(0.004) dL(0.004)  L(0.9999)  dL(0.9999)" <<<"$polyloss_out"' \
  "curve table headers: $polyloss_out"
# Five significant digits, not four decimals: focal's losses near pt = 1 are told apart.
check 'grep -qE "^focal\(g=2\) +1.0005e-09 " <<<"$("$polyloss" curve --format table --pt 0.999 \
  "$ex/focal.txtpb")"' "curve table: focal at pt 0.999 is not 1.0005e-09"
# The text rows show each pt as given (1 - 1e-12 is not 1.0000) and say what the curve leaves
# out of a loss with alpha.
curve_rows=$("$polyloss" curve --pt 1e-12,0.999999999999 "$ex/sigmoid_poly1_focal.txtpb")
check 'grep -qE "^ +1e-12 +28.631021 " <<<"$curve_rows" && grep -qE "^ +0.999999999999 " <<<"$curve_rows"' \
  "curve rows lose their pt: $curve_rows"
check 'grep -qF "(the curve of a hard target of weight 1: label_smoothing, alpha and class_weights are not in it" <<<"$curve_rows"' \
  "curve of a loss with alpha does not say what it leaves out: $curve_rows"
# describe lists each alpha_j exactly where 6 digits would round it.
printf 'poly_n { epsilons: [0.1234567891, 1e-9] }\n' >"$tmp/close.txtpb"
expect_exit 0 "alpha_2     = 0.500000001" -- describe --spec "$tmp/close.txtpb"
check '[[ $(awk "{ print length(\$0) }" <<<"$polyloss_out" | sort -u | wc -l) -eq 1 ]]' \
  "curve table rows out of line: $polyloss_out"
printf '1,2,x\n' >"$tmp/bad.csv"
expect_exit 1 "bad.csv:1: column 3: not a number: 'x'" -- eval --spec "$ex/poly1.txtpb" \
  --logits "$tmp/bad.csv" --targets "$tmp/targets.csv"
printf '0\n3\n1\n' >"$tmp/range.csv"
expect_exit 1 "range.csv:2: class index 3 is outside [0, 3) (the logits have 3 columns)" -- \
  eval --spec "$ex/poly1.txtpb" --logits "$tmp/logits.csv" --targets "$tmp/range.csv"
# The spec's ignore_index is the one index outside the classes that is taken.
{ cat "$ex/poly1.txtpb"; echo "ignore_index: 3"; } >"$tmp/ignore3.txtpb"
expect_exit 0 "sample 1: loss 0.0  grad [0.0,0.0,0.0]" -- eval --spec "$tmp/ignore3.txtpb" \
  --logits "$tmp/logits.csv" --targets "$tmp/range.csv"
# A confident sample's Poly-1 with epsilon -1 on the device kernels is -log pt - (1 - pt) with
# both 0 in float64: printed as 0, not -0.0.
printf 'poly1 { epsilon: -1 }\n' >"$tmp/cancelled.txtpb"
printf '40,0,0,0,0\n' >"$tmp/confident.csv"
printf '0\n' >"$tmp/target0.csv"
checks=$((checks + 1))
POLYTRAIN_LOSS_PATH=device "$polyloss" eval --spec "$tmp/cancelled.txtpb" \
  --logits "$tmp/confident.csv" --targets "$tmp/target0.csv" >"$tmp/out" 2>&1
grep -q "^sample 0: loss 0.0 " "$tmp/out" || fail "a zero loss printed as: $(cat "$tmp/out")"
# Errors name the file's own line, comment lines counted.
printf '# targets\n\n0\n3\n1\n' >"$tmp/commented.csv"
expect_exit 1 "commented.csv:4: class index 3 is outside [0, 3)" -- \
  eval --spec "$ex/poly1.txtpb" --logits "$tmp/logits.csv" --targets "$tmp/commented.csv"
# Sigmoid targets are checked here, by file, line and column, not inside the op.
printf '# one-hot\n1,0,0\n0,2,0\n0,0,1\n' >"$tmp/sigmoid_targets.csv"
expect_exit 1 "sigmoid_targets.csv:3: column 2: sigmoid targets must be in [0, 1], got 2" -- \
  eval --spec "$ex/sigmoid_poly1_focal.txtpb" --logits "$tmp/logits.csv" \
  --targets "$tmp/sigmoid_targets.csv"
printf '0\n-1\n1\n' >"$tmp/negative.csv"
expect_exit 1 "negative.csv:2: class index -1 is outside [0, 3) (the logits have 3 columns) and is not ignore_index 3" -- \
  eval --spec "$tmp/ignore3.txtpb" --logits "$tmp/logits.csv" --targets "$tmp/negative.csv"
printf '0\n1\n' >"$tmp/short.csv"
expect_exit 1 "expected 3 rows of 1 class index, got 2 x 1" -- eval --spec "$ex/poly1.txtpb" \
  --logits "$tmp/logits.csv" --targets "$tmp/short.csv"
printf '0.5\n1\n2\n' >"$tmp/frac.csv"
expect_exit 1 "class indices must be integers, got 0.5" -- eval --spec "$ex/poly1.txtpb" \
  --logits "$tmp/logits.csv" --targets "$tmp/frac.csv"
printf '1,inf,0\n' >"$tmp/inf.csv"
printf '0\n' >"$tmp/one.csv"
expect_exit 1 "logits must be finite" -- eval --spec "$ex/poly1.txtpb" \
  --logits "$tmp/inf.csv" --targets "$tmp/one.csv"
expect_exit 2 "polyloss: a LossSpec file (FILE or --spec FILE) is required" -- describe
expect_exit 2 "polyloss: --spec: given 2 times; give it once (FILE and --spec FILE are the same option)" -- \
  describe "$ex/poly1.txtpb" --spec "$ex/poly1.txtpb"
expect_exit 2 "polyloss: a LossSpec file (FILE or --spec FILE) is required" -- curve --pt 0.5
if "$polyloss" describe --help | grep -q REQUIRED; then
  fail "describe --help marks its file REQUIRED twice (as FILE and as --spec)"
fi
expect_exit 2 "unknown command 'frobnicate' (one of: describe, curve, eval, bench)" -- frobnicate
expect_exit 2 "--filter: no case compared with a baseline has a name containing 'nosuchcase'" -- \
  bench --filter nosuchcase --batch 8 --classes 4 --warmup 0 --rounds 1
expect_exit 2 "--batch x --classes: at most 268435456 logits" -- bench --batch 1048576 --classes 257
expect_exit 2 "--filter: must not be empty" -- bench --filter= --batch 8 --classes 4
expect_exit 2 "--plot: must not be empty" -- curve "$root/examples/losses/poly1.txtpb" --plot=
expect_exit 0 "fused poly1 e=2" -- bench --filter "poly1 e=2" --batch 8 --classes 4 --warmup 0 --rounds 1 --no-naive
expect_exit 0 "--batch INT:INT in [1, 1048576]=4096" -- bench --help
expect_exit 4 "polyloss: --spec: $tmp/does-not-exist.txtpb: no such file" -- describe --spec "$tmp/does-not-exist.txtpb"
# Given as FILE, the missing file is named by both of its option's names.
expect_exit 4 "polyloss: FILE (--spec): $tmp/does-not-exist.txtpb: no such file" -- \
  describe "$tmp/does-not-exist.txtpb"
expect_exit 4 "polyloss: FILES (--spec): $tmp/does-not-exist.txtpb: no such file" -- \
  curve "$ex/poly1.txtpb" "$tmp/does-not-exist.txtpb"
expect_exit 2 "polyloss: FILE (--spec): $tmp: is a directory, not a file" -- describe "$tmp"
expect_exit 2 "polyloss: --spec: $tmp: is a directory, not a file" -- describe --spec "$tmp"
expect_exit 2 "format" -- describe --spec "$ex/poly1.txtpb" --format yaml
expect_exit 0 "Exit codes: 0 success, 1 invalid input" -- --help
expect_exit 0 "--logits" -- eval --help

echo "polyloss_cli_test: $((checks - failures)) passed, $failures failed"
[[ $failures -eq 0 ]]
