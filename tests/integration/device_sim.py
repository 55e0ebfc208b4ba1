# SPDX-License-Identifier: BSD-2-Clause
"""device_sim: simulated otagw devices, as a library and a command line.

A simulated device does what a sleepy OTA device does on each wake-up:
it checks in with its version, and when a notice comes back it reports
progress, downloads the image (block-wise over CoAP, or with HTTP/1.1
over TLS), checks its size and digest, "flashes" it, reboots into the new
version and checks in again to report it.  Behaviours make it misbehave
on purpose, for campaign tests:

    Behaviour()                      upgrade and succeed
    Behaviour(fail=[-2])             attempt 1 fails with step -2, later
                                     attempts succeed
    Behaviour(fail=[-4], fail_always=True)
                                     every attempt fails with step -4
    Behaviour(wrong_version="1.9.9") boots into 1.9.9 instead of the target
                                     (a version that is neither source nor
                                     target: "wrong-version")
    Behaviour(silent=True)           goes silent after its first progress
                                     report of an attempt (for timeouts)
    dev.sleep(n)                     skips its next n wake-ups

Transports (standard library only, so hundreds of devices are cheap):

    CoapTransport(host, port)        plain coap over one UDP socket
    CoapsTransport(host, port, identity, key, tmpdir)
                                     coaps (DTLS-PSK) through one
                                     coap-client-openssl process a request
    HttpsTransport(host, port, device, secret, cafile)
                                     HTTPS (HTTP/1.1) with a bearer secret

Library use:

    dev = Device("d1", "1.0.0", CoapTransport("127.0.0.1", 5683))
    dev.wake()            # one wake-up; dev.log has what happened

Command line (a fleet against a running gateway, plain coap):

    python3 device_sim.py --coap 127.0.0.1:5683 --prefix d --count 200 \\
        --version 1.0.0 --rounds 5 [--fail 3:-2] [--silent 4] [--wrong 5:1.9.9]

Every device keeps counters (checks, notices, progress reports, downloads,
digest failures) so a test can compare them with the gateway's figures.
"""

import argparse
import hashlib
import http.client
import json
import ssl
import sys
import time

from otagw_harness import (COAP_GET, COAP_POST, OPT_ETAG, OPT_MAX_AGE,
                           OPT_SIZE2, CoapUdp, coap_request)

STEP_DESC = {-1: "upgrade failed", -2: "download failed",
             -3: "verification failed", -4: "flash failed"}


class Reply:
    """A device-side view of an answer: ok (2.xx), notice (dict or None),
    the poll interval the gateway asked for, and the raw code."""

    def __init__(self, code, payload=b"", poll=None):
        self.code = code
        self.payload = payload or b""
        self.poll = poll
        self.notice = None
        if code in ("2.05", 200) and self.payload:
            try:
                self.notice = json.loads(self.payload)
            except ValueError:
                self.notice = None

    @property
    def ok(self):
        return isinstance(self.code, str) and self.code.startswith("2.") or \
            isinstance(self.code, int) and 200 <= self.code < 300

    def __repr__(self):
        return "Reply(%r, %r)" % (self.code, self.payload[:200])


class CoapTransport:
    """Plain CoAP over one UDP socket (one session on the gateway)."""

    name = "coap"

    def __init__(self, host, port, block=1024):
        self.host, self.port = host, port
        self.block = block
        self.udp = CoapUdp(host, port, timeout=1.0, tries=5)

    def close(self):
        self.udp.close()

    def post(self, path, body):
        r = self.udp.request(COAP_POST, path, json.dumps(body).encode(),
                             content_format=50)
        if r is None:
            return Reply(None)
        return Reply(r.code, r.payload, r.uint(OPT_MAX_AGE))

    def download(self, path, size):
        """The whole image, block by block; None when it failed.  The
        ETag and Size2 of every block must stay the same."""
        out = bytearray()
        num, etag = 0, None
        while True:
            r = self.udp.request(COAP_GET, path, block2=(num, self.block))
            if r is None or r.code != "2.05":
                return None
            b2 = r.block2()
            if b2 is None or b2[0] != num:
                return None
            tag = r.opt(OPT_ETAG)
            if etag is None:
                etag = tag
            elif tag != etag:
                return None
            if r.uint(OPT_SIZE2) not in (None, size):
                return None
            out += r.payload
            if not b2[1]:
                return bytes(out)
            num += 1
            if len(out) > size + self.block:
                return None


