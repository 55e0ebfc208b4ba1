# SPDX-License-Identifier: BSD-2-Clause
"""test_https_bad: authentication failures and malformed requests on the
HTTPS device listener (CONTRACT §2, docs/device-auth.md).

- no credentials: 401 with WWW-Authenticate: Bearer (check, progress,
  download); a wrong secret, another device's secret, an unknown device:
  401; a bearer download without X-Device-Id or ?device=: 401.
- another device's identity: 403 (client certificate of another device on
  its path; X-Device-Id that differs from the certificate's CN); firmware
  not offered to the device: 403; unknown firmware: 404.
- a client certificate from an unknown CA: refused (handshake failure or
  401), never accepted.
- malformed: bad JSON 400, a body over max_body 413, unknown path 404,
  wrong method 405 with Allow, bad ids 400, bad Range ignored, huge headers
  refused, garbage on the wire; every error body is JSON {"error",
  "message"}, and the gateway keeps serving.
"""

import json
import os
import shutil
import socket
import ssl
import sys
import tempfile

from otagw_harness import (Checks, Pki, curl_request, https_gateway,
                           make_ca, make_cert)

checks = Checks()

for tool in ("curl", "openssl"):
    if shutil.which(tool) is None:
        print("%s not installed: skipping" % tool)
        sys.exit(77)


def is_json_error(r):
    try:
        j = json.loads(r.body)
    except ValueError:
        return False
    return isinstance(j, dict) and "error" in j and "message" in j


def main():
    pki_dir = tempfile.mkdtemp(prefix="otagw-pki-")
    pki = Pki(pki_dir, devices=("d1", "d2", "dx"))
    rogue_ca = make_ca(pki_dir, "rogue", "rogue CA")
    rogue = make_cert(pki_dir, "rogue-d1", "d1", rogue_ca)
    gwp = https_gateway(pki)
    try:
        with gwp as gw:
            run(gw, pki, rogue)
    finally:
        shutil.rmtree(pki_dir, ignore_errors=True)
    checks.done()


