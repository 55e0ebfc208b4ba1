# SPDX-License-Identifier: BSD-2-Clause
"""test_slowloris: slow request heads and connection floods against both
HTTPS listeners (issue 10, docs/https.md "Slow and greedy clients").

A gateway with its device and admin listeners, header_timeout 3s and the
default max_connections_per_source (64; the admin listener never more than
32, half its 64 connections).  An attacker thread opens more than 500
connections over TLS and keeps them trickling, one header line (HTTP/1.1)
or one CONTINUATION byte (HTTP/2) a second, reopening every one that is
closed:

- 300 to the device port and 100 to the admin port from one peer,
  127.0.0.2: 64 are held on the device port and 32 on the admin port, the
  rest are closed at accept;
- 100 to the device port from twenty other peers (127.0.0.10-29), five
  each: under the per-source limit, they are held until the head deadline;
- 24 HTTP/2 connections whose first HEADERS never ends;
- 20 TCP connections that never start TLS (the handshake deadline, 10 s).

While it runs, a device on 127.0.0.3 (a check with curl --http1.1, a range
download with curl --http2) and an operator on 127.0.0.1 (otactl --url
device list, curl /healthz) are each served within one second, three times
over.  Every trickling connection is then closed after the head deadline
(408 over HTTP/1.1, GOAWAY over HTTP/2), every silent one after the
handshake deadline, and /metrics counts the refusals and the timeouts.
"""

import hashlib
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

from otagw_harness import (H2_CONTINUATION, H2_HEADERS, H2_PREFACE,
                           H2_SETTINGS, OTACTL, Checks, H2Raw, Pki,
                           curl_request, free_port, hpack_literal,
                           https_gateway, metrics_scrape)

checks = Checks()

for tool in ("curl", "openssl"):
    if shutil.which(tool) is None:
        print("%s not installed: skipping" % tool)
        sys.exit(77)

HEADER_TIMEOUT = 3
HANDSHAKE_TIMEOUT = 10      # fixed in src/http/device.c and src/admin
PER_SOURCE = 64             # the default max_connections_per_source
PER_SOURCE_ADMIN = 32       # the admin listener's cap on it
BULK = "127.0.0.2"          # the peer that opens hundreds
DEVICE_SRC = "127.0.0.3"    # the honest device
# the operator is on 127.0.0.1, where otactl connects from


class Conn:
    def __init__(self, kind, port, source):
        self.kind = kind            # "h1", "h2" or "silent"
        self.port = port
        self.source = source
        self.sock = None
        self.t_open = None          # handshake done (silent: connected)
        self.t_closed = None
        self.t_sent = 0.0
        self.got = b""              # what the server sent (decrypted)
        self.sent = 0


