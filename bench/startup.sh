#!/bin/sh
# SPDX-License-Identifier: MIT
# startup.sh - capbus sandbox start-up benchmark: launch-to-exit of /bin/true, 200 runs each,
# against bwrap --unshare-all and plain fork+exec. Prints a markdown table.
# Usage: bench/startup.sh [BUILD_DIR] [RUNS]   (needs root)
# RT=1 runs every launcher under SCHED_FIFO, so other load on a shared machine does not
# stretch the medians (the CPU column is load-independent either way).
set -eu
build=${1:-build}
runs=${2:-200}
ninja -C "$build" sandbox/capbus-sandbox sandbox/bench-startup >/dev/null
if [ "${RT:-0}" = 1 ]; then
	exec chrt -f 10 "$build/sandbox/bench-startup" "$build/sandbox/capbus-sandbox" "$runs"
fi
exec "$build/sandbox/bench-startup" "$build/sandbox/capbus-sandbox" "$runs"
