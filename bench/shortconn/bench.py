#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""bench.py: one check-in per new connection, the way sleepy devices do
it: otagw against nginx over HTTPS, and against libcoap's stock
coap-server-openssl over DTLS-PSK.

HTTPS: each connection is a new TCP connection, a TLS handshake, one
`POST /ota/{device}/check` over HTTP/1.1 with its JSON body, the answer
read, and a close without close_notify (as esp_http_client does).  Five
kinds of handshake: TLS 1.2 full, TLS 1.2 ticket resumption, TLS 1.2
session-id resumption (the client sends no ticket extension), TLS 1.3
full, TLS 1.3 resumption (ticket).  nginx runs with the same certificate
and key, TLS 1.2 and 1.3, a shared session cache and tickets, and answers
the same path with the same 204 that otagw gives a device with nothing to
do.

DTLS: each check is one run of `coap-client-openssl -u ID -k KEY` (a new
DTLS-PSK handshake, one confirmable request with the check's JSON body,
the answer): `POST /ota/{device}/check` on otagw, `PUT /example_data` on
the stock server (which has no check; that PUT stores the same body and
answers 2.04, as otagw's check of a device with nothing to do does).

Idle keep-alive connections (--idle N): N devices that each open a
connection, send one check (HTTP/1.1, or HTTP/2 with the same request in
one stream) and keep the connection open, as a keep-alive client between
two check-ins does; the server's resident memory (VmRSS of every process
of the server, started afresh for the measurement) before and 3 s
after, divided by N.  otagw gives back the
buffers of a connection idle for a second; nginx frees its buffers when a
request is done.

