# SPDX-License-Identifier: BSD-2-Clause
"""test_http_strict: HTTP/1.1 as RFC 9112 asks and HTTP/2 as h2spec checks
it, on both HTTPS listeners (device and admin), with raw bytes over TLS.

HTTP/1.1 (no ALPN, Python ssl sockets): white space before a field's colon,
a request line without a version (HTTP/0.9), two Authorization fields, two
Host fields, Content-Length with Transfer-Encoding, two Content-Lengths,
obs-fold and Transfer-Encoding in HTTP/1.0 get 400; HTTP/9.9 gets 505; a
transfer coding other than chunked gets 501.  Each answer has its status, a
JSON {"error","message"} body and closes the connection; HTTP/1.0 and
HTTP/1.1 stay accepted and the listener keeps serving.  A refused request
with a small body is answered after the body, on a connection that stays
open; one that announces more than 1 MiB is answered at once and closed.

HTTP/2 (hand-built frames, H2Raw in otagw_harness): a request whose
HEADERS lack END_STREAM is answered only after its DATA ends the stream,
also when it is refused (401, 404, 405), with no RST_STREAM; a body of
more than 1 MiB refused early gets the whole response and only then
RST_STREAM(NO_ERROR).  h2spec-style errors: DATA on stream 0, a pad length
past the payload (GOAWAY PROTOCOL_ERROR); an upper-case field name, an
unknown or late pseudo-header, an empty :path, a connection-specific field,
"te: gzip", trailers without END_STREAM, a Content-Length the DATA does
not match (RST_STREAM or GOAWAY PROTOCOL_ERROR, never an answer); DATA
after END_STREAM (STREAM_CLOSED).  Nothing is stored from any of these.
"""

import json
import os
import shutil
import socket
import ssl
import sys
import tempfile
import time

from otagw_harness import (H2_CONTINUATION, H2_DATA, H2_END_HEADERS,
                           H2_END_STREAM, H2_GOAWAY, H2_HEADERS, H2_NO_ERROR,
                           H2_PADDED, H2_PROTOCOL_ERROR, H2_RST_STREAM,
                           H2_STREAM_CLOSED, Checks, H2Raw, Pki, curl_request,
                           free_port, hpack_literal, hpack_status,
                           https_gateway)

checks = Checks()

for tool in ("curl", "openssl"):
    if shutil.which(tool) is None:
        print("%s not installed: skipping" % tool)
        sys.exit(77)


# HTTP/1.1 ------------------------------------------------------------------

def h1_open(port, ca):
    ctx = ssl.create_default_context(cafile=ca)
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def h1_read_response(s, timeout=10):
    """(status, headers dict, body, closed): one response, then whether
    the server closed the connection right after it."""
    s.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        try:
            chunk = s.recv(65536)
        except (OSError, ssl.SSLError):
            return 0, {}, data, False
        if not chunk:
            return 0, {}, data, True
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for line in lines[1:]:
        n, _, v = line.partition(":")
        hdrs[n.strip().lower()] = v.strip()
    want = int(hdrs.get("content-length", "0"))
    while len(body) < want:
        try:
            chunk = s.recv(65536)
        except (OSError, ssl.SSLError):
            break
        if not chunk:
            break
        body += chunk
    closed = False
    if hdrs.get("connection") == "close":
        try:
            s.settimeout(5)
            closed = s.recv(1) == b""
        except (OSError, ssl.SSLError):
            closed = True
    return status, hdrs, body, closed


def nothing_within(s, seconds):
    """True when no byte arrives within seconds."""
    s.settimeout(seconds)
    try:
        s.recv(1)
    except (socket.timeout, ssl.SSLWantReadError):
        return True
    except (OSError, ssl.SSLError):
        pass
    return False


def json_error(body):
    try:
        j = json.loads(body)
    except ValueError:
        return False
    return isinstance(j, dict) and isinstance(j.get("error"), str) and \
        isinstance(j.get("message"), str) and j["message"] != ""


