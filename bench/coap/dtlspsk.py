# SPDX-License-Identifier: BSD-2-Clause
"""dtlspsk: DTLS 1.2 PSK clients for the benchmark (stdlib + the system's
libssl through ctypes).

Python's ssl module has no DTLS, and one coap-client-openssl process per
session cannot open tens of thousands of sessions in reasonable time.  This
module drives OpenSSL's own DTLS client (libssl.so.3, loaded with ctypes)
over memory BIOs: the Python side owns the UDP sockets, feeds each
received datagram to the connection whole, and sends what OpenSSL wrote as
one datagram.  One process runs many handshakes at once from one epoll
loop.  Three commands, each printing one JSON line of tallies:

    idle   M sessions: handshake, one GET (block 0 of --path), its answer;
           then the client forgets the DTLS state (no close_notify) and
           keeps the socket open and silent, so the server holds an idle
           established session; prints "ready N {codes}" and waits until
           stdin closes
    hs     K sessions one after another (C at a time): handshake, one GET,
           its answer, close_notify, socket closed: the cost of a new
           session that does one thing, as a sleepy device does
    load   N sessions downloading --path block by block for a time, every
           finished download checked (size and SHA-256)

Sessions take identities round robin from --psk ID:KEYHEX (repeatable).
-s binds the source address, so that several processes (each under the
open-file limit) can together hold more sessions than one address has
ephemeral ports.
"""

import argparse
import ctypes
import ctypes.util
import hashlib
import json
import os
import selectors
import socket
import struct
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import coapudp  # noqa: E402

DTLS1_2_VERSION = 0xFEFD
SSL_CTRL_SET_MTU = 17
SSL_CTRL_SET_MIN_PROTO_VERSION = 123
SSL_CTRL_SET_MAX_PROTO_VERSION = 124
DTLS_CTRL_HANDLE_TIMEOUT = 74
SSL_OP_NO_QUERY_MTU = 0x1000
SSL_ERROR_WANT_READ = 2
SSL_ERROR_WANT_WRITE = 3

_P = ctypes.c_void_p
PSK_CB = ctypes.CFUNCTYPE(ctypes.c_uint, _P, ctypes.c_char_p, _P,
                          ctypes.c_uint, _P, ctypes.c_uint)


def _lib(name, soname):
    path = ctypes.util.find_library(name) or soname
    return ctypes.CDLL(path)


