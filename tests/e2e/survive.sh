# shellcheck shell=bash
# Connections that survive: idle server-speaks-first connections through
# floods, wiped maps, backend changes during a VIP move, layout changes.
# Sourced by run.sh: tests are functions t_*, helpers from lib.sh.

# Idle connections as IMAP IDLE holds them: after "IDLE", the server speaks
# first (when push_next raises the generation), quoting the client's address
# as the pod sees it; the client checks it is its own and answers.

metric() { # NODE SERIES -> value
	nosnat_on "$1" metrics | awk -v s="$2" '$1 == s { print $2 }'
}
flow_event() { metric "$1" "nosnat_flow_events_total{event=\"$2\"}"; }

# After a flood: the idle sessions (server speaks first) answer, node a
# gets its default limit back, a new connection goes through.
after_flood() {
	local rc=0
	push_next
	rounds_ok 2 || rc=1
	nosnat_on a attach eth0 "${ATTACH_ARGS[@]}" >/dev/null 2>&1 || rc=1
	who client $VIP 25 >/dev/null || fail "a new connection after the flood failed" || rc=1
	idle_stop vip
	idle_stop pod
	return $rc
}

t_idle_survives_syn_flood() {
	local mac out lim rc=0 flood=$((262144 * 5 / 2))
	mail_vip b || return 1
	# node a records at most 1000 new flows per CPU and second (the knob)
	nosnat_on a attach eth0 "${ATTACH_ARGS[@]}" --new-flow-limit 1000 >/dev/null 2>&1 || return 1
	idle_both 2 || return 1
	push_next
	rounds_ok 1 || return 1
	mac=$(nsx a cat /sys/class/net/eth0/address)
	# spoofed SYNs from 198.19.0.0/16 (no lab node or pod is there), straight onto a's uplink
	out=$(nsx lan "$NSN_FLOOD" la "$mac" 198.19.0.0 $VIP 25 $flood) || fail "flood: $out" || return 1
	echo "| flood of $flood SYNs: $out"
	echo "| node a: new-flow table $(metric a nosnat_new_flow_table_entries), established $(metric a nosnat_flow_table_entries), limited $(flow_event a new_flow_limited)"
	echo "| node b: new-flow table $(metric b nosnat_new_flow_table_entries), established $(metric b nosnat_flow_table_entries)"
	[ "$(metric b nosnat_new_flow_table_entries)" -gt 60000 ] || fail "the flood did not fill b's new-flow table" || rc=1
	lim=$(flow_event a new_flow_limited)
	[ "$lim" -gt 0 ] || fail "node a never limited new flows" || rc=1
	after_flood || rc=1
	[ $rc = 0 ] && echo "8 idle VIP connections and 2 to the pod's own address answered the server after $flood spoofed SYNs"
	return $rc
}

# A blind flood of SYN+ACK pairs (each forged 5-tuple: its SYN, then an ACK
# that guesses the SYN-ACK), 2.5 times the established table: on the
# ingress node the promotions spend the new-flow budget, so its table of
# established flows keeps room (entries kept); on the pod's node conntrack
# marks outlive whatever the flood evicts. The idle sessions answer after.
t_idle_survives_syn_ack_flood() {
	local mac out rc=0 flood=$((262144 * 5 / 2)) est
	mail_vip b || return 1
	nosnat_on a attach eth0 "${ATTACH_ARGS[@]}" --new-flow-limit 1000 >/dev/null 2>&1 || return 1
	idle_both 2 || return 1
	push_next
	rounds_ok 1 || return 1
	mac=$(nsx a cat /sys/class/net/eth0/address)
	out=$(nsx lan "$NSN_FLOOD" la "$mac" 198.19.0.0 $VIP 25 $flood synack) || fail "flood: $out" || return 1
	est=$(metric a nosnat_flow_table_entries)
	echo "| flood of $flood SYN+ACK pairs: $out"
	echo "| node a: established $est, new-flow table $(metric a nosnat_new_flow_table_entries), limited $(flow_event a new_flow_limited)"
	echo "| node b: established $(metric b nosnat_flow_table_entries), ct_recovered $(flow_event b ct_recovered)"
	[ "$est" -lt $((262144 / 4)) ] || fail "the flood filled a's established table ($est)" || rc=1
	after_flood || rc=1
	[ $rc = 0 ] && echo "8 idle VIP connections and 2 to the pod's own address answered the server after $flood spoofed SYN+ACK pairs; a's established table kept $est entries"
	return $rc
}

