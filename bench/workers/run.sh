#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# bench/workers/run.sh: otagw with `workers 1' against `workers N'.
#
#   bench/workers/run.sh [-w N] [-r ROUNDS] [--only https|coap] [...]
#
# Run it from a built tree (it builds nothing): it takes src/otagw and
# src/otactl from the current directory, or from -B BUILDDIR.  Needs
# python3, h2load (nghttp2-client) and openssl; taskset (util-linux)
# when the machine has CPUs to spare for the clients.
# `bench/workers/run.sh -h` lists every option; bench/README.md explains
# the figures.  Exit status: 0 target met, 3 target missed, 1 error.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
command -v python3 >/dev/null 2>&1 || {
	echo "run.sh: python3 is needed" >&2
	exit 1
}
PYTHONDONTWRITEBYTECODE=1
export PYTHONDONTWRITEBYTECODE
exec python3 "$here/bench.py" "$@"
