# SPDX-License-Identifier: BSD-2-Clause
"""test_admin: the admin API (CONTRACT §4, docs/admin-api.md) with curl.

The real daemon with its admin listener on a free port (a CA and server
certificate made with the openssl CLI in the temporary directory, a token
file), driven with `curl --http2` and `curl --http1.1`:

- authentication: no token and a wrong token give 401 with the JSON error
  and WWW-Authenticate; /healthz needs none; a new token after SIGHUP;
- devices: PUT (201 new, 200 update), GET, DELETE, list paged with
  after/limit, bad bodies (400), CSV import (a bad line stores nothing,
  more than 10,000 lines is 413, wrong Content-Type 400);
- firmware: streamed uploads (size, MD5, SHA-256 and the stored file),
  413 over firmware_max_size with and without Content-Length and nothing
  left in images/, 409 for a duplicate, list/show/PATCH/DELETE, and 409
  while an open job uses it;
- jobs: the full body of CONTRACT §4, list/show/devices?state=, confirm,
  cancel, retry (409), terminate, bad bodies (400) and 404s;
- firmware by URL through nghttpx (when installed): 202, then 201;
- /metrics (Prometheus text: HELP/TYPE, sample syntax, values);
- otactl --url prints exactly what otactl --state prints;
- the daemon refuses to start without its token and warns about a
  non-loopback address.
"""

import hashlib
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

from otagw_harness import (COAP_ACK, COAP_CON, OPT_URI_PATH, OTACTL,
                           Checks, Gateway, Pki, coap_decode, coap_encode,
                           curl_request, free_port, gateway_restart,
                           wait_for)

checks = Checks()

for tool in ("curl", "openssl"):
    if shutil.which(tool) is None:
        print("%s not installed: skipping" % tool)
        sys.exit(77)

NGHTTPX = shutil.which("nghttpx") or (
    "/usr/sbin/nghttpx" if os.path.exists("/usr/sbin/nghttpx") else None)

FW_MAX = 1 << 20        # firmware_max_size of the test gateway


def sha(b):
    return hashlib.sha256(b).hexdigest()


tmp = tempfile.mkdtemp(prefix="otagw-admin-")
pki = Pki(os.path.join(tmp, "pki"))
token = os.urandom(24).hex()
token_path = os.path.join(tmp, "admin.token")
with open(token_path, "w") as f:
    f.write(token + "\n")
os.chmod(token_path, 0o600)
admin_port = free_port(socket.SOCK_STREAM)
base = "https://127.0.0.1:%d" % admin_port
settings = {"admin_listen": "127.0.0.1:%d" % admin_port,
            "admin_token_file": token_path,
            "tls_cert": pki.server[0], "tls_key": pki.server[1],
            "firmware_max_size": "1M"}


class Api:
    def __init__(self, gw):
        self.gw = gw
        self.token = token

    def req(self, method, path, http="2", data=None, ctype=None,
            auth=True, headers=(), extra=()):
        h = list(headers)
        if auth is True:
            h.append("Authorization: Bearer " + self.token)
        elif auth:
            h.append("Authorization: " + auth)
        if ctype:
            h.append("Content-Type: " + ctype)
        return curl_request(base + path, method, http, h, data, pki.ca[0],
                            tmpdir=self.gw.tmp, extra=extra)

    def js(self, r):
        try:
            return json.loads(r.body)
        except ValueError:
            return None


def is_error(api, r, status, code, what):
    checks.eq(r.status, status, what + ": status")
    body = api.js(r)
    checks.check(isinstance(body, dict) and body.get("error") == code and
                 isinstance(body.get("message"), str) and body["message"],
                 what + ": JSON error %r (%r)" % (code, r.body[:200]))
    checks.check((r.h("content-type") or "").startswith("application/json"),
                 what + ": error is application/json")


def images(gw):
    d = os.path.join(gw.state, "images")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


# The one clock reading in an answer: the two calls may straddle a second.
_AGE = re.compile(rb'("oldestAgeSeconds":)\d+|(\()\d+( s ago\))')


def otactl_both(gw, *args):
    """otactl --state and otactl --url on the same command, the outbox's
    age in seconds blanked in both."""
    s = subprocess.run([OTACTL, "--state", gw.state] + list(args),
                       capture_output=True, timeout=60)
    u = subprocess.run([OTACTL, "--url", base, "--token-file", token_path,
                        "--ca", pki.ca[0]] + list(args),
                       capture_output=True, timeout=60)
    for p in (s, u):
        p.stdout = _AGE.sub(lambda m: (m.group(1) or m.group(2)) + b"0" +
                            (m.group(3) or b""), p.stdout)
    return s, u


def otactl_url(*args):
    return subprocess.run([OTACTL, "--url", base, "--token-file",
                           token_path, "--ca", pki.ca[0]] +
                          [str(a) for a in args], capture_output=True,
                          text=True, timeout=120)


# ---------------------------------------------------------------------------