t_idle_survives_reattach() {
	local n m rc=0
	mail_vip b || return 1
	idle_both 1 || return 1
	for n in a b; do	# an upgrade that starts over: every map gone
		nosnat_on "$n" detach eth0 >/dev/null || return 1
		[ ! -e "$LAB_DIR/bpffs/$n/nosnat_flows" ] || fail "$n kept its flows" || return 1
		nosnat_on "$n" attach eth0 "${ATTACH_ARGS[@]}" >/dev/null 2>&1 || return 1
		for m in $NODES; do
			[ "$m" = "$n" ] || nosnat_on "$n" node add "${NODE_IP[$m]}" || return 1
		done
		nosnat_on "$n" vip add $VIP:25/tcp >/dev/null || return 1
		nosnat_on "$n" backend add $VIP:25/tcp "${POD_IP[b]}:2525" --node "${NODE_IP[b]}" >/dev/null || return 1
	done
	[ "$(metric b nosnat_flow_table_entries)" = 0 ] || fail "b has flows before any packet" || return 1
	push_next
	rounds_ok 1 || rc=1
	[ "$(flow_event b ct_recovered)" -ge 8 ] || fail "b recovered $(flow_event b ct_recovered) flows from conntrack" || rc=1
	echo "| node b: ct_recovered $(flow_event b ct_recovered); node a: recovered $(flow_event a recovered)"
	idle_stop vip
	idle_stop pod
	[ $rc = 0 ] && echo "all 10 idle connections answered after detach + attach + reconfigure on a and b"
	return $rc
}

t_idle_survives_backend_add_and_move() {
	local rc=0 pid sc
	mail_vip b || return 1
	# 16 through the VIP: about half move to the new pod's slots, and the
	# chance that none does (nothing to prove) is 2^-16
	idle_start vip $VIP 25 16 1 && idle_start pod "${POD_IP[b]}" 2525 2 1 || return 1
	# a second pod, on c, while the VIP moves to c: c's table sends some
	# flows to its own pod, which does not have them
	nosnat_all backend add $VIP:25/tcp "${POD_IP[c]}:2525" --node "${NODE_IP[c]}" >/dev/null &
	pid=$!
	lab_announce c
	wait $pid || fail "backend add" || rc=1
	push_next
	round_ok vip 1 16 || {
		rc=1
		# what each node did with them, for whoever sees it fail
		for n in $NODES; do echo "    == $n"; nosnat_on "$n" stats 2>&1 | grep -v " 0$" | sed 's/^/    /'; done
	}
	round_ok pod 1 2 || rc=1
	who client $VIP 25 >/dev/null || fail "a new connection after the change failed" || rc=1
	sc=$(flow_event c second_chance)
	[ "$sc" -gt 0 ] || fail "no flow took a second chance" || rc=1
	echo "| node c: second_chance $sc, recovered $(flow_event c recovered)"
	lab_announce a
	idle_stop vip
	idle_stop pod
	[ $rc = 0 ] && echo "all 18 idle connections answered after a backend was added as the VIP moved"
	return $rc
}

t_idle_survives_layout_change() {
	local n rc=0 next=$ROOT/build/next/nosnat vs flows_before flows_after flows6_before
	[ -x "$next" ] || fail "no $next (make next)" || return 1
	mail_vip b || return 1
	mail_vip6 b || return 1
	idle_both 2 || return 1
	idle_start vip6 $VIP6 25 4 2 || return 1	# and v6 ones: nosnat_flows6 carried over too
	flows_before=$(metric b nosnat_flow_table_entries)
	flows6_before=$(metric b nosnat_flow6_table_entries)
	for n in a b; do	# a build whose flow entries grew by a field
		nsx "$n" "$next" --pin-dir "$LAB_DIR/bpffs/$n" attach eth0 "${ATTACH_ARGS[@]}" \
			>"$LAB_DIR/next-$n.log" 2>&1 || fail "next build: $(cat "$LAB_DIR/next-$n.log")" || return 1
	done
	vs=$(bpftool -j map show pinned "$LAB_DIR/bpffs/b/nosnat_flows" | jq .bytes_value)
	[ "$vs" = 28 ] || fail "flow value size $vs after the upgrade" || return 1
	flows_after=$(nsx b "$next" --pin-dir "$LAB_DIR/bpffs/b" metrics | awk '$1 == "nosnat_flow_table_entries" { print $2 }')
	[ "$flows_after" -ge "$flows_before" ] || fail "flows $flows_before -> $flows_after" || rc=1
	vs=$(bpftool -j map show pinned "$LAB_DIR/bpffs/b/nosnat_flows6" | jq .bytes_value)
	[ "$vs" = 28 ] || fail "v6 flow value size $vs after the upgrade" || return 1
	flows_after=$(nsx b "$next" --pin-dir "$LAB_DIR/bpffs/b" metrics | awk '$1 == "nosnat_flow6_table_entries" { print $2 }')
	[ "$flows_after" -ge "$flows6_before" ] && [ "$flows6_before" -ge 4 ] ||
		fail "v6 flows $flows6_before -> $flows_after" || rc=1
	grep -h "carried over" "$LAB_DIR"/next-*.log | sed 's/^/| /'
	push_next
	rounds_ok 1 || rc=1
	round_ok vip6 1 4 || rc=1
	for n in a b; do	# and back
		nosnat_on "$n" attach eth0 "${ATTACH_ARGS[@]}" >/dev/null 2>&1 || fail "back to this build" || return 1
	done
	vs=$(bpftool -j map show pinned "$LAB_DIR/bpffs/b/nosnat_flows" | jq .bytes_value)
	[ "$vs" = 24 ] || fail "flow value size $vs after going back" || rc=1
	push_next
	rounds_ok 2 || rc=1
	round_ok vip6 2 4 || rc=1
	idle_stop vip
	idle_stop pod
	idle_stop vip6
	[ $rc = 0 ] && echo "all 14 idle connections (4 of them v6) answered across a flow layout change and back ($flows_before v4 and $flows6_before v6 flows on b carried over)"
	return $rc
}

