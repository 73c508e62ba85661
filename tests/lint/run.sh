#!/bin/bash
# Lint gates: promtool on the metrics golden file, the deploy/ manifests
# rendered offline with kustomize and checked against the CLI, the seccomp
# profile against containerd's default.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
P=0
F=0
ok() { echo "  ok    $*"; P=$((P + 1)); }
no() { echo "  FAIL  $*"; F=$((F + 1)); }

if command -v promtool >/dev/null; then
	if out=$(promtool check metrics <"$ROOT/tests/fixtures/metrics.golden" 2>&1); then
		ok "promtool check metrics (golden file)"
	else
		no "promtool check metrics: $out"
	fi
else
	no "promtool not installed (Debian package prometheus)"
fi

# fault points (NOSNAT_FAULT_* in the environment) are for test builds:
# the release binary must not read them; the fault build shows the check sees them
if [ -x "$ROOT/build/nosnat" ] && [ -x "$ROOT/build/nosnat-faults" ]; then
	if grep -aq NOSNAT_FAULT_ "$ROOT/build/nosnat"; then
		no "build/nosnat reads test fault switches: $(grep -ao 'NOSNAT_FAULT_[A-Z_]*' "$ROOT/build/nosnat" | sort -u | tr '\n' ' ')"
	elif ! grep -aq NOSNAT_FAULT_ "$ROOT/build/nosnat-faults"; then
		no "build/nosnat-faults has no fault switch: the check would see nothing"
	else
		ok "build/nosnat has no test fault switch (build/nosnat-faults has)"
	fi
else
	no "build/nosnat and build/nosnat-faults not built (make all test-bins)"
fi

rendered=$(mktemp /tmp/nosnat-deploy.XXXXXX)
trap 'rm -f "$rendered"' EXIT
if command -v kubectl >/dev/null && kubectl kustomize "$ROOT/deploy" >"$rendered" 2>&1; then
	ok "kubectl kustomize deploy/"
	out=$(python3 "$ROOT/tests/lint/check_deploy.py" "$rendered" "$ROOT/build/nosnat" \
		"$ROOT/tests/fixtures/metrics.golden" "$ROOT/deploy")
	echo "$out" | grep -v '^lint-deploy:'
	line=$(echo "$out" | tail -1)
	P=$((P + $(sed -E 's/.*: ([0-9]+) passed.*/\1/' <<<"$line")))
	F=$((F + $(sed -E 's/.* ([0-9]+) failed$/\1/' <<<"$line")))
else
	no "kubectl kustomize deploy/: $(head -3 "$rendered")"
fi
# deploy/seccomp/nosnat.json: what scripts/seccomp_profile.py makes of
# containerd's default, byte for byte, and call by call the default itself
# for the DaemonSet's capabilities, bpf and perf_event_open allowed besides
sc=$(mktemp -d /tmp/nosnat-seccomp.XXXXXX)
trap 'rm -f "$rendered"; rm -rf "$sc"' EXIT
if python3 "$ROOT/scripts/seccomp_profile.py" "$ROOT/deploy/daemonset.yaml" >"$sc/gen.json" 2>"$sc/err" &&
	cmp -s "$sc/gen.json" "$ROOT/deploy/seccomp/nosnat.json"; then
	ok "deploy/seccomp/nosnat.json is scripts/seccomp_profile.py's output, byte for byte"
else
	no "deploy/seccomp/nosnat.json is not scripts/seccomp_profile.py's output: $(cat "$sc/err")
$(diff -u "$ROOT/deploy/seccomp/nosnat.json" "$sc/gen.json" | head -20)"
fi
if python3 "$ROOT/scripts/seccomp_profile.py" --base "$ROOT/deploy/daemonset.yaml" >"$sc/base.json" 2>"$sc/err"; then
	out=$(python3 "$ROOT/tests/lint/check_seccomp.py" "$ROOT/deploy/seccomp/nosnat.json" "$sc/base.json")
	echo "$out" | grep -v '^lint-seccomp:'
	line=$(echo "$out" | tail -1)
	P=$((P + $(sed -E 's/.*: ([0-9]+) passed.*/\1/' <<<"$line")))
	F=$((F + $(sed -E 's/.* ([0-9]+) failed$/\1/' <<<"$line")))
else
	no "containerd's default seccomp profile: $(cat "$sc/err")"
fi
# the systemd unit's sandbox, scored offline (no systemd needed as PID 1)
if command -v systemd-analyze >/dev/null; then
	score=$(systemd-analyze security --offline=true "$ROOT/deploy/nosnat.service" 2>&1 |
		sed -n 's/.*Overall exposure level for nosnat.service: \([0-9.]*\).*/\1/p')
	if [ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 3.0) }'; then
		ok "systemd-analyze security deploy/nosnat.service: exposure $score (at most 3.0)"
	else
		no "systemd-analyze security deploy/nosnat.service: exposure ${score:-unknown}, want at most 3.0"
	fi
else
	no "systemd-analyze not installed (Debian package systemd)"
fi

# make install into a staging root, with a prefix other than the default
stage=$(mktemp -d /tmp/nosnat-install.XXXXXX)
trap 'rm -f "$rendered"; rm -rf "$sc" "$stage"' EXIT
if out=$(make -C "$ROOT" -s install DESTDIR="$stage" PREFIX=/usr 2>&1) &&
	[ -x "$stage/usr/sbin/nosnat" ] && [ -f "$stage/usr/share/man/man8/nosnat.8" ] &&
	grep -q '^ExecStart=/usr/sbin/nosnat run ' "$stage/usr/lib/systemd/system/nosnat.service" &&
	[ "$(find "$stage" -type f | wc -l)" = 3 ]; then
	ok "make install DESTDIR=... PREFIX=/usr: binary, man page, unit naming /usr/sbin/nosnat"
else
	no "make install: $out $(find "$stage" -type f)"
fi

echo "lint: $P passed, $F failed"
[ "$F" = 0 ]
