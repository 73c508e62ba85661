# shellcheck shell=bash
# Kubernetes discovery against the fake API server (tests/kube).
# Sourced by run.sh: tests are functions t_*, helpers from lib.sh.

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
	local rc=0 seen pid threads
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
	new_conns_reach c || rc=1
	wait $pid || fail "the terminating pod's connection broke: $(cat "$LAB_DIR/khold")" || rc=1
	grep -q "PEER $CLIENT:43001\$" "$LAB_DIR/pod-b.log" || fail "held connection was not on pod b" || rc=1
	# the old pod is gone
	kslice mailserver-x1 "$(kendpoint "${POD_IP[c]}" node-c true true false)"
	wait_for 5 has_weights a "${POD_IP[c]}:1" || fail "pod b not removed: $(weights_on a)" || rc=1
	grep -q '^nosnat_kube_connected 1' "$LAB_DIR/tf-a/nosnat.prom" || fail "kube_connected" || rc=1
	# an endpoint without a usable address: skipped, said once for the object, counted
	kslice mailserver-x1 "$(kendpoint "${POD_IP[c]}" node-c true true false)" \
		"$(kendpoint "198.18.300.2" node-c true true false)"
	wait_for 5 grep -q "EndpointSlice mailserver/mailserver-x1: 1 endpoint without a usable IPv4 address or node skipped" \
		"$LAB_DIR/krun-a.log" || fail "no line for the invalid endpoint" || rc=1
	wait_for 5 grep -q '^nosnat_kube_invalid_endpoints_total [1-9]' "$LAB_DIR/tf-a/nosnat.prom" ||
		fail "not counted: $(grep invalid "$LAB_DIR/tf-a/nosnat.prom")" || rc=1
	has_weights a "${POD_IP[c]}:1" || fail "the valid endpoint: $(weights_on a)" || rc=1
	# three watches (nodes, the Service, its slices), one thread for all of them
	threads=$(ls "/proc/$(cat "$LAB_DIR/krun-a.pid")/task" | wc -l)
	[ "$threads" = 2 ] || fail "the daemon runs $threads threads, want 2 (main, kubernetes)" || rc=1
	kube_stop_daemons || rc=1
	[ $rc = 0 ] && echo "pod moved b -> c: new connections at c with the client address, the draining one finished; 2 threads"
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

# A configured CA is the only one trusted. The API server presents a
# certificate from another CA, one the node's system store trusts (a bind
# mount over /etc/ssl/certs, in the daemon's own mount namespace, stands
# for a public CA): the daemon must refuse it and send no token.
t_kube_ca_pinned() {
	local d=$LAB_DIR/kube r=$LAB_DIR/kube/rogue rc=0
	kube_up || { fail "fake API server"; kube_down; return 1; }
	mkdir -p "$r/certs"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=some-public-ca" \
		-keyout "$r/ca.key" -out "$r/certs/public-ca.pem" 2>/dev/null &&
	openssl req -newkey rsa:2048 -nodes -subj "/CN=kubernetes" -keyout "$r/api.key" \
		-out "$r/api.csr" 2>/dev/null &&
	openssl x509 -req -in "$r/api.csr" -CA "$r/certs/public-ca.pem" -CAkey "$r/ca.key" \
		-CAcreateserial -days 2 -extfile "$d/ext" -out "$r/api.crt" 2>/dev/null &&
	openssl rehash "$r/certs" || { fail "certificates"; kube_down; return 1; }
	kube_down
	kube_serve "$r/api.crt" "$r/api.key" || { fail "fake API server with the other CA"; return 1; }
	knode node-a "${NODE_IP[a]}" && kservice $VIP &&
		kslice mailserver-x1 "$(kendpoint "${POD_IP[b]}" node-b true true false)" || return 1
	mkdir -p "$LAB_DIR/kcfg" "$LAB_DIR/tf-a"
	kube_config "$LAB_DIR/kcfg/nosnat.yaml"
	ip netns exec "$LAB-a" unshare -m sh -c "mount --bind '$r/certs' /etc/ssl/certs &&
		exec env KUBERNETES_SERVICE_HOST=$KUBE_API KUBERNETES_SERVICE_PORT=$KUBE_PORT \
		'${KUBE_BIN:-$NOSNAT}' --pin-dir '$LAB_DIR/bpffs/a' run --config '$LAB_DIR/kcfg/nosnat.yaml' \
		--iface auto --node-ip ${NODE_IP[a]} --kube --kube-sa-dir '$d/sa' --kube-stall-timeout 2 \
		--textfile '$LAB_DIR/tf-a/nosnat.prom' --interval 1 ${ATTACH_ARGS[*]}" \
		2>>"$LAB_DIR/capin.log" &
	echo $! >>"$LAB_DIR/pids"
	echo $! >"$LAB_DIR/capin.pid"
	wait_for 10 grep -q "SSL\|certificate" "$LAB_DIR/capin.log" ||
		fail "no certificate error: $(tail -3 "$LAB_DIR/capin.log")" || rc=1
	sleep 2
	grep -q '^nosnat_kube_connected 0' "$LAB_DIR/tf-a/nosnat.prom" ||
		fail "connected to a server its CA did not sign" || rc=1
	[ "$(backends_on a)" = 0 ] || fail "backends from that server: $(backends_on a)" || rc=1
	# no request got through the handshake: the server saw no list, no watch
	[ "$(kctl GET stats | jq '.list + .watch')" = 0 ] || fail "requests reached it: $(kctl GET stats)" || rc=1
	kill -TERM "$(cat "$LAB_DIR/capin.pid")" 2>/dev/null
	wait "$(cat "$LAB_DIR/capin.pid")" 2>/dev/null
	kube_down
	[ $rc = 0 ] && echo "a server certificate from a CA the system store trusts, not the configured one: refused, no request sent"
	return $rc
}