def test_auth(api):
    for v in ("2", "1.1"):
        r = api.req("GET", "/api/v1/devices", v, auth=False)
        is_error(api, r, 401, "unauthorized", "h%s no token" % v)
        checks.check((r.h("www-authenticate") or "").startswith("Bearer"),
                     "h%s 401 carries WWW-Authenticate: Bearer" % v)
        r = api.req("GET", "/api/v1/devices", v,
                    auth="Bearer " + token[:-1] + "x")
        is_error(api, r, 401, "unauthorized", "h%s wrong token" % v)
        r = api.req("GET", "/api/v1/devices", v, auth="Basic " + token)
        is_error(api, r, 401, "unauthorized", "h%s Basic scheme" % v)
        r = api.req("GET", "/metrics", v, auth=False)
        checks.eq(r.status, 401, "h%s /metrics needs the token" % v)
        r = api.req("GET", "/healthz", v, auth=False)
        checks.eq(r.status, 200, "h%s /healthz without a token" % v)
        checks.eq(api.js(r), {"status": "ok"}, "h%s /healthz body" % v)
        checks.eq(r.version, v, "answered over HTTP/%s" % v)
        # no token asked, so no body buffered: 413 (it held 8 MiB per
        # stream for anyone who could reach the port)
        r = api.req("POST", "/healthz", v, auth=False, data=b"x" * 5000)
        checks.check(r.status in (405, 413), "h%s POST /healthz with a "
                     "body: refused (%d)" % (v, r.status))
        r = api.req("GET", "/healthz", v, auth=False, data=b"x" * 5000)
        is_error(api, r, 413, "too_large", "h%s GET /healthz with a body"
                 % v)
        r = api.req("GET", "/api/v1/nothing", v)
        is_error(api, r, 404, "not_found", "h%s unknown path" % v)
        r = api.req("POST", "/api/v1/devices/d1/x", v, data=b"")
        is_error(api, r, 404, "not_found", "h%s unknown sub-path" % v)
        r = api.req("DELETE", "/api/v1/jobs", v)
        checks.eq(r.status, 405, "h%s wrong method: 405" % v)
        checks.eq(r.h("allow"), "GET, POST", "h%s 405 has Allow" % v)


def test_devices(api):
    for v in ("2", "1.1"):
        dev = "dev-h%s" % v.replace(".", "")
        body = {"product": "pa", "secret": "s3cret-" + v, "psk":
                "00112233445566778899aabbccddeeff",
                "versions": {"default": "1.0.0", "boot": "0.9"}}
        r = api.req("PUT", "/api/v1/devices/" + dev, v,
                    json.dumps(body).encode(), "application/json")
        checks.eq(r.status, 201, "h%s PUT new device: 201" % v)
        d = api.js(r) or {}
        checks.eq((d.get("id"), d.get("product"), d.get("psk"),
                   d.get("secret"), d.get("versions")),
                  (dev, "pa", True, True, body["versions"]),
                  "h%s PUT answers the device view" % v)
        checks.check("s3cret" not in r.body.decode() and
                     "0011223344" not in r.body.decode(),
                     "h%s secrets never come back" % v)
        r = api.req("PUT", "/api/v1/devices/" + dev, v,
                    b'{"versions":{"default":"1.1.0"},"secret":""}',
                    "application/json")
        checks.eq(r.status, 200, "h%s PUT existing device: 200" % v)
        d = api.js(r) or {}
        checks.eq((d.get("secret"), d.get("versions", {}).get("default"),
                   d.get("versions", {}).get("boot")),
                  (False, "1.1.0", "0.9"),
                  "h%s update: secret removed, versions merged" % v)
        r = api.req("GET", "/api/v1/devices/" + dev, v)
        checks.eq((r.status, (api.js(r) or {}).get("id")), (200, dev),
                  "h%s GET device" % v)
        for bad, what in ((b'{"product":"pa",', "malformed JSON"),
                          (b'{"product":"p a"}', "invalid product"),
                          (b'{"product":"pa","extra":1}', "unknown member"),
                          (b'{"product":7}', "wrong type"),
                          (b'[1]', "not an object"),
                          (b'{"product":"pa","psk":"zz"}', "bad PSK"),
                          (b'{"product":"pa","id":"other"}',
                           "an id that is not the path's")):
            r = api.req("PUT", "/api/v1/devices/bad-" + dev, v, bad,
                        "application/json")
            is_error(api, r, 400, "bad_request", "h%s PUT %s" % (v, what))
        r = api.req("GET", "/api/v1/devices/bad-" + dev, v)
        is_error(api, r, 404, "not_found", "h%s refused PUT stored nothing"
                 % v)
        r = api.req("PUT", "/api/v1/devices/new-" + dev, v, b'{}',
                    "application/json")
        checks.check(r.status in (400, 422),
                     "h%s new device without product refused (%d)" %
                     (v, r.status))
        r = api.req("DELETE", "/api/v1/devices/" + dev, v)
        checks.eq(r.status, 204, "h%s DELETE device: 204" % v)
        r = api.req("GET", "/api/v1/devices/" + dev, v)
        is_error(api, r, 404, "not_found", "h%s deleted device is gone" % v)
        r = api.req("DELETE", "/api/v1/devices/" + dev, v)
        is_error(api, r, 404, "not_found", "h%s DELETE again: 404" % v)

    # paging
    ids = ["pg-%02d" % i for i in range(7)]
    for i, d in enumerate(ids):
        r = api.req("PUT", "/api/v1/devices/" + d, "2",
                    json.dumps({"product": "pg", "versions":
                                {"default": "1.0.%d" % (i % 2)}}).encode(),
                    "application/json")
        checks.eq(r.status, 201, "provision %s" % d)
    for v in ("2", "1.1"):
        got, after, pages = [], None, 0
        while True:
            q = "?product=pg&limit=3" + ("&after=" + after if after else "")
            r = api.req("GET", "/api/v1/devices" + q, v)
            page = api.js(r) or {}
            items = page.get("items", [])
            checks.check(r.status == 200 and len(items) <= 3,
                         "h%s page %d: at most 3 items" % (v, pages))
            got += [d["id"] for d in items]
            pages += 1
            after = page.get("next")
            if not after or pages > 10:
                break
        checks.eq(got, ids, "h%s paging walks every device once, in order"
                  % v)
        checks.eq(pages, 3, "h%s 7 devices in pages of 3" % v)
        r = api.req("GET", "/api/v1/devices?product=pg&version=1.0.1", v)
        checks.eq([d["id"] for d in (api.js(r) or {}).get("items", [])],
                  ids[1::2], "h%s filter by version" % v)
        r = api.req("GET", "/api/v1/devices?limit=x", v)
        is_error(api, r, 400, "bad_request", "h%s bad limit" % v)


