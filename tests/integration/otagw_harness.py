# SPDX-License-Identifier: BSD-2-Clause
"""otagw_harness: start the real otagw and drive it with real clients.

Used by every integration test.  Standard library only.

    with Gateway(coap=True) as gw:            # temp state dir, free ports
        gw.otactl("device", "put", "d1", "--product", "p", "--psk", hexkey)
        fw = gw.otactl_id("firmware", "add", path, "--product", "p", ...)
        r = gw.coap("post", "/ota/d1/check", payload=b"{}", dtls=("d1", key))
        assert r.code == "2.05"

Environment (set by `make check`): OTAGW_BIN, OTACTL_BIN, OTAGW_SRCDIR.
Readiness is polled with a deadline (the daemon logs "otagw ready"), never
a fixed sleep.
"""

import hashlib
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

OTAGW = os.environ.get("OTAGW_BIN", "src/otagw")
OTACTL = os.environ.get("OTACTL_BIN", "src/otactl")
SRCDIR = os.environ.get("OTAGW_SRCDIR", ".")
COAP_CLIENT = shutil.which("coap-client-openssl") or "coap-client-openssl"
# tests/tools/dtls_client, which the Makefile names
DTLS_CLIENT = os.environ.get("DTLS_CLIENT_BIN", "")


def free_port(kind=socket.SOCK_DGRAM):
    """A port that is free right now for UDP (default) or TCP."""
    s = socket.socket(socket.AF_INET, kind)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def free_port_both():
    """A port free for both UDP and TCP."""
    for _ in range(50):
        p = free_port(socket.SOCK_DGRAM)
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            t.bind(("127.0.0.1", p))
            return p
        except OSError:
            continue
        finally:
            t.close()
    raise RuntimeError("no free port")


def rss_kib(pid):
    """Resident memory of process pid, KiB (VmRSS)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def sanitized(pid):
    """Is process pid an AddressSanitizer build?  Its quarantine keeps
    freed memory resident, so memory figures mean nothing there."""
    with open("/proc/%d/maps" % pid) as f:
        return "libasan" in f.read()


def check_request(dev, secret):
    """The bytes of one HTTP/1.1 check of device dev, version 1.0.0, with
    a bearer secret."""
    body = b'{"versions":{"default":"1.0.0"}}'
    return (b"POST /ota/%s/check HTTP/1.1\r\nHost: localhost\r\n"
            b"Authorization: Bearer %s\r\n"
            b"Content-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" %
            (dev.encode(), secret.encode(), len(body), body))


class Http1Reader:
    """HTTP/1.1 answers read one after another from one connection (a
    socket or an ssl socket): answer() gives (status, body)."""

    def __init__(self, s):
        self.s = s
        self.buf = b""

    def answer(self):
        while b"\r\n\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise ConnectionError("closed before the answer's head")
            self.buf += d
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v.strip())
        while len(rest) < length:
            d = self.s.recv(65536)
            if not d:
                raise ConnectionError("closed in the answer's body")
            rest += d
        self.buf = rest[length:]
        return int(head.split(b" ", 2)[1]), rest[:length]


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def wait_for(cond, timeout=10.0, what="condition", interval=0.02):
    """Polls cond() until it returns a true value; raises on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TimeoutError("timed out waiting for " + what)
        time.sleep(interval)


