# SPDX-License-Identifier: BSD-2-Clause
"""bench.py: the upstream relay: events relayed per second, and what an
unreachable upstream does to device checks.

Run through bench/relay/run.sh (see bench/README.md).  Not part of
`make check`.  Everything runs on 127.0.0.1 with free ports and a
temporary directory:

  1. the receiver: nghttpx (Debian's nghttp2-proxy) terminating TLS and
     HTTP/2 with a throwaway certificate for "localhost", in front of a
     counting backend written here.  The backend reads each POST, finds
     the sequence numbers with one regular expression (it does not build
     the events: it must not be the bottleneck), checks that they follow
     each other with no gap, and answers 200;
  2. provisions D devices (default 100,000) with `otactl device import`
     and 1,000 "probe" devices in another product, and adds a firmware;
  3. starts otagw -d with upstream_url pointing at the receiver's port
     while nothing listens there (the upstream is down), then makes a
     backlog: `otactl job create --all` (one state-change event per
     device) and `otactl job terminate` (one more per device): 2 x D
     events in the outbox;
  4. DOWN: times CoAP checks of the probe devices, one at a time, each
     reporting its version (a write transaction that appends a version
     report to the outbox), while the relay keeps failing to connect
     (upstream_backoff_max 1s, so it retries every second or so);
  5. starts the receiver and times the drain: from the first POST the
     backend sees to the moment it holds every event of the backlog, plus
     otagw's CPU time over the drain (utime + stime from /proc);
  6. UP: the same checks again with the receiver up and the outbox empty
     (each version report is then relayed at once).

Steps 3 to 6 make one round; there are R of them (-r, default 3), the
down and up checks swapping places every other round (round 2 times the
up checks first, then stops the receiver, makes a new backlog, times the
down checks and the drain), so that a machine that gets busier or
quieter during the run tilts neither side.  Every figure is shown as the
median and range over the rounds, with the machine's CPU model and load
average before and after; --json FILE writes them all.

Targets (issue 5): at least 20,000 events/s, and no change in check
latency while the upstream is down (the p50 and p99 of step 4 at most
10 % or 0.05 ms above those of step 6).  Exit status 0 when both are met,
3 when one is missed, 1 on an error.
"""

import argparse
import http.server
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration"))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.dont_write_bytecode = True

from benchlib import (RunEnv, cpu_seconds, find_bin, paired_ratios,  # noqa
                      pct, run_bench, spread, summary, write_json)
from otagw_harness import (COAP_POST, CoapUdp, free_port,  # noqa: E402
                           wait_for)

CHUNK = 10000
TOKEN = "bench-relay-token-0123456789abcdef"
SEQ_RE = re.compile(rb'"seq":(\d+)')

def find_nghttpx():
    p = shutil.which("nghttpx")
    if p is None and os.path.exists("/usr/sbin/nghttpx"):
        p = "/usr/sbin/nghttpx"
    if p is None:
        sys.exit("bench: nghttpx is needed (Debian package nghttp2-proxy, "
                 "which ./quickstart.sh installs)")
    return p
