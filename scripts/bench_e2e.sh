#!/bin/bash
# End-to-end comparison in the namespace lab, one run, same generators. Every
# VIP path starts client -> router -> ingress node a; the pod is either on a
# (local) or on node b (remote, one more hop between the nodes). Each is
# measured four ways:
#   route   the kernel alone over the same hops, no nosnat attached: the
#           router routes the pod's address to node a, which hands it to its
#           pod (local) or routes it over a kernel ipip tunnel to node b
#           (remote: the same encapsulation, the same hops)
#   kube    kube-proxy's way (externalTrafficPolicy: Cluster): iptables
#           DNAT to the pod + MASQUERADE of what was DNATed, on node a
#   nosnat  nosnat attached with --hook xdp (whichever metadata mode the
#           kernel gives; attach's words are recorded), then with --hook tc
# Replies go pod -> its node -> router -> client in every row. Throughput
# (iperf3, one and 8 streams), new connections per second, the client
# address each pod saw, and (BENCH_E2E_CPU=1) CPU busy at a fixed rate.
# Writes TSV to $1, one line per row:
#   e2e NAME T1_BPS T8_BPS CONN_S SEEN CPU_PERF CPU_STAT WAY POD HOOK MODE LAB
# (WAY route|vxlan|kube|nosnat, POD local|remote, HOOK - or xdp|tc, MODE
# attach's words for the way the node runs, - for the rows without nosnat;
# LAB veth or wire, below).
# BENCH_SECS (4) seconds per measurement; BENCH_E2E_ROUNDS (1) runs every
# row that many times, in turns, and writes each column's median (the CPU
# columns, - unless BENCH_E2E_CPU=1, are measured in the first round only).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/build/bench_e2e.tsv}
SECS=${BENCH_SECS:-4}
ROUNDS=${BENCH_E2E_ROUNDS:-1}
# BENCH_E2E_CPU=1: also the CPU at a fixed rate (below). Off by default: it
# takes at least 3 x BENCH_SECS + 4 s a row, more than the rest of the row,
# and on a shared 2-core VM it read 5 % and 40 % for paths doing the same work.
CPU=${BENCH_E2E_CPU:-0}
# shellcheck source=lab.sh
source "$ROOT/scripts/lab.sh"
trap 'lab_down' EXIT
lab_up >/dev/null 2>&1 || { echo "lab setup failed"; exit 1; }
# BENCH_E2E_WIRE=1: the nodes' uplinks behave as a NIC's: the bridge hands
# each node MTU-sized frames (as a wire carries) and the node's veth
# coalesces them again (GRO, as a NIC's driver does). By default a veth
# passes a sender's 64 KiB TSO super-packets along unsegmented, and only a
# node whose eth0 runs XDP gets them cut to MTU (veth turns off TSO towards
# an XDP program that takes no multi-buffer frames).
LABKIND=veth
if [ "${BENCH_E2E_WIRE:-}" = 1 ]; then
	LABKIND=wire
	for n in $NODES; do
		nsx lan ethtool -K "l$n" tso off gso off >/dev/null
		nsx "$n" ethtool -K eth0 gro on >/dev/null
	done
fi
for n in $NODES; do
	ip netns exec "$LAB-pod-$n" iperf3 -s -D -p 5201 --pidfile "$LAB_DIR/iperf-$n.pid" >/dev/null 2>&1
	for _ in $(seq 30); do [ -s "$LAB_DIR/iperf-$n.pid" ] && break; sleep 0.1; done
	cat "$LAB_DIR/iperf-$n.pid" >>"$LAB_DIR/pids"
	echo >>"$LAB_DIR/pids"
done

# nosnat: VIP -> pod a (local to the ingress node a), VIP2 -> pod b (another
# node); kube-proxy's way: VIP3 -> pod b, VIP4 -> pod a. Every VIP is routed
# to node a, as the lab routes VIP (lab_announce a).
VIP2=192.0.2.11
VIP3=192.0.2.12
VIP4=192.0.2.13
for v in $VIP2 $VIP3 $VIP4; do
	nsx router ip route replace $v/32 via "${NODE_IP[a]}"
done

