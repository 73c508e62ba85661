# shellcheck shell=bash
# The daemon (run): ConfigMap-style reloads, metrics, apply, readiness.
# Sourced by run.sh: tests are functions t_*, helpers from lib.sh.

daemon_start() {
	local n=$1
	mkdir -p "$LAB_DIR/tf-$n"
	ip netns exec "$LAB-$n" "$NOSNAT" --pin-dir "$LAB_DIR/bpffs/$n" run \
		--config "$LAB_DIR/cm/nosnat.yaml" --iface auto --node-ip "${NODE_IP[$n]}" \
		--textfile "$LAB_DIR/tf-$n/nosnat.prom" --interval 1 "${ATTACH_ARGS[@]}" \
		2>>"$LAB_DIR/run-$n.log" &
	echo $! >>"$LAB_DIR/pids"
	echo $! >"$LAB_DIR/run-$n.pid"
}

backends_on() { # NODE -> number of backends of the mail VIP:25
	nosnat_on "$1" list --json | jq '[.vips[] | select(.vip=="'$VIP'" and .port==25) | .backends[]] | length'
}
has_backends() { [ "$(backends_on "$1")" = "$2" ]; }

mail_config() { # FILE POD-NODES...
	local f=$1 n
	shift
	{
		echo "nodes: [${NODE_IP[a]}, ${NODE_IP[b]}, ${NODE_IP[c]}]"
		echo "services:"
		echo "  - name: mail"
		echo "    vip: $VIP"
		echo "    ports: [{port: 25, targetPort: 2525}]"
		echo "    backends:"
		for n in "$@"; do
			echo "      - {address: ${POD_IP[$n]}, node: ${NODE_IP[$n]}}"
		done
	} >"$f"
}

