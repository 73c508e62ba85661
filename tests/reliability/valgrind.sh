#!/bin/bash
# valgrind --leak-check=full on the commands that read and write the maps,
# against a real attachment in a private namespace.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
NOSNAT=$ROOT/build/nosnat
NS=nsnvg$$
DIR=/run/nosnat-vg-$$
rc=0
cleanup() {
	ip netns del $NS 2>/dev/null
	mountpoint -q "$DIR/bpffs" && umount "$DIR/bpffs"
	rm -rf "$DIR"
}
trap cleanup EXIT
mkdir -p "$DIR/bpffs" && mount -t bpf bpf "$DIR/bpffs" || exit 1
ip netns add $NS || exit 1
ip -n $NS link add up0 type veth peer name up1 || exit 1
ip -n $NS addr add 198.51.100.11/24 dev up0
ip -n $NS link set up0 up
ip -n $NS link set up1 up
ip netns exec $NS sysctl -qw net.ipv4.ip_forward=1
N() { ip netns exec $NS "$@"; }
N "$NOSNAT" --pin-dir "$DIR/bpffs/n" attach up0 >/dev/null 2>&1 || { echo "attach failed"; exit 1; }
cat >"$DIR/c.yaml" <<EOT
nodes: [198.51.100.11, 198.51.100.12]
services:
  - name: mail
    vip: 192.0.2.10
    ports: [25, 465, {port: 993, targetPort: 10993}]
    backends:
      - {address: 198.18.1.2, node: 198.51.100.11}
      - {address: 198.18.2.2, node: 198.51.100.12, weight: 2}
EOT
vg() {
	local log="$DIR/vg.log"
	N valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
		--suppressions="$ROOT/tests/reliability/valgrind.supp" \
		"$NOSNAT" --pin-dir "$DIR/bpffs/n" "$@" >/dev/null 2>"$log"
	local code=$?
	if [ $code = 99 ] || ! grep -q "ERROR SUMMARY: 0 errors" "$log"; then
		echo "  FAIL  valgrind nosnat $*"
		grep -E "definitely|indirectly|Invalid|uninitialised|ERROR SUMMARY" "$log" | head -8
		rc=1
	else
		echo "  ok    valgrind nosnat $*: $(grep -o 'definitely lost: [0-9,]* bytes' "$log" || echo 'no leaks')"
	fi
}
vg apply "$DIR/c.yaml"
vg list
vg list --json
vg stats --json
vg metrics
vg verify
vg apply --dry-run "$DIR/c.yaml"
N "$NOSNAT" --pin-dir "$DIR/bpffs/n" detach up0 >/dev/null 2>&1
exit $rc
