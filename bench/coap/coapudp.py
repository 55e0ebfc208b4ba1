# SPDX-License-Identifier: BSD-2-Clause
"""coapudp: a small CoAP-over-UDP client for the benchmark (stdlib only).

Plain CoAP is simple enough to frame by hand, and a single Python process
driving many sockets from one epoll loop loads a server far more cheaply
than one coap-client process per download.  This module has three uses:

    request(...)               one confirmable request, for set-up steps
    python3 coapudp.py load    N concurrent block-wise downloaders that loop
                               over one resource for a time or a count and
                               print their tallies as one JSON line
    python3 coapudp.py idle    M sockets that each send one request, get
                               their answer, print "ready M", and then stay
                               silent until stdin closes: idle sessions

Every downloader owns one UDP socket (one server-side session, like one
device), asks for block 0, 1, 2, ... with Block2 and a fresh token for each
request, checks that ETag and Size2 stay the same over the download when
the server sends them, and verifies the finished body's size and SHA-256.
"""

import argparse
import hashlib
import json
import os
import random
import selectors
import socket
import struct
import sys
import time

CON, NON, ACK, RST = 0, 1, 2, 3
GET, POST, PUT = 1, 2, 3

OPT_ETAG = 4
OPT_URI_PATH = 11
OPT_CONTENT_FORMAT = 12
OPT_MAX_AGE = 14
OPT_BLOCK2 = 23
OPT_SIZE2 = 28

ACK_TIMEOUT = 2.0       # RFC 7252 ACK_TIMEOUT
MAX_RETRANSMIT = 4


def uint_bytes(v):
    """A CoAP uint option value: big-endian, no leading zero bytes."""
    if v == 0:
        return b""
    n = (v.bit_length() + 7) // 8
    return v.to_bytes(n, "big")


def _ext(v):
    if v < 13:
        return v, b""
    if v < 269:
        return 13, bytes([v - 13])
    return 14, struct.pack("!H", v - 269)


def encode(mtype, code, mid, token, options, payload=b""):
    """A CoAP message; options is a list of (number, bytes)."""
    out = bytearray()
    out.append(0x40 | (mtype << 4) | len(token))
    out.append(code)
    out += struct.pack("!H", mid)
    out += token
    last = 0
    for num, val in sorted(options, key=lambda o: o[0]):
        d, dx = _ext(num - last)
        ln, lx = _ext(len(val))
        out.append((d << 4) | ln)
        out += dx + lx + val
        last = num
    if payload:
        out.append(0xFF)
        out += payload
    return bytes(out)


class Msg:
    __slots__ = ("mtype", "code", "mid", "token", "options", "payload")

    def opt(self, num):
        for n, v in self.options:
            if n == num:
                return v
        return None

    def opt_uint(self, num):
        v = self.opt(num)
        return None if v is None else int.from_bytes(v, "big")

    def code_str(self):
        return "%d.%02d" % (self.code >> 5, self.code & 31)


def decode(data):
    """Parses a CoAP message; returns Msg or None when malformed."""
    if len(data) < 4 or data[0] >> 6 != 1:
        return None
    m = Msg()
    m.mtype = (data[0] >> 4) & 3
    tkl = data[0] & 15
    if tkl > 8 or len(data) < 4 + tkl:
        return None
    m.code = data[1]
    m.mid = struct.unpack_from("!H", data, 2)[0]
    m.token = data[4:4 + tkl]
    m.options = []
    m.payload = b""
    i = 4 + tkl
    num = 0
    n = len(data)
    while i < n:
        b = data[i]
        i += 1
        if b == 0xFF:
            m.payload = data[i:]
            break
        d, ln = b >> 4, b & 15
        if d == 15 or ln == 15:
            return None
        if d == 13:
            d = 13 + data[i]
            i += 1
        elif d == 14:
            d = 269 + struct.unpack_from("!H", data, i)[0]
            i += 2
        if ln == 13:
            ln = 13 + data[i]
            i += 1
        elif ln == 14:
            ln = 269 + struct.unpack_from("!H", data, i)[0]
            i += 2
        num += d
        if i + ln > n:
            return None
        m.options.append((num, data[i:i + ln]))
        i += ln
    return m


def path_options(path):
    return [(OPT_URI_PATH, seg.encode()) for seg in path.strip("/").split("/")
            if seg]


def block2(num, more, szx):
    return (OPT_BLOCK2, uint_bytes((num << 4) | (8 if more else 0) | szx))


def szx_of(size):
    szx = size.bit_length() - 5
    if size not in (16, 32, 64, 128, 256, 512, 1024):
        raise ValueError("block size must be a power of two, 16..1024")
    return szx


