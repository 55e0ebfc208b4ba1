#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""test_coap_cancel: an operator's cancel stops CoAP downloads in time.

The CoAP front end remembers, per session and for a short while (2 s),
that core allowed a download, so that a device resuming at block N on a
new session (which reaches the handler for every block) does not cost a
store transaction per block.  This test pins what that may and may not
change:

  - a resumed download (first request for block N > 0, then more blocks in
    any order, on one plain-coap session) gets the right bytes with ETag
    and Size2 on every block;
  - after `otactl job cancel`, a new session is refused (4.03) at once;
  - the session that was already downloading is refused too once the
    remembered grant has lapsed: within a few seconds, not never.
"""

import hashlib
import json
import os
import time

from otagw_harness import (COAP_GET, OPT_ETAG, OPT_SIZE2, Checks, CoapUdp,
                           Gateway, wait_for)

checks = Checks()

GRANT_S = 2.0          # COAPFRONT_GRANT_MS in src/coap/coapfront.c


def main():
    with Gateway(coap=True, extra={"log_level": "info"}) as gw:
        gw.otactl("device", "put", "c1", "--product", "p", "--psk",
                  b"key-c1-0123456789".hex(), "--version", "1.0.0",
                  check=True)
        image = os.urandom(20 * 1024 + 5)
        fw = gw.add_firmware(image, name="image.bin")
        job = gw.otactl_id("job", "create", "--firmware", fw, "--devices",
                           "c1", "--force")
        body = json.dumps({"versions": {"default": "1.0.0"}})

        def offered():
            r = gw.coap("post", "/ota/c1/check", payload=body,
                        content_format=50)
            return r.code == "2.05"
        wait_for(offered, 15, "the notice")

        etag = hashlib.sha256(image).digest()[:8].lstrip(b"\0")
        old = CoapUdp("127.0.0.1", gw.coap_port)
        try:
            for n in (5, 6, 7, 3, 9, 20):
                r = old.request(COAP_GET, "/fw/" + fw, block2=(n, 1024))
                what = "resumed session, block %d" % n
                checks.eq(r and r.code, "2.05", what)
                if r is None:
                    continue
                checks.check(r.opt(OPT_ETAG) == etag and
                             r.uint(OPT_SIZE2) == len(image),
                             what + ": ETag and Size2")
                checks.check(r.payload == image[n * 1024:(n + 1) * 1024],
                             what + ": bytes")

            gw.otactl("job", "cancel", job, "c1", check=True)
            t0 = time.monotonic()
            with CoapUdp("127.0.0.1", gw.coap_port) as new:
                r = new.request(COAP_GET, "/fw/" + fw, block2=(4, 1024))
                checks.eq(r and r.code, "4.03",
                          "new session after the cancel")
                r = new.request(COAP_GET, "/fw/" + fw, block2=(0, 1024))
                checks.eq(r and r.code, "4.03",
                          "new session after the cancel, block 0")

            def refused():
                r = old.request(COAP_GET, "/fw/" + fw, block2=(1, 1024))
                return r is not None and r.code == "4.03"
            wait_for(refused, GRANT_S + 8, "the old session refused")
            took = time.monotonic() - t0
            checks.check(took < GRANT_S + 3,
                         "old session refused %.1f s after the cancel" % took)
        finally:
            old.close()
        checks.check(gw.alive(), "daemon still running")


if __name__ == "__main__":
    main()
    checks.done()
