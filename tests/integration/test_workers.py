# SPDX-License-Identifier: BSD-2-Clause
"""test_workers: two worker threads serve CoAP, DTLS and HTTPS devices
exactly as one does (issue 14, item 4).

The same campaign runs against a gateway with `workers 1` and one with
`workers 2`: four devices over DTLS-PSK, four over plain CoAP and four
over HTTPS (bearer secrets) check, download the image (block-wise with
coap-client-openssl; two ranges on two connections with curl) and report
success.  Every notice, every downloaded image, every row's final state
and the job's counts must be the same.  With two workers the daemon runs
two threads (/proc: main's and one named otagw/w1), both of which take
devices: a burst of new DTLS sessions and new HTTPS connections costs
each thread CPU time (from /proc/PID/task/TID/schedstat).  A SIGHUP reload (new TLS context for both
workers) keeps every protocol answering, and SIGTERM ends it cleanly.
"""

import hashlib
import json
import os
import shutil
import signal
import sys
import tempfile

from otagw_harness import (Checks, Pki, curl_request, free_port,
                           https_gateway, otactl_items, otactl_json)

checks = Checks()

for tool in ("curl", "openssl", "coap-client-openssl"):
    if shutil.which(tool) is None:
        print("%s not installed: skipping" % tool)
        sys.exit(77)

DTLS = ["t%d" % i for i in range(4)]
PLAIN = ["c%d" % i for i in range(4)]
HTTPS = ["h%d" % i for i in range(4)]


def sha(b):
    return hashlib.sha256(b).hexdigest()


def psk_of(dev):
    return "key-%s-0123456789" % dev


def coap_post(gw, dev, what, body):
    dtls = (dev, psk_of(dev)) if dev in DTLS else None
    return gw.coap("post", "/ota/%s/%s" % (dev, what),
                   payload=json.dumps(body), dtls=dtls, content_format=50)


def https_post(gw, pki, dev, secret, what, body):
    return curl_request(gw.https_url + "/ota/%s/%s" % (dev, what), "POST",
                        "1.1", ["Authorization: Bearer " + secret,
                                "Content-Type: application/json"],
                        json.dumps(body).encode(), pki.ca[0],
                        tmpdir=gw.tmp)


def notice_of(body):
    """What a notice says that does not depend on the gateway's ports."""
    try:
        n = json.loads(body)
    except (TypeError, ValueError):
        return None
    return dict((k, n.get(k)) for k in ("job", "firmware", "version",
                                         "size", "sign", "signMethod",
                                         "module", "path"))


def device_flow(gw, pki, secrets, dev, img):
    """check, download, report; what the device saw."""
    out = {}
    body = {"versions": {"default": "1.0.0"}}
    if dev in HTTPS:
        r = https_post(gw, pki, dev, secrets[dev], "check", body)
        out["check"] = r.status
        n = notice_of(r.body)
        half = len(img) // 2
        got = b""
        for rng in ("bytes=0-%d" % (half - 1), "bytes=%d-" % half):
            d = curl_request(gw.https_url + "/fw/%s" % (n or {}).get(
                "firmware"), "GET", "1.1",
                ["Authorization: Bearer " + secrets[dev],
                 "X-Device-Id: " + dev, "Range: " + rng], None, pki.ca[0],
                tmpdir=gw.tmp)
            got += d.body if d.status == 206 else b""
    else:
        r = coap_post(gw, dev, "check", body)
        out["check"] = r.code
        n = notice_of(r.data)
        dtls = (dev, psk_of(dev)) if dev in DTLS else None
        got = b""
        for _ in range(2):      # coap-client's duplicated block (NOTES.md)
            d = gw.coap("get", "/fw/%s" % (n or {}).get("firmware"),
                        dtls=dtls, block=1024, timeout=20)
            got = d.data
            if got == img:
                break
    out["notice"] = n
    out["image"] = sha(got) if got else None
    report = {"job": (n or {}).get("job"), "step": 100, "version": "2.0.0"}
    if dev in HTTPS:
        out["report"] = https_post(gw, pki, dev, secrets[dev], "progress",
                                   report).status
    else:
        out["report"] = coap_post(gw, dev, "progress", report).code
    return out


def threads(pid):
    """{tid: nanoseconds on CPU} of the daemon's worker threads: its main
    thread and the ones named otagw/wN (a sanitizer may add its own)."""
    out = {}
    base = "/proc/%d/task" % pid
    for tid in os.listdir(base):
        try:
            with open(os.path.join(base, tid, "comm")) as f:
                comm = f.read().strip()
            if int(tid) != pid and not comm.startswith("otagw/w"):
                continue
            with open(os.path.join(base, tid, "schedstat")) as f:
                out[int(tid)] = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return out