def request(host, port, method, path, payload=b"", content_format=None,
            timeout=5.0, sock=None):
    """One confirmable request; returns the response Msg or None."""
    own = sock is None
    if own:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.connect((host, port))
    try:
        mid = random.randrange(65536)
        token = os.urandom(4)
        opts = path_options(path)
        if content_format is not None:
            opts.append((OPT_CONTENT_FORMAT, uint_bytes(content_format)))
        pkt = encode(CON, method, mid, token, opts, payload)
        deadline = time.monotonic() + timeout
        wait = ACK_TIMEOUT / 4
        while time.monotonic() < deadline:
            sock.send(pkt)
            sock.settimeout(min(wait, max(0.01, deadline - time.monotonic())))
            try:
                while True:
                    m = decode(sock.recv(2048))
                    if m is None:
                        continue
                    if m.mtype == CON:
                        sock.send(encode(ACK, 0, m.mid, b"", []))
                    if m.token == token and m.code != 0:
                        return m
            except socket.timeout:
                wait *= 2
            except ConnectionRefusedError:
                # ICMP port unreachable: nobody listens (yet).
                time.sleep(min(wait, max(0.0, deadline - time.monotonic())))
                wait *= 2
        return None
    finally:
        if own:
            sock.close()


class Downloader:
    """One device downloading one resource over and over."""

    __slots__ = ("sock", "mid", "num", "buf", "etag", "size2", "token",
                 "pkt", "sent", "tries", "started", "active")

    def __init__(self, host, port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 18)
        self.sock.connect((host, port))
        self.sock.setblocking(False)
        self.mid = random.randrange(65536)
        self.active = True
        self.reset()

    def reset(self):
        self.num = 0
        self.buf = bytearray()
        self.etag = None
        self.size2 = None
        self.started = time.monotonic()


class Load:
    """N downloaders in one epoll loop; tallies what the server served."""

    def __init__(self, args):
        self.a = args
        self.szx = szx_of(args.block)
        self.opts = path_options(args.path)
        self.want_sha = args.sha256
        self.want_size = args.size
        self.t = {"downloads": 0, "bad": 0, "blocks": 0, "bytes": 0,
                  "retransmits": 0, "abandoned": 0, "errors": {},
                  "etag_changes": 0, "no_etag": 0, "no_size2": 0}
        self.sel = selectors.DefaultSelector()
        self.dls = []

    def send_block(self, d, now, szx=None):
        d.mid = (d.mid + 1) & 0xFFFF
        d.token = os.urandom(8)
        d.pkt = encode(CON, GET, d.mid, d.token,
                       self.opts + [block2(d.num, False,
                                           self.szx if szx is None else szx)])
        d.sent = now
        d.tries = 0
        try:
            d.sock.send(d.pkt)
        except OSError:
            pass

    def finish(self, d):
        t = self.t
        body = bytes(d.buf)
        ok = (len(body) == self.want_size and
              (not self.want_sha or
               hashlib.sha256(body).hexdigest() == self.want_sha))
        if ok:
            t["downloads"] += 1
        else:
            t["bad"] += 1

    def on_msg(self, d, m, now):
        t = self.t
        if m.mtype == CON:
            try:
                d.sock.send(encode(ACK, 0, m.mid, b"", []))
            except OSError:
                pass
        if m.token != d.token or m.code == 0:
            return
        d.token = None
        if m.code != 0x45:      # 2.05
            c = m.code_str()
            t["errors"][c] = t["errors"].get(c, 0) + 1
            d.reset()
            self.next(d, now)
            return
        b2 = m.opt_uint(OPT_BLOCK2)
        etag = m.opt(OPT_ETAG)
        size2 = m.opt_uint(OPT_SIZE2)
        if etag is None:
            t["no_etag"] += 1
        elif d.etag is None:
            d.etag = etag
        elif etag != d.etag:
            t["etag_changes"] += 1
        if size2 is None:
            t["no_size2"] += 1
        t["blocks"] += 1
        t["bytes"] += len(m.payload)
        more = False
        szx = self.szx
        if b2 is not None:
            num = b2 >> 4
            more = bool(b2 & 8)
            szx = b2 & 7
            off = num << (szx + 4)
            if off != len(d.buf):
                t["errors"]["misplaced"] = t["errors"].get("misplaced", 0) + 1
                d.reset()
                self.next(d, now)
                return
        d.buf += m.payload
        if more:
            # The server may pick a smaller block than asked: follow it.
            d.num = len(d.buf) >> (szx + 4)
            self.send_block(d, now, szx)
            return
        self.finish(d)
        d.reset()
        self.next(d, now)

    def check_timer(self, d, now):
        """Retransmits an unanswered request, or gives the download up."""
        if d.token is None or now - d.sent < ACK_TIMEOUT * (1 << d.tries):
            return
        if d.tries >= MAX_RETRANSMIT:
            e = self.t["errors"]
            e["timeout"] = e.get("timeout", 0) + 1
            d.token = None
            d.reset()
            self.next(d, now)
            return
        d.tries += 1
        d.sent = now
        self.t["retransmits"] += 1
        try:
            d.sock.send(d.pkt)
        except OSError:
            pass

    def next(self, d, now):
        """Starts the next download, unless time or count is up."""
        done = self.t["downloads"] + self.t["bad"]
        if now >= self.deadline or (self.a.count and done >= self.a.count):
            d.active = False
            return
        self.send_block(d, now)

    def run(self):
        a = self.a
        for _ in range(a.concurrency):
            d = Downloader(a.host, a.port)
            self.dls.append(d)
            self.sel.register(d.sock, selectors.EVENT_READ, d)
        start = time.monotonic()
        self.deadline = start + a.duration
        hard = self.deadline + a.grace
        for d in self.dls:
            self.send_block(d, start)
        last_scan = start
        while True:
            for key, _ in self.sel.select(0.05):
                d = key.data
                while d.active:
                    try:
                        data = d.sock.recv(2048)
                    except OSError:
                        break
                    m = decode(data)
                    if m is not None:
                        self.on_msg(d, m, time.monotonic())
            now = time.monotonic()
            if now - last_scan < 0.1:
                continue
            last_scan = now
            active = [d for d in self.dls if d.active]
            if not active:
                break
            if now > hard:
                self.t["abandoned"] += len(active)
                break
            for d in active:
                self.check_timer(d, now)
        self.t["elapsed"] = time.monotonic() - start
        for d in self.dls:
            d.sock.close()
        return self.t