def test_import(api, gw):
    for v in ("2", "1.1"):
        tag = v.replace(".", "")
        csv = ("product,device,secret,psk\n"
               "pi,imp%s-1,sec1,\n"
               "pi,imp%s-2,,a1b2c3d4\n"
               "\"pi\",\"imp%s-3\",\"se,c\",\n" % (tag, tag, tag))
        r = api.req("POST", "/api/v1/devices/import", v, csv.encode(),
                    "text/csv")
        checks.eq(r.status, 200, "h%s import: 200" % v)
        checks.eq(api.js(r), {"lines": 3, "created": 3, "updated": 0},
                  "h%s import counts" % v)
        r = api.req("GET", "/api/v1/devices/imp%s-3" % tag, v)
        checks.eq((api.js(r) or {}).get("secret"), True,
                  "h%s imported device has its secret" % v)
        bad = ("pi,bad%s-1,s,\npi,bad%s-2,s,zz\n" % (tag, tag))
        r = api.req("POST", "/api/v1/devices/import", v, bad.encode(),
                    "text/csv")
        is_error(api, r, 400, "bad_request", "h%s import with a bad line" % v)
        checks.check("line 2" in ((api.js(r) or {}).get("message") or ""),
                     "h%s the error names the line" % v)
        # every bad line, in the 400's "lines"; nothing stored
        bad3 = ("pi,b3%s-1,s,zz\npi,b3%s-2\npi,bad %s\n\npi,b3%s-2\n" %
                (tag, tag, tag, tag))
        r = api.req("POST", "/api/v1/devices/import", v, bad3.encode(),
                    "text/csv")
        is_error(api, r, 400, "bad_request", "h%s import, 3 bad lines" % v)
        body = api.js(r) or {}
        checks.eq(([x.get("line") for x in body.get("lines", [])],
                   body.get("more")), ([1, 3, 5], 0),
                  "h%s import: the bad lines in \"lines\"" % v)
        checks.check(all(isinstance(x.get("message"), str) and x["message"]
                         for x in body.get("lines", [])),
                     "h%s import: each with its message" % v)
        r = api.req("GET", "/api/v1/devices/b3%s-2" % tag, v)
        checks.eq(r.status, 404, "h%s import with bad lines: nothing "
                  "stored" % v)
        # a header line naming the columns; the product from the query
        r = api.req("POST", "/api/v1/devices/import?product=pt", v,
                    ("DeviceName\nhd%s-1\n" % tag).encode(), "text/csv")
        checks.eq((r.status, api.js(r)), (200, {"lines": 1, "created": 1,
                                                "updated": 0}),
                  "h%s import: a DeviceName header, ?product=" % v)
        r = api.req("GET", "/api/v1/devices/hd%s-1" % tag, v)
        checks.eq((api.js(r) or {}).get("product"), "pt",
                  "h%s import: the default product" % v)
        r = api.req("GET", "/api/v1/devices/bad%s-1" % tag, v)
        checks.eq(r.status, 404, "h%s bad import stored nothing" % v)
        r = api.req("POST", "/api/v1/devices/import", v, csv.encode(),
                    "application/json")
        is_error(api, r, 400, "bad_request", "h%s import needs text/csv" % v)
    big = "".join("pb,big-%05d,,\n" % i for i in range(10001))
    r = api.req("POST", "/api/v1/devices/import", "2", big.encode(),
                "text/csv")
    is_error(api, r, 413, "too_large", "10,001 lines: 413")
    r = api.req("GET", "/api/v1/devices?product=pb&limit=1", "2")
    checks.eq((api.js(r) or {}).get("items"), [],
              "10,001 lines: nothing stored")
    ok = "".join("pb,big-%05d,,\n" % i for i in range(10000))
    r = api.req("POST", "/api/v1/devices/import", "1.1", ok.encode(),
                "text/csv")
    checks.eq((r.status, (api.js(r) or {}).get("created")), (200, 10000),
              "10,000 lines: all stored")


def upload(api, v, img, q, extra=()):
    return api.req("POST", "/api/v1/firmware?" + q, v, img,
                   "application/octet-stream", extra=extra)


def nghttp_upload(gw, data, query):
    """POSTs data with nghttp; the :status, or None without nghttp."""
    if shutil.which("nghttp") is None:
        print("nghttp not installed: the HTTP/2 413 answer is not read")
        return None
    path = os.path.join(gw.tmp, "nghttp-body")
    with open(path, "wb") as f:
        f.write(data)
    p = subprocess.run(["nghttp", "-v", "-H", "Authorization: Bearer " +
                        token, "-d", path, base + "/api/v1/firmware?" +
                        query], capture_output=True, timeout=60)
    os.unlink(path)
    m = re.search(rb":status: (\d+)", p.stdout)
    return int(m.group(1)) if m else 0


