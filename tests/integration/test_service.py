#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""test_service: otagw as a service manager (and an operator) runs it.

- One otagw per state directory: a second one on the same directory exits
  1 with "state directory DIR is in use by otagw (pid N)", and the first
  keeps serving.
- A port already taken (the coaps UDP port, the HTTPS TCP port) makes
  otagw exit 1 with the reason, whether or not another program bound it
  with SO_REUSEADDR.
- Detached (no -d): the parent exits 0 only once the daemon serves (its
  port answers at once), and 1, with the reason on stderr, when the start
  fails.
- systemd's readiness protocol: with NOTIFY_SOCKET set, otagw sends
  READY=1 once serving, RELOADING=1 then READY=1 around SIGHUP, and
  STOPPING=1 when it stops.
- SIGTERM drains: an HTTP/2 download in flight gets GOAWAY and then
  every byte of the image, a new connection is refused, and otagw exits
  0 once it is done; an HTTP/1.1 download in flight finishes too.  A
  second SIGTERM stops at once; shutdown_timeout cuts a transfer that
  does not finish.
- SIGHUP reloads tls_cert and tls_key: a new handshake sees the new
  certificate, a connection opened before keeps working.
- /healthz tells the truth: 200 when all is well (GET and HEAD), 503
  with reasons when the outbox is above 90 % of outbox_limit, and when the
  store is full; a larger map_size_max on SIGHUP lets the map grow and
  /healthz is 200 again; /metrics shows the map's size and use.
- Started as root with `user nobody`: otagw binds, opens the store, gives
  the state directory to nobody and runs as nobody; started as nobody on
  a state directory root owns, it refuses with the owner and the mode.
