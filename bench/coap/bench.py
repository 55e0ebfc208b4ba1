# SPDX-License-Identifier: BSD-2-Clause
"""bench.py: otagw against libcoap's stock coap-server, block-wise downloads.

Run through bench/coap/run.sh (see bench/README.md).  For each server, the
real otagw and `coap-server-openssl` from libcoap3-bin, both on 127.0.0.1
and serving the same random image, and for each transport (plain CoAP and
CoAP over DTLS-PSK), N concurrent downloaders fetch the image block by
block for a fixed time (or count).  The server's CPU time (utime + stime of
its process, from /proc/PID/stat) is read before and after; blocks served
and whole downloads (size and SHA-256 checked) are counted by the clients.
Then otagw is measured again with 5,000 idle sessions open (plain CoAP
sockets that each sent one request and stay silent), and the stock server
too, for comparison.

Load generators: plain CoAP uses coapudp.py (-P processes sharing the
downloaders, one UDP socket each, hand-framed GET with Block2); coaps uses
one coap-client-openssl process per download, since Python has no DTLS.
Both verify every finished download.  Only the server's CPU is measured,
so the clients' own cost shows up in downloads/s but not in CPU per block.
One Python process cannot keep a server busy: the server then sleeps
between datagrams and the figure measures its wake-ups more than its
serving, which is why the default is two (see bench/README.md).
"""

import argparse
import concurrent.futures
import datetime
import hashlib
import itertools
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import coapudp  # noqa: E402
sys.path.insert(0, os.path.dirname(HERE))
import benchlib  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
_names = itertools.count(1)


def tmp_name(d, prefix):
    """A fresh file name in our own temporary directory."""
    return os.path.join(d, "%s%d" % (prefix, next(_names)))
PRODUCT = "bench"
SRC_VERSION = "1.0.0"
DST_VERSION = "2.0.0"
TARGET_RATIO = 0.6


