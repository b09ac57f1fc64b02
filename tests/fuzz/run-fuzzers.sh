#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs every built libFuzzer target for a while and reports one line per target.
#
# Usage: tests/fuzz/run-fuzzers.sh [SECONDS_EACH] [BUILD_DIR]
#   SECONDS_EACH  run time of each target (default 30)
#   BUILD_DIR     a build configured with -Dfuzz=true (default: build-fuzz)
#   FUZZERS       environment: space-separated target names to run (default: all found)
#
# Each target starts from a temporary copy of tests/fuzz/corpus/<name>/ plus the inputs in
# tests/fuzz/regressions/<name>/; new inputs go to that copy, never into the tree. Exit status
# is 1 when any target crashed, leaked, timed out or could not run; the temporary directory
# of a failed target (log and crashing input) is kept and named in its summary line.
set -u

seconds=${1:-30}
build=${2:-build-fuzz}
here=$(cd "$(dirname "$0")" && pwd)

case $seconds in
'' | *[!0-9]*) echo "usage: $0 [SECONDS_EACH] [BUILD_DIR]" >&2; exit 2 ;;
esac
if [ ! -d "$build" ]; then
	echo "$0: no build directory $build (CC=clang-14 meson setup $build -Dfuzz=true ...)" >&2
	exit 2
fi

targets=$(find "$build" -type f -perm -u+x -name 'fuzz-*' ! -path '*.p/*' | sort)
if [ -z "$targets" ]; then
	echo "$0: no fuzz-* executables in $build" >&2
	exit 2
fi

failed=0
for bin in $targets; do
	target=$(basename "$bin")
	name=${target#fuzz-}
	if [ -n "${FUZZERS:-}" ]; then
		case " $FUZZERS " in
		*" $target "* | *" $name "*) ;;
		*) continue ;;
		esac
	fi
	work=$(mktemp -d "${TMPDIR:-/tmp}/capbus-$target.XXXXXX")
	mkdir -p "$work/corpus" "$work/artifacts"
	for src in "$here/corpus/$name" "$here/regressions/$name"; do
		[ -d "$src" ] && cp -R "$src/." "$work/corpus/"
	done
	set -- -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$work/artifacts/"
	[ -f "$here/$name.dict" ] && set -- "$@" -dict="$here/$name.dict"

	"$bin" "$@" "$work/corpus" >"$work/log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -n 1)
	cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' "$work/log" | tail -n 1)
	seeds=$(find "$work/corpus" -type f | wc -l)
	artifact=$(find "$work/artifacts" -type f | head -n 1)
	if [ "$rc" -eq 0 ] && [ -z "$artifact" ]; then
		echo "$target: ok ${seconds}s runs=${runs:-?} cov=${cov:-?} corpus=$seeds"
		rm -rf "$work"
	else
		kind=$(grep -m1 -o -E 'ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|libFuzzer): [a-z-]+|runtime error|deadly signal|timeout' "$work/log" || true)
		echo "$target: FAILED exit=$rc ${kind:+($kind) }input=${artifact:-none} log=$work/log"
		failed=1
	fi
done
exit $failed
