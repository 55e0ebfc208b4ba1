#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""test_fetch_hostile: firmware by URL against a hostile upstream ends.

The upstream is nghttpx (HTTP/2, TLS with a throwaway certificate for
"localhost", as in upstream.py) in front of a backend written here that
answers every GET of /cut.bin with 200 and a Content-Length of 100,000,
sends 1,000 bytes and closes 0.3 s later (nghttpx resets the stream):
each Range is ignored, each answer starts the image over and breaks off.
/stall.bin sends the same 1,000 bytes and then nothing, holding the
connection.  (Before the fix a start over
counted as progress and the pause between attempts was 0 s: such a fetch
looped for ever, and the daemon could not stop while one ran.)

- `otactl --state firmware add --url .../cut.bin` gives up after five
  attempts without progress, within 30 s, saying so; nothing is stored;
- the daemon (admin API, firmware_fetch_timeout 3s): `otactl --url
  firmware add --url .../cut.bin?X-Amz-Signature=...` fails at the time
  limit, saying so; nothing is stored; the daemon's log shows the URL
  without its query, never the signature;
- POST /api/v1/firmware?url=&sha256= with product=bad prod, or with
  version=../../etc, is 400 with the usual JSON error at once, not 202;
- SIGTERM while two fetches of /stall.bin are stuck (time limit 1h):
  the daemon exits within 5 s and leaves no image file behind.
"""

import hashlib
import http.client
import http.server
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse

from otagw_harness import (OTACTL, Checks, Gateway, Pki, free_port,
                           otactl_items, wait_for)
from upstream import NGHTTPX, Proxy, make_cert

checks = Checks()

if NGHTTPX is None:
    print("nghttpx not installed: skipping")
    sys.exit(77)

SIZE = 100000
SENT = 1000
SECRET = "X-Amz-Signature=0123456789abcdef0123456789abcdef"
SHA = hashlib.sha256(b"\0" * SIZE).hexdigest()


class Backend:
    """The hostile server behind nghttpx (HTTP/1.1)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.gets = []              # (path, Range) of each GET
        self.release = threading.Event()
        backend = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                path = self.path.split("?")[0]
                with backend.lock:
                    backend.gets.append((path, self.headers.get("Range")))
                if path not in ("/cut.bin", "/stall.bin"):
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)     # whatever Range says
                self.send_header("Content-Length", str(SIZE))
                self.end_headers()
                self.wfile.write(b"\0" * SENT)
                self.wfile.flush()
                if path == "/stall.bin":
                    backend.release.wait(120)
                else:
                    # let nghttpx pass the bytes on before the reset
                    time.sleep(0.3)
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()

    def count(self, path):
        with self.lock:
            return sum(1 for p, _ in self.gets if p == path)

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), 0.2).close()
        return True
    except OSError:
        return False


def images(gw):
    d = os.path.join(gw.state, "images")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def run(argv, timeout):
    """argv's (exit status, stderr, seconds); status None: still running
    after timeout (killed)."""
    t0 = time.monotonic()
    try:
        p = subprocess.run(argv, capture_output=True, text=True,
                           timeout=timeout)
        return p.returncode, p.stderr, time.monotonic() - t0
    except subprocess.TimeoutExpired as e:
        err = e.stderr or b""
        if isinstance(err, bytes):
            err = err.decode("utf-8", "replace")
        return None, err, time.monotonic() - t0


def test_state(gw, url, crt, be):
    """otactl --state, no daemon: five attempts without progress."""
    os.makedirs(gw.state, 0o700, exist_ok=True)
    before = images(gw)
    rc, err, secs = run([OTACTL, "--state", gw.state, "firmware", "add",
                         "--url", url + "/cut.bin", "--sha256", SHA,
                         "--product", "p", "--version", "1.0", "--ca", crt],
                        40)
    checks.check(rc == 1 and secs < 30 and
                 "giving up after 5 attempts without progress" in err,
                 "otactl --state: a server that starts over and breaks off "
                 "each time: given up (exit %r after %.1f s: %s)" %
                 (rc, secs, err.strip()[-300:]))
    checks.check(be.count("/cut.bin") == 6 and secs >= 10,
                 "otactl --state: six requests (the first one's bytes "
                 "count), 1+1+2+3+4 s apart (%d in %.1f s)" %
                 (be.count("/cut.bin"), secs))
    checks.eq(otactl_items(gw, "firmware", "list"), [],
              "otactl --state: no firmware stored")
    checks.eq(images(gw), before, "otactl --state: no image file left")


class Admin:
    """The daemon's admin API over TLS (http.client)."""

    def __init__(self, port, token, ca):
        self.port = port
        self.token = token
        self.ctx = ssl.create_default_context(cafile=ca)

    def post(self, query):
        c = http.client.HTTPSConnection("127.0.0.1", self.port,
                                        context=self.ctx, timeout=10)
        try:
            c.request("POST", "/api/v1/firmware?" + query, body=b"",
                      headers={"Authorization": "Bearer " + self.token})
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()


