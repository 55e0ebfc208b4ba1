#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""test_coap_sessions: plain CoAP and one host cannot evict other devices.

With coap_max_sessions 20 (one worker) and coap_sessions_per_source 4:

- device d5 observes /ota/d5/notice over coaps (coap-client-openssl -s);
- a plain CoAP device on 127.0.0.1 sends the first Block1 block of a
  check (2.31);
- one host, 127.0.0.5, sends 400 unauthenticated plain CoAP GETs from as
  many source ports (each a new peer: 4.04 each), and another device, d6,
  opens 300 DTLS sessions one after another from 127.0.0.7;
- then the plain device's last block completes its check (2.04: its
  session, and the body on it, survived; before, it was evicted and the
  block was 4.08), and a job created for d5 is pushed to it within a few
  seconds (its DTLS session and observation survived; before, plain CoAP
  peers evicted them and the notice was never pushed).
"""

import os
import re
import socket
import subprocess
import time

from otagw_harness import (COAP_CON, COAP_GET, COAP_POST, DTLS_CLIENT,
                           OPT_URI_PATH, Checks, Gateway, coap_decode,
                           coap_encode, need_dtls_client, observe, wait_for)

checks = Checks()
OPT_CONTENT_FORMAT, OPT_BLOCK1 = 12, 27
BS = 64


def uint(v):
    return b"" if v == 0 else v.to_bytes((v.bit_length() + 7) // 8, "big")


def path(p):
    return [(OPT_URI_PATH, s.encode()) for s in p.strip("/").split("/")]


def check_block(dev, num, more, payload, mid):
    opts = path("/ota/%s/check" % dev) + [
        (OPT_CONTENT_FORMAT, uint(50)),
        (OPT_BLOCK1, uint(num << 4 | (8 if more else 0) | 2))]
    return coap_encode(COAP_CON, COAP_POST, mid, b"c%d" % mid, opts, payload)


def send(sock, port, dgram, wait=2.0):
    sock.sendto(dgram, ("127.0.0.1", port))
    sock.settimeout(wait)
    try:
        return coap_decode(sock.recvfrom(4096)[0])
    except socket.timeout:
        return None


def flood_plain(gw, n):
    """n plain GETs from as many ports of 127.0.0.5; the answers' codes."""
    codes = {}
    for i in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.5", 0))
        m = send(s, gw.coap_port, coap_encode(COAP_CON, COAP_GET, i, b"f",
                                              path("/fw/nothing")))
        s.close()
        codes[m and m[1]] = codes.get(m and m[1], 0) + 1
    return codes


def run(gw, fw):
    body = b'{"version":"1.0.0","pad":"' + b"x" * 80 + b'"}'
    dev = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dev.bind(("127.0.0.1", 0))
    sub, reg = observe(gw, "d5", "key-d5", 40)
    try:
        checks.check(reg is not None, "d5 observes its notice over coaps")
        m = send(dev, gw.coap_port, check_block("d1", 0, True, body[:BS], 1))
        checks.eq(m and m[1], "2.31", "a plain device starts a Block1 body")

        codes = flood_plain(gw, 400)
        checks.eq(codes, {"4.04": 400},
                  "400 plain GETs from one host's ports, each answered")
        idle = subprocess.run(
            [DTLS_CLIENT, "-b", "127.0.0.7", "127.0.0.1",
             str(gw.coaps_port), "d6", b"key-d6".hex(), "idle", "300", "0",
             coap_encode(COAP_CON, COAP_GET, 9, b"i",
                         path("/fw/nothing")).hex()],
            capture_output=True, text=True, timeout=120)
        checks.eq(idle.stdout.strip(), "answered 300",
                  "d6 opened 300 DTLS sessions, each answered")

        m = send(dev, gw.coap_port, check_block("d1", 1, False, body[BS:],
                                                2))
        checks.eq(m and m[1], "2.04", "the plain device's body survived "
                  "the flood: its last block completes the check")
        t0 = time.monotonic()
        job = gw.otactl_id("job", "create", "--firmware", fw, "--force",
                           "--devices", "d5")
        note = None
        try:
            note = wait_for(lambda: sub.find(r"c:2\.05 .*\"job\":\"%s\"" %
                                             re.escape(job), t0),
                            10, "the notification")
        except TimeoutError:
            pass
        checks.check(note is not None, "d5's observation survived: the new "
                     "job is pushed to it (%.1f s)" %
                     ((note[0] - t0) if note else -1))
    finally:
        sub.stop()
        dev.close()


def main():
    need_dtls_client()
    gw = Gateway(coap=True, coaps=True, extra={
        "workers": "1",
        "log_level": "info",
        "coap_max_sessions": "20",
        "coap_sessions_per_source": "4",
    })
    with gw:
        for dev in ("d1", "d5", "d6"):
            gw.otactl("device", "put", dev, "--product", "p", "--psk",
                      ("key-" + dev).encode().hex(), "--version", "1.0.0",
                      check=True)
        fw = gw.add_firmware(os.urandom(3000))
        run(gw, fw)
        checks.check(gw.alive(), "otagw still running")
    checks.done()


if __name__ == "__main__":
    main()
