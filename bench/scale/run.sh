#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# bench/scale/run.sh: otagw with 100,000 devices and 10,000 pending notices.
#
#   bench/scale/run.sh [-B BUILDDIR] [-D DEVICES] [-P PENDING] [-n CHECKS] [-k]
#
# Builds nothing: it takes src/otagw and src/otactl from the current
# directory or from -B BUILDDIR.  Times `otactl job create --all`, CoAP
# checks (p50, p99) and reads the daemon's memory; bench/README.md explains
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