class Ssl:
    """The few libssl functions a DTLS-PSK client needs."""

    def __init__(self):
        self.ssl = ssl = _lib("ssl", "libssl.so.3")
        self.crypto = crypto = _lib("crypto", "libcrypto.so.3")
        sig = {
            "DTLS_client_method": ([], _P),
            "SSL_CTX_new": ([_P], _P),
            "SSL_CTX_ctrl": ([_P, ctypes.c_int, ctypes.c_long, _P],
                             ctypes.c_long),
            "SSL_CTX_set_cipher_list": ([_P, ctypes.c_char_p], ctypes.c_int),
            "SSL_CTX_set_options": ([_P, ctypes.c_uint64], ctypes.c_uint64),
            "SSL_CTX_set_psk_client_callback": ([_P, PSK_CB], None),
            "SSL_new": ([_P], _P),
            "SSL_free": ([_P], None),
            "SSL_set_bio": ([_P, _P, _P], None),
            "SSL_set_connect_state": ([_P], None),
            "SSL_ctrl": ([_P, ctypes.c_int, ctypes.c_long, _P],
                         ctypes.c_long),
            "SSL_do_handshake": ([_P], ctypes.c_int),
            "SSL_get_error": ([_P, ctypes.c_int], ctypes.c_int),
            "SSL_read": ([_P, _P, ctypes.c_int], ctypes.c_int),
            "SSL_write": ([_P, ctypes.c_char_p, ctypes.c_int], ctypes.c_int),
            "SSL_shutdown": ([_P], ctypes.c_int),
        }
        for name, (args, res) in sig.items():
            f = getattr(ssl, name)
            f.argtypes = args
            f.restype = res
        csig = {
            "BIO_s_mem": ([], _P),
            "BIO_new": ([_P], _P),
            "BIO_write": ([_P, ctypes.c_char_p, ctypes.c_int], ctypes.c_int),
            "BIO_read": ([_P, _P, ctypes.c_int], ctypes.c_int),
            "BIO_ctrl_pending": ([_P], ctypes.c_size_t),
            "ERR_clear_error": ([], None),
        }
        for name, (args, res) in csig.items():
            f = getattr(crypto, name)
            f.argtypes = args
            f.restype = res
        self.ids = {}           # SSL pointer -> (identity, key)
        self._cb = PSK_CB(self._psk)
        self.ctx = ssl.SSL_CTX_new(ssl.DTLS_client_method())
        if not self.ctx:
            raise OSError("SSL_CTX_new failed")
        ssl.SSL_CTX_ctrl(self.ctx, SSL_CTRL_SET_MIN_PROTO_VERSION,
                         DTLS1_2_VERSION, None)
        ssl.SSL_CTX_ctrl(self.ctx, SSL_CTRL_SET_MAX_PROTO_VERSION,
                         DTLS1_2_VERSION, None)
        ssl.SSL_CTX_set_cipher_list(
            self.ctx, b"PSK-AES128-CCM8:PSK-AES128-GCM-SHA256:"
            b"PSK-AES128-CCM:PSK-CHACHA20-POLY1305")
        ssl.SSL_CTX_set_options(self.ctx, SSL_OP_NO_QUERY_MTU)
        ssl.SSL_CTX_set_psk_client_callback(self.ctx, self._cb)
        self.mem = crypto.BIO_s_mem()
        self.buf = ctypes.create_string_buffer(20000)

    def _psk(self, ssl, hint, ident, max_id, psk, max_psk):
        ik = self.ids.get(ssl)
        if ik is None:
            return 0
        i, k = ik
        if len(i) + 1 > max_id or len(k) > max_psk:
            return 0
        ctypes.memmove(ident, i + b"\0", len(i) + 1)
        ctypes.memmove(psk, k, len(k))
        return len(k)


class Conn:
    """One DTLS client session on its own UDP socket."""

    __slots__ = ("lib", "sock", "s", "rbio", "wbio", "up", "sent", "t0",
                 "tries", "token", "pkt", "mid", "num", "body", "etag",
                 "size2", "done")

    def __init__(self, lib, host, port, src, ident):
        self.lib = lib
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        if src:
            self.sock.bind((src, 0))
        self.sock.connect((host, port))
        self.sock.setblocking(False)
        L = lib.ssl
        self.s = L.SSL_new(lib.ctx)
        self.rbio = lib.crypto.BIO_new(lib.mem)
        self.wbio = lib.crypto.BIO_new(lib.mem)
        L.SSL_set_bio(self.s, self.rbio, self.wbio)
        L.SSL_ctrl(self.s, SSL_CTRL_SET_MTU, 1400, None)
        L.SSL_set_connect_state(self.s)
        lib.ids[self.s] = ident
        self.up = False
        self.t0 = self.sent = time.monotonic()
        self.tries = 0
        self.token = None
        self.pkt = None
        self.mid = int.from_bytes(os.urandom(2), "big")
        self.num = 0
        self.body = bytearray()
        self.etag = None
        self.size2 = None
        self.done = False

    def flush(self):
        c = self.lib.crypto
        n = c.BIO_ctrl_pending(self.wbio)
        if n == 0:
            return
        buf = self.lib.buf
        got = c.BIO_read(self.wbio, buf, min(n, len(buf)))
        if got > 0:
            try:
                self.sock.send(buf.raw[:got])
            except OSError:
                pass
            self.sent = time.monotonic()

    def step(self):
        """Advances the handshake: 1 done, 0 waiting, -1 failed."""
        L = self.lib.ssl
        r = L.SSL_do_handshake(self.s)
        self.flush()
        if r == 1:
            self.up = True
            return 1
        e = L.SSL_get_error(self.s, r)
        self.lib.crypto.ERR_clear_error()
        return 0 if e in (SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE) else -1

    def feed(self, data):
        self.lib.crypto.BIO_write(self.rbio, data, len(data))

    def read_records(self):
        """Decrypted records waiting, as a list of bytes; None: ended."""
        L = self.lib.ssl
        out = []
        buf = self.lib.buf
        while True:
            r = L.SSL_read(self.s, buf, len(buf))
            if r > 0:
                out.append(buf.raw[:r])
                continue
            e = L.SSL_get_error(self.s, r)
            self.lib.crypto.ERR_clear_error()
            self.flush()
            if e in (SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE):
                return out
            return None

    def write(self, data):
        r = self.lib.ssl.SSL_write(self.s, data, len(data))
        self.flush()
        return r == len(data)

    def timeout(self):
        self.lib.ssl.SSL_ctrl(self.s, DTLS_CTRL_HANDLE_TIMEOUT, 0, None)
        self.lib.crypto.ERR_clear_error()
        self.flush()

    def forget(self, close_notify=False):
        """Drops the DTLS state; the socket stays unless closed apart."""
        if self.s:
            if close_notify:
                self.lib.ssl.SSL_shutdown(self.s)
                self.flush()
            self.lib.ids.pop(self.s, None)
            self.lib.ssl.SSL_free(self.s)      # frees both BIOs
            self.s = None


