# SPDX-License-Identifier: BSD-2-Clause
"""upstream: a recording upstream platform for the relay tests.

nghttpx (Debian's nghttp2-proxy) terminates TLS and HTTP/2 on a free port
with a throwaway certificate, in front of Backend, a recording server
written here (Python standard library, HTTP/1.1).  The backend checks the
bearer token TOKEN, records every POSTed batch of events with the status
it answered, answers with scripted statuses ("slow" waits 3 s before its
200, "later" is a 503 with Retry-After: 8), and serves an image whose
first download is cut off half way.

    be = Backend(image)
    key, crt = make_cert(tmp, "up", "localhost")
    proxy = Proxy(tmp, be.port, key, crt).start()
    gw = Gateway(extra=upstream_conf(proxy, crt, token_file))

or all of that in one, Recorder(tmp) (rec.conf(), rec.events()).
Used by test_relay, test_failover and the hawkBit tests.  Standard library only.
"""

import http.server
import json
import os
import shutil
import socket
import subprocess
import threading
import time

from otagw_harness import free_port, wait_for

NGHTTPX = shutil.which("nghttpx") or (
    "/usr/sbin/nghttpx" if os.path.exists("/usr/sbin/nghttpx") else None)
OPENSSL = shutil.which("openssl")
TOKEN = "relay-test-token-0123456789"


# The recording backend ----------------------------------------------------

class Backend:
    def __init__(self, image):
        self.lock = threading.Lock()
        self.posts = []         # (status answered, [events])
        self.script = []        # statuses for the next POSTs
        self.image = image
        self.image_gets = []    # Range header of each image GET
        self.cut_next = True    # cut the first full download half way
        self.bad_auth = 0
        self.received = 0       # POSTs read, answered or not yet
        backend = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *a):
                pass

            def reply(self, status, body=b"", headers=()):
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                if self.headers.get("Authorization") != "Bearer " + TOKEN:
                    with backend.lock:
                        backend.bad_auth += 1
                    self.reply(401, b"bad token")
                    return
                try:
                    events = json.loads(body)
                except ValueError:
                    events = None
                with backend.lock:
                    backend.received += 1
                    status = backend.script.pop(0) if backend.script \
                        else 200
                if status == "slow":        # a slow upstream
                    time.sleep(3)
                    status = 200
                headers = ()
                if status == "later":       # busy: come back in 8 s
                    status = 503
                    headers = (("Retry-After", "8"),)
                with backend.lock:
                    backend.posts.append((status, events))
                self.reply(status, b"{\"scripted\":%d}" % status, headers)

            def do_GET(self):
                if self.path not in ("/image.bin", "/norange.bin"):
                    self.reply(404, b"no such file")
                    return
                img = backend.image
                rng = self.headers.get("Range")
                with backend.lock:
                    backend.image_gets.append(rng)
                    cut = backend.cut_next and rng is None
                    if cut:
                        backend.cut_next = False
                if self.path == "/norange.bin":
                    rng = None      # a server that ignores Range
                if rng:
                    start = int(rng.split("=")[1].split("-")[0])
                    part = img[start:]
                    self.reply(206, part, [
                        ("Content-Range", "bytes %d-%d/%d" %
                         (start, len(img) - 1, len(img)))])
                    return
                if cut:
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(img)))
                    self.end_headers()
                    self.wfile.write(img[:len(img) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                self.reply(200, img)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def taken(self, since=0):
        """Events of the batches answered 2xx, in arrival order, from
        POST number `since' on."""
        with self.lock:
            return [e for s, evs in self.posts[since:] if 200 <= s < 300
                    for e in (evs or [])]

    def snapshot(self, since=0):
        with self.lock:
            return list(self.posts[since:])

    def settle(self, timeout=15):
        """Waits until every POST read has been recorded (a "slow" answer
        records its batch seconds later, maybe after the next test began)."""
        def idle():
            with self.lock:
                return self.received == len(self.posts)
        wait_for(idle, timeout, "the backend to record every POST")


# nghttpx in front of it ------------------------------------------------------

def make_cert(tmp, name, cn):
    key = os.path.join(tmp, name + ".key")
    crt = os.path.join(tmp, name + ".pem")
    subprocess.run([OPENSSL, "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", crt, "-days", "2",
                    "-subj", "/CN=" + cn,
                    "-addext", "subjectAltName=DNS:" + cn],
                   check=True, capture_output=True)
    return key, crt


class Proxy:
    def __init__(self, tmp, backend_port, key, crt, port=None):
        self.tmp = tmp
        self.backend_port = backend_port
        self.key, self.crt = key, crt
        self.port = port or free_port(socket.SOCK_STREAM)
        self.proc = None
        self.log = os.path.join(tmp, "nghttpx-%d.log" % self.port)

    def start(self):
        self.proc = subprocess.Popen(
            [NGHTTPX, "--conf=/dev/null", "--single-process",
             "-f127.0.0.1,%d" % self.port,
             "-b127.0.0.1,%d" % self.backend_port,
             "--no-ocsp", "--errorlog-file=" + self.log,
             "--accesslog-file=/dev/null", self.key, self.crt],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def up():
            if self.proc.poll() is not None:
                return True
            try:
                socket.create_connection(("127.0.0.1", self.port),
                                         0.2).close()
                return True
            except OSError:
                return False
        wait_for(up, 10, "nghttpx listening")
        if self.proc.poll() is not None:
            raise RuntimeError("nghttpx exited: %s" %
                               open(self.log).read()[-2000:])
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


def upstream_conf(proxy, crt, token_file, **kw):
    """The otagw settings that point the relay at proxy."""
    d = {"upstream_url": "https://localhost:%d/v1/events" % proxy.port,
         "upstream_ca": crt,
         "upstream_token_file": token_file,
         "upstream_backoff_max": "2s"}
    d.update(kw)
    return d


class Recorder:
    """A recording upstream, ready: the Backend (be) behind nghttpx (proxy)
    with a throwaway certificate (crt) and the token file otagw reads
    (token_file).  conf() gives otagw's settings for it, events() every
    event it received so far, close() stops both."""

    def __init__(self, tmp, image=b""):
        self.be = Backend(image)
        key, self.crt = make_cert(tmp, "up", "localhost")
        self.token_file = os.path.join(tmp, "upstream.token")
        with open(self.token_file, "w") as f:
            f.write(TOKEN + "\n")
        self.proxy = Proxy(tmp, self.be.port, key, self.crt).start()

    def conf(self, **kw):
        return upstream_conf(self.proxy, self.crt, self.token_file, **kw)

    def events(self):
        with self.be.lock:
            return [e for _, batch in self.be.posts for e in (batch or [])]

    def close(self):
        self.proxy.stop()
        self.be.close()
