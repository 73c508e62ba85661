# shellcheck shell=bash
# IPv6 VIPs over the lab's IPv4 node network (6in4 between nodes), and
# dual stack: the pod sees the client's v6 address, local and remote;
# uploads, failover, pod-to-pod traffic untouched.
# Sourced by run.sh: tests are functions t_*, helpers from lib.sh.

# The v6 mail VIP, backends given as NODE letters (pod of that node).
mail_vip6() {
	local n
	nosnat_all vip add "[$VIP6]:25/tcp" >/dev/null || return 1
	for n in "$@"; do
		nosnat_all backend add "[$VIP6]:25/tcp" "[${POD_IP6[$n]}]:2525" --node "${NODE_IP[$n]}" \
			>/dev/null || return 1
	done
}

# pod_sees_client6 POD: a v6 connection through the VIP reaches it from the
# client's v6 address (printed: what the pod saw)
pod_sees_client6() {
	local seen
	seen=$(who client $VIP6 25) || fail "no connection through the v6 VIP" || return 1
	[[ $seen == "[$CLIENT6]:"* ]] || fail "pod saw $seen, not the client $CLIENT6" || return 1
	grep -qF "PEER $seen" "$LAB_DIR/pod-$1.log" || fail "pod $1 log has no $seen" || return 1
	echo "$seen"
}

t_v6_pods_see_the_client() {
	local seen out
	mail_vip6 b || return 1
	seen=$(pod_sees_client6 b) || return 1
	[ "$(verdict_packets a xdp encap any)" -gt 0 ] || fail "node a sent nothing in 6in4" || return 1
	[ "$(verdict_packets b xdp decap any)" -gt 0 ] || fail "node b took nothing off" || return 1
	echo "| remote pod b saw $seen"

	nosnat_all backend del "[$VIP6]:25/tcp" "[${POD_IP6[b]}]:2525" >/dev/null || return 1
	nosnat_all backend add "[$VIP6]:25/tcp" "[${POD_IP6[a]}]:2525" --node "${NODE_IP[a]}" \
		>/dev/null || return 1
	seen=$(pod_sees_client6 a) || return 1
	[ "$(verdict_packets a xdp local any)" -gt 0 ] || fail "node a delivered nothing here" || return 1
	echo "| local pod a saw $seen"

	# pod to pod by their own v6 addresses: nosnat's business neither way
	out=$(who pod-a "${POD_IP6[c]}" 2525) || fail "pod a to pod c failed" || return 1
	[[ $out == "[${POD_IP6[a]}]:"* ]] || fail "pod c saw $out, not pod a" || return 1
	echo "| pod a -> pod c directly: c saw $out"
	echo "remote and local pod saw the client's v6 address; pod-to-pod untouched"
}

t_v6_upload_and_failover() {
	local out rc=0
	local xdp_before=0
	mail_vip6 c || return 1
	[ "$E2E_MODE" != tc ] && xdp_before=$(stat_json a | jq '[.verdicts[] | select(.hook=="xdp" and .action=="encap") | .packets] | add // 0')
	# 20 MiB: big skbs from the client's TSO, in 6in4 segments of the
	# uplink's size (the SYN's MSS clamped for the 20 bytes)
	out=$(nsx client timeout 60 "$NSN_TCP" upload $VIP6 25 20971520) ||
		fail "upload failed: $out" || return 1
	[[ $out == "OK 20971520 [$CLIENT6]:"* ]] || fail "unexpected answer: $out" || return 1
	echo "| pod c: $out"
	# with XDP, its own v6 walk sent the established flow's packets
	if [ "$E2E_MODE" != tc ]; then
		local at_xdp at_tc
		at_xdp=$(stat_json a | jq '[.verdicts[] | select(.hook=="xdp" and .action=="encap") | .packets] | add // 0')
		at_xdp=$((at_xdp - xdp_before))
		at_tc=$(stat_json a | jq '[.verdicts[] | select(.hook=="tc_ingress" and .action=="encap") | .packets] | add // 0')
		echo "| node a: $at_xdp packets of the upload into 6in4 at XDP; $at_tc at tc in all"
		[ "$at_xdp" -gt 1000 ] || fail "XDP's v6 walk sent $at_xdp packets of the upload" || return 1
	fi

	# the VIP moves from a to b (MetalLB's NDP in miniature): held v6
	# connections to c go on
	held_through_failover 4 b $VIP6 || rc=1
	[ "$(verdict_packets b xdp encap any)" -gt 0 ] || fail "node b never sent to c" || rc=1
	lab_announce6 a
	[ $rc = 0 ] && echo "20 MiB up to a remote pod, 4 v6 connections held through a failover"
	return $rc
}