# Same-hop routing. Local: the lab already routes pod a's network to node a.
# Remote: pod b answers on two more addresses that the router sends to node
# a. Node a routes ROUTED_B to node b as it is (the lab's routes between
# nodes), and TUNNELED_B through a kernel tunnel to node b, which
# decapsulates it: vxlan, as this lab's kernels may lack ipip (the one
# nosnat uses has no ipip, gre or fou; nosnat decapsulates in BPF), so the
# tunnel row carries 30 more bytes of headers than IPIP and the plain one
# 20 fewer. Replies leave pod b as any of its own.
ROUTED_B=${POD_NET[b]}.3
TUNNELED_B=${POD_NET[b]}.4
nsx pod-b ip addr add $ROUTED_B/32 dev eth0
nsx pod-b ip addr add $TUNNELED_B/32 dev eth0
for n in a b; do
	m=b; [ $n = b ] && m=a
	nsx $n ip link add nsnvx type vxlan id 42 local "${NODE_IP[$n]}" remote "${NODE_IP[$m]}" dstport 4789 dev eth0
	nsx $n ip addr add "198.19.0.$([ $n = a ] && echo 1 || echo 2)/30" dev nsnvx
	nsx $n ip link set nsnvx up
done
nsx a ip route add $TUNNELED_B/32 via 198.19.0.2 dev nsnvx
nsx router ip route add $ROUTED_B/32 via "${NODE_IP[a]}"
nsx router ip route add $TUNNELED_B/32 via "${NODE_IP[a]}"

# kube-proxy's rules, as its iptables mode writes them for a Cluster policy
# Service reached from outside: mark for masquerade, DNAT; masquerade marked
# packets on the way out. Only while the kube rows run (kube_up/kube_down):
# the nat table's hooks are not on the other rows' path.
kube_up() {
	local v dst
	for v in $VIP3 $VIP4; do
		dst=${POD_IP[b]}
		[ "$v" = "$VIP4" ] && dst=${POD_IP[a]}
		nsx a iptables -t nat -A PREROUTING -d "$v" -p tcp -j MARK --set-xmark 0x4000/0x4000
		nsx a iptables -t nat -A PREROUTING -d "$v" -p tcp --dport 25 -j DNAT --to-destination "$dst:2525"
		nsx a iptables -t nat -A PREROUTING -d "$v" -p tcp --dport 5201 -j DNAT --to-destination "$dst:5201"
	done
	nsx a iptables -t nat -A POSTROUTING -m mark --mark 0x4000/0x4000 -j MASQUERADE
}
kube_down() {
	nsx a iptables -t nat -F
	nsx a nft delete table ip nat 2>/dev/null
	nsx a conntrack -F >/dev/null 2>&1
	return 0
}

# nosnat on every node with hook $1 (over an attach with another hook: the
# pins, configuration and flows stay); MODE: attach's words for node a's way
MODE=-
ENCAP=()	# attach's --encap (none: IPIP)
nosnat_attach() { # HOOK
	local n m words fresh=1
	[ "$MODE" = - ] || fresh=0
	for n in $NODES; do
		words=$(nosnat_on "$n" attach eth0 --hook "$1" --encap-via xdp "${ENCAP[@]}" 2>&1) || { echo "$words" >&2; return 1; }
		[ "$n" = a ] && MODE=$(printf '%s\n' "$words" | sed -n 's/^nosnat: attached to eth0 (.*mtu [0-9]*, \(.*\), sends .*/\1/p')
		[ $fresh = 1 ] || continue
		for m in $NODES; do
			[ "$m" = "$n" ] || nosnat_on "$n" node add "${NODE_IP[$m]}" >/dev/null || return 1
		done
	done
	[ $fresh = 1 ] || return 0
	nosnat_all vip add $VIP:25/tcp >/dev/null && nosnat_all vip add $VIP:5201/tcp >/dev/null &&
	nosnat_all vip add $VIP2:25/tcp >/dev/null && nosnat_all vip add $VIP2:5201/tcp >/dev/null &&
	nosnat_all backend add $VIP:25/tcp "${POD_IP[a]}:2525" --node "${NODE_IP[a]}" >/dev/null &&
	nosnat_all backend add $VIP:5201/tcp "${POD_IP[a]}:5201" --node "${NODE_IP[a]}" >/dev/null &&
	nosnat_all backend add $VIP2:25/tcp "${POD_IP[b]}:2525" --node "${NODE_IP[b]}" >/dev/null &&
	nosnat_all backend add $VIP2:5201/tcp "${POD_IP[b]}:5201" --node "${NODE_IP[b]}" >/dev/null
}
nosnat_detach() {
	local n
	for n in $NODES; do
		nosnat_on "$n" detach eth0 >/dev/null 2>&1
	done
	MODE=-
	return 0
}

