#!/usr/bin/env python3
"""Turn deploy/daemonset.yaml's pod into podman arguments, so that the image
test runs the container the way the kubelet would on an emulated node.

Every setting of the pod, its containers and their volumes is either applied
(and named in a NOTE line) or named as one that has no meaning on a single
emulated node (scheduling, API objects). A setting this script does not
know fails it: a manifest change cannot go untested by accident.

Usage: manifest.py DAEMONSET_YAML IMAGE NODE_ROOT NETNS NODE_IP API_HOST API_PORT SA_DIR
Prints bash: NOTE lines as comments, then arrays INIT_<n> (one per init
container), MAIN (podman run arguments up to and including the image and
its arguments), LIVE, READY (probe commands), STOP_TIMEOUT, MEMORY_LIMIT_MIB.

NODE_ROOT stands for the node's /: a hostPath P is NODE_ROOT/P, a ConfigMap
volume NAME is NODE_ROOT/configmaps/NAME (laid out as the kubelet does, with
..data), Localhost seccomp profiles live in NODE_ROOT/var/lib/kubelet/seccomp."""
import re
import shlex
import sys

import yaml

(manifest, image, node_root, netns, node_ip, api_host, api_port, sa_dir) = sys.argv[1:9]
ds = next(d for d in yaml.safe_load_all(open(manifest)) if d and d.get("kind") == "DaemonSet")
pod = ds["spec"]["template"]["spec"]
notes = []
limits = {"MEMORY_LIMIT_MIB": ""}
SA_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"


def note(s):
    notes.append(s)


def unknown(where, keys):
    if keys:
        sys.exit(f"manifest.py: {where} sets {sorted(keys)}, which the image test cannot apply")


# Pod level: what the node does, and what only the scheduler or API server sees.
NOT_HERE = {"serviceAccountName", "dnsPolicy", "priorityClassName", "tolerations",
            "terminationGracePeriodSeconds", "containers", "initContainers", "volumes",
            "hostNetwork", "securityContext"}
unknown("the pod", set(pod) - NOT_HERE)
for k in ("serviceAccountName", "dnsPolicy", "priorityClassName", "tolerations"):
    if k in pod:
        note(f"pod {k}: scheduling/API only, nothing to apply on one node")
if not pod.get("hostNetwork"):
    sys.exit("manifest.py: the pod is not hostNetwork; the test runs it in a node's namespace")
note(f"pod hostNetwork: true -> the network namespace of lab node {netns}")
stop = pod.get("terminationGracePeriodSeconds", 30)
note(f"pod terminationGracePeriodSeconds: {stop} -> podman stop -t {stop}")
pod_sc = pod.get("securityContext") or {}
unknown("the pod's securityContext", set(pod_sc) - {"seccompProfile"})

volumes = {}
for v in pod["volumes"]:
    if "hostPath" in v:
        hp = v["hostPath"]
        unknown(f"volume {v['name']}", set(hp) - {"path", "type"})
        volumes[v["name"]] = ("hostPath", hp["path"], hp.get("type", ""))
    elif "configMap" in v:
        unknown(f"volume {v['name']}", set(v["configMap"]) - {"name"})
        volumes[v["name"]] = ("configMap", v["configMap"]["name"], "")
    else:
        unknown(f"volume {v['name']}", set(v) - {"name"})


