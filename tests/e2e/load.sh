# shellcheck shell=bash
# Changes under load, concurrent writers, permissions.
# Sourced by run.sh: tests are functions t_*, helpers from lib.sh.

# under_load NAME ACTION: a steady stream of short connections (20/s) and
# four long-lived ones while ACTION runs; every connection must complete,
# and long-lived ones whose pod still exists must not break.
under_load() {
	local name=$1 action=$2 secs=${LOAD_SECS:-3} k pids=() rc=0 line kept=0 held=0 gone=${GONE_POD:-}
	nsx client "$NSN_TCP" load $VIP 25 "$secs" 20 >"$LAB_DIR/load.out" 2>"$LAB_DIR/load.err" &
	local lpid=$!
	for k in 1 2 3 4; do
		nsx client timeout 60 "$NSN_TCP" hold $VIP 25 "$((secs + 1))" $((44000 + k)) >"$LAB_DIR/lhold$k" 2>&1 &
		pids+=($!)
	done
	sleep "$(awk -v s="$secs" 'BEGIN { print s / 3 }')"
	$action || { fail "$name: the action itself failed"; rc=1; }
	wait $lpid
	line=$(cat "$LAB_DIR/load.out")
	for k in 1 2 3 4; do
		local pod=""
		grep -q "PEER $CLIENT:$((44000 + k))\$" "$LAB_DIR/pod-$gone.log" 2>/dev/null && pod=$gone
		if wait "${pids[$((k - 1))]}"; then
			kept=$((kept + 1))
			held=$((held + 1))
		elif [ -n "$pod" ]; then
			:	# its pod was removed: it may break
		else
			held=$((held + 1))
			fail "$name: long-lived connection $k broke: $(cat "$LAB_DIR/lhold$k")"
			[ -n "${E2E_DEBUG:-}" ] && for n in $NODES; do echo "== $n"; nosnat_on "$n" stats 2>&1 | grep -v " 0$"; done
			rc=1
		fi
	done
	echo "| $name: $line; long-lived $kept/$held kept"
	# A detach leaves the VIP to the kernel for a moment: a SYN then meets
	# the routing loop any node without nosnat (or kube-proxy rules) makes,
	# and its ICMP error fails that connect at once. Only there is that
	# allowed, and only a few; nothing else may be lost.
	[[ $line =~ attempted\ ([0-9]+)\ completed\ ([0-9]+)\ failed\ 0\ reset\ 0\ unreachable\ ([0-9]+) ]] \
		&& [ "${BASH_REMATCH[1]}" -gt 0 ] \
		&& [ $((BASH_REMATCH[1] - BASH_REMATCH[2])) = "${BASH_REMATCH[3]}" ] \
		&& [ "${BASH_REMATCH[3]}" -le "${GAP_ALLOWED:-0}" ] \
		|| { fail "$name: lost connections: $line $(head -3 "$LAB_DIR/load.err")"; rc=1; }
	return $rc
}