# Lists come in pages (limit, continue), each parsed on its own: seven
# Nodes in pages of two; the backend's node is on a later page.
t_kube_lists_in_pages() {
	local rc=0 i stats
	kube_up || { fail "fake API server"; kube_down; return 1; }
	for i in 1 2 3 4; do knode "node-extra$i" "198.51.100.10$i" || return 1; done
	knode node-a "${NODE_IP[a]}" && knode node-b "${NODE_IP[b]}" && knode node-c "${NODE_IP[c]}" &&
		kservice $VIP && kslice mailserver-x1 "$(kendpoint "${POD_IP[b]}" node-b true true false)" ||
		return 1
	mkdir -p "$LAB_DIR/kcfg"
	kube_config "$LAB_DIR/kcfg/nosnat.yaml"
	ATTACH_ARGS+=(--kube-list-limit 2)
	kube_daemon a
	wait_for 10 has_backends a 1 || fail "never synced: $(tail -3 "$LAB_DIR/krun-a.log")" || rc=1
	[ "$(nosnat_on a list --json | jq '.nodes | length')" = 7 ] ||
		fail "nodes: $(nosnat_on a list --json | jq -c .nodes)" || rc=1
	stats=$(kctl GET stats)
	[ "$(jq '.pages >= 4 and .unpaged_lists == 0' <<<"$stats")" = true ] || fail "server saw: $stats" || rc=1
	kill -TERM "$(cat "$LAB_DIR/krun-a.pid")" && wait "$(cat "$LAB_DIR/krun-a.pid")" 2>/dev/null
	kube_down
	[ $rc = 0 ] && echo "7 Nodes in pages of 2 ($(jq .pages <<<"$stats") pages served in all, none unpaged): all 7 nodes known, the pod on node-b resolved"
	return $rc
}

vip_backends_on() { # NODE VIP -> backends of VIP:25 ("none" when the VIP is absent)
	nosnat_on "$1" list --json | jq -r '[.vips[] | select(.vip=="'"$2"'" and .port==25)] |
		if length == 0 then "none" else (.[0].backends | length) end'
}
has_vip_backends() { [ "$(vip_backends_on "$1" "$2")" = "$3" ]; }