# CPU busy, % of all CPUs over SECS seconds: the share of cpu-clock samples
# (4999 Hz per CPU, a rate no load here keeps in step with) not taken in the
# idle task. Not /proc/stat: on this kind of VM it is sampled by the 250 Hz
# tick without IRQ time accounting, and a paced load can fall between the
# ticks (one row read 0.2 % and 27 % at the same 43400 packets/s).
cpu_busy() { # SECS
	perf record -q -a -F 4999 -e cpu-clock -o "$LAB_DIR/cpu.perf" -- sleep "$1" >/dev/null 2>&1 ||
		{ echo n/a; return; }
	perf script -i "$LAB_DIR/cpu.perf" -F pid 2>/dev/null |
		awk '{ n++; if ($1 != 0) b++ } END { if (n) printf "%.1f\n", 100 * b / n; else print "n/a" }'
}

# Jiffies of system + irq + softirq, all CPUs, as /proc/stat counts them
# (shown beside perf's reading, so the difference can be seen in every run).
stat_busy() {
	awk '/^cpu / { print $4 + $7 + $8 }' /proc/stat
}

# CPU while iperf3 sends a fixed 500 Mbit/s: three windows of SECS inside
# one longer run (so iperf3's start and end stay outside them), the median
# window. The run counts only if iperf3 held the rate; else it is tried again.
fixed_rate_cpu() { # ADDR
	local addr=$1 try pid w rate steady a b t0 t1 busy
	local json="$LAB_DIR/fixed_rate.json" win="$LAB_DIR/fixed_rate.win"
	for try in 1 2 3; do
		: >"$win"
		nsx client iperf3 -c "$addr" -p 5201 -t $((3 * SECS + 3)) -b 500M -J >"$json" 2>/dev/null &
		pid=$!
		sleep 1.5
		for w in 1 2 3; do	# perf's reading, and /proc/stat's of the same window
			a=$(stat_busy); t0=$(date +%s.%N)
			busy=$(cpu_busy "$SECS")
			b=$(stat_busy); t1=$(date +%s.%N)
			awk -v p="$busy" -v a="$a" -v b="$b" -v t0="$t0" -v t1="$t1" -v hz="$(getconf CLK_TCK)" \
				-v n="$(nproc)" 'BEGIN { printf "%s\t%.1f\n", p, 100 * (b - a) / hz / (t1 - t0) / n }' >>"$win"
		done
		wait "$pid" || { sleep 1; continue; }
		rate=$(jq '.end.sum_sent.bits_per_second // 0' "$json" 2>/dev/null)
		# the windows count only if the load was steady through them: every
		# one-second report from 1 s to the windows' end near 500 Mbit/s (an
		# average of 500 can hide a stall made up for by a burst)
		steady=$(jq --argjson hi $((3 * SECS + 2)) '[.intervals[].sum | select(.start >= 1 and .end <= $hi)
			| .bits_per_second] | length > 0 and all(. > 400e6 and . < 600e6)' "$json" 2>/dev/null)
		if [ "$steady" = true ] && awk -v r="${rate:-0}" 'BEGIN { exit !(r > 450e6 && r < 550e6) }'; then
			sort -n "$win" | sed -n 2p	# the median window by perf
			return 0
		fi
		sleep 1
	done
	printf 'n/a\tn/a\n'
}

