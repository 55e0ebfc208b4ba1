#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# bench/shortconn/run.sh: one check-in per new connection, otagw against
# nginx (HTTPS) and coap-server-openssl (DTLS-PSK).
#
#   bench/shortconn/run.sh [-n CONNECTIONS] [-D DTLS_CHECKS] [-r ROUNDS]
#
# Run it from a built tree (it builds nothing): it takes src/otagw and
# src/otactl from the current directory, or from -B BUILDDIR, or from
# --otagw/--otactl.  Everything runs on 127.0.0.1 with free ports and a
# temporary directory that is removed afterwards (-k keeps it).  Needs
# python3, nginx and libcoap3-bin (coap-server-openssl,
# coap-client-openssl).  `bench/shortconn/run.sh -h` lists every option;
# bench/README.md explains the figures.  Exit status: 0 target met, 3
# target missed, 1 error.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
command -v python3 >/dev/null 2>&1 || {
	echo "run.sh: python3 is needed" >&2
	exit 1
}
PYTHONDONTWRITEBYTECODE=1
export PYTHONDONTWRITEBYTECODE
exec python3 "$here/bench.py" "$@"
