#!/bin/sh
# SPDX-License-Identifier: MIT
# startup.sh - capbus sandbox start-up benchmark: launch-to-exit of /bin/true, 200 runs each,
# against bwrap --unshare-all and plain fork+exec. Prints a markdown table.
# Usage: bench/startup.sh [BUILD_DIR] [RUNS]   (needs root)
set -eu
build=${1:-build}
runs=${2:-200}
ninja -C "$build" sandbox/capbus-sandbox sandbox/bench-startup >/dev/null
exec "$build/sandbox/bench-startup" "$build/sandbox/capbus-sandbox" "$runs"
