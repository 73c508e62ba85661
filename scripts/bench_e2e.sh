#!/bin/bash
# End-to-end comparison in the namespace lab, one run, same generators:
# direct routing to the pod (the ceiling), the kube-proxy way (iptables
# DNAT + MASQUERADE on the ingress node), nosnat with the pod on the ingress
# node, nosnat with the pod on another node (IPIP). Throughput (iperf3, one
# and 8 streams), new connections per second, CPU (softirq + system) at a
# fixed rate, and the client address each pod saw. Writes TSV to $1.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/build/bench_e2e.tsv}
SECS=${BENCH_SECS:-4}
# shellcheck source=lab.sh
source "$ROOT/scripts/lab.sh"
trap 'lab_down' EXIT
lab_up >/dev/null 2>&1 || { echo "lab setup failed"; exit 1; }
lab_nosnat_up --encap-via xdp >/dev/null 2>&1 || { echo "nosnat attach failed"; exit 1; }
for n in $NODES; do
	ip netns exec "$LAB-pod-$n" iperf3 -s -D -p 5201 --pidfile "$LAB_DIR/iperf-$n.pid" >/dev/null 2>&1
	for _ in $(seq 30); do [ -s "$LAB_DIR/iperf-$n.pid" ] && break; sleep 0.1; done
	cat "$LAB_DIR/iperf-$n.pid" >>"$LAB_DIR/pids"
	echo >>"$LAB_DIR/pids"
done
# nosnat: VIP:25 and VIP:5201 -> pod a (local to node a) ...
nosnat_all vip add $VIP:25/tcp >/dev/null && nosnat_all vip add $VIP:5201/tcp >/dev/null
# ... and VIP 192.0.2.11 -> pod b (another node)
VIP2=192.0.2.11
nosnat_all vip add $VIP2:25/tcp >/dev/null && nosnat_all vip add $VIP2:5201/tcp >/dev/null
nosnat_all backend add $VIP:25/tcp "${POD_IP[a]}:2525" --node "${NODE_IP[a]}" >/dev/null
nosnat_all backend add $VIP:5201/tcp "${POD_IP[a]}:5201" --node "${NODE_IP[a]}" >/dev/null
nosnat_all backend add $VIP2:25/tcp "${POD_IP[b]}:2525" --node "${NODE_IP[b]}" >/dev/null
nosnat_all backend add $VIP2:5201/tcp "${POD_IP[b]}:5201" --node "${NODE_IP[b]}" >/dev/null
nsx router ip route replace $VIP2/32 via "${NODE_IP[a]}"
# kube-proxy's way for VIP3 (not a nosnat VIP): DNAT to pod b, MASQUERADE
VIP3=192.0.2.12
nsx router ip route replace $VIP3/32 via "${NODE_IP[a]}"
nsx a iptables -t nat -A PREROUTING -d $VIP3 -p tcp --dport 25 -j DNAT --to-destination "${POD_IP[b]}:2525"
nsx a iptables -t nat -A PREROUTING -d $VIP3 -p tcp --dport 5201 -j DNAT --to-destination "${POD_IP[b]}:5201"
nsx a iptables -t nat -A POSTROUTING -d "${POD_IP[b]}" -j MASQUERADE

cpu_jiffies() { # "busy softirq": jiffies of system + irq + softirq, and of softirq, all CPUs
	awk '/^cpu / { print $4 + $7 + $8, $8 }' /proc/stat
}

# CPU while iperf3 sends a fixed 500 Mbit/s: three windows of SECS inside
# one longer run (so iperf3's start and end stay outside them), the median
# window reported as "busy% softirq%" of all CPUs. The run counts only if
# iperf3 reached the rate (within 10 %); else it is tried again.
fixed_rate_cpu() { # ADDR
	local addr=$1 try pid w a b t0 t1 rate
	local json="$LAB_DIR/fixed_rate.json" win="$LAB_DIR/fixed_rate.win"
	for try in 1 2 3; do
		: >"$win"
		nsx client iperf3 -c "$addr" -p 5201 -t $((3 * SECS + 3)) -b 500M -J >"$json" 2>/dev/null &
		pid=$!
		sleep 1.5
		for w in 1 2 3; do
			a=$(cpu_jiffies); t0=$(date +%s.%N)
			sleep "$SECS"
			b=$(cpu_jiffies); t1=$(date +%s.%N)
			awk -v a="$a" -v b="$b" -v t0="$t0" -v t1="$t1" -v hz="$(getconf CLK_TCK)" -v n="$(nproc)" \
				'BEGIN { split(a, x, " "); split(b, y, " ");
					 printf "%.1f %.1f\n", 100 * (y[1] - x[1]) / hz / (t1 - t0) / n,
					 100 * (y[2] - x[2]) / hz / (t1 - t0) / n }' >>"$win"
		done
		wait "$pid" || { sleep 1; continue; }
		rate=$(jq '.end.sum_sent.bits_per_second // 0' "$json" 2>/dev/null)
		# the windows count only if the load was steady through them: every
		# one-second report from 1 s to the windows' end near 500 Mbit/s (an
		# average of 500 can hide a stall made up for by a burst)
		steady=$(jq --argjson hi $((3 * SECS + 2)) '[.intervals[].sum | select(.start >= 1 and .end <= $hi)
			| .bits_per_second] | length > 0 and all(. > 400e6 and . < 600e6)' "$json" 2>/dev/null)
		if [ "$steady" = true ] && awk -v r="${rate:-0}" 'BEGIN { exit !(r > 450e6 && r < 550e6) }'; then
			sort -n "$win" | sed -n 2p | tr ' ' '\t'
			return 0
		fi
		sleep 1
	done
	printf 'n/a\tn/a\n'
}

: >"$OUT"
row() { # NAME ADDR
	local name=$1 addr=$2 t1 t8 conns seen cpu
	cpu=$(fixed_rate_cpu "$addr")
	t1=$(nsx client iperf3 -c "$addr" -p 5201 -t "$SECS" -J 2>/dev/null | jq '.end.sum_received.bits_per_second // 0')
	t8=$(nsx client iperf3 -c "$addr" -p 5201 -t "$SECS" -P 8 -J 2>/dev/null | jq '.end.sum_received.bits_per_second // 0')
	conns=$(nsx client "$NSN_TCP" load "$addr" "$([ "$addr" = "${POD_IP[b]}" ] && echo 2525 || echo 25)" \
		"$SECS" 100000 2>/dev/null | awk '{ print $4 }')
	seen=$(nsx client timeout 5 "$NSN_TCP" who "$addr" "$([ "$addr" = "${POD_IP[b]}" ] && echo 2525 || echo 25)" | cut -d: -f1)
	printf 'e2e\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$t1" "$t8" \
		"$(awk -v c="$conns" -v s="$SECS" 'BEGIN { printf "%.0f", c / s }')" "$seen" "$cpu" >>"$OUT"
	tail -1 "$OUT"
}
row "direct routing to the pod (ceiling)" "${POD_IP[b]}"
row "kube-proxy way (DNAT + MASQUERADE)" $VIP3
row "nosnat, pod on the ingress node" $VIP
row "nosnat, pod on another node (IPIP)" $VIP2