class Checks:
    """Counts checks; prints the "N passed, N failed" summary line."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, cond, what):
        if cond:
            self.passed += 1
            print("ok   " + what, file=sys.stderr)
        else:
            self.failed += 1
            print("FAIL " + what, file=sys.stderr)
        return cond

    def eq(self, got, want, what):
        ok = got == want
        if not ok:
            what = "%s: got %r, want %r" % (what, got, want)
        return self.check(ok, what)

    def done(self):
        print("%d passed, %d failed" % (self.passed, self.failed))
        sys.exit(0 if self.failed == 0 else 1)


class CoapResult:
    def __init__(self, rc, out, err, code, data):
        self.rc = rc          # exit status of coap-client (0 even on errors)
        self.stdout = out
        self.stderr = err
        self.code = code      # "2.05", "4.03", ... or None when no answer
        self.data = data      # payload bytes (from -o file)

    def __repr__(self):
        return "CoapResult(code=%r, len=%d, err=%r)" % (
            self.code, len(self.data or b""), self.stderr[-300:])


class Gateway:
    """A real otagw on free ports with a temporary state directory."""

    def __init__(self, coap=False, coaps=True, extra=None, tmp=None):
        self.tmp = tmp or tempfile.mkdtemp(prefix="otagw-test-")
        self.state = os.path.join(self.tmp, "var")
        self.conf = os.path.join(self.tmp, "otagw.conf")
        self.coap_port = free_port() if coap else None
        self.coaps_port = free_port() if coaps else None
        self.extra = dict(extra or {})
        self.proc = None
        self.logpath = os.path.join(self.tmp, "otagw.log")
        self.nofile = None      # a descriptor limit for the daemon
        # argv before the daemon's (it must exec it: the pid stays)
        self.wrap = []
        self._own_tmp = tmp is None
        self.write_conf()

    # configuration -----------------------------------------------------
    def settings(self):
        s = {
            "gateway_id": "gw-test",
            "state_dir": self.state,
            "log_level": "debug",
            "coap_listen": "127.0.0.1:%d" % self.coap_port
            if self.coap_port else "off",
            "coaps_listen": "127.0.0.1:%d" % self.coaps_port
            if self.coaps_port else "off",
            "https_listen": "off",
            "admin_listen": "off",
            # exact wake-up hints, so that tests can compare them
            "wakeup_jitter": "0",
        }
        s.update(self.extra)
        return s

    def write_conf(self):
        with open(self.conf, "w") as f:
            f.write("# generated by otagw_harness\n")
            for k, v in self.settings().items():
                f.write("%s %s\n" % (k, v))

    # process -----------------------------------------------------------
    def start(self, timeout=10.0):
        self.logf = open(self.logpath, "ab")
        limit = None
        if self.nofile is not None:
            def limit():
                resource.setrlimit(resource.RLIMIT_NOFILE,
                                   (self.nofile, self.nofile))
        self.proc = subprocess.Popen(self.wrap + [OTAGW, "-d", "-c",
                                                  self.conf],
                                     stdout=self.logf, stderr=self.logf,
                                     preexec_fn=limit)
        wait_for(lambda: self.proc.poll() is not None or
                 b"otagw ready" in self.log_bytes(), timeout, "otagw ready")
        if self.proc.poll() is not None:
            raise RuntimeError("otagw exited %s:\n%s" %
                               (self.proc.returncode, self.log()))
        return self

    def log_bytes(self):
        try:
            with open(self.logpath, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return b""

    def log(self):
        return self.log_bytes().decode("utf-8", "replace")

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Sends sig and waits; returns the exit status."""
        if not self.proc or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        finally:
            self.logf.close()

    def kill9(self):
        return self.stop(signal.SIGKILL)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        try:
            self.stop()
        finally:
            if self._own_tmp and exc[0] is None:
                shutil.rmtree(self.tmp, ignore_errors=True)
            elif exc[0] is not None:
                sys.stderr.write("--- otagw log ---\n%s\n" % self.log()[-4000:])
        return False

    # otactl ------------------------------------------------------------
    def otactl(self, *args, via="state", check=False, input=None):
        """Runs otactl on this gateway; returns CompletedProcess (text)."""
        # otactl never makes a state directory (otagw does when it first
        # starts): tests that use otactl before the daemon make it here
        if not os.path.isdir(self.state):
            os.makedirs(self.state, 0o700)
        if via == "state":
            base = [OTACTL, "--state", self.state]
        else:
            base = [OTACTL, "-c", self.conf]
        p = subprocess.run(base + [str(a) for a in args], capture_output=True,
                           text=True, input=input, timeout=60)
        if check and p.returncode != 0:
            raise RuntimeError("otactl %s failed (%d): %s" %
                               (" ".join(map(str, args)), p.returncode,
                                p.stderr))
        return p

    def otactl_id(self, *args, **kw):
        """Runs a creating otactl command; returns the id on its last line."""
        p = self.otactl(*args, check=True, **kw)
        return p.stdout.strip().splitlines()[-1].strip()

    def add_firmware(self, data, product="p", version="2.0.0",
                     name="img.bin"):
        """Writes data to name in the gateway's directory and adds it with
        `otactl firmware add`; returns the firmware id."""
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(data)
        return self.otactl_id("firmware", "add", path, "--product", product,
                              "--version", version)

    # CoAP --------------------------------------------------------------
    def coap(self, method, path, payload=None, dtls=None, block=None,
             start_block=None, content_format=None, timeout=10,
             out=None, extra=()):
        """Runs coap-client-openssl against this gateway.

        dtls: None for plain coap, or (identity, key) for coaps.
        block: block size (16..1024); start_block: first block number.
        Returns a CoapResult with the response code and payload.
        """
        if dtls:
            uri = "coaps://127.0.0.1:%d%s" % (self.coaps_port, path)
        else:
            uri = "coap://127.0.0.1:%d%s" % (self.coap_port, path)
        return coap_request(method, uri, payload, dtls, block, start_block,
                            content_format, timeout, out, extra, self.tmp)


_CODE_RE = re.compile(rb"\b([2-5]\.\d\d)\b")


