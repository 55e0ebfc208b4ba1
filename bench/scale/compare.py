# SPDX-License-Identifier: BSD-2-Clause
"""compare.py: bench/scale for two builds, in alternating rounds.

    bench/scale/compare.sh -A BUILD_BEFORE -B BUILD_AFTER [-r ROUNDS]
                           [bench.py options: -D, -P, -n, -i]

Runs bench/scale/bench.py on build A, then on build B, ROUNDS times
(default 3), and prints for every check figure the median and range of
each build and of the ratio B/A taken round by round, with the machine
and its load average.  The question it answers: did a change (B) make
device checks slower than before it (A)?  Issue 13's target: the check
p99 with transfer tracking on at most 1.10x the figure before.
Standard library only; not part of `make check`.
"""

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
LINE = re.compile(r"^(check, [^:]+): p50 / p99 round trip\s+([\d.]+) / "
                  r"([\d.]+) ms")
CPU = re.compile(r"^(check, [^:]+): daemon CPU \(mean\)\s+([\d.]+) ms")


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def one_run(build, extra):
    p = subprocess.run([sys.executable, os.path.join(HERE, "bench.py"),
                        "-B", build] + extra, capture_output=True,
                       text=True)
    if p.returncode not in (0, 3):
        sys.exit("compare: bench.py -B %s failed:\n%s" % (build,
                                                         p.stderr[-2000:]))
    fig = {}
    for line in p.stdout.splitlines():
        m = LINE.match(line.strip())
        if m:
            fig[m.group(1) + ": p50"] = float(m.group(2))
            fig[m.group(1) + ": p99"] = float(m.group(3))
        m = CPU.match(line.strip())
        if m:
            fig[m.group(1) + ": daemon CPU"] = float(m.group(2))
    return fig


def spread(vals, fmt):
    return (fmt + " (" + fmt + " - " + fmt + ")") % (
        statistics.median(vals), min(vals), max(vals))


def main():
    ap = argparse.ArgumentParser(description="bench/scale, two builds")
    ap.add_argument("-A", required=True, help="the build before")
    ap.add_argument("-B", required=True, help="the build after")
    ap.add_argument("-r", "--rounds", type=int, default=3)
    a, extra = ap.parse_known_args()
    rounds = []
    for r in range(a.rounds):
        print("round %d of %d: A then B" % (r + 1, a.rounds),
              file=sys.stderr)
        rounds.append((one_run(a.A, extra), one_run(a.B, extra)))
    print("bench/scale, %d alternating rounds; A = %s, B = %s" % (
        a.rounds, a.A, a.B))
    print("machine: %s, %d CPUs, %s; load average %s" % (
        cpu_model(), os.cpu_count(), platform.platform(),
        " ".join("%.2f" % x for x in os.getloadavg())))
    print()
    print("%-52s  %-24s  %-24s  %s" % ("figure (ms)", "A median (range)",
                                       "B median (range)",
                                       "B/A median (range)"))
    for key in rounds[0][0]:
        av = [r[0][key] for r in rounds if key in r[0]]
        bv = [r[1][key] for r in rounds if key in r[1]]
        ratio = [r[1][key] / r[0][key] for r in rounds
                 if key in r[0] and key in r[1] and r[0][key] > 0]
        print("%-52s  %-24s  %-24s  %s" % (
            key, spread(av, "%.3f"), spread(bv, "%.3f"),
            spread(ratio, "%.2f") if ratio else "-"))


if __name__ == "__main__":
    main()
