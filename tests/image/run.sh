#!/bin/bash
# The DaemonSet's image, run the way deploy/daemonset.yaml runs it, on an
# emulated node: lab node a of the namespace lab is the node, a directory
# stands for its root filesystem (hostPath volumes, the kubelet's seccomp
# directory, the ConfigMap's kubelet layout), the fake API server is the
# cluster. tests/image/manifest.py reads the manifest and gives podman the
# same settings; every one it applies is printed. Nodes b and c run the
# host's nosnat as before (pod b serves the mail VIP).
# Usage: run.sh IMAGE   (make test-image builds it first)
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../../scripts/lab.sh
source "$ROOT/scripts/lab.sh"
# shellcheck source=../kube/lib.sh
source "$ROOT/tests/kube/lib.sh"
# shellcheck source=../e2e/lib.sh
source "$ROOT/tests/e2e/lib.sh"

IMAGE=${1:?usage: run.sh IMAGE}
export CONTAINERS_CONF=$ROOT/tests/image/containers.conf
ATTACH_ARGS=()			# the manifest's defaults (encapsulation via tc on veth)
NODE_ROOT=$LAB_DIR/root-a	# node a's "/"
CTR=nosnat-$LAB
PASSED=0
FAILED=0
LOG=$(mktemp /tmp/nosnat-image.XXXXXX)

