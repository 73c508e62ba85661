#!/bin/bash
# The whole test suite on a fresh Debian 12 machine: install dependencies,
# build, run unit, BPF and end-to-end tests. Needs root.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
"$ROOT/scripts/deps.sh"
make -C "$ROOT" -s all test-bins
exec "$ROOT/tests/run_all.sh"