def coap_request(method, uri, payload=None, dtls=None, block=None,
                 start_block=None, content_format=None, timeout=10, out=None,
                 extra=(), tmpdir=None):
    """One request with coap-client-openssl; see Gateway.coap."""
    fd, outpath = tempfile.mkstemp(dir=tmpdir, prefix="coap-out-")
    os.close(fd)
    os.unlink(outpath)
    if out:
        outpath = out
    args = [COAP_CLIENT, "-m", method, "-B", str(timeout), "-o", outpath,
            "-v", "6"]
    if dtls:
        args += ["-u", dtls[0], "-k", dtls[1]]
    if block:
        args += ["-b", ("%d,%d" % (start_block, block)) if start_block
                 else str(block)]
    if content_format is not None:
        args += ["-t", str(content_format)]
    payload_file = None
    if payload is not None:
        if isinstance(payload, str):
            payload = payload.encode()
        fd, payload_file = tempfile.mkstemp(dir=tmpdir, prefix="coap-in-")
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
        args += ["-f", payload_file]
    args += list(extra) + [uri]
    try:
        p = subprocess.run(args, capture_output=True, timeout=timeout + 20)
    finally:
        if payload_file:
            os.unlink(payload_file)
    data = b""
    if os.path.exists(outpath):
        with open(outpath, "rb") as f:
            data = f.read()
        if not out:
            os.unlink(outpath)
    code = parse_response_code(p.stdout + p.stderr)
    return CoapResult(p.returncode, p.stdout.decode("utf-8", "replace"),
                      p.stderr.decode("utf-8", "replace"), code, data)


def parse_response_code(text):
    """The code of the last response coap-client printed at -v 6 or more.

    The response line of the verbose PDU dump looks like
    "v:1 t:ACK c:2.05 i:..." ; the last such line wins.
    """
    codes = re.findall(rb"\bc:([2-5]\.\d\d)\b", text)
    if codes:
        return codes[-1].decode()
    m = _CODE_RE.findall(text)
    return m[-1].decode() if m else None


# ---------------------------------------------------------------------------
# CoAP helpers (test_coap_flow, test_coap_bad, test_crash)

import json  # noqa: E402
import random  # noqa: E402
import struct  # noqa: E402

_PDU_LINE_RE = re.compile(
    r"^v:1 t:(CON|NON|ACK|RST) c:(\S+) i:[0-9a-f]+ \{[0-9a-f]*\} "
    r"\[ ?(.*?) ?\]", re.M)