def say(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def die(msg):
    say("error: " + msg)
    sys.exit(1)


def parse_size(s):
    s = s.strip().upper()
    mult = 1
    for suf, m in (("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30)):
        if s.endswith(suf) or s.endswith(suf + "IB"):
            s = s[:s.index(suf)]
            mult = m
            break
    return int(float(s) * mult)


# Processes ------------------------------------------------------------------

def cpu_seconds(pid):
    """utime + stime of a process (all its threads), in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / CLK_TCK


def rss_kib(pid):
    return benchlib.rss_kib([pid])


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def port_pair():
    """p and p+1 free for UDP and TCP on 127.0.0.1 (coap-server binds all)."""
    for _ in range(200):
        p = free_udp_port()
        if p > 65000:
            continue
        held = []
        try:
            for port in (p, p + 1):
                for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                    s = socket.socket(socket.AF_INET, kind)
                    held.append(s)
                    s.bind(("127.0.0.1", port))
            return p
        except OSError:
            continue
        finally:
            for s in held:
                s.close()
    die("no free pair of ports")


def wait_for(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            die("timed out waiting for " + what)
        time.sleep(0.02)


def stop_process(proc, timeout=10):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# coap-client ---------------------------------------------------------------

class Client:
    """coap-client-openssl, for set-up steps and the coaps downloads."""

    def __init__(self, path, tmp):
        self.path = path
        self.tmp = tmp

    def run(self, uri, out, method="get", block=None, payload_file=None,
            text=None, content_format=None, psk=None, timeout=15):
        args = [self.path, "-m", method, "-B", str(timeout), "-o", out]
        if block:
            args += ["-b", str(block)]
        if psk:
            args += ["-u", psk[0], "-k", psk[1]]
        if content_format is not None:
            args += ["-t", str(content_format)]
        if payload_file:
            args += ["-f", payload_file]
        if text is not None:
            args += ["-e", text]
        args.append(uri)
        try:
            p = subprocess.run(args, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, timeout=timeout + 10)
            return p.returncode, p.stderr.decode("utf-8", "replace")
        except subprocess.TimeoutExpired:
            return -1, "timeout"

    def fetch(self, uri, psk=None, block=1024):
        out = tmp_name(self.tmp, "get-")
        try:
            self.run(uri, out, block=block, psk=psk)
            with open(out, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return b""
        finally:
            if os.path.exists(out):
                os.unlink(out)


# Servers --------------------------------------------------------------------

class Otagw:
    name = "otagw"

    def __init__(self, a, tmp, image, devices, client):
        self.a = a
        self.tmp = os.path.join(tmp, "otagw")
        os.makedirs(self.tmp)
        self.state = os.path.join(self.tmp, "var")
        self.conf = os.path.join(self.tmp, "otagw.conf")
        self.log = os.path.join(self.tmp, "otagw.log")
        self.image = image
        self.devices = devices
        self.client = client
        self.proc = None
        self.coap_port = free_udp_port()
        self.coaps_port = free_udp_port()
        while self.coaps_port == self.coap_port:
            self.coaps_port = free_udp_port()
        self.fwid = None
        self.path = None

    def write_conf(self):
        idle = self.a.idle + 4 * self.a.concurrency + 64
        settings = [
            ("gateway_id", "gw-bench"),
            ("state_dir", self.state),
            ("log_level", "info"),
            ("coap_listen", "127.0.0.1:%d" % self.coap_port),
            ("coaps_listen", "127.0.0.1:%d" % self.coaps_port),
            ("https_listen", "off"),
            ("admin_listen", "off"),
            ("coap_max_sessions", str(max(idle, 1000))),
            ("coap_session_timeout", "3600"),
            ("coap_max_handshakes", str(max(2 * self.a.concurrency, 256))),
            # The load comes from 127.0.0.x: one network, a few addresses.
            ("coap_handshakes_per_source", "4096"),
            ("coap_handshakes_per_net", "4096"),
            # Thousands of idle sessions from a few addresses, sharing a
            # handful of PSK identities: no per-source or per-device cap.
            ("coap_sessions_per_source", "0"),
            ("coap_sessions_per_device", "0"),
            # 0: otagw's default, one worker thread per CPU
            ("workers", str(self.a.workers)),
        ]
        with open(self.conf, "w") as f:
            f.write("# generated by bench/coap/bench.py\n")
            for k, v in settings:
                f.write("%s %s\n" % (k, v))

    def otactl(self, *args):
        p = subprocess.run([self.a.otactl, "--state", self.state] +
                           [str(x) for x in args], capture_output=True,
                           text=True, timeout=120)
        if p.returncode != 0:
            die("otactl %s: exit %d: %s" % (" ".join(map(str, args)),
                                             p.returncode, p.stderr.strip()))
        return p.stdout

    def start(self):
        self.write_conf()
        os.makedirs(self.state, exist_ok=True)
        say("otagw: provisioning %d devices, adding the image, creating a job"
            % len(self.devices))
        for dev, key in self.devices:
            self.otactl("device", "put", dev, "--product", PRODUCT,
                        "--psk", key.encode().hex(),
                        "--version", SRC_VERSION)
        out = self.otactl("firmware", "add", self.image.path,
                          "--product", PRODUCT, "--version", DST_VERSION,
                          "--name", "bench")
        self.fwid = out.strip().splitlines()[-1].strip()
        self.path = "/fw/" + self.fwid
        out = self.otactl("job", "create", "--firmware", self.fwid, "--force",
                          "--devices", ",".join(d for d, _ in self.devices))
        self.job = out.strip().splitlines()[-1].strip()
        self.logf = open(self.log, "ab")
        self.proc = subprocess.Popen([self.a.otagw, "-d", "-c", self.conf],
                                     stdout=self.logf, stderr=self.logf)

        def ready():
            if self.proc.poll() is not None:
                return True
            with open(self.log, "rb") as f:
                return b"otagw ready" in f.read()
        wait_for(ready, 20, "otagw ready")
        if self.proc.poll() is not None:
            with open(self.log, errors="replace") as f:
                die("otagw exited %s:\n%s" % (self.proc.returncode,
                                              f.read()[-3000:]))
        self.pid = self.proc.pid
        say("otagw: pid %d, coap %d, coaps %d, firmware %s, job %s" %
            (self.pid, self.coap_port, self.coaps_port, self.fwid, self.job))
        self.check_in()

    def check_in(self):
        """Every device checks in over coaps and is offered the image."""
        body = json.dumps({"versions": {"default": SRC_VERSION}})

        def one(dk):
            out = tmp_name(self.tmp, "notice-")
            self.client.run(self.uri("coaps", "/ota/%s/check" % dk[0]), out,
                            method="post", text=body, content_format=50,
                            psk=dk)
            try:
                with open(out) as f:
                    notice = json.load(f)
                os.unlink(out)
            except (OSError, ValueError):
                return None
            return notice
        # A new job starts at the daemon's next tick: until then a check
        # gets 2.04, so ask again for a while.
        notices = {}
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            todo = [dk for dk in self.devices if dk[0] not in notices]
            if not todo:
                break
            with concurrent.futures.ThreadPoolExecutor(8) as ex:
                for dk, n in zip(todo, ex.map(one, todo)):
                    if n and n.get("firmware") == self.fwid:
                        notices[dk[0]] = n
            if len(notices) < len(self.devices):
                time.sleep(0.3)
        bad = [d for d, _ in self.devices if d not in notices]
        if bad:
            die("otagw: no notice for %d devices (first: %s); log: %s" %
                (len(bad), bad[0], self.log))
        n = notices[self.devices[0][0]]
        if n.get("path") != self.path or n.get("size") != self.image.size:
            die("otagw: unexpected notice %r" % n)

    def uri(self, transport, path):
        port = self.coap_port if transport == "coap" else self.coaps_port
        return "%s://127.0.0.1:%d%s" % (transport, port, path)

    def port(self, transport):
        return self.coap_port if transport == "coap" else self.coaps_port

    def stop(self):
        stop_process(self.proc)
        if self.proc is not None:
            self.logf.close()


class Stock:
    name = "stock"

    def __init__(self, a, tmp, image, devices, client):
        self.a = a
        self.tmp = os.path.join(tmp, "stock")
        os.makedirs(self.tmp)
        self.log = os.path.join(self.tmp, "coap-server.log")
        self.image = image
        self.client = client
        self.key = devices[0][1]
        # Any identity with the one key: each downloader keeps its own name.
        self.devices = [(d, self.key) for d, _ in devices]
        self.proc = None
        self.path = "/fw/image"

    def start(self):
        self.p = port_pair()
        self.logf = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [self.a.stock, "-A", "127.0.0.1", "-p", str(self.p),
             "-d", "4", "-k", self.key],
            stdout=self.logf, stderr=self.logf)
        self.pid = self.proc.pid

        def up():
            if self.proc.poll() is not None:
                die("coap-server-openssl exited %s" % self.proc.returncode)
            m = coapudp.request("127.0.0.1", self.p, coapudp.GET,
                                "/.well-known/core", timeout=0.5)
            return m is not None and m.code_str() == "2.05"
        wait_for(up, 10, "coap-server-openssl")
        # The image goes in with a block-wise PUT (-d lets PUT create it).
        out = os.path.join(self.tmp, "put.out")
        self.client.run(self.uri("coap", self.path), out, method="put",
                        block=1024, payload_file=self.image.path,
                        content_format=42, timeout=30)
        say("stock: pid %d, coap %d, coaps %d, image PUT to %s" %
            (self.pid, self.p, self.p + 1, self.path))

    def uri(self, transport, path):
        return "%s://127.0.0.1:%d%s" % (transport, self.port(transport), path)

    def port(self, transport):
        return self.p if transport == "coap" else self.p + 1

    def stop(self):
        stop_process(self.proc)
        if self.proc is not None:
            self.logf.close()


class Image:
    def __init__(self, tmp, size):
        self.path = os.path.join(tmp, "image.bin")
        self.size = size
        data = os.urandom(size)
        self.sha256 = hashlib.sha256(data).hexdigest()
        with open(self.path, "wb") as f:
            f.write(data)


# Load -----------------------------------------------------------------------

def verify_server(srv, image, client):
    """One download over each transport must give our image."""
    for transport in ("coap", "coaps"):
        psk = srv.devices[0] if transport == "coaps" else None
        if transport == "coap":
            data = fetch_udp(srv.port("coap"), srv.path, image.size)
        else:
            data = client.fetch(srv.uri(transport, srv.path), psk=psk)
        if len(data) != image.size or \
                hashlib.sha256(data).hexdigest() != image.sha256:
            die("%s over %s: got %d bytes that are not the image" %
                (srv.name, transport, len(data)))


def fetch_udp(port, path, size):
    buf = bytearray()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect(("127.0.0.1", port))
    try:
        num = 0
        while True:
            m = request_block(sock, path, num)
            if m is None or m.code_str() != "2.05":
                return bytes(buf)
            buf += m.payload
            b2 = m.opt_uint(coapudp.OPT_BLOCK2) or 0
            if not b2 & 8:
                return bytes(buf)
            num += 1
    finally:
        sock.close()


def request_block(sock, path, num):
    mid = num & 0xFFFF
    token = os.urandom(8)
    pkt = coapudp.encode(coapudp.CON, coapudp.GET, mid, token,
                         coapudp.path_options(path) +
                         [coapudp.block2(num, False, 6)])
    for _ in range(5):
        sock.send(pkt)
        sock.settimeout(1.0)
        try:
            while True:
                m = coapudp.decode(sock.recv(2048))
                if m is not None and m.token == token and m.code != 0:
                    return m
        except socket.timeout:
            continue
    return None


def load_udp(a, srv, image):
    """a.procs coapudp.py processes sharing a.concurrency downloaders."""
    procs = []
    for i in range(a.procs):
        n = a.concurrency // a.procs + (1 if i < a.concurrency % a.procs else 0)
        count = 0
        if a.count:
            count = a.count // a.procs + (1 if i < a.count % a.procs else 0)
        args = [sys.executable, os.path.join(HERE, "coapudp.py"), "load",
                "--port", str(srv.port("coap")), "--path", srv.path,
                "--size", str(image.size), "--sha256", image.sha256,
                "-n", str(n), "-d", str(a.duration), "-c", str(count),
                "-b", str(a.block)]
        procs.append(subprocess.Popen(args, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    tallies = []
    for p in procs:
        out, err = p.communicate(timeout=a.duration + 120)
        if p.returncode != 0:
            die("coapudp load failed: %s" % err[-2000:])
        tallies.append(json.loads(out.strip().splitlines()[-1]))
    t = {"downloads": 0, "bad": 0, "blocks": 0, "elapsed": 0.0, "errors": 0}
    for x in tallies:
        for k in ("downloads", "bad", "blocks"):
            t[k] += x[k]
        t["errors"] += sum(x["errors"].values()) + x["abandoned"]
        t["elapsed"] = max(t["elapsed"], x["elapsed"])
    t["detail"] = tallies
    return t


def load_dtls(a, srv, image, client):
    """N threads, each running coap-client downloads back to back."""
    lock = threading.Lock()
    t = {"downloads": 0, "bad": 0, "blocks": 0, "errors": 0, "started": 0}
    start = time.monotonic()
    deadline = start + a.duration

    def worker(i):
        dev = srv.devices[i % len(srv.devices)]
        out = os.path.join(srv.tmp, "dl-%d.bin" % i)
        uri = srv.uri("coaps", srv.path)
        while time.monotonic() < deadline:
            with lock:
                if a.count and t["started"] >= a.count:
                    return
                t["started"] += 1
            if os.path.exists(out):
                os.unlink(out)
            rc, err = client.run(uri, out, block=a.block, psk=dev, timeout=20)
            try:
                with open(out, "rb") as f:
                    data = f.read()
            except FileNotFoundError:
                data = b""
            ok = (len(data) == image.size and
                  hashlib.sha256(data).hexdigest() == image.sha256)
            with lock:
                t["blocks"] += (len(data) + a.block - 1) // a.block
                if ok:
                    t["downloads"] += 1
                else:
                    t["bad"] += 1
                    if not data:
                        t["errors"] += 1
    threads = [threading.Thread(target=worker, args=(i,))
               for i in range(a.concurrency)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    t["elapsed"] = time.monotonic() - start
    return t


def measure(a, srv, transport, image, client, label=None):
    say("%s over %s: %d downloaders for %gs%s" %
        (srv.name, transport, a.concurrency, a.duration,
         (" (%s)" % label) if label else ""))
    c0 = cpu_seconds(srv.pid)
    if transport == "coap":
        t = load_udp(a, srv, image)
    else:
        t = load_dtls(a, srv, image, client)
    c1 = cpu_seconds(srv.pid)
    if srv.proc.poll() is not None:
        die("%s exited during the run" % srv.name)
    t["cpu"] = c1 - c0
    t["server"] = srv.name
    t["transport"] = transport
    t["us_per_block"] = t["cpu"] * 1e6 / t["blocks"] if t["blocks"] else 0
    t["dl_per_s"] = t["downloads"] / t["elapsed"] if t["elapsed"] else 0
    return t


def pool(rs):
    """Repeated runs of one server and transport, added up."""
    t = dict(rs[0])
    for k in ("downloads", "bad", "blocks", "errors", "cpu", "elapsed"):
        t[k] = sum(r[k] for r in rs)
    t["runs"] = len(rs)
    t["us_per_block"] = t["cpu"] * 1e6 / t["blocks"] if t["blocks"] else 0
    t["dl_per_s"] = t["downloads"] / t["elapsed"] if t["elapsed"] else 0
    return t


def measure_idle(a, srv, image, client):
    """The same plain CoAP load with a.idle silent sessions open."""
    rss0 = rss_kib(srv.pid)
    idle = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "coapudp.py"), "idle",
         "--port", str(srv.port("coap")), "--path", srv.path,
         "-m", str(a.idle), "-b", str(a.block)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        line = idle.stdout.readline().split(None, 2)
        if len(line) < 2 or line[0] != "ready":
            die("idle sessions did not open")
        answered = int(line[1])
        codes = json.loads(line[2]) if len(line) > 2 else {}
        rss1 = rss_kib(srv.pid)
        t = measure(a, srv, "coap", image, client,
                    "%d idle sessions" % a.idle)
        rss2 = rss_kib(srv.pid)
    finally:
        idle.stdin.close()
        idle.wait(30)
    t["idle"] = a.idle
    t["answered"] = answered
    t["codes"] = codes
    t["rss_idle_mib"] = (rss1 - rss0) / 1024.0
    t["rss_after_mib"] = (rss2 - rss0) / 1024.0
    return t


# Report ---------------------------------------------------------------------

def machine():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return "%s, %d vCPU (%s), Linux %s" % (
        platform.node(), os.cpu_count() or 0, model or platform.machine(),
        platform.release())


def report(a, image, rows, idle_rows, base, runs=None, env=None):
    p = print
    now = datetime.datetime.now(datetime.timezone.utc)
    p("otagw CoAP benchmark, %s" % now.strftime("%Y-%m-%d %H:%M UTC"))
    p("machine: %s" % machine())
    if env is not None:
        p("load average before: %s, after: %s" % (
            env.load_text(env.load_before), env.load_text(env.load_after)))
    p("image %d bytes (%d blocks of %d), %d concurrent downloaders "
      "(plain coap: %d load processes), %g s per run%s%s" % (
          image.size, (image.size + a.block - 1) // a.block, a.block,
          a.concurrency, a.procs, a.duration,
          (", at most %d downloads" % a.count) if a.count else "",
          (", %d runs each, added up" % a.repeat) if a.repeat > 1 else ""))
    p("")
    hdr = "%-6s %-9s %9s %11s %9s %12s %13s %7s" % (
        "server", "transport", "downloads", "downloads/s", "blocks",
        "server CPU s", "CPU us/block", "errors")
    p(hdr)
    p("-" * len(hdr))
    for r in rows:
        p("%-6s %-9s %9d %11.1f %9d %12.2f %13.1f %7d" % (
            r["server"], r["transport"], r["downloads"], r["dl_per_s"],
            r["blocks"], r["cpu"], r["us_per_block"], r["errors"] + r["bad"]))
    p("")
    p("otagw/stock (CPU per block: lower is better; target <= %.1f), "
      "round by round (the servers alternate), median (min-max):"
      % TARGET_RATIO)
    verdicts = []
    for tr in ("coap", "coaps"):
        o = base.get(("otagw", tr))
        s = base.get(("stock", tr))
        if not o or not s or not s["us_per_block"] or not s["dl_per_s"]:
            continue
        ro = (runs or {}).get(("otagw", tr)) or [o]
        rs = (runs or {}).get(("stock", tr)) or [s]
        cpu = benchlib.summary(benchlib.paired_ratios(
            [x["us_per_block"] for x in ro],
            [x["us_per_block"] for x in rs]))
        dls = benchlib.summary(benchlib.paired_ratios(
            [x["dl_per_s"] for x in ro], [x["dl_per_s"] for x in rs]))
        ok = cpu["median"] <= TARGET_RATIO
        verdicts.append(ok)
        p("  %-6s CPU per block %sx   downloads/s %sx   %s" % (
            tr, benchlib.spread(cpu, "%.2f"), benchlib.spread(dls, "%.2f"),
            "target met" if ok else "target MISSED"))
    if idle_rows:
        p("")
        p("with %d idle sessions (plain coap; each sent one GET for block 0, "
          "got its answer, and stays silent):" % a.idle)
        hdr = "%-6s %-16s %13s %11s %13s %8s %7s" % (
            "server", "idle answered", "RSS +MiB", "downloads/s",
            "CPU us/block", "no idle", "ratio")
        p(hdr)
        p("-" * len(hdr))
        for r in idle_rows:
            b = base.get((r["server"], "coap"))
            b_us = b["us_per_block"] if b else 0
            codes = ",".join("%s:%d" % kv for kv in sorted(r["codes"].items()))
            p("%-6s %-16s %6.1f/%-6.1f %11.1f %13.1f %8.1f %6.2fx" % (
                r["server"], codes or "none", r["rss_idle_mib"],
                r["rss_after_mib"], r["dl_per_s"], r["us_per_block"], b_us,
                r["us_per_block"] / b_us if b_us else 0))
        p("  (RSS +MiB: growth of the server's resident memory once the idle "
          "sessions were open / after the run)")
        o = [r for r in idle_rows if r["server"] == "otagw"]
        s = [r for r in idle_rows if r["server"] == "stock"]
        if o and s and s[0]["us_per_block"]:
            p("  otagw/stock with idle sessions: CPU per block %.2fx" %
              (o[0]["us_per_block"] / s[0]["us_per_block"]))
    bad = sum(r["bad"] for r in rows + idle_rows)
    if bad:
        p("")
        p("WARNING: %d downloads failed their size/SHA-256 check" % bad)
    return all(verdicts) and not bad


# Main -----------------------------------------------------------------------

def find_bin(explicit, name, build):
    for cand in ([explicit] if explicit else
                 [os.path.join(build, "src", name),
                  os.path.join(HERE, "..", "..", "src", name)]):
        if cand and os.path.isfile(cand) and os.access(cand, os.X_OK):
            return os.path.abspath(cand)
    die("%s not found (build the tree, or pass --%s PATH)" % (name, name))


def main():
    ap = argparse.ArgumentParser(
        prog="bench/coap/run.sh",
        description="CPU per block and downloads/s of otagw and libcoap's "
        "coap-server-openssl, over coap and coaps, on 127.0.0.1.")
    ap.add_argument("-n", "--concurrency", type=int, default=16,
                    help="concurrent downloaders (default 16)")
    ap.add_argument("-s", "--size", default="1M",
                    help="image size, with K/M suffix (default 1M)")
    ap.add_argument("-d", "--duration", type=float, default=8,
                    help="seconds per run (default 8)")
    ap.add_argument("-c", "--count", type=int, default=0,
                    help="stop a run after this many downloads (default: "
                    "time only)")
    ap.add_argument("-P", "--procs", type=int, default=2,
                    help="load processes sharing the plain CoAP "
                    "downloaders (default 2)")
    ap.add_argument("-b", "--block", type=int, default=1024,
                    help="block size, 16..1024 (default 1024)")
    ap.add_argument("-r", "--repeat", type=int, default=3,
                    help="rounds: runs per server and transport, the "
                    "servers alternating (default 3)")
    ap.add_argument("-i", "--idle", type=int, default=5000,
                    help="idle sessions for the last runs (0: skip; "
                    "default 5000)")
    ap.add_argument("-w", "--workers", type=int, default=0,
                    help="otagw's workers setting (default 0: one per "
                    "CPU, otagw's own default)")
    ap.add_argument("-B", "--build", default=".",
                    help="build tree holding src/otagw and src/otactl "
                    "(default: .)")
    ap.add_argument("--otagw", help="path of otagw")
    ap.add_argument("--otactl", help="path of otactl")
    ap.add_argument("--stock", default=shutil.which("coap-server-openssl"),
                    help="path of coap-server-openssl")
    ap.add_argument("--client", default=shutil.which("coap-client-openssl"),
                    help="path of coap-client-openssl")
    ap.add_argument("--only", choices=("otagw", "stock"),
                    help="measure one server only")
    ap.add_argument("--json", help="also write the figures to this file")
    ap.add_argument("-k", "--keep", action="store_true",
                    help="keep the temporary directory (logs, state)")
    a = ap.parse_args()
    a.size = parse_size(a.size)
    coapudp.szx_of(a.block)
    if a.concurrency < 1 or a.size < 1 or a.duration <= 0 or a.repeat < 1 \
            or a.procs < 1 or a.procs > a.concurrency:
        die("bad -n, -s, -d, -r or -P (1 <= P <= n)")
    if not a.stock or not a.client:
        die("coap-server-openssl / coap-client-openssl not found: "
            "apt-get install libcoap3-bin")
    if a.only != "stock":
        a.otagw = find_bin(a.otagw, "otagw", a.build)
        a.otactl = find_bin(a.otactl, "otactl", a.build)
    coapudp.raise_nofile(a.idle + 4 * a.concurrency + 256)

    env = benchlib.RunEnv("coap")
    tmp = tempfile.mkdtemp(prefix="otagw-bench-")
    say("working in %s" % tmp)
    image = Image(tmp, a.size)
    client = Client(a.client, tmp)
    devices = [("bench-%04d" % i, "bench-key-%04d-%s" %
                (i, os.urandom(8).hex())) for i in range(a.concurrency)]
    rows, idle_rows, base = [], [], {}
    servers = []
    if a.only != "stock":
        servers.append(Otagw(a, tmp, image, devices, client))
    if a.only != "otagw":
        servers.append(Stock(a, tmp, image, devices, client))
    ok = False
    try:
        for srv in servers:
            srv.start()
            verify_server(srv, image, client)
        # Both servers stay up (an idle one costs nothing), and the runs
        # alternate between them, so that both see the same machine.
        runs = {}
        for rep in range(a.repeat):
            for tr in ("coap", "coaps"):
                order = servers if rep % 2 == 0 else servers[::-1]
                for srv in order:
                    r = measure(a, srv, tr, image, client)
                    runs.setdefault((srv.name, tr), []).append(r)
        for key, rs in runs.items():
            base[key] = pool(rs)
            rows.append(base[key])
        if a.idle > 0:
            for srv in servers:
                idle_rows.append(measure_idle(a, srv, image, client))
                srv.stop()
        rows.sort(key=lambda r: (r["transport"], r["server"]))
        env.finish()
        ok = report(a, image, rows, idle_rows, base, runs, env)
        if a.json:
            with open(a.json, "w") as f:
                json.dump({"rows": rows, "idle": idle_rows}, f, indent=1,
                          default=str)
    finally:
        for srv in servers:
            srv.stop()
        if a.keep:
            say("kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(0 if ok else 3)


if __name__ == "__main__":
    main()
