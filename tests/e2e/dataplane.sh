# shellcheck shell=bash
# Packets through the dataplane: local and remote pods, failover, checksums,
# bpftool, counters, neighbours, bad input, detach.
# Sourced by run.sh: tests are functions t_*, helpers from lib.sh.

t_remote_pod_sees_client() {
	mail_vip b || return 1
	local seen
	seen=$(pod_sees_client b) || return 1
	[ "$(verdict_packets a xdp encap none)" -gt 0 ] || fail "node a did not encapsulate" || return 1
	[ "$(verdict_packets b xdp decap none)" -gt 0 ] || fail "node b did not decapsulate" || return 1
	[ "$(verdict_packets b tc_egress reply_nat none)" -gt 0 ] || fail "no reply NAT on b" || return 1
	echo "pod b saw $seen"
}

t_local_pod_sees_client() {
	mail_vip a || return 1
	local seen
	seen=$(pod_sees_client a) || return 1
	[ "$(verdict_packets a xdp local none)" -gt 0 ] || fail "no local delivery on a" || return 1
	# the rewrite itself is the tc twin's (partial checksums over veth)
	[ "$(verdict_packets a tc_ingress local none)" -gt 0 ] || fail "the tc twin rewrote nothing on a" || return 1
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
	local rc=0
	held_through_failover 6 c || rc=1
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
	local d="$LAB_DIR/bpffs/a" vips bes abi
	vips=$(bpftool -j map dump pinned "$d/nosnat_vips") || fail "bpftool dump failed" || return 1
	# 192.0.2.10 and port 25 as the little-endian integers bpftool prints
	echo "$vips" | jq -e '.[].formatted | select(.key.addr == 167903424 and .key.port == 6400 and .key.proto == 6) | .value | has("id") and has("active")' >/dev/null \
		|| fail "VIP not shown with field names: $vips" || return 1
	bes=$(bpftool -j map dump pinned "$d/nosnat_backends") || return 1
	echo "$bes" | jq -e '[.[].formatted | select(.value.flags == 1)] | length == 1 and (.[0].value | has("addr") and has("node") and has("port") and has("weight"))' >/dev/null \
		|| fail "backend not shown with field names" || return 1
	# the pins carry the ABI version of the nosnat that attached them
	abi=$(awk '$2 == "NOSNAT_ABI_VERSION" { print $3 }' "$ROOT/include/nosnat_abi.h")
	bpftool -j map dump pinned "$d/nosnat_ctl" | jq -e ".[0].formatted.value.abi == $abi" >/dev/null \
		|| fail "nosnat_ctl: $(bpftool -j map dump pinned "$d/nosnat_ctl")" || return 1
	nosnat_on a metrics | grep -q "^nosnat_build_info{abi=\"$abi\",version=" || fail "build_info without abi" || return 1
	# the handshake table's sets, by field: each way's key, flow and check
	bpftool -j map dump pinned "$d/nosnat_flow_new" | jq -e '.[0].formatted.value | (.key | length == 4) and (.flow[0] | has("backend_id") and has("syn_ack")) and has("check")' >/dev/null \
		|| fail "nosnat_flow_new not shown with field names" || return 1
	bpftool -j map dump pinned "$d/nosnat_flow6_new" | jq -e '.[0].formatted.value | (.key | length == 4) and (.key[0].src | length == 16) and (.flow[0] | has("backend_id")) and has("check")' >/dev/null \
		|| fail "nosnat_flow6_new not shown with field names" || return 1
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

# A next hop nobody resolved yet: the kernel's neighbour code resolves it
# on the way out, and the connection's first SYN gets through (the client
# retransmits none, nothing is dropped as fib_failed).
t_neighbour_fallback() {
	mail_vip b || return 1
	nsx a ip neigh flush dev eth0
	local before seen retrans fib
	before=$(verdict_packets a xdp encap neigh_fallback)
	retrans=$(nsx client nstat -az TcpExtTCPSynRetrans | awk '/SynRetrans/ {print $2}')
	fib=$(verdict_packets a xdp drop fib_failed)
	seen=$(who client $VIP 25) && [[ $seen == "$CLIENT:"* ]] ||
		fail "first connection after neighbour flush failed: $seen" || return 1
	[ "$(verdict_packets a xdp encap neigh_fallback)" -gt "$before" ] \
		|| fail "no packet went through the tc neighbour fallback" || return 1
	[ "$(nsx client nstat -az TcpExtTCPSynRetrans | awk '/SynRetrans/ {print $2}')" = "$retrans" ] ||
		fail "the client retransmitted its SYN" || return 1
	[ "$(verdict_packets a xdp drop fib_failed)" = "$fib" ] || fail "dropped as fib_failed" || return 1
	echo "pod b saw $seen after an unresolved next hop, first SYN through"
}

# Switching hooks on a live node, xdp -> tc -> xdp on the ingress and the
# pod's node: the maps are shared, so a connection held across the switches
# (idle while they happen, the server speaking first after) keeps going,
# and the pod still sees the client.
t_hook_switch_keeps_connections() {
	mail_vip b || return 1
	local rc=0 seen other=(--hook tc)
	[ "$E2E_MODE" = tc ] && other=(--encap-via xdp --hook xdp)
	idle_start sw $VIP 25 4 3 || return 1
	push_next; round_ok sw 1 4 || rc=1
	for n in a b; do
		nosnat_on $n attach eth0 "${other[@]}" >/dev/null 2>&1 || fail "attach ${other[*]} on $n" || rc=1
	done
	push_next; round_ok sw 2 4 || rc=1
	seen=$(who client $VIP 25) && [[ $seen == "$CLIENT:"* ]] || fail "new connection: $seen" || rc=1
	for n in a b; do
		nosnat_on $n attach eth0 "${ATTACH_ARGS[@]}" >/dev/null 2>&1 || fail "attach back on $n" || rc=1
	done
	push_next; round_ok sw 3 4 || rc=1
	idle_stop sw
	[ "$(grep -c "^PEER $CLIENT:" "$LAB_DIR/pod-b.log")" -ge 5 ] || fail "pod b did not see the client" || rc=1
	[ $rc = 0 ] && echo "${ATTACH_ARGS[*]} -> ${other[*]} -> back on a and b: 4 idle connections (server speaks first) answered after each; a new one in between from $seen"
	return $rc
}

t_reattach_keeps_flows() {
	mail_vip b c || return 1
	local pid flows_before flows_after
	nsx client timeout 20 "$NSN_TCP" hold $VIP 25 3 >"$LAB_DIR/hold" 2>&1 &
	pid=$!
	sleep 1
	flows_before=$(bpftool -j map dump pinned "$LAB_DIR/bpffs/a/nosnat_flows" | jq length)
	nosnat_on a attach eth0 "${ATTACH_ARGS[@]}" >/dev/null 2>&1 || fail "re-attach on a failed" || return 1
	nosnat_on b attach eth0 "${ATTACH_ARGS[@]}" >/dev/null 2>&1 || fail "re-attach on b failed" || return 1
	nosnat_on c attach eth0 "${ATTACH_ARGS[@]}" >/dev/null 2>&1 || fail "re-attach on c failed" || return 1
	flows_after=$(bpftool -j map dump pinned "$LAB_DIR/bpffs/a/nosnat_flows" | jq length)
	wait $pid || fail "held connection broke across re-attach: $(cat "$LAB_DIR/hold")" || return 1
	[ "$flows_after" -ge "$flows_before" ] || fail "flows $flows_before -> $flows_after" || return 1
	[ "$E2E_MODE" = tc ] || nsx a ip -d link show eth0 | grep -q 'prog/xdp' ||
		fail "no XDP program after re-attach" || return 1
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
	# pins left by a nosnat whose VIP table had another layout: the
	# configuration cannot be carried over (flow tables can: see
	# t_idle_survives_layout_change), and nothing is changed
	mkdir -p "$LAB_DIR/bpffs/old" && bpftool map create "$LAB_DIR/bpffs/old/nosnat_flows" type lru_hash \
		key 16 value 8 entries 262144 name nosnat_flows || rc=1
	bpftool map create "$LAB_DIR/bpffs/old/nosnat_vips" type hash key 8 value 4 entries 1024 \
		name nosnat_vips flags 1 || rc=1
	check_bad 1 "bpffs/old/nosnat_vips was made by another nosnat version (value size 4, this build's 8)" \
		nsx a "$NOSNAT" --pin-dir "$LAB_DIR/bpffs/old" attach eth0
	[ "$(ls "$LAB_DIR/bpffs/old")" = "$(printf 'nosnat_flows\nnosnat_vips')" ] ||
		fail "a refused attach changed the pins: $(ls "$LAB_DIR/bpffs/old")" || rc=1
	rm -rf "$LAB_DIR/bpffs/old"
	# ... and by one that kept replies in a table of their own
	mkdir -p "$LAB_DIR/bpffs/old" && bpftool map create "$LAB_DIR/bpffs/old/nosnat_rnat" type lru_hash \
		key 16 value 16 entries 1024 name nosnat_rnat || rc=1
	check_bad 1 "bpffs/old/nosnat_rnat was made by another nosnat version" \
		nsx a "$NOSNAT" --pin-dir "$LAB_DIR/bpffs/old" attach eth0
	rm -rf "$LAB_DIR/bpffs/old"
	check_bad 1 "missing: CAP_BPF" nsx a setpriv --reuid=65534 --regid=65534 --clear-groups "$NOSNAT" --pin-dir "$LAB_DIR/bpffs/a" vip add 192.0.2.11:25/tcp
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
	nosnat_on c attach eth0 "${ATTACH_ARGS[@]}" >/dev/null 2>&1 || return 1
	nosnat_on c node add "${NODE_IP[a]}" 2>/dev/null && nosnat_on c node add "${NODE_IP[b]}" 2>/dev/null \
		|| return 1
	echo "programs and pins gone, re-attached"
}

t_complete_checksums_like_a_wire() {
	# the client checksums in software: XDP sees what a NIC would deliver
	nsx client ethtool -K c0 tx off >/dev/null || return 1
	local rc=0 seen out
	mail_vip c || rc=1
	seen=$(who client $VIP 25) && [[ $seen == "$CLIENT:"* ]] || fail "encapsulated: $seen" || rc=1
	out=$(nsx client timeout 60 "$NSN_TCP" upload $VIP 25 5242880) || fail "encapsulated upload: $out" || rc=1
	nosnat_all vip del $VIP:25/tcp >/dev/null
	mail_vip a || rc=1
	seen=$(who client $VIP 25) && [[ $seen == "$CLIENT:"* ]] || fail "local: $seen" || rc=1
	out=$(nsx client timeout 60 "$NSN_TCP" upload $VIP 25 5242880) || fail "local upload: $out" || rc=1
	nsx client ethtool -K c0 tx on >/dev/null
	[ $rc = 0 ] && echo "complete checksums: local and encapsulated paths carry 5 MiB each"
	return $rc
}

t_veth_peer_without_xdp() {
	# A plain veth lab: the bridge-side peer of node a's uplink runs no XDP,
	# so XDP_TX frames would vanish. attach's default (auto) sends
	# encapsulated frames through the tc twin on veth uplinks instead.
	mail_vip b || return 1
	nsx lan ip link set dev la xdp off
	nosnat_on a attach eth0 "${HOOK_ARGS[@]}" >"$LAB_DIR/attach.log" 2>&1 || { nsx lan ip link set dev la xdpdrv obj "$XDP_PASS_OBJ" sec xdp; fail "attach"; return 1; }
	local rc=0 before seen out
	grep -q "encapsulated frames via tc" "$LAB_DIR/attach.log" || fail "auto did not pick tc on veth: $(cat "$LAB_DIR/attach.log")" || rc=1
	# tc sends them: the twin XDP handed them to, or tc's own walk
	before=$(verdict_packets a tc_ingress encap any)
	seen=$(who client $VIP 25) && [[ $seen == "$CLIENT:"* ]] || fail "connection: $seen" || rc=1
	out=$(nsx client timeout 60 "$NSN_TCP" upload $VIP 25 5242880) || fail "upload: $out" || rc=1
	[ "$(verdict_packets a tc_ingress encap any)" -gt "$before" ] || fail "frames did not go through tc" || rc=1
	nsx lan ip link set dev la xdpdrv obj "$XDP_PASS_OBJ" sec xdp
	nosnat_on a attach eth0 "${ATTACH_ARGS[@]}" >/dev/null 2>&1 || rc=1
	[ $rc = 0 ] && echo "no XDP on the peer: pod saw $seen, 5 MiB upload through the tc path"
	return $rc
}

# The flow table's size is an attach option: a resize carries the flows
# over; --dry-run says what the maps lock at a size without attaching.
t_flow_table_size() {
	local rc=0 out
	mail_vip b || return 1
	for _ in 1 2 3; do who client $VIP 25 >/dev/null || return 1; done
	# idle connections whose server speaks first (IMAP IDLE's way), across both resizes
	idle_start vip $VIP 25 4 3 || return 1
	push_next
	round_ok vip 1 4 || return 1
	out=$(nosnat_on a attach eth0 --dry-run --flow-table 1048576 2>&1) || fail "dry run: $out" || rc=1
	[[ $out == "maps at these sizes lock "*"(flow table of 1048576: 10"*" MiB)"* ]] || fail "dry run: $out" || rc=1
	out=$(nosnat_on a attach eth0 "${ATTACH_ARGS[@]}" --flow-table 65536 2>&1) || fail "resize: $out" || rc=1
	[[ $out == *"pinned map nosnat_flows (262144 entries, this build's 65536): carrying its entries over"* ]] ||
		fail "no carry-over line: $out" || rc=1
	[ "$(metric a nosnat_flow_table_capacity)" = 65536 ] || fail "capacity $(metric a nosnat_flow_table_capacity)" || rc=1
	[ "$(metric a nosnat_flow_table_entries)" -ge 4 ] || fail "flows lost in the resize" || rc=1
	push_next
	round_ok vip 2 4 || rc=1
	who client $VIP 25 >/dev/null || fail "a new connection after the resize" || rc=1
	nosnat_on a attach eth0 "${ATTACH_ARGS[@]}" >/dev/null 2>&1 || fail "back to the default" || rc=1
	[ "$(metric a nosnat_flow_table_capacity)" = 262144 ] || fail "capacity back $(metric a nosnat_flow_table_capacity)" || rc=1
	push_next
	round_ok vip 3 4 || rc=1
	idle_stop vip
	[ $rc = 0 ] && echo "262144 -> 65536 -> 262144 entries, flows carried over; 4 idle connections (server speaks first) answered after each resize"
	return $rc
}

# A pod's UDP answer too large for one packet (a big DNS-style answer): the
# pod's kernel fragments it, and the connected client must get every
# fragment from the VIP to reassemble it.
t_udp_fragmented_reply() {
	local rc=0 srv out
	nosnat_all vip add $VIP:53/udp >/dev/null || return 1
	nosnat_all backend add $VIP:53/udp "${POD_IP[a]}:5353" --node "${NODE_IP[a]}" >/dev/null || return 1
	nsx pod-a python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 5353))
