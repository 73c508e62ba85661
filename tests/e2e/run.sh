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
# shellcheck source=../kube/lib.sh
source "$ROOT/tests/kube/lib.sh"
# shellcheck source=lib.sh
source "$ROOT/tests/e2e/lib.sh"

# The lab gives every node uplink's bridge-side peer an XDP program, so the
# XDP_TX fast path works; t_veth_peer_without_xdp covers labs that do not.
ATTACH_ARGS=(--encap-via xdp)
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
	# the pins carry the ABI version of the nosnat that attached them
	bpftool -j map dump pinned "$d/nosnat_ctl" | jq -e '.[0].formatted.value.abi == 2' >/dev/null \
		|| fail "nosnat_ctl: $(bpftool -j map dump pinned "$d/nosnat_ctl")" || return 1
	nosnat_on a metrics | grep -q '^nosnat_build_info{abi="2",version=' || fail "build_info without abi" || return 1
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
	before=$(verdict_packets a xdp encap neigh_fallback)
	seen=$(who client $VIP 25) || fail "first connection after neighbour flush failed" || return 1
	[ "$(verdict_packets a xdp encap neigh_fallback)" -gt "$before" ] \
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
	nosnat_on a attach eth0 "${ATTACH_ARGS[@]}" >/dev/null 2>&1 || fail "re-attach on a failed" || return 1
	nosnat_on b attach eth0 "${ATTACH_ARGS[@]}" >/dev/null 2>&1 || fail "re-attach on b failed" || return 1
	nosnat_on c attach eth0 "${ATTACH_ARGS[@]}" >/dev/null 2>&1 || fail "re-attach on c failed" || return 1
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
	nosnat_on a attach eth0 >"$LAB_DIR/attach.log" 2>&1 || { nsx lan ip link set dev la xdpdrv obj "$XDP_PASS_OBJ" sec xdp; fail "attach"; return 1; }
	local rc=0 before seen out
	grep -q "encapsulated frames via tc" "$LAB_DIR/attach.log" || fail "auto did not pick tc on veth: $(cat "$LAB_DIR/attach.log")" || rc=1
	before=$(verdict_packets a xdp encap tc_forward)
	seen=$(who client $VIP 25) && [[ $seen == "$CLIENT:"* ]] || fail "connection: $seen" || rc=1
	out=$(nsx client timeout 60 "$NSN_TCP" upload $VIP 25 5242880) || fail "upload: $out" || rc=1
	[ "$(verdict_packets a xdp encap tc_forward)" -gt "$before" ] || fail "frames did not go through tc" || rc=1
	nsx lan ip link set dev la xdpdrv obj "$XDP_PASS_OBJ" sec xdp
	nosnat_on a attach eth0 "${ATTACH_ARGS[@]}" >/dev/null 2>&1 || rc=1
	[ $rc = 0 ] && echo "no XDP on the peer: pod saw $seen, 5 MiB upload through the tc path"
	return $rc
}

# --- the daemon --------------------------------------------------------------

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
	local n i rc=0 on_b=() on_c=() pids=() before after port
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
	for i in 1 2 3 4 5; do
		port=$(who client $VIP 25 | cut -d: -f2) || { fail "new connection failed"; rc=1; continue; }
		grep -q "PEER $CLIENT:$port\$" "$LAB_DIR/pod-b.log" || { fail "new connection $port not on pod b"; rc=1; }
	done
	for i in "${on_b[@]}"; do
		wait "${pids[$((i - 1))]}" || { fail "connection $i to the remaining pod broke: $(cat "$LAB_DIR/hold$i")"; rc=1; }
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
	nsx a ip -d link show eth0 | grep -q prog/xdp || fail "XDP gone after SIGTERM" || rc=1
	grep -q "dataplane stays attached" "$LAB_DIR/run-a.log" || fail "no exit log line" || rc=1
	echo "held on pod b: ${#on_b[@]} kept; on pod c: ${#on_c[@]} moved; bad config kept out; SIGTERM clean"
	return $rc
}