class Attack:
    """The trickling clients, driven by one thread."""

    def __init__(self, ca):
        self.ctx = ssl.create_default_context(cafile=ca)
        self.ctx_h2 = ssl.create_default_context(cafile=ca)
        self.ctx_h2.set_alpn_protocols(["h2"])
        self.lock = threading.Lock()
        self.live = []
        self.done = []              # closed after being held
        self.refused = {}           # (port, source) -> count
        self.attempts = {}
        self.plan = []              # (kind, port, source) to keep open
        self.bulk_ports = ()        # where BULK keeps knocking
        self.sustain = True
        self.stop = False
        self.block = (hpack_literal(":method", "GET") +
                      hpack_literal(":scheme", "https") +
                      hpack_literal(":authority", "localhost") +
                      hpack_literal(":path", "/healthz") +
                      hpack_literal("x-slow", "x" * 40))

    def open(self, kind, port, source):
        key = (port, source)
        self.attempts[key] = self.attempts.get(key, 0) + 1
        c = Conn(kind, port, source)
        try:
            raw = socket.create_connection(("127.0.0.1", port), timeout=5,
                                           source_address=(source, 0))
        except OSError:
            self.refused[key] = self.refused.get(key, 0) + 1
            return None
        try:
            if kind == "silent":
                c.sock = raw
            elif kind == "h1":
                c.sock = self.ctx.wrap_socket(raw, server_hostname="localhost")
                c.sock.sendall(b"GET /healthz HTTP/1.1\r\n")
            else:
                c.sock = self.ctx_h2.wrap_socket(
                    raw, server_hostname="localhost")
                # a HEADERS frame whose block never ends
                c.sock.sendall(H2_PREFACE +
                               H2Raw.frame(H2_SETTINGS, 0, 0) +
                               H2Raw.frame(H2_HEADERS, 0, 1, self.block[:8]))
                c.sent = 8
        except (OSError, ssl.SSLError):
            # closed at accept: the handshake meets a closed socket
            raw.close()
            self.refused[key] = self.refused.get(key, 0) + 1
            return None
        c.sock.setblocking(False)
        c.t_open = c.t_sent = time.monotonic()
        return c

    def open_all(self):
        for kind, port, source in self.plan:
            c = self.open(kind, port, source)
            if c is not None:
                with self.lock:
                    self.live.append(c)

    def held(self, port, source=None):
        with self.lock:
            return sum(1 for c in self.live if c.port == port and
                       (source is None or c.source == source))

    def poll(self, c, now):
        """Reads what came; trickles when due.  False once closed."""
        while True:
            try:
                d = c.sock.recv(65536)
            except (BlockingIOError, ssl.SSLWantReadError,
                    ssl.SSLWantWriteError):
                break
            except (OSError, ssl.SSLError):
                d = b""
            if not d:
                return False
            c.got += d
        if c.kind != "silent" and now - c.t_sent >= 1.0:
            c.t_sent = now
            try:
                if c.kind == "h1":
                    c.sock.send(b"X-Slow-%d: x\r\n" % c.sent)
                    c.sent += 1
                elif c.sent < len(self.block) - 1:
                    c.sock.send(H2Raw.frame(H2_CONTINUATION, 0, 1,
                                            self.block[c.sent:c.sent + 1]))
                    c.sent += 1
            except (BlockingIOError, ssl.SSLWantReadError,
                    ssl.SSLWantWriteError):
                pass
            except (OSError, ssl.SSLError):
                return False
        return True

    def run(self):
        while not self.stop:
            now = time.monotonic()
            with self.lock:
                live = list(self.live)
            closed = []
            for c in live:
                if not self.poll(c, now):
                    c.t_closed = time.monotonic()
                    try:
                        c.sock.close()
                    except OSError:
                        pass
                    closed.append(c)
            with self.lock:
                for c in closed:
                    self.live.remove(c)
                    self.done.append(c)
            if self.sustain:
                for c in closed:
                    if c.kind == "silent":
                        continue
                    n = self.open(c.kind, c.port, c.source)
                    if n is not None:
                        with self.lock:
                            self.live.append(n)
                # the peer that is over its limit keeps knocking
                for port in self.bulk_ports:
                    n = self.open("h1", port, BULK)
                    if n is not None:
                        with self.lock:
                            self.live.append(n)
            time.sleep(0.2)


def timed(fn):
    t0 = time.monotonic()
    r = fn()
    return r, time.monotonic() - t0


def scrape(url, ca, tmp, token):
    return metrics_scrape(url, ca, token, tmp)


def main():
    tmp = tempfile.mkdtemp(prefix="otagw-slow-")
    pki = Pki(os.path.join(tmp, "pki"))
    token = os.urandom(16).hex()
    token_path = os.path.join(tmp, "admin.token")
    with open(token_path, "w") as f:
        f.write(token + "\n")
    admin_port = free_port(socket.SOCK_STREAM)
    gwp = https_gateway(pki, client_ca=False, tmp=tmp, extra={
        "admin_listen": "127.0.0.1:%d" % admin_port,
        "admin_token_file": token_path,
        "header_timeout": "%ds" % HEADER_TIMEOUT})
    admin_url = "https://127.0.0.1:%d" % admin_port
    ca = pki.ca[0]
    attack = None
    try:
        with gwp as gw:
            attack = Attack(ca)
            run(gw, attack, ca, admin_port, admin_url, token, token_path)
    finally:
        if attack is not None:
            attack.stop = True
        shutil.rmtree(tmp, ignore_errors=True)
    checks.done()


