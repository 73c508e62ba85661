#!/usr/bin/env python3
"""Write deploy/seccomp/nosnat.json: the container runtime's default seccomp
profile as it applies to nosnat's capabilities, plus the two system calls
nosnat needs that the default allows only with CAP_SYS_ADMIN (bpf,
perf_event_open).

The default profile (containers-common's seccomp.json, Docker's format) has
rules that depend on the container's capabilities and architecture
("includes"/"excludes"). containerd reads a Localhost profile as a plain OCI
LinuxSeccomp and would ignore those conditions, allowing everything they
guard. So the conditions are resolved here, for the capabilities the
DaemonSet adds and for x86 and ARM, and the result is a flat profile that
every runtime reads the same way.

Usage: seccomp_profile.py DEFAULT_PROFILE DAEMONSET_YAML > nosnat.json"""
import json
import sys

import yaml

ARCHES = {"amd64", "x86", "x32", "arm64", "arm"}
OCI_ARCHES = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32",
              "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
NEEDED = ["bpf", "perf_event_open"]

default_path, manifest = sys.argv[1:3]
profile = json.load(open(default_path))
ds = next(d for d in yaml.safe_load_all(open(manifest)) if d and d.get("kind") == "DaemonSet")
added = ds["spec"]["template"]["spec"]["containers"][0]["securityContext"]["capabilities"]["add"]
caps = {"CAP_" + c for c in added}


def applies(rule):
    inc, exc = rule.get("includes") or {}, rule.get("excludes") or {}
    if inc.get("caps") and not set(inc["caps"]) <= caps:
        return False
    if exc.get("caps") and set(exc["caps"]) & caps:
        return False
    if inc.get("arches") and not set(inc["arches"]) & ARCHES:
        return False
    if exc.get("arches") and ARCHES <= set(exc["arches"]):
        return False
    return not inc.get("minKernel")


rules = []
for r in profile["syscalls"]:
    if not applies(r):
        continue
    names = [n for n in r["names"] if not (n in NEEDED and r["action"] != "SCMP_ACT_ALLOW")]
    if not names:
        continue
    out = {"names": names, "action": r["action"]}
    if r.get("args"):
        out["args"] = [{k: a[k] for k in ("index", "value", "valueTwo", "op")} for a in r["args"]]
    if r.get("errnoRet") is not None:
        out["errnoRet"] = r["errnoRet"]
    rules.append(out)
rules.append({"names": NEEDED, "action": "SCMP_ACT_ALLOW"})

result = {
    "defaultAction": profile["defaultAction"],
    "defaultErrnoRet": profile.get("defaultErrnoRet", 1),
    "architectures": OCI_ARCHES,
    "syscalls": rules,
}
json.dump(result, sys.stdout, indent=1)
sys.stdout.write("\n")
