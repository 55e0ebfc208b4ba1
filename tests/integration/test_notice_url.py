# SPDX-License-Identifier: BSD-2-Clause
"""test_notice_url: the url of a notice works as given (issue 13, item 3).

A gateway that listens on every address, with no *_public_url:

- the url of a CoAP and a DTLS notice names the address and port the
  device's datagrams reached (127.0.0.1, and ::1 when the host has IPv6);
- the url of an HTTPS notice names the Host the device asked for (and
  never a Host that is not a host name), and carries its own credential:
  curl and wget download it with nothing else, whole and in ranges;
- that credential fails (403, nothing else said) when any part of the url
  is altered, when it has expired, when the row is canceled, and after
  `otactl url-key rotate --drop-previous`; a plain rotation keeps it;
- a configured https_public_url wins over the Host.
"""

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

from otagw_harness import (Checks, Gateway, Pki, curl_request, free_port,
                           wait_for)

checks = Checks()

for tool in ("curl", "wget", "coap-client-openssl"):
    if shutil.which(tool) is None:
        print("%s not installed: skipping" % tool)
        sys.exit(77)


def sha(b):
    return hashlib.sha256(b).hexdigest()


def has_ipv6():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


class Net:
    def __init__(self, gw, pki):
        self.gw, self.pki = gw, pki

    def check(self, dev, secret, host=None, headers=()):
        url = "https://%s:%d/ota/%s/check" % (host or "127.0.0.1",
                                              self.gw.https_port, dev)
        extra = []
        if host and host != "127.0.0.1":
            extra = ["--resolve", "%s:%d:127.0.0.1" % (host,
                                                        self.gw.https_port)]
        r = curl_request(url, "POST", "1.1",
                         ["Authorization: Bearer " + secret,
                          "Content-Type: application/json"] + list(headers),
                         b'{"version":"1.0.0"}', self.pki.ca[0],
                         extra=extra, tmpdir=self.gw.tmp)
        try:
            return r.status, json.loads(r.body)
        except ValueError:
            return r.status, {}

    def get(self, url, http="2", headers=(), extra=()):
        host = url.split("/")[2].rsplit(":", 1)[0]
        if host not in ("127.0.0.1", "[::1]"):
            extra = list(extra) + ["--resolve", "%s:%d:127.0.0.1" % (
                host, self.gw.https_port)]
        return curl_request(url, "GET", http, list(headers), None,
                            self.pki.ca[0], extra=extra, tmpdir=self.gw.tmp)


def alter(url, what, value):
    """url with one query member replaced."""
    base, _, q = url.partition("?")
    parts = []
    for kv in q.split("&"):
        k, _, v = kv.partition("=")
        parts.append("%s=%s" % (k, value if k == what else v))
    return base + "?" + "&".join(parts)


