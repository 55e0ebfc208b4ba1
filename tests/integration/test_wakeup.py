#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""test_wakeup: every check answer says exactly when to come back.

Over plain CoAP (Max-Age) and HTTPS (Retry-After), with check_interval
3600, busy_interval 60 and confirm_interval 300:

- nothing pending: 3600;
- a job whose window opens in 90 s: about 91;
- a job limited to 10 notices a minute, checked by 11 devices: the 11th
  is told the seconds left in the limiter's minute;
- a row waiting for confirmation: 300;
- notified: 60;
- a failed attempt with a one-minute retry interval: about 60, then the
  notice again once the minute is over;
- with wakeup_jitter 10, answers to an idle device spread over 3600 +- 10 %.
"""

import datetime
import json
import os
import subprocess
import time

from otagw_harness import (COAP_POST, OPT_MAX_AGE, Checks, CoapUdp, Gateway,
                           Pki, https_gateway)

checks = Checks()


def iso(ts):
    return datetime.datetime.fromtimestamp(
        ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def check(gw, dev, version="1.0.0"):
    with CoapUdp("127.0.0.1", gw.coap_port) as c:
        r = c.request(COAP_POST, "/ota/%s/check" % dev,
                      json.dumps({"version": version}).encode(), 50)
    return r.code, r.uint(OPT_MAX_AGE)


def devices(gw, names, product="p"):
    for n in names:
        gw.otactl("device", "put", n, "--product", product, "--secret",
                  "s-" + n, "--version", "1.0.0", check=True)


def firmware(gw, product, version):
    img = os.path.join(gw.tmp, "%s-%s.bin" % (product, version))
    with open(img, "wb") as f:
        f.write(os.urandom(2000))
    return gw.otactl_id("firmware", "add", img, "--product", product,
                        "--version", version)


def near(got, want, slack):
    return got is not None and want - slack <= got <= want + slack


def main():
    gw = Gateway(coap=True, coaps=False, extra={
        "check_interval": "1h", "busy_interval": "60s",
        "confirm_interval": "5m"})
    with gw:
        # nothing pending
        devices(gw, ["idle"], product="none")
        checks.eq(check(gw, "idle"), ("2.04", 3600), "idle: Max-Age 3600")

        # a window that opens in 90 s
        devices(gw, ["w1"], product="w")
        fw = firmware(gw, "w", "2.0.0")
        gw.otactl("job", "create", "--firmware", fw, "--force", "--all",
                  "--start", iso(time.time() + 90), check=True)
        code, age = check(gw, "w1")
        checks.check(code == "2.04" and near(age, 91, 3),
                     "window in 90 s: Max-Age about 91 (%r)" % age)

        # the notices-per-minute limit
        names = ["r%02d" % i for i in range(11)]
        devices(gw, names, product="r")
        fw = firmware(gw, "r", "2.0.0")
        gw.otactl("job", "create", "--firmware", fw, "--force", "--all",
                  "--rate", "10", check=True)
        t0 = time.monotonic()
        got = [check(gw, n) for n in names]
        left = 60 - (time.monotonic() - t0)
        checks.eq([c for c, _ in got[:10]], ["2.05"] * 10,
                  "rate: the first 10 are notified")
        checks.check(all(a == 60 for _, a in got[:10]),
                     "rate: notified ones get busy_interval 60")
        checks.check(got[10][0] == "2.04" and near(got[10][1], left, 3),
                     "rate: the 11th is told the seconds left in the "
                     "minute (%r, about %.0f)" % (got[10], left))

        # confirmation
        devices(gw, ["c1"], product="c")
        fw = firmware(gw, "c", "2.0.0")
        gw.otactl("job", "create", "--firmware", fw, "--force", "--all",
                  "--confirm", check=True)
        checks.eq(check(gw, "c1"), ("2.04", 300),
                  "waiting for confirmation: confirm_interval 300")

        # a retry in one minute
        devices(gw, ["f1"], product="f")
        fw = firmware(gw, "f", "2.0.0")
        job = gw.otactl_id("job", "create", "--firmware", fw, "--force",
                           "--all", "--retry", "1", "--retry-interval", "1")
        checks.eq(check(gw, "f1")[0], "2.05", "retry: notified")
        with CoapUdp("127.0.0.1", gw.coap_port) as c:
            r = c.request(COAP_POST, "/ota/f1/progress", json.dumps(
                {"job": job, "step": -2, "desc": "no link"}).encode(), 50)
        checks.eq(r.code, "2.04", "retry: the failure is taken")
        code, age = check(gw, "f1")
        checks.check(code == "2.04" and near(age, 60, 3),
                     "retry in a minute: Max-Age about 60 (%r)" % age)

    # HTTPS: Retry-After says the same, and jitter spreads idle devices
    pki = Pki(os.path.join(gw.tmp + "-pki"))
    hgw = https_gateway(pki, extra={"check_interval": "1h",
                                    "wakeup_jitter": "10"})
    with hgw:
        devices(hgw, ["h1"], product="none")
        seen = []
        for _ in range(40):
            p = subprocess.run(
                ["curl", "-s", "-o", "/dev/null", "-D", "-", "--cacert",
                 pki.ca[0], "-H", "Authorization: Bearer s-h1", "-H",
                 "Content-Type: application/json", "-d",
                 '{"version":"1.0.0"}', hgw.https_url + "/ota/h1/check"],
                capture_output=True, text=True, timeout=30)
            for line in p.stdout.splitlines():
                if line.lower().startswith("retry-after:"):
                    seen.append(int(line.split(":", 1)[1]))
        checks.eq(len(seen), 40, "https: every answer has Retry-After")
        checks.check(seen and min(seen) >= 3240 and max(seen) <= 3960,
                     "jitter 10 %%: within 3240..3960 (%d..%d)" %
                     (min(seen or [0]), max(seen or [0])))
        checks.check(len(set(seen)) > 10, "jitter: the answers differ "
                     "(%d values)" % len(set(seen)))
    checks.done()


if __name__ == "__main__":
    main()