# One tenant scales its Deployment past what a node holds (17 endpoints
# on node a, NOSNAT_MAX_LOCAL is 16): that Service alone is skipped, logged
# once and counted; the mail Service keeps following its changes.
t_kube_one_service_does_not_stop_the_others() {
	local rc=0 i eps=() big=192.0.2.30 n
	kube_up || { fail "fake API server"; kube_down; return 1; }
	knode node-a "${NODE_IP[a]}" && knode node-b "${NODE_IP[b]}" && knode node-c "${NODE_IP[c]}" &&
		kservice $VIP && kslice mailserver-x1 "$(kendpoint "${POD_IP[b]}" node-b true true false)" &&
		kservice_in tenant big $big || { kube_down; return 1; }
	for i in $(seq 16); do eps+=("$(kendpoint "${POD_NET[a]}.$((100 + i))" node-a true true false)"); done
	kslice_in tenant big big-x1 "${eps[@]}" || { kube_down; return 1; }
	mkdir -p "$LAB_DIR/kcfg"
	printf 'nodes: kubernetes\nservices:\n  - service: mailserver/mailserver\n    ports: [25]\n  - service: tenant/big\n    ports: [25]\n' \
		>"$LAB_DIR/kcfg/nosnat.yaml"
	: >"$LAB_DIR/krun-a.log"
	kube_daemon a
	wait_for 10 has_vip_backends a $big 16 || fail "16 local endpoints: $(vip_backends_on a $big); $(tail -3 "$LAB_DIR/krun-a.log")" || rc=1
	# the 17th pod on node a
	eps+=("$(kendpoint "${POD_NET[a]}.117" node-a true true false)")
	kslice_in tenant big big-x1 "${eps[@]}"
	wait_for 5 grep -q "service tenant/big (VIP $big) skipped: $big:25/tcp has 17 backends on this node (at most 16); its last applied state stays" \
		"$LAB_DIR/krun-a.log" || fail "no line for the skipped Service: $(tail -5 "$LAB_DIR/krun-a.log")" || rc=1
	wait_for 5 grep -q '^nosnat_kube_rejected_services 1$' "$LAB_DIR/tf-a/nosnat.prom" ||
		fail "metric: $(grep rejected "$LAB_DIR/tf-a/nosnat.prom")" || rc=1
	# the mail Service still follows: its pod moves to node c
	kslice mailserver-x1 "$(kendpoint "${POD_IP[c]}" node-c true true false)"
	wait_for 5 has_weights a "${POD_IP[c]}:1" || fail "mail VIP frozen: $(weights_on a); $(tail -5 "$LAB_DIR/krun-a.log")" || rc=1
	has_vip_backends a $big 16 || fail "the skipped Service lost its last state: $(vip_backends_on a $big)" || rc=1
	n=$(grep -c "service tenant/big (VIP $big) skipped" "$LAB_DIR/krun-a.log")
	[ "$n" = 1 ] || fail "the skipped Service logged $n times, want once" || rc=1
	# scaled back to 16: applied again, nothing rejected
	unset 'eps[16]'
	kslice_in tenant big big-x1 "${eps[@]}"
	wait_for 5 grep -q '^nosnat_kube_rejected_services 0$' "$LAB_DIR/tf-a/nosnat.prom" ||
		fail "metric after scaling back: $(grep rejected "$LAB_DIR/tf-a/nosnat.prom")" || rc=1
	kill -TERM "$(cat "$LAB_DIR/krun-a.pid")" && wait "$(cat "$LAB_DIR/krun-a.pid")" 2>/dev/null
	kube_down
	[ $rc = 0 ] && echo "17 endpoints on one node: that Service skipped once (kept its 16), counted; the mail VIP followed its pod to c"
	return $rc
}

# A Service whose load balancer IP is a node's address (here this node's)
# is skipped with a line naming it; the node's own traffic is not taken.
t_kube_vip_is_a_node_address() {
	local rc=0
	kube_up || { fail "fake API server"; kube_down; return 1; }
	knode node-a "${NODE_IP[a]}" && knode node-b "${NODE_IP[b]}" && knode node-c "${NODE_IP[c]}" &&
		kservice $VIP && kslice mailserver-x1 "$(kendpoint "${POD_IP[b]}" node-b true true false)" &&
		kservice_in tenant bad "${NODE_IP[a]}" &&
		kslice_in tenant bad bad-x1 "$(kendpoint "${POD_IP[c]}" node-c true true false)" ||
		{ kube_down; return 1; }
	mkdir -p "$LAB_DIR/kcfg"
	printf 'nodes: kubernetes\nservices:\n  - service: mailserver/mailserver\n    ports: [25]\n  - service: tenant/bad\n    ports: [25]\n' \
		>"$LAB_DIR/kcfg/nosnat.yaml"
	: >"$LAB_DIR/krun-a.log"
	kube_daemon a
	wait_for 10 has_weights a "${POD_IP[b]}:1" || fail "mail VIP: $(weights_on a); $(tail -3 "$LAB_DIR/krun-a.log")" || rc=1
	wait_for 5 grep -q "service tenant/bad (VIP ${NODE_IP[a]}) skipped: VIP ${NODE_IP[a]} is the address of Node node-a; nothing applied for it" \
		"$LAB_DIR/krun-a.log" || fail "no line: $(tail -5 "$LAB_DIR/krun-a.log")" || rc=1
	has_vip_backends a "${NODE_IP[a]}" none || fail "the node's address became a VIP" || rc=1
	wait_for 5 nosnat_on a health >/dev/null || fail "health: $(nosnat_on a health)" || rc=1
	kill -TERM "$(cat "$LAB_DIR/krun-a.pid")" && wait "$(cat "$LAB_DIR/krun-a.pid")" 2>/dev/null
	kube_down
	[ $rc = 0 ] && echo "LB IP = node a's address: skipped and named; the mail VIP applied"
	return $rc
}

