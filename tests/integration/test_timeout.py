# SPDX-License-Identifier: BSD-2-Clause
"""test_timeout: the job timeout, in real time, against the real daemon.

A device that reports progress and then goes silent fails with reason
"timeout" once the job's timeout (5 minutes, the smallest allowed) has
passed since its first progress report, and is never retried, even though
the job allows retries.  A device that finishes in time is not touched.

The rule itself is covered with an injected clock in tests/unit/test_jobs.c
and test_core.c; this test shows the daemon's own timer drives it.  It
takes a little over five minutes of wall time, spent waiting.
"""

import json
import os
import time

from otagw_harness import (COAP_POST, CoapUdp, Checks, Gateway,
                           otactl_items, otactl_json, wait_for)

TIMEOUT_MIN = 5


def post(udp, path, body):
    r = udp.request(COAP_POST, path, json.dumps(body).encode(),
                    content_format=50)
    return r.code if r else None


def main():
    c = Checks()
    with Gateway(coap=True, coaps=False,
                 extra={"https_listen": "off"}) as gw:
        for d in ("slow-1", "fast-1"):
            gw.otactl("device", "put", d, "--product", "p", "--version",
                      "1.0.0", check=True)
        img = os.path.join(gw.tmp, "fw.bin")
        with open(img, "wb") as f:
            f.write(os.urandom(4096))
        fw = gw.otactl_id("firmware", "add", img, "--product", "p",
                          "--version", "2.0.0")
        job = gw.otactl_id("job", "create", "--firmware", fw, "--force",
                           "--devices", "slow-1,fast-1", "--timeout",
                           str(TIMEOUT_MIN), "--retry", "2")

        with CoapUdp("127.0.0.1", gw.coap_port) as udp:
            for d in ("slow-1", "fast-1"):
                r = udp.request(COAP_POST, "/ota/%s/check" % d, b"",
                                content_format=50)
                c.eq(r.code if r else None, "2.05", d + " gets the notice")
            started = time.monotonic()
            c.eq(post(udp, "/ota/slow-1/progress", {"job": job, "step": 10}),
                 "2.04", "slow-1 reports 10%")
            c.eq(post(udp, "/ota/fast-1/progress",
                      {"job": job, "step": 100, "version": "2.0.0"}),
                 "2.04", "fast-1 reports success")

        def row(dev):
            rows = otactl_items(gw, "job", "devices", job)
            return next(r for r in rows if r["device"] == dev)

        c.eq(row("slow-1")["state"], "UPGRADING", "slow-1 upgrading")
        c.eq(row("fast-1")["state"], "SUCCEEDED", "fast-1 succeeded")

        # not before the timeout ...
        time.sleep(max(0, TIMEOUT_MIN * 60 - 20 -
                       (time.monotonic() - started)))
        c.eq(row("slow-1")["state"], "UPGRADING",
             "slow-1 still upgrading 20 s before its timeout")
        # ... and soon after it
        failed = wait_for(lambda: row("slow-1")["state"] == "FAILED" and
                          row("slow-1"), timeout=60,
                          what="slow-1 to time out", interval=1)
        waited = time.monotonic() - started
        c.check(waited >= TIMEOUT_MIN * 60 - 2,
                "timed out after %.0f s (>= %d s)" % (waited,
                                                     TIMEOUT_MIN * 60))
        c.eq(failed["reason"], "timeout", "reason is timeout")
        c.eq(failed["retries"], 0, "a timeout is not retried")
        time.sleep(3)
        c.eq(row("slow-1")["state"], "FAILED",
             "still FAILED (no RETRY_WAIT) although the job allows retries")
        c.eq(row("fast-1")["state"], "SUCCEEDED", "fast-1 untouched")
        js = otactl_json(gw, "job", "show", job)
        c.eq(js["state"], "COMPLETED", "job completed")
        c.eq(js["counts"]["FAILED"], 1, "one failure")
        c.eq(js["counts"]["SUCCEEDED"], 1, "one success")
    c.done()


if __name__ == "__main__":
    main()