def test_https(gw, net, img, fw, job):
    status, n = net.check("d1", "s-d1")
    checks.eq(status, 200, "https check: 200")
    url = n.get("url", "")
    prefix = "https://127.0.0.1:%d/fw/%s?device=d1&expires=" % (
        gw.https_port, fw)
    checks.check(url.startswith(prefix) and "&sig=" in url,
                 "https url: the address asked for, with a credential "
                 "(%s)" % url)
    exp = int(url.split("expires=")[1].split("&")[0])
    checks.check(abs(exp - (time.time() + 3600)) < 30,
                 "https url: expires after download_url_ttl (1h)")

    # the url alone: curl (HTTP/2 and HTTP/1.1), ranges, wget
    r = net.get(url)
    checks.eq((r.status, sha(r.body)), (200, sha(img)),
              "curl --http2 with the url alone: the image")
    r = net.get(url, "1.1", ["Range: bytes=1000-1999"])
    checks.eq((r.status, r.body), (206, img[1000:2000]),
              "curl --http1.1 with a range: 206 and those bytes")
    out = os.path.join(gw.tmp, "wget.bin")
    p = subprocess.run(["wget", "-q", "--ca-certificate", net.pki.ca[0],
                        "-O", out, url], capture_output=True, timeout=60)
    checks.eq(p.returncode, 0, "wget with the url alone: exit 0 (%s)" %
              p.stderr[-200:])
    with open(out, "rb") as f:
        checks.eq(sha(f.read()), sha(img), "wget: the image")
    # wget -c: resume from a partial file
    with open(out, "wb") as f:
        f.write(img[:50000])
    p = subprocess.run(["wget", "-q", "-c", "--ca-certificate",
                        net.pki.ca[0], "-O", out, url], capture_output=True,
                       timeout=60)
    with open(out, "rb") as f:
        checks.eq((p.returncode, sha(f.read())), (0, sha(img)),
                  "wget -c resumes a partial download")

    # altered: every part, and nothing is said
    sig = url.split("sig=")[1]
    flipped = ("A" if sig[5] != "A" else "B").join([sig[:5], sig[6:]])
    for what, bad in (
            ("sig", alter(url, "sig", flipped)),
            ("device", alter(url, "device", "d2")),
            ("expires", alter(url, "expires", str(exp + 1))),
            ("firmware", url.replace("/fw/%s?" % fw, "/fw/fw-999?")),
            ("short sig", alter(url, "sig", sig[:20])),
            ("no expires", url.replace("&expires=%d" % exp, ""))):
        r = net.get(bad)
        checks.check(r.status == 403 and img[:64] not in r.body and
                     b"forbidden" in r.body,
                     "altered %s: 403 and nothing more (%d %r)" %
                     (what, r.status, r.body[:120]))
    r = net.get(url.split("?")[0])
    checks.eq(r.status, 401, "no query and no credential: 401")

    # the Host the device used; one that is no host name is not copied
    status, n = net.check("d1", "s-d1", host="localhost")
    checks.check(n.get("url", "").startswith(
        "https://localhost:%d/fw/%s?device=d1&" % (gw.https_port, fw)),
        "https url: the Host asked for (%s)" % n.get("url"))
    r = net.get(n.get("url", ""))
    checks.eq((r.status, sha(r.body)), (200, sha(img)),
              "that url downloads too")
    for evil in ('evil"x', "a@b", "x/y", "gw test"):
        status, n = net.check("d1", "s-d1", headers=["Host: " + evil])
        u = n.get("url", "")
        checks.check(status in (200, 400) and evil not in u and (
                     status == 400 or u.startswith("https://127.0.0.1:")),
                     "Host %r is not copied: the address reached instead (%d %s)" %
                     (evil, status, u))

    # rotation: the previous key still counts; dropped, it does not
    o = gw.otactl("url-key", "rotate")
    checks.check(o.returncode == 0 and "until they expire" in o.stdout,
                 "otactl url-key rotate (%s%s)" % (o.stdout, o.stderr))
    r = net.get(url, "1.1", ["Range: bytes=0-9"])
    checks.eq(r.status, 206, "after a rotation the url still works")
    o = gw.otactl("--json", "url-key", "rotate", "--drop-previous")
    checks.check(o.returncode == 0 and
                 json.loads(o.stdout or "{}").get("previousKeys") == 0,
                 "otactl url-key rotate --drop-previous (%s)" % o.stdout)
    r = net.get(url, "1.1", ["Range: bytes=0-9"])
    checks.eq(r.status, 403, "with the previous key dropped: 403")
    status, n = net.check("d1", "s-d1")
    url = n.get("url", "")
    r = net.get(url, "1.1", ["Range: bytes=0-9"])
    checks.eq(r.status, 206, "a new check gives a url that works")

    # revoked: the row canceled
    o = gw.otactl("job", "cancel", job, "d1")
    checks.eq(o.returncode, 0, "job cancel d1")
    r = net.get(url, "1.1", ["Range: bytes=0-9"])
    checks.check(r.status == 403 and b"forbidden" in r.body,
                 "the row canceled: 403 (%d)" % r.status)


