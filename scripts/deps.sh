#!/bin/bash
# Install what nosnat needs to build and test, from Debian's archive.
# Quiet and quick when everything is already there.
set -euo pipefail

# build: compilers, libbpf, bpftool, libyaml, libcurl, json-c. tests: iproute2
# (namespaces), nftables (lab nodes track connections, as kube-proxy's do), ethtool, jq, promtool (prometheus), python3-yaml and kubectl
# (deploy/ lint), python3 + openssl + curl (the fake Kubernetes API server).
PKGS=(make pkgconf gcc clang llvm libbpf-dev libelf-dev zlib1g-dev linux-libc-dev bpftool libyaml-dev
      libcurl4-openssl-dev libjson-c-dev
      iproute2 ethtool jq util-linux procps python3 python3-yaml prometheus openssl curl valgrind
      nftables)
# Debian's kubectl (kubernetes-client) unless some kubectl is already there
command -v kubectl >/dev/null || PKGS+=(kubernetes-client)
# make bench: iperf3, iptables (the kube-proxy comparison), gnuplot (plots),
# perf (CPU busy at a fixed rate)
[ "${1:-}" = --bench ] && PKGS+=(iperf3 iptables gnuplot-nox linux-perf)
# make image / test-image: podman with runc (crun refuses these machines'
# hybrid cgroups), mmdebstrap for the base image. Part of the test command.
PKGS+=(podman runc mmdebstrap)
# lint: systemd-analyze scores the unit's sandbox offline; Go and containerd's
# source make the seccomp profile from containerd's default
# (scripts/seccomp_profile.py)
PKGS+=(systemd golang-go golang-github-containerd-containerd-dev)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing ${missing[*]}; run as root to install them" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
