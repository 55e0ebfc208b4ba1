#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# bench/delta/run.sh: otactl delta make against Debian's bsdiff.
#
#   bench/delta/run.sh [-r ROUNDS] [-s MIB] [--block N] [--no-real] [...]
#
# Run it from a built tree (it builds nothing): it takes src/otactl from
# the current directory, or from -B BUILDDIR.  Needs python3, bsdiff
# (bsdiff and bspatch) and, for the real pairs, apt-get download.
# `bench/delta/run.sh -h` lists every option; bench/README.md explains
# the figures.  Exit status: 0 targets met, 3 a target missed, 1 error.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
command -v python3 >/dev/null 2>&1 || {
	echo "run.sh: python3 is needed" >&2
	exit 1
}
PYTHONDONTWRITEBYTECODE=1
export PYTHONDONTWRITEBYTECODE
exec python3 "$here/bench.py" "$@"
