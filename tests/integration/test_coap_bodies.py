#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""test_coap_bodies: one host cannot lock every device out of Block1 uploads.

With max_body 64K, 64 bodies that each reserved max_body used to fill a
worker's 4 MiB budget for Block1 bodies, and every device's first block
was then 5.03 for a minute.  Now:

- over coaps, 80 sessions of one device (one PSK identity, one host)
  each send a first Block1 block: each is answered 2.31 (the newer body
  ends the older), and another device's two-block check from another
  address completes (2.31, then 2.05);
- over plain CoAP, 100 source ports of one host each send a first block:
  only COAPHANDLER_BODIES_PER_SOURCE (16) get 2.31, the others 5.03 with
  Max-Age 1, and a device from another address completes its body;
- the flooding host's bodies, announced with no Size1, hold two blocks
  each, not max_body (/metrics shows no budget spent by them beyond that).
"""

import os
import socket
import subprocess

from otagw_harness import (COAP_CON, COAP_POST, DTLS_CLIENT, OPT_URI_PATH,
                           Checks, Gateway, coap_decode, coap_encode,
                           dtls_send, need_dtls_client)

checks = Checks()
OPT_CONTENT_FORMAT, OPT_MAX_AGE, OPT_BLOCK1 = 12, 14, 27
PER_SOURCE = 16
BS = 1024


def uint(v):
    return b"" if v == 0 else v.to_bytes((v.bit_length() + 7) // 8, "big")


def block1(num, more):
    return (OPT_BLOCK1, uint(num << 4 | (8 if more else 0) | 6))


def check_block(dev, num, more, payload, mid):
    opts = [(OPT_URI_PATH, s.encode()) for s in ("ota", dev, "check")]
    opts += [(OPT_CONTENT_FORMAT, uint(50)), block1(num, more)]
    return coap_encode(COAP_CON, COAP_POST, mid, b"b%d" % mid, opts, payload)


def body_of(size):
    pad = size - len('{"version":"1.0.0","pad":""}')
    return ('{"version":"1.0.0","pad":"%s"}' % ("x" * pad)).encode()


BODY = body_of(BS + 100)        # two blocks


def opt_uint(m, num):
    for n, v in m[4]:
        if n == num:
            return int.from_bytes(v, "big")
    return None


def plain_send(sock, port, dgram, wait=2.0):
    sock.sendto(dgram, ("127.0.0.1", port))
    sock.settimeout(wait)
    try:
        data, _ = sock.recvfrom(4096)
    except socket.timeout:
        return None
    return coap_decode(data)


def two_blocks(send):
    """A device's check in two Block1 blocks; the answers' codes."""
    a = send(check_block("d1", 0, True, BODY[:BS], 0x100))
    b = send(check_block("d1", 1, False, BODY[BS:], 0x101))
    return [a and a[1], b and b[1]]


def test_coaps(gw):
    # One device's PSK, one host, 80 sessions, each a first block.
    idle = subprocess.Popen(
        [DTLS_CLIENT, "-b", "127.0.0.7", "127.0.0.1", str(gw.coaps_port),
         "d2", b"key-d2".hex(), "idle", "80", "60",
         check_block("d2", 0, True, BODY[:BS], 7).hex()],
        stdout=subprocess.PIPE, text=True)
    try:
        line = idle.stdout.readline()
        checks.eq(line.strip(), "answered 80",
                  "80 sessions of one device each started a body")
        rc, out = dtls_send(gw, "d1", "key-d1", [
            check_block("d1", 0, True, BODY[:BS], 1),
            check_block("d1", 1, False, BODY[BS:], 2)])
        checks.eq([o and o[1] for o in out], ["2.31", "2.05"],
                  "coaps: another device's Block1 check completes")
    finally:
        idle.kill()
        idle.wait()


def test_plain(gw):
    socks = []
    codes = {}
    max_age = set()
    for i in range(100):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.5", 0))
        socks.append(s)
        m = plain_send(s, gw.coap_port, check_block("d1", 0, True,
                                                    BODY[:BS], 0x200 + i))
        code = m and m[1]
        codes[code] = codes.get(code, 0) + 1
        if code == "5.03":
            max_age.add(opt_uint(m, OPT_MAX_AGE))
    checks.eq(codes, {"2.31": PER_SOURCE, "5.03": 100 - PER_SOURCE},
              "coap: one host's 100 ports: %d bodies, then 5.03" %
              PER_SOURCE)
    checks.eq(max_age, {1}, "the 5.03 carry Max-Age 1")
    dev = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dev.bind(("127.0.0.1", 0))
    checks.eq(two_blocks(lambda d: plain_send(dev, gw.coap_port, d)),
              ["2.31", "2.05"],
              "coap: a device from another address completes its body")
    dev.close()
    for s in socks:
        s.close()


def main():
    need_dtls_client()
    gw = Gateway(coap=True, coaps=True, extra={
        "workers": "1",
        "max_body": "64K",
        "coap_handshakes_per_source": "100",
    })
    with gw:
        for dev in ("d1", "d2"):
            gw.otactl("device", "put", dev, "--product", "p", "--psk",
                      ("key-" + dev).encode().hex(), "--version", "1.0.0",
                      check=True)
        fw = gw.add_firmware(os.urandom(3000))
        gw.otactl("job", "create", "--firmware", fw, "--force", "--all",
                  check=True)
        test_coaps(gw)
        test_plain(gw)
        checks.check(gw.alive(), "otagw still running")
    checks.done()


if __name__ == "__main__":
    main()
