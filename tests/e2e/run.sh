#!/bin/bash
# End-to-end tests in the namespace lab (scripts/lab.sh): real TCP through
# nosnat on three emulated nodes. This is the runner; the tests are shell
# functions t_* in one file per area (dataplane, daemon, kube, load,
# survive, pmtu, gue). The lab is built once, nosnat's config is reset before
# each test, and everything is torn down in a trap. Usage: run.sh [NAME-SUBSTRING]
#   E2E_SHELL=1  open a shell inside the lab when a test fails (debugging)
#   E2E_REPEAT=N run the chosen tests N times over (hunting a rare failure)
#   E2E_AREAS='dataplane v6 ...' only these areas' tests (default: all)
#   E2E_SKIP_AREAS='kube ...'     not these areas' tests
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../../scripts/lab.sh
source "$ROOT/scripts/lab.sh"
# shellcheck source=../kube/lib.sh
source "$ROOT/tests/kube/lib.sh"
# shellcheck source=lib.sh
source "$ROOT/tests/e2e/lib.sh"

# The lab gives every node uplink's bridge-side peer an XDP program, so the
# XDP_TX fast path works; t_veth_peer_without_xdp covers labs that do not.
# E2E_MODE says which way every node's uplink ingress runs:
#   xdp         XDP hands what it cannot finish to tc through metadata
#   xdp-nometa  XDP without metadata (the program a kernel that refuses
#               bpf_xdp_adjust_meta loads): tc walks what XDP passes on
#   tc          no XDP: tc ingress alone (--hook tc)
#   auto        (unset) XDP, with metadata where the kernel allows it
E2E_MODE=${E2E_MODE:-auto}
case $E2E_MODE in
xdp | auto) HOOK_ARGS=(--hook xdp) ;;
xdp-nometa) HOOK_ARGS=(--hook xdp --xdp-meta off) ;;
tc) HOOK_ARGS=(--hook tc) ;;
*) echo "e2e: E2E_MODE is xdp, xdp-nometa, tc or auto, not '$E2E_MODE'"; echo "e2e: 0 passed, 1 failed"; exit 2 ;;
esac
ATTACH_ARGS=(--encap-via xdp "${HOOK_ARGS[@]}")
# nosnat with the test-only fault points (NOSNAT_FAULT_*), for the tests
# that inject faults; build/nosnat has none
NOSNAT_FAULTS=${NOSNAT_FAULTS:-$ROOT/build/nosnat-faults}
PASSED=0
FAILED=0
LOG=$(mktemp /tmp/nosnat-e2e.XXXXXX)