def coap_pdus(text, responses_only=True):
    """PDUs that coap-client printed at -v 6 or more, in order.

    Each is a dict {"type", "code", "options"}, options mapping the name
    coap-client prints ("ETag", "Size2", "Block2", "Max-Age",
    "Content-Format", ...) to the list of printed values.  With
    responses_only, requests (c:GET, c:POST, ...) and empty messages are
    left out.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    out = []
    for m in _PDU_LINE_RE.finditer(text):
        code = m.group(2)
        if responses_only and not re.match(r"^[2-5]\.\d\d$", code):
            continue
        opts = {}
        body = m.group(3).strip()
        if body:
            for item in body.split(", "):
                name, _, value = item.partition(":")
                opts.setdefault(name.strip(), []).append(value.strip())
        out.append({"type": m.group(1), "code": code, "options": opts})
    return out


def coap_etag_text(sha256_hex):
    """How coap-client prints otagw's ETag for an image: the first 8 bytes
    of its SHA-256 as a CoAP uint (leading zero bytes dropped)."""
    b = bytes.fromhex(sha256_hex)[:8].lstrip(b"\0")
    return "0x" + b.hex()


def otactl_json(gw, *args, check=True):
    """Runs `otactl --json ARGS` on gw's state directory; parsed stdout
    (one JSON document)."""
    p = gw.otactl("--json", *args, check=check)
    if p.returncode != 0:
        return None
    return json.loads(p.stdout)


def otactl_items(gw, *args, check=True):
    """A list command (`device list`, `job devices`...) with --json: the
    items of its {"items":[...],"next":...} document, or None."""
    d = otactl_json(gw, *args, check=check)
    if d is None:
        return None
    if not isinstance(d, dict) or "items" not in d or "next" not in d:
        raise RuntimeError("otactl --json %s: not a list document: %r" %
                           (" ".join(map(str, args)), str(d)[:200]))
    return d["items"]


# A minimal CoAP-over-UDP client: one socket, so one session on the server,
# as a real device that keeps its address.  Enough for block-wise GET and
# small POSTs; confirmable requests with RFC 7252 retransmission.

COAP_CON, COAP_NON, COAP_ACK, COAP_RST = 0, 1, 2, 3
COAP_GET, COAP_POST = 1, 2
OPT_ETAG, OPT_URI_PATH, OPT_CONTENT_FORMAT = 4, 11, 12
OPT_MAX_AGE, OPT_BLOCK2, OPT_SIZE2, OPT_SIZE1 = 14, 23, 28, 60


def _coap_uint(v):
    return b"" if v == 0 else v.to_bytes((v.bit_length() + 7) // 8, "big")


def _coap_ext(v):
    if v < 13:
        return v, b""
    if v < 269:
        return 13, bytes([v - 13])
    return 14, struct.pack("!H", v - 269)


def coap_encode(mtype, code, mid, token, options, payload=b""):
    out = bytearray([0x40 | (mtype << 4) | len(token), code])
    out += struct.pack("!H", mid) + token
    last = 0
    for num, val in sorted(options, key=lambda o: o[0]):
        d, dx = _coap_ext(num - last)
        ln, lx = _coap_ext(len(val))
        out.append((d << 4) | ln)
        out += dx + lx + val
        last = num
    if payload:
        out += b"\xff" + payload
    return bytes(out)


def coap_decode(data):
    """(type, code "c.dd", mid, token, [(num, bytes)], payload) or None."""
    if len(data) < 4 or data[0] >> 6 != 1:
        return None
    mtype = (data[0] >> 4) & 3
    tkl = data[0] & 15
    code = "%d.%02d" % (data[1] >> 5, data[1] & 31)
    mid = struct.unpack("!H", data[2:4])[0]
    token = data[4:4 + tkl]
    i = 4 + tkl
    opts = []
    num = 0
    while i < len(data) and data[i] != 0xFF:
        d, ln = data[i] >> 4, data[i] & 15
        i += 1
        vals = []
        for v in (d, ln):
            if v == 13:
                v = data[i] + 13
                i += 1
            elif v == 14:
                v = struct.unpack("!H", data[i:i + 2])[0] + 269
                i += 2
            vals.append(v)
        num += vals[0]
        opts.append((num, data[i:i + vals[1]]))
        i += vals[1]
    payload = data[i + 1:] if i < len(data) else b""
    return mtype, code, mid, token, opts, payload


class CoapReply:
    def __init__(self, code, options, payload):
        self.code = code
        self.options = options        # [(number, bytes)]
        self.payload = payload

    def opt(self, num):
        for n, v in self.options:
            if n == num:
                return v
        return None

    def uint(self, num):
        v = self.opt(num)
        return None if v is None else int.from_bytes(v, "big")

    def block2(self):
        """(num, more, size) or None."""
        v = self.uint(OPT_BLOCK2)
        if v is None:
            return None
        return v >> 4, bool(v & 8), 16 << (v & 7)


class CoapUdp:
    """One UDP socket talking CoAP to host:port (plain coap only)."""

    def __init__(self, host, port, timeout=2.0, tries=4):
        self.addr = (host, port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.timeout = timeout
        self.tries = tries
        self.mid = random.randrange(0x10000)

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def request(self, method, path, payload=b"", content_format=None,
                block2=None):
        """One confirmable request; block2 = (num, size).  Returns a
        CoapReply, or None when no answer came."""
        self.mid = (self.mid + 1) & 0xFFFF
        token = os.urandom(4)
        opts = [(OPT_URI_PATH, seg.encode()) for seg in
                path.strip("/").split("/") if seg != ""]
        if content_format is not None:
            opts.append((OPT_CONTENT_FORMAT, _coap_uint(content_format)))
        if block2 is not None:
            num, size = block2
            szx = size.bit_length() - 5
            opts.append((OPT_BLOCK2, _coap_uint(num << 4 | szx)))
        pkt = coap_encode(COAP_CON, method, self.mid, token, opts, payload)
        wait = self.timeout
        for _ in range(self.tries):
            self.sock.sendto(pkt, self.addr)
            deadline = time.monotonic() + wait
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.sock.settimeout(left)
                try:
                    data, _ = self.sock.recvfrom(65536)
                except socket.timeout:
                    break
                m = coap_decode(data)
                if m is None:
                    continue
                mtype, code, mid, tok, ropts, body = m
                if mtype == COAP_ACK and mid == self.mid and code == "0.00":
                    continue          # empty ACK: a separate answer follows
                if tok != token:
                    continue
                if mtype == COAP_CON:
                    self.sock.sendto(coap_encode(COAP_ACK, 0, mid, b"", []),
                                     self.addr)
                return CoapReply(code, ropts, body)
            wait *= 2
        return None


def gateway_restart(gw, timeout=15.0):
    """Starts gw's daemon again on the same configuration and state
    directory (after stop() or kill9()) and waits for a new "otagw ready"
    line: the log already holds the ones of earlier runs."""
    mark = len(gw.log_bytes())

    def ready():
        if gw.proc.poll() is not None:
            return True
        with open(gw.logpath, "rb") as f:
            f.seek(mark)
            return b"otagw ready" in f.read()

    gw.logf = open(gw.logpath, "ab")
    gw.proc = subprocess.Popen([OTAGW, "-d", "-c", gw.conf],
                               stdout=gw.logf, stderr=gw.logf)
    wait_for(ready, timeout, "otagw ready after restart", interval=0.01)
    if gw.proc.poll() is not None:
        raise RuntimeError("otagw exited %s on restart:\n%s" %
                           (gw.proc.returncode, gw.log()[-4000:]))
    return gw


# ---------------------------------------------------------------------------
# HTTPS helpers (test_https, test_https_bad, test_daemon): a throwaway PKI
# made with the openssl CLI, a gateway with its device listener on, and
# requests with curl.

OPENSSL = shutil.which("openssl") or "openssl"
CURL = shutil.which("curl") or "curl"


def _openssl(*args, cwd=None):
    p = subprocess.run([OPENSSL] + list(args), capture_output=True,
                       cwd=cwd, timeout=60)
    if p.returncode != 0:
        raise RuntimeError("openssl %s: %s" % (" ".join(args),
                                               p.stderr.decode()[-500:]))


def make_ca(d, name="ca", cn="otagw test CA"):
    """A self-signed P-256 CA in d: NAME.pem, NAME.key.  Returns the
    (cert, key) paths."""
    cert, key = os.path.join(d, name + ".pem"), os.path.join(d, name + ".key")
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out",
             cert, "-days", "2", "-subj", "/CN=" + cn, "-addext",
             "basicConstraints=critical,CA:TRUE", "-addext",
             "keyUsage=critical,keyCertSign,cRLSign")
    return cert, key


def make_cert(d, name, cn, ca, server=False):
    """A P-256 certificate NAME.pem/NAME.key in d issued by ca = (cert,
    key): a server certificate for localhost/127.0.0.1, or a TLS client
    certificate whose subject CN is cn.  Returns (cert, key)."""
    cert, key = os.path.join(d, name + ".pem"), os.path.join(d, name + ".key")
    csr, ext = os.path.join(d, name + ".csr"), os.path.join(d, name + ".ext")
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=" + cn)
    with open(ext, "w") as f:
        if server:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                    "extendedKeyUsage=serverAuth\n")
        else:
            f.write("extendedKeyUsage=clientAuth\n")
    _openssl("x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1],
             "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext)
    os.unlink(csr)
    os.unlink(ext)
    return cert, key


class Pki:
    """A CA, a server certificate and one client certificate per device,
    all in directory d.  pki.client[dev] = (cert, key)."""

    def __init__(self, d, devices=()):
        self.dir = d
        os.makedirs(d, exist_ok=True)
        self.ca = make_ca(d)
        self.server = make_cert(d, "server", "localhost", self.ca,
                                server=True)
        self.client = {}
        for dev in devices:
            self.client[dev] = make_cert(d, "dev-" + dev, dev, self.ca)


class AdminApi:
    """An admin API for a test gateway: a token file in tmp and a free
    loopback port.  settings() goes into the gateway's configuration;
    otactl(*args) runs `otactl --url` against it (popen=True: a Popen
    with text pipes, for a call that runs while the test goes on)."""

    def __init__(self, tmp, ca):
        self.ca = ca
        self.token = os.urandom(16).hex()
        self.token_path = os.path.join(tmp, "admin.token")
        with open(self.token_path, "w") as f:
            f.write(self.token + "\n")
        os.chmod(self.token_path, 0o600)
        self.port = free_port(socket.SOCK_STREAM)
        self.url = "https://127.0.0.1:%d" % self.port

    def settings(self):
        return {"admin_listen": "127.0.0.1:%d" % self.port,
                "admin_token_file": self.token_path}

    def otactl(self, *args, popen=False, timeout=300):
        argv = [OTACTL, "--url", self.url, "--token-file", self.token_path,
                "--ca", self.ca] + [str(a) for a in args]
        if popen:
            return subprocess.Popen(argv, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
        return subprocess.run(argv, capture_output=True, text=True,
                              timeout=timeout)


def https_gateway(pki, extra=None, coaps=False, tmp=None, client_ca=True):
    """A Gateway with its HTTPS device listener on a free TCP port, using
    pki's server certificate (and its CA for client certificates).  The
    port is gw.https_port and the base URL gw.https_url."""
    port = free_port(socket.SOCK_STREAM)
    s = {"https_listen": "127.0.0.1:%d" % port,
         "tls_cert": pki.server[0], "tls_key": pki.server[1],
         "device_ca": pki.ca[0] if client_ca else '""'}
    s.update(extra or {})
    gw = Gateway(coaps=coaps, extra=s, tmp=tmp)
    gw.https_port = port
    gw.https_url = "https://127.0.0.1:%d" % port
    return gw


class HttpResult:
    def __init__(self, rc, status, headers, body, err, version=None):
        self.rc = rc              # curl's exit status
        self.status = status      # int, 0 when no answer
        self.headers = headers    # {lowercase name: last value}
        self.body = body          # bytes
        self.stderr = err
        self.version = version    # "2" or "1.1" (from the status line)

    def h(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        return "HttpResult(rc=%r, status=%r, headers=%r, len=%d, err=%r)" % (
            self.rc, self.status, self.headers, len(self.body or b""),
            self.stderr[-300:])


def parse_header_dump(raw):
    """curl -D output: the last response's (status, headers, version)."""
    text = raw.decode("iso-8859-1")
    blocks = [b for b in re.split(r"\r?\n\r?\n", text) if b.strip()]
    if not blocks:
        return 0, {}, None
    lines = blocks[-1].splitlines()
    m = re.match(r"HTTP/(\S+) (\d+)", lines[0])
    status = int(m.group(2)) if m else 0
    version = m.group(1) if m else None
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, version