def test_firmware(api, gw):
    fws = {}
    for v in ("2", "1.1"):
        img = os.urandom(300000 + len(v))
        q = urllib.parse.urlencode({"product": "pf", "version": "2.0." +
                                    v.replace(".", ""), "module": "main",
                                    "name": "固件-h%s" % v.replace(".", ""),
                                    "description": "a + b & c",
                                    "signMethod": "MD5"})
        r = upload(api, v, img, q)
        checks.eq(r.status, 201, "h%s upload: 201" % v)
        fw = api.js(r) or {}
        checks.eq((fw.get("size"), fw.get("sha256"), fw.get("md5")),
                  (len(img), sha(img), hashlib.md5(img).hexdigest()),
                  "h%s upload: size, SHA-256, MD5" % v)
        checks.eq((fw.get("module"), fw.get("name"), fw.get("description"),
                   fw.get("signMethod"), fw.get("state")),
                  ("main", "固件-h%s" % v.replace(".", ""), "a + b & c",
                   "MD5", "UNVERIFIED"), "h%s upload: query decoded" % v)
        path = os.path.join(gw.state, "images", fw.get("id", "?"))
        data = open(path, "rb").read() if os.path.exists(path) else b""
        checks.eq((len(data), sha(data)), (len(img), sha(img)),
                  "h%s stored image: size and SHA-256" % v)
        fws[v] = fw.get("id")
        r = upload(api, v, img, q)
        is_error(api, r, 409, "conflict", "h%s duplicate version: 409" % v)

        before = images(gw)
        big = os.urandom(FW_MAX + 1)
        if v == "1.1":
            r = upload(api, v, big, "product=pf&version=big")
            is_error(api, r, 413, "too_large",
                     "h1.1 over firmware_max_size (Content-Length): 413")
        else:
            # curl 7.88 drops an HTTP/2 answer that arrives before it has
            # sent the whole body and is followed by RST_STREAM(NO_ERROR)
            # (RFC 9113 8.1 allows it); nghttp reads it.
            status = nghttp_upload(gw, big, "product=pf&version=big")
            checks.check(status in (413, None),
                         "h2 over firmware_max_size (Content-Length): 413 "
                         "(%r)" % status)
        checks.eq(images(gw), before, "h%s 413: nothing left in images/" % v)
        r = upload(api, v, b"", "product=pf&version=empty")
        is_error(api, r, 400, "bad_request", "h%s empty image: 400" % v)
        r = upload(api, v, b"x", "version=1")
        is_error(api, r, 400, "bad_request", "h%s missing product: 400" % v)
        r = upload(api, v, b"x", "product=pf&version=1&name=%20bad")
        is_error(api, r, 400, "bad_request", "h%s bad name: 400" % v)
    # a body without Content-Length that grows past the limit
    before = images(gw)
    r = upload(api, "1.1", os.urandom(FW_MAX + 4096),
               "product=pf&version=chunked",
               extra=["-H", "Transfer-Encoding: chunked"])
    is_error(api, r, 413, "too_large", "chunked body past the limit: 413")
    checks.eq(images(gw), before, "chunked 413: nothing left in images/")
    wait_for(lambda: not [n for n in os.listdir(os.path.join(
        gw.state, "images")) if not n.startswith("fw-")], 10,
        "no temporary image files")

    for v in ("2", "1.1"):
        r = api.req("GET", "/api/v1/firmware", v)
        items = (api.js(r) or {}).get("items", [])
        checks.check(r.status == 200 and sorted(fws.values()) ==
                     sorted(i["id"] for i in items) and
                     all("counts" in i for i in items),
                     "h%s firmware list with counts" % v)
        # paged in id order, by number; next is where the next page starts
        ids = [i["id"] for i in items]
        checks.eq(ids, sorted(ids, key=lambda i: int(i.split("-")[1])),
                  "h%s firmware list in id order, by number" % v)
        r = api.req("GET", "/api/v1/firmware?limit=1", v)
        page = api.js(r) or {}
        checks.eq(([i["id"] for i in page.get("items", [])],
                   page.get("next")), (ids[:1], ids[0]),
                  "h%s firmware list?limit=1: one, and next" % v)
        r = api.req("GET", "/api/v1/firmware?after=%s" % ids[0], v)
        page = api.js(r) or {}
        checks.eq(([i["id"] for i in page.get("items", [])],
                   page.get("next")), (ids[1:], None),
                  "h%s firmware list?after=: the rest, next null" % v)
        r = api.req("GET", "/api/v1/firmware?after=a%20b", v)
        is_error(api, r, 400, "bad_request", "h%s firmware list bad after"
                 % v)
        fid = fws[v]
        r = api.req("GET", "/api/v1/firmware/" + fid, v)
        c = (api.js(r) or {}).get("counts", {})
        checks.eq((r.status, c.get("total")), (200, 0),
                  "h%s firmware show with counts" % v)
        r = api.req("PATCH", "/api/v1/firmware/" + fid, v,
                    json.dumps({"name": "新名字", "description": ""}).encode(),
                    "application/json")
        fw = api.js(r) or {}
        checks.eq((r.status, fw.get("name"), fw.get("description")),
                  (200, "新名字", ""), "h%s PATCH name and description" % v)
        r = api.req("PATCH", "/api/v1/firmware/" + fid, v,
                    b'{"name":"(bad"}', "application/json")
        is_error(api, r, 400, "bad_request", "h%s PATCH bad name" % v)
        r = api.req("PATCH", "/api/v1/firmware/" + fid, v, b'{"size":1}',
                    "application/json")
        is_error(api, r, 400, "bad_request", "h%s PATCH unknown member" % v)
        r = api.req("GET", "/api/v1/firmware/fw-404", v)
        is_error(api, r, 404, "not_found", "h%s unknown firmware" % v)
    return fws