"""

import hashlib
import os
import signal
import socket
import ssl
import subprocess
import tempfile
import time

from otagw_harness import (H2_DATA, H2_END_STREAM, H2_GOAWAY, H2_HEADERS,
                           H2_WINDOW_UPDATE, OTAGW, Checks, Gateway, H2Raw,
                           Pki, free_port, free_port_both, hpack_status,
                           https_gateway, make_cert, wait_for)
from otagw_harness import OTACTL

checks = Checks()
TMP = tempfile.mkdtemp(prefix="otagw-service-")


def run(*args, env=None, timeout=30):
    return subprocess.run([OTAGW] + list(args), capture_output=True,
                          text=True, timeout=timeout, env=env)


def write_conf(name, **kv):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        for k, v in kv.items():
            f.write("%s %s\n" % (k, v))
    return path


def coap_ping(port, timeout=3.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.3)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s.sendto(b"\x40\x00\x12\x34", ("127.0.0.1", port))
            try:
                data, _ = s.recvfrom(64)
            except socket.timeout:
                continue
            if data[:1] == b"\x70" and data[2:4] == b"\x12\x34":
                return True
        return False
    finally:
        s.close()


def test_one_per_store():
    gw = Gateway(coap=True, coaps=False)
    with gw:
        pid = gw.proc.pid
        conf = write_conf("second.conf", state_dir=gw.state,
                          coap_listen="127.0.0.1:%d" % free_port(),
                          coaps_listen="off", https_listen="off",
                          admin_listen="off")
        p = run("-d", "-c", conf)
        checks.eq(p.returncode, 1, "a second otagw on the same state "
                  "directory exits 1")
        want = "state directory %s is in use by otagw (pid %d)" % \
            (gw.state, pid)
        checks.check(want in p.stderr, "it says who holds it (%r)" %
                     p.stderr[-300:])
        checks.check(coap_ping(gw.coap_port), "the first keeps serving")
        # otactl still works beside the daemon
        o = gw.otactl("device", "list")
        checks.eq(o.returncode, 0, "otactl --state works beside it")


def test_taken_ports():
    # UDP, bound by another program with SO_REUSEADDR (as libcoap does)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    u.bind(("127.0.0.1", 0))
    uport = u.getsockname()[1]
    conf = write_conf("udp.conf", state_dir=os.path.join(TMP, "udp-var"),
                      coaps_listen="127.0.0.1:%d" % uport,
                      https_listen="off", admin_listen="off")
    p = run("-d", "-c", conf)
    checks.eq(p.returncode, 1, "a taken UDP port: exit 1")
    checks.check("Address already in use" in p.stderr and
                 str(uport) in p.stderr,
                 "it names the port and the reason (%r)" % p.stderr[-300:])
    u.close()
    # TCP
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind(("127.0.0.1", 0))
    t.listen(1)
    tport = t.getsockname()[1]
    certs = os.path.join(TMP, "certs")
    if not os.path.exists(certs):
        subprocess.run(["sh", os.path.join(os.environ["OTAGW_SRCDIR"],
                                           "certs", "gen.sh"), certs],
                       capture_output=True, check=True)
    conf = write_conf("tcp.conf", state_dir=os.path.join(TMP, "tcp-var"),
                      coaps_listen="off", https_listen="127.0.0.1:%d" % tport,
                      admin_listen="off",
                      tls_cert=os.path.join(certs, "server.pem"),
                      tls_key=os.path.join(certs, "server.key"))
    p = run("-d", "-c", conf)
    checks.eq(p.returncode, 1, "a taken TCP port: exit 1")
    checks.check(str(tport) in p.stderr, "it names the port (%r)" %
                 p.stderr[-300:])
    t.close()


def test_detached():
    port = free_port()
    var = os.path.join(TMP, "detached-var")
    conf = write_conf("detached.conf", state_dir=var,
                      coap_listen="127.0.0.1:%d" % port, coaps_listen="off",
                      https_listen="off", admin_listen="off")
    p = run("-c", conf)
    checks.eq(p.returncode, 0, "detached: the parent exits 0")
    checks.check(coap_ping(port, timeout=0.5),
                 "detached: serving as soon as the parent returns")
    with open(os.path.join(var, "otagw.pid")) as f:
        pid = int(f.read().strip())
    # A second detached start on the same store fails, with the reason.
    p2 = run("-c", conf)
    checks.eq(p2.returncode, 1, "detached: a failed start exits 1")
    checks.check("is in use by otagw (pid %d)" % pid in p2.stderr,
                 "detached: the reason is on stderr (%r)" % p2.stderr[-200:])
    os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not os.path.exists("/proc/%d" % pid), 10,
             "the detached daemon stops")


def test_notify():
    path = os.path.join(TMP, "notify.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    srv.bind(path)
    srv.settimeout(10)
    port = free_port()
    conf = write_conf("notify.conf", state_dir=os.path.join(TMP, "n-var"),
                      coap_listen="127.0.0.1:%d" % port, coaps_listen="off",
                      https_listen="off", admin_listen="off")
    env = dict(os.environ, NOTIFY_SOCKET=path)
    proc = subprocess.Popen([OTAGW, "-d", "-c", conf], env=env,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        msg = srv.recv(4096).decode()
        checks.check("READY=1" in msg, "READY=1 once serving (%r)" % msg)
        checks.check(coap_ping(port, timeout=0.5), "serving when READY")
        proc.send_signal(signal.SIGHUP)
        a = srv.recv(4096).decode()
        b = srv.recv(4096).decode()
        checks.eq((a, b), ("RELOADING=1", "READY=1"),
                  "RELOADING=1 then READY=1 around SIGHUP")
        proc.send_signal(signal.SIGTERM)
        c = srv.recv(4096).decode()
        checks.eq(c, "STOPPING=1", "STOPPING=1 on SIGTERM")
        checks.eq(proc.wait(10), 0, "exit 0")
    finally:
        if proc.poll() is None:
            proc.kill()
        srv.close()


SECRET = "s3cret-dev1"


def download_setup(gw, size):
    """dev1 (bearer SECRET) notified for a firmware of size bytes."""
    gw.otactl("device", "put", "dev1", "--product", "p", "--secret", SECRET,
              "--version", "1.0.0", check=True)
    img = os.path.join(gw.tmp, "big.bin")
    with open(img, "wb") as f:
        f.write(os.urandom(size))
    with open(img, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    fw = gw.otactl_id("firmware", "add", img, "--product", "p",
                      "--version", "2.0.0")
    gw.otactl("job", "create", "--firmware", fw, "--force", "--all",
              check=True)
    p = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                        "--cacert", gw.pki.ca[0], "-H",
                        "Authorization: Bearer " + SECRET, "-H",
                        "Content-Type: application/json", "-d",
                        '{"version":"1.0.0"}',
                        gw.https_url + "/ota/dev1/check"],
                       capture_output=True, text=True, timeout=30)
    checks.eq(p.stdout, "200", "dev1 notified")
    return fw, digest


def h2_get(gw, fw):
    h = H2Raw(gw.https_port, gw.pki.ca[0])
    h.request(1, "GET", "/fw/" + fw, [("authorization", "Bearer " + SECRET),
                                      ("x-device-id", "dev1")])
    return h


def window_update(h, sid, n):
    import struct
    h.send(H2_WINDOW_UPDATE, 0, sid, struct.pack("!I", n))


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        return True
    return False


def test_drain_h2(pki):
    size = 2 << 20
    gw = https_gateway(pki, extra={"shutdown_timeout": "20s"})
    gw.pki = pki
    with gw:
        fw, digest = download_setup(gw, size)
        h = h2_get(gw, fw)
        hd = h.wait(lambda f: f.type == H2_HEADERS and f.sid == 1)
        checks.eq(hd and hpack_status(hd.payload), 200, "h2: the download "
                  "starts")
        body = bytearray()
        # the initial window (64 KiB): the rest waits for WINDOW_UPDATE
        for f in h.read_all(1.0):
            if f.type == H2_DATA and f.sid == 1:
                body += f.payload
        checks.check(0 < len(body) < size, "h2: the download is under way "
                     "(%d bytes)" % len(body))
        t0 = time.monotonic()
        gw.proc.send_signal(signal.SIGTERM)
        g = h.wait(lambda f: f.type == H2_GOAWAY, timeout=5)
        checks.check(g is not None and g.payload[4:8] == b"\0\0\0\0",
                     "h2: GOAWAY (NO_ERROR) after SIGTERM")
        checks.check(refused(gw.https_port), "a new connection is refused "
                     "while draining")
        done = False
        while not done and time.monotonic() - t0 < 15:
            window_update(h, 0, 1 << 20)
            window_update(h, 1, 1 << 20)
            for f in h.read_all(0.2):
                if f.type == H2_DATA and f.sid == 1:
                    body += f.payload
                    if f.flags & H2_END_STREAM:
                        done = True
        checks.eq((len(body), hashlib.sha256(body).hexdigest()),
                  (size, digest), "h2: every byte of the image arrives "
                  "after SIGTERM")
        h.close()
        checks.eq(gw.proc.wait(10), 0, "otagw exits 0 once the download "
                  "is done")
        checks.check("may finish for up to 20s" in gw.log(),
                     "the log says it is draining")


def test_drain_h1(pki):
    size = 1 << 20
    gw = https_gateway(pki, extra={"shutdown_timeout": "20s"})
    gw.pki = pki
    with gw:
        fw, digest = download_setup(gw, size)
        out = os.path.join(gw.tmp, "h1.bin")
        curl = subprocess.Popen(
            ["curl", "-s", "--http1.1", "--limit-rate", "400K", "-o", out,
             "--cacert", pki.ca[0], "-H", "Authorization: Bearer " + SECRET,
             "-H", "X-Device-Id: dev1", gw.https_url + "/fw/" + fw])
        time.sleep(0.5)
        gw.proc.send_signal(signal.SIGTERM)
        rc = curl.wait(30)
        with open(out, "rb") as f:
            got = f.read()
        checks.eq((rc, len(got), hashlib.sha256(got).hexdigest()),
                  (0, size, digest), "h1: the download in flight finishes")
        checks.eq(gw.proc.wait(10), 0, "otagw exits 0")


def test_second_sigterm(pki):
    gw = https_gateway(pki, extra={"shutdown_timeout": "30s"})
    gw.pki = pki
    with gw:
        fw, _ = download_setup(gw, 1 << 20)
        h = h2_get(gw, fw)
        h.read_all(0.5)		# stalled: no WINDOW_UPDATE
        gw.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        checks.check(gw.alive(), "draining: still running after one "
                     "SIGTERM")
        t0 = time.monotonic()
        gw.proc.send_signal(signal.SIGTERM)
        rc = gw.proc.wait(5)
        checks.check(rc == 0 and time.monotonic() - t0 < 1.5,
                     "a second SIGTERM stops at once (%.2f s)" %
                     (time.monotonic() - t0))
        h.close()
    gw = https_gateway(pki, extra={"shutdown_timeout": "1s"})
    gw.pki = pki
    with gw:
        fw, _ = download_setup(gw, 1 << 20)
        h = h2_get(gw, fw)
        h.read_all(0.5)
        t0 = time.monotonic()
        gw.proc.send_signal(signal.SIGTERM)
        rc = gw.proc.wait(10)
        took = time.monotonic() - t0
        checks.check(rc == 0 and 0.8 < took < 3, "shutdown_timeout 1s cuts "
                     "a stalled transfer (%.2f s)" % took)
        checks.check("shutdown_timeout (1s) reached" in gw.log(),
                     "the cut is logged")
        h.close()


def peer_cert(port):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw) as s:
            return hashlib.sha256(s.getpeercert(True)).hexdigest()


def test_reload_certificate(pki):
    gw = https_gateway(pki)
    with gw:
        first = peer_cert(gw.https_port)
        ctx = ssl.create_default_context(cafile=pki.ca[0])
        old = ctx.wrap_socket(socket.create_connection(
            ("127.0.0.1", gw.https_port), timeout=5),
            server_hostname="localhost")
        new = make_cert(pki.dir, "server2", "localhost", pki.ca, server=True)
        gw.extra["tls_cert"] = new[0]
        gw.extra["tls_key"] = new[1]
        gw.write_conf()
        gw.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "configuration reloaded" in gw.log(), 10,
                 "the reload")
        second = peer_cert(gw.https_port)
        checks.check(first != second, "after SIGHUP a new handshake gets "
                     "the new certificate")
        with open(new[0]) as f:
            want = hashlib.sha256(ssl.PEM_cert_to_DER_cert(
                f.read())).hexdigest()
        checks.eq(second, want, "it is the new file's certificate")
        old.sendall(b"GET /nope HTTP/1.1\r\nHost: localhost\r\n\r\n")
        checks.check(old.recv(64).startswith(b"HTTP/1.1 404"),
                     "a connection opened before keeps working")
        old.close()
        # files that do not load: the running ones stay
        gw.extra["tls_cert"] = os.path.join(pki.dir, "missing.pem")
        gw.write_conf()
        gw.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "do not load" in gw.log(), 10, "the warning")
        checks.eq(peer_cert(gw.https_port), second, "a certificate that "
                  "does not load leaves the running one")


def test_user():
    conf = write_conf("nouser.conf", state_dir=os.path.join(TMP, "nu-var"),
                      user="no-such-otagw-user", coaps_listen="off",
                      https_listen="off", admin_listen="off")
    p = run("-n", "-c", conf)
    checks.check(p.returncode == 1 and
                 "user no-such-otagw-user: no such user" in p.stderr,
                 "-n: an unknown user is an error (%r)" % p.stderr[-200:])
    if os.geteuid() != 0:
        print("skipped: test_user needs root")
        return
    port = free_port()
    var = os.path.join(TMP, "user-var")
    conf = write_conf("user.conf", state_dir=var, user="nobody",
                      coap_listen="127.0.0.1:%d" % port, coaps_listen="off",
                      https_listen="off", admin_listen="off")
    os.chmod(TMP, 0o755)
    proc = subprocess.Popen([OTAGW, "-d", "-c", conf],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        checks.check(coap_ping(port, timeout=5), "user nobody: serving")
        status = open("/proc/%d/status" % proc.pid).read()
        uid = [l.split()[1:] for l in status.splitlines()
               if l.startswith("Uid:")][0]
        checks.eq(set(uid), {"65534"}, "it runs as nobody, every uid")
        st = os.stat(var)
        checks.eq((st.st_uid, oct(st.st_mode & 0o777)), (65534, "0o700"),
                  "the state directory is nobody's, mode 0700")
        checks.eq(os.stat(os.path.join(var, "data.mdb")).st_uid, 65534,
                  "and so is the store")
    finally:
        proc.terminate()
        out = proc.communicate(timeout=10)[0].decode()
    checks.check("running as user nobody" in out, "the log says so")
    # as nobody, a directory root owns with mode 0700 is refused clearly
    var2 = os.path.join(TMP, "root-var")
    os.mkdir(var2, 0o700)
    conf2 = write_conf("nobody.conf", state_dir=var2,
                       coap_listen="127.0.0.1:%d" % free_port(),
                       coaps_listen="off", https_listen="off",
                       admin_listen="off")
    os.chmod(conf2, 0o644)
    p = subprocess.run(["runuser", "-u", "nobody", "--", OTAGW, "-d", "-c",
                        conf2], capture_output=True, text=True, timeout=30)
    checks.eq(p.returncode, 1, "an unusable state directory: exit 1")
    checks.check("is owned by root:root with mode 0700" in p.stderr and
                 "running as nobody" in p.stderr,
                 "the message names owner, mode and user (%r)" %
                 p.stderr[-300:])


def curl_json(url, ca, token=None, head=False, put=None):
    args = ["curl", "-s", "-o", "-", "-w", "\n%{http_code}", "--cacert", ca]
    if token:
        args += ["-H", "Authorization: Bearer " + token]
    if head:
        args += ["-I"]
    if put is not None:
        args += ["-X", "PUT", "-H", "Content-Type: application/json",
                 "--data-binary", put]
    p = subprocess.run(args + [url], capture_output=True, text=True,
                       timeout=30)
    body, _, code = p.stdout.rpartition("\n")
    return int(code or 0), body


def test_health(pki):
    tok = os.path.join(TMP, "admin.token")
    with open(tok, "w") as f:
        f.write("health-token\n")
    aport = free_port(socket.SOCK_STREAM)
    gw = https_gateway(pki, extra={
        "admin_listen": "127.0.0.1:%d" % aport, "admin_token_file": tok,
        "outbox_limit": "100", "map_size": "16M", "map_size_max": "16M"})
    gw.extra["coap_listen"] = "127.0.0.1:%d" % free_port()
    gw.coap_port = int(gw.extra["coap_listen"].split(":")[1])
    gw.write_conf()
    base = "https://127.0.0.1:%d" % aport
    with gw:
        code, body = curl_json(base + "/healthz", pki.ca[0])
        checks.eq((code, body), (200, '{"status":"ok"}'), "healthz: 200 ok")
        code, _ = curl_json(base + "/healthz", pki.ca[0], head=True)
        checks.eq(code, 200, "healthz: HEAD 200")
        code, text = curl_json(base + "/metrics", pki.ca[0], "health-token")
        checks.check(code == 200 and "otagw_store_map_bytes 16777216" in
                     text and "otagw_store_used_bytes" in text,
                     "metrics: map size and bytes used")
        # 95 version reports with no upstream: the outbox fills up
        gw.otactl("device", "put", "o1", "--product", "p", "--version",
                  "1.0.0", check=True)
        for i in range(95):
            check_coap(gw.coap_port, "o1", "1.0.%d" % (i + 1))
        code, body = curl_json(base + "/healthz", pki.ca[0])
        checks.check(code == 503 and "outbox_nearly_full" in body,
                     "healthz: 503 outbox_nearly_full (%d %s)" %
                     (code, body[:200]))
        code, _ = curl_json(base + "/healthz", pki.ca[0], head=True)
        checks.eq(code, 503, "healthz: HEAD 503 too")
    # a full store: 503, then room on SIGHUP
    gw2 = https_gateway(pki, extra={
        "admin_listen": "127.0.0.1:%d" % free_port(socket.SOCK_STREAM),
        "admin_token_file": tok, "map_size": "16M",
        "map_size_max": "16M"})
    aport2 = int(gw2.extra["admin_listen"].split(":")[1])
    base2 = "https://127.0.0.1:%d" % aport2
    with gw2:
        # imports of 10,000 devices until one fails, then of 1,000, ...
        csv = os.path.join(TMP, "many.csv")
        part = 0
        for size in (10000, 1000, 100, 10, 1):
            full = False
            for _ in range(500):
                with open(csv, "w") as f:
                    for i in range(size):
                        f.write("p,dev-%03d-%05d-%s,secret,\n" %
                                (part, i, "x" * 40))
                part += 1
                if gw2.otactl("device", "import", csv).returncode != 0:
                    full = True
                    break
        checks.check(full, "the 16M store fills up")
        # a write through otagw finds it full: 503, and /healthz says so
        # (otagw may reuse pages otactl could not while otagw read them)
        for i in range(300):
            code, body = curl_json(base2 + "/api/v1/devices/late-%d" % i,
                                   pki.ca[0], "health-token",
                                   put='{"product":"p","secret":"s"}')
            if code != 201:
                break
        checks.eq(code, 507, "an admin write to a full store: 507 (%s)" % body)
        code, body = curl_json(base2 + "/healthz", pki.ca[0])
        checks.check(code == 503 and "store_full" in body,
                     "healthz: 503 store_full (%d %s)" % (code, body[:200]))
        # a larger map_size_max, and a token file of a new name
        tok2 = os.path.join(TMP, "admin2.token")
        with open(tok2, "w") as f:
            f.write("second-token\n")
        os.chmod(tok2, 0o600)
        gw2.extra["map_size_max"] = "64M"
        gw2.extra["admin_token_file"] = tok2
        gw2.write_conf()
        gw2.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "map grown" in gw2.log(), 10, "the map grows")
        code, _ = curl_json(base2 + "/metrics", pki.ca[0], "health-token")
        checks.eq(code, 401, "SIGHUP: the old token is refused")
        code, text = curl_json(base2 + "/metrics", pki.ca[0], "second-token")
        checks.check("otagw_store_map_bytes 16777216" not in text,
                     "metrics: the map is larger now")
        o = gw2.otactl("device", "put", "after", "--product", "p",
                       "--version", "1.0.0")
        checks.eq(o.returncode, 0, "writes work again")
        code, body = curl_json(base2 + "/healthz", pki.ca[0])
        checks.eq((code, body), (200, '{"status":"ok"}'),
                  "healthz: 200 again after the map grew")


def test_relative_paths(pki):
    """Relative paths in a configuration file mean the file's directory,
    whatever the working directory of otagw or otactl."""
    home = os.path.join(TMP, "rel")
    elsewhere = os.path.join(TMP, "elsewhere")
    os.makedirs(home)
    os.makedirs(elsewhere)
    for src, dst in ((pki.server[0], "server.pem"),
                     (pki.server[1], "server.key")):
        with open(src, "rb") as f, open(os.path.join(home, dst), "wb") as g:
            g.write(f.read())
    with open(os.path.join(home, "admin.token"), "w") as f:
        f.write("relative-token\n")
    os.chmod(os.path.join(home, "admin.token"), 0o600)
    cport = free_port()
    aport = free_port(socket.SOCK_STREAM)
    conf = os.path.join(home, "otagw.conf")
    with open(conf, "w") as f:
        f.write("gateway_id gw-rel\nstate_dir ./var\n"
                "coap_listen 127.0.0.1:%d\ncoaps_listen off\n"
                "https_listen off\nadmin_listen 127.0.0.1:%d\n"
                "tls_cert server.pem\ntls_key ./server.key\n"
                "admin_token_file admin.token\n" % (cport, aport))
    otagw = os.path.abspath(OTAGW)
    otactl = os.path.abspath(OTACTL)
    p = subprocess.run([otagw, "-n", "-c", conf], cwd=elsewhere,
                       capture_output=True, text=True, timeout=30)
    checks.eq(p.returncode, 0, "-n from another directory finds the "
              "certificate, key and token beside the file (%s)" %
              p.stderr[-300:])
    log = open(os.path.join(TMP, "rel.log"), "wb")
    proc = subprocess.Popen([otagw, "-d", "-c", conf], cwd="/",
                            stdout=log, stderr=log)
    try:
        checks.check(coap_ping(cport), "otagw started from / serves")
        checks.check(os.path.exists(os.path.join(home, "var", "data.mdb")),
                     "its store is beside the configuration file")
        checks.check(not os.path.exists("/var/data.mdb"),
                     "and not in /var")
        o = subprocess.run([otactl, "-c", conf, "device", "put", "r1",
                            "--product", "p"], cwd=elsewhere,
                           capture_output=True, text=True, timeout=30)
        checks.eq(o.returncode, 0, "otactl -c from another directory "
                  "(%s)" % o.stderr[-200:])
        o = subprocess.run([otactl, "--state", os.path.join(home, "var"),
                            "device", "show", "r1"],
                           capture_output=True, text=True, timeout=30)
        checks.check(o.returncode == 0 and "r1" in o.stdout,
                     "it wrote to the same store")
        checks.check(not os.path.exists(os.path.join(elsewhere, "var")),
                     "and made no store where it ran")
        o = subprocess.run([otactl, "--state", "./typo", "device", "list"],
                           cwd=elsewhere, capture_output=True, text=True,
                           timeout=30)
        checks.check(o.returncode != 0 and
                     "no state directory ./typo" in o.stderr,
                     "otactl --state ./typo: an error naming it (%s)" %
                     o.stderr.strip())
        checks.check(not os.path.exists(os.path.join(elsewhere, "typo")),
                     "and no directory made")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
        log.close()


def check_coap(port, dev, version):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    body = ('{"version":"%s"}' % version).encode()
    opts = b"\xb3ota" + b"\x02" + dev.encode()[:2]
    path = [b"ota", dev.encode(), b"check"]
    msg = bytearray(b"\x40\x02\x00\x01")
    last = 0
    for seg in path:
        msg.append(((11 - last) << 4) | len(seg))
        msg += seg
        last = 11
    msg += b"\xff" + body
    try:
        s.sendto(bytes(msg), ("127.0.0.1", port))
        s.recvfrom(2048)
    finally:
        s.close()


def main():
    test_one_per_store()
    test_user()
    test_taken_ports()
    test_detached()
    test_notify()
    pki = Pki(os.path.join(TMP, "pki"))
    test_drain_h2(pki)
    test_drain_h1(pki)
    test_second_sigterm(pki)
    test_reload_certificate(pki)
    test_health(pki)
    test_relative_paths(pki)
    checks.done()


if __name__ == "__main__":
    main()