act_restart_loader() {
	kill -TERM "$(cat "$LAB_DIR/run-a.pid")" && wait "$(cat "$LAB_DIR/run-a.pid")"
	: >"$LAB_DIR/run-a.log"	# the new daemon's start line, not the first one's
	daemon_start a
	wait_for 5 grep -q "start: configuration applied" "$LAB_DIR/run-a.log"
}
act_reattach_rebuilt() {
	local n bin=${NOSNAT_ASAN:-$NOSNAT}
	for n in $NODES; do
		ip netns exec "$LAB-$n" "$bin" --pin-dir "$LAB_DIR/bpffs/$n" attach eth0 "${ATTACH_ARGS[@]}" \
			>/dev/null 2>>"$LAB_DIR/reattach.log" || return 1
	done
}
act_detach_attach() {
	kill -TERM "$(cat "$LAB_DIR/run-a.pid")" && wait "$(cat "$LAB_DIR/run-a.pid")"
	nosnat_on a detach eth0 >/dev/null 2>&1 || return 1
	: >"$LAB_DIR/run-a.log"
	daemon_start a
	wait_for 5 grep -q "start: configuration applied" "$LAB_DIR/run-a.log"
}
act_config_changes() {
	local c_before
	{
		echo "nodes: [${NODE_IP[a]}, ${NODE_IP[b]}, ${NODE_IP[c]}]"
		echo "services:"
		echo "  - {name: mail, vip: $VIP, ports: [{port: 25, targetPort: 2525}], backends: ["
		echo "      {address: ${POD_IP[a]}, node: ${NODE_IP[a]}},"
		echo "      {address: ${POD_IP[b]}, node: ${NODE_IP[b]}, weight: 3},"
		echo "      {address: ${POD_IP[c]}, node: ${NODE_IP[c]}, weight: 0}]}"
	} >"$LAB_DIR/v2.yaml"
	cm_publish "$LAB_DIR/cm" "$LAB_DIR/v2.yaml"
	wait_for 3 has_weights a "${POD_IP[a]}:1 ${POD_IP[b]}:3 ${POD_IP[c]}:0" || return 1
	wait_for 3 has_weights c "${POD_IP[a]}:1 ${POD_IP[b]}:3 ${POD_IP[c]}:0" || return 1
	c_before=$(grep -c PEER "$LAB_DIR/pod-c.log")
	sleep 0.6
	[ "$(grep -c PEER "$LAB_DIR/pod-c.log")" = "$c_before" ] || { fail "the drained pod got new connections"; return 1; }
	# then remove the drained one
	grep -v "${POD_IP[c]}" "$LAB_DIR/v2.yaml" | sed 's/weight: 3},/weight: 3}]}/' >"$LAB_DIR/v3.yaml"
	cm_publish "$LAB_DIR/cm" "$LAB_DIR/v3.yaml"
	wait_for 3 has_weights a "${POD_IP[a]}:1 ${POD_IP[b]}:3"
}
act_failover() {
	lab_announce c
	sleep 0.7
	lab_announce a
}
act_neighbours() {
	nsx b ip neigh flush all
	nsx a ip neigh flush all
	nsx c ip neigh flush all
}

t_changes_under_load() {
	local rc=0 n
	mkdir -p "$LAB_DIR/cm"
	mail_config "$LAB_DIR/v1.yaml" b c
	cm_publish "$LAB_DIR/cm" "$LAB_DIR/v1.yaml"
	for n in $NODES; do daemon_start "$n"; done
	for n in $NODES; do wait_for 10 has_backends "$n" 2 || { fail "config not applied on $n"; rc=1; }; done
	under_load "loader restart" act_restart_loader || rc=1
	under_load "re-attach, rebuilt binary" act_reattach_rebuilt || rc=1
	GAP_ALLOWED=3 under_load "detach + attach" act_detach_attach || rc=1
	under_load "VIP failover a -> c -> a" act_failover || rc=1
	under_load "neighbour entries lost" act_neighbours || rc=1
	GONE_POD=c under_load "config: add, reweight, drain, remove" act_config_changes || rc=1
	for n in $NODES; do
		nosnat_on "$n" verify >/dev/null || { fail "node $n inconsistent: $(nosnat_on "$n" verify 2>&1)"; rc=1; }
		kill -TERM "$(cat "$LAB_DIR/run-$n.pid")"
		wait "$(cat "$LAB_DIR/run-$n.pid")"
	done
	[ $rc = 0 ] && echo "no connection lost in ${LOAD_SECS:-3}s of load per change (a detach gap may refuse <= 3 SYNs); maps consistent after"
	return $rc
}