cleanup() {
	local c
	for c in "$CTR-default" "$CTR-1" "$CTR-2" "$CTR-init"; do
		podman rm -f -t 0 "$c" >/dev/null 2>&1
	done
	mountpoint -q "$NODE_ROOT/sys/fs/bpf" 2>/dev/null && umount "$NODE_ROOT/sys/fs/bpf"
	lab_down
	rm -f "$LOG"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# check DESCRIPTION CMD...: one line per check; CMD's output shown on failure
check() {
	local what=$1
	shift
	if "$@" >"$LOG" 2>&1; then
		echo "  ok    $what$(grep -v '^| ' "$LOG" | tail -1 | sed 's/^./: &/')"
		grep '^| ' "$LOG" | sed 's/^| /          /'
		PASSED=$((PASSED + 1))
	else
		echo "  FAIL  $what"
		sed 's/^/    /' "$LOG"
		FAILED=$((FAILED + 1))
	fi
}
finish() {
	echo "image: $PASSED passed, $FAILED failed"
	[ "$FAILED" = 0 ]
	exit
}
fatal() {
	echo "  FAIL  $*"
	[ -s "$LOG" ] && sed 's/^/    /' "$LOG"
	FAILED=$((FAILED + 1))
	finish
}

export CONTAINERS_CONF
podman image exists "$IMAGE" || fatal "no image $IMAGE (make image)"

echo "image: building the lab ($LAB)"
lab_up >"$LOG" 2>&1 || fatal "lab setup"
# node a's root: the hostPath directories the kubelet would find or create
mkdir -p "$NODE_ROOT/sys/fs/bpf" "$NODE_ROOT/configmaps/nosnat-config" \
	"$NODE_ROOT/var/lib/kubelet/seccomp/nosnat" "$NODE_ROOT/var/lib/node_exporter/textfile_collector"
mount -t bpf bpf "$NODE_ROOT/sys/fs/bpf" || fatal "bpffs for node a"
kube_up >"$LOG" 2>&1 || fatal "fake API server: $(cat "$LAB_DIR/kube/server.log")"
for n in $NODES; do knode "node-$n" "${NODE_IP[$n]}"; done
kservice $VIP
kslice mail-1 "$(kendpoint "${POD_IP[b]}" node-b true true false)"
mkdir -p "$LAB_DIR/kcfg"
kube_config "$LAB_DIR/kcfg/nosnat.yaml"
cm_publish "$NODE_ROOT/configmaps/nosnat-config" "$LAB_DIR/kcfg/nosnat.yaml"
for n in b c; do kube_daemon "$n"; done

SETTINGS=$(python3 "$ROOT/tests/image/manifest.py" "$ROOT/deploy/daemonset.yaml" "$IMAGE" \
	"$NODE_ROOT" "$LAB-a" "${NODE_IP[a]}" $KUBE_API $KUBE_PORT "$LAB_DIR/kube/sa" 2>"$LOG") ||
	fatal "manifest.py"
echo "image: $IMAGE, as deploy/daemonset.yaml says:"
grep '^# ' <<<"$SETTINGS" | sed 's/^# /  manifest: /'
eval "$(grep -v '^# ' <<<"$SETTINGS")"

# --- the checks --------------------------------------------------------------

# podman's default seccomp profile (containers-common's, CRI-O's too) refuses
# bpf() without CAP_SYS_ADMIN:
# the reason the manifest names a profile. Same container, no profile.
default_profile_refused() {
	local args=() i rc
	for ((i = 0; i < ${#MAIN[@]}; i++)); do
		if [ "${MAIN[i]}" = --security-opt ] && [[ ${MAIN[i + 1]} == seccomp=* ]]; then
			i=$((i + 1))
			continue
		fi
		args+=("${MAIN[i]}")
	done
	timeout 60 podman run --name "$CTR-default" "${args[@]}" >"$LAB_DIR/default.log" 2>&1
	rc=$?
	podman rm -f -t 0 "$CTR-default" >/dev/null 2>&1
	cat "$LAB_DIR/default.log"
	[ $rc != 0 ] && [ $rc != 124 ] && grep -q "Operation not permitted" "$LAB_DIR/default.log"
}

init_containers() {
	local i arr
	for ((i = 0; i < N_INIT; i++)); do
		arr="INIT_$i[@]"
		podman run --rm --name "$CTR-init" "${!arr}" || return 1
	done
	cmp "$ROOT/deploy/seccomp/nosnat.json" "$NODE_ROOT/var/lib/kubelet/seccomp/nosnat/nosnat.json"
}

start_main() { # NAME
	podman run -d --name "$1" "${MAIN[@]}" >/dev/null || return 1
	wait_for 60 podman exec "$1" "${READY[@]}" || { podman logs "$1"; return 1; }
	podman exec "$1" "${READY[@]}"
}

probe_says() { # CONTAINER WANT-RC PATTERN PROBE...
	local c=$1 want=$2 pat=$3 out rc
	shift 3
	out=$(podman exec "$c" "$@" 2>&1)
	rc=$?
	echo "$* -> exit $rc: $out"
	[ "$rc" = "$want" ] && grep -q -- "$pat" <<<"$out"
}

# The container runs under deploy/seccomp/nosnat.json: a filter is in force,
# and keyctl, which containers-common's default (podman's, the previous
# profile) allows every container and containerd's default does not, is
# refused. perl-base is in every Debian image; keyctl is 250 on x86_64 (the
# profile's architectures are amd64's).
profile_in_force() {
	local out
	out=$(podman exec "$CTR-1" grep '^Seccomp:' /proc/self/status) || return 1
	echo "$out"
	[ "$(awk '{ print $2 }' <<<"$out")" = 2 ] || return 1
	# keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0)
	podman exec "$CTR-1" perl -e '$r = syscall(250, 0, -3, 0);
		print "keyctl: ", ($r < 0 ? "$!" : "allowed"), "\n"; exit($r < 0 && $!{EPERM} ? 0 : 1)'
}

client_reaches_pod_b() {
	local seen
	seen=$(who client $VIP 25) || return 1
	echo "pod saw $seen"
	[ "${seen%:*}" = $CLIENT ] && grep -q "$CLIENT" "$LAB_DIR/pod-b.log"
}

stats_in_container() {
	local n
	podman exec "$CTR-1" "${LIVE[@]}" || return 1
	n=$(podman exec "$CTR-1" /usr/local/sbin/nosnat stats --json |
		jq '[.vips[] | select(.vip=="'$VIP'" and .port==25)][0].packets')
	echo "VIP packets on node a: $n"
	[ "${n:-0}" -gt 0 ]
}

textfile_on_host() {
	local f=$NODE_ROOT/var/lib/node_exporter/textfile_collector/nosnat.prom
	wait_for 20 grep -q '^nosnat_kube_connected 1' "$f" || { cat "$f"; return 1; }
	grep -q '^nosnat_build_info' "$f" || return 1
	# the daemon verified the maps after its apply, with the container's capabilities
	wait_for 20 grep -q '^nosnat_verify_inconsistencies 0$' "$f" || { grep verify "$f"; return 1; }
}

# verify with the DaemonSet's capabilities and seccomp profile (no
# CAP_SYS_ADMIN: the Maglev tables are read through a program)
verify_in_container() {
	local out
	out=$(podman exec "$CTR-1" /usr/local/sbin/nosnat verify 2>&1) || { echo "$out"; return 1; }
	echo "$out"
}

vip_ports() { # CONTAINER -> the mail VIP's ports, sorted
	podman exec "$1" /usr/local/sbin/nosnat list --json | jq -r '[.vips[] | select(.vip=="'$VIP'") | .port] | sort | join(",")'
}
configmap_swap_followed() {
	printf 'nodes: kubernetes\nservices:\n  - service: mailserver/mailserver\n    ports: [25, 587]\n' \
		>"$LAB_DIR/kcfg/two.yaml"
	cm_publish "$NODE_ROOT/configmaps/nosnat-config" "$LAB_DIR/kcfg/two.yaml"
	wait_for 20 bash -c "[ \"\$(podman exec $CTR-1 /usr/local/sbin/nosnat list --json | jq -r '[.vips[] | select(.vip==\"$VIP\") | .port] | sort | join(\",\")')\" = 25,587 ]" ||
		{ vip_ports "$CTR-1"; return 1; }
	echo "VIP ports after the ..data swap: $(vip_ports "$CTR-1")"
}

readiness_follows_config() {
	echo "services: [" >"$LAB_DIR/kcfg/bad.yaml"
	cm_publish "$NODE_ROOT/configmaps/nosnat-config" "$LAB_DIR/kcfg/bad.yaml"
	wait_for 20 bash -c "! podman exec $CTR-1 ${READY[*]} >/dev/null 2>&1" || return 1
	probe_says "$CTR-1" 1 "not ready: .* on eth0.*, the last configuration failed" "${READY[@]}" || return 1
	probe_says "$CTR-1" 0 "" "${LIVE[@]}" >/dev/null || return 1
	echo "liveness still passes (the dataplane serves the previous state)"
	cm_publish "$NODE_ROOT/configmaps/nosnat-config" "$LAB_DIR/kcfg/two.yaml"
	wait_for 20 podman exec "$CTR-1" "${READY[@]}" >/dev/null || return 1
	probe_says "$CTR-1" 0 "^ready: .* on eth0.*, configuration applied" "${READY[@]}"
}

memory_limited() { # the kernel's limit on the container's memory cgroup, and its peak use
	local pid cg lim peak
	pid=$(podman inspect --format '{{.State.Pid}}' "$CTR-1") || return 1
	cg=$(awk -F: '$2 == "memory" { print $3 }' "/proc/$pid/cgroup")
	if [ -n "$cg" ]; then	# cgroup v1
		lim=$(cat "/sys/fs/cgroup/memory$cg/memory.limit_in_bytes")
		peak=$(cat "/sys/fs/cgroup/memory$cg/memory.max_usage_in_bytes")
		awk '$1 == "total_rss" || $1 == "total_cache" { printf "| %s %d MiB\n", $1, $2 / 1048576 }' \
			"/sys/fs/cgroup/memory$cg/memory.stat"
		echo "| kernel memory (BPF maps among it): $(($(cat "/sys/fs/cgroup/memory$cg/memory.kmem.usage_in_bytes") / 1048576)) MiB"
	else			# cgroup v2
		cg=$(awk -F: '$1 == "0" { print $3 }' "/proc/$pid/cgroup")
		lim=$(cat "/sys/fs/cgroup$cg/memory.max")
		peak=$(cat "/sys/fs/cgroup$cg/memory.peak" 2>/dev/null || cat "/sys/fs/cgroup$cg/memory.current")
	fi
	echo "limit $((lim / 1048576)) MiB, peak use $((peak / 1048576)) MiB (the BPF maps it created included)"
	[ -n "$MEMORY_LIMIT_MIB" ] && [ "$lim" = $((MEMORY_LIMIT_MIB * 1048576)) ]
}

stop_exits_0() {
	local code
	podman stop -t "$STOP_TIMEOUT" "$CTR-1" >/dev/null || return 1
	code=$(podman inspect --format '{{.State.ExitCode}}' "$CTR-1")
	podman logs "$CTR-1" 2>&1 | tail -3
	echo "exit code $code"
	[ "$code" = 0 ]
}

idle_answers() { # ROUND
	push_next
	round_ok vip "$1" 4
}

probes_fail_when_detached() {
	podman exec "$CTR-2" /usr/local/sbin/nosnat detach eth0 || return 1
	probe_says "$CTR-2" 1 "no nosnat state under /sys/fs/bpf/nosnat" "${LIVE[@]}" &&
		probe_says "$CTR-2" 1 "no nosnat state under /sys/fs/bpf/nosnat" "${READY[@]}"
}

image_version() {
	local out
	out=$(podman run --rm --pull=never "$IMAGE" --version) || return 1
	echo "$out"
	[ "$out" = "nosnat ${IMAGE##*:}" ]
}

check "the image's nosnat is this build" image_version
check "podman's default seccomp profile refuses nosnat (bpf: Operation not permitted)" \
	default_profile_refused
check "init container installs the seccomp profile on the node" init_containers
check "container starts; readiness probe passes" start_main "$CTR-1"
check "the container runs under nosnat's seccomp profile (keyctl refused)" profile_in_force
check "client's TCP through the VIP reaches pod b (node b) with the client's address" \
	client_reaches_pod_b
check "liveness probe and 'nosnat stats' through podman exec" stats_in_container
check "metrics textfile on the host path, Kubernetes connected, the maps verified" textfile_on_host
check "'nosnat verify' in the container: the maps agree" verify_in_container
check "the memory limit holds the container" memory_limited
check "a ConfigMap ..data swap is followed" configmap_swap_followed
check "readiness fails on a bad configuration, passes when it is fixed; liveness holds" \
	readiness_follows_config
check "4 idle connections (server speaks first) through the VIP" idle_start vip $VIP 25 4 3
check "idle connections answer" idle_answers 1
check "SIGTERM (podman stop) exits 0" stop_exits_0
check "traffic still flows with no container" client_reaches_pod_b
check "idle connections answer with no container" idle_answers 2
check "rolling update: a second container over the same pins is ready" start_main "$CTR-2"
check "idle connections answer after the rolling update (flows kept)" idle_answers 3
check "a new connection after the rolling update" client_reaches_pod_b
check "liveness and readiness fail once the dataplane is detached" probes_fail_when_detached
idle_stop vip
finish
