# shellcheck shell=bash
# Helpers of the end-to-end tests that the image test (tests/image/run.sh)
# shares: waiting, ConfigMap publishing, who-am-I and idle connections.
# Needs scripts/lab.sh sourced first.

fail() { echo "    $*" >&2; return 1; }

# who NS HOST PORT -> the "ip:port" the server saw
who() { nsx "$1" timeout 10 "$NSN_TCP" who "$2" "$3"; }

# Publish a config the way the kubelet updates a mounted ConfigMap: a new
# timestamped directory, then an atomic rename of the "..data" symlink.
cm_publish() {
	local dir=$1 src=$2 ts
	ts="..$(date +%Y_%m_%d_%H_%M_%S.%N)"
	mkdir -p "$dir/$ts"
	cp "$src" "$dir/$ts/nosnat.yaml"
	ln -sfn "$ts" "$dir/..data_tmp"
	mv -T "$dir/..data_tmp" "$dir/..data"
	[ -L "$dir/nosnat.yaml" ] || ln -s ..data/nosnat.yaml "$dir/nosnat.yaml"
}

# wait_for SECONDS CMD...: until CMD succeeds
wait_for() {
	local t=$1 i
	shift
	for ((i = 0; i < t * 10; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# new_conns_reach POD: 5 new connections through the VIP reach that pod,
# each with the client's own address and port
new_conns_reach() {
	local pod=$1 i port rc=0
	for i in 1 2 3 4 5; do
		port=$(who client $VIP 25 | cut -d: -f2) || { fail "new connection failed"; rc=1; continue; }
		grep -q "PEER $CLIENT:$port\$" "$LAB_DIR/pod-$pod.log" ||
			{ fail "new connection $port not at pod $pod with the client's address"; rc=1; }
	done
	return $rc
}

# pod_sees_client POD: a connection through the VIP reaches it from the
# client's address (printed: what the pod saw)
pod_sees_client() {
	local seen
	seen=$(who client $VIP 25) || fail "no connection through the VIP" || return 1
	[[ $seen == "$CLIENT:"* ]] || fail "pod saw $seen, not the client $CLIENT" || return 1
	grep -q "^PEER $CLIENT:" "$LAB_DIR/pod-$1.log" || fail "pod $1 log has no client" || return 1
	echo "$seen"
}

# idle_start NAME HOST PORT N ROUNDS: N idle connections from the client
idle_start() {
	local name=$1 src=""
	# to a pod's own address: from the client's second address (lab.sh)
	[ "$2" = "$VIP" ] || [[ $2 == *:* ]] || src=$CLIENT_DIRECT
	: >"$LAB_DIR/$name.status"
	NSN_TCP_SRC=$src nsx client timeout 600 "$NSN_TCP" idle "$2" "$3" "$4" "$5" "$LAB_DIR/$name.status" \
		>"$LAB_DIR/$name.out" 2>&1 &
	echo $! >"$LAB_DIR/$name.pid"
	wait_for 10 grep -q "^idling $4" "$LAB_DIR/$name.status" ||
		fail "$name: $(cat "$LAB_DIR/$name.out" "$LAB_DIR/$name.status")"
}
idle_stop() { local p; p=$(cat "$LAB_DIR/$1.pid" 2>/dev/null) && kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; }
# every pod server speaks once on each of its idle connections
push_next() {
	local g n
	g=$(($(cat "$LAB_DIR/push-gen" 2>/dev/null || echo 0) + 1))
	echo "$g" >"$LAB_DIR/push-gen"
	for n in $NODES; do echo "$g" >"$LAB_DIR/pod-$n.log.push"; done
}
# round_ok NAME R N: round R of NAME reached and answered all N connections
round_ok() {
	wait_for 30 grep -q "^round $2:" "$LAB_DIR/$1.status" &&
		grep -q "^round $2: $3 of $3$" "$LAB_DIR/$1.status" ||
		fail "$1, round $2: $(grep "^round $2" "$LAB_DIR/$1.status" || echo 'no answer in 30 s')"
}
# both idle sets answer round R: 8 through the VIP, 2 straight to pod b
rounds_ok() { round_ok vip "$1" 8 && round_ok pod "$1" 2; }
idle_both() { # ROUNDS
	idle_start vip $VIP 25 8 "$1" && idle_start pod "${POD_IP[b]}" 2525 2 "$1"
}