class Receiver:
    """The counting backend behind nghttpx."""

    def __init__(self, last=0):
        self.lock = threading.Lock()
        self.events = 0
        self.posts = 0
        self.bytes = 0
        self.last = last        # highest seq seen (or held before it)
        self.disorder = 0       # batches that did not follow the last one
        self.first_t = None     # perf_counter of the first POST
        self.last_t = None      # and of the last one answered
        self.bad_auth = 0
        rcv = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *a):
                pass

            def do_POST(self):
                t = time.perf_counter()
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                ok = self.headers.get("Authorization") == "Bearer " + TOKEN
                seqs = [int(x) for x in SEQ_RE.findall(body)] if ok else []
                with rcv.lock:
                    if rcv.first_t is None:
                        rcv.first_t = t
                    if not ok:
                        rcv.bad_auth += 1
                    elif seqs:
                        # at least once: a batch sent again may overlap
                        if seqs[0] > rcv.last + 1 or any(
                                b != a + 1 for a, b in zip(seqs, seqs[1:])):
                            rcv.disorder += 1
                        new = [s for s in seqs if s > rcv.last]
                        rcv.events += len(new)
                        rcv.last = max(rcv.last, seqs[-1])
                    rcv.posts += 1
                    rcv.bytes += len(body)
                status = 200 if ok else 401
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                with rcv.lock:
                    rcv.last_t = time.perf_counter()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def snapshot(self):
        with self.lock:
            return (self.events, self.last, self.posts, self.bytes,
                    self.first_t, self.last_t, self.disorder, self.bad_auth)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Bench:
    def __init__(self, a):
        self.a = a
        self.tmp = tempfile.mkdtemp(prefix="otagw-relay-")
        self.state = os.path.join(self.tmp, "var")
        # otactl never makes a state directory: otagw would at its start
        os.makedirs(self.state, 0o700)
        self.conf = os.path.join(self.tmp, "otagw.conf")
        self.port = free_port()
        self.up_port = free_port(socket.SOCK_STREAM)
        self.proc = None
        self.proxy = None
        self.rcv = None

    def ctl(self, *args, check=True):
        p = subprocess.run([self.a.otactl, "--state", self.state] +
                           [str(x) for x in args], capture_output=True,
                           text=True, timeout=600)
        if check and p.returncode != 0:
            raise RuntimeError("otactl %s: %s" % (" ".join(map(str, args[:3])),
                                                  p.stderr.strip()))
        return p

    def relay_status(self):
        import json
        p = self.ctl("--json", "relay", "status")
        return json.loads(p.stdout)

    def make_cert(self):
        self.key = os.path.join(self.tmp, "up.key")
        self.crt = os.path.join(self.tmp, "up.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                        "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", self.key, "-out", self.crt, "-days", "2",
                        "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost"],
                       check=True, capture_output=True)
        self.token = os.path.join(self.tmp, "up.token")
        with open(self.token, "w") as f:
            f.write(TOKEN + "\n")

    def write_conf(self):
        with open(self.conf, "w") as f:
            f.write("gateway_id gw-relay-bench\nstate_dir %s\n"
                    "log_level info\n"
                    "coap_listen 127.0.0.1:%d\ncoaps_listen off\n"
                    "https_listen off\nadmin_listen off\n"
                    "map_size 4G\noutbox_limit 10000000\n"
                    "upstream_url https://localhost:%d/v1/events\n"
                    "upstream_ca %s\nupstream_token_file %s\n"
                    "upstream_batch_max %d\nupstream_backoff_max 1s\n"
                    % (self.state, self.port, self.up_port, self.crt,
                       self.token, self.a.batch))

    def start(self):
        self.logpath = os.path.join(self.tmp, "otagw.log")
        self.log = open(self.logpath, "ab")
        self.proc = subprocess.Popen([self.a.otagw, "-d", "-c", self.conf],
                                     stdout=self.log, stderr=self.log)

        def ready():
            if self.proc.poll() is not None:
                return True
            with open(self.logpath, "rb") as f:
                return b"otagw ready" in f.read()
        wait_for(ready, 30, "otagw ready", interval=0.05)
        if self.proc.poll() is not None:
            raise RuntimeError("otagw exited")

    def start_receiver(self, last=0):
        self.rcv = Receiver(last)
        self.proxy = subprocess.Popen(
            [self.a.nghttpx, "--conf=/dev/null", "--single-process",
             "-f127.0.0.1,%d" % self.up_port,
             "-b127.0.0.1,%d" % self.rcv.port,
             "--no-ocsp", "--errorlog-file=" +
             os.path.join(self.tmp, "nghttpx.log"),
             "--accesslog-file=/dev/null", self.key, self.crt],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def up():
            if self.proxy.poll() is not None:
                return True
            try:
                socket.create_connection(("127.0.0.1", self.up_port),
                                         0.2).close()
                return True
            except OSError:
                return False
        wait_for(up, 10, "nghttpx listening", interval=0.01)
        if self.proxy.poll() is not None:
            raise RuntimeError("nghttpx exited")

    def stop_receiver(self):
        """Stops nghttpx and the backend; returns the last seq held."""
        last = self.rcv.snapshot()[1] if self.rcv else 0
        if self.proxy and self.proxy.poll() is None:
            self.proxy.kill()
            self.proxy.wait()
        self.proxy = None
        if self.rcv:
            self.rcv.close()
            self.rcv = None
        return last

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)
        if self.proc:
            self.log.close()
            self.proc = None
        if self.proxy and self.proxy.poll() is None:
            self.proxy.kill()
            self.proxy.wait()
        if self.rcv:
            self.rcv.close()
            self.rcv = None

    def provision(self):
        n = self.a.devices
        for first in range(0, n, CHUNK):
            path = os.path.join(self.tmp, "dev-%d.csv" % first)
            with open(path, "w") as f:
                for i in range(first, min(n, first + CHUNK)):
                    f.write("bulk,b%06d,,\n" % i)
            self.ctl("device", "import", path)
            os.unlink(path)
        path = os.path.join(self.tmp, "probe.csv")
        with open(path, "w") as f:
            for i in range(self.a.probes):
                f.write("probe,p%04d,,\n" % i)
        self.ctl("device", "import", path)
        img = os.path.join(self.tmp, "fw.bin")
        with open(img, "wb") as f:
            f.write(os.urandom(4096))
        p = self.ctl("firmware", "add", img, "--product", "bulk",
                     "--version", "2.0.0")
        return p.stdout.strip().splitlines()[-1]

    def checks(self, rnd):
        """One check per probe device (versions reported: a write and a
        version report in the outbox), one at a time; returns (round
        trips in ms, daemon CPU ms per check)."""
        socks = [CoapUdp("127.0.0.1", self.port, timeout=2.0, tries=3)
                 for _ in range(16)]
        rtts = []
        bad = 0
        cpu0 = cpu_seconds(self.proc.pid)
        for k in range(self.a.checks):
            dev = "p%04d" % (k % self.a.probes)
            body = b'{"versions":{"default":"1.%d.%d"}}' % (rnd, k)
            s = socks[k % len(socks)]
            t0 = time.perf_counter()
            r = s.request(COAP_POST, "/ota/%s/check" % dev, body,
                          content_format=50)
            rtts.append((time.perf_counter() - t0) * 1000.0)
            if r is None or r.code != "2.04":
                bad += 1
        cpu = cpu_seconds(self.proc.pid) - cpu0
        for s in socks:
            s.close()
        if bad:
            raise RuntimeError("%d of %d checks were not answered 2.04" %
                               (bad, self.a.checks))
        return rtts, cpu * 1000.0 / self.a.checks

    def backlog(self, fw):
        """2 x D events while the upstream is down: a job over every
        device and its termination."""
        before = self.relay_status()["depth"]
        p = self.ctl("job", "create", "--firmware", fw, "--force", "--all")
        job = p.stdout.strip().splitlines()[-1]
        self.ctl("job", "terminate", job)
        depth = self.relay_status()["depth"]
        if depth - before < 2 * self.a.devices:
            raise RuntimeError("expected %d more events in the outbox, "
                               "found %d" % (2 * self.a.devices,
                                             depth - before))
        return depth

    def drain(self, last):
        """Starts the receiver (it holds every seq up to last) and times
        the drain of the outbox."""
        st = self.relay_status()
        want = st["lastSeq"]
        cpu0 = cpu_seconds(self.proc.pid)
        t_start = time.perf_counter()
        self.start_receiver(last)

        def drained():
            return self.rcv.snapshot()[1] >= want
        wait_for(drained, self.a.timeout, "the receiver holding seq %d" %
                 want, interval=0.01)
        cpu = cpu_seconds(self.proc.pid) - cpu0
        (events, _, posts, nbytes, t_first, t_last, disorder,
         bad_auth) = self.rcv.snapshot()
        wait_for(lambda: self.relay_status()["depth"] == 0, 30,
                 "an empty outbox", interval=0.1)
        return {"events": events, "posts": posts, "bytes": nbytes,
                "drain_s": t_last - t_first, "wall_s": t_last - t_start,
                "cpu_s": cpu, "disorder": disorder, "bad_auth": bad_auth,
                "want": want - last}

    def down_then_drain(self, fw, rnd, last, out):
        """Upstream down: a backlog, the down checks, then the drain."""
        out["backlog"] = self.backlog(fw)
        time.sleep(2)       # the relay is retrying every second or so
        out["down"] = self.checks(rnd)
        out["down_depth"] = self.relay_status()["depth"]
        out.update(self.drain(last))

    def up(self, rnd, out):
        time.sleep(1)
        out["up"] = self.checks(rnd)
        wait_for(lambda: self.relay_status()["depth"] == 0, 30,
                 "an empty outbox", interval=0.1)

    def run(self):
        """a.rounds rounds, each with a drain, checks with the upstream
        down and checks with it up; the down and up checks swap places
        every other round (down, up; up, down; ...)."""
        a = self.a
        self.make_cert()
        self.write_conf()
        fw = self.provision()
        self.start()
        rounds = []
        last = 0
        for r in range(a.rounds):
            out = {}
            if r % 2 == 0:
                say("round %d/%d: down, drain, up" % (r + 1, a.rounds))
                if self.rcv is not None:
                    last = self.stop_receiver()
                self.down_then_drain(fw, 2 * r + 1, last, out)
                self.up(2 * r + 2, out)
            else:
                say("round %d/%d: up, down, drain" % (r + 1, a.rounds))
                self.up(2 * r + 1, out)
                last = self.stop_receiver()
                self.down_then_drain(fw, 2 * r + 2, last, out)
            last = self.rcv.snapshot()[1]
            rounds.append(out)
        self.env.finish()
        return rounds


