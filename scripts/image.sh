#!/bin/bash
# make image: build deploy/Dockerfile into localhost/nosnat:VERSION with podman,
# without a registry. The base the Dockerfile pins (debian:12-slim) is stood
# in for by a Debian 12 root filesystem bootstrapped from the package archive
# with mmdebstrap (cached in build/image/), imported under BASE_TAG and given
# to the build as BASE. Prints the image's name and size.
# Usage: image.sh VERSION
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VERSION=${1:?usage: image.sh VERSION}
export CONTAINERS_CONF=$ROOT/tests/image/containers.conf
BASE_TAG=localhost/debian:12-slim
BASE_TAR=$ROOT/build/image/debian-12-slim.tar
IMAGE=localhost/nosnat:$VERSION
MIRROR=${NOSNAT_DEBIAN_MIRROR:-http://deb.debian.org}

"$ROOT/scripts/deps.sh" --image

if ! podman image exists "$BASE_TAG"; then
	if [ ! -s "$BASE_TAR" ]; then
		mkdir -p "$(dirname "$BASE_TAR")"
		echo "image: bootstrapping Debian 12 (minbase, slim's dpkg excludes) from $MIRROR"
		# Like debian:12-slim: merged /usr without the usrmerge package (and
		# its perl), no documentation but the copyright files. The
		# archive here may serve Release files past their Valid-Until date, so
		# the base keeps apt from refusing them (only this stand-in does).
		mmdebstrap --quiet --variant=minbase \
			--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
			--dpkgopt='path-exclude=/usr/share/doc/*' \
			--dpkgopt='path-include=/usr/share/doc/*/copyright' \
			--dpkgopt='path-exclude=/usr/share/man/*' \
			--dpkgopt='path-exclude=/usr/share/info/*' \
			--dpkgopt='path-exclude=/usr/share/groff/*' \
			--dpkgopt='path-exclude=/usr/share/lintian/*' \
			--dpkgopt='path-exclude=/usr/share/locale/*' \
			--aptopt='Acquire::Check-Valid-Until "false"' \
			--aptopt='Acquire::Check-Date "false"' \
			--format=tar \
			bookworm "$BASE_TAR.tmp" \
			"deb $MIRROR/debian bookworm main" \
			"deb $MIRROR/debian bookworm-updates main" \
			"deb $MIRROR/debian-security bookworm-security main" >/dev/null
		mv "$BASE_TAR.tmp" "$BASE_TAR"
	fi
	podman import --quiet "$BASE_TAR" "$BASE_TAG" >/dev/null
fi

echo "image: building $IMAGE from deploy/Dockerfile on $BASE_TAG"
podman build --quiet --network host -f "$ROOT/deploy/Dockerfile" \
	--build-arg BASE="$BASE_TAG" --build-arg VERSION="$VERSION" -t "$IMAGE" "$ROOT" >/dev/null
size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
echo "image: $IMAGE, $((size / 1048576)) MiB (base $(($(podman image inspect --format '{{.Size}}' "$BASE_TAG") / 1048576)) MiB)"