t_v6_dual_stack() {
	local s4 s6
	# one service, both families: the v4 VIP to pod b, the v6 one to pod c
	mail_vip b || return 1
	mail_vip6 c || return 1
	s4=$(pod_sees_client b) || return 1
	s6=$(pod_sees_client6 c) || return 1
	echo "| v4: pod b saw $s4; v6: pod c saw $s6"
	# the v4 VIP is untouched by the v6 one's traffic, and the other way
	nosnat_all vip del "[$VIP6]:25/tcp" >/dev/null || return 1
	pod_sees_client b >/dev/null || return 1
	who client $VIP6 25 >/dev/null 2>&1 && fail "the v6 VIP still answers after its removal" && return 1
	echo "both families at once, each to its own pod; one removed, the other goes on"
}

t_v6_pmtu_through_a_1280_hop() {
	local rc=0 out n
	# a 1280-byte hop (IPv6's least) between the client and the LAN; the
	# client keeps 1500, so its SYN announces MSS 1440 and full-size
	# replies meet the hop, whose packet too big goes to the VIP
	nsx router ip link set r0 mtu 1280 || return 1
	# negative control: the hop's errors dropped, the download stalls
	nsx router nft -f - <<-EOF2 || rc=1
		table ip6 nsnlab_pmtu6 {
			chain out {
				type filter hook output priority 0; policy accept;
				ip6 daddr $VIP6 icmpv6 type packet-too-big drop
			}
		}
	EOF2
	mail_vip6 c || rc=1
	out=$(nsx client timeout 8 "$NSN_TCP" download $VIP6 25 4194304 2>&1) &&
		fail "control: the download completed without packet too big: $out" && rc=1
	echo "| control (packet too big to the VIP dropped on the hop): ${out##*: }"
	nsx router nft delete table ip6 nsnlab_pmtu6 || rc=1
	for n in a b; do	# the pod on the announcing node, then one on another node
		nosnat_all vip del "[$VIP6]:25/tcp" >/dev/null || rc=1
		mail_vip6 "$n" || rc=1
		out=$(nsx client timeout 30 "$NSN_TCP" download $VIP6 25 4194304 2>&1) ||
			{ fail "pod $n: $out"; rc=1; continue; }
		[[ $out == "OK 4194304 [$CLIENT6]:"* ]] || fail "pod $n: $out" || rc=1
		echo "| pod $n: $out"
	done
	[ "$(verdict_packets a xdp local icmp_error)" -gt 0 ] || fail "node a gave its pod no packet too big" || rc=1
	[ "$(verdict_packets a xdp encap icmp_error)" -gt 0 ] || fail "node a sent no packet too big on to b" || rc=1
	[ "$(verdict_packets b xdp decap icmp_error)" -gt 0 ] || fail "node b gave its pod no packet too big" || rc=1
	nsx router ip link set r0 mtu 1500
	[ $rc = 0 ] && echo "4 MiB down through a 1280-byte hop from the pod on the announcing node and from one on another node; stalls without packet too big"
	return $rc
}

# After an upgrade that starts over (every map gone on the ingress node and
# the pod's node), idle v6 connections whose server speaks first still
# answer: the pod node's conntrack marks prove its replies VIP flows.
t_v6_idle_survives_reattach() {
	local n m rc=0
	mail_vip6 b || return 1
	: >"$LAB_DIR/vip6.status"
	idle_start vip6 $VIP6 25 8 2 || return 1
	push_next
	round_ok vip6 1 8 || rc=1
	for n in a b; do
		nosnat_on "$n" detach eth0 >/dev/null || return 1
		[ ! -e "$LAB_DIR/bpffs/$n/nosnat_flows6" ] || fail "$n kept its v6 flows" || return 1
		nosnat_on "$n" attach eth0 "${ATTACH_ARGS[@]}" >/dev/null 2>&1 || return 1
		for m in $NODES; do
			[ "$m" = "$n" ] || nosnat_on "$n" node add "${NODE_IP[$m]}" || return 1
		done
		nosnat_on "$n" vip add "[$VIP6]:25/tcp" >/dev/null || return 1
		nosnat_on "$n" backend add "[$VIP6]:25/tcp" "[${POD_IP6[b]}]:2525" --node "${NODE_IP[b]}" \
			>/dev/null || return 1
	done
	[ "$(metric b nosnat_flow6_table_entries)" = 0 ] || fail "b has v6 flows before any packet" || return 1
	push_next
	round_ok vip6 2 8 || rc=1
	[ "$(flow_event b ct_recovered)" -ge 8 ] ||
		fail "b recovered $(flow_event b ct_recovered) v6 flows from conntrack" || rc=1
	echo "| node b: ct_recovered $(flow_event b ct_recovered)"
	idle_stop vip6
	[ $rc = 0 ] && echo "8 idle v6 connections answered after detach + attach + reconfigure on a and b"
	return $rc
}