def test_jobs(api, gw, fws):
    for i in range(4):
        api.req("PUT", "/api/v1/devices/jd-%d" % i, "2",
                json.dumps({"product": "pf", "versions":
                            {"main": "1.0.0"}}).encode(), "application/json")
    fid = fws["2"]
    body = {"firmware": fid, "kind": "batch", "srcVersions": ["1.0.0"],
            "scope": "devices", "devices": ["jd-0", "jd-1", "jd-2"],
            "grayPercent": 10, "strategy": "static", "onlyNewReports": False,
            "confirm": "user", "start": None, "end": None,
            "ratePerMinute": 100, "retry": {"count": 2,
                                            "intervalMinutes": 5},
            "timeoutMinutes": 60, "override": False,
            "abort": {"failurePercent": 50, "minDevices": 2},
            "force": True}
    r = api.req("POST", "/api/v1/jobs", "2", json.dumps(body).encode(),
                "application/json")
    checks.eq(r.status, 201, "create job with the full body: 201")
    job = api.js(r) or {}
    jid = job.get("id", "?")
    checks.eq((job.get("firmware"), job.get("kind"), job.get("scope"),
               job.get("confirm"), job.get("srcVersions"),
               job.get("ratePerMinute"), job.get("retry"),
               job.get("timeoutMinutes"), job.get("abort")),
              (fid, "batch", "devices", "user", ["1.0.0"], 100,
               {"count": 2, "intervalMinutes": 5}, 60,
               {"failurePercent": 50, "minDevices": 2}),
              "the job echoes its body")
    checks.eq((job.get("counts") or {}).get("WAIT_CONFIRM"), 3,
              "three devices wait for confirmation")
    checks.eq((job.get("selection") or {}).get("added"), 3,
              "selection: 3 added")

    for v in ("2", "1.1"):
        r = api.req("GET", "/api/v1/jobs", v)
        checks.check(jid in [j["id"] for j in
                             (api.js(r) or {}).get("items", [])],
                     "h%s job list" % v)
        r = api.req("GET", "/api/v1/jobs?limit=1", v)
        page = api.js(r) or {}
        checks.eq(([j["id"] for j in page.get("items", [])],
                   page.get("next")), (["j-1"], None),
                  "h%s job list?limit=1: j-1, the only job" % v)
        r = api.req("GET", "/api/v1/jobs?after=j-1&limit=1000", v)
        checks.eq(((api.js(r) or {}).get("items"),
                   (api.js(r) or {}).get("next", "?")), ([], None),
                  "h%s job list?after=j-1: an empty last page" % v)
        r = api.req("GET", "/api/v1/jobs/" + jid, v)
        checks.eq(((api.js(r) or {}).get("counts") or {}).get("total"), 3,
                  "h%s job show with counts" % v)
        r = api.req("GET", "/api/v1/jobs/%s/devices?state=WAIT_CONFIRM" %
                    jid, v)
        checks.eq([x["device"] for x in (api.js(r) or {}).get("items", [])],
                  ["jd-0", "jd-1", "jd-2"], "h%s devices?state=" % v)
        r = api.req("GET", "/api/v1/jobs/%s/devices?state=bogus" % jid, v)
        is_error(api, r, 400, "bad_request", "h%s unknown state" % v)
        r = api.req("GET", "/api/v1/jobs/%s/devices?after=a%%20b" % jid, v)
        is_error(api, r, 400, "bad_request", "h%s devices?after= not a "
                 "device id" % v)
        r = api.req("GET", "/api/v1/jobs/j-404", v)
        is_error(api, r, 404, "not_found", "h%s unknown job" % v)

    r = api.req("POST", "/api/v1/jobs/%s/devices/jd-0/confirm" % jid, "2")
    checks.eq((r.status, (api.js(r) or {}).get("state")), (200, "QUEUED"),
              "confirm: QUEUED")
    r = api.req("POST", "/api/v1/jobs/%s/devices/jd-1/cancel" % jid, "1.1")
    checks.eq((r.status, (api.js(r) or {}).get("state")), (200, "CANCELED"),
              "cancel: CANCELED")
    r = api.req("POST", "/api/v1/jobs/%s/devices/jd-1/retry" % jid, "2")
    is_error(api, r, 409, "conflict", "retry of a canceled row: 409")
    r = api.req("POST", "/api/v1/jobs/%s/devices/jd-9/confirm" % jid, "2")
    checks.eq(r.status, 404, "confirm of a device not in the job: 404")

    r = api.req("DELETE", "/api/v1/firmware/" + fid, "2")
    is_error(api, r, 409, "conflict", "firmware delete while a job is open")

    bads = [({"kind": "batch"}, "no firmware"),
            (dict(body, srcVersion=["1"]), "unknown member"),
            (dict(body, ratePerMinute="10"), "wrong type"),
            (dict(body, confirm="maybe"), "bad enum"),
            (dict(body, start="tomorrow"), "bad time"),
            (dict(body, retry=3), "retry not an object"),
            (dict(body, timeoutMinutes=2), "timeout out of range")]
    for b, what in bads:
        r = api.req("POST", "/api/v1/jobs", "1.1", json.dumps(b).encode(),
                    "application/json")
        is_error(api, r, 400, "bad_request", "job body: " + what)
    r = api.req("POST", "/api/v1/jobs", "2",
                json.dumps(dict(body, firmware="fw-404")).encode(),
                "application/json")
    is_error(api, r, 404, "not_found", "job for an unknown firmware")
    r = api.req("POST", "/api/v1/jobs", "2",
                json.dumps({"firmware": fws["1.1"]}).encode(),
                "application/json")
    checks.eq(r.status, 409, "a batch of unverified firmware without "
              "force: 409")

    r = api.req("POST", "/api/v1/jobs/%s/terminate" % jid, "1.1")
    j = api.js(r) or {}
    checks.eq((r.status, j.get("state")), (200, "TERMINATED"),
              "terminate: TERMINATED")
    r = api.req("POST", "/api/v1/jobs/%s/terminate" % jid, "2")
    checks.eq(r.status, 409, "terminate twice: 409")
    r = api.req("DELETE", "/api/v1/firmware/" + fid, "1.1")
    checks.eq(r.status, 204, "firmware delete once the job ended: 204")
    checks.check(fid not in images(gw), "the image file is gone")
    return jid


