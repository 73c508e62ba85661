#!/bin/bash
# End-to-end tests in the namespace lab (scripts/lab.sh): real TCP through
# nosnat on three emulated nodes. Each test is a shell function t_*; the lab
# is built once, nosnat's config is reset before each test, and everything
# is torn down in a trap. Usage: run.sh [NAME-SUBSTRING]
#   E2E_SHELL=1  open a shell inside the lab when a test fails (debugging)
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../../scripts/lab.sh
source "$ROOT/scripts/lab.sh"

PASSED=0
FAILED=0
LOG=$(mktemp /tmp/nosnat-e2e.XXXXXX)

cleanup() {
	lab_down
	rm -f "$LOG"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "    $*" >&2; return 1; }

# who NS HOST PORT -> the "ip:port" the server saw
who() { nsx "$1" timeout 10 "$NSN_TCP" who "$2" "$3"; }

stat_json() { nosnat_on "$1" stats --json; }
vip_packets() { stat_json "$1" | jq '[.vips[] | select(.vip=="'$VIP'" and .port==25)][0].packets'; }
verdict_packets() { # NODE HOOK ACTION REASON
	stat_json "$1" | jq "[.verdicts[] | select(.hook==\"$2\" and .action==\"$3\" and .reason==\"$4\") | .packets] | add // 0"
}

