#!/bin/bash
# The per-packet rows of BENCHMARKS.md for an earlier commit and for this
# tree, back to back, with this tree's harness and method (the earlier
# commit's own harness measured differently). Needs root and git.
#   scripts/bench_compare.sh [REV] [ROUNDS]    (default e2f240f 200000)
# Prints: path, before median, (least disturbed pair), after median, (pair).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
REV=${1:-e2f240f}
ROUNDS=${2:-200000}
OLD=$(mktemp -d /tmp/nosnat-compare.XXXXXX)
trap 'git -C "$ROOT" worktree remove --force "$OLD" 2>/dev/null; rm -rf "$OLD"' EXIT
git -C "$ROOT" worktree add -q --detach "$OLD" "$REV"
# the earlier tree gets this tree's harness: the bench program and the
# benchmark part of test_bpf.c (from struct bench_frame_v to fdinfo_memlock,
# and bench_main)
cp "$ROOT/tests/bpf/bench.bpf.c" "$OLD/tests/bpf/bench.bpf.c"
python3 - "$ROOT/tests/bpf/test_bpf.c" "$OLD/tests/bpf/test_bpf.c" <<'PY'
import sys
new = open(sys.argv[1]).read()
old = open(sys.argv[2]).read()
for a, b in [('struct bench_frame_v {', 'static long fdinfo_memlock'),
             ('static int bench_main(const char *outfile, uint32_t repeat)', 'int main(int argc, char **argv)')]:
    ni, oi = new.index(a), old.index(a)
    old = old[:oi] + new[ni:new.index(b, ni)] + old[old.index(b, oi):]
open(sys.argv[2], 'w').write(old)
PY
make -s -C "$OLD" test-bins
make -s -C "$ROOT" test-bins
NOSNAT_BENCH_QUICK=1 NOSNAT_BENCH_LOADS=3 "$OLD/build/test_bpf" --bench "$OLD/before.tsv" "$ROUNDS" >/dev/null
NOSNAT_BENCH_QUICK=1 NOSNAT_BENCH_LOADS=3 "$ROOT/build/test_bpf" --bench "$OLD/after.tsv" "$ROUNDS" >/dev/null
printf '| path | before, ns | after, ns |\n|---|---:|---:|\n'
join -t "$(printf '\t')" <(awk -F'\t' '$1 == "path" { printf "%s\t%.0f (%.0f)\n", $2, $3, $6 }' "$OLD/before.tsv" | sort) \
	<(awk -F'\t' '$1 == "path" { printf "%s\t%.0f (%.0f)\n", $2, $3, $6 }' "$OLD/after.tsv" | sort) |
	awk -F'\t' '{ printf "| %s | %s | %s |\n", $1, $2, $3 }'