def say(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def report(a, rounds):
    sp = spread
    env = a.env
    print(env.header("otagw relay benchmark, %d rounds (down and up checks "
                     "alternating), median (min-max)" % a.rounds))
    print("# receiver: nghttpx (TLS, HTTP/2) in front of a counting "
          "backend; batches of up to %d events" % a.batch)
    print("")
    ok = True
    rates, d50, u50, d99, u99, dcpu, ucpu, evcpu = ([] for _ in range(8))
    for r in rounds:
        rates.append(r["events"] / r["drain_s"] if r["drain_s"] > 0
                     else 0.0)
        evcpu.append(r["cpu_s"] * 1e6 / max(1, r["events"]))
        d_rtt, dc = r["down"]
        u_rtt, uc = r["up"]
        d50.append(pct(d_rtt, 50))
        u50.append(pct(u_rtt, 50))
        d99.append(pct(d_rtt, 99))
        u99.append(pct(u_rtt, 99))
        dcpu.append(dc)
        ucpu.append(uc)
        if r["disorder"] or r["bad_auth"] or r["events"] != r["want"]:
            print("  WRONG: %d batches out of order, %d refused tokens, %d "
                  "of %d events" % (r["disorder"], r["bad_auth"],
                                    r["events"], r["want"]))
            ok = False
    r0 = rounds[0]
    print("drain of a backlog of about %d events (the upstream was down), "
          "each round:" % r0["want"])
    print("  events received %d in %d POSTs in round 1 (%.0f bytes an "
          "event)" % (r0["events"], r0["posts"],
                      r0["bytes"] / max(1, r0["events"])))
    print("  first POST to last: %s s" % sp(summary(
        [r["drain_s"] for r in rounds]), "%.2f"))
    print("  otagw CPU over the drain: %s us an event" % sp(summary(evcpu)))
    print("")
    rows = []
    rate = summary(rates)
    met = rate["median"] >= 20000
    ok = ok and met
    rows.append(("events relayed per second", sp(rate, "%.0f"),
                 ">= 20,000", met))
    for name, d, u in (("p50", d50, u50), ("p99", d99, u99)):
        ds, us = summary(d), summary(u)
        rat = summary(paired_ratios(d, u))
        diff = summary([x - y for x, y in zip(d, u)])
        met = rat["median"] <= 1.10 or diff["median"] <= 0.05
        ok = ok and met
        rows.append(("check %s, upstream down, ms" % name, sp(ds, "%.3f"),
                     "", None))
        rows.append(("check %s, upstream up, ms" % name, sp(us, "%.3f"),
                     "", None))
        rows.append(("check %s, ratio down/up" % name, sp(rat, "%.2f"),
                     "no change", met))
    rows.append(("check daemon CPU (mean) down, ms", sp(summary(dcpu),
                                                        "%.3f"), "", None))
    rows.append(("check daemon CPU (mean) up, ms", sp(summary(ucpu),
                                                      "%.3f"), "", None))
    rows.append(("outbox depth during the down checks",
                 sp(summary([r["down_depth"] for r in rounds]), "%.0f"),
                 "", None))
    w = max(len(x[0]) for x in rows)
    print("%-*s  %-26s  %-10s  %s" % (w, "measure", "result", "target", ""))
    print("%s  %s  %s  %s" % ("-" * w, "-" * 26, "-" * 10, "----"))
    for name, val, target, m in rows:
        flag = "" if m is None else ("met" if m else "MISSED")
        print("%-*s  %-26s  %-10s  %s" % (w, name, val, target, flag))
    print("")
    print("(check = one CoAP POST /ota/{device}/check reporting a new version:"
          " one write transaction\n with a version report appended to the"
          " outbox; %d checks each way and round, one at a time;\n"
          " 'no change': the ratio down/up at most 1.10, or down at most "
          "0.05 ms above up)" % a.checks)
    if a.json:
        write_json(a.json, env.as_dict(
            rounds=a.rounds, devices=a.devices, checks=a.checks,
            batch=a.batch, ok=ok,
            figures={"rate": rate, "check_p50_down": summary(d50),
                     "check_p50_up": summary(u50),
                     "check_p99_down": summary(d99),
                     "check_p99_up": summary(u99),
                     "check_p50_ratio": summary(paired_ratios(d50, u50)),
                     "check_p99_ratio": summary(paired_ratios(d99, u99)),
                     "cpu_us_per_event": summary(evcpu),
                     "check_cpu_ms_down": summary(dcpu),
                     "check_cpu_ms_up": summary(ucpu)}))
    return ok


def main():
    ap = argparse.ArgumentParser(
        description="otagw relay benchmark (see bench/README.md)")
    ap.add_argument("-B", "--build", default=".",
                    help="build tree holding src/otagw and src/otactl")
    ap.add_argument("--otagw")
    ap.add_argument("--otactl")
    ap.add_argument("-D", "--devices", type=int, default=100000,
                    help="devices in the job: the backlog is twice this")
    ap.add_argument("-n", "--checks", type=int, default=5000,
                    help="checks timed each way (default 5000)")
    ap.add_argument("-p", "--probes", type=int, default=1000,
                    help="devices doing the timed checks (default 1000)")
    ap.add_argument("-b", "--batch", type=int, default=500,
                    help="upstream_batch_max (default 500)")
    ap.add_argument("-t", "--timeout", type=float, default=300,
                    help="longest wait for the drain, seconds")
    ap.add_argument("-r", "--rounds", type=int, default=3,
                    help="rounds, down and up alternating (default 3)")
    ap.add_argument("--json", metavar="FILE",
                    help="also write every figure as JSON ('-': stdout)")
    ap.add_argument("-k", "--keep", action="store_true",
                    help="keep the temporary directory")
    a = ap.parse_args()
    if a.rounds < 1:
        sys.exit("bench: --rounds must be at least 1")
    a.env = RunEnv("relay")
    a.otagw = find_bin(a.otagw, "otagw", a.build)
    a.otactl = find_bin(a.otactl, "otactl", a.build)
    a.nghttpx = find_nghttpx()
    b = Bench(a)
    b.env = a.env
    return run_bench(b, report, a, keep_on_error=True)

if __name__ == "__main__":
    sys.exit(main())
