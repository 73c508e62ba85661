#!/bin/bash
# Install what nosnat needs to build and test, from Debian's archive.
# Quiet and quick when everything is already there.
set -euo pipefail

PKGS=(make gcc clang llvm libbpf-dev libelf-dev zlib1g-dev linux-libc-dev bpftool libyaml-dev
      iproute2 ethtool jq util-linux procps)

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
