#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""coapseeds.py: writes the seeds of the CoAP fuzz target.

The CoAP target (fuzz/fuzz_coap.c) reads a kind byte (bit 0: coaps as
device d1, else plain CoAP) and then datagrams, each a 2-byte big-endian
length and its bytes.  CoAP messages are binary, so this script writes
them: fuzz/corpus/coap/*.  Run it from anywhere; it writes next to itself.
The seeds cover what a device does (checks, progress, block downloads at
several sizes, Block1 bodies with and without Size1) and what hostile
testing found (libcoap 4.3.1's Block1 crash, a block past the end, odd
options), and observations of the notice (Observe 0 and 1, resets).

Standard library only, like every Python file of the project.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "coap")

CON, NON, ACK, RST = 0, 1, 2, 3
GET, POST = 1, 2
ETAG, OBSERVE, URI_PATH, CFMT, ACCEPT = 4, 6, 11, 12, 17
BLOCK2, BLOCK1, SIZE1, REQUEST_TAG = 23, 27, 60, 292


def uint(v):
    return b"" if v == 0 else v.to_bytes((v.bit_length() + 7) // 8, "big")


def ext(v):
    if v < 13:
        return v, b""
    if v < 269:
        return 13, bytes([v - 13])
    return 14, struct.pack("!H", v - 269)


def msg(mtype, code, mid, token, options, payload=b""):
    out = bytearray([0x40 | (mtype << 4) | len(token), code])
    out += struct.pack("!H", mid) + token
    last = 0
    for num, val in sorted(options, key=lambda o: o[0]):
        d, dx = ext(num - last)
        ln, lx = ext(len(val))
        out.append((d << 4) | ln)
        out += dx + lx + val
        last = num
    if payload:
        out += b"\xff" + payload
    return bytes(out)


def path(p):
    return [(URI_PATH, s.encode()) for s in p.strip("/").split("/")]


def block(num, more, size):
    return uint(num << 4 | (8 if more else 0) | (size.bit_length() - 5))


def seed(kind, *dgrams):
    out = bytes([kind])
    for d in dgrams:
        out += struct.pack("!H", len(d)) + d
    return out


CHECK = b'{"versions":{"default":"1.0.0"}}'


def seeds():
    s = {}
    s["check"] = seed(0, msg(CON, POST, 1, b"a", path("/ota/d1/check") +
                             [(CFMT, uint(50))], CHECK))
    s["check-coaps"] = seed(1, msg(CON, POST, 1, b"a",
                                   path("/ota/d1/check"), CHECK))
    s["check-non-empty"] = seed(0, msg(NON, POST, 9, b"", path(
        "/ota/d2/check")))
    s["check-small-block2"] = seed(0, msg(CON, POST, 2, b"b", path(
        "/ota/d1/check") + [(BLOCK2, block(1, False, 64))], CHECK))
    s["progress"] = seed(1, msg(CON, POST, 3, b"c", path(
        "/ota/d1/progress"), b'{"job":"j-1","step":40,"desc":"dl"}'))
    s["success"] = seed(1, msg(CON, POST, 3, b"c", path(
        "/ota/d1/progress"), b'{"job":"j-1","step":100,"version":"2.0.0"}'))
    s["download"] = seed(1, msg(CON, POST, 1, b"a", path(
        "/ota/d1/check"), CHECK), *[msg(CON, GET, 10 + i, b"d", path(
            "/fw/fw-1") + [(BLOCK2, block(i, False, 1024))])
            for i in range(3)])
    s["download-16"] = seed(0, *[msg(CON, GET, 20 + i, b"e", path(
        "/fw/fw-1") + [(BLOCK2, block(i * 50, False, 16))])
        for i in range(4)])
    s["past-end"] = seed(1, msg(CON, GET, 30, b"f", path("/fw/fw-1") +
                                [(BLOCK2, block(9, False, 1024))]))
    s["etag"] = seed(1, msg(CON, GET, 31, b"f", path("/fw/fw-1") +
                            [(ETAG, b"\x01\x02\x03\x04\x05\x06\x07\x08")]))
    body = CHECK + b" " * 40
    s["block1"] = seed(0, *[msg(CON, POST, 40 + i, bytes([i]), path(
        "/ota/d1/check") + [(BLOCK1, block(i, i < 4, 16))],
        body[i * 16:(i + 1) * 16]) for i in range(5)])
    s["block1-size1-tag"] = seed(1, *[msg(CON, POST, 50 + i, b"t", path(
        "/ota/d1/check") + [(BLOCK1, block(i, i < 4, 16)),
                            (SIZE1, uint(len(body))),
                            (REQUEST_TAG, b"\x07")],
        body[i * 16:(i + 1) * 16]) for i in range(5)])
    crash = []
    for tok, size1 in ((b"AA", False), (b"BB", True)):
        for i in (0, 1):
            o = path("/ota/d1/check") + [(BLOCK1, block(i, i == 0, 16))]
            if size1:
                o.append((SIZE1, uint(32)))
            crash.append(msg(CON, POST, 60 + len(crash), tok, o,
                             body[i * 16:(i + 1) * 16]))
    s["libcoap-crash"] = seed(0, *crash)
    s["options"] = seed(0, msg(CON, GET, 70, b"o", path("/fw/x") +
                               [(9, b"\x01"), (ACCEPT, uint(42)),
                                (2000, b"x" * 20)]))
    s["too-large"] = seed(0, msg(CON, POST, 71, b"z", path(
        "/ota/d1/check"), b"{" + b" " * 1500 + b"}"))
    s["wrong-method"] = seed(0, msg(CON, GET, 72, b"w", path(
        "/ota/d1/check")), msg(CON, POST, 73, b"w", path("/fw/fw-1")),
        msg(CON, 3, 74, b"w", path("/.well-known/core")))
    # observations of the notice: register, a reset, Observe 1, again
    s["observe"] = seed(1, msg(CON, GET, 80, b"ob", path(
        "/ota/d1/notice") + [(OBSERVE, b"")]), msg(RST, 0, 81, b"", []),
        msg(CON, GET, 82, b"ob", path("/ota/d1/notice") +
            [(OBSERVE, b"\x01")]),
        msg(NON, GET, 83, b"oc", path("/ota/d1/notice") +
            [(OBSERVE, b""), (BLOCK2, block(0, False, 16))]),
        msg(ACK, 0, 84, b"", []))
    s["observe-plain"] = seed(0, *[msg(CON, GET, 90 + i, bytes([i]), path(
        "/ota/%s/notice" % d) + [(OBSERVE, b"")])
        for i, d in enumerate(("d1", "d2", "d9", "d1"))])
    return s


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in seeds().items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
