# shellcheck shell=bash
# lab.sh - the namespace lab: an emulated bare-metal cluster on one machine.
# Source it, then call lab_up / lab_down. Everything it creates carries the
# prefix $LAB (namespaces) or lives under $LAB_DIR, and lab_down removes it.
#
#   client 203.0.113.2 ── router ── LAN bridge 198.51.100.0/24 ──┬─ node a .11 ── pod a 198.18.1.2
#                       203.0.113.1   198.51.100.1                ├─ node b .12 ── pod b 198.18.2.2
#                                                                 └─ node c .13 ── pod c 198.18.3.2
#   VIP 192.0.2.10 is routed by the router to the announcing node (MetalLB L2
#   in miniature); lab_announce moves it. Pods listen on 2525, the VIP on 25.
#
#   IPv6 beside it (2001:db8::/32), over the same LAN: client 2001:db8:c::2,
#   pods 2001:db8:18:N::2 (N = 1, 2, 3 for a, b, c), v6 VIP 2001:db8::25.
#   Routes across the LAN use link-local next hops (router fe80::1, node a
#   fe80::11, b fe80::12, c fe80::13); the nodes also have 2001:db8:100::1N
#   for an IPv6 node network. nosnat knows the nodes by their IPv4
#   addresses (6in4 between them) unless a test gives it the v6 ones.

LAB=${LAB:-nsn$$}
LAB_DIR=${LAB_DIR:-/run/nosnat-lab-$$}
ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
NOSNAT=${NOSNAT:-$ROOT/build/nosnat}
NSN_TCP=${NSN_TCP:-$ROOT/build/nsn_tcp}
NSN_FLOOD=${NSN_FLOOD:-$ROOT/build/nsn_flood}
XDP_PASS_OBJ=${XDP_PASS_OBJ:-$ROOT/build/xdp_pass.bpf.o}
VIP=192.0.2.10
CLIENT=203.0.113.2
# the client's second address, for its connections to a pod's own address:
# from CLIENT, one could leave from a port a VIP connection to that pod uses
# too, and the pod would see both as one 4-tuple (a clash no NAT-less path
# can tell apart)
CLIENT_DIRECT=203.0.113.3
NODES="a b c"
declare -A NODE_IP=([a]=198.51.100.11 [b]=198.51.100.12 [c]=198.51.100.13)
declare -A POD_IP=([a]=198.18.1.2 [b]=198.18.2.2 [c]=198.18.3.2)
declare -A POD_NET=([a]=198.18.1 [b]=198.18.2 [c]=198.18.3)
VIP6=2001:db8::25
CLIENT6=2001:db8:c::2
declare -A POD_IP6=([a]=2001:db8:18:1::2 [b]=2001:db8:18:2::2 [c]=2001:db8:18:3::2)
declare -A POD_NET6=([a]=2001:db8:18:1 [b]=2001:db8:18:2 [c]=2001:db8:18:3)
declare -A NODE_LL=([a]=fe80::11 [b]=fe80::12 [c]=fe80::13)
# the nodes' v6 addresses on the LAN, for an IPv6 node network (ip6ip6)
declare -A NODE_IP6=([a]=2001:db8:100::11 [b]=2001:db8:100::12 [c]=2001:db8:100::13)

nsx() { local ns=$1; shift; ip netns exec "$LAB-$ns" "$@"; }
# nosnat as the DaemonSet on node $1 would run it
nosnat_on() { local n=$1; shift; nsx "$n" "$NOSNAT" --pin-dir "$LAB_DIR/bpffs/$n" "$@"; }

# Packets a Linux sender hands to a veth carry CHECKSUM_PARTIAL (the sum is
# left for "hardware" to finish) all the way to the node's XDP, as in any
# plain veth lab; nosnat copes. LAB_CSUM=sw makes every sender checksum in
# software, so packets arrive complete, as from a real wire.
lab_csum_sw() {
	[ "${LAB_CSUM:-offload}" = sw ] || return 0
	nsx "$1" ethtool -K "$2" tx off >/dev/null
}

lab_ns_quiet() {
	nsx "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	nsx "$1" ip link set lo up
}

# IPv6 on in namespace $1 (lab_ns_quiet turned it off), without router
# solicitations or duplicate address detection to wait for
lab_v6_on() {
	nsx "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0 \
		net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0 \
		net.ipv6.conf.all.forwarding=1
}

# The lab's IPv6 (see the top): after lab_up's IPv4, on the same links.
lab_v6_up() {
	local n m ns
	for ns in client router $NODES pod-a pod-b pod-c; do
		lab_v6_on "$ns" || return 1
	done
	nsx client ip -6 addr add $CLIENT6/64 dev c0 nodad || return 1
	nsx client ip -6 route add default via 2001:db8:c::1
	nsx router ip -6 addr add 2001:db8:c::1/64 dev r0 nodad
	nsx router ip -6 addr add fe80::1/64 dev r1 nodad
	nsx router ip -6 addr add 2001:db8:100::1/64 dev r1 nodad
	for n in $NODES; do
		nsx "$n" ip -6 addr add "${NODE_LL[$n]}/64" dev eth0 nodad || return 1
		nsx "$n" ip -6 addr add "${NODE_IP6[$n]}/64" dev eth0 nodad || return 1
		nsx "$n" ip -6 route add default via fe80::1 dev eth0
		nsx "$n" ip -6 addr add "${POD_NET6[$n]}::1/64" dev pod0 nodad
		nsx "pod-$n" ip -6 addr add "${POD_IP6[$n]}/64" dev eth0 nodad
		nsx "pod-$n" ip -6 route add default via "${POD_NET6[$n]}::1"
		nsx router ip -6 route add "${POD_NET6[$n]}::/64" via "${NODE_LL[$n]}" dev r1
		for m in $NODES; do
			[ "$m" = "$n" ] ||
				nsx "$n" ip -6 route add "${POD_NET6[$m]}::/64" via "${NODE_LL[$m]}" dev eth0
		done
	done
	lab_announce6 a
}