# A v6 datagram that does not fit 6in4: the client learns the tunnel's MTU
# from the ingress node's packet too big (every v6 packet is DF).
t_v6_packet_too_big_reaches_client() {
	nosnat_all vip add "[$VIP6]:5300/udp" >/dev/null || return 1
	nosnat_all backend add "[$VIP6]:5300/udp" "[${POD_IP6[b]}]:5300" --node "${NODE_IP[b]}" \
		>/dev/null || return 1
	# 1452 bytes of payload: a 1500-byte packet, 20 too many for 6in4
	nsx client python3 -c "import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, 62, 1)	# IPV6_DONTFRAG
s.sendto(b'm' * 1452, ('$VIP6', 5300))" || return 1
	wait_for 5 sh -c "ip netns exec $LAB-client ip -6 route get $VIP6 | grep -q 'mtu 1480'" ||
		fail "the client never learned MTU 1480: $(nsx client ip -6 route get $VIP6)" || return 1
	[ "$(verdict_packets a xdp drop icmp_frag_needed)" -gt 0 ] || fail "node a counted no packet too big" || return 1
	echo "the client learned MTU 1480 for the v6 VIP from node a"
}

# A second pod added on c while the v6 VIP moves to c: c's Maglev table
# sends some flows to its own pod, which does not have them; the pod's
# conntrack says so, and they go once to the previous table's pod.
t_v6_idle_survives_backend_add_and_move() {
	local rc=0 pid sc
	mail_vip6 b || return 1
	idle_start vip6 $VIP6 25 16 1 || return 1
	nosnat_all backend add "[$VIP6]:25/tcp" "[${POD_IP6[c]}]:2525" --node "${NODE_IP[c]}" >/dev/null &
	pid=$!
	lab_announce6 c
	wait $pid || fail "backend add" || rc=1
	push_next
	round_ok vip6 1 16 || {
		rc=1
		for n in $NODES; do echo "    == $n"; nosnat_on "$n" stats 2>&1 | grep -v " 0$" | sed 's/^/    /'; done
	}
	who client $VIP6 25 >/dev/null || fail "a new connection after the change failed" || rc=1
	sc=$(flow_event c second_chance)
	[ "$sc" -gt 0 ] || fail "no flow took a second chance" || rc=1
	echo "| node c: second_chance $sc, recovered $(flow_event c recovered)"
	lab_announce6 a
	idle_stop vip6
	[ $rc = 0 ] && echo "all 16 idle v6 connections answered after a backend was added as the VIP moved"
	return $rc
}

