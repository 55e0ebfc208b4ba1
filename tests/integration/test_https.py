# SPDX-License-Identifier: BSD-2-Clause
"""test_https: the HTTPS device front end with real clients (CONTRACT §2).

- check over HTTPS: 200 with the notice and Retry-After, 204 for a device
  with nothing pending; progress 204; a device goes to SUCCEEDED.
- downloads with `curl --http2` and `curl --http1.1`: whole, HEAD, single,
  open, suffix and clamped ranges, 416 with bytes */N, If-Range (match,
  mismatch, date), If-None-Match (304), several ranges as
  multipart/byteranges, too many ranges (whole image), bad Range syntax
  (whole image); every body checked byte for byte against the image.
- bearer secrets with X-Device-Id or ?device=, and client certificates.
- an interrupted download resumed with `curl -C -` (SHA-256 verified).
- the esp_https_ota sequence over HTTP/1.1 without ALPN: HEAD, chunks whose
  last end equals the size (clamped), then a bytes=N- resume.
- `nghttp` download and `h2load` smoke runs (all 2xx), also 50 HTTP/1.1
  connections pipelining 10 requests each (none may stall).
- ten pipelined HTTP/1.1 requests in one write: answered in order, at once.
- the per-connection download grant: another token is still checked, a
  canceled job ends it within two seconds.
- a client that stops reading in the middle of a large download (HTTP/1.1
  and HTTP/2) does not slow another client's download.
"""

import base64
import hashlib
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

from otagw_harness import (CURL, Checks, Pki, curl_request, https_gateway,
                           otactl_items, sha256_file, wait_for)

checks = Checks()

for tool in ("curl", "openssl", "nghttp", "h2load"):
    if shutil.which(tool) is None:
        print("%s not installed: skipping" % tool)
        sys.exit(77)


def sha(b):
    return hashlib.sha256(b).hexdigest()


class Dev:
    """A device speaking HTTPS through curl."""

    def __init__(self, gw, pki, name, secret=None, cert=False):
        self.gw, self.pki, self.name = gw, pki, name
        self.secret = secret
        self.cert = pki.client[name] if cert else None

    def auth(self, fw=False, how="header"):
        h = []
        if self.secret is not None:
            h.append("Authorization: Bearer " + self.secret)
            if fw and how == "header":
                h.append("X-Device-Id: " + self.name)
        return h

    def req(self, method, path, http="2", headers=(), data=None, fw=False,
            how="header", out=None, extra=()):
        url = self.gw.https_url + path
        if fw and how == "query" and self.secret is not None:
            url += "?device=" + self.name
        return curl_request(url, method, http, self.auth(fw, how) +
                            list(headers), data, self.pki.ca[0], self.cert,
                            out, extra, tmpdir=self.gw.tmp)

    def post(self, what, body, http="2"):
        return self.req("POST", "/ota/%s/%s" % (self.name, what), http,
                        ["Content-Type: application/json"],
                        json.dumps(body).encode())

    def get(self, fwid, http="2", headers=(), method="GET", how="header",
            out=None, extra=()):
        return self.req(method, "/fw/" + fwid, http, headers, fw=True,
                        how=how, out=out, extra=extra)


def check_notice(d, fwid, img, http, what):
    r = d.post("check", {"versions": {"default": "1.0.0"}}, http)
    checks.eq(r.status, 200, what + ": check 200")
    checks.check((r.h("retry-after") or "").isdigit(),
                 what + ": check has Retry-After")
    checks.check((r.h("content-type") or "").startswith("application/json"),
                 what + ": notice is JSON")
    try:
        n = json.loads(r.body)
    except ValueError:
        checks.check(False, what + ": notice parses")
        return None
    checks.eq(n.get("firmware"), fwid, what + ": notice firmware")
    checks.eq(n.get("size"), len(img), what + ": notice size")
    checks.eq(n.get("sign"), sha(img), what + ": notice sign")
    checks.eq(n.get("path"), "/fw/" + fwid, what + ": notice path")
    checks.check(str(n.get("url", "")).startswith("https://"),
                 what + ": notice url is https")
    return n


