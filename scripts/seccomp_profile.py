#!/usr/bin/env python3
"""Write deploy/seccomp/nosnat.json: containerd's default seccomp profile as it
applies to the capabilities deploy/daemonset.yaml gives nosnat's container,
plus the two system calls nosnat needs (bpf, perf_event_open).

The base is containerd's RuntimeDefault, the profile a Kubernetes node with
containerd gives a container: contrib/seccomp/seccomp_default.go from
Debian 12's golang-github-containerd-containerd-dev (CONTAINERD_DEB below),
run by scripts/seccomp_default.go. containerd resolves its conditions in Go
when it makes a container; a Localhost profile is read as a plain OCI
LinuxSeccomp and is evaluated by nobody, so the conditions are resolved here
by containerd's own code, for:
  - capabilities: the DaemonSet's (it drops ALL and adds CAP_BPF,
    CAP_PERFMON, CAP_NET_ADMIN). Without CAP_SYS_ADMIN, CAP_SYS_PTRACE,
    CAP_SYS_BOOT and CAP_SYSLOG the calls they guard stay refused (mount,
    unshare, setns, clone3, process_vm_*, reboot, syslog, ...), and clone is
    allowed only without CLONE_NEW* flags, as containerd has it;
  - kernel: containerd allows ptrace from Linux 4.8 on; nosnat needs 5.8
    (CAP_BPF), so that rule is in;
  - architecture: amd64's (x86_64, x86, x32). The profile is generated on
    amd64 only; an arm64 node runs it for its native architecture.

containerd's default already allows bpf with CAP_BPF and perf_event_open with
CAP_PERFMON; they are added all the same (NEEDED), because the profile is
for nosnat, whatever the base says. containers-common's default (CRI-O,
podman) allows them only with CAP_SYS_ADMIN, which is why the DaemonSet
names this profile rather than RuntimeDefault.

Output: one unconditional rule with every allowed name (sorted), then the
default's rules with argument filters or another action, in its order,
unchanged but for sorted names. tests/lint compares the committed file with
this script's output byte for byte, and call by call with --base.

Usage: seccomp_profile.py DAEMONSET_YAML > deploy/seccomp/nosnat.json
       seccomp_profile.py --base DAEMONSET_YAML   (containerd's default for
                                                   the DaemonSet's capabilities)"""
import hashlib
import json
import os
import subprocess
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONTAINERD_DEB = ("golang-github-containerd-containerd-dev", "1.6.20~ds1-1+deb12u3")
GOPATH = "/usr/share/gocode"
DEFAULT_GO = GOPATH + "/src/github.com/containerd/containerd/contrib/seccomp/seccomp_default.go"
DEFAULT_GO_SHA256 = "4e5241ceb7e60d34e4f8a6537d621a6784dfef6cfc003fd9683501b2bd145c66"
NEEDED = ["bpf", "perf_event_open"]
ALLOW = "SCMP_ACT_ALLOW"


def die(msg):
    sys.exit(f"seccomp_profile: {msg}")


def container_caps(manifest):
    """The capability bounding set of the DaemonSet's container."""
    ds = next(d for d in yaml.safe_load_all(open(manifest)) if d and d.get("kind") == "DaemonSet")
    caps = ds["spec"]["template"]["spec"]["containers"][0]["securityContext"]["capabilities"]
    if caps.get("drop") != ["ALL"]:
        die("the container must drop ALL capabilities: the set is then exactly the added ones")
    return sorted("CAP_" + c for c in caps.get("add", []))


def containerd_default(caps):
    """containerd's DefaultProfile for a container with capabilities CAPS."""
    try:
        version = subprocess.run(["dpkg-query", "-W", "-f=${Version}", CONTAINERD_DEB[0]],
                                 capture_output=True, text=True).stdout
        src = open(DEFAULT_GO, "rb").read()
    except OSError:
        version, src = "", b""
    if not src:
        die(f"{CONTAINERD_DEB[0]} {CONTAINERD_DEB[1]} is not installed (scripts/deps.sh)")
    if hashlib.sha256(src).hexdigest() != DEFAULT_GO_SHA256:
        die(f"{DEFAULT_GO} ({CONTAINERD_DEB[0]} {version}) is not the one this profile was "
            f"made from ({CONTAINERD_DEB[1]}): read what changed, then update CONTAINERD_DEB "
            "and DEFAULT_GO_SHA256")
    env = dict(os.environ, GO111MODULE="off", GOPATH=GOPATH, GOFLAGS="")
    env.setdefault("GOCACHE", os.path.join(ROOT, "build", "go-cache"))
    arch = subprocess.run(["go", "env", "GOARCH"], capture_output=True, text=True, env=env).stdout.strip()
    if arch != "amd64":
        die(f"the profile is generated on amd64 (its architectures are amd64's), not {arch or 'without go'}")
    r = subprocess.run(["go", "run", os.path.join(ROOT, "scripts", "seccomp_default.go")] + caps,
                       capture_output=True, text=True, env=env)
    if r.returncode:
        die(f"go run scripts/seccomp_default.go: {r.stderr.strip()}")
    return json.loads(r.stdout)


def rule(r, names):
    out = {"names": sorted(names), "action": r["action"]}
    if r.get("args"):
        out["args"] = [{k: a.get(k, 0) for k in ("index", "value", "valueTwo", "op")} for a in r["args"]]
    if r.get("errnoRet") is not None:
        out["errnoRet"] = r["errnoRet"]
    return out


def nosnat_profile(base):
    plain = lambda r: r["action"] == ALLOW and not r.get("args")
    allowed = {n for r in base["syscalls"] if plain(r) for n in r["names"]} | set(NEEDED)
    rules = [{"names": sorted(allowed), "action": ALLOW}]
    for r in base["syscalls"]:
        if plain(r):
            continue
        # a refusal of a call nosnat needs is dropped; a filtered allow of one is moot
        names = [n for n in r["names"] if n not in NEEDED]
        if names:
            rules.append(rule(r, names))
    out = {"defaultAction": base["defaultAction"]}
    if base.get("defaultErrnoRet") is not None:
        out["defaultErrnoRet"] = base["defaultErrnoRet"]
    out["architectures"] = base["architectures"]
    out["syscalls"] = rules
    return out


def main(argv):
    if len(argv) == 2 and argv[0] == "--base":
        json.dump(containerd_default(container_caps(argv[1])), sys.stdout, indent=1)
    elif len(argv) == 1:
        json.dump(nosnat_profile(containerd_default(container_caps(argv[0]))), sys.stdout, indent=1)
    else:
        sys.exit(__doc__.split("Usage: ")[1])
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1:])