t_concurrent_writers() {
	local rc=0 i pids=() n
	mail_vip b || return 1
	# two writers on node a at once, each with its own VIPs, plus verifies
	for w in 1 2; do
		(
			for i in $(seq 15); do
				nosnat_on a vip add "192.0.2.$((100 + w)):$((1000 + i))/tcp" >/dev/null 2>&1 || exit 1
				nosnat_on a backend add "192.0.2.$((100 + w)):$((1000 + i))/tcp" "${POD_IP[b]}" \
					--node "${NODE_IP[b]}" >/dev/null 2>&1 || exit 1
			done
			for i in $(seq 15); do
				nosnat_on a vip del "192.0.2.$((100 + w)):$((1000 + i))/tcp" >/dev/null 2>&1 || exit 1
			done
		) &
		pids+=($!)
	done
	for i in $(seq 20); do
		nosnat_on a verify >/dev/null || { fail "inconsistent while writers ran: $(nosnat_on a verify 2>&1 | head -3)"; rc=1; break; }
	done
	for p in "${pids[@]}"; do wait "$p" || { fail "a writer failed"; rc=1; }; done
	[ "$(nosnat_on a list --json | jq '.vips | length')" = 1 ] || fail "leftover VIPs" || rc=1
	# the daemon and a manual change at once: both land, in some order, whole
	mkdir -p "$LAB_DIR/cm"
	mail_config "$LAB_DIR/v1.yaml" b c
	cm_publish "$LAB_DIR/cm" "$LAB_DIR/v1.yaml"
	daemon_start a
	wait_for 10 has_backends a 2 || { fail "daemon did not apply"; rc=1; }
	for i in $(seq 10); do
		mail_config "$LAB_DIR/v$((i % 2)).yaml" b $([ $((i % 2)) = 1 ] && echo c)
		cm_publish "$LAB_DIR/cm" "$LAB_DIR/v$((i % 2)).yaml"
		nosnat_on a backend add $VIP:25/tcp "${POD_IP[a]}:2525" --node "${NODE_IP[a]}" >/dev/null 2>&1
		nosnat_on a verify >/dev/null || { fail "inconsistent: $(nosnat_on a verify 2>&1 | head -3)"; rc=1; }
		nosnat_on a backend del $VIP:25/tcp "${POD_IP[a]}:2525" >/dev/null 2>&1
	done
	kill -TERM "$(cat "$LAB_DIR/run-a.pid")"
	wait "$(cat "$LAB_DIR/run-a.pid")"
	nosnat_on a verify >/dev/null || fail "inconsistent at the end" || rc=1
	[ $rc = 0 ] && echo "2 writers x 45 commands and daemon + manual changes: always consistent"
	return $rc
}

