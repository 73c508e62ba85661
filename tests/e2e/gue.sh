# shellcheck shell=bash
# GUE between nodes: VIP traffic carried in UDP, and a cluster changing
# from IPIP to GUE node by node under idle connections.
# Sourced by run.sh: tests are functions t_*, helpers from lib.sh.

# Every node attached again as the lab attaches it, plus ARGS (none: IPIP
# sent, both kinds taken off, as the lab had it).
encap_all() {
	local n
	for n in $NODES; do
		nosnat_on "$n" attach eth0 "${ATTACH_ARGS[@]}" "$@" >/dev/null 2>&1 ||
			fail "attach on $n with $*" || return 1
	done
}

# NODE: what it sends and takes off, as list --json says
tunnel_of() { nosnat_on "$1" list --json | jq -r '"\(.encap) \(.decap) \(.gue_port)"'; }

t_gue_carries_vip_traffic() {
	local seen out rc=0
	trap 'encap_all >/dev/null 2>&1' EXIT	# IPIP again for the tests after
	# every node sends GUE and takes only GUE off: what is not GUE is lost
	encap_all --encap gue --decap gue --gue-port 6080 || return 1
	[ "$(tunnel_of b)" = "gue gue 6080" ] || fail "b: $(tunnel_of b)" || return 1
	mail_vip b || return 1
	seen=$(pod_sees_client b) || return 1
	[ "$(verdict_packets a xdp encap gue)" -gt 0 ] || fail "node a sent no GUE" || return 1
	[ "$(verdict_packets b xdp decap gue)" -gt 0 ] || fail "node b took no GUE off" || return 1
	echo "| pod b saw $seen (GUE to port 6080)"
	# a v6 VIP's packets in GUE too (the IPv6 packet right after the UDP header)
	mail_vip6 b || return 1
	local before6
	before6=$(verdict_packets b xdp decap gue)
	seen=$(pod_sees_client6 b) || return 1
	[ "$(verdict_packets b xdp decap gue)" -gt "$before6" ] || fail "node b took no v6 GUE off" || return 1
	echo "| pod b saw $seen (v6 in GUE)"

	# 20 MiB: segments of a big skb leave as GUE of the uplink's size
	nosnat_all backend del $VIP:25/tcp "${POD_IP[b]}:2525" >/dev/null || return 1
	nosnat_all backend add $VIP:25/tcp "${POD_IP[c]}:2525" --node "${NODE_IP[c]}" >/dev/null || return 1
	out=$(nsx client timeout 60 "$NSN_TCP" upload $VIP 25 20971520) || fail "upload failed: $out" || return 1
	[[ $out == "OK 20971520 $CLIENT:"* ]] || fail "unexpected answer: $out" || return 1
	echo "| pod c: $out"

	# the VIP moves from a to b: held connections to c go on in GUE
	held_through_failover 4 b || rc=1
	[ "$(verdict_packets b xdp encap gue)" -gt 0 ] || fail "node b never sent GUE" || rc=1
	lab_announce a
	[ $rc = 0 ] && echo "remote pod saw the client (v4 and v6), 20 MiB up, 4 connections held through a failover, all in GUE"
	return $rc
}

