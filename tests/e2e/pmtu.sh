# shellcheck shell=bash
# Path MTU through the VIP.
# Sourced by run.sh: tests are functions t_*, helpers from lib.sh.

# download NODE-LETTER SECS: 4 MiB from that node's pod through the VIP
download() { nsx client timeout "$2" "$NSN_TCP" download $VIP 25 4194304; }

t_pmtu_through_the_vip() {
	local rc=0 out n
	# a 1400-byte hop between the client and the LAN; client and nodes keep 1500,
	# so the client's SYN announces MSS 1460 and full-size replies meet the hop
	nsx router ip link set r0 mtu 1400 || return 1
	# negative control first, on a pod that never learned the path MTU: the hop's
	# "fragmentation needed" never reaches nosnat, as when it ignored them
	nsx router nft -f - <<-EOF || rc=1
		table ip nsnlab_pmtu {
			chain out {
				type filter hook output priority 0; policy accept;
				ip daddr $VIP icmp type destination-unreachable drop
			}
		}
	EOF
	mail_vip c || rc=1
	out=$(download c 8 2>&1) && fail "control: the download completed without the ICMP errors: $out" && rc=1
	echo "| control (errors to the VIP dropped on the hop): ${out##*: }"
	nsx router nft delete table ip nsnlab_pmtu || rc=1
	for n in a b; do	# the pod on the announcing node, then one on another node
		nosnat_all vip del $VIP:25/tcp >/dev/null || rc=1
		mail_vip "$n" || rc=1
		out=$(download "$n" 30 2>&1) || { fail "pod $n: $out"; rc=1; continue; }
		[[ $out == "OK 4194304 $CLIENT:"* ]] || fail "pod $n: $out" || rc=1
		echo "| pod $n: $out"
	done
	[ "$(verdict_packets a xdp local icmp_error)" -gt 0 ] || fail "node a rewrote no ICMP error for its pod" || rc=1
	[ "$(verdict_packets a xdp encap icmp_error)" -gt 0 ] || fail "node a sent no ICMP error on to b" || rc=1
	[ "$(verdict_packets b xdp decap icmp_error)" -gt 0 ] || fail "node b rewrote no ICMP error" || rc=1
	nsx router ip link set r0 mtu 1500
	[ $rc = 0 ] && echo "4 MiB through a 1400-byte hop from the pod on the announcing node and from one on another node; stalls without the ICMP errors"
	return $rc
}

# A DF datagram too big for the tunnel: the ingress node's frag-needed
# reaches the client, whichever way encapsulated frames leave. With
# --encap-via tc, on a veth uplink whose peer runs no XDP (the reason for
# tc), it left by XDP_TX and was lost.
t_frag_needed_reaches_client() {
	local rc=0 via vip=192.0.2.20 got
	for via in xdp tc; do
		[ "$via" = tc ] && nsx lan ip link set dev la xdp off
		nosnat_on a attach eth0 --encap-via "$via" >/dev/null 2>&1 || return 1
		nosnat_all vip add $vip:5300/udp >/dev/null || rc=1
		nosnat_all backend add $vip:5300/udp "${POD_IP[b]}" --node "${NODE_IP[b]}" >/dev/null || rc=1
		nsx router ip route replace $vip/32 via "${NODE_IP[a]}"
		# 1472 bytes of payload: a 1500-byte packet, 20 too many for IPIP
		nsx client python3 -c "import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, 10, 2)	# IP_MTU_DISCOVER: IP_PMTUDISC_DO
s.sendto(b'm' * 1472, ('$vip', 5300))" || rc=1
		wait_for 5 sh -c "ip netns exec $LAB-client ip route get $vip | grep -q 'mtu 1480'" ||
			fail "--encap-via $via: the client never learned MTU 1480: $(nsx client ip route get $vip)" || rc=1
		got=$(nsx client ip route get $vip | tr -s ' \n' ' ')
		echo "| --encap-via $via: client: $got"
		nosnat_all vip del $vip:5300/udp >/dev/null || rc=1
		nsx router ip route del $vip/32
		vip=192.0.2.21
	done
	nsx lan ip link set dev la xdpdrv obj "$XDP_PASS_OBJ" sec xdp
	nosnat_on a attach eth0 "${ATTACH_ARGS[@]}" >/dev/null 2>&1 || rc=1
	[ "$(verdict_packets a xdp drop icmp_frag_needed)" -ge 2 ] || fail "node a sent $(verdict_packets a xdp drop icmp_frag_needed) frag-needed" || rc=1
	[ $rc = 0 ] && echo "the node's frag-needed reached the client with XDP_TX and through the tc twin"
	return $rc
}