What is measured: the server's CPU time (utime + stime of every process
of the server, from /proc/PID/stat) over N connections, divided by N
(with the nanosecond run time of /proc/PID/task/*/schedstat as a check of
the 10 ms ticks); and
how many handshakes the client saw resumed.  Each comparison runs in R
rounds that alternate which server goes first; the report gives the
median and the range over the rounds and the ratio of the medians, with
the CPU model and the load average.  Target: otagw at most 0.8x the
peer's CPU in every row.

Standard library only; not part of `make check`.
"""

import argparse
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
sys.dont_write_bytecode = True
import benchlib  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
TARGET = 0.8
DEVICE = "bench-dev-1"
SECRET = "bench-secret-0123456789abcdef"
PSK = "bench-psk-0123456789"
BODY = b'{"versions":{"default":"1.0.0"}}'

# (name, TLS 1.3?, resume?, tickets?)
MODES = (
    ("TLS 1.2 full", False, False, True),
    ("TLS 1.2 ticket", False, True, True),
    ("TLS 1.2 session id", False, True, False),
    ("TLS 1.3 full", True, False, True),
    ("TLS 1.3 resumption", True, True, True),
)


def say(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def die(msg):
    say("error: " + msg)
    sys.exit(1)


def wait_for(cond, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.02)
    raise TimeoutError("timed out waiting for " + what)


def free_port(kind):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def tree_pids(pid):
    """pid and its children (nginx: the master and its workers)."""
    pids = [pid]
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            pids += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return pids


def cpu_seconds(pid):
    """utime + stime of pid and its children, in seconds."""
    total = 0
    for p in tree_pids(pid):
        try:
            with open("/proc/%d/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / CLK_TCK


def run_ns(pid):
    """Time on CPU of pid and its children, every thread of each, in
    seconds (benchlib.cpu_ns: nanoseconds from schedstat, a finer
    cross-check of the tick counts of /proc/PID/stat)."""
    return benchlib.cpu_ns(tree_pids(pid)) / 1e9


def settle(pid):
    """Waits until the server has used no CPU for 50 ms (it finished the
    last connection's close), at most a second."""
    last, end = cpu_seconds(pid), time.monotonic() + 1.0
    while time.monotonic() < end:
        time.sleep(0.05)
        now = cpu_seconds(pid)
        if now == last:
            return
        last = now


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def median(v):
    s = sorted(v)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


# HTTPS ---------------------------------------------------------------------

def check_request():
    return (b"POST /ota/%s/check HTTP/1.1\r\nHost: localhost\r\n"
            b"Authorization: Bearer %s\r\n"
            b"Content-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" %
            (DEVICE.encode(), SECRET.encode(), len(BODY), BODY))


def http_exchange(s, request):
    """One HTTP/1.1 request and its whole answer; the status code."""
    s.sendall(request)
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(4096)
        if not d:
            raise ConnectionError("closed before the answer")
        buf += d
    head, _, body = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
    while len(body) < length:
        d = s.recv(4096)
        if not d:
            raise ConnectionError("closed in the answer's body")
        body += d
    return int(head.split(b" ", 2)[1])


def client_ctx(ca, tls13, tickets):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(ca)
    ctx.check_hostname = False
    v = ssl.TLSVersion.TLSv1_3 if tls13 else ssl.TLSVersion.TLSv1_2
    ctx.minimum_version = ctx.maximum_version = v
    if not tickets:
        ctx.options |= ssl.OP_NO_TICKET
    return ctx


def https_one(ctx, port, request, session):
    """One device visit, closed without close_notify: (session, reused)."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s = ctx.wrap_socket(raw, server_hostname="localhost", session=session)
    try:
        status = http_exchange(s, request)
        if status not in (200, 204):
            raise RuntimeError("check answered %d" % status)
        return s.session, s.session_reused
    finally:
        s.close()


def https_run(srv, mode, n, ca):
    """CPU per connection (s), resumed handshakes over n connections, and
    CPU per connection from schedstat."""
    _, tls13, resume, tickets = mode
    ctx = client_ctx(ca, tls13, tickets)
    req = check_request()
    sess = None
    if resume:
        sess, _ = https_one(ctx, srv.port, req, None)
    settle(srv.pid)
    c0, s0 = cpu_seconds(srv.pid), run_ns(srv.pid)
    reused = 0
    for _ in range(n):
        got, r = https_one(ctx, srv.port, req, sess if resume else None)
        reused += 1 if r else 0
        if resume and got is not None:
            sess = got
    settle(srv.pid)
    return ((cpu_seconds(srv.pid) - c0) / n, reused,
            (run_ns(srv.pid) - s0) / n)


def rss_kib(pid):
    """Resident memory of the server's processes, KiB."""
    return benchlib.rss_kib(tree_pids(pid))


def h2_frame(ftype, flags, stream, payload):
    return (len(payload).to_bytes(3, "big") + bytes((ftype, flags)) +
            stream.to_bytes(4, "big") + payload)


def h2_check_request():
    """The connection preface, SETTINGS and the check as stream 1:
    HEADERS (HPACK, literal fields without indexing or Huffman) and one
    DATA frame with the body."""
    def lit(index, value):
        # literal field without indexing, name from the static table
        head = bytes((index,)) if index < 15 else bytes((15, index - 15))
        return head + bytes((len(value),)) + value
    fields = (b"\x83\x87" +          # :method POST, :scheme https
              lit(4, b"/ota/%s/check" % DEVICE.encode()) +
              lit(1, b"localhost") +
              lit(23, b"Bearer " + SECRET.encode()) +
              lit(28, str(len(BODY)).encode()))
    return (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + h2_frame(4, 0, 0, b"") +
            h2_frame(1, 4, 1, fields) + h2_frame(0, 1, 1, BODY))


def h2_read_answer(s):
    """Reads frames until stream 1 ends; its :status is not checked (an
    HPACK decoder would be needed), its end is."""
    buf = b""
    while True:
        d = s.recv(65536)
        if not d:
            raise ConnectionError("closed before the answer")
        buf += d
        while len(buf) >= 9:
            n = int.from_bytes(buf[:3], "big")
            if len(buf) < 9 + n:
                break
            ftype, flags = buf[3], buf[4]
            stream = int.from_bytes(buf[5:9], "big") & 0x7fffffff
            buf = buf[9 + n:]
            if ftype == 7:
                raise ConnectionError("GOAWAY")
            if stream == 1 and ftype in (0, 1) and flags & 1:
                return


def idle_run(srv, proto, n, ca):
    """KiB of server memory per idle keep-alive connection after one
    check on each."""
    ctx = client_ctx(ca, False, True)
    ctx.set_alpn_protocols([proto])
    h1req, h2req = check_request(), h2_check_request()
    settle(srv.pid)
    time.sleep(1.5)
    r0 = rss_kib(srv.pid)
    socks = []
    try:
        for _ in range(n):
            raw = socket.create_connection(("127.0.0.1", srv.port),
                                           timeout=10)
            s = ctx.wrap_socket(raw, server_hostname="localhost")
            socks.append(s)
            if s.selected_alpn_protocol() != proto:
                raise RuntimeError("ALPN gave %s, not %s" %
                                   (s.selected_alpn_protocol(), proto))
            if proto == "h2":
                s.sendall(h2req)
                h2_read_answer(s)
            else:
                status = http_exchange(s, h1req)
                if status not in (200, 204):
                    raise RuntimeError("check answered %d" % status)
        time.sleep(3)
        r1 = rss_kib(srv.pid)
    finally:
        for s in socks:
            s.close()
    time.sleep(1)
    return ((r1 - r0) / n, n)


# DTLS ----------------------------------------------------------------------

def dtls_run(srv, n, client):
    """CPU per DTLS handshake plus check (s), the checks answered, and the
    CPU per check from schedstat."""
    settle(srv.pid)
    c0, s0 = cpu_seconds(srv.pid), run_ns(srv.pid)
    ok = 0
    for _ in range(n):
        p = subprocess.run([client, "-m", srv.coap_method, "-u", DEVICE,
                            "-k", PSK, "-t", "50", "-e", BODY.decode(),
                            "-B", "5", srv.coaps_uri],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           check=False)
        err = p.stderr.decode(errors="replace") + \
            p.stdout.decode(errors="replace")
        # coap-client prints nothing for 2.04; an error code or a
        # handshake failure is printed
        if p.returncode == 0 and err.strip() == "":
            ok += 1
    settle(srv.pid)
    return (cpu_seconds(srv.pid) - c0) / n, ok, (run_ns(srv.pid) - s0) / n


# Servers -------------------------------------------------------------------

class Otagw:
    name = "otagw"
    coap_method = "post"

    def __init__(self, a, tmp, certs):
        self.a, self.tmp = a, os.path.join(tmp, "otagw")
        os.makedirs(self.tmp)
        self.port = free_port(socket.SOCK_STREAM)
        self.coaps_port = free_port(socket.SOCK_DGRAM)
        self.coaps_uri = "coaps://127.0.0.1:%d/ota/%s/check" % (
            self.coaps_port, DEVICE)
        self.state = os.path.join(self.tmp, "var")
        self.conf = os.path.join(self.tmp, "otagw.conf")
        self.log = os.path.join(self.tmp, "otagw.log")
        with open(self.conf, "w") as f:
            f.write("gateway_id bench\nstate_dir %s\n"
                    "coap_listen off\ncoaps_listen 127.0.0.1:%d\n"
                    "https_listen 127.0.0.1:%d\nadmin_listen off\n"
                    "tls_cert %s/server.pem\ntls_key %s/server.key\n"
                    "max_connections_per_source 0\n" %
                    (self.state, self.coaps_port, self.port, certs, certs))
            if a.workers:
                f.write("workers %d\n" % a.workers)
        self.proc = None

    def start(self):
        os.makedirs(self.state, exist_ok=True)
        p = subprocess.run([self.a.otactl, "--state", self.state, "device",
                            "put", DEVICE, "--product", "bench", "--secret",
                            SECRET, "--psk", PSK.encode().hex(),
                            "--version", "1.0.0"],
                           capture_output=True, text=True, check=False)
        if p.returncode != 0:
            die("otactl device put: %s" % p.stderr.strip())
        self.logf = open(self.log, "ab")
        self.proc = subprocess.Popen([self.a.otagw, "-d", "-c", self.conf],
                                     stdout=self.logf, stderr=self.logf)
        self.pid = self.proc.pid

        def ready():
            if self.proc.poll() is not None:
                return True
            with open(self.log, "rb") as f:
                return b"otagw ready" in f.read()
        wait_for(ready, 20, "otagw ready")
        if self.proc.poll() is not None:
            with open(self.log, errors="replace") as f:
                die("otagw exited:\n" + f.read()[-3000:])

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Nginx:
    name = "nginx"

    def __init__(self, a, tmp, certs):
        self.a, self.tmp = a, os.path.join(tmp, "nginx")
        os.makedirs(self.tmp)
        self.port = free_port(socket.SOCK_STREAM)
        self.certs = certs
        self.proc = None

    def start(self):
        t = self.tmp
        conf = os.path.join(t, "nginx.conf")
        with open(conf, "w") as f:
            f.write("""worker_processes 1;
daemon off;
error_log %(t)s/error.log warn;
pid %(t)s/nginx.pid;
worker_rlimit_nofile 20000;
events { worker_connections 16384; }
http {
    access_log off;
    client_body_temp_path %(t)s/body;
    proxy_temp_path %(t)s/proxy;
    fastcgi_temp_path %(t)s/fastcgi;
    uwsgi_temp_path %(t)s/uwsgi;
    scgi_temp_path %(t)s/scgi;
    server {
        listen 127.0.0.1:%(port)d ssl http2;
        ssl_certificate %(c)s/server.pem;
        ssl_certificate_key %(c)s/server.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:SSL:50m;
        ssl_session_timeout 2h;
        ssl_session_tickets on;
        location = /ota/%(dev)s/check {
            return 204;
        }
    }
}
""" % {"t": t, "port": self.port, "c": self.certs, "dev": DEVICE})
        self.proc = subprocess.Popen([self.a.nginx, "-p", t, "-c", conf],
                                     stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(t, "stderr"),
                                                 "ab"))
        self.pid = self.proc.pid
        wait_for(lambda: self.proc.poll() is not None or
                 port_open(self.port), 10, "nginx")
        if self.proc.poll() is not None:
            die("nginx exited; see %s/stderr" % t)
        wait_for(lambda: len(tree_pids(self.pid)) > 1, 10, "nginx worker")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Stock:
    name = "coap-server-openssl"
    coap_method = "put"

    def __init__(self, a, tmp):
        self.a, self.tmp = a, os.path.join(tmp, "stock")
        os.makedirs(self.tmp)
        # it binds port (coap) and port + 1 (coaps)
        while True:
            p = free_port(socket.SOCK_DGRAM)
            try:
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.bind(("127.0.0.1", p + 1))
                s.close()
                break
            except OSError:
                continue
        self.p = p
        self.coaps_uri = "coaps://127.0.0.1:%d/example_data" % (p + 1)
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [self.a.stock, "-A", "127.0.0.1", "-p", str(self.p), "-k", PSK],
            stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self.tmp, "stderr"), "ab"))
        self.pid = self.proc.pid
        time.sleep(0.3)
        if self.proc.poll() is not None:
            die("coap-server-openssl exited %s" % self.proc.returncode)

    def stop(self):
        Nginx.stop(self)


# The run -------------------------------------------------------------------

def measure(a, gw, ng, st, ca):
    """rows[name][server] = list of (cpu per unit, resumed or ok)."""
    rows = {}
    for r in range(a.rounds):
        say("round %d of %d (load %s)" % (r + 1, a.rounds, loadavg()))
        https = [s for s in (gw, ng) if s is not None]
        dtls = [s for s in (gw, st) if s is not None]
        if r % 2 == 1:
            https.reverse()
            dtls.reverse()
        for mode in MODES:
            for srv in https:
                v = https_run(srv, mode, a.n, ca)
                rows.setdefault(mode[0], {}).setdefault(
                    srv.name, []).append(v)
                say("  %-20s %-6s %6.1f us/conn (schedstat %6.1f), %d/%d "
                    "resumed" % (mode[0], srv.name, v[0] * 1e6, v[2] * 1e6,
                                 v[1], a.n))
        for proto in ("http/1.1", "h2") if a.idle > 0 else ():
            for srv in https:
                # a fresh process: memory freed by earlier rows would be
                # reused and hide what the idle connections take
                srv.stop()
                srv.start()
                v = idle_run(srv, proto, a.idle, ca)
                rows.setdefault("idle keep-alive " + proto, {}).setdefault(
                    srv.name, []).append(v)
                say("  %-20s %-6s %6.1f KiB per idle connection" % (
                    "idle " + proto, srv.name, v[0]))
        if a.dtls > 0:
            for srv in dtls:
                v = dtls_run(srv, a.dtls, a.client)
                rows.setdefault("DTLS-PSK handshake + check", {}).setdefault(
                    srv.name, []).append(v)
                say("  %-20s %-6s %6.1f us/check (schedstat %6.1f), %d/%d "
                    "answered" % ("DTLS-PSK + check", srv.name, v[0] * 1e6,
                                  v[2] * 1e6, v[1], a.dtls))
    return rows


def report(a, rows):
    print()
    print("CPU: %s, %d CPUs; load average %s" % (cpu_model(),
                                                 os.cpu_count(), loadavg()))
    print("server CPU per check-in on a new connection, microseconds: "
          "median [min-max] of %d rounds" % a.rounds)
    print("%-26s %-24s %-30s %-6s %-7s %s" % ("", "otagw", "peer", "ratio",
                                                "target", "schedstat"))
    met = True
    out = []
    for name, per in rows.items():
        if name.startswith("idle"):
            continue
        peer = [k for k in per if k != "otagw"]
        gv = per.get("otagw")
        pv = per.get(peer[0]) if peer else None

        def cell(v, unit):
            if v is None:
                return "-"
            us = [x[0] * 1e6 for x in v]
            cnt = sum(x[1] for x in v)
            return "%6.0f [%4.0f-%4.0f] %s%d" % (
                median(us), min(us), max(us), unit, cnt)
        unit = "ok " if name.startswith("DTLS") else "res "
        ratio = sratio = "-"
        verdict = ""
        if gv and pv:
            rr = median([x[0] for x in gv]) / max(
                1e-9, median([x[0] for x in pv]))
            rs = median([x[2] for x in gv]) / max(
                1e-9, median([x[2] for x in pv]))
            ratio, sratio = "%.2f" % rr, "%.2f" % rs
            verdict = "met" if rr <= TARGET else "MISSED"
            met = met and rr <= TARGET
            out.append({"row": name, "otagw_us": [x[0] * 1e6 for x in gv],
                        "peer": peer[0], "peer_us": [x[0] * 1e6 for x in pv],
                        "otagw_sched_us": [x[2] * 1e6 for x in gv],
                        "peer_sched_us": [x[2] * 1e6 for x in pv],
                        "otagw_count": [x[1] for x in gv],
                        "peer_count": [x[1] for x in pv], "ratio": rr,
                        "ratio_schedstat": rs})
        print("%-26s %-24s %-30s %-6s %-7s %s" % (
            name, cell(gv, unit), (peer[0] + " " + cell(pv, unit))
            if pv else "-", ratio, verdict, sratio))
    n_http, n_dtls = a.n * a.rounds, a.dtls * a.rounds
    print("res N: resumed handshakes of %d connections (all rounds); "
          "ok N: of %d DTLS checks answered" % (n_http, n_dtls))
    print("ratio: of the medians from /proc/PID/stat (10 ms ticks); "
          "schedstat: the same from /proc/PID/task/*/schedstat (ns)")
    print("target: otagw <= %.1fx the peer's CPU in every row: %s" %
          (TARGET, "met" if met else "MISSED"))
    idle = [(k, v) for k, v in rows.items() if k.startswith("idle")]
    if idle:
        print()
        print("server memory per idle keep-alive connection (one check "
              "each, %d connections), KiB: median [min-max]" % a.idle)
        print("%-26s %-20s %-26s %s" % ("", "otagw", "peer", "ratio"))
    for name, per in idle:
        gv, pv = per.get("otagw"), per.get("nginx")

        def kib(v):
            if v is None:
                return "-"
            k = [x[0] for x in v]
            return "%5.1f [%5.1f-%5.1f]" % (median(k), min(k), max(k))
        ratio = "-"
        if gv and pv:
            ratio = "%.2f" % (median([x[0] for x in gv]) /
                              max(1e-9, median([x[0] for x in pv])))
            out.append({"row": name, "otagw_kib": [x[0] for x in gv],
                        "peer": "nginx", "peer_kib": [x[0] for x in pv]})
        print("%-26s %-20s %-26s %s" % (name, kib(gv), "nginx " + kib(pv)
                                        if pv else "-", ratio))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"cpu": cpu_model(), "load": loadavg(), "rows": out,
                       "n": a.n, "dtls": a.dtls, "rounds": a.rounds}, f,
                      indent=1)
    return met


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    top = os.path.dirname(os.path.dirname(here))
    ap = argparse.ArgumentParser(
        description="One check-in per new connection: otagw against nginx "
        "(HTTPS) and coap-server-openssl (DTLS-PSK).")
    ap.add_argument("-n", type=int, default=1000,
                    help="HTTPS connections per measurement (1000)")
    ap.add_argument("-D", "--dtls", type=int, default=300,
                    help="DTLS checks per measurement, 0 skips (300)")
    ap.add_argument("--idle", type=int, default=1000,
                    help="idle keep-alive connections per measurement, "
                    "0 skips (1000)")
    ap.add_argument("-r", "--rounds", type=int, default=3,
                    help="alternating rounds (3)")
    ap.add_argument("-B", "--build", default=".",
                    help="build tree with src/otagw and src/otactl")
    ap.add_argument("-w", "--workers", type=int, default=0,
                    help="otagw's workers setting (0: its default, one "
                    "per CPU)")
    ap.add_argument("--otagw")
    ap.add_argument("--otactl")
    ap.add_argument("--nginx", default=shutil.which("nginx") or
                    "/usr/sbin/nginx")
    ap.add_argument("--stock", default=shutil.which("coap-server-openssl"))
    ap.add_argument("--client", default=shutil.which("coap-client-openssl"))
    ap.add_argument("--only", choices=("otagw", "peers"))
    ap.add_argument("--json", help="also write the figures as JSON")
    ap.add_argument("-k", "--keep", action="store_true",
                    help="keep the temporary directory")
    a = ap.parse_args()
    a.otagw = os.path.abspath(a.otagw or os.path.join(a.build, "src",
                                                       "otagw"))
    a.otactl = os.path.abspath(a.otactl or os.path.join(a.build, "src",
                                                         "otactl"))
    need = []
    if a.only != "peers":
        need += [("otagw", a.otagw, "build the tree or give -B"),
                 ("otactl", a.otactl, "build the tree or give -B")]
    if a.only != "otagw":
        need += [("nginx", a.nginx, "apt-get install nginx")]
        if a.dtls > 0:
            need += [("coap-server-openssl", a.stock,
                      "apt-get install libcoap3-bin")]
    if a.dtls > 0:
        need += [("coap-client-openssl", a.client,
                  "apt-get install libcoap3-bin")]
    for what, path, how in need:
        if not path or not os.access(path, os.X_OK):
            die("no %s (%s)" % (what, how))
    if a.rounds < 1 or a.n < 1 or a.dtls < 0:
        die("-r and -n must be at least 1, -D at least 0")

    tmp = tempfile.mkdtemp(prefix="otagw-shortconn-")
    certs = os.path.join(tmp, "certs")
    subprocess.run(["sh", os.path.join(top, "certs", "gen.sh"), certs],
                   check=True)
    ca = os.path.join(certs, "ca.pem")
    gw = ng = st = None
    status = 1
    try:
        if a.only != "peers":
            gw = Otagw(a, tmp, certs)
            gw.start()
        if a.only != "otagw":
            ng = Nginx(a, tmp, certs)
            ng.start()
            if a.dtls > 0:
                st = Stock(a, tmp)
                st.start()
        say("CPU %s; load %s; %d HTTPS connections and %d DTLS checks per "
            "measurement, %d rounds" % (cpu_model(), loadavg(), a.n, a.dtls,
                                        a.rounds))
        rows = measure(a, gw, ng, st, ca)
        status = 0 if report(a, rows) else 3
    except (RuntimeError, TimeoutError, OSError) as e:
        say("error: %s" % e)
    finally:
        for s in (gw, ng, st):
            if s is not None:
                s.stop()
        if a.keep:
            print("kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