# A pod's node where nothing makes conntrack track connections (no
# netfilter rule uses it): a VIP connection to its pod passes its handshake
# without a conntrack entry, which counts ct_untracked, and health says
# that recovery through marks does not cover it. With the rule back, a new
# connection is tracked and claimed again.
t_untracked_is_said() {
	local rc=0 out before
	mail_vip b || return 1
	nsx b nft delete table inet nsnlab || return 1
	before=$(flow_event b ct_untracked)
	who client $VIP 25 >/dev/null || fail "connection without conntrack" || rc=1
	[ "$(flow_event b ct_untracked)" -gt "$before" ] || fail "no ct_untracked on b" || rc=1
	out=$(nosnat_on b health 2>&1)
	[[ $out == *"recovery: conntrack marks, but "*" VIP flows had no conntrack entry"* ]] ||
		fail "health: $out" || rc=1
	printf '%s\n' 'table inet nsnlab { chain forward { type filter hook forward priority 0; policy accept; ct state invalid counter; }; }' |
		nsx b nft -f - || rc=1
	before=$(flow_event b ct_untracked)
	who client $VIP 25 >/dev/null || fail "connection with conntrack back" || rc=1
	[ "$(flow_event b ct_untracked)" = "$before" ] || fail "a tracked connection counted untracked" || rc=1
	[ $rc = 0 ] && echo "health on b: ${out#*(}"
	return $rc
}

# A client reuses its port. Its earlier connection through the VIP went to
# pod c and has ended, but c's conntrack keeps the entry (TIME_WAIT, 120 s,
# marked with the VIP). The new connection goes to pod b. When the VIP
# moves to c and c's table sends new flows to its own pod (b drains), the
# ended entry must not prove that pod c has the connection: delivered there
# on its word, pod c would reset it. Seen as a flake of the test above.
t_port_reuse_after_an_ended_connection() {
	local port=47999 rc=0 out pid tw ctr_before sc_before sc yaml=$LAB_DIR/reuse.yaml
	tw=$(nsx client sysctl -n net.ipv4.tcp_tw_reuse)
	nsx client sysctl -qw net.ipv4.tcp_tw_reuse=1	# the client's own TIME_WAIT
	trap 'nsx client sysctl -qw net.ipv4.tcp_tw_reuse='"$tw"'; lab_announce a' EXIT
	mail_vip c || return 1
	out=$(nsx client timeout 10 "$NSN_TCP" hold $VIP 25 1 $port 2>&1) || fail "first connection: $out" || return 1
	grep -q "PEER $CLIENT:$port\$" "$LAB_DIR/pod-c.log" || fail "the first connection did not reach pod c" || return 1
	# pod b alone now; the same client port, held while the VIP moves
	nosnat_all backend del $VIP:25/tcp "${POD_IP[c]}:2525" >/dev/null || return 1
	nosnat_all backend add $VIP:25/tcp "${POD_IP[b]}:2525" --node "${NODE_IP[b]}" >/dev/null || return 1
	sleep 1.2	# tcp_tw_reuse takes a TIME_WAIT over after a second
	nsx client timeout 20 "$NSN_TCP" hold $VIP 25 6 $port >"$LAB_DIR/hold1" 2>&1 &
	pid=$!
	sleep 1.5
	grep -q "PEER $CLIENT:$port\$" "$LAB_DIR/pod-b.log" || fail "the second connection did not reach pod b" || rc=1
	# pod c back, pod b draining: c's table sends the flow to pod c
	{
		echo "nodes: [${NODE_IP[a]}, ${NODE_IP[b]}, ${NODE_IP[c]}]"
		echo "services:"
		echo "  - {vip: $VIP, ports: [{port: 25, targetPort: 2525}], backends: [{address: ${POD_IP[b]}, node: ${NODE_IP[b]}, weight: 0}, {address: ${POD_IP[c]}, node: ${NODE_IP[c]}}]}"
	} >"$yaml"
	nosnat_all apply "$yaml" >/dev/null || fail "apply" || rc=1
	ctr_before=$(verdict_packets c xdp local ct_recovered)
	sc_before=$(flow_event c second_chance)
	lab_announce c
	wait $pid || fail "the held connection broke: $(cat "$LAB_DIR/hold1")" || rc=1
	[ "$(verdict_packets c xdp local ct_recovered)" = "$ctr_before" ] ||
		fail "c delivered to pod c on the ended entry's word" || rc=1
	sc=$(($(flow_event c second_chance) - sc_before))
	[ "$sc" -gt 0 ] || fail "c sent nothing to b as a second chance" || rc=1
	[ $rc = 0 ] && echo "client port $port reused: the connection to pod b held through the VIP's move to c, whose pod's ended entry proved nothing ($sc second chances)"
	return $rc
}