RAW=$LAB_DIR/rows.tsv
: >"$RAW"
ROUND=1
# Each row's connections come from a client address of their own: a row
# opens some 10,000 connections, and without SNAT a pod sees client:port
# just as the client sent it, so a row after another through the same pod
# reuses the client's ports on 4-tuples the pod and node still hold from the
# row before (TIME_WAIT, conntrack), and ran at a quarter of its rate.
NROW=0
row() { # WAY POD NAME ADDR CONN_PORT
	local way=$1 pod=$2 name=$3 addr=$4 port=$5 t1 t8 conns seen cpu=$'-\t-' hook=- src
	[ "$way" = nosnat ] && hook=$HOOK
	NROW=$((NROW + 1))
	src=203.0.113.$((10 + NROW))
	nsx client ip addr replace "$src/24" dev c0
	nsx client ip route replace default via 203.0.113.1 src "$src"
	[ "$ROUND" = 1 ] && [ "$CPU" = 1 ] && cpu=$(fixed_rate_cpu "$addr")
	t1=$(nsx client iperf3 -c "$addr" -p 5201 -t "$SECS" -J 2>/dev/null | jq '.end.sum_received.bits_per_second // 0')
	t8=$(nsx client iperf3 -c "$addr" -p 5201 -t "$SECS" -P 8 -J 2>/dev/null | jq '.end.sum_received.bits_per_second // 0')
	conns=$(nsx client "$NSN_TCP" load "$addr" "$port" "$SECS" 100000 2>/dev/null | awk '{ print $4 }')
	seen=$(nsx client timeout 5 "$NSN_TCP" who "$addr" "$port" | cut -d: -f1)
	printf 'e2e\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "${t1:-0}" "${t8:-0}" \
		"$(awk -v c="${conns:-0}" -v s="$SECS" 'BEGIN { printf "%.0f", c / s }')" "${seen:-none}" "$cpu" \
		"$way" "$pod" "$hook" "$MODE" "$LABKIND" >>"$RAW"
	echo "round $ROUND: $(tail -1 "$RAW")" >&2
}

for ROUND in $(seq "$ROUNDS"); do
	NROW=0
	nosnat_detach
	HOOK=-
	row route local "kernel routing, pod on the ingress node" "${POD_IP[a]}" 2525
	row route remote "kernel routing, pod on another node" $ROUTED_B 2525
	row vxlan remote "kernel routing over a vxlan tunnel, pod on another node" $TUNNELED_B 2525
	kube_up
	row kube local "kube-proxy way (DNAT + MASQUERADE), pod on the ingress node" $VIP4 25
	row kube remote "kube-proxy way (DNAT + MASQUERADE), pod on another node" $VIP3 25
	kube_down
	for HOOK in xdp tc; do
		# attach over a live attach switches the way (pins and flows stay)
		nosnat_attach $HOOK || { echo "nosnat attach --hook $HOOK failed"; exit 1; }
		row nosnat local "nosnat $HOOK, pod on the ingress node" $VIP 25
		row nosnat remote "nosnat $HOOK, pod on another node (IPIP)" $VIP2 25
		# the same pod in GUE: every node attached again sending it
		ENCAP=(--encap gue)
		nosnat_attach $HOOK || { echo "nosnat attach --hook $HOOK --encap gue failed"; exit 1; }
		row nosnat remote-gue "nosnat $HOOK, pod on another node (GUE)" $VIP2 25
		ENCAP=()
		nosnat_attach $HOOK || { echo "nosnat attach --hook $HOOK failed"; exit 1; }
	done
done

# each row's median over the rounds, column by column (first round's words)
awk -F'\t' -v OFS='\t' '
	function med(k, c,   n, i, j, t, v) {
		n = 0
		for (i = 1; i <= R; i++) if ((k, i, c) in x && x[k, i, c] != "-" && x[k, i, c] != "n/a") v[++n] = x[k, i, c] + 0
		if (!n) return first[k, c]
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
		return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
	}
	{ k = $2; r[k]++; if (r[k] > R) R = r[k]
	  if (r[k] == 1) { order[++m] = k; for (c = 1; c <= NF; c++) first[k, c] = $c }
	  for (c = 3; c <= 8; c++) if (c != 6) x[k, r[k], c] = $c }
	END {
		for (i = 1; i <= m; i++) {
			k = order[i]
			for (c = 3; c <= 8; c++) if (c != 6) {
				v = med(k, c)
				if (v ~ /^[0-9.e+]+$/) v = sprintf(c <= 5 ? "%.0f" : "%.1f", v)
				first[k, c] = v
			}
			printf "%s", first[k, 1]; for (c = 2; c <= 13; c++) printf "\t%s", first[k, c]; printf "\n"
		}
	}' "$RAW" >"$OUT"
printf 'e2e_rounds\t%s\n' "$ROUNDS" >>"$OUT"	# how many runs each median is of
cat "$OUT"
