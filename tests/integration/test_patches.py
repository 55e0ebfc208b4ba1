# SPDX-License-Identifier: BSD-2-Clause
"""test_patches: patches (delta packages) uploaded by the operator
(issue 15, item 4).

A patch made by Debian's `bsdiff` from firmware 1.0.0 to 2.0.0 is stored
with `otactl firmware add PATCH --delta-from FW --format bsdiff4`; then

- bad uploads are refused and store nothing: an unknown or bad format, a
  result declared with another SHA-256 or size, a patch to the same
  version or another product, a second patch for the same pair, a patch
  as large as the image;
- a DTLS device on 1.0.0 gets a notice with a "delta" member beside the
  full image, downloads the patch block-wise over coaps, and Debian's
  `bspatch` turns its 1.0.0 image into 2.0.0's, digest for digest;
- an HTTPS device does the same with curl, in two ranges over the
  notice's url;
- a device that reports a failure on the patch gets the full image alone
  at its next check, without using one of the job's retries;
- a device without a notice for the patch may not download it (4.03);
- `job show` counts the devices upgraded by a patch and the bytes saved,
  the same over the admin API (otactl --url) as over --state;
- a firmware a patch uses cannot be removed before the patch;
- a patch that does not apply is refused and takes no id;
- the check of a patch with a 64 MiB result runs off the admin API's
  loop: /healthz is answered meanwhile.
"""

import base64
import hashlib
import http.client
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time

from otagw_harness import (OTACTL, AdminApi, Checks, Pki, curl_request,
                           https_gateway, otactl_json)

checks = Checks()

for tool in ("curl", "coap-client-openssl", "bsdiff", "bspatch"):
    if shutil.which(tool) is None:
        print("%s not installed: skipping" % tool)
        sys.exit(77)


def sha(b):
    return hashlib.sha256(b).hexdigest()


def psk_of(dev):
    return "key-%s-0123456789" % dev


def make_images(tmp):
    """Two builds: 2.0.0 is 1.0.0 with a few edits and an insertion."""
    rnd = os.urandom(300000)
    old = bytearray(rnd)
    new = bytearray(rnd)
    for off in (1000, 50000, 120000, 250000):
        new[off:off + 64] = os.urandom(64)
    new[200000:200000] = os.urandom(3000)
    paths = []
    for name, data in (("old.bin", old), ("new.bin", new)):
        p = os.path.join(tmp, name)
        with open(p, "wb") as f:
            f.write(data)
        paths.append(p)
    patch = os.path.join(tmp, "patch.bsdiff")
    subprocess.run(["bsdiff", paths[0], paths[1], patch], check=True)
    return bytes(old), bytes(new), paths[0], paths[1], patch


def bspatch(tmp, old_path, patch_bytes, name):
    pp = os.path.join(tmp, name + ".patch")
    out = os.path.join(tmp, name + ".out")
    with open(pp, "wb") as f:
        f.write(patch_bytes)
    p = subprocess.run(["bspatch", old_path, out, pp], capture_output=True)
    if p.returncode != 0:
        return None
    with open(out, "rb") as f:
        return f.read()


