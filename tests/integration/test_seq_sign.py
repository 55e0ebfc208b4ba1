#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""test_seq_sign: anti-rollback (security seq) and author-signed images.

The real daemon with coaps, the admin API and the relay (nghttpx in front
of the recording upstream of upstream.py) on free ports; devices are
coap-client-openssl over DTLS; keys and signatures are made, and checked,
with the openssl command line, never with otagw's own code:

  - product author-key --set takes a P-256 public key (and refuses a file
    that is not one); with it set, firmware add without --signature, and
    with a signature that does not verify (another image's), is refused
    with a clear message and stores nothing (no record, no image file),
    by otactl and by the admin API (signature= base64url); good
    signatures are taken, by both, and firmware show carries seq and the
    signature;
  - seq defaults to one more than the module's highest; a lower --seq is
    refused;
  - a notice carries "seq" and "authorSig", and `openssl dgst -sha256
    -verify pub.pem -signature sig.der IMAGE` accepts that signature over
    the image downloaded block-wise over DTLS;
  - a device that took seq 3 (its job SUCCEEDED) makes a job of seq 2
    that would include it fail with 409 naming the device (otactl and the
    admin API), unless --allow-downgrade / "allowDowngrade":true; that
    job is shown as such, its notice says "downgrade":true and "seq":2,
    and the upstream receives its rows' state events with
    "downgrade":true (and those of the other jobs without it);
  - a job of seq 2 made while a device was on seq 1 never offers it once
    the device reports the version of seq 3: the row fails with reason
    "rollback" at that check, with no notice, and the upstream hears it.
"""

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile

from otagw_harness import (OTACTL, Checks, Gateway, Pki, curl_request,
                           free_port, otactl_json, wait_for)
from upstream import (NGHTTPX, OPENSSL, TOKEN, Backend, Proxy, make_cert,
                      upstream_conf)

checks = Checks()

for tool in ("curl", "openssl"):
    if shutil.which(tool) is None:
        print("%s not installed: skipping" % tool)
        sys.exit(77)
if NGHTTPX is None:
    print("nghttpx not installed: skipping")
    sys.exit(77)

tmp = tempfile.mkdtemp(prefix="otagw-seqsign-")
pki = Pki(os.path.join(tmp, "pki"))
token = os.urandom(24).hex()
token_path = os.path.join(tmp, "admin.token")
with open(token_path, "w") as f:
    f.write(token + "\n")
os.chmod(token_path, 0o600)
up_token = os.path.join(tmp, "upstream.token")
with open(up_token, "w") as f:
    f.write(TOKEN + "\n")
admin_port = free_port(socket.SOCK_STREAM)
base = "https://127.0.0.1:%d" % admin_port


def ossl(*args):
    return subprocess.run([OPENSSL] + list(args), capture_output=True,
                          timeout=60)


def path(name):
    return os.path.join(tmp, name)


def psk_of(dev):
    return "key-%s-0123456789" % dev


class Dev:
    """A device over coaps with its own PSK (coap-client-openssl)."""

    def __init__(self, gw, name):
        self.gw = gw
        self.name = name

    def post(self, what, body):
        return self.gw.coap("post", "/ota/%s/%s" % (self.name, what),
                            payload=json.dumps(body),
                            dtls=(self.name, psk_of(self.name)),
                            content_format=50)

    def check(self, version):
        return self.post("check", {"versions": {"default": version}})

    def progress(self, job, step, version=None):
        body = {"job": job, "step": step}
        if version is not None:
            body["version"] = version
        r = self.post("progress", body)
        checks.eq(r.code, "2.04", "%s: progress %d" % (self.name, step))

    def notice(self, version, job, what):
        got = {}

        def offered():
            r = self.check(version)
            if r.code != "2.05":
                return False
            try:
                got.clear()
                got.update(json.loads(r.data))
            except ValueError:
                return False
            return got.get("job") == job
        wait_for(offered, 15, "%s: the notice of %s" % (what, job))
        return got

    def download(self, fwid, out):
        r = self.gw.coap("get", "/fw/" + fwid, dtls=(self.name,
                                                      psk_of(self.name)),
                         block=1024, out=out, timeout=30)
        return r


def api(method, p, data=None, ctype=None):
    hdr = ["Authorization: Bearer " + token]
    if ctype:
        hdr.append("Content-Type: " + ctype)
    r = curl_request(base + p, method, headers=hdr, data=data,
                     cacert=pki.ca[0], tmpdir=tmp)
    try:
        return r.status, json.loads(r.body or b"null")
    except ValueError:
        return r.status, r.body


def otactl_url(*args):
    return subprocess.run([OTACTL, "--url", base, "--token-file",
                           token_path, "--ca", pki.ca[0]] +
                          [str(a) for a in args], capture_output=True,
                          text=True, timeout=120)


def fw_ids(gw):
    return [f["id"] for f in otactl_json(gw, "firmware", "list")["items"]]


def images(gw):
    d = os.path.join(gw.state, "images")
    return sorted(n for n in os.listdir(d) if not n.startswith("."))


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def make_keys_and_images():
    """The author's key pair, another key, four images and signatures."""
    ossl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out",
         path("author.pem"))
    ossl("ec", "-in", path("author.pem"), "-pubout", "-out",
         path("author.pub"))
    ossl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out",
         path("other.pem"))
    for v in ("1", "2", "3", "4"):
        with open(path("img%s" % v), "wb") as f:
            f.write(os.urandom(3000 + 1000 * int(v)))
        p = ossl("dgst", "-sha256", "-sign", path("author.pem"), "-out",
                 path("img%s.sig" % v), path("img%s" % v))
        checks.eq(p.returncode, 0, "openssl signs image %s" % v)
    ossl("dgst", "-sha256", "-sign", path("other.pem"), "-out",
         path("img2.othersig"), path("img2"))