def run(gw, attack, ca, admin_port, admin_url, token, token_path):
    secret = "s-" + os.urandom(6).hex()
    gw.otactl("device", "put", "d1", "--product", "p", "--secret", secret,
              "--version", "1.0.0", check=True)
    img = os.urandom(200000)
    fw = gw.add_firmware(img)
    gw.otactl_id("job", "create", "--firmware", fw, "--devices", "d1",
                 "--force")
    dev = gw.https_port

    plan = [("h1", dev, BULK)] * 300 + [("h1", admin_port, BULK)] * 100
    for i in range(20):
        plan += [("h1", dev, "127.0.0.%d" % (10 + i))] * 5
    for i in range(4):
        plan += [("h2", dev, "127.0.0.%d" % (30 + i))] * 5
    plan += [("h2", admin_port, "127.0.0.34")] * 4
    plan += [("silent", dev, "127.0.0.40")] * 10
    plan += [("silent", admin_port, "127.0.0.41")] * 10
    attack.plan = plan
    attack.bulk_ports = (dev, admin_port)
    t0 = time.monotonic()
    attack.open_all()
    print("opened %d connections in %.1f s" % (len(plan),
                                                time.monotonic() - t0),
          file=sys.stderr)
    checks.check(len(plan) >= 500, "the attack has %d connections" %
                 len(plan))
    checks.eq(attack.held(dev, BULK), PER_SOURCE,
              "one peer holds %d device connections, no more" % PER_SOURCE)
    checks.eq(attack.held(admin_port, BULK), PER_SOURCE_ADMIN,
              "one peer holds %d admin connections, no more" %
              PER_SOURCE_ADMIN)
    checks.eq(attack.refused.get((dev, BULK)), 300 - PER_SOURCE,
              "the rest of its device connections are closed at accept")
    checks.eq(attack.refused.get((admin_port, BULK)),
              100 - PER_SOURCE_ADMIN,
              "the rest of its admin connections are closed at accept")
    checks.eq(attack.held(dev) - attack.held(dev, BULK) -
              attack.held(dev, "127.0.0.40"), 120,
              "peers under the limit are let in (100 HTTP/1.1, 20 HTTP/2)")
    thread = threading.Thread(target=attack.run, daemon=True)
    thread.start()

    # the device and the operator, while the trickle goes on
    auth = ["Authorization: Bearer " + secret]
    iface = ["--interface", DEVICE_SRC]
    for rnd in range(3):
        r, dt = timed(lambda: curl_request(
            gw.https_url + "/ota/d1/check", "POST", "1.1", auth,
            json.dumps({"versions": {"default": "1.0.0"}}).encode(), ca,
            extra=iface, tmpdir=gw.tmp))
        checks.check(r.status == 200 and dt < 1.0, "round %d: device check "
                     "(HTTP/1.1) -> %d in %.2f s" % (rnd, r.status, dt))
        r, dt = timed(lambda: curl_request(
            gw.https_url + "/fw/" + fw, "GET", "2",
            auth + ["X-Device-Id: d1", "Range: bytes=1000-65535"], None, ca,
            extra=iface, tmpdir=gw.tmp))
        checks.check(r.status == 206 and r.body == img[1000:65536] and
                     dt < 1.0, "round %d: range download (HTTP/2) -> %d, "
                     "%d bytes in %.2f s" % (rnd, r.status, len(r.body), dt))
        p, dt = timed(lambda: subprocess.run(
            [OTACTL, "--url", admin_url, "--token-file", token_path,
             "--ca", ca, "device", "list"], capture_output=True, text=True,
            timeout=30))
        checks.check(p.returncode == 0 and "d1" in p.stdout and dt < 1.0,
                     "round %d: otactl --url device list -> exit %d in "
                     "%.2f s %s" % (rnd, p.returncode, dt, p.stderr.strip()))
        r, dt = timed(lambda: curl_request(admin_url + "/healthz", "GET",
                                           "1.1", [], None, ca,
                                           tmpdir=gw.tmp))
        checks.check(r.status == 200 and dt < 1.0, "round %d: /healthz -> "
                     "%d in %.2f s" % (rnd, r.status, dt))
        time.sleep(1.5)

    # stop reopening; everything held must go at its deadline
    attack.sustain = False
    deadline = time.monotonic() + HANDSHAKE_TIMEOUT + HEADER_TIMEOUT + 10
    while time.monotonic() < deadline and (attack.held(dev) or
                                           attack.held(admin_port)):
        time.sleep(0.2)
    attack.stop = True
    thread.join(10)
    checks.eq((attack.held(dev), attack.held(admin_port)), (0, 0),
              "every attacking connection is closed")
    for kind, lo, hi, mark in (
            ("h1", HEADER_TIMEOUT - 0.2, HEADER_TIMEOUT + 4.5,
             b"HTTP/1.1 408 "),
            ("h2", HEADER_TIMEOUT - 0.2, HEADER_TIMEOUT + 4.5,
             b"request head timeout"),
            ("silent", HANDSHAKE_TIMEOUT - 0.2, HANDSHAKE_TIMEOUT + 3.0,
             None)):
        done = [c for c in attack.done if c.kind == kind]
        life = [c.t_closed - c.t_open for c in done]
        bad = [round(x, 1) for x in life if x < lo or x > hi]
        checks.check(done and not bad, "%d %s connections closed %.0f-%.1f "
                     "s after they began (outside: %r)" % (
                         len(done), kind, lo, hi, bad[:10]))
        if mark:
            told = sum(1 for c in done if mark in c.got)
            checks.eq(told, len(done), "every %s connection is told why "
                      "(%r)" % (kind, mark))
    m = scrape(admin_url, ca, gw.tmp, token)
    for name, least in (
            ('otagw_https_device_refused_total{reason="per_source"}',
             300 - PER_SOURCE),
            ('otagw_admin_refused_total{reason="per_source"}',
             100 - PER_SOURCE_ADMIN),
            ('otagw_https_device_timeouts_total{phase="head"}', 150),
            ('otagw_admin_timeouts_total{phase="head"}', 30),
            ('otagw_https_device_timeouts_total{phase="handshake"}', 10),
            ('otagw_admin_timeouts_total{phase="handshake"}', 10)):
        checks.check(m.get(name, 0) >= least, "/metrics %s = %r (at least "
                     "%d)" % (name, m.get(name), least))
    # and afterwards, from the peer that attacked
    r = curl_request(gw.https_url + "/ota/d1/check", "POST", "2", auth,
                     b"{}", ca, extra=["--interface", BULK], tmpdir=gw.tmp)
    checks.eq(r.status, 200, "after the attack its peer is served again")
    checks.check(gw.alive(), "the gateway is alive")
    checks.check("closing connections from 127.0.0.2: "
                 "max_connections_per_source reached" in gw.log(),
                 "the log says whose connections are closed")
    trickle_bodies(gw, ca, admin_port, admin_url, token)


