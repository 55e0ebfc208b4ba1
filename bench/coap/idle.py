# SPDX-License-Identifier: BSD-2-Clause
"""idle.py: the cost of idle DTLS sessions, otagw against coap-server-openssl.

Run through bench/coap/idle.sh (see bench/README.md).  For each server in
turn (the order alternates between rounds), a fresh process is started and
idle DTLS sessions are opened up to each point of the curve (default 0,
1,000, 10,000 and 50,000): each idle session is a real DTLS-PSK handshake
followed by one GET for block 0 of the image, after which the client keeps
its socket and says nothing more (dtlspsk.py idle, several processes, each
on its own loopback source address).  At each point:

  - RSS per session: the server's resident memory growth since the point
    with no idle session, divided by the sessions held;
  - CPU per block: P dtlspsk.py load processes download the image over
    DTLS, 1 KiB blocks, for -d seconds; server CPU / blocks served;
  - CPU per handshake: K new sessions (handshake, one GET, close_notify),
    C at a time; server CPU / sessions answered.

Every figure is the median over the rounds, with its range.  The server's
CPU is the time its threads ran, from /proc/PID/task/*/schedstat (in
nanoseconds: /proc/PID/stat counts in 10 ms ticks, too coarse for a few
hundred handshakes), read around each measurement.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True
import bench  # noqa: E402

DTLSPSK = os.path.join(HERE, "dtlspsk.py")
# Sessions per idle process: under the open-file limit, and under the
# ephemeral ports of one source address.
PER_PROC = 12500
TARGET_CPU_10K = 1.5
TARGET_CPU_50K = 2.0
TARGET_KB = 12.0


def cpu_seconds(pid):
    """CPU time of all of pid's threads, in seconds (schedstat, ns)."""
    return bench.benchlib.cpu_ns([pid]) / 1e9


def psk_args(srv):
    out = []
    for dev, key in srv.devices:
        out += ["--psk", "%s:%s" % (dev, key.encode().hex())]
    return out


class IdleSessions:
    """Idle DTLS sessions held open by dtlspsk.py idle processes."""

    def __init__(self, a, srv):
        self.a = a
        self.srv = srv
        self.procs = []
        self.held = 0
        self.codes = {}
        self.failed = 0
        self.addr = 10

    def spawn(self, k, end):
        self.addr += 1
        return subprocess.Popen(
            [sys.executable, DTLSPSK, "idle",
             "--port", str(self.srv.port("coaps")), "--path", self.srv.path,
             "-m", str(k), "-n", str(self.a.open_concurrency),
             "-s", "127.0.0.%d" % self.addr,
             "--deadline", str(max(5, end - time.monotonic()))] +
            psk_args(self.srv),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def grow(self, total, deadline):
        """Opens sessions up to total; stops early when the server lags."""
        end = time.monotonic() + deadline
        while self.held < total and time.monotonic() < end:
            # Two processes at a time: they share two CPUs with the server.
            batch = []
            need = total - self.held
            while need > 0 and len(batch) < 2:
                k = min(need, PER_PROC)
                need -= k
                batch.append((self.spawn(k, end), k))
            short = False
            for p, k in batch:
                line = p.stdout.readline().split(None, 2)
                self.procs.append(p)
                if len(line) < 3 or line[0] != "ready":
                    bench.die("idle sessions did not open")
                t = json.loads(line[2])
                self.held += int(line[1])
                self.failed += t["failed"]
                for c, v in t["codes"].items():
                    self.codes[c] = self.codes.get(c, 0) + v
                short = short or int(line[1]) < k
            if short:
                return

    def close(self):
        for p in self.procs:
            p.stdin.close()
        for p in self.procs:
            p.wait(30)
        self.procs = []


def run_procs(args_list, timeout):
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
             for args in args_list]
    out = []
    for p in procs:
        o, e = p.communicate(timeout=timeout)
        if p.returncode != 0:
            bench.die("dtlspsk failed: %s" % e[-2000:])
        out.append(json.loads(o.strip().splitlines()[-1]))
    return out