def parse_psks(items):
    out = []
    for it in items:
        ident, _, key = it.partition(":")
        out.append((ident.encode(), bytes.fromhex(key)))
    if not out:
        raise SystemExit("dtlspsk: at least one --psk ID:KEYHEX")
    return out


class Runner:
    """Many Conns in one selector loop."""

    def __init__(self, a):
        self.a = a
        self.lib = Ssl()
        self.psks = parse_psks(a.psk)
        self.sel = selectors.DefaultSelector()
        self.live = set()
        self.opened = 0
        self.t = {"opened": 0, "handshakes": 0, "answered": 0, "failed": 0,
                  "codes": {}, "blocks": 0, "downloads": 0, "bad": 0,
                  "retransmits": 0}
        self.opts = coapudp.path_options(a.path)
        self.szx = coapudp.szx_of(a.block)

    def new_conn(self):
        ident = self.psks[self.opened % len(self.psks)]
        self.opened += 1
        c = Conn(self.lib, self.a.host, self.a.port, self.a.src, ident)
        self.sel.register(c.sock, selectors.EVENT_READ, c)
        self.live.add(c)
        self.t["opened"] += 1
        if c.step() < 0:
            self.fail(c)
        return c

    def fail(self, c):
        self.t["failed"] += 1
        self.drop(c, close=True)

    def drop(self, c, close, close_notify=False):
        if c in self.live:
            self.live.discard(c)
            self.sel.unregister(c.sock)
        c.forget(close_notify)
        if close:
            c.sock.close()

    def request(self, c, num=0):
        c.mid = (c.mid + 1) & 0xFFFF
        c.token = os.urandom(8)
        c.num = num
        c.pkt = coapudp.encode(coapudp.CON, coapudp.GET, c.mid, c.token,
                               self.opts + [coapudp.block2(num, False,
                                                           self.szx)])
        c.tries = 0
        c.write(c.pkt)

    def on_data(self, c, data):
        c.feed(data)
        if not c.up:
            r = c.step()
            if r < 0:
                self.fail(c)
                return
            if r == 0:
                return
            self.t["handshakes"] += 1
            self.request(c)
        recs = c.read_records()
        if recs is None:
            self.fail(c)
            return
        for rec in recs:
            m = coapudp.decode(rec)
            if m is None or m.code == 0 or m.token != c.token:
                continue
            c.token = None
            self.on_answer(c, m)
            if c not in self.live:
                return

    def tick(self, now):
        """Retransmissions and give-ups of the live sessions."""
        for c in list(self.live):
            if now - c.t0 > self.a.timeout and not c.up:
                self.fail(c)
                continue
            if now - c.sent < 1.0 * (1 << min(c.tries, 4)):
                continue
            if not c.up:
                c.timeout()
                c.tries += 1
            elif c.token is not None:
                if c.tries >= 4:
                    self.fail(c)
                    continue
                c.tries += 1
                self.t["retransmits"] += 1
                c.write(c.pkt)

    def loop(self, want_more, deadline):
        last = time.monotonic()
        while True:
            while want_more():
                self.new_conn()
            if not self.live:
                return
            for key, _ in self.sel.select(0.05):
                c = key.data
                while c in self.live:
                    try:
                        data = c.sock.recv(4096)
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError:
                        self.fail(c)
                        break
                    self.on_data(c, data)
            now = time.monotonic()
            if now > deadline:
                for c in list(self.live):
                    self.fail(c)
                return
            if now - last >= 0.2:
                last = now
                self.tick(now)

    def code(self, m):
        cs = m.code_str()
        self.t["codes"][cs] = self.t["codes"].get(cs, 0) + 1