t_metrics_match_traffic() {
	mail_vip b || return 1
	local i ma mb
	for i in 1 2 3 4 5; do who client $VIP 25 >/dev/null || return 1; done
	ma=$(nosnat_on a metrics) || return 1
	mb=$(nosnat_on b metrics) || return 1
	series() { grep -F "$2" <<<"$1" | awk '{print $2}'; }
	local sel='{vip="192.0.2.10",port="25",proto="tcp",service=""}'
	[ "$(series "$ma" "nosnat_vip_flows_total$sel")" = 5 ] || fail "node a counted $(series "$ma" "nosnat_vip_flows_total$sel") flows, want 5" || return 1
	[ "$(series "$mb" "nosnat_vip_flows_total$sel")" = 5 ] || fail "node b counted $(series "$mb" "nosnat_vip_flows_total$sel") flows, want 5" || return 1
	[ "$(series "$ma" "nosnat_vip_packets_total$sel")" = "$(series "$mb" "nosnat_vip_packets_total$sel")" ] \
		|| fail "a sent $(series "$ma" "nosnat_vip_packets_total$sel") VIP packets, b received $(series "$mb" "nosnat_vip_packets_total$sel")" || return 1
	[ "$(series "$mb" 'nosnat_backends_active{vip="192.0.2.10",port="25"')" = 1 ] || fail "backends_active" || return 1
	if command -v promtool >/dev/null; then
		promtool check metrics <<<"$ma" || fail "promtool rejects live metrics" || return 1
	fi
	echo "5 connections: a and b each counted 5 flows and $(series "$ma" "nosnat_vip_packets_total$sel") packets"
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

t_health_follows_apply() {
	local out
	printf 'services: [\n' >"$LAB_DIR/bad.yaml"
	mail_config "$LAB_DIR/good.yaml" b
	nosnat_on a apply "$LAB_DIR/bad.yaml" >/dev/null 2>&1 && { fail "bad file accepted"; return 1; }
	out=$(nosnat_on a health) && { fail "ready after a failed apply: $out"; return 1; }
	[ "$out" = "not ready: XDP on eth0, the last configuration failed" ] || fail "health: $out" || return 1
	nosnat_on a apply "$LAB_DIR/good.yaml" >/dev/null 2>&1 || return 1
	out=$(nosnat_on a health) || fail "not ready after apply: $out" || return 1
	[ "$out" = "ready: XDP on eth0, configuration applied" ] || fail "health: $out" || return 1
	out=$(nosnat_on a --pin-dir "$LAB_DIR/bpffs/none" health 2>&1) && { fail "ready without pins: $out"; return 1; }
	echo "health: failed apply -> not ready, good apply -> ready, no pins -> exit 1 ($out)"
}

# --- Kubernetes discovery -------------------------------------------------------

kube_lab() { # start the fake API with the mail Service on node b, daemons everywhere
	kube_up || { fail "fake API server: $(cat "$LAB_DIR/kube/server.log")"; return 1; }
	knode node-a "${NODE_IP[a]}" && knode node-b "${NODE_IP[b]}" && knode node-c "${NODE_IP[c]}" || return 1
	kservice $VIP || return 1
	kslice mailserver-x1 "$(kendpoint "${POD_IP[b]}" node-b true true false)" || return 1
	mkdir -p "$LAB_DIR/kcfg"
	kube_config "$LAB_DIR/kcfg/nosnat.yaml"
	local n
	for n in $NODES; do kube_daemon "$n" "${KUBE_BIN:-$NOSNAT}"; done
	for n in $NODES; do
		wait_for 10 has_backends "$n" 1 || { fail "node $n never synced: $(tail -3 "$LAB_DIR/krun-$n.log")"; return 1; }
	done
}

kube_stop_daemons() {
	local n rc=0
	for n in $NODES; do
		kill -TERM "$(cat "$LAB_DIR/krun-$n.pid")" 2>/dev/null
		wait "$(cat "$LAB_DIR/krun-$n.pid")" || { fail "daemon on $n exited $?"; rc=1; }
	done
	kube_down
	return $rc
}

weights_on() { # NODE -> "addr:weight ..." of the mail VIP:25, sorted
	nosnat_on "$1" list --json | jq -r '[.vips[] | select(.vip=="'$VIP'" and .port==25) | .backends[] | "\(.address):\(.weight)"] | sort | join(" ")'
}
has_weights() { [ "$(weights_on "$1")" = "$2" ]; }

t_kube_follows_the_pod() {
	local rc=0 seen i pid port
	kube_lab || { kube_stop_daemons; return 1; }
	seen=$(who client $VIP 25) && [[ $seen == "$CLIENT:"* ]] || fail "pod b: $seen" || rc=1
	grep -q "^PEER $CLIENT:" "$LAB_DIR/pod-b.log" || fail "pod b saw nothing" || rc=1
	# a long connection to the old pod, then the pod moves to node c
	nsx client timeout 30 "$NSN_TCP" hold $VIP 25 6 43001 >"$LAB_DIR/khold" 2>&1 &
	pid=$!
	sleep 1
	kslice mailserver-x1 "$(kendpoint "${POD_IP[b]}" node-b false true true)" \
		"$(kendpoint "${POD_IP[c]}" node-c true true false)"
	for n in $NODES; do
		wait_for 5 has_weights "$n" "${POD_IP[b]}:0 ${POD_IP[c]}:1" \
			|| { fail "node $n: $(weights_on "$n")"; rc=1; }
	done
	grep -q "~ backend $VIP:25/tcp ${POD_IP[b]}:2525 weight 1 -> 0" "$LAB_DIR/krun-a.log" \
		|| fail "no log line for the drain" || rc=1
	for i in 1 2 3 4 5; do
		port=$(who client $VIP 25 | cut -d: -f2) || { fail "new connection failed"; rc=1; continue; }
		grep -q "PEER $CLIENT:$port\$" "$LAB_DIR/pod-c.log" || { fail "connection $port not at the new pod with the client's address"; rc=1; }
	done
	wait $pid || fail "the terminating pod's connection broke: $(cat "$LAB_DIR/khold")" || rc=1
	grep -q "PEER $CLIENT:43001\$" "$LAB_DIR/pod-b.log" || fail "held connection was not on pod b" || rc=1
	# the old pod is gone
	kslice mailserver-x1 "$(kendpoint "${POD_IP[c]}" node-c true true false)"
	wait_for 5 has_weights a "${POD_IP[c]}:1" || fail "pod b not removed: $(weights_on a)" || rc=1
	grep -q '^nosnat_kube_connected 1' "$LAB_DIR/tf-a/nosnat.prom" || fail "kube_connected" || rc=1
	kube_stop_daemons || rc=1
	[ $rc = 0 ] && echo "pod moved b -> c: new connections at c with the client address, the draining one finished"
	return $rc
}

t_kube_watch_survives_faults() {
	local rc=0 before restarts n
	KUBE_BIN=${NOSNAT_ASAN:-$NOSNAT} kube_lab || { kube_stop_daemons; return 1; }
	# 410 Gone in the stream, then a change: picked up after a relist
	kctl POST fault '{"fault":"gone"}' >/dev/null
	sleep 0.5
	kslice mailserver-x1 "$(kendpoint "${POD_IP[b]}" node-b true true false)" "$(kendpoint "${POD_IP[a]}" node-a true true false)"
	wait_for 5 has_weights a "${POD_IP[a]}:1 ${POD_IP[b]}:1" || fail "after 410: $(weights_on a)" || rc=1
	grep -q "410 Gone" "$LAB_DIR/krun-a.log" || fail "410 not logged" || rc=1
	# history compacted and the connection dropped: resume from an old rv -> 410 -> relist
	kctl POST compact >/dev/null
	kctl POST fault '{"fault":"drop"}' >/dev/null
	kslice mailserver-x1 "$(kendpoint "${POD_IP[a]}" node-a true true false)"
	wait_for 8 has_weights a "${POD_IP[a]}:1" || fail "after compaction: $(weights_on a)" || rc=1
	# a stalled stream (no bytes, not even bookmarks) is noticed and replaced
	restarts=$(awk '/^nosnat_kube_watch_restarts_total/ {print $2}' "$LAB_DIR/tf-a/nosnat.prom")
	kctl POST fault '{"fault":"stall","seconds":6}' >/dev/null
	wait_for 8 grep -q "stalled" "$LAB_DIR/krun-a.log" || fail "stall not detected" || rc=1
	kslice mailserver-x1 "$(kendpoint "${POD_IP[c]}" node-c true true false)"
	wait_for 8 has_weights a "${POD_IP[c]}:1" || fail "after a stall: $(weights_on a)" || rc=1
	wait_for 3 bash -c "[ \$(awk '/^nosnat_kube_watch_restarts_total/ {print \$2}' '$LAB_DIR/tf-a/nosnat.prom') -gt ${restarts:-0} ]" \
		|| fail "watch restarts not counted" || rc=1
	# garbage, objects without fields, a 20 MiB line: logged, state unchanged
	before=$(nosnat_on a list --json)
	kctl POST fault '{"fault":"garbage"}' >/dev/null
	kctl POST fault '{"fault":"missing"}' >/dev/null
	kctl POST fault '{"fault":"huge"}' >/dev/null
	sleep 2
	[ "$(nosnat_on a list --json)" = "$before" ] || fail "bad events changed the state" || rc=1
	grep -q "malformed watch event ignored" "$LAB_DIR/krun-a.log" || fail "garbage not logged" || rc=1
	wait_for 5 grep -q "response too large" "$LAB_DIR/krun-a.log" || fail "huge line not refused: $(tail -5 "$LAB_DIR/krun-a.log")" || rc=1
	who client $VIP 25 >/dev/null || fail "traffic after bad events" || rc=1
	# the token expires: 401 until the rotated token file appears
	kctl POST token '{"token":"tok2"}' >/dev/null
	kctl POST fault '{"fault":"drop"}' >/dev/null
	wait_for 5 grep -q "credentials refused\|HTTP 401" "$LAB_DIR/krun-a.log" || fail "401 not logged" || rc=1
	echo tok2 >"$LAB_DIR/kube/sa/token"
	kslice mailserver-x1 "$(kendpoint "${POD_IP[b]}" node-b true true false)"
	for n in $NODES; do	# each watch may be deep in its backoff (30 s cap)
		wait_for 35 has_weights "$n" "${POD_IP[b]}:1" || fail "$n after token rotation: $(weights_on "$n")" || rc=1
	done
	# the API goes away: the last state stays, the metrics say so
	kube_down
	wait_for 5 grep -q '^nosnat_kube_connected 0' "$LAB_DIR/tf-a/nosnat.prom" || fail "kube_connected still 1" || rc=1
	has_weights a "${POD_IP[b]}:1" || fail "state lost with the API: $(weights_on a)" || rc=1
	who client $VIP 25 >/dev/null || fail "traffic without the API" || rc=1
	kube_stop_daemons || rc=1
	if grep -q "AddressSanitizer\|runtime error\|LeakSanitizer" "$LAB_DIR"/krun-*.log; then
		fail "sanitizer report: $(grep -A5 'Sanitizer\|runtime error' "$LAB_DIR"/krun-*.log | head -20)"
		rc=1
	fi
	[ $rc = 0 ] && echo "410, compaction, drop, stall, garbage, 20 MiB line, token rotation, API down: state right$([ -n "${NOSNAT_ASAN:-}" ] && echo ', under ASan')"
	return $rc
}

t_kube_kubeconfig_client_cert() {
	local rc=0 pid
	kube_up || { fail "fake API server"; kube_down; return 1; }
	knode node-a "${NODE_IP[a]}" && knode node-b "${NODE_IP[b]}" && knode node-c "${NODE_IP[c]}" \
		&& kservice $VIP && kslice mailserver-x1 "$(kendpoint "${POD_IP[b]}" node-b true true false)" \
		|| { kube_down; return 1; }
	mkdir -p "$LAB_DIR/kcfg"
	kube_config "$LAB_DIR/kcfg/nosnat.yaml"
	kube_kubeconfig "$LAB_DIR/kube/kubeconfig"
	# no in-cluster environment, no token: the certificate alone
	ip netns exec "$LAB-a" "$NOSNAT" --pin-dir "$LAB_DIR/bpffs/a" run --config "$LAB_DIR/kcfg/nosnat.yaml" \
		--iface auto --node-ip "${NODE_IP[a]}" --kubeconfig "$LAB_DIR/kube/kubeconfig" \
		"${ATTACH_ARGS[@]}" 2>>"$LAB_DIR/kc.log" &
	pid=$!
	echo $pid >>"$LAB_DIR/pids"
	wait_for 10 has_weights a "${POD_IP[b]}:1" || fail "no sync with a client certificate: $(tail -3 "$LAB_DIR/kc.log")" || rc=1
	# DELETED events: the slice, then the Service
	kdelete endpointslices mailserver mailserver-x1
	wait_for 5 has_backends a 0 || fail "slice deletion not applied: $(weights_on a)" || rc=1
	kdelete services mailserver mailserver
	wait_for 5 bash -c "[ \"\$(ip netns exec $LAB-a $NOSNAT --pin-dir $LAB_DIR/bpffs/a list --json | jq '.vips | length')\" = 0 ]" \
		|| fail "service deletion not applied" || rc=1
	grep -q "not found in Kubernetes" "$LAB_DIR/kc.log" || fail "no log line for the missing service" || rc=1
	kill -TERM $pid
	wait $pid || fail "daemon exit $?" || rc=1
	kube_down
	[ $rc = 0 ] && echo "kubeconfig with client certificate; slice and Service deletions applied"
	return $rc
}

# --- reliability: changes under load ------------------------------------------

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
	echo "pin dir 0700, pins 0600, non-root refused; without capabilities: ${out##*: }"
	return $rc
}