def curl_request(url, method="GET", http="2", headers=(), data=None,
                 cacert=None, cert=None, out=None, extra=(), timeout=60,
                 tmpdir=None):
    """One request with curl.  http: "2" (--http2, ALPN h2) or "1.1".
    cert: (cert, key) for a client certificate.  data: bytes posted.
    out: a path to write the body to (then result.body is b"")."""
    fd, hdr = tempfile.mkstemp(dir=tmpdir, prefix="curl-hdr-")
    os.close(fd)
    fd, body = tempfile.mkstemp(dir=tmpdir, prefix="curl-body-")
    os.close(fd)
    args = [CURL, "-sS", "-D", hdr, "-o", out or body,
            "--http2" if http == "2" else "--http1.1"]
    if cacert:
        args += ["--cacert", cacert]
    if cert:
        args += ["--cert", cert[0], "--key", cert[1]]
    if method == "HEAD":
        args += ["-I"]
    elif method != "GET" or data is not None:
        args += ["-X", method]
    for h in headers:
        args += ["-H", h]
    datafile = None
    if data is not None:
        fd, datafile = tempfile.mkstemp(dir=tmpdir, prefix="curl-data-")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        args += ["--data-binary", "@" + datafile]
    args += list(extra) + [url]
    try:
        p = subprocess.run(args, capture_output=True, timeout=timeout)
        with open(hdr, "rb") as f:
            status, hdrs, version = parse_header_dump(f.read())
        with open(body, "rb") as f:
            content = f.read()
        if method == "HEAD":
            content = b""       # curl -I writes the head there
    finally:
        for path in (hdr, body, datafile):
            if path and os.path.exists(path):
                os.unlink(path)
    return HttpResult(p.returncode, status, hdrs, content,
                      p.stderr.decode("utf-8", "replace"), version)


