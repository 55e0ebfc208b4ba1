#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""test_coap_bad: bad CoAP input is refused, changes nothing, harms no one.

For each bad request (malformed, oversized or non-UTF-8 JSON, unknown
device, wrong PSK, unknown PSK identity, a path that is not the PSK
identity, firmware not offered, unknown firmware, a block past the end, an
unknown path, a wrong method, bad progress reports) the test checks the
CoAP code (or that no answer came at all, for a failed handshake), that
the store is unchanged (job rows, device records, upstream outbox depth),
and that the daemon answers a good request right after.
"""

import hashlib
import json
import os
import sys

from otagw_harness import (COAP_GET, COAP_POST, Checks, CoapUdp, Gateway,
                           coap_pdus, otactl_items, otactl_json)

checks = Checks()

MAX_BODY = 2048


def psk_of(dev):
    return "secret-%s-42" % dev


def hexkey(dev):
    return psk_of(dev).encode().hex()


class Env:
    def __init__(self, gw, jobs, devices):
        self.gw = gw
        self.jobs = jobs
        self.devices = devices

    def snapshot(self):
        """Everything a refused request must leave alone."""
        snap = {}
        for j in self.jobs:
            snap["job " + j] = otactl_items(self.gw, "job", "devices", j)
        for d in self.devices:
            snap["device " + d] = otactl_json(self.gw, "device", "show", d)
        st = otactl_json(self.gw, "relay", "status")
        snap["outbox"] = (st.get("depth"), st.get("lastSeq"))
        return snap

    def coaps(self, method, path, dev="d1", key=None, payload=None, fmt=50,
              block=None, start=None, timeout=10):
        return self.gw.coap(method, path, payload=payload,
                            dtls=(dev, key if key is not None
                                  else psk_of(dev)),
                            block=block, start_block=start,
                            content_format=fmt if payload is not None
                            else None, timeout=timeout)

    def good(self, what):
        """A good request right after: d1's check still gets its notice."""
        r = self.coaps("post", "/ota/d1/check",
                       payload=json.dumps({"versions": {"default":
                                                         "1.0.0"}}))
        checks.eq(r.code, "2.05", what + ": a good check right after")
        checks.check(self.gw.alive(), what + ": otagw still running")


def refused(env, what, send, want):
    """Runs send(); the code must be one of want (None: no answer), the
    store unchanged, and a good request must work afterwards."""
    before = env.snapshot()
    r = send()
    code = r.code if hasattr(r, "code") else r
    checks.check(code in want, "%s: %r in %r" % (what, code, want))
    after = env.snapshot()
    changed = [k for k in before if before[k] != after[k]]
    checks.eq(changed, [], what + ": nothing stored")
    env.good(what)
    return r


