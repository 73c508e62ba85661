#!/bin/bash
# Build Katran's XDP balancer (katran/lib/bpf/balancer.bpf.c) from its public
# sources, for the benchmark to measure beside nosnat (tests/bench/katran.c
# opens the object at run time). Nothing of Katran is kept in this
# repository: the sources come from a copy of its repository on this machine,
#   git clone https://github.com/facebookincubator/katran
# named by one of
#   KATRAN_SRC=/path/to/katran     a checked-out tree
#   KATRAN_GIT=/path/to/katran.git a git directory (bare or not): HEAD is used
# (default: the mirror below, when it is there). No network is used.
#   scripts/katran_build.sh OUTDIR
# writes OUTDIR/balancer.bpf.o and OUTDIR/balancer.bpf.o.info (the build's
# conditions, copied into the bench's results), or, without sources,
# OUTDIR/absent (why) and exits 0: the bench then says so and measures the
# minimal balancer alone.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/build/katran}
CLANG=${CLANG:-clang}
DEFAULT_GIT=/work/.mirror/facebookincubator+katran/repo
# Katran's flood guard (MAX_CONN_RATE, new flows per second and CPU, 125000
# by default) stops LRU inserts: a benchmark runs far more new flows than
# that, and would measure the guarded path. Raised out of reach, the check
# itself still runs.
MAX_CONN_RATE=${KATRAN_MAX_CONN_RATE:-1000000000}

mkdir -p "$OUT"
rm -f "$OUT/balancer.bpf.o" "$OUT/balancer.bpf.o.info" "$OUT/absent"
absent() {
	echo "katran: $*; the bench measures the minimal balancer only" >&2
	printf '%s\n' "$*" >"$OUT/absent"
	exit 0
}

SRC=$OUT/src
rm -rf "$SRC"
mkdir -p "$SRC"
if [ -n "${KATRAN_SRC:-}" ]; then
	[ -f "$KATRAN_SRC/katran/lib/bpf/balancer.bpf.c" ] ||
		absent "KATRAN_SRC=$KATRAN_SRC has no katran/lib/bpf/balancer.bpf.c"
	cp -r "$KATRAN_SRC/katran/lib/bpf" "$KATRAN_SRC/katran/lib/linux_includes" "$SRC/" 2>/dev/null ||
		absent "cannot copy from KATRAN_SRC=$KATRAN_SRC"
	mkdir -p "$SRC/katran/lib"
	mv "$SRC/bpf" "$SRC/linux_includes" "$SRC/katran/lib/"
	COMMIT="unknown (tree $KATRAN_SRC)"
	if [ "$(git -C "$KATRAN_SRC" rev-parse --show-toplevel 2>/dev/null)" = "$(cd "$KATRAN_SRC" && pwd -P)" ]; then
		COMMIT=$(git -C "$KATRAN_SRC" rev-parse HEAD)
	fi
	DIRTY=$(git -C "$KATRAN_SRC" status --porcelain -- katran/lib/bpf katran/lib/linux_includes 2>/dev/null | head -1)
	[ -z "$DIRTY" ] || COMMIT="$COMMIT (modified)"
	FROM=$KATRAN_SRC
else
	GITDIR=${KATRAN_GIT:-}
	if [ -z "$GITDIR" ]; then
		[ -d "$DEFAULT_GIT" ] || absent "Katran's sources are not on this machine (set KATRAN_SRC or KATRAN_GIT to a clone of https://github.com/facebookincubator/katran)"
		GITDIR=$DEFAULT_GIT
	fi
	git --git-dir="$GITDIR" rev-parse --verify -q HEAD >/dev/null 2>&1 ||
		absent "KATRAN_GIT=$GITDIR is not a git directory with a HEAD"
	git --git-dir="$GITDIR" archive HEAD katran/lib/bpf katran/lib/linux_includes | tar -x -C "$SRC" ||
		absent "git archive of katran/lib/bpf from $GITDIR failed"
	COMMIT=$(git --git-dir="$GITDIR" rev-parse HEAD)
	FROM=$GITDIR
fi
[ -f "$SRC/katran/lib/bpf/balancer.bpf.c" ] || absent "no katran/lib/bpf/balancer.bpf.c in $FROM"

# Katran includes "katran/lib/..." from its tree's root and glibc's headers
# (string.h, stdbool.h): under -target bpf those ask for gnu/stubs-32.h,
# which an x86-64 system lacks; an empty one in a scratch include dir.
mkdir -p "$SRC/stub/gnu"
: >"$SRC/stub/gnu/stubs-32.h"
MULTIARCH=$(${CC:-cc} -print-multiarch 2>/dev/null || true)
# Katran's default features: IPIP encapsulation, the per-CPU LRU
# (lru_mapping), Maglev rings of 65537, no optional -D feature.
DEFS="-DMAX_CONN_RATE=$MAX_CONN_RATE"
FLAGS="-target bpf -O2 -g $DEFS -I$SRC -I$SRC/katran/lib/bpf -I$SRC/katran/lib/linux_includes -I$SRC/stub
	${MULTIARCH:+-I/usr/include/$MULTIARCH} -Wno-unused-value -Wno-pointer-sign
	-Wno-compare-distinct-pointer-types -Wno-unknown-warning-option"
# shellcheck disable=SC2086
if ! $CLANG $FLAGS -c "$SRC/katran/lib/bpf/balancer.bpf.c" -o "$OUT/balancer.bpf.o.tmp" 2>"$OUT/build.log"; then
	tail -5 "$OUT/build.log" >&2
	absent "Katran's balancer.bpf.c (commit $COMMIT) did not build with $($CLANG --version | head -1); see $OUT/build.log"
fi
mv "$OUT/balancer.bpf.o.tmp" "$OUT/balancer.bpf.o"
{
	printf 'commit\t%s\n' "$COMMIT"
	printf 'source\t%s\n' "$FROM"
	printf 'defines\t%s\n' "$DEFS"
	printf 'max_conn_rate\t%s\n' "$MAX_CONN_RATE"
	printf 'clang\t%s\n' "$($CLANG --version | head -1)"
} >"$OUT/balancer.bpf.o.info"
echo "katran: built $OUT/balancer.bpf.o from $FROM (commit $COMMIT)"