def burst(gw, pki, secrets):
    """New DTLS sessions and new HTTPS connections, each from a new port."""
    for i in range(40):
        coap_post(gw, DTLS[i % len(DTLS)], "check",
                  {"versions": {"default": "2.0.0"}})
    for i in range(40):
        dev = HTTPS[i % len(HTTPS)]
        https_post(gw, pki, dev, secrets[dev], "check",
                   {"versions": {"default": "2.0.0"}})


def campaign(workers, pki, img_path, img):
    """Runs the whole campaign on a fresh gateway; returns what it saw."""
    extra = {"workers": str(workers), "log_level": "info",
             "coap_listen": "127.0.0.1:%d" % free_port(),
             "device_ca": '""'}
    tmp = tempfile.mkdtemp(prefix="otagw-workers-")
    gwp = https_gateway(pki, extra=extra, coaps=True, tmp=tmp)
    gwp.coap_port = int(extra["coap_listen"].rsplit(":", 1)[1])
    what = "workers %d" % workers
    seen = {}
    with gwp as gw:
        checks.check(("%d worker%s" % (workers, "" if workers == 1 else "s"))
                     in gw.log(), what + ": the ready line names them")
        checks.eq(len(threads(gw.proc.pid)), workers,
                  what + ": threads of the daemon")
        secrets = {}
        for dev in DTLS + PLAIN + HTTPS:
            args = ["device", "put", dev, "--product", "p", "--version",
                    "1.0.0"]
            if dev in DTLS:
                args += ["--psk", psk_of(dev).encode().hex()]
            if dev in HTTPS:
                secrets[dev] = "s-%s-%s" % (dev, os.urandom(6).hex())
                args += ["--secret", secrets[dev]]
            gw.otactl(*args, check=True)
        fw = gw.otactl_id("firmware", "add", img_path, "--product", "p",
                          "--version", "2.0.0")
        job = gw.otactl_id("job", "create", "--firmware", fw, "--devices",
                           ",".join(DTLS + PLAIN + HTTPS), "--force")
        for dev in DTLS + PLAIN + HTTPS:
            seen[dev] = device_flow(gw, pki, secrets, dev, img)
            checks.eq(seen[dev]["image"], sha(img),
                      "%s: %s downloads the image" % (what, dev))
        rows = otactl_items(gw, "job", "devices", job) or []
        seen["rows"] = sorted((r.get("device"), r.get("state"))
                              for r in rows)
        counts = otactl_json(gw, "job", "show", job).get("counts", {})
        seen["counts"] = counts
        checks.eq(counts.get("SUCCEEDED"), 12, what + ": 12 SUCCEEDED")

        if workers > 1:
            before = threads(gw.proc.pid)
            burst(gw, pki, secrets)
            after = threads(gw.proc.pid)
            used = sorted((after.get(t, 0) - before.get(t, 0)) / 1e6
                          for t in before)
            checks.check(len(used) == workers and used[0] >= 2.0,
                         what + ": every thread took devices in the burst"
                         " (ms on CPU: %s)" % ", ".join("%.1f" % u
                                                        for u in used))
            # SIGHUP: both workers switch to the new TLS context
            gw.proc.send_signal(signal.SIGHUP)
            checks.check(wait_log(gw, "configuration reloaded"),
                         what + ": reloaded")
            for i in range(6):
                r = https_post(gw, pki, HTTPS[0], secrets[HTTPS[0]], "check",
                               {"versions": {"default": "2.0.0"}})
                checks.eq(r.status, 204, what + ": HTTPS after SIGHUP #%d"
                          % i)
                r = coap_post(gw, DTLS[i % 4], "check",
                              {"versions": {"default": "2.0.0"}})
                checks.eq(r.code, "2.04", what + ": DTLS after SIGHUP #%d"
                          % i)
                r = coap_post(gw, PLAIN[i % 4], "check",
                              {"versions": {"default": "2.0.0"}})
                checks.eq(r.code, "2.04", what + ": CoAP after SIGHUP #%d"
                          % i)
        checks.eq(gw.stop(), 0, what + ": SIGTERM exits 0")
    shutil.rmtree(tmp, ignore_errors=True)
    return seen


def wait_log(gw, text, timeout=10.0):
    import time
    end = time.time() + timeout
    while time.time() < end:
        if text in gw.log():
            return True
        time.sleep(0.05)
    return False


def main():
    tmp = tempfile.mkdtemp(prefix="otagw-workers-pki-")
    try:
        pki = Pki(os.path.join(tmp, "pki"))
        img = os.urandom(20 * 1024 + 123)
        img_path = os.path.join(tmp, "img.bin")
        with open(img_path, "wb") as f:
            f.write(img)
        one = campaign(1, pki, img_path, img)
        two = campaign(2, pki, img_path, img)
        for key in sorted(one):
            checks.eq(two.get(key), one[key],
                      "workers 2 saw what workers 1 saw: %s" % key)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return checks.done()


if __name__ == "__main__":
    sys.exit(main())