def main():
    extra = {"max_body": str(MAX_BODY), "log_level": "info"}
    with Gateway(coap=True, extra=extra) as gw:
        for d in ("d1", "d2", "d3"):
            gw.otactl("device", "put", d, "--product", "p", "--psk",
                      hexkey(d), "--version", "1.0.0", check=True)
        img_a = os.urandom(5000)
        img_b = os.urandom(3000)
        pa = os.path.join(gw.tmp, "a.bin")
        pb = os.path.join(gw.tmp, "b.bin")
        with open(pa, "wb") as f:
            f.write(img_a)
        with open(pb, "wb") as f:
            f.write(img_b)
        fw_a = gw.otactl_id("firmware", "add", pa, "--product", "p",
                            "--version", "2.0.0")
        fw_b = gw.otactl_id("firmware", "add", pb, "--product", "p",
                            "--version", "2.0.0", "--module", "radio")
        job = gw.otactl_id("job", "create", "--firmware", fw_a,
                           "--devices", "d1,d2", "--force")
        env = Env(gw, [job], ["d1", "d2", "d3"])

        # d1 gets its notice first, so that downloads of fw_a are allowed.
        env.good("set-up")

        def check_body(body, dev="d1", fmt=50):
            return lambda: env.coaps("post", "/ota/%s/check" % dev,
                                     dev=dev, payload=body, fmt=fmt)

        refused(env, "malformed JSON", check_body(b'{"versions":{"default"'),
                ("4.00",))
        refused(env, "JSON of the wrong shape",
                check_body(b'{"versions":["1.0.0"]}'), ("4.00",))
        refused(env, "bad version name",
                check_body(b'{"versions":{"default":"1.0/../x"}}'),
                ("4.00",))
        big = json.dumps({"versions": {"default": "1.0.0"},
                          "pad": "x" * (MAX_BODY + 500)}).encode()
        refused(env, "oversized JSON (block-wise upload)", check_body(big),
                ("4.13",))
        refused(env, "non-UTF-8 JSON",
                check_body(b'{"versions":{"default":"1.0.\xff\xfe"}}'),
                ("4.00",))
        refused(env, "JSON with a NUL",
                check_body(b'{"versions":{"default":"1.0\x00"}}'),
                ("4.00",))
        refused(env, "unsupported Content-Format",
                check_body(b'{"versions":{}}', fmt=42), ("4.15",))

        # identities
        refused(env, "unknown device (plain coap)",
                lambda: gw.coap("post", "/ota/nosuch/check",
                                payload=b'{"versions":{"default":"1.0.0"}}',
                                content_format=50),
                ("4.04",))
        refused(env, "wrong PSK: no answer",
                lambda: env.coaps("post", "/ota/d1/check", key="not-the-key",
                                  payload=b"{}", timeout=4),
                (None,))
        refused(env, "unknown PSK identity: no answer",
                lambda: env.coaps("post", "/ota/zz9/check", dev="zz9",
                                  key="whatever", payload=b"{}", timeout=4),
                (None,))
        refused(env, "path is not the PSK identity (check)",
                lambda: env.coaps("post", "/ota/d2/check", dev="d1",
                                  payload=b'{"versions":{"default":"1.0.0"}}'),
                ("4.03",))
        refused(env, "path is not the PSK identity (progress)",
                lambda: env.coaps("post", "/ota/d2/progress", dev="d1",
                                  payload=json.dumps({"job": job,
                                                      "step": 10})),
                ("4.03",))
        refused(env, "device id too long",
                lambda: env.coaps("post", "/ota/%s/check" % ("x" * 70),
                                  payload=b"{}"), ("4.04", "4.03"))

        # downloads
        refused(env, "firmware not offered to this device",
                lambda: env.coaps("get", "/fw/" + fw_b, block=1024),
                ("4.03",))
        refused(env, "firmware offered to others, not to d3",
                lambda: env.coaps("get", "/fw/" + fw_a, dev="d3",
                                  block=1024), ("4.03",))
        refused(env, "unknown firmware",
                lambda: env.coaps("get", "/fw/fw-does-not-exist",
                                  block=1024), ("4.04",))
        nblocks = (len(img_a) + 1023) // 1024
        refused(env, "block past the end",
                lambda: env.coaps("get", "/fw/" + fw_a, block=1024,
                                  start=nblocks), ("4.02", "4.00"))
        refused(env, "block far past the end (16-byte blocks)",
                lambda: env.coaps("get", "/fw/" + fw_a, block=16,
                                  start=100000), ("4.02", "4.00"))
        # the last block itself is fine
        r = env.coaps("get", "/fw/" + fw_a, block=1024, start=nblocks - 1)
        checks.eq(r.code, "2.05", "the last block is served")
        checks.check(r.data == img_a[(nblocks - 1) * 1024:],
                     "the last block's bytes")

        # paths and methods
        refused(env, "unknown path", lambda: env.coaps("get", "/nothing"),
                ("4.04",))
        refused(env, "unknown path under /ota",
                lambda: env.coaps("post", "/ota/d1/reboot", payload=b"{}"),
                ("4.04",))
        refused(env, "too deep a path",
                lambda: env.coaps("get", "/fw/%s/x/y/z" % fw_a), ("4.04",))
        refused(env, "GET on check", lambda: env.coaps("get",
                                                       "/ota/d1/check"),
                ("4.05",))
        refused(env, "PUT on a firmware",
                lambda: env.coaps("put", "/fw/" + fw_a, payload=b"x",
                                  fmt=42), ("4.05",))
        refused(env, "discovery is not offered",
                lambda: env.coaps("get", "/.well-known/core"), ("4.04",))

        # progress reports
        def prog(body):
            return lambda: env.coaps("post", "/ota/d1/progress",
                                     payload=json.dumps(body))
        refused(env, "progress step 101", prog({"job": job, "step": 101}),
                ("4.00",))
        refused(env, "progress step -5", prog({"job": job, "step": -5}),
                ("4.00",))
        refused(env, "progress step not a number",
                prog({"job": job, "step": "50"}), ("4.00",))
        refused(env, "progress for an unknown job",
                prog({"job": "j-nosuch", "step": 10}), ("4.04", "4.00"))
        refused(env, "progress without a job", prog({"step": 10}),
                ("4.00",))
        refused(env, "progress desc too long",
                prog({"job": job, "step": 10, "desc": "d" * 200}),
                ("4.00",))

        # raw UDP oddities on plain coap: still answered or ignored, the
        # daemon keeps serving
        with CoapUdp("127.0.0.1", gw.coap_port, timeout=0.5, tries=2) as c:
            c.sock.sendto(b"\x00\x01garbage", ("127.0.0.1", gw.coap_port))
            c.sock.sendto(b"", ("127.0.0.1", gw.coap_port))
            r = c.request(COAP_POST, "/ota/d2/check",
                          b'{"versions":{"default":"1.0.0"}}', 50)
            checks.eq(r and r.code, "2.05", "plain coap after garbage: 2.05")
            # a lone later block of a Block1 upload is not a whole body
            r = c.request(COAP_GET, "/fw/" + fw_a, block2=(4, 1024))
            checks.eq(r and r.code, "2.05", "plain coap random block 4")
            checks.check(r is not None and r.payload == img_a[4096:],
                         "plain coap random block 4 bytes")
        env.good("after raw datagrams")
        checks.eq(hashlib.sha256(img_a).hexdigest(),
                  otactl_json(gw, "firmware", "show", fw_a).get("sha256"),
                  "firmware unchanged")
    checks.done()


if __name__ == "__main__":
    sys.exit(main())