reset_config() {
	local n k
	for n in $NODES; do
		for k in $(nosnat_on "$n" list --json | jq -r '.vips[] | "\(.vip):\(.port)/\(.proto)"'); do
			nosnat_on "$n" vip del "$k" || return 1
		done
		nsx "$n" ip neigh flush dev eth0 2>/dev/null
	done
	lab_announce a
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

# ---------------------------------------------------------------------------

t_remote_pod_sees_client() {
	mail_vip b || return 1
	local seen
	seen=$(who client $VIP 25) || fail "no connection through the VIP" || return 1
	[[ $seen == "$CLIENT:"* ]] || fail "pod saw $seen, not the client $CLIENT" || return 1
	grep -q "^PEER $CLIENT:" "$LAB_DIR/pod-b.log" || fail "pod b log has no client" || return 1
	[ "$(verdict_packets a xdp encap none)" -gt 0 ] || fail "node a did not encapsulate" || return 1
	[ "$(verdict_packets b xdp decap none)" -gt 0 ] || fail "node b did not decapsulate" || return 1
	[ "$(verdict_packets b tc_egress reply_nat none)" -gt 0 ] || fail "no reply NAT on b" || return 1
	echo "pod b saw $seen"
}

t_local_pod_sees_client() {
	mail_vip a || return 1
	local seen
	seen=$(who client $VIP 25) || fail "no connection through the VIP" || return 1
	[[ $seen == "$CLIENT:"* ]] || fail "pod saw $seen" || return 1
	grep -q "^PEER $CLIENT:" "$LAB_DIR/pod-a.log" || fail "pod a log has no client" || return 1
	[ "$(verdict_packets a xdp local none)" -gt 0 ] || fail "no local delivery on a" || return 1
	echo "pod a saw $seen"
}

t_upload_20mib_encapsulated() {
	mail_vip c || return 1
	local out
	out=$(nsx client timeout 60 "$NSN_TCP" upload $VIP 25 20971520) || fail "upload failed: $out" || return 1
	[[ $out == "OK 20971520 $CLIENT:"* ]] || fail "unexpected answer: $out" || return 1
	echo "$out"
}

t_failover_keeps_connections() {
	mail_vip b c || return 1
	local pids=() i rc=0
	for i in 1 2 3 4 5 6; do
		nsx client timeout 20 "$NSN_TCP" hold $VIP 25 4 >"$LAB_DIR/hold$i" 2>&1 &
		pids+=($!)
	done
	sleep 1.5
	lab_announce c		# MetalLB moves the VIP to node c
	sleep 0.5
	who client $VIP 25 >/dev/null || fail "new connection after failover failed" || rc=1
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || { fail "held connection $((i + 1)) broke: $(cat "$LAB_DIR/hold$((i + 1))")"; rc=1; }
	done
	[ "$(vip_packets c)" -gt 0 ] || fail "node c never saw the VIP" || rc=1
	lab_announce a
	cat "$LAB_DIR"/hold*
	return $rc
}

t_pod_own_address_untouched() {
	mail_vip b || return 1
	who client $VIP 25 >/dev/null || fail "VIP connection failed" || return 1
	local seen
	# the same client straight to the pod: replies must keep the pod's address
	seen=$(who client "${POD_IP[b]}" 2525) || fail "direct connection to the pod failed" || return 1
	[[ $seen == "$CLIENT:"* ]] || fail "pod saw $seen" || return 1
	# another node reaching the pod by its address
	seen=$(who c "${POD_IP[b]}" 2525) || fail "node c cannot reach pod b" || return 1
	[[ $seen == "${NODE_IP[c]}:"* ]] || fail "pod saw $seen from node c" || return 1
	echo "direct connections intact"
}

t_bpftool_shows_fields() {
	mail_vip b || return 1
	local d="$LAB_DIR/bpffs/a" vips bes
	vips=$(bpftool -j map dump pinned "$d/nosnat_vips") || fail "bpftool dump failed" || return 1
	# 192.0.2.10 and port 25 as the little-endian integers bpftool prints
	echo "$vips" | jq -e '.[].formatted | select(.key.addr == 167903424 and .key.port == 6400 and .key.proto == 6) | .value | has("id") and has("active")' >/dev/null \
		|| fail "VIP not shown with field names: $vips" || return 1
	bes=$(bpftool -j map dump pinned "$d/nosnat_backends") || return 1
	echo "$bes" | jq -e '[.[].formatted | select(.value.flags == 1)] | length == 1 and (.[0].value | has("addr") and has("node") and has("port") and has("weight"))' >/dev/null \
		|| fail "backend not shown with field names" || return 1
	echo "$vips" | jq -c '.[0].formatted'
}

t_stats_count_traffic() {
	mail_vip b || return 1
	local before after
	before=$(vip_packets a)
	for _ in 1 2 3; do who client $VIP 25 >/dev/null || return 1; done
	after=$(vip_packets a)
	# each connection: SYN, ACK, data, FIN at least
	[ $((after - before)) -ge 12 ] || fail "VIP packets went $before -> $after" || return 1
	nosnat_on a stats | grep -q "192.0.2.10:25/tcp" || fail "stats table lacks the VIP" || return 1
	echo "VIP packets on a: $before -> $after"
}

t_neighbour_fallback() {
	mail_vip b || return 1
	nsx a ip neigh flush dev eth0
	local before seen
	before=$(verdict_packets a tc_ingress encap neigh_fallback)
	seen=$(who client $VIP 25) || fail "first connection after neighbour flush failed" || return 1
	[ "$(verdict_packets a tc_ingress encap neigh_fallback)" -gt "$before" ] \
		|| fail "no packet went through the tc neighbour fallback" || return 1
	echo "pod b saw $seen after an unresolved next hop"
}

t_reattach_keeps_flows() {
	mail_vip b c || return 1
	local pid flows_before flows_after
	nsx client timeout 20 "$NSN_TCP" hold $VIP 25 3 >"$LAB_DIR/hold" 2>&1 &
	pid=$!
	sleep 1
	flows_before=$(bpftool -j map dump pinned "$LAB_DIR/bpffs/a/nosnat_flows" | jq length)
	nosnat_on a attach eth0 >/dev/null 2>&1 || fail "re-attach on a failed" || return 1
	nosnat_on b attach eth0 >/dev/null 2>&1 || fail "re-attach on b failed" || return 1
	nosnat_on c attach eth0 >/dev/null 2>&1 || fail "re-attach on c failed" || return 1
	flows_after=$(bpftool -j map dump pinned "$LAB_DIR/bpffs/a/nosnat_flows" | jq length)
	wait $pid || fail "held connection broke across re-attach: $(cat "$LAB_DIR/hold")" || return 1
	[ "$flows_after" -ge "$flows_before" ] || fail "flows $flows_before -> $flows_after" || return 1
	nsx a ip -d link show eth0 | grep -q 'prog/xdp' || fail "no XDP program after re-attach" || return 1
	echo "flows kept ($flows_before -> $flows_after); $(cat "$LAB_DIR/hold")"
}

t_bad_input_changes_nothing() {
	mail_vip b || return 1
	local before after rc=0 out code
	before=$(nosnat_on a list --json)
	check_bad() { # expected-exit culprit-word cmd...
		local want=$1 word=$2
		shift 2
		out=$("$@" 2>&1 >/dev/null)
		code=$?
		[ "$code" = "$want" ] || { fail "exit $code (want $want): $*"; rc=1; return; }
		[ "$(printf '%s\n' "$out" | head -1 | grep -c -- "$word")" = 1 ] \
			|| { fail "error does not name '$word': $out"; rc=1; }
		[ "$want" = 2 ] || [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] \
			|| { fail "more than one line: $out"; rc=1; }
	}
	check_bad 1 "192.0.2.300" nosnat_on a vip add 192.0.2.300:25/tcp
	check_bad 1 "192.0.2.10:0/tcp" nosnat_on a vip add 192.0.2.10:0/tcp
	check_bad 1 "already exists" nosnat_on a vip add $VIP:25/tcp
	check_bad 1 "192.0.2.77:25/tcp" nosnat_on a vip del 192.0.2.77:25/tcp
	check_bad 1 "192.0.2.77:25/tcp" nosnat_on a backend add 192.0.2.77:25/tcp 198.18.2.9 --node "${NODE_IP[b]}"
	check_bad 1 "already exists" nosnat_on a backend add $VIP:25/tcp "${POD_IP[b]}:2525" --node "${NODE_IP[b]}"
	check_bad 1 "198.18.2.9:0" nosnat_on a backend add $VIP:25/tcp 198.18.2.9:0 --node "${NODE_IP[b]}"
	check_bad 1 "weight" nosnat_on a backend add $VIP:25/tcp 198.18.2.9 --node "${NODE_IP[b]}" --weight 1001
	check_bad 1 "198.51.100.99" nosnat_on a backend add $VIP:25/tcp 198.18.2.9 --node 198.51.100.99
	check_bad 1 "198.18.2.9" nosnat_on a backend del $VIP:25/tcp 198.18.2.9
	check_bad 1 "udp" nosnat_on a vip add $VIP:25/sctp
	check_bad 1 "nosnat-missing" nsx a "$NOSNAT" --pin-dir "$LAB_DIR/bpffs/nosnat-missing" list
	check_bad 1 "not on a bpffs" nsx a "$NOSNAT" --pin-dir /tmp/nosnat-e2e-not-bpffs attach eth0
	check_bad 1 "nsn-no-such0" nosnat_on a attach nsn-no-such0
	check_bad 1 "root" nsx a setpriv --reuid=65534 --regid=65534 --clear-groups "$NOSNAT" --pin-dir "$LAB_DIR/bpffs/a" vip add 192.0.2.11:25/tcp
	check_bad 2 "needs --node" nosnat_on a backend add $VIP:25/tcp 198.18.2.9
	check_bad 2 "frobnicate" nosnat_on a frobnicate
	after=$(nosnat_on a list --json)
	[ "$before" = "$after" ] || fail "state changed: $before -> $after" || rc=1
	who client $VIP 25 >/dev/null || fail "traffic broken after bad input" || rc=1
	return $rc
}

t_detach_removes_everything() {
	mail_vip b || return 1
	nosnat_on c detach eth0 >/dev/null 2>&1 || fail "detach failed" || return 1
	nsx c ip -d link show eth0 | grep -q 'prog/xdp' && { fail "XDP still attached"; return 1; }
	nsx c tc filter show dev eth0 egress | grep -q nosnat && { fail "tc egress still attached"; return 1; }
	[ -e "$LAB_DIR/bpffs/c" ] && { fail "pins left in $LAB_DIR/bpffs/c"; return 1; }
	# back as it was, for the tests after this one
	nosnat_on c attach eth0 >/dev/null 2>&1 || return 1
	nosnat_on c node add "${NODE_IP[a]}" 2>/dev/null && nosnat_on c node add "${NODE_IP[b]}" 2>/dev/null \
		|| return 1
	echo "programs and pins gone, re-attached"
}

# ---------------------------------------------------------------------------

TESTS=$(declare -F | awk '{print $3}' | grep '^t_' | grep -- "${1:-}")
[ -n "$TESTS" ] || { echo "e2e: no test matches '${1:-}'"; echo "e2e: 0 passed, 1 failed"; exit 1; }

echo "e2e: building the lab ($LAB)"
if ! lab_up >"$LOG" 2>&1 || ! lab_nosnat_up >>"$LOG" 2>&1; then
	cat "$LOG"
	echo "e2e: lab setup failed"
	echo "e2e: 0 passed, 1 failed"
	exit 1
fi

for t in $TESTS; do
	if ! reset_config >"$LOG" 2>&1; then
		echo "  FAIL  $t (config reset)"
		sed 's/^/    /' "$LOG"
		FAILED=$((FAILED + 1))
		continue
	fi
	if ( $t ) >"$LOG" 2>&1; then
		echo "  ok    $t: $(tail -1 "$LOG")"
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