# A dual-stack Service: its LoadBalancer ingress lists a v4 and a v6
# address, and it has one EndpointSlice of each addressType. Each VIP
# follows its own family's slice, and each pod sees the client's own address.
t_kube_dual_stack() {
	local rc=0 seen n
	kube_up || { fail "fake API server: $(cat "$LAB_DIR/kube/server.log")"; return 1; }
	knode node-a "${NODE_IP[a]}" && knode node-b "${NODE_IP[b]}" && knode node-c "${NODE_IP[c]}" || return 1
	kput services "{\"kind\":\"Service\",\"apiVersion\":\"v1\",\"metadata\":{\"namespace\":\"mailserver\",\"name\":\"mailserver\",\"uid\":\"0b5e-dual\"},\"spec\":{\"type\":\"LoadBalancer\",\"externalTrafficPolicy\":\"Cluster\",\"ipFamilyPolicy\":\"RequireDualStack\",\"ipFamilies\":[\"IPv4\",\"IPv6\"],\"selector\":{\"app\":\"mailserver\"},\"ports\":[{\"name\":\"smtp\",\"protocol\":\"TCP\",\"port\":25,\"targetPort\":\"smtp\"}]},\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"$VIP\",\"ipMode\":\"VIP\"},{\"ip\":\"$VIP6\",\"ipMode\":\"VIP\"}]}}}" || return 1
	kslice mailserver-v4 "$(kendpoint "${POD_IP[b]}" node-b true true false)" || return 1
	kput endpointslices "{\"kind\":\"EndpointSlice\",\"apiVersion\":\"discovery.k8s.io/v1\",\"metadata\":{\"namespace\":\"mailserver\",\"name\":\"mailserver-v6\",\"labels\":{\"kubernetes.io/service-name\":\"mailserver\",\"endpointslice.kubernetes.io/managed-by\":\"endpointslice-controller.k8s.io\"}},\"addressType\":\"IPv6\",\"ports\":[{\"name\":\"smtp\",\"protocol\":\"TCP\",\"port\":2525}],\"endpoints\":[{\"addresses\":[\"${POD_IP6[c]}\"],\"conditions\":{\"ready\":true,\"serving\":true,\"terminating\":false},\"nodeName\":\"node-c\",\"targetRef\":{\"kind\":\"Pod\",\"namespace\":\"mailserver\",\"name\":\"mailserver-c\"}}]}" || return 1
	mkdir -p "$LAB_DIR/kcfg"
	kube_config "$LAB_DIR/kcfg/nosnat.yaml"
	for n in $NODES; do kube_daemon "$n" "$NOSNAT"; done
	for n in $NODES; do
		wait_for 10 sh -c "[ \"\$(ip netns exec $LAB-$n $NOSNAT --pin-dir $LAB_DIR/bpffs/$n list --json | jq '[.vips[].backends[]] | length')\" = 2 ]" ||
			{ fail "node $n never synced both families: $(tail -3 "$LAB_DIR/krun-$n.log")"; rc=1; }
	done
	seen=$(who client $VIP 25) && [[ $seen == "$CLIENT:"* ]] || fail "v4 VIP: $seen" || rc=1
	grep -qF "PEER $seen" "$LAB_DIR/pod-b.log" || fail "pod b saw no $seen" || rc=1
	echo "| v4 VIP -> pod b: $seen"
	seen=$(who client $VIP6 25) && [[ $seen == "[$CLIENT6]:"* ]] || fail "v6 VIP: $seen" || rc=1
	grep -qF "PEER $seen" "$LAB_DIR/pod-c.log" || fail "pod c saw no $seen" || rc=1
	echo "| v6 VIP -> pod c: $seen"
	kube_stop_daemons || rc=1
	[ $rc = 0 ] && echo "dual-stack Service: each VIP from its own family's EndpointSlice, the client's address kept in both"
	return $rc
}
