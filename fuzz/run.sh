#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# fuzz/run.sh: runs the libFuzzer targets of a --enable-fuzz build
# (docs/fuzzing.md); `make fuzz' and .ci/run call it.
#
#   fuzz/run.sh [-s SECONDS] [-B BUILDDIR] [NAME ...]
#
#   -s SECONDS  how long to fuzz each target (default: $FUZZ_SECONDS or 60)
#   -B BUILDDIR a build configured with CC=clang --enable-fuzz, where
#               `make fuzz-targets' has run (default: .)
#   NAME ...    the targets to run (default: every fuzz/corpus/NAME)
#
# The seeds and the regression inputs are read from the directory this
# script is in, whichever tree the build was configured from.  For each
# target NAME:
#
#   1. every input of fuzz/regress/NAME (each crash ever found) is run
#      once; if one still crashes, the target has failed and is not
#      fuzzed;
#   2. the target is fuzzed for SECONDS, starting from its work corpus
#      (BUILDDIR/fuzz/work/NAME, kept between runs; new inputs go there,
#      never into the committed seeds), fuzz/corpus/NAME and
#      fuzz/regress/NAME.  A crash, a leak, a hang of more than 10 s or
#      an input that needs more than 2 GB is written to fuzz/regress/NAME/
#      (commit it with the fix) and fails the target.
#
# Each target's log is BUILDDIR/fuzz/logs/NAME.log.  The output is one
# line per target with the executions it reached, then, as its last line,
# "N passed, N failed" counting targets.  Exit status 1 when a target
# failed, 2 on a usage error.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
seconds=${FUZZ_SECONDS:-60}
build=.

usage() {
	echo "usage: $0 [-s SECONDS] [-B BUILDDIR] [NAME ...]" >&2
	exit 2
}

while getopts s:B: opt; do
	case $opt in
	s) seconds=$OPTARG ;;
	B) build=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
case $seconds in
''|*[!0-9]*) usage ;;
esac
build=$(cd "$build" && pwd)

if [ $# -gt 0 ]; then
	targets=$*
else
	targets=$(cd "$here/corpus" && ls)
fi

# The targets keep their state (a store) in TMPDIR: one directory for the
# run, in memory when /dev/shm is there, removed even after a crash.
base=/tmp
[ -d /dev/shm ] && [ -w /dev/shm ] && base=/dev/shm
TMPDIR=$(mktemp -d "$base/otagw-fuzz-run.XXXXXX")
export TMPDIR
trap 'rm -rf "$TMPDIR"' EXIT
trap 'exit 130' INT TERM
UBSAN_OPTIONS="print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export UBSAN_OPTIONS

mkdir -p "$build/fuzz/logs"
passed=0
failed=0

say() { printf 'fuzz: %s\n' "$*"; }

# The regression inputs of a target, one per line (dot files aside).
regress_files() {
	find "$here/regress/$1" -maxdepth 1 -type f ! -name '.*' | sort
}

for t in $targets; do
	bin=$build/fuzz/fuzz_$t
	log=$build/fuzz/logs/$t.log
	regress=$here/regress/$t
	work=$build/fuzz/work/$t
	if [ ! -x "$bin" ]; then
		say "$t: FAILED: $bin is missing (make fuzz-targets)"
		failed=$((failed + 1))
		continue
	fi
	if [ ! -d "$here/corpus/$t" ]; then
		say "$t: FAILED: no seeds in fuzz/corpus/$t"
		failed=$((failed + 1))
		continue
	fi
	mkdir -p "$regress" "$work"

	# 1. every crash ever found, first
	nreg=$(regress_files "$t" | wc -l)
	if [ "$nreg" -gt 0 ]; then
		# shellcheck disable=SC2046
		if ! "$bin" $(regress_files "$t") >"$log" 2>&1; then
			say "$t: FAILED: a regression input crashes again" \
			    "(see $log)"
			grep -E '^(Running:|==[0-9]+==ERROR|SUMMARY|.*runtime error)' \
			    "$log" | head -n 8 | sed 's/^/fuzz:   /'
			failed=$((failed + 1))
			continue
		fi
	fi

	# 2. fuzz
	start=$(date +%s)
	status=0
	"$bin" -max_total_time="$seconds" -print_final_stats=1 \
	    -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
	    -artifact_prefix="$regress/" \
	    "$work" "$here/corpus/$t" "$regress" >"$log" 2>&1 || status=$?
	secs=$(($(date +%s) - start))
	[ "$secs" -gt 0 ] || secs=1
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" |
	    tail -n 1)
	if [ -z "$runs" ]; then
		# a crash ends the run before the final stats
		runs=$(sed -n 's/^#\([0-9][0-9]*\).*/\1/p' "$log" | tail -n 1)
	fi
	runs=${runs:-0}
	if [ "$status" -eq 0 ]; then
		say "$t: ok: $runs executions in $secs s ($((runs / secs))/s)," \
		    "$nreg regression inputs"
		passed=$((passed + 1))
	else
		say "$t: FAILED after $runs executions in $secs s (exit" \
		    "$status, see $log)"
		grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error|.*fuzz invariant)' \
		    "$log" | head -n 4 | sed 's/^/fuzz:   /'
		sed -n 's/.*Test unit written to \(.*\)$/fuzz:   kept: \1/p' \
		    "$log"
		failed=$((failed + 1))
	fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
