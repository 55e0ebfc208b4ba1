# SPDX-License-Identifier: BSD-2-Clause
"""test_rows: rows stay consistent (issue 13, item 5), with the real daemon.

- `otactl job retry` refuses a row another job superseded while that
  job's row for the same module is open (a device has one open row per
  module), saying which job; it is allowed once that row is canceled.
- A device's last final report moves its verify job to COMPLETED and the
  firmware to VERIFIED at once: `job show` and `firmware show` say so
  right after the report's answer, with no tick in between (also for a
  job so new that the daemon's tick has not counted it yet).
"""

import json
import os

from otagw_harness import COAP_POST, Checks, CoapUdp, Gateway

checks = Checks()


def coap(gw, dev, what, body):
    with CoapUdp("127.0.0.1", gw.coap_port) as c:
        r = c.request(COAP_POST, "/ota/%s/%s" % (dev, what),
                      json.dumps(body).encode(), 50)
    return r.code if r is not None else None


def show(gw, *args):
    o = gw.otactl("--json", *args)
    try:
        return json.loads(o.stdout)
    except ValueError:
        return {}


def image(gw, name):
    path = os.path.join(gw.tmp, name)
    with open(path, "wb") as f:
        f.write(os.urandom(4096))
    return path


def test_retry(gw):
    for d in ("r1", "r2"):
        gw.otactl("device", "put", d, "--product", "pr", "--version",
                  "1.0.0", check=True)
    fw2 = gw.otactl_id("firmware", "add", image(gw, "a.bin"), "--product",
                       "pr", "--version", "2.0.0")
    fw3 = gw.otactl_id("firmware", "add", image(gw, "b.bin"), "--product",
                       "pr", "--version", "3.0.0")
    j1 = gw.otactl_id("job", "create", "--firmware", fw2, "--devices",
                      "r1,r2", "--force")
    checks.eq(coap(gw, "r1", "check", {"version": "1.0.0"}), "2.05",
              "r1 gets job 1's notice")
    j2 = gw.otactl_id("job", "create", "--firmware", fw3, "--devices",
                      "r1", "--force", "--override")
    o = gw.otactl("job", "retry", j1, "r1")
    checks.check(o.returncode == 1 and j2 in o.stderr and
                 "cancel that first" in o.stderr,
                 "retry of the superseded row: refused, naming %s (%s)" %
                 (j2, o.stderr.strip()))
    row = [r for r in show(gw, "job", "devices", j1).get("items", [])
           if r.get("device") == "r1"]
    checks.check(row and row[0].get("state") == "FAILED",
                 "and the row is still FAILED")
    gw.otactl("job", "cancel", j2, "r1", check=True)
    o = gw.otactl("job", "retry", j1, "r1")
    checks.eq(o.returncode, 0, "once job 2's row is canceled the retry "
              "goes (%s)" % o.stderr.strip())


def test_settle(gw):
    gw.otactl("device", "put", "v1", "--product", "pv", "--version",
              "1.0.0", check=True)
    fw = gw.otactl_id("firmware", "add", image(gw, "v.bin"), "--product",
                      "pv", "--version", "2.0.0")
    job = gw.otactl_id("job", "create", "--firmware", fw, "--verify",
                       "--devices", "v1")
    checks.eq(coap(gw, "v1", "check", {"version": "1.0.0"}), "2.05",
              "v1 gets the verify job's notice")
    checks.eq(coap(gw, "v1", "progress", {"job": job, "step": 50}),
              "2.04", "progress 50")
    checks.eq(coap(gw, "v1", "progress", {"job": job, "step": 100,
                                          "version": "2.0.0"}),
              "2.04", "the final report")
    checks.eq(show(gw, "job", "show", job).get("state"), "COMPLETED",
              "job show: COMPLETED right after the final report")
    checks.eq(show(gw, "firmware", "show", fw).get("state"), "VERIFIED",
              "firmware show: VERIFIED right after it")


def main():
    gw = Gateway(coap=True, coaps=False)
    with gw:
        test_retry(gw)
        test_settle(gw)
    checks.done()


if __name__ == "__main__":
    main()
