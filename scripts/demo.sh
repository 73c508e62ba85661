#!/bin/bash
# The demo: an emulated bare-metal cluster in network namespaces, the mail
# VIP announced by node a, the mail pod on node b. A client connects through
# the VIP; the pod reports the address it saw; nosnat shows its counters.
# Everything is torn down at the end.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" != 0 ]; then
	echo "demo: run as root (it builds network namespaces and loads BPF)" >&2
	exit 1
fi
"$ROOT/scripts/deps.sh" || exit 1
make -C "$ROOT" -s all build/nsn_tcp build/xdp_pass.bpf.o || exit 1
# shellcheck source=lab.sh
source "$ROOT/scripts/lab.sh"
trap lab_down EXIT

say() { printf '\n\033[1m%s\033[0m\n' "$*"; }

say "Building the lab: client -> router -> LAN -> nodes a, b, c (each with a pod)"
lab_up || exit 1
lab_nosnat_up --encap-via xdp || exit 1
say "Every node gets the same config (as the DaemonSet would apply it):"
echo "  VIP $VIP:25/tcp -> pod ${POD_IP[b]}:2525 on node b (${NODE_IP[b]})"
nosnat_all vip add $VIP:25/tcp >/dev/null || exit 1
nosnat_all backend add $VIP:25/tcp "${POD_IP[b]}:2525" --node "${NODE_IP[b]}" >/dev/null || exit 1
nosnat_on a list

say "The router sends the VIP to node a (the MetalLB speaker); the pod runs on node b."
say "Client $CLIENT connects to $VIP:25 ..."
seen=$(nsx client timeout 10 "$NSN_TCP" who $VIP 25) || { echo "connection failed"; exit 1; }
echo "  the pod saw the connection coming from: $seen"
out=$(nsx client timeout 60 "$NSN_TCP" upload $VIP 25 5242880) || { echo "upload failed"; exit 1; }
echo "  a 5 MiB upload through the tunnel: $out"
if [[ $seen == "$CLIENT:"* ]]; then
	say "Real client address preserved: no SNAT, pod on another node than the VIP."
else
	say "UNEXPECTED: the pod saw $seen"
	exit 1
fi

say "MetalLB fails the VIP over to node c; a new connection still reaches pod b:"
lab_announce c
seen=$(nsx client timeout 10 "$NSN_TCP" who $VIP 25) || { echo "connection failed"; exit 1; }
echo "  the pod saw: $seen"

say "Counters on node a (ingress, encapsulates):"
nosnat_on a stats
say "Counters on node b (decapsulates, DNAT to the pod, reverse NAT of replies):"
nosnat_on b stats
say "The maps are readable with bpftool, e.g. on node b:"
echo "  bpftool map dump pinned <pin dir>/nosnat_backends"
bpftool -j map dump pinned "$LAB_DIR/bpffs/b/nosnat_vips" | jq -c '.[].formatted'
say "Tearing the lab down."