def main():
    tmp = tempfile.mkdtemp(prefix="otagw-patches-")
    pki = Pki(os.path.join(tmp, "pki"))
    api = AdminApi(tmp, pki.ca[0])
    gw = https_gateway(pki, coaps=True, tmp=tmp, extra=api.settings())
    old, new, old_path, new_path, patch_path = make_images(tmp)
    with open(patch_path, "rb") as f:
        patch = f.read()

    ctl_url = api.otactl

    def https_check(dev, body=None):
        r = curl_request(
            "%s/ota/%s/check" % (gw.https_url, dev), "POST", "1.1",
            ["Authorization: Bearer s-" + dev,
             "Content-Type: application/json"],
            json.dumps(body or {"version": "1.0.0"}).encode(),
            pki.ca[0], tmpdir=tmp)
        return r.status, (json.loads(r.body) if r.body else {})

    def coaps(dev, method, path, body=None, **kw):
        return gw.coap(method, path, payload=body, dtls=(dev,
                       psk_of(dev)), content_format=50 if body else None,
                       **kw)

    def progress(dev, job, step, version=None):
        b = {"job": job, "step": step}
        if version:
            b["version"] = version
        return coaps(dev, "post", "/ota/%s/progress" % dev, json.dumps(b))

    with gw:
        for dev in ("d1", "d2", "d3", "d4", "d5"):
            gw.otactl("device", "put", dev, "--product", "p", "--secret",
                      "s-" + dev, "--psk", psk_of(dev).encode().hex(),
                      "--version", "1.0.0", check=True)
        fw1 = gw.otactl_id("firmware", "add", old_path, "--product", "p",
                           "--version", "1.0.0")
        fw2 = gw.otactl_id("firmware", "add", new_path, "--product", "p",
                           "--version", "2.0.0")
        fwq = gw.otactl_id("firmware", "add", new_path, "--product", "q",
                           "--version", "2.0.0")
        big = os.path.join(tmp, "big.patch")
        with open(big, "wb") as f:
            f.write(os.urandom(len(new)))

        # refused, and nothing stored
        for what, args in (
                ("a bad format", ["--from", fw1, "--to", fw2, "--format",
                                  "bs diff"]),
                ("a wrong declared SHA-256", ["--from", fw1, "--to", fw2,
                                              "--format", "bsdiff4",
                                              "--to-sha256", "00" * 32]),
                ("a wrong declared size", ["--from", fw1, "--to", fw2,
                                           "--format", "bsdiff4",
                                           "--to-size", "5"]),
                ("the same firmware", ["--from", fw2, "--to", fw2,
                                       "--format", "bsdiff4"]),
                ("another product", ["--from", fw1, "--to", fwq,
                                     "--format", "bsdiff4"]),
                ("an unknown firmware", ["--from", "fw-99", "--to", fw2,
                                         "--format", "bsdiff4"])):
            o = gw.otactl("patch", "add", patch_path, *args)
            checks.check(o.returncode == 1 and o.stderr.startswith(
                "otactl: "), "patch add with %s: refused (%s)" %
                (what, o.stderr.strip()))
        o = gw.otactl("patch", "add", big, "--from", fw1, "--to", fw2,
                      "--format", "bsdiff4")
        checks.check(o.returncode == 1 and "not smaller" in o.stderr,
                     "a patch as large as the image: refused (%s)" %
                     o.stderr.strip())
        bad = bytearray(patch)
        bad[len(bad) // 2] ^= 0xFF
        bad_path = os.path.join(tmp, "bad.patch")
        with open(bad_path, "wb") as f:
            f.write(bytes(bad))
        for run, how in ((gw.otactl, "--state"), (ctl_url, "--url")):
            o = run("patch", "add", bad_path, "--from", fw1, "--to", fw2,
                    "--format", "bsdiff4")
            checks.check(o.returncode == 1 and "does not make" in o.stderr,
                         "a patch that does not apply: refused, %s (%s)" %
                         (how, o.stderr.strip()))
        checks.eq(otactl_json(gw, "patch", "list"),
                  {"items": [], "next": None},
                  "nothing stored by the refused uploads")
        checks.eq(sorted(os.listdir(os.path.join(gw.state, "images"))),
                  sorted([fw1, fw2, fwq]), "no patch file left behind")

        # the form: firmware add --delta-from
        o = gw.otactl("firmware", "add", patch_path, "--delta-from", fw1,
                      "--format", "bsdiff4", "--version", "2.0.0")
        checks.eq(o.returncode, 0, "firmware add --delta-from (%s)" %
                  o.stderr)
        pid = o.stdout.strip().splitlines()[-1]
        checks.eq(pid, "dp-1", "the first patch stored is dp-1: the "
                  "refused ones took no id")
        p = otactl_json(gw, "patch", "show", pid)
        checks.check(p.get("from") == fw1 and p.get("to") == fw2 and
                     p.get("size") == len(patch) and
                     p.get("sha256") == sha(patch) and
                     p.get("toSha256") == sha(new) and
                     p.get("toSize") == len(new) and
                     p.get("format") == "bsdiff4",
                     "patch show: from, to, size, digests, format")
        a = ctl_url("--json", "patch", "show", pid)
        checks.check(a.returncode == 0 and json.loads(a.stdout) == p,
                     "patch show: --url == --state (%s)" % a.stderr)
        for f in (fw1, fw2):
            o = gw.otactl("firmware", "rm", f)
            checks.check(o.returncode == 1 and "firmware %s has patch %s; "
                         "remove it first" % (f, pid) in o.stderr,
                         "firmware rm %s: refused, names the patch (%s)" %
                         (f, o.stderr.strip()))
        o = ctl_url("patch", "add", patch_path, "--from", fw1,
                    "--to", fw2, "--format", "bsdiff4")
        checks.check(o.returncode == 1 and "already" in o.stderr,
                     "a second patch for the pair: refused over the API "
                     "(%s)" % o.stderr.strip())
        o = gw.otactl("firmware", "rm", fw1)
        checks.check(o.returncode == 1 and pid in o.stderr,
                     "firmware rm of a patch's source: refused (%s)" %
                     o.stderr.strip())

        job = gw.otactl_id("job", "create", "--firmware", fw2, "--force",
                           "--devices", "d1,d2,d3,d5")

        # DTLS: the notice offers the patch; block-wise; bspatch
        r = coaps("d1", "post", "/ota/d1/check", '{"version":"1.0.0"}')
        n = json.loads(r.data or b"{}")
        d = n.get("delta", {})
        checks.check(r.code == "2.05" and n.get("firmware") == fw2 and
                     d.get("firmware") == pid and
                     d.get("format") == "bsdiff4" and
                     d.get("from") == "1.0.0" and
                     d.get("size") == len(patch) and
                     d.get("sha256") == sha(patch) and
                     d.get("path") == "/fw/" + pid and
                     d.get("url", "").startswith("coaps://") and
                     n.get("size") == len(new) and
                     n.get("sign") == sha(new),
                     "coaps notice: the full image and a delta member "
                     "(%s)" % n)
        out = os.path.join(tmp, "d1.patch")
        r = coaps("d1", "get", "/fw/" + pid, block=256, out=out)
        with open(out, "rb") as f:
            got = f.read()
        checks.eq((r.code, sha(got)), ("2.05", sha(patch)),
                  "coaps: the patch downloads block-wise")
        res = bspatch(tmp, old_path, got, "d1")
        checks.check(res is not None and sha(res) == sha(new),
                     "bspatch turns 1.0.0 into 2.0.0 with it")
        progress("d1", job, 100, "2.0.0")

        # HTTPS: two ranges over the notice's url
        status, n = https_check("d2")
        url = n.get("delta", {}).get("url", "")
        checks.check(status == 200 and url.startswith(
            "%s/fw/%s?" % (gw.https_url, pid)) and "sig=" in url,
            "https notice: the patch's url with its credential (%s)" % url)
        half = len(patch) // 2
        r1 = curl_request(url, "GET", "2", ["Range: bytes=0-%d" %
                                            (half - 1)], None, pki.ca[0],
                          tmpdir=tmp)
        r2 = curl_request(url, "GET", "1.1", ["Range: bytes=%d-" % half],
                          None, pki.ca[0], tmpdir=tmp)
        got = r1.body + r2.body
        checks.check(r1.status == 206 and r2.status == 206 and
                     sha(got) == sha(patch) and
                     r1.h("etag") == '"%s"' % sha(patch),
                     "https: the patch in two ranges, ETag its SHA-256")
        res = bspatch(tmp, old_path, got, "d2")
        checks.check(res is not None and sha(res) == sha(new),
                     "bspatch restores 2.0.0 from the ranges")
        r = curl_request("%s/ota/d2/progress" % gw.https_url, "POST", "1.1",
                         ["Authorization: Bearer s-d2",
                          "Content-Type: application/json"],
                         json.dumps({"job": job, "step": 100,
                                     "version": "2.0.0"}).encode(),
                         pki.ca[0], tmpdir=tmp)
        checks.eq(r.status, 204, "d2 reports success")

        # fallback: a failure on the patch, then the full image
        r = coaps("d3", "post", "/ota/d3/check", '{"version":"1.0.0"}')
        checks.eq(json.loads(r.data or b"{}").get("delta", {}).get(
            "firmware"), pid, "d3 is offered the patch")
        progress("d3", job, 10)
        r = progress("d3", job, -3)
        checks.eq(r.code, "2.04", "d3 reports a verification failure")
        r = coaps("d3", "post", "/ota/d3/check", '{"version":"1.0.0"}')
        n = json.loads(r.data or b"{}")
        checks.check(r.code == "2.05" and n.get("firmware") == fw2 and
                     "delta" not in n,
                     "after a failed patch: the full image alone (%s)" % n)
        rows = {x["device"]: x for x in otactl_json(
            gw, "job", "devices", job)["items"]}
        checks.check(rows["d3"]["state"] == "NOTIFIED" and
                     rows["d3"]["retries"] == 0,
                     "the fallback is not one of the job's retries (%s)" %
                     rows["d3"])
        r = coaps("d3", "get", "/fw/" + fw2, block=1024,
                  out=os.path.join(tmp, "d3.bin"))
        with open(os.path.join(tmp, "d3.bin"), "rb") as f:
            checks.eq(sha(f.read()), sha(new), "d3 downloads the image")
        progress("d3", job, 100, "2.0.0")
        h = otactl_json(gw, "device", "history", "d3")
        states = [x.get("state") for x in h.get("items", h) if
                  isinstance(x, dict)]
        checks.check(states.count("FAILED") == 1 and
                     states.count("SUCCEEDED") == 1,
                     "d3's history: the failed patch, then success (%s)" %
                     states)

        # not offered: no download
        r = coaps("d4", "get", "/fw/" + pid, block=1024)
        checks.eq(r.code, "4.03", "a device without the notice: 4.03")

        # signed, with a patch and a nonce: still one CoAP block
        o = gw.otactl("key", "create")
        checks.eq(o.returncode, 0, "a signing key")
        r = coaps("d5", "post", "/ota/d5/check",
                  '{"version":"1.0.0","nonce":"5f2a9c01e4b7d6a8"}')
        try:
            j = json.loads(r.data)
            pl = json.loads(base64.urlsafe_b64decode(
                j["payload"] + "=" * (-len(j["payload"]) % 4)))
        except (ValueError, KeyError):
            pl = {}
        checks.check(r.code == "2.05" and
                     pl.get("delta", {}).get("firmware") == pid and
                     pl.get("nonce") == "5f2a9c01e4b7d6a8" and
                     len(r.data) <= 1024,
                     "a signed notice with a patch and a nonce: %d bytes, "
                     "one block" % len(r.data))
        gw.otactl("key", "delete", "--force",
                  json.loads(gw.otactl("--json", "key", "list").stdout)[
                      "keys"][0]["kid"])

        # statistics
        j = otactl_json(gw, "job", "show", job)
        checks.eq(j.get("patches"), {"devices": 2, "bytesSaved":
                                     2 * (len(new) - len(patch))},
                  "job show: 2 devices by patch and the bytes saved")
        a = ctl_url("--json", "job", "show", job)
        checks.check(a.returncode == 0 and
                     json.loads(a.stdout).get("patches") ==
                     j.get("patches"), "job show over the API: the same")
        o = gw.otactl("job", "show", job)
        checks.check("2 devices upgraded by a patch" in o.stdout,
                     "job show prints the patches (%s)" % o.stdout)

        # removal
        o = gw.otactl("patch", "list")
        checks.check(o.stdout.startswith("ID ") and pid in o.stdout,
                     "patch list: a table with its header (%s)" % o.stdout)
        o = ctl_url("patch", "rm", pid)
        checks.eq((o.returncode, o.stdout), (0, "patch %s removed\n" % pid),
                  "patch rm says so")
        checks.eq(otactl_json(gw, "patch", "list"),
                  {"items": [], "next": None}, "no patch left")
        checks.check(not os.path.exists(os.path.join(gw.state, "images",
                                                     pid)),
                     "its file is gone")
        slow_check(gw, api, tmp)
    checks.done()


def slow_check(gw, api, tmp):
    """A patch whose check takes a while (a 64 MiB result) does not hold
    the admin API's loop: a /healthz asked once the upload's body is all
    sent is answered before the upload is."""
    zold = os.path.join(tmp, "z.old")
    znew = os.path.join(tmp, "z.new")
    zpatch = os.path.join(tmp, "z.patch")
    with open(zold, "wb") as f:
        f.write(b"\0" * 4096)
    with open(znew, "wb") as f:
        f.write(b"\1" * (64 << 20))
    subprocess.run([OTACTL, "delta", "make", zold, znew, zpatch, "--block",
                    "1"], check=True, capture_output=True)
    f1 = gw.otactl_id("firmware", "add", zold, "--product", "z",
                      "--version", "1.0")
    f2 = gw.otactl_id("firmware", "add", znew, "--product", "z",
                      "--version", "2.0")
    with open(zpatch, "rb") as f:
        body = f.read()
    ctx = ssl.create_default_context(cafile=api.ca)
    sent = threading.Event()
    got = {}

    def upload():
        c = http.client.HTTPSConnection("127.0.0.1", api.port, context=ctx,
                                        timeout=120)
        c.putrequest("POST", "/api/v1/patches?from=%s&to=%s&format=bsdiff4"
                     % (f1, f2))
        c.putheader("Authorization", "Bearer " + api.token)
        c.putheader("Content-Type", "application/octet-stream")
        c.putheader("Content-Length", str(len(body)))
        c.endheaders()
        c.send(body)
        sent.set()
        r = c.getresponse()
        got["patch"] = (r.status, time.monotonic())
        r.read()
        c.close()

    t = threading.Thread(target=upload)
    t.start()
    sent.wait(60)
    c = http.client.HTTPSConnection("127.0.0.1", api.port, context=ctx,
                                    timeout=60)
    c.request("GET", "/healthz")
    r = c.getresponse()
    r.read()
    got["healthz"] = (r.status, time.monotonic())
    c.close()
    t.join(120)
    checks.eq(got.get("patch", (0,))[0], 201, "the 64 MiB patch is stored")
    checks.check(got.get("healthz", (0, 1e9))[1] <
                 got.get("patch", (0, 0))[1],
                 "/healthz answered while the patch was being checked "
                 "(%s)" % got)


main()