for _ in range(2):
    q, peer = s.recvfrom(100)
    s.sendto(bytes(i % 251 for i in range(4000)), peer)
' &
	srv=$!
	echo $srv >>"$LAB_DIR/pids"
	sleep 0.5
	out=$(nsx client timeout 5 python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect(("'$VIP'", 53))	# a connected client takes datagrams from the VIP only
s.settimeout(3)
s.send(b"query")
a = s.recv(8000)
print(len(a), a == bytes(i % 251 for i in range(4000)))
' 2>&1) || fail "no answer: $out" || rc=1
	[ "$out" = "4000 True" ] || fail "answer: $out" || rc=1
	kill "$srv" 2>/dev/null
	wait "$srv" 2>/dev/null
	[ $rc = 0 ] && echo "a 4000-byte answer in fragments reached the connected client whole, from the VIP"
	return $rc
}

# A complete checksum that equals the pseudo-header sum (once in 65536
# packets off a real wire) is what a partial one holds on a veth: XDP cannot
# tell them apart, the tc twin's helpers can. Sent as written through a raw
# socket, such packets reach a pod here (TCP: it answers the SYN; UDP) and
# a pod on another node (UDP, decapsulated there).
t_csum_like_partial_reaches_pods() {
	local rc=0 n srv out
	mail_vip a || return 1
	out=$(nsx client timeout 10 python3 "$ROOT/tests/e2e/csum_probe.py" syn "$CLIENT" $VIP 25 41000 2>&1)
	[ "$out" = "SYN-ACK from $VIP:25 ack 1001" ] || fail "TCP to pod a: $out" || rc=1
	echo "| TCP, pod a: $out"
	nosnat_all vip add $VIP:53/udp >/dev/null || return 1
	for n in a b; do
		nosnat_all backend add $VIP:53/udp "${POD_IP[$n]}:5353" --node "${NODE_IP[$n]}" >/dev/null || rc=1
		rm -f "$LAB_DIR/probe-$n"
		nsx "pod-$n" timeout 8 python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 5353))
