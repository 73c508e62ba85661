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

cpu_busy() { # jiffies of system + irq + softirq on all CPUs
	awk '/^cpu / { print $4 + $7 + $8 }' /proc/stat
}

: >"$OUT"
# CPU while iperf3 sends a fixed rate; the run is repeated if iperf3 could not
# start (its server still busy with the run before), and timed as it ran.
fixed_rate_cpu() { # ADDR -> percent of all CPUs
	local addr=$1 c0 c1 t0 t1 try
	for try in 1 2 3; do
		c0=$(cpu_busy)
		t0=$(date +%s.%N)
		if nsx client iperf3 -c "$addr" -p 5201 -t "$SECS" -b 500M >/dev/null 2>&1; then
			t1=$(date +%s.%N)
			c1=$(cpu_busy)
			awk -v a="$c0" -v b="$c1" -v hz="$(getconf CLK_TCK)" -v t0="$t0" -v t1="$t1" -v n="$(nproc)" \
				'BEGIN { printf "%.1f", 100 * (b - a) / hz / (t1 - t0) / n }'
			return 0
		fi
		sleep 1
	done
	echo "n/a"
}

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
