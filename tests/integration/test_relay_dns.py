#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""test_relay_dns: a resolver that does not answer stalls no device.

The relay names its upstream by host name, and the uplink is down: the
resolver in /etc/resolv.conf never answers.  getaddrinfo(3) then waits
for resolv.conf's timeouts (here 2 attempts of 4 s), and the relay runs
on the loop that also answers the devices of worker 0 (with `workers 1`,
all of them).  The daemon runs in a mount namespace of its own where
/etc/resolv.conf names a silent resolver on 127.0.0.2 (this test's UDP
socket, which counts the queries and answers none).  A device's version
report puts an event in the outbox, the relay connects, the resolver is
asked; meanwhile another device checks in over plain CoAP again and
again for 6 s: every answer must come within a second (it came after
the whole resolver timeout when the name was resolved on the loop).
Skipped (77) without root or unshare(1).
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

from otagw_harness import Checks, Gateway, wait_for

checks = Checks()


def can_unshare():
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    p = subprocess.run(["unshare", "--mount", "true"], capture_output=True)
    return p.returncode == 0


def silent_resolver():
    """A UDP socket on 127.0.0.2:53 that reads queries and answers none;
    returns (socket, counter dict)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.2", 53))
    got = {"queries": 0}

    def run():
        while True:
            try:
                s.recvfrom(2048)
            except OSError:
                return
            got["queries"] += 1
    threading.Thread(target=run, daemon=True).start()
    return s, got


def main():
    if not can_unshare():
        print("skip: needs root and unshare --mount")
        sys.exit(77)
    try:
        sock, got = silent_resolver()
    except OSError as e:
        print("skip: cannot bind 127.0.0.2:53 (%s)" % e)
        sys.exit(77)
    gw = Gateway(coap=True, extra={
        "workers": "1",
        "upstream_url": "https://upstream.otagw-test.example:8443/v1/events"})
    resolv = os.path.join(gw.tmp, "resolv.conf")
    with open(resolv, "w") as f:
        f.write("nameserver 127.0.0.2\noptions timeout:4 attempts:2\n")
    gw.wrap = ["unshare", "--mount", "sh", "-c",
               'mount --bind "$0" /etc/resolv.conf && exec "$@"', resolv]
    with gw:
        for dev in ("d1", "d2"):
            gw.otactl("device", "put", dev, "--product", "p", "--version",
                      "1.0.0", check=True)
        r = gw.coap("post", "/ota/d1/check", json.dumps(
            {"version": "1.1.0"}), content_format=50)
        checks.check(r.code.startswith("2."), "d1 reports a new version "
                     "(%s)" % r.code)
        wait_for(lambda: got["queries"] > 0, 10,
                 "the relay asks the resolver")
        checks.check(got["queries"] > 0, "the relay asked the silent "
                     "resolver (%d queries)" % got["queries"])
        worst, n, t_end = 0.0, 0, time.monotonic() + 6
        while time.monotonic() < t_end:
            t0 = time.monotonic()
            r = gw.coap("post", "/ota/d2/check", json.dumps(
                {"version": "1.0.0"}), content_format=50, timeout=20)
            dt = time.monotonic() - t0
            worst = max(worst, dt)
            n += 1
            if not r.code.startswith("2."):
                checks.check(False, "d2's check answered (%s)" % r.code)
                break
        print("# %d checks of d2 while the name was being resolved, the "
              "slowest %.3f s" % (n, worst))
        checks.check(worst < 1.0, "every check answered within 1 s while "
                     "the resolver stays silent (slowest %.3f s)" % worst)
        checks.check(gw.alive(), "the daemon runs on")
    sock.close()
    checks.done()


if __name__ == "__main__":
    main()