d, peer = s.recvfrom(100)
print(d[2:].decode(), "from", peer[0], flush=True)
' >"$LAB_DIR/probe-$n" &
		srv=$!
		echo $srv >>"$LAB_DIR/pids"
		sleep 0.5
		nsx client python3 "$ROOT/tests/e2e/csum_probe.py" udp "$CLIENT" $VIP 53 41001 || rc=1
		wait "$srv"
		out=$(cat "$LAB_DIR/probe-$n")
		[ "$out" = "nosnat-probe from $CLIENT" ] || fail "UDP to pod $n: '$out'" || rc=1
		echo "| UDP, pod $n: $out"
		nosnat_all backend del $VIP:53/udp "${POD_IP[$n]}:5353" >/dev/null || rc=1
	done
	[ $rc = 0 ] && echo "complete checksums equal to the pseudo-header sum reached pod a (TCP, UDP) and pod b (UDP)"
	return $rc
}

# The tc twin's way out with partial checksums (the client's veth offloads
# them) and an uplink that finishes them in software (tx offload off, as
# on a NIC without it): XDP leaves the inner sum partial for the skb and
# tc clamps the SYN's MSS knowing that. Completed in XDP, the skb stayed
# partial and the kernel summed over the complete value: every packet left
# corrupt.
t_encap_via_tc_uplink_sums_in_software() {
	local rc=0 seen out before
	mail_vip b || return 1
	nosnat_on a attach eth0 "${ATTACH_ARGS[@]}" --encap-via tc >/dev/null 2>&1 || return 1
	nsx a ethtool -K eth0 tx off >/dev/null || rc=1
	before=$(verdict_packets a tc_ingress encap any)
	seen=$(who client $VIP 25) && [[ $seen == "$CLIENT:"* ]] || fail "connection: $seen" || rc=1
	out=$(nsx client timeout 60 "$NSN_TCP" upload $VIP 25 5242880) || fail "upload: $out" || rc=1
	[ "$(verdict_packets a tc_ingress encap any)" -gt "$before" ] || fail "frames did not go through tc" || rc=1
	nsx a ethtool -K eth0 tx on >/dev/null
	nosnat_on a attach eth0 "${ATTACH_ARGS[@]}" >/dev/null 2>&1 || rc=1
	[ $rc = 0 ] && echo "through the tc twin, uplink summing in software: pod b saw $seen, 5 MiB uploaded"
	return $rc
}
