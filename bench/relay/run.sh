#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# bench/relay/run.sh: the upstream relay's throughput, and check latency
# while the upstream is down.
#
#   bench/relay/run.sh [-B BUILDDIR] [-D DEVICES] [-n CHECKS] [-b BATCH]
#                      [-r ROUNDS] [--json FILE] [-k]
#
# Builds nothing: it takes src/otagw and src/otactl from the current
# directory or from -B BUILDDIR, and needs nghttpx (nghttp2-proxy) and
# openssl.  bench/README.md explains the figures.  Exit status: 0 targets
# met, 3 a target missed, 1 error.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
command -v python3 >/dev/null 2>&1 || {
	echo "run.sh: python3 is needed" >&2
	exit 1
}
PYTHONDONTWRITEBYTECODE=1
export PYTHONDONTWRITEBYTECODE
exec python3 "$here/bench.py" "$@"