# --- connections that survive ---------------------------------------------
# Idle connections as IMAP IDLE holds them: after "IDLE", the server speaks
# first (when push_next raises the generation), quoting the client's address
# as the pod sees it; the client checks it is its own and answers.

metric() { # NODE SERIES -> value
	nosnat_on "$1" metrics | awk -v s="$2" '$1 == s { print $2 }'
}
flow_event() { metric "$1" "nosnat_flow_events_total{event=\"$2\"}"; }

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
	push_next
	rounds_ok 2 || rc=1
	nosnat_on a attach eth0 "${ATTACH_ARGS[@]}" >/dev/null 2>&1 || rc=1
	who client $VIP 25 >/dev/null || fail "a new connection after the flood failed" || rc=1
	idle_stop vip
	idle_stop pod
	[ $rc = 0 ] && echo "8 idle VIP connections and 2 to the pod's own address answered the server after $flood spoofed SYNs"
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
	round_ok vip 1 16 || rc=1
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
	local n rc=0 next=$ROOT/build/next/nosnat vs flows_before flows_after
	[ -x "$next" ] || fail "no $next (make next)" || return 1
	mail_vip b || return 1
	idle_both 2 || return 1
	flows_before=$(metric b nosnat_flow_table_entries)
	for n in a b; do	# a build whose flow entries grew by a field
		nsx "$n" "$next" --pin-dir "$LAB_DIR/bpffs/$n" attach eth0 "${ATTACH_ARGS[@]}" \
			>"$LAB_DIR/next-$n.log" 2>&1 || fail "next build: $(cat "$LAB_DIR/next-$n.log")" || return 1
	done
	vs=$(bpftool -j map show pinned "$LAB_DIR/bpffs/b/nosnat_flows" | jq .bytes_value)
	[ "$vs" = 24 ] || fail "flow value size $vs after the upgrade" || return 1
	flows_after=$(nsx b "$next" --pin-dir "$LAB_DIR/bpffs/b" metrics | awk '$1 == "nosnat_flow_table_entries" { print $2 }')
	[ "$flows_after" -ge "$flows_before" ] || fail "flows $flows_before -> $flows_after" || rc=1
	grep -h "carried over" "$LAB_DIR"/next-*.log | sed 's/^/| /'
	push_next
	rounds_ok 1 || rc=1
	for n in a b; do	# and back
		nosnat_on "$n" attach eth0 "${ATTACH_ARGS[@]}" >/dev/null 2>&1 || fail "back to this build" || return 1
	done
	vs=$(bpftool -j map show pinned "$LAB_DIR/bpffs/b/nosnat_flows" | jq .bytes_value)
	[ "$vs" = 20 ] || fail "flow value size $vs after going back" || rc=1
	push_next
	rounds_ok 2 || rc=1
	idle_stop vip
	idle_stop pod
	[ $rc = 0 ] && echo "all 10 idle connections answered across a flow layout change and back ($flows_before flows on b carried over)"
	return $rc
}

# --- path MTU through the VIP -------------------------------------------------

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

# ---------------------------------------------------------------------------

TESTS=$(declare -F | awk '{print $3}' | grep '^t_' | grep -- "${1:-}")
[ -n "$TESTS" ] || { echo "e2e: no test matches '${1:-}'"; echo "e2e: 0 passed, 1 failed"; exit 1; }

echo "e2e: building the lab ($LAB)"
if ! lab_up >"$LOG" 2>&1 || ! lab_nosnat_up "${ATTACH_ARGS[@]}" >>"$LOG" 2>&1; then
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