def trickle(ca, port, head):
    """Sends head (a request with Content-Length 1000) and then a byte
    of its body a second; (seconds until the answer, the answer)."""
    ctx = ssl.create_default_context(cafile=ca)
    ctx.set_alpn_protocols(["http/1.1"])
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), 5),
                        server_hostname="localhost")
    s.sendall(head)
    s.settimeout(1.0)
    t0, got = time.monotonic(), b""
    while time.monotonic() - t0 < HEADER_TIMEOUT + 8:
        try:
            s.sendall(b"x")
            data = s.recv(4096)
            if not data:
                break
            got += data
        except socket.timeout:
            continue
        except (OSError, ssl.SSLError):
            break
    s.close()
    return time.monotonic() - t0, got


def trickle_bodies(gw, ca, admin_port, admin_url, token):
    """A body that trickles in a byte a second, on a refused request
    (no token; no such firmware) or a device's check: 408 within
    header_timeout, however long it would go on."""
    for what, port, path in (
            ("admin, no token", admin_port, b"/api/v1/jobs"),
            ("device, no such path", gw.https_port, b"/fw/nothing"),
            ("device check", gw.https_port, b"/ota/d1/check")):
        dt, got = trickle(ca, port, b"POST " + path + b" HTTP/1.1\r\n"
                          b"Host: localhost\r\nContent-Length: 1000\r\n"
                          b"\r\n")
        checks.check(b"request body timeout" in got and
                     dt < HEADER_TIMEOUT + 3, "a trickled body (%s): 408 "
                     "after %.1f s (%r)" % (what, dt, got[:60]))
    m = scrape(admin_url, ca, gw.tmp, token)
    for name, least in (
            ('otagw_https_device_timeouts_total{phase="body"}', 2),
            ('otagw_admin_timeouts_total{phase="body"}', 1)):
        checks.check(m.get(name, 0) >= least, "/metrics %s = %r (at least "
                     "%d)" % (name, m.get(name), least))


main()
