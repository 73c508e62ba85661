#!/usr/bin/env python3
"""Offline checks of deploy/: the rendered Kubernetes objects, the systemd
unit and the Grafana dashboard agree with the nosnat CLI and its metrics.
Usage: check_deploy.py RENDERED_YAML NOSNAT_BINARY GOLDEN_METRICS DEPLOY_DIR
Prints one line per check and 'lint-deploy: N passed, N failed'."""
import json
import os
import re
import subprocess
import sys

from report import Report
import tempfile

import yaml

rendered, nosnat, golden, deploy = sys.argv[1:5]
REPORT = Report("lint-deploy")
check = REPORT.check


run_help = subprocess.run([nosnat, "run", "-h"], capture_output=True, text=True).stdout
run_flags = set(re.findall(r"--[a-z-]+", run_help))

docs = [d for d in yaml.safe_load_all(open(rendered)) if d]
kinds = {d["kind"]: d for d in docs}
check({"Namespace", "ConfigMap", "DaemonSet", "ServiceAccount", "ClusterRole", "ClusterRoleBinding"}
      <= set(kinds), f"objects: {sorted(kinds)}")
role = kinds["ClusterRole"]
grants = {(g, r, v) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]
          for v in rule["verbs"]}
want = {(g, r, v) for g, r in (("", "services"), ("", "nodes"), ("discovery.k8s.io", "endpointslices"))
        for v in ("list", "watch")}
check(grants == want, f"ClusterRole grants exactly list/watch on services, nodes, endpointslices")
binding = kinds["ClusterRoleBinding"]
check(binding["roleRef"]["name"] == role["metadata"]["name"]
      and binding["subjects"][0]["name"] == kinds["ServiceAccount"]["metadata"]["name"]
      and binding["subjects"][0]["namespace"] == kinds["ServiceAccount"]["metadata"]["namespace"],
      "the binding ties the ServiceAccount to the ClusterRole")
for d in docs:
    check(d.get("apiVersion") and d.get("metadata", {}).get("name"),
          f"{d['kind']} has apiVersion and a name")

ds = kinds["DaemonSet"]
spec = ds["spec"]["template"]["spec"]
check(ds["spec"]["selector"]["matchLabels"].items() <= ds["spec"]["template"]["metadata"]["labels"].items(),
      "DaemonSet selector matches its pod labels")
check(spec.get("hostNetwork") is True, "hostNetwork")
check(spec.get("serviceAccountName") == kinds["ServiceAccount"]["metadata"]["name"],
      "the DaemonSet runs as the nosnat ServiceAccount")
check(any(t.get("operator") == "Exists" and "key" not in t for t in spec.get("tolerations", [])),
      "tolerates every taint (runs on every node)")
c = spec["containers"][0]
args = c["args"]
check(args[0] == "run", "container runs 'nosnat run'")
flags = [a for a in args if a.startswith("--")]
check(all(f in run_flags for f in flags), f"every flag is one 'nosnat run' knows: {flags}")
for f in ("--config", "--iface", "--node-ip", "--textfile", "--kube"):
    check(f in flags, f"DaemonSet passes {f}")