def test_expiry(pki, img_path):
    gw = Gateway(coaps=False, extra={
        "https_listen": "0.0.0.0:%d" % free_port(socket.SOCK_STREAM),
        "tls_cert": pki.server[0], "tls_key": pki.server[1],
        "download_url_ttl": "2s"})
    gw.https_port = int(gw.extra["https_listen"].split(":")[1])
    with gw:
        net = Net(gw, pki)
        gw.otactl("device", "put", "e1", "--product", "p", "--secret",
                  "s-e1", "--version", "1.0.0", check=True)
        fw = gw.otactl_id("firmware", "add", img_path, "--product", "p",
                          "--version", "2.0.0")
        gw.otactl_id("job", "create", "--firmware", fw, "--devices", "e1",
                     "--force")
        status, n = net.check("e1", "s-e1")
        url = n.get("url", "")
        r = net.get(url, "1.1", ["Range: bytes=0-9"])
        checks.eq(r.status, 206, "download_url_ttl 2s: works at once")
        exp = int(url.split("expires=")[1].split("&")[0])
        wait_for(lambda: time.time() > exp + 1.1, 10, "expiry")
        r = net.get(url, "1.1", ["Range: bytes=0-9"])
        checks.eq(r.status, 403, "download_url_ttl 2s: 403 once expired")
        gw.extra["https_public_url"] = "https://ota.example.net:443"
        gw.write_conf()
        gw.proc.send_signal(1)
        wait_for(lambda: "configuration reloaded" in gw.log(), 10,
                 "reload")
        status, n = net.check("e1", "s-e1", host="localhost")
        checks.check(n.get("url", "").startswith(
            "https://ota.example.net:443/fw/%s?device=e1&" % fw),
            "https_public_url wins over the Host (%s)" % n.get("url"))


def test_coap(gw, fw):
    key = "key-of-c1"
    for host, port, dtls, scheme in (
            ("127.0.0.1", gw.coap_port, None, "coap"),
            ("127.0.0.1", gw.coaps_port, ("c1", key), "coaps"),
            ("::1", gw.coap_port, None, "coap"),
            ("::1", gw.coaps_port, ("c1", key), "coaps")):
        if host == "::1" and not has_ipv6():
            continue
        h = "[%s]" % host if ":" in host else host
        from otagw_harness import coap_request
        r = coap_request("post", "%s://%s:%d/ota/c1/check" % (scheme, h,
                                                            port),
                         b'{"version":"1.0.0"}', dtls, tmpdir=gw.tmp)
        try:
            n = json.loads(r.data or b"{}")
        except ValueError:
            n = {}
        want = "%s://%s:%d/fw/%s" % (scheme, h, port, fw)
        checks.eq((r.code, n.get("url")), ("2.05", want),
                  "%s check to %s: the url names that address" %
                  (scheme, host))


def main():
    pki = Pki(tempfile.mkdtemp(prefix="otagw-pki-"))
    hport = free_port(socket.SOCK_STREAM)
    cport, sport = free_port(), free_port()
    if has_ipv6():
        listen = "[::]:%d"
    else:
        listen = "0.0.0.0:%d"
    gw = Gateway(coap=True, coaps=True, extra={
        "https_listen": "0.0.0.0:%d" % hport,
        "coap_listen": listen % cport, "coaps_listen": listen % sport,
        "tls_cert": pki.server[0], "tls_key": pki.server[1],
        "download_url_ttl": "1h"})
    gw.https_port, gw.coap_port, gw.coaps_port = hport, cport, sport
    img = os.urandom(200 * 1024 + 3)
    with gw:
        net = Net(gw, pki)
        for d in ("d1", "d2"):
            gw.otactl("device", "put", d, "--product", "p", "--secret",
                      "s-" + d, "--version", "1.0.0", check=True)
        gw.otactl("device", "put", "c1", "--product", "p", "--psk",
                  b"key-of-c1".hex(), "--version", "1.0.0", check=True)
        path = os.path.join(gw.tmp, "img.bin")
        with open(path, "wb") as f:
            f.write(img)
        fw = gw.otactl_id("firmware", "add", path, "--product", "p",
                          "--version", "2.0.0")
        job = gw.otactl_id("job", "create", "--firmware", fw, "--devices",
                           "d1,d2,c1", "--force")
        test_coap(gw, fw)
        test_https(gw, net, img, fw, job)
        test_expiry(pki, path)
    checks.done()


if __name__ == "__main__":
    main()
