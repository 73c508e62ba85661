#!/bin/bash
# make bench: measure (BPF paths, end to end), then scripts/bench_render.sh
# writes BENCHMARKS.md from the measurements. Needs root.
#   scripts/bench.sh [REPEAT]      (default 200000 rounds per measurement)
# NOSNAT_BENCH_QUICK=1 scripts/bench.sh 1000 --smoke : the harness smoke check
# used by make test (no timing is asserted anywhere).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
REPEAT=${1:-200000}
# NOSNAT_BENCH_RENDER=1 scripts/bench.sh [REPEAT]: only render the last run's
# measurements (build/bench.tsv, build/bench_e2e.tsv) again.
OUT=$ROOT/build/bench.tsv
# the smoke check keeps out of the last run's measurements
[ "${2:-}" != --smoke ] || OUT=$ROOT/build/bench-smoke.tsv
E2E=$ROOT/build/bench_e2e.tsv
# Katran, built from its own sources where they are on this machine
# (scripts/katran_build.sh: KATRAN_SRC or KATRAN_GIT), is measured beside
# nosnat and the minimal balancer; without them the bench says so.
KATRAN=$ROOT/build/katran
if [ "${NOSNAT_BENCH_RENDER:-}" != 1 ]; then
	"$ROOT/scripts/katran_build.sh" "$KATRAN"
	if [ -f "$KATRAN/balancer.bpf.o" ]; then
		export NOSNAT_KATRAN_OBJ=$KATRAN/balancer.bpf.o
	else
		export NOSNAT_KATRAN_OBJ= NOSNAT_KATRAN_ABSENT="$(cat "$KATRAN/absent" 2>/dev/null)"
	fi
	"$ROOT/build/test_bpf" --bench "$OUT" "$REPEAT"
fi
if [ "${2:-}" = --smoke ]; then
	n=$(grep -c '^path' "$OUT")
	# every path ran and took time, and the minimal balancer ran in turns
	# with nosnat (and Katran, where it was built, its five rows in IPv4 and
	# in IPv6 and tc's walk one packet per test run; nosnat's XDP that way too where XDP
	# itself sends a new flow on); no cost is judged (a few thousand rounds
	# on a shared machine can put a cheap path below the harness noise)
	k=$(grep -c '^katran	' "$OUT" || true)
	k6=$(grep -c '^katran	v6: ' "$OUT" || true)
	kc=$(grep -c '^katran	new flow (SYN), IPIP, one packet per test run, tc, ' "$OUT" || true)
	k_ok=0
	if [ -z "${NOSNAT_KATRAN_OBJ:-}" ]; then
		[ "$k" != 0 ] || k_ok=1
	else
		# 7 in IPv4: the five, and new flows one packet per test run by
		# nosnat's XDP and by tc's walk; 6 where XDP passes new flows on
		# to tc. And the five again in IPv6 (ip6ip6).
		want_k=7
		! grep -q '^katran	[^v].*	xdp+tc$' "$OUT" || want_k=6
		[ "$kc" != 1 ] || [ "$k6" != 5 ] || [ "$((k - k6))" != "$want_k" ] || k_ok=1
	fi
	if [ "$n" -ge 9 ] && grep -q '^versus	established flow, IPIP	' "$OUT" && [ "$k_ok" = 1 ] &&
		! awk -F'\t' '$1 == "path" && !($4 > 0 && $5 > 0) { bad = 1 } END { exit !bad }' "$OUT"; then
		echo "bench: 1 passed, 0 failed"
	else
		echo "bench: 0 passed, 1 failed"
		exit 1
	fi
	exit 0
fi
# the end-to-end rows three times in turns, medians: one run of a row moved
# by up to half between runs of make bench here (a shared 2-core VM)
[ "${NOSNAT_BENCH_RENDER:-}" = 1 ] || BENCH_E2E_ROUNDS=${BENCH_E2E_ROUNDS:-3} "$ROOT/scripts/bench_e2e.sh" "$E2E"
# the daemon's memory behind a large cluster, paged and (for comparison) in one page
if [ "${NOSNAT_BENCH_RENDER:-}" != 1 ]; then
	"$ROOT/scripts/bench_kube_mem.sh" >>"$OUT"
	BENCH_KUBE_LIMIT=5000 "$ROOT/scripts/bench_kube_mem.sh" | sed 's/^kubemem/kubemem_onepage/' >>"$OUT"
fi
exec "$ROOT/scripts/bench_render.sh" "$REPEAT"