def test_author_key(gw):
    # a file that is not a P-256 public key is refused
    with open(path("junk.pem"), "w") as f:
        f.write("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    p = gw.otactl("product", "author-key", "lamp", "--set",
                  path("junk.pem"))
    checks.check(p.returncode != 0 and "P-256" in p.stderr,
                 "a junk author key is refused (%r)" % p.stderr)
    # the private key beside the public one (cat key.pem key.pub): refused,
    # never stored to be shown back
    with open(path("author.pem")) as f, open(path("author.pub")) as g:
        both = f.read() + g.read()
    with open(path("both.pem"), "w") as f:
        f.write(both)
    for run in (gw.otactl, otactl_url):
        p = run("product", "author-key", "lamp", "--set", path("both.pem"))
        checks.check(p.returncode != 0 and "private key" in p.stderr,
                     "a file holding the private key is refused (%r)" %
                     p.stderr)
    p = gw.otactl("--json", "product", "author-key", "lamp")
    checks.eq(json.loads(p.stdout or "{}").get("authorKey", "x"), None,
              "no author key yet")
    # image 1 goes in before the key: no signature needed, seq 1
    fw1 = gw.otactl_id("firmware", "add", path("img1"), "--product",
                       "lamp", "--version", "1.0")
    p = gw.otactl("product", "author-key", "lamp", "--set",
                  path("author.pub"))
    checks.eq(p.returncode, 0, "author key set")
    st, body = api("GET", "/api/v1/products/lamp/author-key")
    with open(path("author.pub")) as f:
        pub = f.read()
    checks.check(st == 200 and body["authorKey"] == pub,
                 "the admin API shows the author key (%r)" % st)
    for args in (("product", "author-key", "lamp"),
                 ("--json", "product", "author-key", "lamp")):
        a, b = gw.otactl(*args), otactl_url(*args)
        checks.check(a.returncode == 0 and a.stdout == b.stdout and
                     pub in a.stdout.replace("\\n", "\n"),
                     "otactl %s: --url prints what --state prints" %
                     " ".join(args))
    # over the admin API: a junk key refused, the same key set again
    p = otactl_url("product", "author-key", "lamp", "--set",
                   path("junk.pem"))
    checks.check(p.returncode != 0 and "P-256" in p.stderr,
                 "otactl --url: a junk key is refused (%r)" % p.stderr)
    p = otactl_url("product", "author-key", "lamp", "--set",
                   path("author.pub"))
    checks.eq(p.returncode, 0, "otactl --url: the key set again")

    # refused: no signature, a signature of another image, another key
    before = (fw_ids(gw), images(gw))
    p = gw.otactl("firmware", "add", path("img2"), "--product", "lamp",
                  "--version", "2.0")
    checks.check(p.returncode != 0 and "signature" in p.stderr,
                 "no --signature: refused (%r)" % p.stderr)
    p = gw.otactl("firmware", "add", path("img2"), "--product", "lamp",
                  "--version", "2.0", "--signature", path("img1.sig"))
    checks.check(p.returncode != 0 and "does not verify" in p.stderr,
                 "another image's signature: refused (%r)" % p.stderr)
    p = gw.otactl("firmware", "add", path("img2"), "--product", "lamp",
                  "--version", "2.0", "--signature", path("img2.othersig"))
    checks.check(p.returncode != 0 and "does not verify" in p.stderr,
                 "another key's signature: refused (%r)" % p.stderr)
    with open(path("img2"), "rb") as f:
        img2 = f.read()
    with open(path("img1.sig"), "rb") as f:
        bad = f.read()
    st, body = api("POST", "/api/v1/firmware?product=lamp&version=2.0&"
                   "signature=" + b64url(bad), img2,
                   "application/octet-stream")
    checks.check(st == 422 and "does not verify" in
                 (body or {}).get("message", ""),
                 "admin API: a bad signature is 422 (%r %r)" % (st, body))
    st, body = api("POST", "/api/v1/firmware?product=lamp&version=2.0",
                   img2, "application/octet-stream")
    checks.eq(st, 400, "admin API: no signature is 400")
    checks.eq((fw_ids(gw), images(gw)), before,
              "nothing stored by the refused images")

    # taken: by the admin API (signature= base64url), then by otactl
    with open(path("img2.sig"), "rb") as f:
        good2 = f.read()
    st, body = api("POST", "/api/v1/firmware?product=lamp&version=2.0&"
                   "signature=" + b64url(good2), img2,
                   "application/octet-stream")
    checks.eq(st, 201, "admin API: a good signature is taken")
    fw2 = (body or {}).get("id")
    checks.eq((body or {}).get("seq"), 2, "fw 2: seq 2 by default")
    checks.eq((body or {}).get("authorSig"),
              base64.b64encode(good2).decode(), "fw 2: its signature kept")
    p = gw.otactl("firmware", "add", path("img3"), "--product", "lamp",
                  "--version", "3.0", "--signature", path("img3.sig"))
    checks.check(p.returncode == 0 and "seq 3" in p.stdout,
                 "otactl: image 3 taken, seq 3 (%r)" % p.stdout)
    fw3 = p.stdout.strip().splitlines()[-1]
    # seq never goes back in a module; equal is fine
    p = gw.otactl("firmware", "add", path("img4"), "--product", "lamp",
                  "--version", "2.5", "--seq", "2", "--signature",
                  path("img4.sig"))
    checks.check(p.returncode != 0 and "never goes back" in p.stderr,
                 "--seq below the highest: refused (%r)" % p.stderr)
    fw = otactl_json(gw, "firmware", "show", fw3)
    checks.eq((fw["seq"], base64.b64decode(fw["authorSig"])),
              (3, open(path("img3.sig"), "rb").read()),
              "firmware show: seq and signature")
    p = otactl_url("firmware", "show", fw3)
    checks.check("seq" in p.stdout and "author signature" in p.stdout,
                 "otactl --url firmware show: seq and signature")
    return fw1, fw2, fw3