def metrics_scrape(url, ca, token, tmpdir=None):
    """GET url/metrics with the admin token; {sample: value} of the lines
    without labels (labelled samples are left out)."""
    r = curl_request(url + "/metrics", "GET", "1.1",
                     ["Authorization: Bearer " + token], None, ca,
                     tmpdir=tmpdir)
    out = {}
    for line in r.body.decode("utf-8", "replace").splitlines():
        m = re.match(r"^(\S+) (\S+)$", line)
        if m and not line.startswith("#"):
            out[m.group(1)] = float(m.group(2))
    return out


# ---------------------------------------------------------------------------
# HTTP/2 by hand (test_http_strict, test_slowloris): frames that curl and
# nghttp never send, over TLS with ALPN h2, standard library only.

import ssl  # noqa: E402

H2_DATA, H2_HEADERS, H2_PRIORITY, H2_RST_STREAM, H2_SETTINGS = 0, 1, 2, 3, 4
H2_PUSH_PROMISE, H2_PING, H2_GOAWAY, H2_WINDOW_UPDATE = 5, 6, 7, 8
H2_CONTINUATION = 9
H2_END_STREAM, H2_ACK, H2_END_HEADERS, H2_PADDED = 0x1, 0x1, 0x4, 0x8
H2_NO_ERROR, H2_PROTOCOL_ERROR, H2_STREAM_CLOSED = 0x0, 0x1, 0x5
H2_FRAME_NAMES = ["DATA", "HEADERS", "PRIORITY", "RST_STREAM", "SETTINGS",
                  "PUSH_PROMISE", "PING", "GOAWAY", "WINDOW_UPDATE",
                  "CONTINUATION"]
H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# :status values of the HPACK static table (RFC 7541 Appendix A)
_HPACK_STATUS = {8: 200, 9: 204, 10: 206, 11: 304, 12: 400, 13: 404,
                 14: 500}
# Huffman codes of the digits (RFC 7541 Appendix B): 0-2 have five bits,
# 3-9 six bits (0b011001 to 0b011111)
_HUFF_DIGIT5 = {0b00000: "0", 0b00001: "1", 0b00010: "2"}
_HUFF_DIGIT6 = dict((0b011001 + i, str(3 + i)) for i in range(7))


def hpack_int(value, prefix_bits, first=0):
    """An HPACK integer with an N-bit prefix; first: the bits above it."""
    top = (1 << prefix_bits) - 1
    if value < top:
        return bytes([first | value])
    out = bytearray([first | top])
    value -= top
    while value >= 128:
        out.append((value & 127) | 128)
        value >>= 7
    out.append(value)
    return bytes(out)


