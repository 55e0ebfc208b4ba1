#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# bench/scale/compare.sh: bench/scale on two builds in alternating rounds.
#
#   bench/scale/compare.sh -A BUILD_BEFORE -B BUILD_AFTER [-r ROUNDS] ...
#
# Prints the median and range of every check figure for each build and of
# their ratio, round by round (bench/README.md).  Builds nothing.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
PYTHONDONTWRITEBYTECODE=1
export PYTHONDONTWRITEBYTECODE
exec python3 "$here/compare.py" "$@"