def test_signed_notice(gw, fw3):
    """d2 upgrades to seq 3; its notice's signature verifies."""
    d2 = Dev(gw, "d2")
    jc = gw.otactl_id("job", "create", "--firmware", fw3, "--force",
                      "--devices", "d2")
    n = d2.notice("1.0", jc, "d2")
    checks.eq(n.get("seq"), 3, "notice: seq 3")
    checks.check("downgrade" not in n, "notice: no downgrade member")
    out = path("d2.img")
    r = d2.download(fw3, out)
    with open(out, "rb") as f, open(path("img3"), "rb") as g:
        checks.check(f.read() == g.read(),
                     "d2 downloaded image 3 block-wise (%s)" % r.code)
    with open(path("notice.sig"), "wb") as f:
        f.write(base64.b64decode(n.get("authorSig", "")))
    p = ossl("dgst", "-sha256", "-verify", path("author.pub"),
             "-signature", path("notice.sig"), out)
    checks.check(p.returncode == 0 and b"Verified OK" in p.stdout,
                 "openssl verifies the notice's authorSig over the "
                 "download (%r)" % p.stdout)
    with open(path("notice.sig"), "wb") as f:
        f.write(base64.b64decode(n.get("authorSig", "")))
    p = ossl("dgst", "-sha256", "-verify", path("author.pub"),
             "-signature", path("notice.sig"), path("img2"))
    checks.check(p.returncode != 0, "and not over another image")
    d2.progress(jc, 50)
    d2.progress(jc, 100, "3.0")
    rows = otactl_json(gw, "job", "devices", jc)["items"]
    checks.eq([r["state"] for r in rows], ["SUCCEEDED"], "d2 succeeded")
    dev = otactl_json(gw, "device", "show", "d2")
    checks.eq(dev.get("seqs"), {"default": 3}, "d2 accepted seq 3")
    return jc