def hpack_read_int(buf, i, prefix_bits):
    """(value, next index) of the integer at buf[i]."""
    top = (1 << prefix_bits) - 1
    v = buf[i] & top
    i += 1
    if v < top:
        return v, i
    shift = 0
    while True:
        b = buf[i]
        i += 1
        v += (b & 127) << shift
        shift += 7
        if not b & 128:
            return v, i


def hpack_literal(name, value):
    """One field as a literal without indexing, new name, no Huffman: the
    name is sent exactly as given (upper case too)."""
    if isinstance(name, str):
        name = name.encode("latin-1")
    if isinstance(value, str):
        value = value.encode("latin-1")
    return (b"\x00" + hpack_int(len(name), 7) + name +
            hpack_int(len(value), 7) + value)


def _huffman_digits(data):
    """Decodes a Huffman string made of digits only, or returns None."""
    bits = "".join("{:08b}".format(b) for b in data)
    out, i = "", 0
    while i < len(bits):
        rest = bits[i:]
        if len(rest) < 8 and rest == "1" * len(rest):
            return out                    # EOS padding
        if len(rest) >= 5 and int(rest[:5], 2) in _HUFF_DIGIT5:
            out += _HUFF_DIGIT5[int(rest[:5], 2)]
            i += 5
        elif len(rest) >= 6 and int(rest[:6], 2) in _HUFF_DIGIT6:
            out += _HUFF_DIGIT6[int(rest[:6], 2)]
            i += 6
        else:
            return None
    return out


def hpack_status(block):
    """The :status of a response header block (the first field, as RFC
    9113 wants), from a server that was told SETTINGS_HEADER_TABLE_SIZE 0:
    an indexed static entry, or a literal with the static name :status.
    None when it cannot be read."""
    i = 0
    while i < len(block) and block[i] & 0xE0 == 0x20:   # table size update
        _, i = hpack_read_int(block, i, 5)
    if i >= len(block):
        return None
    b = block[i]
    if b & 0x80:
        idx, i = hpack_read_int(block, i, 7)
        return _HPACK_STATUS.get(idx)
    idx, i = hpack_read_int(block, i, 6 if b & 0x40 else 4)
    if idx not in _HPACK_STATUS:
        return None
    huff = block[i] & 0x80
    n, i = hpack_read_int(block, i, 7)
    raw = block[i:i + n]
    text = _huffman_digits(raw) if huff else raw.decode("latin-1")
    return int(text) if text and text.isdigit() else None


class H2Frame:
    def __init__(self, ftype, flags, sid, payload):
        self.type = ftype
        self.flags = flags
        self.sid = sid
        self.payload = payload

    def error_code(self):
        """RST_STREAM and GOAWAY: the error code."""
        if self.type == H2_RST_STREAM:
            return struct.unpack("!I", self.payload[:4])[0]
        if self.type == H2_GOAWAY:
            return struct.unpack("!I", self.payload[4:8])[0]
        return None

    def __repr__(self):
        name = (H2_FRAME_NAMES[self.type] if self.type < len(H2_FRAME_NAMES)
                else str(self.type))
        extra = ""
        if self.error_code() is not None:
            extra = " error=%d" % self.error_code()
        return "<%s sid=%d flags=0x%x len=%d%s>" % (
            name, self.sid, self.flags, len(self.payload), extra)