def scrape(api):
    """GET /metrics; returns (response, {sample: value}, [bad lines])."""
    r = api.req("GET", "/metrics", "2")
    text = r.body.decode()
    samples, typed, bad = {}, set(), []
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
            continue
        if line.startswith("#") or not line:
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$', line)
        if not m:
            bad.append(line)
            continue
        samples[m.group(1) + (m.group(2) or "")] = float(m.group(3))
        if m.group(1) not in typed:
            bad.append("no TYPE before " + line)
    return r, samples, bad


def test_metrics(api):
    r, samples, bad = scrape(api)
    checks.eq(r.status, 200, "/metrics: 200")
    checks.check((r.h("content-type") or "").startswith("text/plain"),
                 "/metrics is text/plain")
    checks.eq(bad, [], "every sample line is Prometheus text")
    p = subprocess.run([OTACTL, "--state", api.gw.state, "--json", "device",
                        "list"], capture_output=True, timeout=60)
    ndev = len(json.loads(p.stdout)["items"])
    checks.eq(samples.get("otagw_devices"), float(ndev),
              "otagw_devices counts the devices")
    checks.eq(samples.get('otagw_jobs{state="TERMINATED"}'), 1.0,
              "otagw_jobs counts the terminated job")
    checks.check(samples.get("otagw_admin_requests_total", 0) > 50,
                 "admin request counter moves")
    checks.check(samples.get('otagw_admin_responses_total{code="4xx"}', 0)
                 > 0, "4xx answers are counted")
    checks.check(samples.get("otagw_admin_auth_failures_total", 0) >= 4,
                 "401s are counted")
    checks.check("otagw_outbox_depth" in samples and
                 "otagw_outbox_last_seq" in samples,
                 "outbox figures present")
    checks.eq(samples.get("otagw_store_up"), 1.0, "store up")


