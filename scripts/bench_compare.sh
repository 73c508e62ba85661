#!/bin/bash
# The per-packet rows of BENCHMARKS.md for an earlier commit and for this
# tree, measured in turns (before, after, before, after, ...). Needs root and git.
#   scripts/bench_compare.sh [REV] [ROUNDS] [TURNS]    (default e2f240f 200000 2)
# By default the earlier tree gets this tree's harness (its own measured
# differently). NOSNAT_COMPARE_OWN=1 keeps each tree's own harness, for an
# earlier commit whose maps this harness does not know (the same method,
# as long as the earlier harness is). Prints: path, before median (least
# disturbed pair), after median (pair), each the median over the turns; then
# the rows against the minimal balancer (nosnat / minimal).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
REV=${1:-e2f240f}
ROUNDS=${2:-200000}
TURNS=${3:-2}
OLD=$(mktemp -d /tmp/nosnat-compare.XXXXXX)
trap 'git -C "$ROOT" worktree remove --force "$OLD" 2>/dev/null; rm -rf "$OLD"' EXIT
git -C "$ROOT" worktree add -q --detach "$OLD" "$REV"
if [ "${NOSNAT_COMPARE_OWN:-0}" != 1 ] && [ -d "$OLD/tests/bench" ]; then
	# the earlier tree gets this tree's harness: tests/bench as it is here
	cp "$ROOT"/tests/bench/bench.* "$ROOT"/tests/bench/katran.h "$OLD/tests/bench/"
elif [ "${NOSNAT_COMPARE_OWN:-0}" != 1 ]; then
	# a tree from before tests/bench: its test_bpf.c held the benchmark
	# (from struct bench_frame_v to main); this tree's bench.c goes there,
	# the programs and their header next to it
	cp "$ROOT/tests/bench/bench.bpf.c" "$ROOT/tests/bench/bench.h" "$ROOT/tests/bench/katran.h" \
		"$OLD/tests/bpf/"
	python3 - "$ROOT/tests/bench/bench.c" "$OLD/tests/bpf/test_bpf.c" <<'PY'
import sys
new = open(sys.argv[1]).read()
old = open(sys.argv[2]).read()
body = new[new.index('#include "bench.h"'):]
a = old.index('struct bench_frame_v {')
b = old.index('int main(int argc, char **argv)')
open(sys.argv[2], 'w').write(old[:a] + body + '\n' + old[b:])
PY
fi
make -s -C "$OLD" test-bins >/dev/null
make -s -C "$ROOT" test-bins >/dev/null
# nosnat's rows only: Katran (where built) is not part of the comparison
export NOSNAT_KATRAN_OBJ=
for t in $(seq "$TURNS"); do
	NOSNAT_BENCH_QUICK=1 NOSNAT_BENCH_LOADS=2 "$OLD/build/test_bpf" --bench "$OLD/before.$t.tsv" "$ROUNDS" >/dev/null
	NOSNAT_BENCH_QUICK=1 NOSNAT_BENCH_LOADS=2 "$ROOT/build/test_bpf" --bench "$OLD/after.$t.tsv" "$ROUNDS" >/dev/null
done
# median over the turns of each row's median (and of its least disturbed pair)
rows() { # KIND VALUE-COLUMN PAIR-COLUMN FILES...
	local kind=$1 v=$2 pc=$3
	shift 3
	awk -F'\t' -v k="$kind" -v v="$v" -v pc="$pc" '$1 == k { print $2 "\t" $v "\t" (pc ? $pc : "") }' "$@" |
		sort -t "$(printf '\t')" -k1,1 -k2,2g |
		awk -F'\t' '{ n[$1]++; a[$1, n[$1]] = $2; b[$1, n[$1]] = $3 }
			END { for (r in n) { m = int((n[r] + 1) / 2);
				if (b[r, m] != "") printf "%s\t%.0f (%.0f)\n", r, a[r, m], b[r, m];
				else printf "%s\t%.2f\n", r, a[r, m] } }' | sort
}
printf '| path | before, ns | after, ns |\n|---|---:|---:|\n'
join -t "$(printf '\t')" <(rows path 3 6 "$OLD"/before.*.tsv) <(rows path 3 6 "$OLD"/after.*.tsv) |
	awk -F'\t' '{ printf "| %s | %s | %s |\n", $1, $2, $3 }'
printf '\n| against the minimal balancer | before, nosnat / minimal | after |\n|---|---:|---:|\n'
join -t "$(printf '\t')" <(rows versus 5 0 "$OLD"/before.*.tsv) <(rows versus 5 0 "$OLD"/after.*.tsv) |
	awk -F'\t' '{ printf "| %s | %s | %s |\n", $1, $2, $3 }'