env = {e["name"]: e for e in c.get("env", [])}
check(env.get("NODE_IP", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "status.hostIP",
      "node address from the downward API")
check("$(NODE_IP)" in args, "--node-ip uses $(NODE_IP)")
caps = set(c["securityContext"]["capabilities"]["add"])
check(caps <= {"BPF", "PERFMON", "NET_ADMIN", "SYS_ADMIN"} and {"BPF", "NET_ADMIN"} <= caps,
      f"capabilities {sorted(caps)}")
check(c["securityContext"].get("privileged") is not True, "not privileged")
check("requests" in c.get("resources", {}), "resource requests")
check("livenessProbe" in c, "liveness probe")
mounts = {m["name"]: m for m in c["volumeMounts"]}
vols = {v["name"]: v for v in spec["volumes"]}
check(mounts["bpffs"]["mountPath"] == "/sys/fs/bpf" and vols["bpffs"]["hostPath"]["path"] == "/sys/fs/bpf"
      and mounts["bpffs"].get("mountPropagation") in ("HostToContainer", "Bidirectional"),
      "host /sys/fs/bpf with mount propagation")
cfg_path = args[args.index("--config") + 1]
check(os.path.dirname(cfg_path) == mounts["config"]["mountPath"], "--config lives in the ConfigMap mount")
cm_name = vols["config"]["configMap"]["name"]
check(kinds["ConfigMap"]["metadata"]["name"] == cm_name, "the ConfigMap volume names the ConfigMap")
textfile = args[args.index("--textfile") + 1]
check(os.path.dirname(textfile) == mounts["textfile"]["mountPath"], "--textfile lives in the textfile mount")
probe = c["livenessProbe"]["exec"]["command"]
check(probe[0] == "/usr/local/sbin/nosnat", "liveness probe runs the installed binary")
check(c.get("readinessProbe", {}).get("exec", {}).get("command") == ["/usr/local/sbin/nosnat", "health"],
      "readiness probe runs 'nosnat health'")
sp = c["securityContext"].get("seccompProfile", {})
check(sp.get("type") == "Localhost", "the container names its seccomp profile (Localhost)")
inits = {i["name"]: i for i in spec.get("initContainers", [])}
installer = inits.get("install-seccomp-profile", {})
dest = {m["name"]: m["mountPath"] for m in installer.get("volumeMounts", [])}
seccomp_dir = vols.get("seccomp", {}).get("hostPath", {}).get("path", "")
check(installer.get("image") == c["image"]
      and installer.get("command", [""])[-1] == os.path.join(dest.get("seccomp", "?"), "nosnat.json")
      and os.path.join(seccomp_dir, "nosnat.json")
      == os.path.join("/var/lib/kubelet/seccomp", sp.get("localhostProfile", "?")),
      "the init container installs the profile where localhostProfile points")
profile = json.load(open(os.path.join(deploy, "seccomp", "nosnat.json")))
allowed = {n for r in profile["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" and not r.get("args")
           for n in r["names"]}
check({"bpf", "perf_event_open"} <= allowed and profile["defaultAction"] != "SCMP_ACT_ALLOW"
      and not any("includes" in r or "excludes" in r for r in profile["syscalls"]),
      "deploy/seccomp/nosnat.json: default deny, bpf and perf_event_open allowed, no conditional rules")
dockerfile = open(os.path.join(deploy, "Dockerfile")).read()
check(installer.get("command", ["", ""])[1] in dockerfile and "deploy/seccomp/nosnat.json" in dockerfile,
      "the image carries the profile the init container copies")
check("/usr/local/sbin/nosnat" in dockerfile and dockerfile.count("FROM ") >= 2,
      "Dockerfile is multi-stage and installs /usr/local/sbin/nosnat")

key = os.path.basename(cfg_path)
cm_yaml = kinds["ConfigMap"]["data"].get(key)
check(cm_yaml is not None, f"ConfigMap has {key}")
with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
    f.write(cm_yaml or "")
r = subprocess.run([nosnat, "check", f.name], capture_output=True, text=True)
os.unlink(f.name)
check(r.returncode == 0, f"the ConfigMap's config passes 'nosnat check' {r.stderr.strip()}")
check(all(p in cm_yaml for p in ("25", "465", "587", "993")) and "10.0.20.202" in cm_yaml
      and "service: mailserver/mailserver" in cm_yaml,
      "the ConfigMap carries the mail VIP, its ports and its Service")

r = subprocess.run([nosnat, "check", os.path.join(deploy, "nosnat.yaml")], capture_output=True, text=True)
check(r.returncode == 0, f"deploy/nosnat.yaml passes 'nosnat check' {r.stderr.strip()}")

unit = open(os.path.join(deploy, "nosnat.service")).read().replace("\\\n", " ")
exec_start = re.search(r"^ExecStart=(.*)$", unit, re.M).group(1).split()
check(exec_start[1] == "run" and all(a in run_flags for a in exec_start if a.startswith("--")),
      "systemd ExecStart uses 'nosnat run' flags that exist")
check("ExecReload=/bin/kill -HUP $MAINPID" in unit, "systemd reload sends SIGHUP")

families = set(re.findall(r"^# TYPE (\S+)", open(golden).read(), re.M))
dash = json.load(open(os.path.join(deploy, "grafana-dashboard.json")))
used = set()
for p in dash["panels"]:
    for t in p.get("targets", []):
        used |= set(re.findall(r"\b(nosnat_[a-z_]+)", t["expr"]))
check(used and used <= families, f"dashboard queries only exported metrics: {sorted(used - families)}")

REPORT.close()