# An IPv6 node network: the nodes know each other by their v6 addresses,
# and a v6 VIP's packets cross in ip6ip6 (the pod's tag in the flow label).
t_v6_over_a_v6_node_network() {
	local n m out rc=0
	trap 'for n in $NODES; do nosnat_on "$n" attach eth0 "${ATTACH_ARGS[@]}" >/dev/null 2>&1; done' EXIT
	for n in $NODES; do
		nosnat_on "$n" attach eth0 "${ATTACH_ARGS[@]}" --node-ip "${NODE_IP[$n]}" \
			--node-ip "${NODE_IP6[$n]}" >/dev/null 2>&1 || fail "attach on $n with a v6 node address" || return 1
		for m in $NODES; do
			[ "$m" = "$n" ] || nosnat_on "$n" node add "${NODE_IP6[$m]}" >/dev/null ||
				fail "$n: node add ${NODE_IP6[$m]}" || return 1
		done
	done
	nosnat_all vip add "[$VIP6]:25/tcp" >/dev/null || return 1
	nosnat_all backend add "[$VIP6]:25/tcp" "[${POD_IP6[b]}]:2525" --node "${NODE_IP6[b]}" \
		>/dev/null || return 1
	out=$(pod_sees_client6 b) || return 1
	echo "| pod b (its node known as ${NODE_IP6[b]}) saw $out"
	[ "$(verdict_packets a xdp encap any)" -gt 0 ] || fail "node a sent nothing" || rc=1
	[ "$(verdict_packets b xdp decap any)" -gt 0 ] || fail "node b took nothing off" || rc=1
	# on the LAN between the nodes: IPv6 in IPv6, and no 6in4
	nsx lan nft -f - <<-EOF2 || rc=1
		table bridge nsnlab_6in6 {
			chain lan { type filter hook forward priority 0; policy accept;
				    ip6 nexthdr 41 counter; ip protocol 41 counter; }
		}
	EOF2
	who client $VIP6 25 >/dev/null || fail "a second connection" || rc=1
	out=$(nsx lan nft list table bridge nsnlab_6in6)
	[[ $out == *"ip6 nexthdr ipv6 counter packets 0 "* ]] && fail "no ip6ip6 on the LAN" && rc=1
	[[ $out == *"ip protocol ipv6 counter packets 0 "* ]] || fail "6in4 on the LAN: $out" || rc=1
	nsx lan nft delete table bridge nsnlab_6in6
	out=$(nsx client timeout 60 "$NSN_TCP" upload $VIP6 25 20971520) || fail "upload: $out" || rc=1
	[[ $out == "OK 20971520 [$CLIENT6]:"* ]] || fail "unexpected answer: $out" || rc=1
	echo "| 20 MiB to pod b: $out"
	held_through_failover 4 c $VIP6 || rc=1
	lab_announce6 a
	[ $rc = 0 ] && echo "v6 VIP over a v6 node network: the client's address kept, 20 MiB up, 4 connections held through a failover"
	return $rc
}

# A node of an IPv6-only node network (no IPv4 address on its uplink)
# attaches, knowing itself by its v6 address; with neither family it is
# refused in one line.
t_v6_only_node_attaches() {
	local ns=$LAB-v6only pins=$LAB_DIR/bpffs/v6only out rc=0
	trap 'ip netns exec '"$ns"' "$NOSNAT" --pin-dir '"$pins"' detach v6o0 >/dev/null 2>&1; ip netns del '"$ns"' 2>/dev/null' EXIT
	ip netns add "$ns" || return 1
	ip -n "$ns" link add v6o0 type veth peer name v6o1 &&
		ip -n "$ns" link set v6o0 up && ip -n "$ns" link set v6o1 up || return 1
	mkdir -p "$pins"
	out=$(ip netns exec "$ns" "$NOSNAT" --pin-dir "$pins" attach v6o0 --hook tc 2>&1) &&
		fail "attached without any address: $out" && rc=1
	[ "$(printf '%s\n' "$out" | grep -c .)" = 1 ] && [[ $out == *"no IPv4 or global IPv6 address"* ]] ||
		fail "refusal: $out" || rc=1
	ip -n "$ns" -6 addr add 2001:db8:100::99/64 dev v6o0 nodad || return 1
	out=$(ip netns exec "$ns" "$NOSNAT" --pin-dir "$pins" attach v6o0 --hook tc 2>&1) ||
		fail "attach with a v6 address only: $out" || return 1
	[[ $out == *"only IPv6 VIPs are served here"* ]] || fail "attach said: $out" || rc=1
	out=$(ip netns exec "$ns" "$NOSNAT" --pin-dir "$pins" list --json) || fail "list" || rc=1
	[ "$(jq -r .node_ip6 <<<"$out")" = 2001:db8:100::99 ] && [ "$(jq -r .node <<<"$out")" = "" ] ||
		fail "node, node_ip6: $out" || rc=1
	ip netns exec "$ns" "$NOSNAT" --pin-dir "$pins" vip add "[$VIP6]:25/tcp" >/dev/null || rc=1
	ip netns exec "$ns" "$NOSNAT" --pin-dir "$pins" backend add "[$VIP6]:25/tcp" \
		"[${POD_IP6[a]}]:2525" --node 2001:db8:100::99 >/dev/null || fail "a pod here by v6" || rc=1
	[ $rc = 0 ] && echo "attached by its v6 address alone; refused with none"
	return $rc
}