def container_args(c, kind):
    args = ["--pull=never", "--network", f"ns:/run/netns/{netns}"]
    unknown(f"container {c['name']}",
            set(c) - {"name", "image", "command", "args", "env", "securityContext", "resources",
                      "livenessProbe", "readinessProbe", "volumeMounts"})
    # securityContext: the container's, over the pod's
    sc = c.get("securityContext") or {}
    unknown(f"container {c['name']}'s securityContext",
            set(sc) - {"runAsUser", "privileged", "allowPrivilegeEscalation",
                       "readOnlyRootFilesystem", "capabilities", "seccompProfile"})
    if "runAsUser" in sc:
        args += ["--user", str(sc["runAsUser"])]
        note(f"{kind} runAsUser: {sc['runAsUser']} -> --user {sc['runAsUser']}")
    if sc.get("privileged"):
        args.append("--privileged")
        note(f"{kind} privileged: true -> --privileged")
    elif "privileged" in sc:
        note(f"{kind} privileged: false")
    if sc.get("allowPrivilegeEscalation") is False:
        args += ["--security-opt", "no-new-privileges"]
        note(f"{kind} allowPrivilegeEscalation: false -> no-new-privileges")
    if sc.get("readOnlyRootFilesystem"):
        args += ["--read-only", "--read-only-tmpfs=false"]
        note(f"{kind} readOnlyRootFilesystem: true -> --read-only, no tmpfs added")
    caps = sc.get("capabilities") or {}
    unknown(f"container {c['name']}'s capabilities", set(caps) - {"drop", "add"})
    for d in caps.get("drop", []):
        args += ["--cap-drop", "all" if d == "ALL" else "CAP_" + d]
    for a in caps.get("add", []):
        args += ["--cap-add", "CAP_" + a]
    note(f"{kind} capabilities: drop {caps.get('drop', [])}, add {caps.get('add', [])}")
    sp = sc.get("seccompProfile") or pod_sc.get("seccompProfile")
    if not sp or sp["type"] == "RuntimeDefault":
        note(f"{kind} seccompProfile: {sp['type'] if sp else 'absent'} -> the runtime's default profile")
    elif sp["type"] == "Unconfined":
        args += ["--security-opt", "seccomp=unconfined"]
        note(f"{kind} seccompProfile: Unconfined -> seccomp=unconfined")
    elif sp["type"] == "Localhost":
        path = f"{node_root}/var/lib/kubelet/seccomp/{sp['localhostProfile']}"
        args += ["--security-opt", f"seccomp={path}"]
        note(f"{kind} seccompProfile: Localhost {sp['localhostProfile']} -> seccomp={path}")
    else:
        sys.exit(f"manifest.py: seccompProfile type {sp['type']}")
    # resources: limits are enforced by the node, requests only schedule
    res = c.get("resources") or {}
    unknown(f"container {c['name']}'s resources", set(res) - {"requests", "limits"})
    lim = res.get("limits") or {}
    unknown(f"container {c['name']}'s limits", set(lim) - {"memory"})
    if "memory" in lim:
        m = re.fullmatch(r"(\d+)Mi", str(lim["memory"]))
        if not m:
            sys.exit(f"manifest.py: memory limit {lim['memory']}")
        args += ["--memory", f"{m.group(1)}m", "--memory-swap", f"{m.group(1)}m"]
        if kind == "container":
            limits["MEMORY_LIMIT_MIB"] = m.group(1)
        note(f"{kind} limits.memory: {lim['memory']} -> --memory {m.group(1)}m (BPF maps charged too)")
    if "requests" in res:
        note(f"{kind} requests {res['requests']}: scheduling only")
    # environment: values and the downward API's status.hostIP; the kubelet
    # adds the API server's address and mounts the service account's token
    env = {"KUBERNETES_SERVICE_HOST": api_host, "KUBERNETES_SERVICE_PORT": api_port}
    for e in c.get("env", []):
        if "value" in e:
            env[e["name"]] = e["value"]
        elif e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "status.hostIP":
            env[e["name"]] = node_ip
            note(f"{kind} env {e['name']}: status.hostIP -> {node_ip}")
        else:
            sys.exit(f"manifest.py: env {e['name']}: {e}")
    for k, v in env.items():
        args += ["--env", f"{k}={v}"]
    args += ["--volume", f"{sa_dir}:{SA_MOUNT}:ro"]
    note(f"{kind} service account token -> {SA_MOUNT} (read-only), API {api_host}:{api_port}")
    for vm in c.get("volumeMounts", []):
        unknown(f"volumeMount {vm['name']}", set(vm) - {"name", "mountPath", "readOnly",
                                                         "mountPropagation"})
        kind_v, what, typ = volumes[vm["name"]]
        if kind_v == "hostPath":
            src = node_root + what
            if typ not in ("Directory", "DirectoryOrCreate"):
                sys.exit(f"manifest.py: hostPath type {typ}")
            note(f"{kind} hostPath {what} ({typ}) -> {vm['mountPath']}")
        else:
            src = f"{node_root}/configmaps/{what}"
            note(f"{kind} ConfigMap {what} -> {vm['mountPath']} (read-only, kubelet's ..data layout)")
        opts = []
        if vm.get("readOnly") or kind_v == "configMap":
            opts.append("ro")
        prop = vm.get("mountPropagation")
        if prop == "HostToContainer":
            opts.append("rslave")
        elif prop == "Bidirectional":
            opts.append("rshared")
        elif prop not in (None, "None"):
            sys.exit(f"manifest.py: mountPropagation {prop}")
        if prop:
            note(f"{kind} {vm['mountPath']} mountPropagation {prop} -> {opts[-1]}")
        args += ["--volume", f"{src}:{vm['mountPath']}" + (":" + ",".join(opts) if opts else "")]
    if c.get("command"):
        args += ["--entrypoint", c["command"][0]]
        cmd = c["command"][1:]
    else:
        cmd = []
    args.append(image)
    # $(VAR) in command and args comes from the container's environment
    expand = lambda s: re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), s)
    args += [expand(a) for a in cmd + c.get("args", [])]
    note(f"{kind} image {c['image']} -> {image}; runs {' '.join(args[args.index(image) + 1:]) or '(entrypoint)'}")
    return args


def probe(c, name):
    p = c.get(name)
    if not p:
        return []
    unknown(f"{name}", set(p) - {"exec", "initialDelaySeconds", "periodSeconds",
                                 "timeoutSeconds", "failureThreshold", "successThreshold"})
    note(f"{name}: {' '.join(p['exec']['command'])} (podman exec)")
    return p["exec"]["command"]


out = []
for i, c in enumerate(pod.get("initContainers", [])):
    out.append(f"INIT_{i}=({' '.join(shlex.quote(a) for a in container_args(c, 'init ' + c['name']))})")
main = pod["containers"]
if len(main) != 1:
    sys.exit("manifest.py: one container expected")
out.append(f"MAIN=({' '.join(shlex.quote(a) for a in container_args(main[0], 'container'))})")
out.append(f"LIVE=({' '.join(shlex.quote(a) for a in probe(main[0], 'livenessProbe'))})")
out.append(f"READY=({' '.join(shlex.quote(a) for a in probe(main[0], 'readinessProbe'))})")
out.append(f"STOP_TIMEOUT={int(stop)}")
out.append(f"MEMORY_LIMIT_MIB={limits['MEMORY_LIMIT_MIB']}")
out.append(f"N_INIT={len(pod.get('initContainers', []))}")
for n in notes:
    print(f"# {n}")
print("\n".join(out))
