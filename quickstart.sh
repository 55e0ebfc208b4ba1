#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# quickstart.sh: set up, build and run otagw on a fresh Debian 12 machine.
#
#   ./quickstart.sh run     install what is missing, build, generate
#                           development certificates into certs/, create
#                           ./var and run otagw in the foreground on
#                           conf/otagw.conf
#   ./quickstart.sh check   the same set-up, then the whole test suite;
#                           the last line reads "N passed, N failed"
#   ./quickstart.sh bench [NAME [ARGS]]
#                           the same set-up plus what the benchmarks
#                           compare against (nginx), then bench/NAME/run.sh
#                           ARGS; without NAME, lists the benchmarks
#
# Environment: JOBS (parallel make jobs, default: number of CPUs),
# CONFIGURE_FLAGS (extra ./configure arguments).
set -eu

cd "$(dirname "$0")"

# Debian packages the build, the daemon and the tests need; clang and
# libclang-rt-14-dev build the libFuzzer targets (make fuzz, .ci/run);
# mandoc lints the manual pages (tests/unit/check_man.py); debhelper to
# systemd build and check the Debian package (make package-check, .ci/run;
# systemd for systemd-analyze and systemd.pc).  libbz2-dev builds the
# delta patches (src/delta, docs/delta.md), libdivsufsort-dev is what
# their tests check the suffix sort against, and
# bsdiff gives Debian's bspatch, which tests/integration/test_delta.py
# applies otagw's patches with (and bench/delta's bsdiff).
PACKAGES="build-essential autoconf automake pkg-config
libcoap3-dev libcoap3-bin libnghttp2-dev nghttp2-client libssl-dev openssl
liblmdb-dev lmdb-utils libcjson-dev libhttp-parser-dev nghttp2-proxy
libdivsufsort-dev libbz2-dev bsdiff
curl wget python3 clang libclang-rt-14-dev mandoc
debhelper dpkg-dev lintian fakeroot systemd"

# What only the test suite needs beyond PACKAGES: swupdate is the real
# hawkBit DDI client tests/integration/test_ddi_swupdate.py runs against
# otagw, and cpio packs the .swu images it installs (docs/hawkbit.md).
# Installing swupdate also enables its own socket units (an update
# service for the machine itself): that is why `run' does not install
# it, and the test stays clear of them with a TMPDIR of its own.
CHECK_PACKAGES="swupdate cpio"

# What only the benchmarks need (bench/README.md): nginx, the server
# bench/http and bench/shortconn compare with (Debian starts its service
# on port 80 when it installs it), taskset for bench/workers, and GNU
# time for bench/delta's peak memory (bsdiff is in PACKAGES).
BENCH_PACKAGES="nginx util-linux time"

say() { printf 'quickstart: %s\n' "$*" >&2; }

install_deps() {
	missing=""
	for p in $PACKAGES ${EXTRA_PACKAGES:-}; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		    grep -q 'install ok installed' || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	say "installing:$missing"
	sudo=""
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null 2>&1 ||
		    { say "need root or sudo to install:$missing"; exit 1; }
		sudo=sudo
	fi
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
	# shellcheck disable=SC2086
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing
}

build() {
	jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}
	if [ ! -x configure ] || [ configure.ac -nt configure ] ||
	    [ Makefile.am -nt configure ]; then
		say "autoreconf"
		autoreconf -fi
	fi
	if [ ! -f Makefile ] || [ configure -nt Makefile ]; then
		say "configure ${CONFIGURE_FLAGS:-}"
		# shellcheck disable=SC2086
		./configure ${CONFIGURE_FLAGS:-}
	fi
	say "make -j$jobs"
	make -j"$jobs"
}

setup() {
	install_deps
	build
	sh certs/gen.sh certs
	mkdir -p var
}

# Adds up the "N passed, N failed" summaries of every test log; a test
# that ended without a summary (crash, timeout) counts as one failure.
summarize() {
	passed=0
	failed=0
	for trs in tests/unit/*.trs tests/integration/*.trs; do
		[ -f "$trs" ] || continue
		log=${trs%.trs}.log
		result=$(sed -n 's/^:test-result: //p' "$trs" | head -n 1)
		line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" 2>/dev/null |
		    tail -n 1 || true)
		if [ -n "$line" ]; then
			p=${line%% passed*}
			f=${line#*passed, }
			f=${f%% failed*}
		else
			p=0
			f=0
		fi
		case $result in
		PASS|SKIP) ;;
		*) [ "$f" -eq 0 ] && f=1 ;;
		esac
		[ "$result" = SKIP ] && say "skipped: ${trs%.trs}"
		passed=$((passed + p))
		failed=$((failed + f))
	done
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}

case ${1:-} in
run)
	setup
	say "starting otagw -d -c conf/otagw.conf (Ctrl-C stops it)"
	exec ./src/otagw -d -c conf/otagw.conf
	;;
check)
	EXTRA_PACKAGES=$CHECK_PACKAGES
	setup
	jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}
	status=0
	make -j"$jobs" check || status=$?
	[ "$status" -eq 0 ] || {
		say "failing tests:"
		grep -l '^:test-result: \(FAIL\|ERROR\|XPASS\)' \
		    tests/*/*.trs 2>/dev/null | sed 's/\.trs$/.log/' >&2 || true
	}
	summarize || status=1
	exit "$status"
	;;
bench)
	EXTRA_PACKAGES=$BENCH_PACKAGES
	setup
	shift
	if [ $# -eq 0 ]; then
		say "benchmarks (bench/README.md explains each):"
		for d in bench/*/run.sh; do
			n=${d#bench/}
			echo "  ./quickstart.sh bench ${n%/run.sh}" >&2
		done
		exit 0
	fi
	name=$1
	shift
	[ -x "bench/$name/run.sh" ] || {
		say "no benchmark bench/$name (./quickstart.sh bench lists them)"
		exit 2
	}
	exec "bench/$name/run.sh" "$@"
	;;
*)
	echo "usage: $0 run | check | bench [NAME [ARGS]]" >&2
	exit 2
	;;
esac