t_gue_rollout_keeps_idle_connections() {
	local n r=1 rc=0
	trap 'encap_all >/dev/null 2>&1' EXIT
	mail_vip b c || return 1
	idle_both 8 || return 1
	push_next
	rounds_ok $r || rc=1
	# the DaemonSet rolls: one node after the other sends GUE, while the
	# others still send IPIP; every node takes both off meanwhile
	for n in a b c; do
		nosnat_on "$n" attach eth0 "${ATTACH_ARGS[@]}" --encap gue >/dev/null 2>&1 ||
			fail "attach on $n" || return 1
		r=$((r + 1))
		push_next
		rounds_ok $r || rc=1
		who client $VIP 25 >/dev/null || fail "a new connection with $n changed over failed" || rc=1
	done
	# all send GUE: what an operator checks before the second roll, on
	# every node: IPIP taken off stands still, GUE grows
	local ipip_b ipip_c gue_b gue_c
	ipip_b=$(verdict_packets b xdp decap none) ipip_c=$(verdict_packets c xdp decap none)
	gue_b=$(verdict_packets b xdp decap gue) gue_c=$(verdict_packets c xdp decap gue)
	r=$((r + 1))
	push_next
	rounds_ok $r || rc=1
	[ "$(verdict_packets b xdp decap none)" = "$ipip_b" ] && [ "$(verdict_packets c xdp decap none)" = "$ipip_c" ] ||
		fail "IPIP still taken off after every node sends GUE" || rc=1
	[ "$(verdict_packets b xdp decap gue)$(verdict_packets c xdp decap gue)" != "$gue_b$gue_c" ] ||
		fail "no GUE taken off in a round" || rc=1
	# the second roll takes IPIP off the accepted list
	for n in a b c; do
		nosnat_on "$n" attach eth0 "${ATTACH_ARGS[@]}" --encap gue --decap gue >/dev/null 2>&1 ||
			fail "attach on $n" || return 1
	done
	r=$((r + 1))
	push_next
	rounds_ok $r || rc=1
	# and the VIP moves: the new ingress node's GUE reaches the pods too
	lab_announce c
	r=$((r + 1))
	push_next
	rounds_ok $r || rc=1
	lab_announce a
	[ "$(tunnel_of a)" = "gue gue 5555" ] || fail "a: $(tunnel_of a)" || rc=1
	echo "| ingress a: sent IPIP $(verdict_packets a xdp encap none), GUE $(verdict_packets a xdp encap gue); taken off on b: IPIP $(verdict_packets b xdp decap none), GUE $(verdict_packets b xdp decap gue); on c: IPIP $(verdict_packets c xdp decap none), GUE $(verdict_packets c xdp decap gue)"
	idle_stop vip
	idle_stop pod
	[ $rc = 0 ] && echo "8 idle VIP connections and 2 to a pod's own address answered through IPIP -> mixed -> GUE -> GUE only, and a failover"
	return $rc
}

# The ConfigMap says encap: the daemons attach again with it, connections
# held through both changes
t_gue_run_follows_configmap_encap() {
	local n pids=() i rc=0 seen
	trap 'for n in $NODES; do kill -TERM "$(cat "$LAB_DIR/run-$n.pid" 2>/dev/null)" 2>/dev/null; done; encap_all >/dev/null 2>&1' EXIT
	mkdir -p "$LAB_DIR/cm"
	mail_config "$LAB_DIR/g1.yaml" b c
	echo "encap: gue" >>"$LAB_DIR/g1.yaml"
	cm_publish "$LAB_DIR/cm" "$LAB_DIR/g1.yaml"
	for n in $NODES; do daemon_start "$n"; done
	for n in $NODES; do
		wait_for 10 has_backends "$n" 2 || fail "node $n never applied the config: $(tail -3 "$LAB_DIR/run-$n.log")" || return 1
		[ "$(tunnel_of "$n")" = "gue ipip,gue 5555" ] || fail "$n: $(tunnel_of "$n")" || return 1
	done
	for i in 1 2 3 4 5 6; do
		nsx client timeout 30 "$NSN_TCP" hold $VIP 25 6 >"$LAB_DIR/hold$i" 2>&1 &
		pids+=($!)
	done
	sleep 1.5
	# back to IPIP, and IPIP alone taken off: a node that still sent GUE
	# would lose its packets, so each must have followed
	mail_config "$LAB_DIR/g2.yaml" b c
	printf 'encap: ipip\ndecap: [ipip]\n' >>"$LAB_DIR/g2.yaml"
	cm_publish "$LAB_DIR/cm" "$LAB_DIR/g2.yaml"
	for n in $NODES; do
		wait_for 10 eval '[ "$(tunnel_of '"$n"')" = "ipip ipip 5555" ]' ||
			fail "$n did not follow: $(tunnel_of "$n"); $(tail -3 "$LAB_DIR/run-$n.log")" || rc=1
	done
	grep -q "encapsulation changes to ipip, taking ipip off: attaching eth0 again" "$LAB_DIR/run-a.log" ||
		fail "no log line for the change: $(tail -3 "$LAB_DIR/run-a.log")" || rc=1
	for i in 1 2 3 4 5; do	# new connections, to either pod, as the client
		seen=$(who client $VIP 25) && [[ $seen == "$CLIENT:"* ]] || fail "new connection: '$seen'" || rc=1
	done
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || { fail "held connection $((i + 1)) broke: $(cat "$LAB_DIR/hold$((i + 1))")"; rc=1; }
	done
	for n in $NODES; do kill -TERM "$(cat "$LAB_DIR/run-$n.pid")"; done
	for n in $NODES; do wait "$(cat "$LAB_DIR/run-$n.pid")" || fail "daemon on $n exited $?" || rc=1; done
	[ $rc = 0 ] && echo "3 daemons followed encap: gue -> ipip (ipip alone taken off), 6 held connections kept"
	return $rc
}