class H2Raw:
    """One HTTP/2 connection driven frame by frame.

        h = H2Raw(port, cafile)          # preface + SETTINGS sent
        h.request(1, "POST", "/x", [("content-length", "3")], end=False)
        h.data(1, b"abc", end=True)
        f = h.wait(lambda f: f.type == H2_HEADERS and f.sid == 1)

    The client announces SETTINGS_HEADER_TABLE_SIZE 0, so hpack_status
    reads the :status of any response.  SETTINGS from the server are
    acknowledged as they are read.  Every frame read is kept in .frames.
    """

    def __init__(self, port, cafile, host="127.0.0.1", source=None,
                 timeout=10.0, preface=True):
        ctx = ssl.create_default_context(cafile=cafile)
        ctx.set_alpn_protocols(["h2"])
        raw = socket.create_connection(
            (host, port), timeout=timeout,
            source_address=(source, 0) if source else None)
        self.sock = ctx.wrap_socket(raw, server_hostname="localhost")
        if self.sock.selected_alpn_protocol() != "h2":
            raise RuntimeError("the server did not select h2")
        self.buf = b""
        self.frames = []
        self.closed = False     # the server closed (read or write failed)
        self.eof = False        # nothing more to read
        if preface:
            self.sock.sendall(H2_PREFACE + self.frame(
                H2_SETTINGS, 0, 0, struct.pack("!HI", 1, 0)))

    @staticmethod
    def frame(ftype, flags, sid, payload=b""):
        return (struct.pack("!I", len(payload))[1:] +
                bytes([ftype, flags]) + struct.pack("!I", sid) + payload)

    def send(self, ftype, flags, sid, payload=b""):
        """Sends one frame; a connection the server closed sets .closed
        (what the server said before is still read)."""
        try:
            self.sock.sendall(self.frame(ftype, flags, sid, payload))
        except OSError:
            self.closed = True

    def request(self, sid, method, path, fields=(), end=True,
                authority="localhost", block=None):
        """HEADERS (END_HEADERS) with the pseudo-header fields first,
        then fields in order; block: send these bytes instead."""
        if block is None:
            block = (hpack_literal(":method", method) +
                     hpack_literal(":scheme", "https") +
                     hpack_literal(":authority", authority) +
                     hpack_literal(":path", path))
            for n, v in fields:
                block += hpack_literal(n, v)
        flags = H2_END_HEADERS | (H2_END_STREAM if end else 0)
        self.send(H2_HEADERS, flags, sid, block)

    def data(self, sid, payload, end=False):
        self.send(H2_DATA, H2_END_STREAM if end else 0, sid, payload)

    def read(self, timeout):
        """The next frame, or None after timeout seconds or at the end of
        the connection (then .closed is set)."""
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buf) >= 9:
                n = int.from_bytes(self.buf[:3], "big")
                if len(self.buf) >= 9 + n:
                    f = H2Frame(self.buf[3], self.buf[4],
                                struct.unpack("!I", self.buf[5:9])[0]
                                & 0x7FFFFFFF, self.buf[9:9 + n])
                    self.buf = self.buf[9 + n:]
                    if f.type == H2_SETTINGS and not f.flags & H2_ACK:
                        try:
                            self.send(H2_SETTINGS, H2_ACK, 0)
                        except OSError:
                            pass
                    self.frames.append(f)
                    return f
            left = deadline - time.monotonic()
            if self.eof or left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except (socket.timeout, ssl.SSLWantReadError):
                return None
            except (OSError, ssl.SSLError):
                chunk = b""
            if not chunk:
                self.closed = self.eof = True
                continue
            self.buf += chunk

    def wait(self, pred, timeout=10.0):
        """Reads frames until pred(frame) holds; that frame, or None."""
        deadline = time.monotonic() + timeout
        while True:
            f = self.read(max(0.0, deadline - time.monotonic()))
            if f is None:
                return None
            if pred(f):
                return f

    def read_all(self, timeout):
        """Every frame that arrives within timeout seconds."""
        out = []
        deadline = time.monotonic() + timeout
        while True:
            f = self.read(max(0.0, deadline - time.monotonic()))
            if f is None:
                return out
            out.append(f)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def need_dtls_client():
    """Exits 77 (skipped) when tests/tools/dtls_client is not there."""
    if not DTLS_CLIENT or not os.access(DTLS_CLIENT, os.X_OK):
        print("DTLS_CLIENT_BIN is not set: build tests/tools/dtls_client")
        sys.exit(77)


def dtls_send(gw, dev, key, datagrams, bind=None):
    """Sends hand-made CoAP datagrams over one DTLS session (dtls_client,
    from the address bind if given): its exit status and the answers,
    decoded (None for a datagram that got none)."""
    args = [DTLS_CLIENT] + (["-b", bind] if bind else []) + [
        "127.0.0.1", str(gw.coaps_port), dev, key.encode().hex(),
        "send"] + [d.hex() for d in datagrams]
    p = subprocess.run(args, capture_output=True, text=True, timeout=60)
    return p.returncode, [None if line == "-" else
                          coap_decode(bytes.fromhex(line))
                          for line in p.stdout.splitlines()]


class Lines:
    """A background process whose output lines are kept with the time
    (time.monotonic()) each arrived."""

    def __init__(self, args):
        self.lines = []
        self.lock = threading.Lock()
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for raw in iter(self.proc.stdout.readline, b""):
            with self.lock:
                self.lines.append((time.monotonic(),
                                   raw.decode("utf-8", "replace")))

    def find(self, pattern, after=0.0):
        """(time, line) of the first line matching pattern at or after
        time `after`, or None."""
        with self.lock:
            for t, line in self.lines:
                if t >= after and re.search(pattern, line):
                    return t, line
        return None

    def text(self):
        with self.lock:
            return "".join(line for _, line in self.lines)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.thread.join(5)


def observe(gw, dev, key, seconds):
    """coap-client-openssl observing dev's notice over DTLS for seconds:
    (its Lines, the registration's answer line or None after 10 s)."""
    sub = Lines([COAP_CLIENT, "-m", "get", "-s", str(seconds), "-B",
                 str(seconds + 10), "-v", "6", "-w", "-u", dev, "-k", key,
                 "coaps://127.0.0.1:%d/ota/%s/notice" % (gw.coaps_port,
                                                         dev)])
    try:
        reg = wait_for(lambda: sub.find(r"t:ACK c:2\.05 .*Observe:"), 10,
                       "the registration's answer")
    except TimeoutError:
        reg = None
    return sub, reg