class CoapsTransport:
    """CoAP over DTLS-PSK through coap-client-openssl (slow: one process
    and handshake a request, so only for a few devices)."""

    name = "coaps"

    def __init__(self, host, port, identity, key, tmpdir=None):
        self.base = "coaps://%s:%d" % (host, port)
        self.dtls = (identity, key)
        self.tmpdir = tmpdir

    def close(self):
        pass

    def post(self, path, body):
        r = coap_request("post", self.base + path, json.dumps(body),
                         dtls=self.dtls, content_format=50, timeout=10,
                         tmpdir=self.tmpdir)
        return Reply(r.code, r.data)

    def download(self, path, size):
        r = coap_request("get", self.base + path, dtls=self.dtls,
                         block=1024, timeout=20, tmpdir=self.tmpdir)
        if r.code != "2.05":
            return None
        return r.data


class HttpsTransport:
    """HTTPS with HTTP/1.1 (http.client + ssl) and a bearer secret (with
    X-Device-Id); one kept-alive connection, opened again when the
    gateway closed it."""

    name = "https"

    def __init__(self, host, port, device, secret, cafile=None):
        self.host, self.port = host, port
        self.device = device
        self.auth = "Bearer " + secret
        self.ctx = ssl.create_default_context(cafile=cafile)
        self.ctx.set_alpn_protocols(["http/1.1"])
        self.conn = None

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def _request(self, method, path, body=None, headers=None):
        # a bearer secret says nothing about whose it is: downloads name
        # the device (docs/https.md)
        h = {"Authorization": self.auth, "X-Device-Id": self.device}
        h.update(headers or {})
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPSConnection(
                    self.host, self.port, context=self.ctx, timeout=10)
            try:
                self.conn.request(method, path, body=body, headers=h)
                resp = self.conn.getresponse()
                data = resp.read()
                return resp, data
            except (OSError, http.client.HTTPException):
                self.close()
                if attempt:
                    return None, b""
        return None, b""

    def post(self, path, body):
        resp, data = self._request("POST", path, json.dumps(body).encode(),
                                   {"Content-Type": "application/json"})
        if resp is None:
            return Reply(None)
        ra = resp.getheader("Retry-After")
        return Reply(resp.status, data, int(ra) if ra and ra.isdigit()
                     else None)

    def download(self, path, size):
        resp, data = self._request("GET", path)
        if resp is None or resp.status != 200:
            return None
        return data


class Behaviour:
    def __init__(self, fail=None, fail_always=False, wrong_version=None,
                 silent=False):
        self.fail = list(fail or [])     # step per attempt (attempt 1 first)
        self.fail_always = fail_always
        self.wrong_version = wrong_version
        self.silent = silent

    def failure_for(self, attempt):
        """The failing step of attempt n (1-based), or None."""
        if attempt <= len(self.fail):
            return self.fail[attempt - 1]
        if self.fail_always and self.fail:
            return self.fail[-1]
        return None


class Device:
    """One simulated device.  wake() is one wake-up of the device."""

    def __init__(self, dev_id, version, transport, module="default",
                 behaviour=None):
        self.id = dev_id
        self.module = module
        self.version = version
        self.t = transport
        self.b = behaviour or Behaviour()
        self.asleep = 0
        self.attempts = {}        # job -> attempts started
        self.silenced = set()     # jobs this device went silent in
        self.pending_report = False   # rebooted: report the version
        self.log = []             # (what, detail) in order
        self.counters = dict(wakes=0, checks=0, notices=0, progress=0,
                             downloads=0, digest_failures=0, errors=0)
        self.last_notice = None

    # behaviour controls -----------------------------------------------
    def sleep(self, n):
        self.asleep += n

    def set_version(self, v):
        """The device's version changes by itself (e.g. a field flash)."""
        self.version = v
        self.pending_report = True

    # protocol ----------------------------------------------------------
    def check(self):
        self.counters["checks"] += 1
        r = self.t.post("/ota/%s/check" % self.id,
                        {"versions": {self.module: self.version}})
        if not r.ok:
            self.counters["errors"] += 1
            self.log.append(("check-error", r.code))
        elif r.notice is not None:
            self.counters["notices"] += 1
            self.last_notice = r.notice
        return r

    def progress(self, job, step, desc=None, version=None):
        body = {"job": job, "step": step}
        if desc is not None:
            body["desc"] = desc
        if version is not None:
            body["version"] = version
        self.counters["progress"] += 1
        r = self.t.post("/ota/%s/progress" % self.id, body)
        self.log.append(("progress", job, step, r.code))
        if not r.ok:
            self.counters["errors"] += 1
        return r

    def fetch(self, notice):
        """Downloads and verifies the image; True when it is intact."""
        self.counters["downloads"] += 1
        data = self.t.download(notice["path"], notice["size"])
        if data is None or len(data) != notice["size"]:
            self.counters["digest_failures"] += 1
            self.log.append(("download-bad", None if data is None
                             else len(data)))
            return False
        algo = notice.get("signMethod", "SHA256").lower()
        digest = hashlib.new("md5" if algo == "md5" else "sha256",
                             data).hexdigest()
        if digest != notice["sign"].lower():
            self.counters["digest_failures"] += 1
            self.log.append(("digest-bad", digest))
            return False
        return True

    def wake(self):
        """One wake-up: check in and act on a notice.  Returns the notice
        acted on, or None."""
        self.counters["wakes"] += 1
        if self.asleep > 0:
            self.asleep -= 1
            self.log.append(("asleep",))
            return None
        r = self.check()
        self.pending_report = False
        n = r.notice
        if n is None:
            return None
        job = n["job"]
        if job in self.silenced:
            return None           # a hung device ignores its notices
        self.log.append(("notice", job, n["version"]))
        attempt = self.attempts.get(job, 0) + 1
        self.attempts[job] = attempt
        self.progress(job, 0, "downloading")
        if self.b.silent:
            self.silenced.add(job)
            self.log.append(("silent", job))
            return n
        if not self.fetch(n):
            self.progress(job, -3, "digest mismatch")
            return n
        fail = self.b.failure_for(attempt)
        if fail is not None:
            self.progress(job, fail, STEP_DESC.get(fail, "failed"))
            return n
        self.progress(job, 50, "flashing")
        self.progress(job, 100, "rebooting")
        # reboot into the new image, then report the running version
        self.version = self.b.wrong_version or n["version"]
        self.log.append(("booted", self.version))
        self.check()
        return n