def test_downgrade(gw, fw2):
    d2 = Dev(gw, "d2")
    p = gw.otactl("job", "create", "--firmware", fw2, "--force",
                  "--devices", "d2")
    checks.check(p.returncode != 0 and "device d2" in p.stderr and
                 "roll it back" in p.stderr,
                 "a job of seq 2 for d2 is refused, naming d2 (%r)" %
                 p.stderr)
    p = gw.otactl("job", "create", "--firmware", fw2, "--force", "--all")
    checks.check(p.returncode != 0 and "device d2" in p.stderr,
                 "--all too (%r)" % p.stderr)
    st, body = api("POST", "/api/v1/jobs", json.dumps(
        {"firmware": fw2, "force": True, "scope": "devices",
         "devices": ["d2"]}).encode(), "application/json")
    checks.check(st == 409 and "d2" in (body or {}).get("message", ""),
                 "admin API: 409 naming d2 (%r %r)" % (st, body))
    checks.eq(len(otactl_json(gw, "job", "list")["items"]), 1,
              "no job was made")
    jd = gw.otactl_id("job", "create", "--firmware", fw2, "--force",
                      "--devices", "d2", "--allow-downgrade")
    job = otactl_json(gw, "job", "show", jd)
    checks.eq((job.get("allowDowngrade"), job.get("seq")), (True, 2),
              "job show: allowDowngrade, seq 2")
    p = gw.otactl("job", "show", jd)
    checks.check("downgrade allowed" in p.stdout, "job show text says so")
    n = d2.notice("3.0", jd, "d2 downgrade")
    checks.eq((n.get("seq"), n.get("downgrade")), (2, True),
              "the downgrade notice: seq 2, downgrade true")
    d2.progress(jd, 100, "2.0")
    dev = otactl_json(gw, "device", "show", "d2")
    checks.eq(dev.get("seqs"), {"default": 2},
              "d2's accepted seq follows the downgrade it took")
    return jd


def test_rollback_row(gw, fw2, fw3):
    """d1's job of seq 2 was made before d1 took seq 3."""
    d1 = Dev(gw, "d1")
    ja = gw.otactl_id("job", "create", "--firmware", fw2, "--force",
                      "--devices", "d1")
    r = d1.check("3.0")
    checks.check(r.code in ("2.04", "2.05") and b"\"job\"" not in r.data,
                 "d1 on 3.0 gets no notice of seq 2 (%s %r)" %
                 (r.code, r.data[:80]))
    rows = otactl_json(gw, "job", "devices", ja)["items"]
    checks.eq([(x["state"], x["reason"]) for x in rows],
              [("FAILED", "rollback")], "the row failed: rollback")
    dev = otactl_json(gw, "device", "show", "d1")
    checks.eq(dev.get("seqs"), {"default": 3},
              "d1's version report counts: seq 3")
    r = d1.check("3.0")
    checks.check(b"\"job\"" not in r.data, "and again no notice")
    return ja


def test_upstream(be, jc, jd, ja):
    def seen():
        evs = be.taken()
        return any(e.get("job") == ja and e.get("reason") == "rollback"
                   for e in evs) and any(e.get("job") == jd and
                                         e.get("state") == "SUCCEEDED"
                                         for e in evs)
    wait_for(seen, 20, "the upstream to receive the events")
    evs = [e for e in be.taken() if e.get("type") == "state"]
    djd = [e for e in evs if e.get("job") == jd]
    checks.check(len(djd) >= 2 and all(e.get("downgrade") is True
                                       for e in djd),
                 "every state event of the downgrade job says downgrade "
                 "(%d)" % len(djd))
    checks.check(all("downgrade" not in e for e in evs
                     if e.get("job") in (jc, ja)),
                 "the other jobs' events do not")
    fail = [e for e in evs if e.get("job") == ja and
            e.get("state") == "FAILED"]
    checks.check(len(fail) == 1 and fail[0].get("reason") == "rollback",
                 "the upstream hears the rollback failure")


def main():
    make_keys_and_images()
    be = Backend(b"unused")
    key, crt = make_cert(tmp, "up", "localhost")
    proxy = Proxy(tmp, be.port, key, crt).start()
    settings = {"admin_listen": "127.0.0.1:%d" % admin_port,
                "admin_token_file": token_path,
                "tls_cert": pki.server[0], "tls_key": pki.server[1],
                "log_level": "info"}
    settings.update(upstream_conf(proxy, crt, up_token))
    os.makedirs(os.path.join(tmp, "gw"))
    try:
        with Gateway(coap=False, coaps=True, extra=settings,
                     tmp=os.path.join(tmp, "gw")) as gw:
            for name in ("d1", "d2"):
                gw.otactl("device", "put", name, "--product", "lamp",
                          "--psk", psk_of(name).encode().hex(),
                          "--version", "1.0", check=True)
            fw1, fw2, fw3 = test_author_key(gw)
            jc = test_signed_notice(gw, fw3)
            jd = test_downgrade(gw, fw2)
            ja = test_rollback_row(gw, fw2, fw3)
            test_upstream(be, jc, jd, ja)
            checks.check(gw.alive(), "daemon still running")
    finally:
        proxy.stop()
        be.close()
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
    checks.done()