def all_stopped(pid, timeout=5.0):
    """True once every thread of pid is in the stopped state."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = []
        for t in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/stat" % (pid, t)) as f:
                    states.append(f.read().rsplit(")", 1)[1].split()[0])
            except OSError:
                pass
        if states and all(s in ("T", "t") for s in states):
            return True
        time.sleep(0.005)
    return False


def test_coap_batches(api, gw):
    """Datagrams that wait while otagw is stopped are read in one call and
    answered in one; /metrics shows both."""
    _, m0, _ = scrape(api)
    checks.check(m0.get("otagw_workers", 0) >= 1, "otagw_workers")
    checks.eq(m0.get("otagw_coap_endpoints"), m0.get("otagw_workers"),
              "one coap socket per worker")
    n = 20
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    tokens = [os.urandom(4) for _ in range(n)]
    gw.proc.send_signal(signal.SIGSTOP)
    try:
        # kill() returns before every thread has stopped: a worker still
        # running would read the first datagrams on its own
        checks.check(all_stopped(gw.proc.pid), "the daemon is stopped")
        for i, tok in enumerate(tokens):
            sock.sendto(coap_encode(COAP_CON, 1, 0x1000 + i, tok,
                                    [(OPT_URI_PATH, b"nope%d" % i)]),
                        ("127.0.0.1", gw.coap_port))
    finally:
        gw.proc.send_signal(signal.SIGCONT)
    answers = {}
    sock.settimeout(5)
    try:
        while len(answers) < n:
            m = coap_decode(sock.recv(2048))
            if m is not None:
                answers[m[3]] = m
    except socket.timeout:
        pass
    sock.close()
    checks.eq(len(answers), n, "every one of %d waiting requests answered"
              % n)
    checks.check(all(answers.get(t) is not None and
                     answers[t][0] == COAP_ACK and answers[t][1] == "4.04"
                     and answers[t][2] == 0x1000 + i
                     for i, t in enumerate(tokens)),
                 "each got its own 4.04, piggybacked on its ACK")
    _, m1, _ = scrape(api)

    def delta(name):
        return m1.get(name, 0) - m0.get(name, 0)
    checks.check(delta("otagw_coap_datagrams_received_total") >= n,
                 "received datagrams counted")
    checks.check(1 <= delta("otagw_coap_receive_calls_total") <= 2,
                 "%d waiting datagrams read in one or two calls (%d)" %
                 (n, delta("otagw_coap_receive_calls_total")))
    checks.check(delta("otagw_coap_datagrams_sent_total") >= n,
                 "sent datagrams counted")
    checks.check(1 <= delta("otagw_coap_send_calls_total") <= 2,
                 "their %d answers sent in one or two calls (%d)" %
                 (n, delta("otagw_coap_send_calls_total")))
    checks.eq(delta("otagw_coap_send_errors_total"), 0, "no send errors")


def test_otactl(api, gw, jid):
    cmds = [("device", "list"), ("device", "list", "--limit", "3"),
            ("device", "list", "--limit", "2", "--after", "imp2-1"),
            ("device", "list", "--product", "pg", "--version", "1.0.1"),
            ("device", "show", "pg-01"), ("device", "show", "imp2-2"),
            ("firmware", "list"), ("firmware", "list", "--limit", "1"),
            ("job", "list"), ("job", "list", "--limit", "1"),
            ("job", "list", "--after", "j-1"), ("job", "show", jid),
            ("job", "devices", jid), ("job", "devices", jid, "--limit", "2"),
            ("job", "devices", jid, "--state", "CANCELED"),
            ("relay", "status"), ("device", "show", "nope")]
    for c in cmds:
        for j in ((), ("--json",)):
            s, u = otactl_both(gw, *(j + c))
            what = "otactl %s: --url == --state" % " ".join(j + c)
            checks.check(s.stdout == u.stdout and
                         s.returncode == u.returncode and
                         s.stderr == u.stderr,
                         what + ("" if s.stdout == u.stdout else
                                 " (%r vs %r)" % (s.stdout[:200],
                                                  u.stdout[:200])))
            if j and s.returncode == 0:
                try:
                    doc = json.loads(s.stdout)
                except ValueError:
                    doc = None
                checks.check(doc is not None, "otactl %s: one JSON "
                             "document" % " ".join(j + c))
                if c[1] in ("list", "devices"):
                    checks.check(isinstance(doc, dict) and
                                 set(doc) == {"items", "next"},
                                 "otactl %s: {items, next}" %
                                 " ".join(j + c))
    bad = os.path.join(gw.tmp, "both.csv")
    with open(bad, "w") as f:
        f.write("".join("pz,zz %d\n" % i for i in range(120)) +
                "pz,ok-1,s,0x\n")
    for j in ((), ("--json",)):
        s, u = otactl_both(gw, *(j + ("device", "import", bad)))
        checks.check(s.returncode == u.returncode == 1 and
                     s.stdout == u.stdout == b"" and s.stderr == u.stderr,
                     "otactl %s device import of 121 bad lines: --url == "
                     "--state (%r vs %r)" % (" ".join(j), s.stderr[-120:],
                                             u.stderr[-120:]))
        checks.eq(s.stderr.decode().splitlines()[-1],
                  "otactl: and 21 more bad lines", "otactl device import: "
                  "100 bad lines, then the count")
    s, _ = otactl_both(gw, "--json", "job", "devices", jid, "--limit", "2")
    d = json.loads(s.stdout)
    checks.eq(d["next"], d["items"][-1]["device"],
              "job devices --json --limit 2: the cursor is the last device")
    # the download URL key over the API
    p = otactl_url("url-key", "rotate")
    checks.check(p.returncode == 0 and "until they expire" in p.stdout,
                 "otactl --url url-key rotate (%s)" % p.stderr.strip())
    p = otactl_url("--json", "url-key", "rotate", "--drop-previous")
    checks.check(p.returncode == 0 and '"previousKeys":0' in p.stdout,
                 "otactl --url --json url-key rotate --drop-previous (%s)" %
                 p.stdout.strip())
    r = api.req("POST", "/api/v1/url-key/rotate?dropPrevious=maybe", "2")
    is_error(api, r, 400, "bad_request", "url-key rotate ?dropPrevious=maybe")
    # writes over the API
    p = otactl_url("device", "put", "ctl-1", "--product", "pc", "--secret",
                   "x", "--version", "boot=1.0", "--version", "4.0")
    checks.check(p.returncode == 0 and
                 p.stdout.strip().splitlines()[-1] == "ctl-1",
                 "otactl --url device put (%s)" % p.stderr.strip())
    img = os.path.join(gw.tmp, "ctl.bin")
    data = os.urandom(70000)
    with open(img, "wb") as f:
        f.write(data)
    p = otactl_url("firmware", "add", img, "--product", "pc", "--version",
                   "5.0", "--description", "50% + more")
    fid = p.stdout.strip().splitlines()[-1] if p.returncode == 0 else ""
    checks.check(fid.startswith("fw-"), "otactl --url firmware add (%s)" %
                 p.stderr.strip())
    p = subprocess.run([OTACTL, "--url", base, "--token-file", token_path,
                        "--ca", pki.ca[0], "--json", "firmware", "add", "-",
                        "--product", "pc", "--version", "5.1"],
                       input=data, capture_output=True, timeout=60)
    checks.check(p.returncode == 0 and json.loads(
        p.stdout.decode()).get("sha256") == sha(data),
        "otactl --url --json firmware add - (standard input): one "
        "document")
    p = otactl_url("job", "create", "--firmware", fid, "--verify",
                   "--devices", "ctl-1,nosuch")
    checks.check(p.returncode == 1 and "nosuch" in p.stderr,
                 "otactl --url job create: the daemon's error (%s)" %
                 p.stderr.strip())
    p = otactl_url("job", "create", "--firmware", fid, "--verify",
                   "--devices", "ctl-1", "--confirm", "--retry", "1")
    lines = p.stdout.strip().splitlines()
    checks.check(p.returncode == 0 and len(lines) == 2 and
                 lines[0].startswith("job j-") and
                 lines[0].endswith("created: RUNNING verify of pc/default "
                                   "to 5.0, 1 devices") and
                 lines[1].startswith("j-"),
                 "otactl --url job create (%r %s)" % (p.stdout,
                                                     p.stderr.strip()))
    jid2 = lines[-1] if lines else "?"
    p = otactl_url("job", "confirm", jid2, "ctl-1")
    checks.eq(p.stdout, "job %s device ctl-1: QUEUED (offline)\n" % jid2,
              "otactl --url job confirm")
    p = otactl_url("job", "terminate", jid2)
    checks.check(p.returncode == 0 and "TERMINATED" in p.stdout,
                 "otactl --url job terminate")
    p = otactl_url("firmware", "edit", fid, "--name", "ctl_5")
    checks.check(p.returncode == 0 and "ctl_5" in p.stdout,
                 "otactl --url firmware edit")
    p = otactl_url("firmware", "rm", fid)
    checks.eq(p.stdout, "firmware %s removed\n" % fid,
              "otactl --url firmware rm")
    p = otactl_url("device", "rm", "ctl-1")
    checks.eq(p.stdout, "device ctl-1 removed\n", "otactl --url device rm")
    p = subprocess.run([OTACTL, "--url", base, "--token-file", token_path,
                        "--ca", os.path.join(gw.tmp, "pki", "server.pem"),
                        "device", "list"], capture_output=True, text=True,
                       timeout=60)
    checks.check(p.returncode == 1 and "TLS" in p.stderr,
                 "otactl --url with the wrong CA fails clearly (%s)" %
                 p.stderr.strip())
    bad = os.path.join(gw.tmp, "bad.token")
    with open(bad, "w") as f:
        f.write("nottoken\n")
    p = subprocess.run([OTACTL, "--url", base, "--token-file", bad, "--ca",
                        pki.ca[0], "device", "list"], capture_output=True,
                       text=True, timeout=60)
    checks.check(p.returncode == 1 and "401" in p.stderr,
                 "otactl --url with a wrong token: 401 (%s)" %
                 p.stderr.strip())


def test_fetch(api, gw):
    """Firmware by URL through nghttpx in front of a Python backend."""
    image = os.urandom(200000)

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_GET(self):
            if self.path != "/image.bin":
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(image)))
            self.end_headers()
            self.wfile.write(image)

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    port = free_port(socket.SOCK_STREAM)
    log = os.path.join(gw.tmp, "nghttpx.log")
    proxy = subprocess.Popen(
        [NGHTTPX, "--conf=/dev/null", "--single-process",
         "-f127.0.0.1,%d" % port, "-b127.0.0.1,%d" % srv.server_address[1],
         "--no-ocsp", "--errorlog-file=" + log, "--accesslog-file=/dev/null",
         pki.server[1], pki.server[0]],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def up():
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                return True
            except OSError:
                return proxy.poll() is not None
        wait_for(up, 10, "nghttpx listening")
        url = "https://localhost:%d/image.bin" % port
        q = urllib.parse.urlencode({"product": "pu", "version": "7.0",
                                    "url": url, "sha256": sha(image)})
        r = api.req("POST", "/api/v1/firmware?" + q, "2", b"")
        checks.eq(r.status, 202, "fetch by URL: 202")
        loc = r.h("location") or ""
        checks.check(loc.startswith("/api/v1/firmware/fetches/"),
                     "fetch: Location to poll (%r)" % loc)
        res = {}

        def done():
            rr = api.req("GET", loc, "1.1")
            res["r"] = rr
            return rr.status != 202
        wait_for(done, 60, "fetch finished", interval=0.2)
        r = res["r"]
        fw = api.js(r) or {}
        checks.eq((r.status, fw.get("size"), fw.get("sha256")),
                  (201, len(image), sha(image)), "fetch: 201 with the image")
        path = os.path.join(gw.state, "images", fw.get("id", "?"))
        data = open(path, "rb").read() if os.path.exists(path) else b""
        checks.eq(sha(data), sha(image), "fetched image stored intact")
        q = urllib.parse.urlencode({"product": "pu", "version": "7.1",
                                    "url": url, "sha256": "00" * 32})
        r = api.req("POST", "/api/v1/firmware?" + q, "2", b"")
        loc = r.h("location") or ""
        wait_for(done, 60, "bad-digest fetch finished", interval=0.2)
        checks.eq(res["r"].status, 400, "fetch with a wrong digest: 400")
        p = otactl_url("firmware", "add", "--url", url, "--sha256",
                       sha(image), "--product", "pu", "--version", "7.2")
        checks.check(p.returncode == 0 and
                     p.stdout.strip().splitlines()[-1].startswith("fw-"),
                     "otactl --url firmware add --url (%s)" %
                     p.stderr.strip()[-300:])
    finally:
        proxy.kill()
        proxy.wait()
        srv.shutdown()
        srv.server_close()


def test_sighup(api, gw):
    global token
    new = os.urandom(24).hex()
    with open(token_path, "w") as f:
        f.write(new + "\n")
    gw.proc.send_signal(signal.SIGHUP)
    old = api.token

    def switched():
        return api.req("GET", "/healthz", "2").status == 200 and \
            api.req("GET", "/api/v1/relay", "2",
                    auth="Bearer " + old).status == 401
    wait_for(switched, 10, "the new token after SIGHUP")
    api.token = new
    token = new
    r = api.req("GET", "/api/v1/relay", "2")
    checks.eq(r.status, 200, "SIGHUP: the new token works")
    checks.check(new not in gw.log() and old not in gw.log(),
                 "tokens never appear in the log")


def test_refusals():
    for what, content in (("missing", None), ("empty", "\n")):
        t = tempfile.mkdtemp(prefix="otagw-admin-bad-", dir=tmp)
        tok = os.path.join(t, "admin.token")
        if content is not None:
            with open(tok, "w") as f:
                f.write(content)
        s = dict(settings, admin_listen="127.0.0.1:%d" %
                 free_port(socket.SOCK_STREAM), admin_token_file=tok)
        g = Gateway(coaps=False, extra=s, tmp=t)
        try:
            g.start()
            checks.check(False, "%s token file: otagw refuses to start" %
                         what)
            g.stop()
        except RuntimeError:
            checks.check(g.proc.returncode != 0 and "token" in g.log(),
                         "%s token file: otagw refuses to start, saying "
                         "why" % what)
    t = tempfile.mkdtemp(prefix="otagw-admin-any-", dir=tmp)
    s = dict(settings, admin_listen="0.0.0.0:%d" %
             free_port(socket.SOCK_STREAM))
    with Gateway(coaps=False, extra=s, tmp=t) as g:
        checks.check("not a loopback" in g.log(),
                     "a non-loopback admin_listen is warned about")


with Gateway(coap=True, coaps=False, extra=settings, tmp=tmp) as gw:
    api = Api(gw)
    test_auth(api)
    test_devices(api)
    test_import(api, gw)
    fws = test_firmware(api, gw)
    jid = test_jobs(api, gw, fws)
    test_metrics(api)
    test_coap_batches(api, gw)
    test_otactl(api, gw, jid)
    if NGHTTPX:
        s = dict(settings, upstream_ca=pki.ca[0])
        gw.extra = s
        gw.write_conf()
        gw.stop()
        gateway_restart(gw)
        test_fetch(api, gw)
    else:
        print("nghttpx not installed: firmware by URL not tested")
    test_sighup(api, gw)
    checks.check(gw.alive(), "otagw still running")
test_refusals()
shutil.rmtree(tmp, ignore_errors=True)
checks.done()