def fleet_wake(devices, order=None):
    """Wakes every device once (in the given order); returns the notices
    acted on as {device id: notice}."""
    acted = {}
    for d in (order or devices):
        n = d.wake()
        if n is not None:
            acted[d.id] = n
    return acted


def main(argv=None):
    ap = argparse.ArgumentParser(description="simulated otagw devices "
                                 "(plain coap)")
    ap.add_argument("--coap", required=True, help="HOST:PORT")
    ap.add_argument("--prefix", default="d")
    ap.add_argument("--count", type=int, default=10)
    ap.add_argument("--first", type=int, default=0)
    ap.add_argument("--version", default="1.0.0")
    ap.add_argument("--module", default="default")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--fail", action="append", default=[],
                    help="INDEX:STEP (attempt 1 fails), or INDEX:STEP! "
                    "(every attempt)")
    ap.add_argument("--silent", action="append", type=int, default=[],
                    help="INDEX goes silent after its first progress")
    ap.add_argument("--wrong", action="append", default=[],
                    help="INDEX:VERSION boots into VERSION")
    ap.add_argument("--sleep", action="append", default=[],
                    help="INDEX:N skips its first N wake-ups")
    a = ap.parse_args(argv)
    host, _, port = a.coap.rpartition(":")
    beh = {}
    for f in a.fail:
        i, _, s = f.partition(":")
        always = s.endswith("!")
        beh.setdefault(int(i), Behaviour()).fail = [int(s.rstrip("!"))]
        beh[int(i)].fail_always = always
    for i in a.silent:
        beh.setdefault(i, Behaviour()).silent = True
    for w in a.wrong:
        i, _, v = w.partition(":")
        beh.setdefault(int(i), Behaviour()).wrong_version = v
    devs = []
    for i in range(a.first, a.first + a.count):
        d = Device("%s%03d" % (a.prefix, i), a.version,
                   CoapTransport(host or "127.0.0.1", int(port)),
                   a.module, beh.get(i))
        devs.append(d)
    for s in a.sleep:
        i, _, n = s.partition(":")
        devs[int(i) - a.first].sleep(int(n))
    t0 = time.monotonic()
    for rnd in range(a.rounds):
        acted = fleet_wake(devs)
        print("round %d: %d notices acted on" % (rnd + 1, len(acted)))
    tot = {}
    for d in devs:
        for k, v in d.counters.items():
            tot[k] = tot.get(k, 0) + v
        d.t.close()
    versions = {}
    for d in devs:
        versions[d.version] = versions.get(d.version, 0) + 1
    print("versions: %s" % json.dumps(versions, sort_keys=True))
    print("counters: %s" % json.dumps(tot, sort_keys=True))
    print("%.2f s" % (time.monotonic() - t0))
    return 0 if tot.get("errors", 0) == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
