#!/bin/bash
# make test-reliability: the long versions of the hostile-packet, fuzzing
# and change-under-load tests, the loader's suites under ASan and UBSan,
# and valgrind on the commands that read and write the maps. Bounded in
# time (about 8 minutes here); cleans up after itself.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=$ROOT/build
P=0
F=0
if [ "$(id -u)" != 0 ]; then
	echo "reliability: needs root"
	echo "reliability: 0 passed, 1 failed"
	exit 1
fi
step() { # NAME CMD...
	local name=$1 out
	shift
	echo "== $name"
	out=$(mktemp)
	if "$@" >"$out" 2>&1; then
		P=$((P + 1))
		grep -E 'info|passed|ok  |\| |^  ' "$out" | tail -12
	else
		F=$((F + 1))
		tail -40 "$out"
		echo "  FAIL  $name"
	fi
	rm -f "$out"
}

step "1,000,000 fuzzed packets through XDP and tc" env NOSNAT_FUZZ_PACKETS=1000000 "$B/test_bpf" "packet fuzzer"
step "SYN flood of 4x the flow table" env NOSNAT_FLOOD_SYNS=1048576 "$B/test_bpf" "SYN flood"
step "libFuzzer, every parser (3 minutes)" env FUZZ_SECONDS=180 "$ROOT/tests/fuzz/run.sh"
step "unit tests under ASan+UBSan" "$B/test_unit-san" "$ROOT/tests/fixtures"
step "BPF tests (loader code) under ASan+UBSan" "$B/test_bpf-san"
step "valgrind: list, stats, metrics, verify, apply" "$ROOT/tests/reliability/valgrind.sh"
step "changes under load (10 s each), concurrency, permissions, Kubernetes faults under ASan" \
	env LOAD_SECS=10 NOSNAT_ASAN="$B/nosnat-asan" "$ROOT/tests/e2e/run.sh" \
	't_changes_under_load\|t_concurrent_writers\|t_permissions\|t_kube_watch_survives_faults'
echo "reliability: $P passed, $F failed"
[ "$F" = 0 ]
