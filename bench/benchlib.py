# SPDX-License-Identifier: BSD-2-Clause
"""benchlib.py: helpers shared by the Python benchmarks (bench/scale,
bench/relay): finding the binaries, a process's CPU time, percentiles,
the targets table, and running a bench with its exit status.

Standard library only; not part of `make check`.
"""

import os
import shutil
import sys


def find_bin(explicit, name, build):
    """The path of src/NAME in the build tree, or the one given."""
    if explicit:
        return os.path.abspath(explicit)
    p = os.path.join(build, "src", name)
    if not os.access(p, os.X_OK):
        sys.exit("bench: no %s (build the tree, or give -B BUILDDIR)" % p)
    return os.path.abspath(p)


def cpu_seconds(pid):
    """utime + stime of a process, in seconds (/proc/PID/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tck = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tck


def pct(values, p):
    """The p-th percentile (nearest rank) of values, 0.0 when empty."""
    s = sorted(values)
    if not s:
        return 0.0
    k = min(len(s) - 1, max(0, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def run_bench(b, report, a, keep_on_error=False):
    """Runs b.run(), stops b, prints the report; returns the exit status:
    0 targets met, 3 one missed, 1 an error."""
    try:
        r = b.run()
    except (RuntimeError, TimeoutError, OSError) as e:
        print("bench: %s" % e, file=sys.stderr)
        b.stop()
        if keep_on_error:
            print("kept %s" % b.tmp, file=sys.stderr)
        return 1
    b.stop()
    ok = report(a, r)
    if a.keep:
        print("kept %s" % b.tmp)
    else:
        shutil.rmtree(b.tmp, ignore_errors=True)
    return 0 if ok else 3