cleanup() {
	lab_down
	rm -f "$LOG"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

stat_json() { nosnat_on "$1" stats --json; }
vip_packets() { stat_json "$1" | jq '[.vips[] | select(.vip=="'$VIP'" and .port==25)][0].packets'; }
# NODE HOOK ACTION REASON. HOOK xdp is the uplink's ingress walk: XDP's
# verdicts and, for what XDP passed on (or with no XDP), tc ingress's;
# REASON any sums every reason.
verdict_packets() {
	local hooks="(.hook==\"$2\")" why="(.reason==\"$4\")"
	[ "$2" = xdp ] && hooks='(.hook=="xdp" or .hook=="tc_ingress")'
	[ "$4" = any ] && why=true
	stat_json "$1" | jq "[.verdicts[] | select($hooks and .action==\"$3\" and $why) | .packets] | add // 0"
}

reset_config() {
	local n k
	for n in $NODES; do
		for k in $(nosnat_on "$n" list --json |
			jq -r '.vips[] | if (.vip | contains(":")) then "[\(.vip)]" else .vip end + ":\(.port)/\(.proto)"'); do
			nosnat_on "$n" vip del "$k" || return 1
		done
		nsx "$n" ip neigh flush dev eth0 2>/dev/null
		# a test finds its own connections in the pods' logs by client
		# port, and its daemons' lines in theirs: an earlier test's
		# connection on the same port, or line, must not count
		: >"$LAB_DIR/pod-$n.log"
		rm -f "$LAB_DIR/run-$n.log" "$LAB_DIR/krun-$n.log"
	done
	lab_announce a
	lab_announce6 a
}

# The mail VIP, backends given as NODE letters (pod of that node).
mail_vip() {
	local n
	nosnat_all vip add $VIP:25/tcp >/dev/null || return 1
	for n in "$@"; do
		nosnat_all backend add $VIP:25/tcp "${POD_IP[$n]}:2525" --node "${NODE_IP[$n]}" \
			>/dev/null || return 1
	done
}

# held_through_failover N NODE [VIP]: N connections held (echoes for 4 s)
# while the VIP ($VIP, or a v6 one) moves to NODE; a new connection after
# the move; each held one must finish. Output in $LAB_DIR/hold1..N.
held_through_failover() {
	local n=$1 to=$2 vip=${3:-$VIP} pids=() i rc=0
	for ((i = 1; i <= n; i++)); do
		nsx client timeout 20 "$NSN_TCP" hold "$vip" 25 4 >"$LAB_DIR/hold$i" 2>&1 &
		pids+=($!)
	done
	sleep 1.5
	# MetalLB moves the VIP (ARP, or NDP for a v6 one)
	if [[ $vip == *:* ]]; then lab_announce6 "$to"; else lab_announce "$to"; fi
	sleep 0.5
	who client "$vip" 25 >/dev/null || fail "new connection after failover failed" || rc=1
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || { fail "held connection $((i + 1)) broke: $(cat "$LAB_DIR/hold$((i + 1))")"; rc=1; }
	done
	return $rc
}

# The tests, one file per area (their helpers shared: every file is read).
AREAS="dataplane daemon kube load survive pmtu gue v6"
for area in $AREAS; do
	# shellcheck source=/dev/null
	source "$ROOT/tests/e2e/$area.sh"
done

# ---------------------------------------------------------------------------

# area_tests AREA...: the tests those areas' files define
area_tests() {
	local area
	for area in "$@"; do
		[ -f "$ROOT/tests/e2e/$area.sh" ] || { echo "e2e: no area '$area'" >&2; return 1; }
		grep -o '^t_[a-z0-9_]*' "$ROOT/tests/e2e/$area.sh"
	done
}

# E2E_AREAS: only the tests of these areas; E2E_SKIP_AREAS: not those
TESTS=$(declare -F | awk '{print $3}' | grep '^t_' | grep -- "${1:-}")
if [ -n "${E2E_AREAS:-}" ]; then
	# shellcheck disable=SC2086 # a list of area names
	in_areas=$(area_tests $E2E_AREAS) || { echo "e2e: 0 passed, 1 failed"; exit 2; }
	TESTS=$(grep -xF -- "$in_areas" <<<"$TESTS")
fi
if [ -n "${E2E_SKIP_AREAS:-}" ]; then
	# shellcheck disable=SC2086 # a list of area names
	skipped=$(area_tests $E2E_SKIP_AREAS) || { echo "e2e: 0 passed, 1 failed"; exit 2; }
	TESTS=$(grep -vxF -- "$skipped" <<<"$TESTS")
fi
REPEAT=${E2E_REPEAT:-1}
[[ $REPEAT =~ ^[1-9][0-9]*$ ]] || { echo "e2e: E2E_REPEAT is a count, not '$REPEAT'"; echo "e2e: 0 passed, 1 failed"; exit 2; }
[ -n "$TESTS" ] || { echo "e2e: no test matches '${1:-}'"; echo "e2e: 0 passed, 1 failed"; exit 1; }

echo "e2e: building the lab ($LAB), mode $E2E_MODE: ${ATTACH_ARGS[*]}"
if ! lab_up >"$LOG" 2>&1 || ! lab_nosnat_up "${ATTACH_ARGS[@]}" >>"$LOG" 2>&1; then
	cat "$LOG"
	echo "e2e: lab setup failed"
	echo "e2e: 0 passed, 1 failed"
	exit 1
fi
if [ "$E2E_MODE" = xdp ] && [ "$(stat_json a | jq .dataplane.xdp_metadata)" != true ]; then
	# never failed: a kernel may refuse the helper (attach says why)
	echo "e2e: mode xdp skipped: $(grep -o 'no metadata hand-off ([^)]*)' "$LOG" | head -1)"
	echo "e2e: 0 passed, 0 failed"
	exit 0
fi

for t in $(for ((r = 0; r < REPEAT; r++)); do echo "$TESTS"; done); do
	if ! reset_config >"$LOG" 2>&1; then
		echo "  FAIL  $t (config reset)"
		sed 's/^/    /' "$LOG"
		FAILED=$((FAILED + 1))
		continue
	fi
	if ( $t ) >"$LOG" 2>&1; then
		echo "  ok    $t: $(grep -v '^| ' "$LOG" | tail -1)"
		grep '^| ' "$LOG" | sed 's/^| /          /'
		PASSED=$((PASSED + 1))
	else
		echo "  FAIL  $t"
		sed 's/^/    /' "$LOG"
		FAILED=$((FAILED + 1))
		if [ "${E2E_SHELL:-0}" = 1 ] && [ -t 0 ]; then
			echo "  lab kept: nsx NODE CMD works here; exit to continue"
			bash --rcfile <(declare -f; declare -p LAB LAB_DIR NOSNAT NSN_TCP VIP CLIENT NODES NODE_IP POD_IP POD_NET 2>/dev/null)
		fi
	fi
done
echo "e2e: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