lab_up() {
	mkdir -p "$LAB_DIR/bpffs" || return 1
	mount -t bpf bpf "$LAB_DIR/bpffs" || return 1
	: >"$LAB_DIR/pids"
	for ns in client router lan $NODES pod-a pod-b pod-c; do
		ip netns add "$LAB-$ns" || return 1
		lab_ns_quiet "$ns"
	done
	nsx lan ip link add br0 type bridge
	nsx lan ip link set br0 up

	ip link add c0 netns "$LAB-client" type veth peer name r0 netns "$LAB-router"
	nsx client ip addr add $CLIENT/24 dev c0
	nsx client ip addr add $CLIENT_DIRECT/24 dev c0
	nsx client ip link set c0 up
	lab_csum_sw client c0
	nsx client ip route add default via 203.0.113.1
	nsx router ip addr add 203.0.113.1/24 dev r0
	nsx router ip link set r0 up

	ip link add r1 netns "$LAB-router" type veth peer name lr netns "$LAB-lan"
	nsx router ip addr add 198.51.100.1/24 dev r1
	nsx router ip link set r1 up
	nsx router sysctl -qw net.ipv4.ip_forward=1
	nsx lan ip link set lr master br0 up

	for n in $NODES; do
		ip link add eth0 netns "$LAB-$n" type veth peer name "l$n" netns "$LAB-lan"
		nsx lan ip link set "l$n" master br0 up
		# veth drops XDP_TX frames unless the receiving peer runs XDP
		nsx lan ip link set dev "l$n" xdpdrv obj "$XDP_PASS_OBJ" sec xdp || return 1
		nsx "$n" ip addr add "${NODE_IP[$n]}/24" dev eth0
		nsx "$n" ip link set eth0 up
		nsx "$n" ip route add default via 198.51.100.1
		nsx "$n" sysctl -qw net.ipv4.ip_forward=1
		# nodes track connections of both families, as every kube-proxy or
		# Calico node does (a netfilter rule that uses conntrack turns it
		# on in a netns)
		printf '%s\n' 'table inet nsnlab { chain forward { type filter hook forward priority 0; policy accept; ct state invalid counter; }; }' |
			nsx "$n" nft -f - || return 1

		ip link add pod0 netns "$LAB-$n" type veth peer name eth0 netns "$LAB-pod-$n"
		nsx "$n" ip addr add "${POD_NET[$n]}.1/24" dev pod0
		nsx "$n" ip link set pod0 up
		nsx "pod-$n" ip addr add "${POD_IP[$n]}/24" dev eth0
		nsx "pod-$n" ip link set eth0 up
		lab_csum_sw "pod-$n" eth0
		lab_csum_sw "$n" eth0
		nsx "pod-$n" ip route add default via "${POD_NET[$n]}.1"

		# pod networks are routed to their nodes, as a CNI with BGP does
		nsx router ip route add "${POD_NET[$n]}.0/24" via "${NODE_IP[$n]}"
		for m in $NODES; do
			[ "$m" = "$n" ] || nsx "$n" ip route add "${POD_NET[$m]}.0/24" via "${NODE_IP[$m]}"
		done
	done
	lab_announce a
	lab_v6_up || return 1
	for n in $NODES; do
		ip netns exec "$LAB-pod-$n" "$NSN_TCP" server 2525 "$LAB_DIR/pod-$n.log" &
		echo $! >>"$LAB_DIR/pids"
		: >"$LAB_DIR/pod-$n.log"
	done
	# wait until every pod listens
	for n in $NODES; do
		for _ in $(seq 50); do
			nsx "pod-$n" ss -ltn 2>/dev/null | grep -q ':2525 ' && break
			sleep 0.1
		done
	done
}

# Route the VIP to node $1, as a MetalLB L2 failover does.
lab_announce() {
	nsx router ip route replace $VIP/32 via "${NODE_IP[$1]}"
}

# ... and the v6 VIP (its NDP answered by node $1, in MetalLB's terms).
lab_announce6() {
	nsx router ip -6 route replace $VIP6/128 via "${NODE_LL[$1]}" dev r1
}

# Attach nosnat on every node and tell each node about the others.
lab_nosnat_up() {
	local n m
	for n in $NODES; do
		nosnat_on "$n" attach eth0 "$@" || return 1
		for m in $NODES; do
			[ "$m" = "$n" ] || nosnat_on "$n" node add "${NODE_IP[$m]}" || return 1
		done
	done
}

# Same command on every node (the DaemonSet applies one config everywhere).
nosnat_all() {
	local n
	for n in $NODES; do
		nosnat_on "$n" "$@" || return 1
	done
}

lab_down() {
	local pid ns
	if [ -f "$LAB_DIR/pids" ]; then
		while read -r pid; do
			[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
		done <"$LAB_DIR/pids"
	fi
	for ns in client router lan $NODES pod-a pod-b pod-c caps; do	# caps: t_permissions
		ip netns del "$LAB-$ns" 2>/dev/null
	done
	if mountpoint -q "$LAB_DIR/bpffs" 2>/dev/null; then
		umount "$LAB_DIR/bpffs"
	fi
	rm -rf "$LAB_DIR"
}
