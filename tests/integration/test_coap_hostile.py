#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""test_coap_hostile: CoAP input an attacker (or an odd device) sends.

- The four Block1 datagrams that crash libcoap 4.3.1's server (a pair
  without Size1, then a pair with Size1 and a new token), over plain CoAP
  and over DTLS: otagw answers each one and serves a device afterwards.
- A check body sent block-wise without Size1 is reassembled: 2.31 for each
  block but the last, then the notice.  A later block that does not follow
  is 4.08.
- A block past the end is 4.02, on a session that already fetched block 0
  and on a new one.
- Bodies over max_body get 4.13 with Size1 = max_body at every size, up to
  a 65,000-byte datagram (and a Size1 over the limit on block 0 too).
- Options: an unknown critical option is 4.02, a ping gets a reset, a
  retransmitted confirmable check gets the same answer again.
- DTLS admission: one host holds half-open handshakes from many ports;
  only coap_handshakes_per_source of them are admitted, the others are
  ignored, devices from other addresses complete their handshakes and get
  answers meanwhile, and the half-open ones time out after
  coap_handshake_timeout.
"""

import hashlib
import json
import os
import socket
import subprocess
import time

from otagw_harness import (COAP_ACK, COAP_CON, COAP_GET, COAP_POST, COAP_RST,
                           DTLS_CLIENT, OPT_BLOCK2, OPT_SIZE1, OPT_URI_PATH,
                           Checks, CoapUdp, Gateway, coap_decode, coap_encode,
                           dtls_send, need_dtls_client, wait_for)

checks = Checks()

OPT_CONTENT_FORMAT, OPT_BLOCK1, OPT_ETAG = 12, 27, 4
MAX_BODY = 1024


def uint(v):
    return b"" if v == 0 else v.to_bytes((v.bit_length() + 7) // 8, "big")


def block(num, more, size):
    return uint(num << 4 | (8 if more else 0) | (size.bit_length() - 5))


def path_opts(path):
    return [(OPT_URI_PATH, s.encode()) for s in path.strip("/").split("/")]


class Raw:
    """One UDP socket sending hand-made CoAP messages (one session)."""

    def __init__(self, port, host="127.0.0.1"):
        self.addr = (host, port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.mid = 0x2000

    def close(self):
        self.sock.close()

    def send(self, code, opts, payload=b"", token=b"\x01\x02", mid=None,
             mtype=COAP_CON, wait=2.0):
        if mid is None:
            self.mid += 1
            mid = self.mid
        self.sock.sendto(coap_encode(mtype, code, mid, token, opts, payload),
                         self.addr)
        return self.recv(wait)

    def recv(self, wait=2.0):
        self.sock.settimeout(wait)
        try:
            data, _ = self.sock.recvfrom(70000)
        except socket.timeout:
            return None
        return coap_decode(data)


def opt(m, num):
    for n, v in m[4]:
        if n == num:
            return v
    return None


def opt_uint(m, num):
    v = opt(m, num)
    return None if v is None else int.from_bytes(v, "big")


def crash_sequence(path):
    """libcoap 4.3.1's crash: Block1 0/M/16 and 1/16 with token A and no
    Size1, then 0/M/16 and 1/16 with token B and Size1."""
    body = b'{"version":"1.0.0"}' + b" " * 13     # 32 bytes: two blocks
    base = path_opts(path) + [(OPT_CONTENT_FORMAT, uint(50))]
    msgs = []
    mid = 0x3000
    for token, size1 in ((b"AA", False), (b"BB", True)):
        for num in (0, 1):
            opts = base + [(OPT_BLOCK1, block(num, num == 0, 16))]
            if size1:
                opts.append((OPT_SIZE1, uint(len(body))))
            mid += 1
            msgs.append(coap_encode(COAP_CON, COAP_POST, mid, token, opts,
                                    body[num * 16:(num + 1) * 16]))
    return msgs


def setup(gw):
    gw.otactl("device", "put", "d1", "--product", "p", "--psk",
              b"key-d1".hex(), "--version", "1.0.0", check=True)
    gw.otactl("device", "put", "d2", "--product", "p", "--psk",
              b"key-d2".hex(), "--version", "1.0.0", check=True)
    img = os.path.join(gw.tmp, "fw.bin")
    with open(img, "wb") as f:
        f.write(os.urandom(5000))
    fw = gw.otactl_id("firmware", "add", img, "--product", "p",
                      "--version", "2.0.0")
    job = gw.otactl_id("job", "create", "--firmware", fw, "--force", "--all")
    return fw, job


def test_crash_plain(gw):
    r = Raw(gw.coap_port)
    answers = []
    for pkt in crash_sequence("/ota/d1/check"):
        r.sock.sendto(pkt, r.addr)
        answers.append(r.recv())
    checks.eq([a[1] if a else None for a in answers],
              ["2.31", "2.05", "2.31", "2.05"],
              "the four crash datagrams over coap: each answered")
    checks.check(gw.alive(), "otagw survived the Block1 sequence (coap)")
    m = r.send(COAP_POST, path_opts("/ota/d2/check"), b'{"version":"1.0.0"}')
    checks.eq(m and m[1], "2.05", "a device is served afterwards (coap)")
    r.close()


def test_crash_dtls(gw):
    rc, out = dtls_send(gw, "d1", "key-d1", crash_sequence("/ota/d1/check"))
    checks.eq(rc, 0, "DTLS handshake for the crash sequence")
    checks.eq([a[1] if a else None for a in out],
              ["2.31", "2.05", "2.31", "2.05"],
              "the four crash datagrams over coaps: each answered")
    checks.check(gw.alive(), "otagw survived the Block1 sequence (coaps)")
    rc, out = dtls_send(gw, "d2", "key-d2", [coap_encode(
        COAP_CON, COAP_POST, 7, b"t", path_opts("/ota/d2/check"),
        b'{"version":"1.0.0"}')])
    checks.eq(out and out[0] and out[0][1], "2.05",
              "a device is served afterwards (coaps)")


def test_block1_no_size1(gw, job):
    body = json.dumps({"versions": {"default": "1.0.0"},
                       "pad": "x" * 150}).encode()
    r = Raw(gw.coap_port)
    n = (len(body) + 63) // 64
    codes = []
    last = None
    for i in range(n):
        more = i < n - 1
        last = r.send(COAP_POST, path_opts("/ota/d1/check") +
                      [(OPT_CONTENT_FORMAT, uint(50)),
                       (OPT_BLOCK1, block(i, more, 64))],
                      body[i * 64:(i + 1) * 64], token=bytes([i + 1]))
        codes.append(last[1] if last else None)
    checks.eq(codes, ["2.31"] * (n - 1) + ["2.05"],
              "Block1 without Size1: 2.31 per block, then the answer")
    checks.eq(json.loads(last[5]).get("job"), job,
              "the answer is the notice")
    checks.eq(opt_uint(last, OPT_BLOCK1), (n - 1) << 4 | 2,
              "the answer carries the last Block1")
    # A block that does not follow: 4.08.
    m = r.send(COAP_POST, path_opts("/ota/d1/check") +
               [(OPT_BLOCK1, block(3, True, 64))], b"x" * 64)
    checks.eq(m and m[1], "4.08", "a later block with no start: 4.08")
    m = r.send(COAP_POST, path_opts("/ota/d1/check") +
               [(OPT_BLOCK1, block(0, True, 64))], b"x" * 64)
    m = r.send(COAP_POST, path_opts("/ota/d1/check") +
               [(OPT_BLOCK1, block(2, True, 64))], b"x" * 64)
    checks.eq(m and m[1], "4.08", "a skipped block: 4.08")
    r.close()


def test_past_end(gw, fw):
    r = Raw(gw.coap_port)
    m = r.send(COAP_GET, path_opts("/fw/" + fw) +
               [(OPT_BLOCK2, block(0, False, 1024))])
    checks.eq(m and m[1], "2.05", "block 0")
    m = r.send(COAP_GET, path_opts("/fw/" + fw) +
               [(OPT_BLOCK2, block(5, False, 1024))])
    checks.eq(m and m[1], "4.02", "past the end after block 0: 4.02")
    r.close()
    r = Raw(gw.coap_port)
    m = r.send(COAP_GET, path_opts("/fw/" + fw) +
               [(OPT_BLOCK2, block(40, False, 1024))])
    checks.eq(m and m[1], "4.02", "past the end on a new session: 4.02")
    m = r.send(COAP_GET, path_opts("/fw/" + fw) +
               [(OPT_BLOCK2, block(4, False, 1024))])
    checks.eq((m and m[1], m and len(m[5])), ("2.05", 5000 - 4096),
              "the last block is still served")
    r.close()


def test_too_large(gw):
    r = Raw(gw.coap_port)
    bad = []
    for size in (1025, 1030, 1100, 1139, 1140, 1200, 1400, 1500, 2047,
                 2048, 2049, 4000, 16000, 65000):
        m = r.send(COAP_POST, path_opts("/ota/d1/check"), b"{" + b" " *
                   (size - 2) + b"}")
        if not m or m[1] != "4.13" or opt_uint(m, OPT_SIZE1) != MAX_BODY:
            bad.append((size, m and m[1], m and opt_uint(m, OPT_SIZE1)))
    checks.eq(bad, [], "4.13 with Size1=%d for every body over the limit, "
              "up to 65,000 bytes" % MAX_BODY)
    m = r.send(COAP_POST, path_opts("/ota/d1/check") +
               [(OPT_BLOCK1, block(0, True, 64)),
                (OPT_SIZE1, uint(5000))], b"x" * 64)
    checks.eq((m and m[1], m and opt_uint(m, OPT_SIZE1)), ("4.13", MAX_BODY),
              "Size1 over the limit on block 0: 4.13 at once")
    body = b"x" * 64
    m = None
    for i in range(17):
        m = r.send(COAP_POST, path_opts("/ota/d1/check") +
                   [(OPT_BLOCK1, block(i, True, 64))], body)
        if m is None or m[1] != "2.31":
            break
    checks.eq((m and m[1], m and opt_uint(m, OPT_SIZE1)), ("4.13", MAX_BODY),
              "a Block1 body growing past the limit: 4.13")
    m = r.send(COAP_POST, path_opts("/ota/d1/check"), b'{"version":"1.0.0"}')
    checks.eq(m and m[1], "2.05", "a good check right after")
    r.close()


def test_message_layer(gw):
    r = Raw(gw.coap_port)
    m = r.send(COAP_GET, path_opts("/fw/x") + [(9, b"\x01")])
    checks.eq(m and m[1], "4.02", "unknown critical option: 4.02")
    m = r.send(0, [], b"", token=b"")
    checks.eq(m and (m[0], m[1]), (COAP_RST, "0.00"), "a ping: reset")
    r.sock.sendto(b"\x40\x01\x12\x34\xd1", r.addr)   # option runs off the end
    m = r.recv()
    checks.eq(m and (m[0], m[2]), (COAP_RST, 0x1234),
              "a malformed confirmable message: reset")
    m1 = r.send(COAP_POST, path_opts("/ota/d1/check"), b'{"version":"1.0.0"}',
                mid=0x4444, token=b"R")
    m2 = r.send(COAP_POST, path_opts("/ota/d1/check"), b'{"version":"1.0.0"}',
                mid=0x4444, token=b"R")
    checks.check(m1 is not None and m1 == m2 and m1[0] == COAP_ACK,
                 "a retransmitted check gets the same answer")
    r.close()


def test_admission(gw):
    # One host (127.0.0.5) holds 40 half-open handshakes, silently.
    flood = subprocess.Popen(
        [DTLS_CLIENT, "-b", "127.0.0.5", "127.0.0.1", str(gw.coaps_port),
         "d1", b"key-d1".hex(), "halfopen", "40", "6"],
        stdout=subprocess.PIPE, text=True)
    line = flood.stdout.readline()
    checks.check(line.startswith("flights "), "the flood ran (%r)" % line)
    flights = int(line.split()[1]) if line.startswith("flights ") else -1
    checks.eq(flights, 4, "only coap_handshakes_per_source=4 of 40 "
              "half-open handshakes from one host got an answer")
    # Devices from other addresses complete theirs meanwhile.
    ok = 0
    t0 = time.monotonic()
    for i, src in enumerate(("127.0.0.2", "127.0.0.3", "127.0.0.1")):
        rc, out = dtls_send(gw, "d2", "key-d2", [coap_encode(
            COAP_CON, COAP_POST, 9 + i, b"t", path_opts("/ota/d2/check"),
            b'{"version":"1.0.0"}')], bind=src)
        if rc == 0 and out and out[0] and out[0][1] == "2.05":
            ok += 1
    checks.eq(ok, 3, "devices from three other addresses served during "
              "the flood (%.2f s)" % (time.monotonic() - t0))
    checks.check("too many open handshakes for its address" in gw.log(),
                 "the refusals are logged")
    # The half-open ones time out (coap_handshake_timeout 2s): the same
    # host can open new handshakes while the old sockets are still silent.
    time.sleep(2.5)
    rc, out = dtls_send(gw, "d1", "key-d1", [coap_encode(
        COAP_CON, COAP_POST, 20, b"t", path_opts("/ota/d1/check"),
        b'{"version":"1.0.0"}')], bind="127.0.0.5")
    checks.eq(out and out[0] and out[0][1], "2.05",
              "the flooding host's half-open handshakes timed out")
    flood.wait(timeout=30)


def main():
    need_dtls_client()
    gw = Gateway(coap=True, coaps=True, extra={
        "max_body": "1K",
        "coap_handshakes_per_source": "4",
        "coap_handshakes_per_net": "100",
        "coap_handshake_timeout": "2s",
    })
    with gw:
        fw, job = setup(gw)
        test_crash_plain(gw)
        test_crash_dtls(gw)
        test_block1_no_size1(gw, job)
        test_past_end(gw, fw)
        test_too_large(gw)
        test_message_layer(gw)
        test_admission(gw)
        checks.check(gw.alive(), "otagw still running")
    checks.done()


if __name__ == "__main__":
    main()
