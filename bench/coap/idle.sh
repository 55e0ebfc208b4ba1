#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# bench/coap/idle.sh: the cost of idle DTLS sessions, otagw against libcoap's
# stock coap-server-openssl, at 0, 1,000, 10,000 and 50,000 idle sessions.
#
#   bench/coap/idle.sh [-r ROUNDS] [-p POINTS] [-B BUILDDIR] [...]
#
# Run it from a built tree (it builds nothing), like bench/coap/run.sh.
# Needs python3, libssl3 (loaded through ctypes) and libcoap3-bin.
# `bench/coap/idle.sh -h` lists every option; bench/README.md explains the
# figures.  Exit status: 0 targets met, 3 a target missed, 1 error.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
PYTHONDONTWRITEBYTECODE=1
export PYTHONDONTWRITEBYTECODE
exec python3 "$here/idle.py" "$@"