def raise_nofile(n):
    try:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < n:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(n, hard), hard))
    except (ImportError, ValueError, OSError):
        pass


def idle(a):
    """Opens a.sessions sockets, one answered request each, then waits."""
    raise_nofile(a.sessions + 64)
    opts = path_options(a.path)
    if a.block:
        opts.append(block2(0, False, szx_of(a.block)))
    socks = {}
    pending = {}
    sel = selectors.DefaultSelector()
    for i in range(a.sessions):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect((a.host, a.port))
        s.setblocking(False)
        tok = struct.pack("!I", i)
        pkt = encode(CON, GET, i & 0xFFFF, tok, opts)
        socks[s.fileno()] = s
        pending[s.fileno()] = [pkt, 0.0, 0]
        sel.register(s, selectors.EVENT_READ)
    codes = {}
    deadline = time.monotonic() + a.timeout
    # Pace the first requests so that the server's socket buffer keeps up.
    todo = list(pending)
    while pending and time.monotonic() < deadline:
        now = time.monotonic()
        sent = 0
        for fd in todo:
            p = pending.get(fd)
            if p is None or now - p[1] < 1.0:
                continue
            try:
                socks[fd].send(p[0])
            except OSError:
                pass
            p[1] = now
            p[2] += 1
            sent += 1
            if sent >= 200:
                break
        for key, _ in sel.select(0.02):
            s = key.fileobj
            try:
                m = decode(s.recv(2048))
            except OSError:
                continue
            if m is None or m.code == 0 or s.fileno() not in pending:
                continue
            if m.mtype == CON:
                s.send(encode(ACK, 0, m.mid, b"", []))
            c = m.code_str()
            codes[c] = codes.get(c, 0) + 1
            del pending[s.fileno()]
            sel.unregister(s)
        todo = list(pending)
    answered = a.sessions - len(pending)
    print("ready %d %s" % (answered, json.dumps(codes, sort_keys=True)),
          flush=True)
    # Silent from here on: the server keeps one session per socket.
    sys.stdin.read()
    for s in socks.values():
        s.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    ld = sub.add_parser("load", help="concurrent block-wise downloads")
    ld.add_argument("--host", default="127.0.0.1")
    ld.add_argument("--port", type=int, required=True)
    ld.add_argument("--path", required=True)
    ld.add_argument("--size", type=int, required=True)
    ld.add_argument("--sha256", default="")
    ld.add_argument("-n", "--concurrency", type=int, default=8)
    ld.add_argument("-d", "--duration", type=float, default=8.0)
    ld.add_argument("-c", "--count", type=int, default=0,
                    help="stop after this many downloads (0: time only)")
    ld.add_argument("-b", "--block", type=int, default=1024)
    ld.add_argument("--grace", type=float, default=10.0,
                    help="seconds allowed to finish downloads under way")
    il = sub.add_parser("idle", help="idle sessions")
    il.add_argument("--host", default="127.0.0.1")
    il.add_argument("--port", type=int, required=True)
    il.add_argument("--path", required=True)
    il.add_argument("-m", "--sessions", type=int, default=5000)
    il.add_argument("-b", "--block", type=int, default=1024)
    il.add_argument("--timeout", type=float, default=30.0)
    a = ap.parse_args()
    if a.cmd == "load":
        print(json.dumps(Load(a).run(), sort_keys=True), flush=True)
    else:
        idle(a)


if __name__ == "__main__":
    main()