def run(gw, pki, rogue):
    s1, s2 = "secret-one-" + os.urandom(4).hex(), "secret-two"
    gw.otactl("device", "put", "d1", "--product", "p", "--secret", s1,
              "--version", "1.0.0", check=True)
    gw.otactl("device", "put", "d2", "--product", "p", "--secret", s2,
              "--version", "1.0.0", check=True)
    gw.otactl("device", "put", "dx", "--product", "p", "--version", "1.0.0",
              check=True)
    img = os.urandom(5000)
    fw = gw.add_firmware(img)
    gw.otactl_id("job", "create", "--firmware", fw, "--devices", "d1",
                 "--force")
    url = gw.https_url
    ca = pki.ca[0]
    check_body = json.dumps({"versions": {"default": "1.0.0"}}).encode()

    def req(path, method="GET", headers=(), data=None, cert=None,
            http="2", extra=()):
        return curl_request(url + path, method, http, list(headers), data,
                            ca, cert, None, extra, tmpdir=gw.tmp)

    for http in ("2", "1.1"):
        tag = "h2" if http == "2" else "h1.1"
        # none
        for p, m, d in (("/ota/d1/check", "POST", check_body),
                        ("/ota/d1/progress", "POST", b'{"job":"x","step":1}'),
                        ("/fw/" + fw, "GET", None)):
            r = req(p, m, data=d, http=http)
            checks.eq(r.status, 401, "%s: no credentials %s -> 401" % (tag, p))
            checks.check((r.h("www-authenticate") or "").startswith("Bearer"),
                         "%s: 401 has WWW-Authenticate: Bearer" % tag)
            checks.check(is_json_error(r), "%s: 401 body is a JSON error"
                         % tag)
        # wrong secret, another device's secret, unknown device
        for who, secret, p in (("wrong secret", "nope", "/ota/d1/check"),
                               ("d2's secret", s2, "/ota/d1/check"),
                               ("unknown device", s1, "/ota/zz/check")):
            r = req(p, "POST", ["Authorization: Bearer " + secret],
                    check_body, http=http)
            checks.eq(r.status, 401, "%s: %s -> 401" % (tag, who))
        r = req("/ota/d1/check", "POST", ["Authorization: Basic Zm9vOmJhcg=="],
                check_body, http=http)
        checks.eq(r.status, 401, "%s: Basic instead of Bearer -> 401" % tag)
        r = req("/ota/d1/check", "POST", ["Authorization: Bearer"],
                check_body, http=http)
        checks.eq(r.status, 401, "%s: empty bearer token -> 401" % tag)
        # downloads with a bearer token
        r = req("/fw/" + fw, headers=["Authorization: Bearer " + s1],
                http=http)
        checks.eq(r.status, 401, "%s: bearer download without the device "
                  "-> 401" % tag)
        r = req("/fw/" + fw, headers=["Authorization: Bearer " + s2,
                                      "X-Device-Id: d1"], http=http)
        checks.eq(r.status, 401, "%s: d2's secret as d1 -> 401" % tag)
        r = req("/fw/" + fw, headers=["Authorization: Bearer " + s2,
                                      "X-Device-Id: d2"], http=http)
        checks.eq(r.status, 403, "%s: d2 downloading what it was not "
                  "offered -> 403" % tag)
        checks.check(is_json_error(r), "%s: 403 body is a JSON error" % tag)
        r = req("/fw/fw-none", headers=["Authorization: Bearer " + s1,
                                        "X-Device-Id: d1"], http=http)
        checks.eq(r.status, 404, "%s: unknown firmware -> 404" % tag)
        r = req("/fw/%s?device=d2" % fw, headers=[
            "Authorization: Bearer " + s1, "X-Device-Id: d1"], http=http)
        checks.eq(r.status, 400, "%s: X-Device-Id and ?device= differ -> "
                  "400" % tag)
        # client certificates
        r = req("/ota/d1/check", "POST", data=check_body,
                cert=pki.client["d2"], http=http)
        checks.eq(r.status, 403, "%s: d2's certificate on d1's path -> 403"
                  % tag)
        r = req("/fw/" + fw, cert=pki.client["d2"], http=http)
        checks.eq(r.status, 403, "%s: d2's certificate downloading -> 403"
                  % tag)
        r = req("/fw/" + fw, headers=["X-Device-Id: d1"],
                cert=pki.client["d2"], http=http)
        checks.eq(r.status, 403, "%s: X-Device-Id other than the CN -> 403"
                  % tag)
        r = req("/ota/d1/check", "POST", ["Authorization: Bearer " + s1],
                check_body, cert=pki.client["d2"], http=http)
        checks.eq(r.status, 403, "%s: bearer for d1 with d2's certificate "
                  "-> 403" % tag)
        r = req("/ota/d1/check", "POST", data=check_body, cert=rogue,
                http=http)
        checks.check(r.status in (0, 401) and r.status != 200,
                     "%s: a certificate from an unknown CA is refused "
                     "(status %r)" % (tag, r.status))
        r = req("/ota/d1/check", "POST", data=check_body,
                cert=pki.client["d1"], http=http)
        checks.eq(r.status, 200, "%s: d1's own certificate -> 200" % tag)

        # malformed requests
        auth = ["Authorization: Bearer " + s1]
        for body, what in ((b"{", "truncated JSON"), (b"[1,2]", "array"),
                           (b'{"versions":5}', "bad versions"),
                           (b"\xff\xfe", "not UTF-8")):
            r = req("/ota/d1/check", "POST", auth, body, http=http)
            checks.eq(r.status, 400, "%s: check with %s -> 400" % (tag, what))
            checks.check(is_json_error(r), "%s: 400 body is a JSON error"
                         % tag)
        r = req("/ota/d1/progress", "POST", auth, b'{"job":"nope","step":500}',
                http=http)
        checks.check(r.status in (400, 404), "%s: bad progress -> 4xx (%d)"
                     % (tag, r.status))
        # refused at its head, answered after the body (no reset)
        r = req("/ota/d1/check", "POST", auth, b" " * 4096, http=http)
        checks.eq(r.status, 413, "%s: body over max_body -> 413" % tag)
        r = req("/nothing", headers=auth, http=http)
        checks.eq(r.status, 404, "%s: unknown path -> 404" % tag)
        r = req("/ota/d1/check", "GET", auth, http=http)
        checks.eq((r.status, r.h("allow")), (405, "POST"),
                  "%s: GET on check -> 405 Allow: POST" % tag)
        r = req("/fw/" + fw, "DELETE", auth, http=http)
        checks.eq(r.status, 405, "%s: DELETE on /fw/ -> 405" % tag)
        r = req("/ota/bad%20id/check", "POST", auth, check_body, http=http)
        checks.eq(r.status, 400, "%s: invalid device id in the path -> 400"
                  % tag)
        r = req("/ota/d1%zz/check", "POST", auth, check_body, http=http)
        checks.eq(r.status, 400, "%s: bad percent-escape -> 400" % tag)
        r = req("/ota/%s/check" % ("d" * 65), "POST", auth, check_body,
                http=http)
        checks.eq(r.status, 400, "%s: a 65-character device id -> 400" % tag)
        r = req("/fw/" + fw, headers=auth + ["X-Device-Id: d1",
                                             "Range: bytes=9-1"], http=http)
        checks.eq((r.status, r.body), (200, img),
                  "%s: bad Range syntax ignored -> 200 whole" % tag)
        r = req("/fw/" + fw, headers=auth + ["X-Device-Id: bad id!"],
                http=http)
        checks.eq(r.status, 400, "%s: bad X-Device-Id -> 400" % tag)
        r = req("/ota/d1/check", "POST", auth + ["X-Big: " + "a" * 60000],
                check_body, http=http)
        checks.check(r.status != 200,
                     "%s: a 60 KB header is refused (status %r, rc %r)" %
                     (tag, r.status, r.rc))

    # raw garbage and a half request over TLS without ALPN
    ctx = ssl.create_default_context(cafile=ca)
    for junk in (b"\x00\x01\x02garbage\r\n\r\n",
                 b"GET /fw/x HTTP/1.1\r\nHost: a\r\nBad Header\r\n\r\n",
                 b"GET /fw/x HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
                 b"POST /ota/d1/check HTTP/1.1\r\nHost: a\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\nzz\r\n"):
        try:
            with socket.create_connection(("127.0.0.1", gw.https_port),
                                          timeout=10) as raw:
                with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                    s.sendall(junk)
                    data = b""
                    try:
                        while True:
                            chunk = s.recv(4096)
                            if not chunk:
                                break
                            data += chunk
                            if b"\r\n\r\n" in data:
                                break
                    except (socket.timeout, ssl.SSLError, OSError):
                        pass
            checks.check(data == b"" or data.startswith(b"HTTP/1.1 4"),
                         "garbage %r: a 4xx or a close (%r)" % (junk[:20],
                                                                data[:40]))
        except OSError as e:
            checks.check(False, "garbage %r: %s" % (junk[:20], e))
    # a TCP client that never speaks TLS is dropped without harm
    with socket.create_connection(("127.0.0.1", gw.https_port), timeout=10) \
            as raw:
        raw.sendall(b"GET / HTTP/1.1\r\n\r\n")
        try:
            raw.recv(100)
        except OSError:
            pass
    r = req("/ota/d1/check", "POST", ["Authorization: Bearer " + s1],
            check_body)
    checks.eq(r.status, 200, "the gateway still serves after all of this")
    checks.check(gw.alive(), "the gateway is alive")
    checks.check(s1 not in gw.log() and s2 not in gw.log(),
                 "no secret in the log")


main()
