#!/bin/bash
# Bounded libFuzzer runs of every user-space parser, seeded from tests/.
# FUZZ_SECONDS (default 20) is split between the harnesses.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=$ROOT/build
SECS=${FUZZ_SECONDS:-20}
P=0
F=0
work=$(mktemp -d /tmp/nosnat-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT

fuzz() { # name seconds seed-dirs...
	local name=$1 secs=$2 log
	shift 2
	[ "$secs" -ge 1 ] || secs=1	# libFuzzer takes 0 as "no limit"
	mkdir -p "$work/$name"
	log="$work/$name.log"
	if "$B/fuzz_$name" -max_total_time="$secs" -timeout=10 -rss_limit_mb=1024 \
		-artifact_prefix="$work/" "$work/$name" "$@" >"$log" 2>&1; then
		echo "  ok    fuzz_$name: $(grep -o 'Done [0-9]* runs' "$log" | tail -1) in ${secs}s"
		P=$((P + 1))
	else
		echo "  FAIL  fuzz_$name (crash input kept in tests/fuzz/crashes/)"
		mkdir -p "$ROOT/tests/fuzz/crashes"
		cp "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$ROOT/tests/fuzz/crashes/" 2>/dev/null
		tail -30 "$log"
		F=$((F + 1))
	fi
}

fuzz config $((SECS / 2)) "$ROOT/tests/fixtures/config" "$ROOT/tests/fuzz/corpus/config"
fuzz kube $((SECS / 4)) "$ROOT/tests/fuzz/corpus/kube"
fuzz spec $((SECS - SECS / 2 - SECS / 4)) "$ROOT/tests/fuzz/corpus/spec"
echo "fuzz: $P passed, $F failed"
[ "$F" = 0 ]
