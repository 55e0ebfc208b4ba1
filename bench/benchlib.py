# SPDX-License-Identifier: BSD-2-Clause
"""benchlib.py: helpers shared by the Python benchmarks (bench/http,
bench/relay, bench/scale): finding the binaries, a process's CPU time,
percentiles, running a bench with its exit status, and what makes a
figure reproducible: comparisons in alternating rounds, their median and
range, the machine (CPU model) and its load average before and after,
all of it also as JSON.

A bench that compares A with B the reproducible way:

    env = benchlib.RunEnv()                      # machine, load before
    res = benchlib.alternate(["otagw", "nginx"], 3, measure)
    ratio = benchlib.paired_ratios(res["otagw"], res["nginx"])
    print(benchlib.spread(benchlib.summary(ratio), "%.2f"))
    env.finish()                                 # load after
    benchlib.write_json(path, env.as_dict(rows=...))

Standard library only; not part of `make check`.
"""

import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys


def find_bin(explicit, name, build):
    """The path of src/NAME in the build tree, or the one given."""
    if explicit:
        return os.path.abspath(explicit)
    p = os.path.join(build, "src", name)
    if not os.access(p, os.X_OK):
        sys.exit("bench: no %s (build the tree, or give -B BUILDDIR)" % p)
    return os.path.abspath(p)


def server_cert(d):
    """A self-signed P-256 certificate for localhost in directory d, as
    the benchmarks' servers use it: (cert path, key path)."""
    cert = os.path.join(d, "cert.pem")
    key = os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "2", "-subj",
                    "/CN=localhost"], check=True, capture_output=True)
    return cert, key


def cpu_seconds(pid):
    """utime + stime of a process, in seconds (/proc/PID/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tck = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tck


def cpu_ns(pids):
    """CPU time of the processes pids (every thread), in nanoseconds.

    From /proc/PID/task/TID/schedstat, which counts nanoseconds; the
    utime + stime of /proc/PID/stat count clock ticks (10 ms), too coarse
    for a run of a second or two.  Falls back to those where schedstat is
    missing.  A process that is gone counts 0."""
    total = 0
    for pid in pids:
        try:
            tids = os.listdir("/proc/%d/task" % pid)
        except OSError:
            continue
        for tid in tids:
            try:
                with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                    total += int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                try:
                    total += int(cpu_seconds(int(tid)) * 1e9)
                except (OSError, ValueError):
                    pass
    return total


def rss_kib(pids):
    """Resident memory of the processes pids together (VmRSS), in KiB.
    A process that is gone counts 0."""
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def cpu_model():
    """The CPU's model name from /proc/cpuinfo (the first one)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def loadavg():
    """The 1, 5 and 15 minute load averages (/proc/loadavg)."""
    try:
        with open("/proc/loadavg") as f:
            return [float(x) for x in f.read().split()[:3]]
    except (OSError, ValueError):
        return [float(x) for x in os.getloadavg()]


def machine():
    """What a figure was measured on: a dict for the header and JSON."""
    return {"cpu_model": cpu_model(), "cpus": os.cpu_count(),
            "kernel": platform.release(), "arch": platform.machine(),
            "python": platform.python_version()}


def summary(values):
    """median, min, max and the values themselves (a dict; JSON-ready)."""
    v = list(values)
    if not v:
        return {"median": None, "min": None, "max": None, "values": []}
    return {"median": statistics.median(v), "min": min(v), "max": max(v),
            "values": v}


def spread(s, fmt="%.1f"):
    """'median (min-max)' of a summary(), e.g. '12.3 (11.9-13.0)'."""
    if s["median"] is None:
        return "-"
    if len(s["values"]) == 1:
        return fmt % s["median"]
    return (fmt + " (" + fmt + "-" + fmt + ")") % (s["median"], s["min"],
                                                   s["max"])


def alternate(names, rounds, measure):
    """Runs measure(name, round) for every name in every round, the order
    reversed every other round (A B, B A, A B, ...), so that a machine
    that gets busier or quieter during the run tilts neither side.
    Returns {name: [result of round 0, round 1, ...]}."""
    out = {n: [] for n in names}
    for r in range(rounds):
        order = list(names) if r % 2 == 0 else list(reversed(names))
        for n in order:
            out[n].append(measure(n, r))
    return out


def paired_ratios(a, b):
    """a[i] / b[i] round by round: the ratio of two sides measured
    side by side, steadier than the ratio of two medians when the
    machine's speed drifts between rounds.  b[i] == 0 gives inf."""
    return [x / y if y else float("inf") for x, y in zip(a, b)]


class RunEnv:
    """The machine and its load average before and after a bench run.

    A shared or busy machine moves the figures; the load average tells
    the reader whether it was quiet."""

    def __init__(self, name):
        self.name = name
        self.started = datetime.datetime.now(datetime.timezone.utc)
        self.machine = machine()
        self.load_before = loadavg()
        self.load_after = None

    def finish(self):
        self.load_after = loadavg()

    def header(self, what):
        """Lines that start a report: what, when, the machine, the load
        average before (and after, once finish() was called)."""
        m = self.machine
        lines = ["# %s, %s" % (what, self.started.strftime(
            "%Y-%m-%d %H:%M UTC")),
            "# machine: %s, %d CPUs, Linux %s, %s" % (
                m["cpu_model"], m["cpus"] or 0, m["kernel"], m["arch"]),
            "# load average before: %s" % self.load_text(self.load_before)]
        if self.load_after is not None:
            lines.append("# load average after: %s" %
                         self.load_text(self.load_after))
        return "\n".join(lines)

    @staticmethod
    def load_text(la):
        return " ".join("%.2f" % x for x in la) if la else "-"

    def as_dict(self, **more):
        d = {"bench": self.name,
             "started": self.started.strftime("%Y-%m-%dT%H:%M:%SZ"),
             "machine": self.machine, "load_before": self.load_before,
             "load_after": self.load_after}
        d.update(more)
        return d


def write_json(path, obj):
    """Writes obj as JSON to path ('-': standard output)."""
    text = json.dumps(obj, indent=2, sort_keys=True) + "\n"
    if path == "-":
        sys.stdout.write(text)
        return
    with open(path, "w") as f:
        f.write(text)


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