H1_CASES = [
    ("white space before the colon", b"GET /x HTTP/1.1\r\nHost : a\r\n\r\n",
     400),
    ("a tab before the colon", b"GET /x HTTP/1.1\r\nHost\t: a\r\n\r\n", 400),
    ("HTTP/9.9", b"GET /x HTTP/9.9\r\nHost: a\r\n\r\n", 505),
    ("HTTP/2.0 in an HTTP/1 request line",
     b"GET /x HTTP/2.0\r\nHost: a\r\n\r\n", 505),
    ("HTTP/0.9 request line, nothing after it", b"GET /x\r\n", 400),
    ("HTTP/0.9 request line with fields", b"GET /x\r\nHost: a\r\n\r\n", 400),
    ("two Authorization fields",
     b"GET /x HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer one\r\n"
     b"Authorization: Bearer two\r\n\r\n", 400),
    ("two Host fields", b"GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
     400),
    ("two equal Host fields",
     b"GET /x HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400),
    ("Content-Length and Transfer-Encoding",
     b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("Transfer-Encoding and Content-Length",
     b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
     b"Content-Length: 5\r\n\r\n0\r\n\r\n", 400),
    ("two different Content-Lengths",
     b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n"
     b"Content-Length: 3\r\n\r\nabc", 400),
    ("obs-fold", b"GET /x HTTP/1.1\r\nHost: a\r\nX-A: one\r\n  two\r\n\r\n",
     400),
    ("obs-fold of Host", b"GET /x HTTP/1.1\r\nHost: a\r\n X-B: 1\r\n\r\n",
     400),
    ("Transfer-Encoding in HTTP/1.0",
     b"POST /x HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"0\r\n\r\n", 400),
    ("chunked twice",
     b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("gzip, chunked",
     b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n"
     b"\r\n0\r\n\r\n", 501),
    ("asterisk-form target", b"GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("a target that is not a path",
     b"GET x/y HTTP/1.1\r\nHost: a\r\n\r\n", 400),
]


def h1_checks(tag, port, ca, ok_path, ok_status, refused):
    """refused: (method, path, extra header lines) of a request the
    listener refuses in on_headers (401)."""
    for what, req, want in H1_CASES:
        with h1_open(port, ca) as s:
            s.sendall(req)
            st, hdrs, body, closed = h1_read_response(s)
        checks.eq(st, want, "%s h1: %s -> %d" % (tag, what, want))
        checks.check(json_error(body), "%s h1: %s: JSON diagnostic (%r)" %
                     (tag, what, body[:120]))
        checks.check(closed, "%s h1: %s: connection closed" % (tag, what))
    # both versions still accepted, and the listener still serves
    for ver in (b"HTTP/1.0", b"HTTP/1.1"):
        with h1_open(port, ca) as s:
            s.sendall(b"GET " + ok_path.encode() + b" " + ver +
                      b"\r\nHost: localhost\r\n\r\n")
            st, _, _, _ = h1_read_response(s)
        checks.eq(st, ok_status, "%s h1: %s accepted" % (tag, ver.decode()))
    # absolute-form, which a server must accept (RFC 9112 3.2.2)
    with h1_open(port, ca) as s:
        s.sendall(b"GET https://localhost" + ok_path.encode() +
                  b" HTTP/1.1\r\nHost: localhost\r\n\r\n")
        st, _, _, _ = h1_read_response(s)
    checks.eq(st, ok_status, "%s h1: absolute-form target accepted" % tag)
    # a refused request with a small body: answered after the body, and
    # the connection stays open for the next request
    method, path, extra = refused
    with h1_open(port, ca) as s:
        s.sendall(("%s %s HTTP/1.1\r\nHost: localhost\r\n%s"
                   "Content-Length: 10\r\n\r\n" % (method, path, extra))
                  .encode())
        checks.check(nothing_within(s, 0.7), "%s h1: a refused request is "
                     "not answered before its body" % tag)
        s.sendall(b"0123456789")
        st, hdrs, body, closed = h1_read_response(s)
        checks.eq((st, hdrs.get("connection")), (401, None),
                  "%s h1: refused after the body: 401, keep-alive" % tag)
        s.sendall(b"GET " + ok_path.encode() +
                  b" HTTP/1.1\r\nHost: localhost\r\n\r\n")
        st, _, _, _ = h1_read_response(s)
        checks.eq(st, ok_status, "%s h1: the same connection serves the "
                  "next request" % tag)
    # announced past 1 MiB: answered at once, then closed
    with h1_open(port, ca) as s:
        s.sendall(("%s %s HTTP/1.1\r\nHost: localhost\r\n%s"
                   "Content-Length: %d\r\n\r\n" % (method, path, extra,
                                                   2 << 20)).encode())
        st, hdrs, body, closed = h1_read_response(s)
        checks.check(st in (401, 413) and closed,
                     "%s h1: a 2 MiB body refused at once and closed "
                     "(%d, closed %r)" % (tag, st, closed))


# HTTP/2 --------------------------------------------------------------------

def h2_stream_error(h, sid, timeout=5):
    """The first RST_STREAM on sid or GOAWAY, and the response HEADERS
    that came before it (there must be none)."""
    before = []

    def pred(f):
        if f.type == H2_HEADERS and f.sid == sid:
            before.append(f)
        return (f.type == H2_RST_STREAM and f.sid == sid) or \
            f.type == H2_GOAWAY
    return h.wait(pred, timeout), before


def h2_case(tag, port, ca, what, send, want, conn_error=False):
    """Opens a connection, runs send(h), and checks that the first error
    frame carries code want: RST_STREAM on stream 1 or GOAWAY for a
    stream error, GOAWAY (or a close) for a connection error; and that no
    response came before it."""
    h = H2Raw(port, ca)
    try:
        send(h)
        f, before = h2_stream_error(h, 1)
        if conn_error:
            ok = (f is not None and f.type == H2_GOAWAY and
                  f.error_code() == want) or (f is None and h.closed)
        else:
            ok = f is not None and f.error_code() == want
        checks.check(ok, "%s h2: %s -> %s %d (%r)" % (
            tag, what, "GOAWAY" if conn_error else "RST_STREAM/GOAWAY", want,
            f))
        checks.check(not before, "%s h2: %s: no response before the error"
                     % (tag, what))
    finally:
        h.close()


def req_block(method, path, fields=(), pseudo_last=None, upper=None):
    b = (hpack_literal(":method", method) + hpack_literal(":scheme", "https")
         + hpack_literal(":authority", "localhost"))
    if path is not None:
        b += hpack_literal(":path", path)
    for n, v in fields:
        b += hpack_literal(n, v)
    if pseudo_last:
        b += hpack_literal(*pseudo_last)
    return b


def h2_checks(tag, port, ca, post_path, refusals):
    """refusals: [(what, method, path, fields, status)] refused in
    on_headers; post_path takes a small body (401 without credentials)."""
    for what, method, path, fields, status in refusals:
        h = H2Raw(port, ca)
        try:
            h.request(1, method, path, list(fields) +
                      [("content-length", "10")], end=False)
            early = [f for f in h.read_all(0.7) if f.sid == 1]
            checks.eq(early, [], "%s h2: %s: nothing on the stream before "
                      "END_STREAM" % (tag, what))
            h.data(1, b"01234", end=False)
            h.data(1, b"56789", end=True)
            resp = h.wait(lambda f: f.sid == 1 and f.type in (
                H2_HEADERS, H2_RST_STREAM))
            checks.eq(resp is not None and resp.type == H2_HEADERS and
                      hpack_status(resp.payload), status,
                      "%s h2: %s: %d after END_STREAM" % (tag, what, status))
            rest = h.read_all(0.5)
            checks.check(all(f.type != H2_RST_STREAM for f in rest),
                         "%s h2: %s: no RST_STREAM (%r)" % (tag, what, rest))
            # the connection goes on
            h.request(3, "GET", "/nothing-here", [], end=True)
            nxt = h.wait(lambda f: f.sid == 3 and f.type == H2_HEADERS)
            checks.check(nxt is not None, "%s h2: %s: the connection "
                         "serves the next stream" % (tag, what))
        finally:
            h.close()

    # a body of 2 MiB refused: the response, then RST_STREAM(NO_ERROR)
    h = H2Raw(port, ca)
    try:
        h.request(1, "POST", post_path, [("content-length", str(2 << 20))],
                  end=False)
        h.data(1, b"x" * 1000)
        seq = [f for f in h.read_all(1.5) if f.sid == 1]
        kinds = [(f.type, f.flags & H2_END_STREAM) for f in seq]
        ended = [i for i, k in enumerate(kinds) if k[1]]
        rst = [i for i, f in enumerate(seq) if f.type == H2_RST_STREAM]
        checks.check(seq and seq[0].type == H2_HEADERS and
                     hpack_status(seq[0].payload) in (401, 413) and
                     ended and rst and rst[0] > ended[0] and
                     seq[rst[0]].error_code() == H2_NO_ERROR,
                     "%s h2: a 2 MiB body refused early: the response, then "
                     "RST_STREAM(NO_ERROR) (%r)" % (tag, seq))
    finally:
        h.close()

    # h2spec-style protocol errors
    def data_on_zero(h):
        h.send(H2_DATA, 0, 0, b"test")
    h2_case(tag, port, ca, "DATA on stream 0", data_on_zero,
            H2_PROTOCOL_ERROR, conn_error=True)

    def bad_pad(h):
        h.request(1, "POST", post_path, [("content-length", "4")], end=False)
        h.send(H2_DATA, H2_PADDED | H2_END_STREAM, 1, bytes([6]) + b"test")
    h2_case(tag, port, ca, "DATA whose pad length passes its payload",
            bad_pad, H2_PROTOCOL_ERROR, conn_error=True)

    for what, block in (
            ("an upper-case field name",
             req_block("GET", "/x", [("X-Test", "ok")])),
            ("an unknown pseudo-header",
             req_block("GET", "/x", [(":foo", "bar")])),
            ("a pseudo-header after a regular field",
             req_block("GET", None, [("x-test", "ok")], (":path", "/x"))),
            ("an empty :path", req_block("GET", "", [])),
            ("no :path", req_block("GET", None, [])),
            ("a connection-specific field",
             req_block("GET", "/x", [("connection", "keep-alive")])),
            ("te: gzip", req_block("GET", "/x", [("te", "gzip")])),
            ("two :method fields",
             req_block("GET", "/x", [(":method", "GET")]))):
        h2_case(tag, port, ca, what,
                lambda h, b=block: h.request(1, None, None, block=b),
                H2_PROTOCOL_ERROR)

    def trailers_open(h):
        h.request(1, "POST", post_path, [], end=False)
        h.data(1, b"{}")
        h.send(H2_HEADERS, H2_END_HEADERS, 1, hpack_literal("x-t", "1"))
    h2_case(tag, port, ca, "trailers without END_STREAM", trailers_open,
            H2_PROTOCOL_ERROR)

    def clen_mismatch(h):
        h.request(1, "POST", post_path, [("content-length", "1")], end=False)
        h.data(1, b"test", end=True)
    h2_case(tag, port, ca, "content-length 1 with 4 bytes of DATA",
            clen_mismatch, H2_PROTOCOL_ERROR)

    def clen_short(h):
        h.request(1, "POST", post_path, [("content-length", "8")], end=False)
        h.data(1, b"test", end=True)
    h2_case(tag, port, ca, "content-length 8 with 4 bytes of DATA",
            clen_short, H2_PROTOCOL_ERROR)

    # DATA after END_STREAM: STREAM_CLOSED (the stream may have been
    # answered and closed already: then it is a connection error)
    h = H2Raw(port, ca)
    try:
        h.request(1, "POST", post_path, [("content-length", "2")], end=False)
        h.data(1, b"{}", end=True)
        h.data(1, b"{}", end=True)
        f = h.wait(lambda f: f.type in (H2_RST_STREAM, H2_GOAWAY) and
                   f.sid in (0, 1))
        checks.check(f is not None and f.error_code() == H2_STREAM_CLOSED,
                     "%s h2: DATA after END_STREAM -> STREAM_CLOSED (%r)" %
                     (tag, f))
    finally:
        h.close()

    # HEADERS split over CONTINUATION frames is still one request
    h = H2Raw(port, ca)
    try:
        block = req_block("GET", "/nothing-here", [("x-a", "1" * 40)])
        h.send(H2_HEADERS, H2_END_STREAM, 1, block[:10])
        h.send(H2_CONTINUATION, 0, 1, block[10:30])
        h.send(H2_CONTINUATION, H2_END_HEADERS, 1, block[30:])
        f = h.wait(lambda f: f.sid == 1 and f.type in (H2_HEADERS,
                                                       H2_RST_STREAM))
        checks.check(f is not None and f.type == H2_HEADERS,
                     "%s h2: a head over CONTINUATION frames is answered "
                     "(%r)" % (tag, f))
    finally:
        h.close()


def main():
    tmp = tempfile.mkdtemp(prefix="otagw-strict-")
    pki = Pki(os.path.join(tmp, "pki"))
    token = os.urandom(16).hex()
    token_path = os.path.join(tmp, "admin.token")
    with open(token_path, "w") as f:
        f.write(token + "\n")
    admin_port = free_port(socket.SOCK_STREAM)
    gwp = https_gateway(pki, client_ca=False, tmp=tmp, extra={
        "admin_listen": "127.0.0.1:%d" % admin_port,
        "admin_token_file": token_path})
    ca = pki.ca[0]
    auth = ("authorization", "Bearer " + token)
    try:
        with gwp as gw:
            gw.otactl("device", "put", "d1", "--product", "p", "--secret",
                      "s3cret", check=True)
            before = (gw.otactl("--json", "device", "list").stdout,
                      gw.otactl("--json", "firmware", "list").stdout)
            h1_checks("device", gw.https_port, ca, "/nothing", 404,
                      ("GET", "/fw/fw-none", ""))
            h1_checks("admin", admin_port, ca, "/healthz", 200,
                      ("POST", "/api/v1/devices/import",
                       "Content-Type: text/csv\r\n"))
            h2_checks("device", gw.https_port, ca, "/ota/d1/check", [
                ("no credentials", "POST", "/ota/d1/check", [], 401),
                ("a download refused before its body", "GET", "/fw/fw-x",
                 [], 401),
                ("unknown path", "POST", "/nothing", [], 404),
                ("GET with a body on check", "GET", "/ota/d1/check", [],
                 405)])
            h2_checks("admin", admin_port, ca, "/api/v1/devices/import", [
                ("no token", "POST", "/api/v1/devices/import", [], 401),
                ("unknown path", "POST", "/api/v1/nothing", [auth], 404),
                ("a method the path lacks", "PUT", "/api/v1/jobs", [auth],
                 405)])
            after = (gw.otactl("--json", "device", "list").stdout,
                     gw.otactl("--json", "firmware", "list").stdout)
            checks.eq(after, before, "nothing stored from refused requests")
            r = curl_request(gw.https_url + "/ota/d1/check", "POST", "2",
                             ["Authorization: Bearer s3cret"], b"{}", ca,
                             tmpdir=gw.tmp)
            checks.eq(r.status, 204, "the device listener still serves")
            r = curl_request("https://127.0.0.1:%d/healthz" % admin_port,
                             "GET", "1.1", [], None, ca, tmpdir=gw.tmp)
            checks.eq(r.status, 200, "the admin listener still serves")
            checks.check(gw.alive(), "the gateway is alive")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    checks.done()


main()
