#!/bin/bash
# Every test: userspace units, BPF programs through BPF_PROG_TEST_RUN, and the
# namespace lab end to end. Ends with one "N passed, N failed" line.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=$ROOT/build

if [ "$(id -u)" != 0 ]; then
	echo "tests need root (BPF, network namespaces)"
	echo "0 passed, 1 failed"
	exit 1
fi

total_p=0
total_f=0
suite() {
	local name=$1 out line p f
	shift
	echo "== $name"
	out=$(mktemp)
	"$@" 2>&1 | tee "$out"
	line=$(grep -E '^[a-z0-9]+: [0-9]+ passed, [0-9]+ failed$' "$out" | tail -1)
	if [ -z "$line" ]; then
		echo "$name: crashed before its summary line"
		total_f=$((total_f + 1))
	else
		p=$(sed -E 's/.*: ([0-9]+) passed.*/\1/' <<<"$line")
		f=$(sed -E 's/.* ([0-9]+) failed$/\1/' <<<"$line")
		total_p=$((total_p + p))
		total_f=$((total_f + f))
	fi
	rm -f "$out"
}

suite unit "$B/test_unit" "$ROOT/tests/fixtures"
suite bpf "$B/test_bpf"
suite lint "$ROOT/tests/lint/run.sh"
suite bench env NOSNAT_BENCH_QUICK=1 "$ROOT/scripts/bench.sh" 2000 --smoke
suite fuzz "$ROOT/tests/fuzz/run.sh"
# the daemon under ASan/UBSan in the Kubernetes fault test; the lab in each
# way a node's ingress can run (xdp is skipped, with the reason, where the
# kernel refuses XDP's metadata helper). The Kubernetes discovery tests
# (kube.sh: the daemon reading the API) run once, with tc, which every
# kernel runs: the hook they send through is the dataplane tests' to cover,
# in every mode
for mode in xdp xdp-nometa tc; do
	skip=kube
	[ "$mode" = tc ] && skip=
	E2E_MODE=$mode E2E_SKIP_AREAS=$skip NOSNAT_ASAN="$B/nosnat-asan" \
		suite "e2e ($mode)" "$ROOT/tests/e2e/run.sh"
done
# the DaemonSet's image, built and run as the manifest says
suite image make -C "$ROOT" -s test-image

echo "$total_p passed, $total_f failed"
[ "$total_f" = 0 ] && [ "$total_p" -gt 0 ]
