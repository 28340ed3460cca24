#!/usr/bin/env bash
# scripts/reproduce.sh end to end with 2 seeds of 1 epoch into a scratch directory: the findings
# page is written with its tables and both plots, the identity runs are equal point for point, and
# Poly-1 at epsilon = -1 has no linear term.
# Usage: reproduce_test.sh BUILD_DIR REPO_ROOT
set -uo pipefail
build=$1
root=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=../testing/testlib.sh
source "$root/testing/testlib.sh"

expect 0 "wrote $tmp/findings/paper-findings.md" -- "$root/scripts/reproduce.sh" "$build" 2 1 "$tmp/findings"
checks=$((checks + 1))
/usr/bin/python3 - "$tmp/findings" <<'PY' || fail "the findings page is incomplete"
import re, sys, xml.etree.ElementTree as ET
out = sys.argv[1]
md = open(f"{out}/paper-findings.md").read()
assert "every value of every point equal" in md, "epsilon = 0 and cross-entropy differ"
assert re.search(r"alpha_1 = 0\b", md), "poly1 at -1 keeps its linear term"
rows = [l for l in md.splitlines() if l.startswith("| ") and not l.startswith("| N ")
        and not l.startswith("| epsilon ")]
assert len(rows) == 10 + 9, len(rows)  # drop: 9 N and ce; poly1: 8 epsilons and ce
assert all(" | 2 | " in r for r in rows), rows  # two runs of each
ns = {"s": "http://www.w3.org/2000/svg"}
for name, count in [("paper-drop-n.svg", 9), ("paper-poly1-epsilon.svg", 9)]:
    root = ET.parse(f"{out}/{name}").getroot()
    assert len(root.findall(".//s:polyline[@class='curve']", ns)) == 2, name
    assert len(root.findall(".//s:circle[@class='point']", ns)) == 2 * count, name
    assert len(root.findall(".//s:rect[@class='reference']", ns)) == 2, name
PY
finish reproduce_test