t_run_follows_configmap() {
	local n i rc=0 on_b=() on_c=() pids=() before after
	mkdir -p "$LAB_DIR/cm"
	mail_config "$LAB_DIR/v1.yaml" b c
	cm_publish "$LAB_DIR/cm" "$LAB_DIR/v1.yaml"
	for n in $NODES; do daemon_start "$n"; done
	for n in $NODES; do
		wait_for 10 has_backends "$n" 2 || fail "node $n never applied the config: $(tail -3 "$LAB_DIR/run-$n.log")" || return 1
	done
	# long-lived connections, each from a known source port
	for i in $(seq 10); do
		nsx client timeout 30 "$NSN_TCP" hold $VIP 25 7 $((42000 + i)) >"$LAB_DIR/hold$i" 2>&1 &
		pids+=($!)
	done
	sleep 1.5
	for i in $(seq 10); do
		if grep -q "PEER $CLIENT:$((42000 + i))\$" "$LAB_DIR/pod-b.log"; then on_b+=("$i"); else on_c+=("$i"); fi
	done
	[ ${#on_b[@]} -gt 0 ] || fail "no held connection landed on pod b" || rc=1

	# the ConfigMap changes: pod c is gone
	mail_config "$LAB_DIR/v2.yaml" b
	cm_publish "$LAB_DIR/cm" "$LAB_DIR/v2.yaml"
	for n in $NODES; do
		wait_for 5 has_backends "$n" 1 || fail "node $n did not follow the ConfigMap" || rc=1
	done
	grep -q "config changed: configuration applied" "$LAB_DIR/run-a.log" \
		|| fail "no log line for the reload" || rc=1
	new_conns_reach b || rc=1
	for i in "${on_b[@]}"; do
		wait "${pids[$((i - 1))]}" || {
			# (seen in full runs, never alone: pod b's log still held an
			# earlier test's connection from the same client port, so one
			# of pod c's was counted here; run.sh now empties the pods'
			# logs before each test) what each node dropped, to tell a
			# real break from that
			fail "connection $i to the remaining pod broke: $(cat "$LAB_DIR/hold$i"); drops: $(for n in $NODES; do printf '%s: ' "$n"; nosnat_on "$n" stats 2>&1 | grep -i drop | tr -s ' \n' ' '; done)"
			rc=1
		}
	done
	for i in "${on_c[@]}"; do wait "${pids[$((i - 1))]}" 2>/dev/null; done

	# a bad config: logged, counted, the last good state stays
	before=$(nosnat_on a list --json)
	printf 'services:\n  - vip: 192.0.2.300\n    ports: [25]\n' >"$LAB_DIR/v3.yaml"
	cm_publish "$LAB_DIR/cm" "$LAB_DIR/v3.yaml"
	wait_for 5 grep -q "nosnat.yaml:2:10: vip: invalid IPv4 address" "$LAB_DIR/run-a.log" \
		|| fail "bad config not reported with FILE:LINE:COL" || rc=1
	after=$(nosnat_on a list --json)
	[ "$before" = "$after" ] || fail "a bad config changed the state" || rc=1
	wait_for 3 grep -q '^nosnat_config_reload_failures_total [1-9]' "$LAB_DIR/tf-a/nosnat.prom" \
		|| fail "reload failure not in the metrics" || rc=1
	who client $VIP 25 >/dev/null || fail "traffic broken after a bad config" || rc=1

	# the textfile: 0644, and no temporary file ever ends in .prom
	[ "$(stat -c %a "$LAB_DIR/tf-a/nosnat.prom")" = 644 ] || fail "metrics file mode $(stat -c %a "$LAB_DIR/tf-a/nosnat.prom")" || rc=1
	for i in $(seq 100); do
		[ "$(find "$LAB_DIR/tf-a" -name '*.prom' | wc -l)" = 1 ] || { fail "stray .prom file: $(ls -a "$LAB_DIR/tf-a")"; rc=1; break; }
		sleep 0.02
	done

	# SIGTERM: the daemons exit 0 and the dataplane keeps forwarding
	for n in $NODES; do kill -TERM "$(cat "$LAB_DIR/run-$n.pid")"; done
	for n in $NODES; do
		wait "$(cat "$LAB_DIR/run-$n.pid")" || fail "daemon on $n exited $?" || rc=1
	done
	who client $VIP 25 >/dev/null || fail "traffic stopped with the daemons" || rc=1
	if [ "$E2E_MODE" = tc ]; then
		nsx a tc filter show dev eth0 ingress | grep -q nosnat || fail "tc ingress gone after SIGTERM" || rc=1
	else
		nsx a ip -d link show eth0 | grep -q prog/xdp || fail "XDP gone after SIGTERM" || rc=1
	fi
	grep -q "dataplane stays attached" "$LAB_DIR/run-a.log" || fail "no exit log line" || rc=1
	echo "held on pod b: ${#on_b[@]} kept; on pod c: ${#on_c[@]} moved; bad config kept out; SIGTERM clean"
	return $rc
}

# Frames lost between a's XDP and b's: the drop and error counters of the
# links on the way (a's eth0, the LAN bridge and its ports, b's eth0; veth
# counts a full ring so) and a's own drops after it counted a VIP packet
# (any drop verdict of a's ingress walk). One number, for deltas.
lost_a_to_b() {
	local nd ns dev sum=0 v
	for nd in a:eth0 lan:la lan:br0 lan:lb b:eth0; do
		ns=${nd%%:*} dev=${nd#*:}
		# the programs' own XDP_DROPs are not the wire's (a's are below)
		v=$(nsx "$ns" ethtool -S "$dev" 2>/dev/null |
			awk -F: '$1 ~ /drop|err/ && $1 !~ /xdp_drops/ {s += $2} END {print s + 0}')
		sum=$((sum + v))
		v=$(nsx "$ns" ip -s -j link show dev "$dev" |
			jq '.[0].stats64 | .rx.dropped + .rx.errors + .tx.dropped + .tx.errors') || return 1
		sum=$((sum + v))
	done
	echo $((sum + $(verdict_packets a xdp drop any)))
}

t_metrics_match_traffic() {
	mail_vip b || return 1
	local i ma mb lost0 lost
	lost0=$(lost_a_to_b) || return 1
	for i in 1 2 3 4 5; do who client $VIP 25 >/dev/null || return 1; done
	series() { grep -F "$2" <<<"$1" | awk '{print $2}'; }
	local sel='{vip="192.0.2.10",port="25",proto="tcp",service=""}'
	# 'who' returns on the pod's greeting; the client's last ACK or FIN
	# may still be on its way, past a when a is read and at b when b is:
	# read until a's count holds across b's read and b's agrees; a real
	# miscount stays and fails below after 5 s
	local pa
	for i in $(seq 50); do
		ma=$(nosnat_on a metrics) || return 1
		mb=$(nosnat_on b metrics) || return 1
		pa=$(series "$ma" "nosnat_vip_packets_total$sel")
		[ "$pa" = "$(series "$mb" "nosnat_vip_packets_total$sel")" ] &&
			[ "$pa" = "$(series "$(nosnat_on a metrics)" "nosnat_vip_packets_total$sel")" ] && break
		sleep 0.1
	done
	[ "$(series "$ma" "nosnat_vip_flows_total$sel")" = 5 ] || fail "node a counted $(series "$ma" "nosnat_vip_flows_total$sel") flows, want 5" || return 1
	[ "$(series "$mb" "nosnat_vip_flows_total$sel")" = 5 ] || fail "node b counted $(series "$mb" "nosnat_vip_flows_total$sel") flows, want 5" || return 1
	# every packet a counted reached b, but for one the way lost (its
	# sender then sent it again, and a counted that too): as many fewer
	# at b as were lost, and never more
	local pb gone
	pa=$(series "$ma" "nosnat_vip_packets_total$sel") pb=$(series "$mb" "nosnat_vip_packets_total$sel")
	lost=$(lost_a_to_b) || return 1
	gone=$((lost - lost0))
	if [ "$pa" -lt "$pb" ] || [ $((pa - pb)) -gt "$gone" ]; then
		fail "a sent $pa VIP packets, b received $pb; lost on the way: $gone"
		for i in a b; do	# what each dropped, and why (since attach)
			echo "| $i: $(stat_json $i | jq -c '[.verdicts[] | select(.action=="drop") | {hook, reason, packets}]')"
		done
		return 1
	fi
	[ "$(series "$mb" 'nosnat_backends_active{vip="192.0.2.10",port="25"')" = 1 ] || fail "backends_active" || return 1
	if command -v promtool >/dev/null; then
		promtool check metrics <<<"$ma" || fail "promtool rejects live metrics" || return 1
	fi
	if [ "$pa" = "$pb" ]; then
		echo "5 connections: a and b each counted 5 flows and $pa packets"
	else
		echo "5 connections: a and b each counted 5 flows; a $pa packets, b $pb: $((pa - pb)) lost on the way ($gone drops counted)"
	fi
}

t_apply_bad_file_changes_nothing() {
	mail_vip b || return 1
	local before after out
	before=$(nosnat_on a list --json)
	printf 'nodes: [%s]\nservices:\n  - vip: %s\n    ports: [25, 0]\n' "${NODE_IP[b]}" $VIP >"$LAB_DIR/bad.yaml"
	out=$(nosnat_on a apply "$LAB_DIR/bad.yaml" 2>&1) && { fail "bad file accepted"; return 1; }
	[[ $out == "nosnat: $LAB_DIR/bad.yaml:4:17: "* ]] || fail "error: $out" || return 1
	after=$(nosnat_on a list --json)
	[ "$before" = "$after" ] || fail "state changed" || return 1
	mail_config "$LAB_DIR/good.yaml" c
	out=$(nosnat_on a apply --dry-run "$LAB_DIR/good.yaml" 2>&1) || return 1
	grep -q "^+ backend $VIP:25/tcp ${POD_IP[c]}:2525" <<<"$out" && grep -q "^- backend $VIP:25/tcp ${POD_IP[b]}:2525" <<<"$out" \
		|| fail "dry run: $out" || return 1
	[ "$(nosnat_on a list --json)" = "$before" ] || fail "dry run changed the state" || return 1
	nosnat_on a apply "$LAB_DIR/good.yaml" >/dev/null 2>&1 || return 1
	[ "$(backends_on a)" = 1 ] && nosnat_on a list | grep -q "${POD_IP[c]}:2525" || fail "apply did not converge" || return 1
	echo "bad file refused at 4:17, dry run listed the change, apply converged"
}

# A VIP that is this node's own address (the one attached with --node-ip,
# not written in the file) would take the node's traffic: refused at apply,
# with a line naming it, nothing changed, not ready.
t_apply_refuses_the_node_address_as_vip() {
	local before out rc=0
	mail_vip b || return 1
	mail_config "$LAB_DIR/good.yaml" b
	nosnat_on a apply "$LAB_DIR/good.yaml" >/dev/null 2>&1 || { fail "good file refused"; return 1; }
	before=$(nosnat_on a list --json)
	printf 'nodes: [%s, %s]\nservices:\n  - vip: %s\n    ports: [{port: 25, targetPort: 2525}]\n    backends:\n      - {address: %s, node: %s}\n' \
		"${NODE_IP[b]}" "${NODE_IP[c]}" "${NODE_IP[a]}" "${POD_IP[b]}" "${NODE_IP[b]}" >"$LAB_DIR/self.yaml"
	out=$(nosnat_on a apply "$LAB_DIR/self.yaml" 2>&1) && { fail "VIP = node address applied: $out"; rc=1; }
	[[ $out == "nosnat: $LAB_DIR/self.yaml:4:"*": VIP ${NODE_IP[a]} is this node's address" ]] ||
		fail "error: $out" || rc=1
	[ "$(nosnat_on a list --json)" = "$before" ] || fail "state changed" || rc=1
	out=$(nosnat_on a health) && { fail "ready after it: $out"; rc=1; }
	[ $rc = 0 ] && echo "VIP = --node-ip refused at apply, state kept, not ready"
	return $rc
}

t_health_follows_apply() {
	local out
	printf 'services: [\n' >"$LAB_DIR/bad.yaml"
	mail_config "$LAB_DIR/good.yaml" b
	nosnat_on a apply "$LAB_DIR/bad.yaml" >/dev/null 2>&1 && { fail "bad file accepted"; return 1; }
	out=$(nosnat_on a health) && { fail "ready after a failed apply: $out"; return 1; }
	[[ $out == "not ready: "*" on eth0"*", the last configuration failed" ]] ||
		fail "health: $out" || return 1
	nosnat_on a apply "$LAB_DIR/good.yaml" >/dev/null 2>&1 || return 1
	out=$(nosnat_on a health) || fail "not ready after apply: $out" || return 1
	[[ $out == "ready: "*" on eth0"*", configuration applied" ]] || fail "health: $out" || return 1
	out=$(nosnat_on a --pin-dir "$LAB_DIR/bpffs/none" health 2>&1) && { fail "ready without pins: $out"; return 1; }
	# a daemon's configuration counts only while that daemon runs
	cm_publish "$LAB_DIR/cm" "$LAB_DIR/good.yaml"
	: >"$LAB_DIR/run-a.log"
	daemon_start a
	# (the CLI's applied state reads ready until the daemon takes over: wait for its own)
	wait_for 20 grep -q "start: configuration applied" "$LAB_DIR/run-a.log" ||
		fail "daemon never applied: $(tail -3 "$LAB_DIR/run-a.log")" || return 1
	out=$(nosnat_on a health) || fail "daemon not ready: $out" || return 1
	kill -TERM "$(cat "$LAB_DIR/run-a.pid")" && wait "$(cat "$LAB_DIR/run-a.pid")" 2>/dev/null
	out=$(nosnat_on a health) && { fail "ready with its daemon gone: $out"; return 1; }
	[[ $out == "not ready: "*" on eth0"*", the daemon that applied the configuration is not running here" ]] ||
		fail "health: $out" || return 1
	echo "health: failed apply -> not ready, good apply -> ready, its daemon gone -> not ready, no pins -> exit 1"
}

# The daemon finds its dataplane gone (pins removed under it) and attaches
# again; a second daemon for the same pin dir waits for the first to end.
t_daemon_reattaches_and_is_alone() {
	local rc=0 second seen
	mail_config "$LAB_DIR/good.yaml" a	# its own pod: only node a runs a daemon here
	cm_publish "$LAB_DIR/cm" "$LAB_DIR/good.yaml"
	: >"$LAB_DIR/run-a.log"
	daemon_start a
	wait_for 20 grep -q "start: configuration applied" "$LAB_DIR/run-a.log" ||
		fail "never applied: $(tail -3 "$LAB_DIR/run-a.log")" || return 1
	# a second daemon for the same pins
	ip netns exec "$LAB-a" "$NOSNAT" --pin-dir "$LAB_DIR/bpffs/a" run --config "$LAB_DIR/cm/nosnat.yaml" \
		--iface auto --node-ip "${NODE_IP[a]}" --interval 1 "${ATTACH_ARGS[@]}" 2>"$LAB_DIR/run-a2.log" &
	second=$!
	echo "$second" >>"$LAB_DIR/pids"
	# it says which process holds the lock: the first daemon
	wait_for 5 grep -q "another nosnat daemon (pid $(cat "$LAB_DIR/run-a.pid")) runs for $LAB_DIR/bpffs/a here: waiting" \
		"$LAB_DIR/run-a2.log" || fail "second daemon: $(cat "$LAB_DIR/run-a2.log")" || rc=1
	! grep -q "attached to" "$LAB_DIR/run-a2.log" || fail "the second daemon attached" || rc=1
	kill -TERM "$second" 2>/dev/null
	wait "$second" 2>/dev/null
	# the pins removed under the first
	nosnat_on a detach eth0 >/dev/null 2>&1 || fail "detach" || rc=1
	wait_for 10 grep -q "the dataplane is gone from eth0" "$LAB_DIR/run-a.log" || fail "not noticed" || rc=1
	wait_for 10 nosnat_on a health >/dev/null || fail "not ready again: $(nosnat_on a health 2>&1)" || rc=1
	wait_for 5 grep -q '^nosnat_daemon_reattaches_total 1' "$LAB_DIR/tf-a/nosnat.prom" ||
		fail "metric: $(grep reattach "$LAB_DIR/tf-a/nosnat.prom")" || rc=1
	seen=$(who client $VIP 25) && [[ $seen == "$CLIENT:"* ]] || fail "after re-attach: $seen; $(tail -12 "$LAB_DIR/run-a.log")" || rc=1
	# the uplink's clsact qdisc deleted by another tool: the tc twin (every
	# packet for pod a is rewritten there) and the reply NAT go with it.
	# Idle connections to pod a, server speaking first, quiet meanwhile:
	# the flows stay in the maps, and answer once the twin is back.
	idle_start vip $VIP 25 4 2 || rc=1
	push_next
	round_ok vip 1 4 || rc=1
	nsx a tc qdisc del dev eth0 clsact || fail "qdisc del" || rc=1
	wait_for 10 grep -q "the dataplane is gone from eth0 (its tc programs;" "$LAB_DIR/run-a.log" ||
		fail "tc loss not noticed: $(tail -3 "$LAB_DIR/run-a.log")" || rc=1
	wait_for 10 nosnat_on a health >/dev/null || fail "not ready again: $(nosnat_on a health 2>&1)" || rc=1
	wait_for 5 grep -q '^nosnat_daemon_reattaches_total 2' "$LAB_DIR/tf-a/nosnat.prom" ||
		fail "metric: $(grep reattach "$LAB_DIR/tf-a/nosnat.prom")" || rc=1
	nsx a tc filter show dev eth0 ingress | grep -q "nosnat_tc_ingre" || fail "tc ingress not back: $(nsx a tc filter show dev eth0 ingress)" || rc=1
	push_next
	round_ok vip 2 4 || rc=1
	idle_stop vip
	seen=$(who client $VIP 25) && [[ $seen == "$CLIENT:"* ]] || fail "after the qdisc: $seen" || rc=1
	kill -TERM "$(cat "$LAB_DIR/run-a.pid")" && wait "$(cat "$LAB_DIR/run-a.pid")" 2>/dev/null
	[ $rc = 0 ] && echo "second daemon waited; pins removed, then the clsact qdisc deleted -> attached again in ~1 s each, ready, counted, 4 idle connections answered after the qdisc came back, pod a saw $seen"
	return $rc
}

# The single-daemon lock is no one else's to take: a process of another
# user squatting the name of the old lock (an abstract unix socket, which
# has no permission check) or trying the new one (inside the 0700 pin dir)
# does not keep the daemon from starting.
t_daemon_lock_not_taken_by_others() {
	local rc=0 squat out
	mail_config "$LAB_DIR/good.yaml" a
	cm_publish "$LAB_DIR/cm" "$LAB_DIR/good.yaml"
	: >"$LAB_DIR/run-a.log"
	# (not through nsx: $! must be the squatter itself, to be killed)
	ip netns exec "$LAB-a" setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind("\0nosnat-daemon:" + sys.argv[1])
print("bound", flush=True)
time.sleep(60)' "$LAB_DIR/bpffs/a" >"$LAB_DIR/squat.log" 2>&1 &
	squat=$!
	echo "$squat" >>"$LAB_DIR/pids"
	wait_for 5 grep -q bound "$LAB_DIR/squat.log" || fail "squatter: $(cat "$LAB_DIR/squat.log")" || rc=1
	out=$(nsx a setpriv --reuid=65534 --regid=65534 --clear-groups mkdir "$LAB_DIR/bpffs/a/daemon_lock" 2>&1) &&
		{ fail "another user made the lock"; rc=1; }
	out=$(nsx a setpriv --reuid=65534 --regid=65534 --clear-groups flock -n "$LAB_DIR/bpffs/a/daemon_lock" true 2>&1) &&
		{ fail "another user took the lock"; rc=1; }
	daemon_start a
	wait_for 20 grep -q "start: configuration applied" "$LAB_DIR/run-a.log" ||
		fail "the daemon did not start: $(tail -3 "$LAB_DIR/run-a.log")" || rc=1
	! grep -q "another nosnat daemon" "$LAB_DIR/run-a.log" || fail "waited for the squatter" || rc=1
	kill "$squat" 2>/dev/null
	wait "$squat" 2>/dev/null
	kill -TERM "$(cat "$LAB_DIR/run-a.pid")" && wait "$(cat "$LAB_DIR/run-a.pid")" 2>/dev/null
	[ $rc = 0 ] && echo "uid 65534 bound the old lock's name and could not reach the new one: the daemon started"
	return $rc
}

# An apply that fails part-way (the first Maglev table refused, as an
# allocation the kernel refuses would be) is logged as such and applied
# again after a backoff, until the maps agree.
t_daemon_retries_a_partial_apply() {
	local rc=0 pid
	mail_config "$LAB_DIR/good.yaml" a
	cm_publish "$LAB_DIR/cm" "$LAB_DIR/good.yaml"
	: >"$LAB_DIR/run-a.log"
	# fault points exist only in test builds (build/nosnat-faults)
	NOSNAT=$NOSNAT_FAULTS NOSNAT_FAULT_MAGLEV_CREATE=1 daemon_start a
	pid=$(cat "$LAB_DIR/run-a.pid")
	wait_for 10 grep -q "start: configuration partially applied; it is applied again shortly" \
		"$LAB_DIR/run-a.log" || fail "no partial line: $(tail -5 "$LAB_DIR/run-a.log")" || rc=1
	# verify runs after every apply: the partial one left the VIP without a table
	wait_for 5 grep -q "start: verify found 3 inconsistencies in the maps:" "$LAB_DIR/run-a.log" ||
		fail "verify after the partial apply: $(tail -5 "$LAB_DIR/run-a.log")" || rc=1
	wait_for 5 grep -q "no Maglev table but 1 active backends" "$LAB_DIR/run-a.log" ||
		fail "verify's finding not logged: $(tail -5 "$LAB_DIR/run-a.log")" || rc=1
	wait_for 10 grep -q "retry after a partial apply: configuration applied" "$LAB_DIR/run-a.log" ||
		fail "no retry: $(tail -5 "$LAB_DIR/run-a.log")" || rc=1
	wait_for 5 grep -q '^nosnat_verify_inconsistencies 0$' "$LAB_DIR/tf-a/nosnat.prom" ||
		fail "metric after the retry: $(grep verify "$LAB_DIR/tf-a/nosnat.prom")" || rc=1
	nosnat_on a verify >/dev/null || fail "maps disagree: $(nosnat_on a verify)" || rc=1
	who client $VIP 25 >/dev/null || fail "no connection after the retry" || rc=1
	kill -TERM "$pid" && wait "$pid" 2>/dev/null
	[ $rc = 0 ] && echo "partial apply logged, verify's 3 inconsistencies logged, retried after 1 s, verified: metric 0, traffic flows"
	return $rc
}