t_permissions() {
	local rc=0 out
	mail_vip b || return 1
	[ "$(stat -c %a "$LAB_DIR/bpffs/a")" = 700 ] || fail "pin dir mode $(stat -c %a "$LAB_DIR/bpffs/a")" || rc=1
	for f in "$LAB_DIR"/bpffs/a/nosnat_*; do
		[ "$(stat -c %a "$f")" = 600 ] || { fail "$f mode $(stat -c %a "$f")"; rc=1; }
	done
	out=$(nsx a setpriv --reuid=65534 --regid=65534 --clear-groups "$NOSNAT" --pin-dir "$LAB_DIR/bpffs/a" list 2>&1) \
		&& { fail "a non-root user read the maps"; rc=1; }
	[[ $out == *"Permission denied"* ]] || fail "non-root: $out" || rc=1
	out=$(nsx a setpriv --reuid=65534 --regid=65534 --clear-groups cat "$LAB_DIR/bpffs/a/nosnat_vips" 2>&1) \
		&& { fail "a non-root user opened a pin"; rc=1; }
	# root without the capabilities
	out=$(nsx a setpriv --inh-caps=-all --ambient-caps=-all --bounding-set=-all "$NOSNAT" \
		--pin-dir "$LAB_DIR/bpffs/a" attach eth0 2>&1) && { fail "attached without capabilities"; rc=1; }
	[[ $out == *CAP_* ]] || fail "no capability named: $out" || rc=1
	local root_out=$out
	# a pin dir that is not nosnat's own: another user's, a link, open to all
	mkdir "$LAB_DIR/bpffs/theirs" "$LAB_DIR/bpffs/open" && chown 65534 "$LAB_DIR/bpffs/theirs" &&
		chmod 0777 "$LAB_DIR/bpffs/open" && ln -s a "$LAB_DIR/bpffs/link" || { fail "setup"; rc=1; }
	for d in theirs:"belongs to uid 65534" link:"is a symbolic link" open:"writable by others (mode 0777)"; do
		out=$(nosnat_on a --pin-dir "$LAB_DIR/bpffs/${d%%:*}" list 2>&1) && { fail "${d%%:*} accepted"; rc=1; }
		[[ $out == *"${d#*:}"* ]] || fail "${d%%:*}: $out" || rc=1
	done
	rmdir "$LAB_DIR/bpffs/theirs" "$LAB_DIR/bpffs/open"
	rm -f "$LAB_DIR/bpffs/link"
	# a non-root user with the capabilities (as a container user with file
	# capabilities): attaches in a namespace of its own, with its own pin dir
	ip netns add "$LAB-caps" && ip -n "$LAB-caps" link add v0 type veth peer name v1 &&
		ip -n "$LAB-caps" addr add 198.51.100.200/24 dev v0 && ip -n "$LAB-caps" link set v0 up &&
		ip -n "$LAB-caps" link set v1 up && mkdir -p "$LAB_DIR/bpffs/caps" &&
		chown 65534:65534 "$LAB_DIR/bpffs/caps" || { fail "caps netns"; rc=1; }
	out=$(ip netns exec "$LAB-caps" setpriv --reuid=65534 --regid=65534 --clear-groups "$NOSNAT" \
		--pin-dir "$LAB_DIR/bpffs/caps/p" attach v0 2>&1) && { fail "nobody attached: $out"; rc=1; }
	[[ $out == *"missing: CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN"* ]] || fail "nobody: $out" || rc=1
	out=$(ip netns exec "$LAB-caps" setpriv --reuid=65534 --regid=65534 --clear-groups \
		--inh-caps=+bpf,+perfmon,+net_admin --ambient-caps=+bpf,+perfmon,+net_admin "$NOSNAT" \
		--pin-dir "$LAB_DIR/bpffs/caps/p" attach v0 2>&1) || fail "nobody with capabilities: $out" || rc=1
	# the DaemonSet's capabilities configure and verify (the Maglev table is
	# read through a program: an inner map's ID needs CAP_SYS_ADMIN)
	out=$(ip netns exec "$LAB-caps" setpriv --reuid=65534 --regid=65534 --clear-groups \
		--inh-caps=+bpf,+perfmon,+net_admin --ambient-caps=+bpf,+perfmon,+net_admin sh -c "
		'$NOSNAT' --pin-dir '$LAB_DIR/bpffs/caps/p' vip add 192.0.2.50:25/tcp &&
		'$NOSNAT' --pin-dir '$LAB_DIR/bpffs/caps/p' backend add 192.0.2.50:25/tcp 198.18.9.2:2525 \
			--node 198.51.100.200 && '$NOSNAT' --pin-dir '$LAB_DIR/bpffs/caps/p' verify" 2>&1) ||
		fail "nobody with capabilities: verify: $out" || rc=1
	ip netns exec "$LAB-caps" setpriv --reuid=65534 --regid=65534 --clear-groups \
		--inh-caps=+bpf,+perfmon,+net_admin --ambient-caps=+bpf,+perfmon,+net_admin "$NOSNAT" \
		--pin-dir "$LAB_DIR/bpffs/caps/p" detach v0 >/dev/null 2>&1 || fail "nobody's detach" || rc=1
	ip netns del "$LAB-caps"
	echo "pin dir 0700, pins 0600, non-root refused; pin dirs of another user, links, mode 0777 refused; a non-root user with CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN attaches, configures and verifies; without capabilities: ${root_out##*: }"
	return $rc
}
