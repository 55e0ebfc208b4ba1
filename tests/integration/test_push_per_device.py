#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""test_push_per_device: one device cannot take every push watcher.

With push_max_watchers 4 (one worker):

- plain CoAP: device c1 registers Observe on /ota/c1/notice from six
  sockets in turn; every registration is answered with Observe (the newer
  replaces the older), and device c2 can still register (before, the
  fifth and later registrations, and c2's, were answered without Observe);
  a job for c1 is pushed to the newest registration only;
- HTTPS: device h1 opens six long polls (POST check?wait=30, one curl
  each); the five older ones are answered as plain checks (204) within a
  few seconds while the newest waits; then device h2's long poll is held,
  and a job created for h2 answers it with the notice (before, h1's polls
  took every watcher and h2 was answered 204 at once).
"""

import os
import shutil
import socket
import tempfile
import threading
import time

from otagw_harness import (COAP_CON, COAP_GET, OPT_URI_PATH, Checks,
                           Gateway, Pki, coap_decode, coap_encode,
                           curl_request, free_port, wait_for)

checks = Checks()
OPT_OBSERVE = 6


class Observer:
    """CoAP Observe by hand over plain CoAP: one socket, one session."""

    def __init__(self, port):
        self.addr = ("127.0.0.1", port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))

    def register(self, dev, mid):
        opts = [(OPT_URI_PATH, s.encode()) for s in ("ota", dev, "notice")]
        opts.append((OPT_OBSERVE, b""))
        self.sock.sendto(coap_encode(COAP_CON, COAP_GET, mid, b"o%d" % mid,
                                     opts), self.addr)
        return self.recv(5)

    def recv(self, timeout):
        self.sock.settimeout(timeout)
        try:
            return coap_decode(self.sock.recvfrom(65536)[0])
        except socket.timeout:
            return None


def observing(m):
    return (m is not None and m[1] == "2.05" and
            any(n == OPT_OBSERVE for n, _ in m[4]))


class Poll:
    """A long poll by curl in a thread of its own."""

    def __init__(self, gw, ca, dev, secret, wait):
        self.result = None
        self.ended = None
        url = "%s/ota/%s/check?wait=%d" % (gw.https_url, dev, wait)
        hdrs = ["Authorization: Bearer " + secret,
                "Content-Type: application/json"]

        def run():
            self.result = curl_request(url, "POST", "2", hdrs, b"{}", ca,
                                       tmpdir=gw.tmp)
            self.ended = time.monotonic()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()


def coap_part(gw, fw):
    obs = [Observer(gw.coap_port) for _ in range(6)]
    answers = [o.register("c1", 0x100 + i) for i, o in enumerate(obs)]
    checks.eq([observing(m) for m in answers], [True] * 6,
              "c1 registered from six sockets: each answered with Observe")
    other = Observer(gw.coap_port)
    checks.check(observing(other.register("c2", 0x200)),
                 "c2 can still register (Observe in the answer)")
    job = gw.otactl_id("job", "create", "--firmware", fw, "--force",
                       "--devices", "c1")
    n = obs[5].recv(6)
    checks.check(n is not None and n[0] == COAP_CON and
                 b'"job":"%s"' % job.encode() in n[5],
                 "the newest registration gets the notification")
    checks.eq(obs[0].recv(2), None, "a replaced one gets nothing")
    for o in obs + [other]:
        o.sock.close()


def https_part(gw, ca):
    polls = []
    for i in range(6):
        polls.append(Poll(gw, ca, "h1", "s-h1", 30))
        time.sleep(0.3)     # in order: each replaces the one before
    try:
        wait_for(lambda: all(p.result is not None for p in polls[:5]), 10,
                 "the older long polls to be answered")
    except TimeoutError:
        pass
    checks.eq([p.result and p.result.status for p in polls[:5]],
              [204] * 5, "h1's five older long polls: answered 204")
    checks.eq(polls[5].result, None, "h1's newest long poll still waits")
    p = Poll(gw, ca, "h2", "s-h2", 30)
    time.sleep(1.5)
    checks.eq(p.result, None, "h2's long poll is held")
    fw = gw.add_firmware(os.urandom(3000), product="q", name="q.bin")
    job = gw.otactl_id("job", "create", "--firmware", fw, "--force",
                       "--devices", "h2")
    try:
        wait_for(lambda: p.result is not None, 10, "h2's answer")
    except TimeoutError:
        pass
    checks.check(p.result is not None and p.result.status == 200 and
                 b'"job":"%s"' % job.encode() in p.result.body,
                 "h2's long poll is answered with the notice")


def main():
    tmp = tempfile.mkdtemp(prefix="otagw-ppd-")
    pki = Pki(os.path.join(tmp, "pki"))
    port = free_port(socket.SOCK_STREAM)
    gw = Gateway(coap=True, coaps=False, tmp=tmp, extra={
        "https_listen": "127.0.0.1:%d" % port,
        "tls_cert": pki.server[0], "tls_key": pki.server[1],
        "device_ca": '""',
        "workers": "1",
        "push_max_watchers": "4",
    })
    gw.https_url = "https://127.0.0.1:%d" % port
    try:
        with gw:
            for dev in ("c1", "c2"):
                gw.otactl("device", "put", dev, "--product", "p",
                          "--version", "1.0.0", check=True)
            for dev in ("h1", "h2"):
                gw.otactl("device", "put", dev, "--product", "q",
                          "--version", "1.0.0", "--secret", "s-" + dev,
                          check=True)
            fw = gw.add_firmware(os.urandom(3000))
            coap_part(gw, fw)
            https_part(gw, pki.ca[0])
            checks.check(gw.alive(), "otagw still running")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    checks.done()


if __name__ == "__main__":
    main()
