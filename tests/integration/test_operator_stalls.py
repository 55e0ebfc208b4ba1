#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""test_operator_stalls: devices are answered while an operator works on
100,000 devices (issue 14, item 3), with the real daemon.

- 100,000 devices are provisioned with `otactl device import` (CSV files
  of 10,000 lines); the daemon serves CoAP and the admin API.
- While `otactl --state` creates a job over all of them (another process:
  LMDB has one writer at a time), and while the admin API does the same
  (`otactl --url`), a device checks in again and again over CoAP with a
  new version each time, so that every check writes (a version report):
  no answer takes more than 50 ms.
- A job is invisible to devices while it is CREATING: a check answered
  while job show says CREATING, before and after it, hands out no notice.
- A terminate over 100,000 rows is seen as one: while it runs, job show
  says either RUNNING with every row open, or TERMINATED with every row
  FAILED, never a mix; a device of the job gets no notice from then on.

The machine may be shared (other builds, benchmarks): before each
operation the same checks run for three seconds with nothing else going
on, and two seconds after it.  When even those take more than 25 ms (the
machine's own noise), the bound on the longest answer becomes 50 ms plus
three times the longest of them, at most 250 ms, said in the output; the
99th percentile must stay under 50 ms whatever the noise.  One answer may
take up to twice the bound (a hiccup of the machine, said in the output)
when the next longest is within it.  The whole-job
transaction this replaced kept devices waiting 300 to 700 ms at 100,000
devices.
"""

import json
import os
import socket
import subprocess
import threading
import time

from otagw_harness import (COAP_POST, OTACTL, Checks, CoapUdp, Gateway, Pki,
                           free_port, wait_for)

checks = Checks()
N = 100000
MAX_MS = 50.0


class Checker:
    """Checks of one device, one after another, each with a new version;
    first two seconds of them with nothing else going on."""

    def __init__(self, port, device):
        self.port = port
        self.device = device
        self.rtts = []
        self.bad = 0
        self.stop = False
        self.thread = None
        self.noise = 0.0

    def run(self):
        k = 0
        with CoapUdp("127.0.0.1", self.port, timeout=2.0, tries=2) as c:
            while not self.stop:
                body = json.dumps({"versions": {"default": "1.0.%d" %
                                                (k % 2)}}).encode()
                t0 = time.perf_counter()
                r = c.request(COAP_POST, "/ota/%s/check" % self.device,
                              body, 50)
                self.rtts.append((time.perf_counter() - t0) * 1000.0)
                if r is None or not r.code.startswith("2."):
                    self.bad += 1
                k += 1
                time.sleep(0.002)

    def __enter__(self):
        self.thread = threading.Thread(target=self.run)
        self.thread.start()
        time.sleep(3.0)
        self.noise = max(self.rtts) if self.rtts else 0.0
        self.rtts = []
        return self

    def __exit__(self, *exc):
        time.sleep(0.1)
        # the noise again, after the operation: the larger one counts
        ops = self.rtts
        self.rtts = []
        time.sleep(2.0)
        self.stop = True
        self.thread.join()
        self.noise = max([self.noise] + self.rtts)
        self.rtts = ops
        return False

    def report(self, what):
        r = sorted(self.rtts)
        checks.check(len(r) > 20, "%s: devices checked in meanwhile (%d)"
                     % (what, len(r)))
        checks.eq(self.bad, 0, "%s: every check answered" % what)
        bound = MAX_MS
        if self.noise > MAX_MS / 2:
            bound = min(MAX_MS + 3 * self.noise, 250.0)
            print("# %s: a busy machine: checks took up to %.1f ms with "
                  "nothing going on, the bound is %.1f ms" %
                  (what, self.noise, bound))
        if r:
            p99 = r[min(len(r) - 1, len(r) * 99 // 100)]
            checks.check(p99 <= MAX_MS, "%s: 99th percentile %.1f ms, at "
                         "most %.0f ms" % (what, p99, MAX_MS))
            # one answer a shared machine held up (a build, the suite's
            # other tests) may pass 50 ms, up to twice the bound; the
            # stalls this guards against held every answer for hundreds
            longest = r[-1]
            if (len(r) > 1 and bound < longest <= 2 * bound and
                    r[-2] <= bound):
                print("# %s: one answer took %.1f ms, the next longest "
                      "%.1f ms: counted as the machine's" %
                      (what, longest, r[-2]))
                longest = r[-2]
            checks.check(longest <= bound, "%s: longest answer %.1f ms "
                         "(p50 %.2f ms, %d checks), at most %.0f ms" %
                         (what, longest, r[len(r) // 2], len(r), bound))


def show(gw, job, via):
    p = subprocess.run(via + ["--json", "job", "show", job],
                       capture_output=True, text=True, timeout=60)
    try:
        return json.loads(p.stdout)
    except ValueError:
        return {}


def counts_of(j):
    return j.get("counts") or j.get("devices") or {}


def check_code(port, dev):
    with CoapUdp("127.0.0.1", port) as c:
        r = c.request(COAP_POST, "/ota/%s/check" % dev,
                      b'{"versions":{"default":"1.0.0"}}', 50)
    return r.code if r else None


def invisible_while_creating(gw, state):
    """Creates a job in the background and checks a device while it is
    CREATING; returns the job id."""
    fw = gw.otactl_id("firmware", "add", gw.image, "--product", "p",
                      "--version", "5.0", "--module", "other")
    p = subprocess.Popen(state + ["--progress", "--json", "job", "create",
                                  "--firmware", fw, "--force", "--all"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    seen = 0
    while p.poll() is None:
        jobs = subprocess.run(state + ["--json", "job", "list"],
                              capture_output=True, text=True).stdout
        try:
            items = json.loads(jobs).get("items", [])
        except ValueError:
            items = []
        creating = [j["id"] for j in items if j.get("state") == "CREATING"]
        if not creating:
            continue
        code = check_code(gw.coap_port, "d%06d" % 0)
        after = show(gw, creating[0], state).get("state")
        if after == "CREATING":
            seen += 1
            checks.eq(code, "2.04", "a check while the job is CREATING "
                      "gets no notice")
    out, err = p.communicate()
    checks.eq(p.returncode, 0, "the job was created")
    checks.check(seen > 0, "checks ran while the job was CREATING (%d)" %
                 seen)
    # --progress: the rows written, on stderr; stdout stays one document
    checks.check("rows: %d of %d (100%%)" % (N, N) in err,
                 "otactl --progress says how many rows are written (%r)" %
                 err[-120:])
    try:
        doc = json.loads(out)
    except ValueError:
        doc = {}
    checks.eq(doc.get("state"), "RUNNING", "--json prints one document")
    return doc.get("id", "")


def terminate_as_one(gw, job, state):
    p = subprocess.Popen(state + ["job", "terminate", job],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    views = []
    while p.poll() is None:
        j = show(gw, job, state)
        if j:
            views.append((j.get("state"), counts_of(j)))
        time.sleep(0.1)		# each view reads every row: leave CPU
    out, err = p.communicate()
    checks.eq(p.returncode, 0, "terminate done (%s)" % err.strip())
    mixed = [v for v in views if not (
        (v[0] == "RUNNING" and v[1].get("FAILED", 0) == 0) or
        (v[0] == "TERMINATED" and v[1].get("FAILED", 0) == N and
         v[1].get("QUEUED", 0) == 0 and v[1].get("NOTIFIED", 0) == 0))]
    checks.check(len(views) > 0, "job show ran during the terminate (%d)" %
                 len(views))
    checks.eq(mixed[:3], [], "the terminate is never seen half done")
    checks.eq(check_code(gw.coap_port, "d%06d" % (N - 1)), "2.04",
              "a device of the terminated job gets no notice")
    j = show(gw, job, state)
    checks.eq((j.get("state"), counts_of(j).get("FAILED")),
              ("TERMINATED", N), "every row failed in the end")


def main():
    gw = Gateway(coap=True, coaps=False)
    pki = Pki(os.path.join(gw.tmp, "pki"))
    token_path = os.path.join(gw.tmp, "admin.token")
    with open(token_path, "w") as f:
        f.write(os.urandom(16).hex() + "\n")
    os.chmod(token_path, 0o600)
    port = free_port(socket.SOCK_STREAM)
    gw.extra.update({"admin_listen": "127.0.0.1:%d" % port,
                     "admin_token_file": token_path,
                     "tls_cert": pki.server[0], "tls_key": pki.server[1],
                     "log_level": "info", "map_size": "2G",
                     "outbox_limit": "1000000"})
    gw.write_conf()
    state = [OTACTL, "--state", gw.state]
    url = [OTACTL, "--url", "https://127.0.0.1:%d" % port, "--token-file",
           token_path, "--ca", pki.ca[0]]
    csv = os.path.join(gw.tmp, "devices.csv")
    t0 = time.monotonic()
    for first in range(0, N, 10000):
        with open(csv, "w") as f:
            for i in range(first, first + 10000):
                f.write("p,d%06d,,\n" % i)
        gw.otactl("device", "import", csv, check=True)
    print("# provisioned %d devices in %.1f s" % (N, time.monotonic() - t0))
    gw.image = os.path.join(gw.tmp, "fw.bin")
    with open(gw.image, "wb") as f:
        f.write(os.urandom(4096))
    with gw:
        fw1 = gw.otactl_id("firmware", "add", gw.image, "--product", "p",
                           "--version", "2.0")
        with Checker(gw.coap_port, "d%06d" % 7) as ck:
            p = subprocess.run(state + ["job", "create", "--firmware", fw1,
                                        "--force", "--all"],
                               capture_output=True, text=True, timeout=120)
        checks.eq(p.returncode, 0, "otactl --state job create (%s)" %
                  p.stderr.strip())
        j1 = p.stdout.strip().splitlines()[-1]
        ck.report("job create over %d devices, otactl --state" % N)
        j = show(gw, j1, state)
        c = counts_of(j)
        # the checking device may have had its notice since
        checks.eq((j.get("state"), c.get("QUEUED", 0) + c.get("NOTIFIED", 0)),
                  ("RUNNING", N), "the job holds every device")

        with Checker(gw.coap_port, "d%06d" % 8) as ck:
            terminate_as_one(gw, j1, state)
        ck.report("job terminate over %d rows, otactl --state" % N)

        fw2 = gw.otactl_id("firmware", "add", gw.image, "--product", "p",
                           "--version", "3.0")
        with Checker(gw.coap_port, "d%06d" % 9) as ck:
            p = subprocess.run(url + ["job", "create", "--firmware", fw2,
                                      "--force", "--all"],
                               capture_output=True, text=True, timeout=120)
        checks.eq(p.returncode, 0, "otactl --url job create (%s)" %
                  p.stderr.strip())
        j2 = p.stdout.strip().splitlines()[-1]
        ck.report("job create over %d devices, admin API" % N)
        j = show(gw, j2, url)
        c = counts_of(j)
        checks.eq((j.get("state"), c.get("QUEUED", 0) + c.get("NOTIFIED", 0)),
                  ("RUNNING", N), "the API's job holds every device")
        with Checker(gw.coap_port, "d%06d" % 10) as ck:
            p = subprocess.run(url + ["job", "terminate", j2],
                               capture_output=True, text=True, timeout=120)
        checks.eq(p.returncode, 0, "otactl --url job terminate")
        ck.report("job terminate over %d rows, admin API" % N)

        j3 = invisible_while_creating(gw, state)
        checks.eq(show(gw, j3, state).get("state"), "RUNNING",
                  "the job runs once created")
    return checks.done()


if __name__ == "__main__":
    raise SystemExit(main())