class Idle(Runner):
    def __init__(self, a):
        super().__init__(a)
        self.kept = []

    def on_answer(self, c, m):
        self.code(m)
        self.t["answered"] += 1
        self.drop(c, close=False)
        self.kept.append(c.sock)

    def run(self):
        a = self.a
        coapudp.raise_nofile(a.sessions + 64)
        self.loop(lambda: self.opened < a.sessions and
                  len(self.live) < a.concurrency,
                  time.monotonic() + a.deadline)
        print("ready %d %s" % (self.t["answered"],
                               json.dumps(self.t, sort_keys=True)),
              flush=True)
        sys.stdin.read()
        for s in self.kept:
            s.close()


class Hs(Runner):
    def on_answer(self, c, m):
        self.code(m)
        self.t["answered"] += 1
        self.drop(c, close=True, close_notify=True)

    def run(self):
        a = self.a
        coapudp.raise_nofile(a.concurrency + 64)
        start = time.monotonic()
        self.loop(lambda: self.opened < a.sessions and
                  len(self.live) < a.concurrency,
                  start + a.deadline)
        self.t["elapsed"] = time.monotonic() - start
        print(json.dumps(self.t, sort_keys=True), flush=True)


class Load(Runner):
    """Downloads over DTLS: every session fetches --path over and over."""

    def on_answer(self, c, m):
        t = self.t
        if m.code != 0x45:
            self.code(m)
            c.body = bytearray()
            self.again(c)
            return
        t["blocks"] += 1
        b2 = m.opt_uint(coapudp.OPT_BLOCK2) or 0
        c.body += m.payload
        if b2 & 8:
            self.request(c, len(c.body) >> (4 + (b2 & 7)))
            return
        body = bytes(c.body)
        if len(body) == self.a.size and (
                not self.a.sha256 or
                hashlib.sha256(body).hexdigest() == self.a.sha256):
            t["downloads"] += 1
        else:
            t["bad"] += 1
        c.body = bytearray()
        self.again(c)

    def again(self, c):
        if time.monotonic() >= self.stop_at:
            self.drop(c, close=True, close_notify=True)
            return
        self.request(c, 0)

    def run(self):
        a = self.a
        coapudp.raise_nofile(a.concurrency + 64)
        start = time.monotonic()
        self.stop_at = start + a.duration
        self.loop(lambda: self.opened < a.concurrency,
                  self.stop_at + a.deadline)
        self.t["elapsed"] = time.monotonic() - start
        print(json.dumps(self.t, sort_keys=True), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cmd", choices=("idle", "hs", "load"))
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", required=True)
    ap.add_argument("--psk", action="append", default=[])
    ap.add_argument("-s", "--src", default="",
                    help="source address to bind (default: any)")
    ap.add_argument("-m", "--sessions", type=int, default=1000)
    ap.add_argument("-n", "--concurrency", type=int, default=16)
    ap.add_argument("-b", "--block", type=int, default=1024)
    ap.add_argument("-d", "--duration", type=float, default=8.0)
    ap.add_argument("--size", type=int, default=0)
    ap.add_argument("--sha256", default="")
    ap.add_argument("--timeout", type=float, default=20.0,
                    help="seconds one handshake may take")
    ap.add_argument("--deadline", type=float, default=600.0,
                    help="seconds the whole command may take")
    a = ap.parse_args()
    {"idle": Idle, "hs": Hs, "load": Load}[a.cmd](a).run()


if __name__ == "__main__":
    main()