def check_download_headers(r, img, what):
    checks.eq(r.h("accept-ranges"), "bytes", what + ": Accept-Ranges")
    checks.eq(r.h("etag"), '"%s"' % sha(img), what + ": strong ETag")
    digest = base64.b64encode(hashlib.sha256(img).digest()).decode()
    checks.eq(r.h("repr-digest"), "sha-256=:%s:" % digest,
              what + ": Repr-Digest")


def parse_multipart(r):
    """[(content-range, content-type, bytes)] of a multipart/byteranges."""
    m = re.search(r"boundary=(\S+)", r.h("content-type") or "")
    if not m:
        return None
    delim = b"--" + m.group(1).strip('"').encode()
    parts = []
    for chunk in r.body.split(delim)[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, data = chunk.partition(b"\r\n\r\n")
        if data.endswith(b"\r\n"):
            data = data[:-2]
        hdrs = {}
        for line in head.decode().strip().splitlines():
            k, _, v = line.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        parts.append((hdrs.get("content-range"), hdrs.get("content-type"),
                      data))
    return parts


def range_cases(d, fwid, img, http):
    n = len(img)
    et = '"%s"' % sha(img)
    tag = "%s %s" % ("h2" if http == "2" else "h1.1", d.name)

    r = d.get(fwid, http)
    checks.eq(r.status, 200, tag + ": GET 200")
    checks.eq(r.version, "2" if http == "2" else "1.1",
              tag + ": the protocol asked for")
    checks.eq(sha(r.body), sha(img), tag + ": whole image SHA-256")
    checks.eq(r.h("content-length"), str(n), tag + ": Content-Length")
    checks.eq(r.h("content-type"), "application/octet-stream",
              tag + ": Content-Type")
    check_download_headers(r, img, tag + ": GET")

    r = d.get(fwid, http, how="query")
    checks.eq((r.status, sha(r.body)), (200, sha(img)),
              tag + ": ?device= works like X-Device-Id")

    r = d.get(fwid, http, method="HEAD")
    checks.eq(r.status, 200, tag + ": HEAD 200")
    checks.eq(r.h("content-length"), str(n), tag + ": HEAD Content-Length")
    checks.eq(r.body, b"", tag + ": HEAD has no body")
    check_download_headers(r, img, tag + ": HEAD")

    cases = [
        ("bytes=0-99", 0, 99),
        ("bytes=1000-1999", 1000, 1999),
        ("bytes=%d-" % (n - 1234), n - 1234, n - 1),
        ("bytes=-777", n - 777, n - 1),
        ("bytes=%d-%d" % (n - 100, n + 50), n - 100, n - 1),   # clamped
        ("bytes=%d-%d" % (n - 16, n), n - 16, n - 1),          # esp style
        ("bytes=0-", 0, n - 1),
        ("bytes=-%d" % (n * 2), 0, n - 1),
        ("bytes=0-99999999999999999999999", 0, n - 1),
    ]
    for rng, a, b in cases:
        r = d.get(fwid, http, ["Range: " + rng])
        ok = (r.status == 206 and
              r.h("content-range") == "bytes %d-%d/%d" % (a, b, n) and
              r.body == img[a:b + 1] and
              r.h("content-length") == str(b - a + 1))
        checks.check(ok, "%s: %s -> 206 bytes %d-%d/%d (%r)" % (
            tag, rng, a, b, n, r if not ok else ""))
    r = d.get(fwid, http, ["Range: bytes=0-9"])
    check_download_headers(r, img, tag + ": 206")

    for rng in ("bytes=%d-" % n, "bytes=%d-%d" % (n + 5, n + 10),
                "bytes=-0"):
        r = d.get(fwid, http, ["Range: " + rng])
        checks.eq((r.status, r.h("content-range")), (416, "bytes */%d" % n),
                  "%s: %s -> 416 bytes */N" % (tag, rng))

    # If-Range
    r = d.get(fwid, http, ["Range: bytes=10-19", "If-Range: " + et])
    checks.eq((r.status, r.body), (206, img[10:20]),
              tag + ": If-Range with the ETag -> 206")
    r = d.get(fwid, http, ["Range: bytes=10-19", 'If-Range: "other"'])
    checks.eq((r.status, sha(r.body)), (200, sha(img)),
              tag + ": If-Range with another ETag -> 200 whole")
    r = d.get(fwid, http, ["Range: bytes=10-19",
                           "If-Range: Mon, 23 Nov 2026 10:00:00 GMT"])
    checks.eq((r.status, sha(r.body)), (200, sha(img)),
              tag + ": If-Range with a date -> 200 whole")
    r = d.get(fwid, http, ["Range: bytes=10-19", "If-Range: W/" + et])
    checks.eq(r.status, 200, tag + ": If-Range with a weak ETag -> 200")

    # If-None-Match
    for inm in (et, "W/" + et, '"x", ' + et, "*"):
        r = d.get(fwid, http, ["If-None-Match: " + inm])
        checks.eq((r.status, r.h("etag"), r.body), (304, et, b""),
                  "%s: If-None-Match %s -> 304 with ETag" % (tag, inm[:12]))
    r = d.get(fwid, http, ['If-None-Match: "nope"'])
    checks.eq((r.status, sha(r.body)), (200, sha(img)),
              tag + ": If-None-Match other -> 200")
    r = d.get(fwid, http, ["If-None-Match: " + et], method="HEAD")
    checks.eq(r.status, 304, tag + ": HEAD If-None-Match -> 304")

    # several ranges
    r = d.get(fwid, http, ["Range: bytes=0-9,1000-1099,-5"])
    checks.eq(r.status, 206, tag + ": 3 ranges -> 206")
    checks.check((r.h("content-type") or "").startswith(
        "multipart/byteranges; boundary="), tag + ": multipart/byteranges")
    checks.eq(r.h("content-length"), str(len(r.body)),
              tag + ": multipart Content-Length is the body's")
    parts = parse_multipart(r) or []
    want = [(0, 9), (1000, 1099), (n - 5, n - 1)]
    checks.eq(len(parts), 3, tag + ": 3 parts")
    for (cr, ct, data), (a, b) in zip(parts, want):
        checks.check(cr == "bytes %d-%d/%d" % (a, b, n) and
                     ct == "application/octet-stream" and
                     data == img[a:b + 1],
                     "%s: part %d-%d" % (tag, a, b))
    many = ",".join("%d-%d" % (i * 10, i * 10 + 1) for i in range(17))
    r = d.get(fwid, http, ["Range: bytes=" + many])
    checks.eq((r.status, sha(r.body)), (200, sha(img)),
              tag + ": 17 ranges -> 200 whole image (policy)")
    r = d.get(fwid, http, ["Range: bytes=0-10,5-20"])
    checks.eq((r.status, sha(r.body)), (200, sha(img)),
              tag + ": overlapping ranges -> 200 whole image")
    for bad in ("bytes=5-1", "bytes=abc", "pages=1-2", "bytes=1-2;3"):
        r = d.get(fwid, http, ["Range: " + bad])
        checks.eq((r.status, sha(r.body)), (200, sha(img)),
                  "%s: bad Range %r ignored -> 200 whole" % (tag, bad))


def resume(d, fwid, img, http):
    tag = "curl -C - (%s)" % ("h2" if http == "2" else "h1.1")
    path = os.path.join(d.gw.tmp, "resume-%s.bin" % http)
    # Interrupted: a slow transfer cut by --max-time.
    d.get(fwid, http, out=path, extra=["--limit-rate", "64K",
                                       "--max-time", "1"])
    have = os.path.getsize(path) if os.path.exists(path) else 0
    if not 0 < have < len(img):
        with open(path, "wb") as f:
            f.write(img[:len(img) // 3])
        have = len(img) // 3
    checks.check(0 < have < len(img), tag + ": interrupted part on disk")
    r = d.get(fwid, http, out=path, extra=["-C", "-"])
    checks.eq(r.rc, 0, tag + ": curl exits 0")
    checks.eq(r.status, 206, tag + ": the resume is a 206")
    checks.eq(r.h("content-range"), "bytes %d-%d/%d" % (
        have, len(img) - 1, len(img)), tag + ": from the local size")
    checks.eq(os.path.getsize(path), len(img), tag + ": size")
    checks.eq(sha256_file(path), sha(img), tag + ": SHA-256")


class H1:
    """A raw HTTP/1.1 keep-alive connection over TLS with no ALPN, as an
    ESP32 with esp_https_ota opens it."""

    def __init__(self, gw, pki, alpn=None):
        ctx = ssl.create_default_context(cafile=pki.ca[0])
        if alpn:
            ctx.set_alpn_protocols(alpn)
        raw = socket.create_connection(("127.0.0.1", gw.https_port),
                                       timeout=20)
        self.s = ctx.wrap_socket(raw, server_hostname="localhost")
        self.buf = b""

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass

    def send(self, method, path, headers):
        req = "%s %s HTTP/1.1\r\nHost: localhost\r\n" % (method, path)
        req += "".join("%s: %s\r\n" % h for h in headers) + "\r\n"
        self.s.sendall(req.encode())

    def _fill(self):
        chunk = self.s.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        self.buf += chunk

    def response(self, head=False):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        raw, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = raw.decode("iso-8859-1").split("\r\n")
        status = int(lines[0].split()[1])
        hdrs = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        n = 0 if head or status in (204, 304) else \
            int(hdrs.get("content-length", "0"))
        while len(self.buf) < n:
            self._fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        return status, hdrs, body


def esp_https_ota(gw, pki, d, fwid, img):
    tag = "esp_https_ota (HTTP/1.1, no ALPN)"
    auth = [("Authorization", "Bearer " + d.secret), ("X-Device-Id", d.name)]
    c = H1(gw, pki)
    try:
        checks.eq(c.s.selected_alpn_protocol(), None, tag + ": no ALPN")
        c.send("HEAD", "/fw/" + fwid, auth)
        st, h, body = c.response(head=True)
        checks.eq((st, h.get("content-length")), (200, str(len(img))),
                  tag + ": HEAD 200 with Content-Length")
        size = int(h.get("content-length", "0"))
        got = b""
        step, ok = 4096 * 5 + 3, True
        a = 0
        while a < size:
            b = min(a + step, size)   # the last b equals the size
            c.send("GET", "/fw/" + fwid, auth + [("Range",
                                                  "bytes=%d-%d" % (a, b))])
            st, h, body = c.response()
            last = min(b, size - 1)
            if st != 206 or h.get("content-range") != \
                    "bytes %d-%d/%d" % (a, last, size):
                ok = False
                checks.check(False, "%s: chunk %d-%d: %s %r" % (
                    tag, a, b, st, h))
                break
            got += body
            a = last + 1
        checks.check(ok, tag + ": every chunk 206 on one keep-alive "
                     "connection, the last one clamped")
        checks.eq(sha(got), sha(img), tag + ": chunks SHA-256")
    finally:
        c.close()
    # resume after a reset: bytes=N- on a new connection
    c = H1(gw, pki)
    try:
        half = len(img) // 2
        c.send("GET", "/fw/" + fwid, auth + [("Range", "bytes=%d-" % half)])
        st, h, body = c.response()
        checks.eq(st, 206, tag + ": bytes=N- resume -> 206")
        checks.eq(sha(img[:half] + body), sha(img), tag + ": resumed SHA-256")
    finally:
        c.close()


def nghttp_download(gw, d, fwid, img):
    p = subprocess.run(["nghttp", "-H", "authorization: Bearer " + d.secret,
                        "-H", "x-device-id: " + d.name,
                        gw.https_url + "/fw/" + fwid],
                       capture_output=True, timeout=60)
    checks.eq(p.returncode, 0, "nghttp exits 0")
    checks.eq(sha(p.stdout), sha(img), "nghttp download SHA-256")


def h2load_run(gw, d, fwid, n, args, what):
    """h2load with n 4 KiB range requests; checks that every one succeeds
    with a 2xx before h2load gives up on a connection silent for 10 s (-N)."""
    p = subprocess.run(["h2load", "-n", str(n)] + args +
                       ["-N", "10",
                        "-H", "authorization: Bearer " + d.secret,
                        "-H", "x-device-id: " + d.name,
                        "-H", "range: bytes=0-4095",
                        gw.https_url + "/fw/" + fwid],
                       capture_output=True, text=True, timeout=120)
    m = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, "
                  r"(\d+) 5xx", p.stdout)
    checks.check(m is not None and m.group(1) == str(n) and
                 m.groups()[1:] == ("0", "0", "0"),
                 "%s: %d requests, all 2xx (%s)" %
                 (what, n, m.group(0) if m else p.stdout[-400:]))
    m = re.search(r"requests: \d+ total, \d+ started, \d+ done, "
                  r"(\d+) succeeded", p.stdout)
    checks.check(m is not None and m.group(1) == str(n),
                 "%s: %d succeeded" % (what, n))


def h2load_smoke(gw, d, fwid):
    h2load_run(gw, d, fwid, 200, ["-c", "4", "-m", "8"], "h2load")
    # many pipelining HTTP/1.1 clients: no connection may stall with
    # requests left in its buffer (it did once, until the idle timeout)
    h2load_run(gw, d, fwid, 20000, ["--h1", "-c", "50", "-m", "10"],
               "h2load --h1, 50 connections, 10 pipelined requests each")


def upgrade(gw, d, job, fwid, img, http):
    tag = "%s over %s" % (d.name, "h2" if http == "2" else "h1.1")
    check_notice(d, fwid, img, http, tag)
    r = d.get(fwid, http)
    checks.eq(sha(r.body), sha(img), tag + ": download")
    for step in (0, 50, 100):
        r = d.post("progress", {"job": job, "step": step, "desc": "s%d" %
                                step}, http)
        checks.eq(r.status, 204, "%s: progress %d -> 204" % (tag, step))
    r = d.post("progress", {"job": job, "step": 100, "version": "2.0.0"},
               http)
    checks.eq(r.status, 204, tag + ": final progress -> 204")

    def state():
        rows = otactl_items(gw, "job", "devices", job) or []
        for row in rows:
            if row.get("device") == d.name:
                return row.get("state")
        return None
    try:
        wait_for(lambda: state() == "SUCCEEDED", 10, tag + " SUCCEEDED")
        checks.check(True, tag + ": SUCCEEDED")
    except TimeoutError:
        checks.check(False, tag + ": SUCCEEDED (state %s)" % state())
    r = d.post("check", {"versions": {"default": "2.0.0"}}, http)
    checks.eq(r.status, 204, tag + ": nothing pending afterwards -> 204")
    checks.check((r.h("retry-after") or "").isdigit(),
                 tag + ": 204 has Retry-After")


def timed_download(d, fwid, img, http):
    path = os.path.join(d.gw.tmp, "timed-%s.bin" % http)
    t0 = time.monotonic()
    r = d.get(fwid, http, out=path)
    dt = time.monotonic() - t0
    ok = r.status == 200 and sha256_file(path) == sha(img)
    if not ok:
        print("download over %s failed: %r (%d bytes)" % (
            http, r, os.path.getsize(path)), file=sys.stderr)
    os.unlink(path)
    return ok, dt


def pipelined(gw, pki, d, fwid, img):
    """Ten pipelined HTTP/1.1 requests sent in one write (as h2load --h1
    -m 10 and some device stacks do): all answered, in order, at once."""
    tag = "10 pipelined HTTP/1.1 requests"
    auth = [("Authorization", "Bearer " + d.secret), ("X-Device-Id", d.name)]
    c = H1(gw, pki)
    try:
        reqs = ""
        for i in range(10):
            reqs += ("GET /fw/%s HTTP/1.1\r\nHost: localhost\r\n"
                     "Authorization: %s\r\nX-Device-Id: %s\r\n"
                     "Range: bytes=%d-%d\r\n\r\n" %
                     (fwid, auth[0][1], d.name, i * 1000, i * 1000 + 99))
        t0 = time.monotonic()
        c.s.sendall(reqs.encode())
        got = [c.response() for _ in range(10)]
        el = time.monotonic() - t0
        checks.check(all(st == 206 for st, _, _ in got),
                     tag + ": all 206 (%r)" % [g[0] for g in got])
        checks.check(all(body == img[i * 1000:i * 1000 + 100]
                         for i, (_, _, body) in enumerate(got)),
                     tag + ": answered in order, bodies right")
        checks.check(el < 1.0, tag + ": answered together (%.3f s, "
                     "not one per event-loop wake)" % el)
    finally:
        c.close()


def grant(gw, pki, d, job, fwid, img):
    """The per-connection download grant (docs/https.md): later requests
    on the connection skip the checks only with the same device and the
    same token, and a canceled job ends it within two seconds."""
    tag = "grant"
    good = [("Authorization", "Bearer " + d.secret), ("X-Device-Id", d.name)]
    c = H1(gw, pki)
    try:
        c.send("GET", "/fw/" + fwid, good + [("Range", "bytes=0-9")])
        st, _, body = c.response()
        checks.eq((st, body), (206, img[:10]), tag + ": first range 206")
        c.send("GET", "/fw/" + fwid, [("Authorization", "Bearer wrong"),
                                      ("X-Device-Id", d.name),
                                      ("Range", "bytes=0-9")])
        st, _, _ = c.response()
        checks.eq(st, 401, tag + ": another token on the same connection"
                  " is still checked (401)")
        c.send("GET", "/fw/" + fwid, good + [("Range", "bytes=10-19")])
        st, _, body = c.response()
        checks.eq((st, body), (206, img[10:20]), tag + ": the right token"
                  " again: 206")
        gw.otactl("job", "cancel", job, d.name, check=True)
        time.sleep(2.5)
        c.send("GET", "/fw/" + fwid, good + [("Range", "bytes=20-29")])
        st, _, _ = c.response()
        checks.check(st in (403, 404), tag + ": job canceled, 2.5 s later"
                     " on the same connection: refused (%d)" % st)
    finally:
        c.close()


def stalled_readers(gw, pki, e1, e2, fwid, img):
    """A stalled HTTP/1.1 reader and a throttled HTTP/2 reader of the big
    image must not slow e2's download."""
    ok, base = timed_download(e2, fwid, img, "2")
    if not checks.check(ok, "big image: baseline download"):
        sys.stderr.write("--- otagw log ---\n%s\n" % gw.log()[-3000:])
    stall = H1(gw, pki)
    slow = None
    try:
        stall.send("GET", "/fw/" + fwid, [
            ("Authorization", "Bearer " + e1.secret),
            ("X-Device-Id", e1.name)])
        while len(stall.buf) < 65536:
            stall._fill()          # then stop reading
        slow = subprocess.Popen(
            [CURL, "-sS", "--http2", "--cacert", pki.ca[0], "-o",
             os.devnull, "--limit-rate", "2K", "-H",
             "Authorization: Bearer " + e1.secret, "-H",
             "X-Device-Id: " + e1.name, gw.https_url + "/fw/" + fwid],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for http in ("2", "1.1"):
            ok, dt = timed_download(e2, fwid, img, http)
            checks.check(ok, "big image over %s while others stall: "
                         "complete and SHA-256 ok" % http)
            checks.check(dt < max(10 * base, 5.0),
                         "big image over %s while others stall: %.2f s "
                         "(alone %.2f s)" % (http, dt, base))
        checks.check(gw.alive(), "the gateway is alive with stalled readers")
    finally:
        stall.close()
        if slow is not None:
            slow.kill()
            slow.wait()


def main():
    pki_dir = tempfile.mkdtemp(prefix="otagw-pki-")
    pki = Pki(pki_dir, devices=("d3", "d6"))
    gwp = https_gateway(pki, extra={"busy_interval": "30s"})
    try:
        with gwp as gw:
            secrets = {}
            for name, product in (("d1", "p"), ("d2", "p"), ("d4", "p"),
                                  ("d5", "p"), ("g1", "p"), ("idle", "p"),
                                  ("e1", "q"),
                                  ("e2", "q")):
                secrets[name] = "s-%s-%s" % (name, os.urandom(6).hex())
                gw.otactl("device", "put", name, "--product", product,
                          "--secret", secrets[name], "--version", "1.0.0",
                          check=True)
            for name in ("d3", "d6"):
                gw.otactl("device", "put", name, "--product", "p",
                          "--version", "1.0.0", check=True)
            img = os.urandom(300 * 1024 + 77)
            big = os.urandom(24 * 1024 * 1024 + 5)
            for label, data in (("img", img), ("big", big)):
                with open(os.path.join(gw.tmp, label + ".bin"), "wb") as f:
                    f.write(data)
            fw = gw.otactl_id("firmware", "add",
                              os.path.join(gw.tmp, "img.bin"), "--product",
                              "p", "--version", "2.0.0")
            fwbig = gw.otactl_id("firmware", "add",
                                 os.path.join(gw.tmp, "big.bin"),
                                 "--product", "q", "--version", "2.0.0")
            job = gw.otactl_id("job", "create", "--firmware", fw,
                               "--devices", "d1,d2,d3,d4,d5,d6,g1",
                               "--force")
            jobbig = gw.otactl_id("job", "create", "--firmware", fwbig,
                                  "--devices", "e1,e2", "--force")

            d1 = Dev(gw, pki, "d1", secrets["d1"])
            d3 = Dev(gw, pki, "d3", cert=True)
            d4 = Dev(gw, pki, "d4", secrets["d4"])
            d5 = Dev(gw, pki, "d5", secrets["d5"])
            d6 = Dev(gw, pki, "d6", cert=True)
            idle = Dev(gw, pki, "idle", secrets["idle"])
            e1 = Dev(gw, pki, "e1", secrets["e1"])
            e2 = Dev(gw, pki, "e2", secrets["e2"])

            for http in ("2", "1.1"):
                r = idle.post("check", {"versions": {"default": "1.0.0"}},
                              http)
                checks.eq((r.status, r.body), (204, b""),
                          "idle device over %s: 204 no body" % http)
                checks.check((r.h("retry-after") or "").isdigit(),
                             "idle device over %s: Retry-After" % http)

            for http in ("2", "1.1"):
                check_notice(d1, fw, img, http, "d1 bearer " + http)
                check_notice(d3, fw, img, http, "d3 client cert " + http)
            for http in ("2", "1.1"):
                range_cases(d1, fw, img, http)
            r = d3.get(fw, "2")
            checks.eq((r.status, sha(r.body)), (200, sha(img)),
                      "client certificate download (h2)")
            r = d3.get(fw, "1.1", ["Range: bytes=5-9"])
            checks.eq((r.status, r.body), (206, img[5:10]),
                      "client certificate range (h1.1)")
            for http in ("2", "1.1"):
                resume(d1, fw, img, http)
            check_notice(d4, fw, img, "1.1", "d4")
            esp_https_ota(gw, pki, d4, fw, img)
            pipelined(gw, pki, d4, fw, img)
            nghttp_download(gw, d1, fw, img)
            h2load_smoke(gw, d1, fw)
            upgrade(gw, d5, job, fw, img, "2")
            upgrade(gw, d6, job, fw, img, "1.1")
            check_notice(e1, fwbig, big, "2", "e1")
            check_notice(e2, fwbig, big, "2", "e2")
            stalled_readers(gw, pki, e1, e2, fwbig, big)
            g1 = Dev(gw, pki, "g1", secrets["g1"])
            check_notice(g1, fw, img, "1.1", "g1")
            grant(gw, pki, g1, job, fw, img)
            log = gw.log()
            checks.check(re.search(r"debug: https: h[12] GET /fw/", log),
                         "one debug line per request")
            checks.check(not any(s in log for s in secrets.values()),
                         "no secret in the log")
    finally:
        shutil.rmtree(pki_dir, ignore_errors=True)
    checks.done()


main()