def test_daemon(gw, api, admin, url, be):
    """Through the daemon: the time limit, 400 at once, the log."""
    before = images(gw)
    rc, err, secs = run([OTACTL, "--url", api, "--token-file",
                         admin["token_file"], "--ca", admin["ca"],
                         "firmware", "add", "--url",
                         url + "/cut.bin?" + SECRET, "--sha256", SHA,
                         "--product", "p", "--version", "2.0"], 40)
    checks.check(rc == 1 and secs < 8,
                 "daemon: the fetch ends at firmware_fetch_timeout (exit %r "
                 "after %.1f s)" % (rc, secs))
    checks.check("time limit (3s)" in err,
                 "daemon: says the time limit passed (%s)" %
                 err.strip()[-300:])
    checks.eq(images(gw), before, "daemon: no image file left")
    checks.check(be.count("/cut.bin") >= 2, "daemon: the fetch retried")

    a = Admin(admin["port"], admin["token"], admin["ca"])
    for what, prod, ver in (("product", "bad prod", "3.0"),
                            ("version", "p", "../../etc")):
        q = urllib.parse.urlencode({"url": url + "/cut.bin", "sha256": SHA,
                                    "product": prod, "version": ver})
        n = be.count("/cut.bin")
        t0 = time.monotonic()
        status, body = a.post(q)
        secs = time.monotonic() - t0
        try:
            js = json.loads(body)
        except ValueError:
            js = None
        checks.check(status == 400 and secs < 2,
                     "daemon: a bad %s is 400 at once (%d after %.1f s)" %
                     (what, status, secs))
        checks.check(isinstance(js, dict) and
                     js.get("error") == "bad_request" and
                     ("invalid " + what) in js.get("message", ""),
                     "daemon: a bad %s: the JSON error (%r)" % (what, body))
        checks.eq(be.count("/cut.bin"), n, "daemon: a bad %s is not "
                  "fetched" % what)
    # a URL with a user name and password (an unencoded '/' in it): 400
    # before anything is logged or fetched
    bad_url = url.replace("https://", "https://user:pa/ss0rd@") + "/cut.bin"
    q = urllib.parse.urlencode({"url": bad_url, "sha256": SHA,
                                "product": "p", "version": "3.1"})
    status, body = a.post(q)
    checks.check(status == 400 and b"user name" in body,
                 "daemon: a URL with a password is 400 (%d %r)" %
                 (status, body))
    checks.check("ss0rd" not in gw.log(), "daemon: its password is not "
                 "in the log")

    log = gw.log()
    checks.check(SECRET.split("=")[1] not in log,
                 "daemon: the URL's query is not in the log")
    checks.check("/cut.bin?..." in log,
                 "daemon: the log shows the URL without its query")
    checks.eq(otactl_items(gw, "firmware", "list"), [],
              "daemon: no firmware stored")


def test_sigterm(gw, admin, url, be):
    """SIGTERM with two fetches stuck on a silent server."""
    a = Admin(admin["port"], admin["token"], admin["ca"])
    for v in ("4.0", "4.1"):
        q = urllib.parse.urlencode({"url": url + "/stall.bin",
                                    "sha256": SHA, "product": "p",
                                    "version": v})
        status, body = a.post(q)
        checks.eq(status, 202, "stuck fetch %s started" % v)
    wait_for(lambda: be.count("/stall.bin") >= 2, 10,
             "both fetches reached the server")
    t0 = time.monotonic()
    try:
        rc = gw.stop(timeout=10)
    except subprocess.TimeoutExpired:
        rc = None
    secs = time.monotonic() - t0
    checks.check(rc == 0 and secs < 5,
                 "SIGTERM with stuck fetches: the daemon exits (status %r "
                 "after %.1f s)" % (rc, secs))
    checks.check("fetch cancelled" in gw.log(),
                 "SIGTERM: the fetches say they were cancelled")
    checks.eq(images(gw), [], "SIGTERM: no image file left")


def main():
    gw = Gateway(coaps=False)
    be = Backend()
    key, crt = make_cert(gw.tmp, "up", "localhost")
    proxy = Proxy(gw.tmp, be.port, key, crt).start()
    url = "https://localhost:%d" % proxy.port
    try:
        test_state(gw, url, crt, be)

        pki = Pki(os.path.join(gw.tmp, "pki"))
        token = os.urandom(16).hex()
        token_file = os.path.join(gw.tmp, "admin.token")
        with open(token_file, "w") as f:
            f.write(token + "\n")
        os.chmod(token_file, 0o600)
        port = free_port(socket.SOCK_STREAM)
        admin = {"port": port, "token": token, "token_file": token_file,
                 "ca": pki.ca[0]}
        gw.extra.update({"admin_listen": "127.0.0.1:%d" % port,
                         "admin_token_file": token_file,
                         "tls_cert": pki.server[0],
                         "tls_key": pki.server[1],
                         "upstream_ca": crt,
                         "firmware_fetch_timeout": "3s"})
        gw.write_conf()
        api = "https://127.0.0.1:%d" % port
        gw.start()
        try:
            test_daemon(gw, api, admin, url, be)
        finally:
            try:
                rc = gw.stop(timeout=10)
            except subprocess.TimeoutExpired:
                rc = None   # killed
            checks.eq(rc, 0, "daemon: stops on SIGTERM")

        gw.extra["firmware_fetch_timeout"] = "1h"
        gw.write_conf()
        gw.start()
        # the log says "otagw ready" from the first run already
        wait_for(lambda: listening(port), 10, "the admin API listening")
        try:
            test_sigterm(gw, admin, url, be)
        finally:
            if gw.alive():
                gw.proc.kill()
                gw.proc.wait()
    finally:
        proxy.stop()
        be.close()
    return checks.done()


if __name__ == "__main__":
    sys.exit(main())
