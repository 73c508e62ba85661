#!/bin/bash
# make bench: the daemon's memory with a large cluster behind the API. The
# fake API server holds 5000 Nodes (realistic: labels, annotations,
# conditions, a list of images, ~8 KB of JSON each) and 200 EndpointSlices
# of one Service (10 endpoints each); nosnat run --kube follows them on lab
# node a. Prints "kubemem" rows: RSS once synced and the peak (VmHWM), KiB.
# Usage: bench_kube_mem.sh >>build/bench.tsv
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/scripts/lab.sh"
source "$ROOT/tests/kube/lib.sh"
source "$ROOT/tests/e2e/lib.sh"
trap 'lab_down' EXIT
NODES_N=${BENCH_KUBE_NODES:-5000}
SLICES_N=${BENCH_KUBE_SLICES:-200}
ATTACH_ARGS=(${BENCH_KUBE_LIMIT:+--kube-list-limit $BENCH_KUBE_LIMIT})
lab_up >/dev/null 2>&1 || { echo "lab setup failed" >&2; exit 1; }
kube_up >/dev/null 2>&1 || { echo "fake API server failed" >&2; exit 1; }
kservice $VIP
python3 - "$NODES_N" "$SLICES_N" "$LAB_DIR/bulk" <<'PY'
import json, sys
nodes, slices, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
def node(i):
    name = f"node-{i:05d}"
    a, b = 18 + (i >> 16), (i >> 8) & 255
    return {"kind": "Node", "apiVersion": "v1",
            "metadata": {"name": name, "uid": f"uid-{i}",
                         "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                    "kubernetes.io/arch": "amd64", "topology.kubernetes.io/zone": f"zone-{i % 3}",
                                    "node.kubernetes.io/instance-type": "bare-metal"},
                         "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                                         "projectcalico.org/IPv4Address": f"198.{a}.{b}.{i & 255}/15",
                                         "volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
            "spec": {"podCIDR": f"198.{a}.{b}.0/24"},
            "status": {"addresses": [{"type": "InternalIP", "address": f"198.{a}.{b}.{i & 255}"},
                                     {"type": "Hostname", "address": name}],
                       "conditions": [{"type": t, "status": "False" if t != "Ready" else "True",
                                       "lastHeartbeatTime": "2026-11-28T10:00:00Z",
                                       "lastTransitionTime": "2026-11-01T10:00:00Z",
                                       "reason": f"Kubelet{t}", "message": f"kubelet reports {t} as expected"}
                                      for t in ("MemoryPressure", "DiskPressure", "PIDPressure", "Ready")],
                       "images": [{"names": [f"registry.example.org/team/image-{k}@sha256:{'0' * 64}",
                                             f"registry.example.org/team/image-{k}:v{k}.0.0"],
                                   "sizeBytes": 10000000 + k} for k in range(20)],
                       "nodeInfo": {"kubeletVersion": "v1.31.0", "osImage": "Debian GNU/Linux 12",
                                    "kernelVersion": "6.1.0", "containerRuntimeVersion": "containerd://1.7"}}}
def eslice(j):
    return {"kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
            "metadata": {"namespace": "mailserver", "name": f"mailserver-{j:04d}",
                         "labels": {"kubernetes.io/service-name": "mailserver",
                                    "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}},
            "addressType": "IPv4",
            "ports": [{"name": "smtp", "protocol": "TCP", "port": 2525}],
            "endpoints": [{"addresses": [f"198.19.{j % 250}.{e + 1}"],
                           "conditions": {"ready": False, "serving": False, "terminating": False},
                           "nodeName": f"node-{(j * 10 + e) % nodes:05d}"} for e in range(10)]}
json.dump({"kind": "nodes", "objects": [node(i) for i in range(nodes)]}, open(out + ".nodes", "w"))
json.dump({"kind": "endpointslices", "objects": [eslice(j) for j in range(slices)]}, open(out + ".slices", "w"))
PY
for k in nodes slices; do
	nsx router curl -sf -X POST "http://127.0.0.1:$KUBE_CTL/bulk" --data-binary "@$LAB_DIR/bulk.$k" >/dev/null ||
		{ echo "bulk $k failed" >&2; exit 1; }
done
json_mib=$(du -cm "$LAB_DIR/bulk.nodes" "$LAB_DIR/bulk.slices" | tail -1 | cut -f1)
mkdir -p "$LAB_DIR/kcfg"
kube_config "$LAB_DIR/kcfg/nosnat.yaml"
kube_daemon a
pid=$(cat "$LAB_DIR/krun-a.pid")
wait_for 120 grep -q "kubernetes: configuration applied\|configuration applied" "$LAB_DIR/krun-a.log" ||
	{ echo "never synced: $(tail -3 "$LAB_DIR/krun-a.log")" >&2; exit 1; }
sleep 2
rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")
hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status")
printf 'kubemem\t%s\t%s\t%s\t%s\t%s\n' "$rss" "$hwm" "$NODES_N" "$SLICES_N" "$json_mib"
kill -TERM "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
exit 0
