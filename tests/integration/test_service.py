#!/usr/bin/env python3
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
"""

import os
import signal
import socket
import subprocess
import tempfile
import time

from otagw_harness import (OTAGW, Checks, Gateway, free_port, free_port_both,
                           wait_for)

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


def main():
    test_one_per_store()
    test_taken_ports()
    test_detached()
    test_notify()
    checks.done()


if __name__ == "__main__":
    main()