def measure_blocks(a, srv, image):
    n = max(1, a.concurrency // a.procs)
    args = [[sys.executable, DTLSPSK, "load",
             "--port", str(srv.port("coaps")), "--path", srv.path,
             "-n", str(n), "-d", str(a.duration), "--size", str(image.size),
             "--sha256", image.sha256, "--deadline", "60"] + psk_args(srv)
            for _ in range(a.procs)]
    c0 = cpu_seconds(srv.pid)
    ts = run_procs(args, a.duration + 120)
    cpu = cpu_seconds(srv.pid) - c0
    blocks = sum(t["blocks"] for t in ts)
    bad = sum(t["bad"] + t["failed"] for t in ts)
    return (cpu * 1e6 / blocks if blocks else float("nan")), blocks, bad


def measure_handshakes(a, srv):
    n = a.handshakes // a.procs
    args = [[sys.executable, DTLSPSK, "hs",
             "--port", str(srv.port("coaps")), "--path", srv.path,
             "-m", str(n), "-n", "8", "--deadline", "120"] + psk_args(srv)
            for _ in range(a.procs)]
    c0 = cpu_seconds(srv.pid)
    ts = run_procs(args, 300)
    cpu = cpu_seconds(srv.pid) - c0
    done = sum(t["answered"] for t in ts)
    failed = sum(t["failed"] for t in ts)
    return (cpu * 1e6 / done if done else float("nan")), done, failed


def one_round(a, srv, image, client, rnd):
    """Starts srv, walks the curve, stops srv; a list of rows."""
    srv.start()
    bench.verify_server(srv, image, client)
    idle = IdleSessions(a, srv)
    rows = []
    rss0 = None
    try:
        for point in a.points:
            t0 = time.monotonic()
            idle.grow(point, a.open_deadline)
            opened_s = time.monotonic() - t0
            rss = bench.rss_kib(srv.pid)
            us_block, blocks, bad = measure_blocks(a, srv, image)
            us_hs, hs, hs_failed = measure_handshakes(a, srv)
            if rss0 is None:
                rss0 = bench.rss_kib(srv.pid)
            row = {"server": srv.name, "round": rnd, "point": point,
                   "held": idle.held, "open_failed": idle.failed,
                   "open_s": opened_s, "rss_kib": rss,
                   "kb_per_session": ((rss - rss0) / idle.held
                                      if idle.held and point else None),
                   "us_block": us_block, "blocks": blocks, "bad": bad,
                   "us_hs": us_hs, "hs": hs, "hs_failed": hs_failed}
            rows.append(row)
            bench.say("%s round %d: %d idle held (%.0f s to open), "
                      "%.1f us/block, %.0f us/handshake, RSS %d KiB" %
                      (srv.name, rnd, idle.held, opened_s, us_block, us_hs,
                       rss))
            if idle.held < point:
                bench.say("%s: only %d of %d idle sessions opened; the "
                          "curve stops here" % (srv.name, idle.held, point))
                break
    finally:
        idle.close()
        srv.stop()
    return rows


def med(vals):
    vals = [v for v in vals if v is not None and v == v]
    if not vals:
        return None, None, None
    return statistics.median(vals), min(vals), max(vals)


def fmt(m, digits=1):
    v, lo, hi = m
    if v is None:
        return "-"
    f = "%%.%df" % digits
    return (f + " [" + f + "-" + f + "]") % (v, lo, hi)


def report(a, rows):
    p = print
    p("otagw idle DTLS sessions benchmark, %s" %
      time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    p("machine: %s; load average %s" % (
        bench.machine(), " ".join("%.2f" % x for x in os.getloadavg())))
    p("%d rounds, servers alternating; at each point: %d DTLS downloaders "
      "(%d processes) for %g s, %d new handshakes (handshake, one GET, "
      "close_notify)" % (a.rounds, a.concurrency, a.procs, a.duration,
                         a.handshakes))
    p("figures: median [min-max] over the rounds")
    p("")
    hdr = "%-6s %7s %13s %24s %24s %20s" % (
        "server", "idle", "held (min)", "CPU us/block", "CPU us/handshake",
        "RSS KiB/session")
    p(hdr)
    p("-" * len(hdr))
    verdict = []
    base = {}
    for name in ("otagw", "stock"):
        for point in a.points:
            rs = [r for r in rows if r["server"] == name and
                  r["point"] == point]
            if not rs:
                continue
            b = med([r["us_block"] for r in rs])
            h = med([r["us_hs"] for r in rs])
            k = med([r["kb_per_session"] for r in rs])
            if point == 0:
                base[name] = (b[0], h[0])
            p("%-6s %7d %13d %24s %24s %20s" % (
                name, point, min(r["held"] for r in rs), fmt(b), fmt(h, 0),
                fmt(k)))
            if name == "otagw" and point and name in base:
                lim = TARGET_CPU_10K if point <= 10000 else TARGET_CPU_50K
                rb = b[0] / base[name][0] if base[name][0] else 0
                rh = h[0] / base[name][1] if base[name][1] else 0
                ok = (rb <= lim and rh <= lim and k[0] is not None and
                      k[0] <= TARGET_KB and
                      min(r["held"] for r in rs) >= point)
                if point >= 10000:
                    verdict.append(ok)
                p("%-6s %7s %13s %24s %24s %20s   %s" % (
                    "", "", "vs none:", "%.2fx" % rb, "%.2fx" % rh,
                    "target <= %.0f" % TARGET_KB,
                    "(target <= %.1fx, %s)" % (
                        lim, "met" if ok else "MISSED")
                    if point >= 10000 else ""))
    p("")
    for name in ("otagw", "stock"):
        rs = [r for r in rows if r["server"] == name]
        if not rs:
            continue
        p("%s: downloads that failed their check or handshakes lost: %d; "
          "idle sessions that failed to open: %d" % (
              name, sum(r["bad"] + r["hs_failed"] for r in rs),
              sum(r["open_failed"] for r in rs)))
        short = [r for r in rs if r["held"] < r["point"]]
        for r in short:
            p("  round %d: only %d of %d idle sessions opened in %.0f s "
              "(--open-deadline)" % (r["round"], r["held"], r["point"],
                                     r["open_s"]))
    return bool(verdict) and all(verdict)


def main():
    ap = argparse.ArgumentParser(
        prog="bench/coap/idle.sh",
        description="CPU per block, CPU per handshake and memory per "
        "session of otagw and coap-server-openssl with idle DTLS "
        "sessions held.")
    ap.add_argument("-p", "--points", default="0,1000,10000,50000",
                    help="idle sessions at each point (ascending)")
    ap.add_argument("-r", "--rounds", type=int, default=3)
    ap.add_argument("-n", "--concurrency", type=int, default=8,
                    help="DTLS downloaders (default 8)")
    ap.add_argument("-P", "--procs", type=int, default=2,
                    help="load processes (default 2)")
    ap.add_argument("-d", "--duration", type=float, default=4)
    ap.add_argument("-k", "--handshakes", type=int, default=2000,
                    help="new handshakes measured at each point")
    ap.add_argument("-s", "--size", default="256K")
    ap.add_argument("--open-concurrency", type=int, default=24,
                    help="handshakes under way per idle process")
    ap.add_argument("--open-deadline", type=float, default=240,
                    help="seconds allowed to open one point's sessions")
    ap.add_argument("-B", "--build", default=".")
    ap.add_argument("--otagw")
    ap.add_argument("--otactl")
    ap.add_argument("--stock", default=shutil.which("coap-server-openssl"))
    ap.add_argument("--client", default=shutil.which("coap-client-openssl"))
    ap.add_argument("--only", choices=("otagw", "stock"))
    ap.add_argument("--json")
    a = ap.parse_args()
    a.points = sorted(int(x) for x in a.points.split(","))
    a.size = bench.parse_size(a.size)
    a.block = 1024
    # What bench.Otagw's configuration needs.
    a.idle = max(a.points) + a.handshakes
    a.count = 0
    if a.only != "stock":
        a.otagw = bench.find_bin(a.otagw, "otagw", a.build)
        a.otactl = bench.find_bin(a.otactl, "otactl", a.build)
    if not a.stock or not a.client:
        bench.die("coap-server-openssl / coap-client-openssl not found")
    tmp = tempfile.mkdtemp(prefix="otagw-idle-")
    rows = []
    try:
        image = bench.Image(tmp, a.size)
        client = bench.Client(a.client, tmp)
        devices = [("bench-%04d" % i, "bench-key-%04d-%s" %
                    (i, os.urandom(8).hex())) for i in range(16)]
        names = [n for n in ("otagw", "stock") if a.only in (None, n)]
        for rnd in range(a.rounds):
            order = names if rnd % 2 == 0 else names[::-1]
            for name in order:
                d = os.path.join(tmp, "r%d" % rnd)
                os.makedirs(d, exist_ok=True)
                cls = bench.Otagw if name == "otagw" else bench.Stock
                srv = cls(a, d, image, devices, client)
                rows += one_round(a, srv, image, client, rnd)
        ok = report(a, rows)
        if a.json:
            with open(a.json, "w") as f:
                json.dump(rows, f, indent=1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(0 if ok else 3)


if __name__ == "__main__":
    main()
