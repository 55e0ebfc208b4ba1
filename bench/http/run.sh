#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# bench/http/run.sh: otagw's HTTPS front end against nginx, measured with h2load.
#
#   bench/http/run.sh [-B BUILDDIR] [-r ROUNDS] [--json FILE] [--only ROW]
#                     [--otagw PATH] [--otactl PATH] [-k] [...]
#
# Run it from a built tree (it builds and installs nothing): it takes
# src/otagw and src/otactl from the current directory or from -B BUILDDIR.
# Needs python3, h2load (nghttp2-client), nginx (Debian package nginx) and
# openssl; it says which are missing.  Everything runs on 127.0.0.1 with
# free ports and a temporary directory removed afterwards (-k keeps it).
# `bench/http/run.sh -h` lists the options; bench/README.md explains the
# figures.  Exit status: 0 targets met, 3 a target missed, 1 error.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
command -v python3 >/dev/null 2>&1 || {
	echo "run.sh: python3 is needed" >&2
	exit 1
}
PYTHONDONTWRITEBYTECODE=1
export PYTHONDONTWRITEBYTECODE
exec python3 "$here/bench.py" "$@"
