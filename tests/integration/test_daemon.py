# SPDX-License-Identifier: BSD-2-Clause
"""test_daemon: the otagw program itself: options, configuration checks,
start-up, signals.

- `otagw -n` on the shipped conf/otagw.conf says "configuration OK" and
  exits 0; with -v it prints the effective configuration, which has plain
  CoAP off and DTLS on 5684.  A file it names that is missing (a
  certificate, a key) makes -n exit 1.
- Bad configuration files exit 1 with every error as "file:line: message".
- --help / -h / -V, and a bad option.
- A real gateway: creates its state directory (mode 0700), logs "otagw
  ready" in the documented line format, answers a CoAP ping on its port,
  reloads on SIGHUP (a reloadable change is applied, a listener change is
  reported as needing a restart, a broken file is refused), and stops with
  status 0 on SIGTERM and on SIGINT within a few seconds.
- Without -d it detaches, and the detached daemon stops on SIGTERM.
"""

import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time

from otagw_harness import (OTAGW, SRCDIR, Checks, Gateway, Pki, free_port,
                           free_port_both, wait_for)

checks = Checks()
TMP = tempfile.mkdtemp(prefix="otagw-daemon-")


def run(*args, timeout=30):
    return subprocess.run([OTAGW] + list(args), capture_output=True,
                          text=True, timeout=timeout)


def write(name, text):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def coap_ping(port, timeout=3.0):
    """A CoAP ping (empty CON) must be answered by a RST with its id."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.5)
    try:
        mid = os.getpid() & 0xffff
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s.sendto(bytes([0x40, 0x00, mid >> 8, mid & 0xff]),
                     ("127.0.0.1", port))
            try:
                data, _ = s.recvfrom(2048)
            except socket.timeout:
                continue
            if len(data) >= 4 and data[0] >> 4 == 0x7 and \
                    data[2:4] == bytes([mid >> 8, mid & 0xff]):
                return True
        return False
    finally:
        s.close()


# -n on the shipped configuration -----------------------------------------
shipped = os.path.join(SRCDIR, "conf", "otagw.conf")
p = run("-n", "-c", shipped)
checks.eq(p.returncode, 0, "otagw -n on conf/otagw.conf exits 0")
checks.check("configuration OK" in p.stderr + p.stdout,
             "otagw -n says configuration OK")

p = run("-n", "-v", "-c", shipped)
checks.eq(p.returncode, 0, "otagw -n -v exits 0")
dump = p.stdout
checks.check(re.search(r"^coap_listen off$", dump, re.M),
             "the dump shows plain CoAP off")
checks.check(re.search(r"^coaps_listen \S*:5684$", dump, re.M),
             "the dump shows DTLS on port 5684")
checks.eq(re.findall(r"^state_dir (.*)$", dump, re.M),
          [os.path.join(os.path.normpath(os.path.abspath(SRCDIR)), "var")],
          "the dump shows state in var/ beside conf/, made absolute")
checks.check(re.search(r"^https_listen \S*:8443$", dump, re.M),
             "the dump shows HTTPS on port 8443")
for key in ("gateway_id", "map_size", "log_level", "check_interval",
            "busy_interval", "max_body", "firmware_max_size",
            "coap_max_sessions", "coap_session_timeout"):
    checks.check(re.search(r"^%s \S+" % key, dump, re.M),
                 "the dump has %s" % key)

# The dump is itself a valid configuration file.
dumped = write("dumped.conf", dump)
p = run("-n", "-c", dumped)
checks.eq(p.returncode, 0, "the -v dump is a valid configuration")

# Bad configurations -------------------------------------------------------
bad_cases = [
    ("unknown.conf", "log_level info\nno_such_key 1\n",
     [":2: unknown key \"no_such_key\""]),
    ("range.conf", "max_body 100K\n",
     [":1: max_body: 100K is out of range (64 to 64K)"]),
    ("listen.conf", "# listeners\ncoaps_listen 5684\n",
     [":2: coaps_listen: bad address \"5684\""]),
    ("repeat.conf", "check_interval 60\ncheck_interval 70\n",
     [":2: check_interval: repeated (first set on line 1)"]),
    ("value.conf", "log_level chatty\n",
     [":1: log_level: bad value \"chatty\""]),
    ("several.conf", "foo 1\n\nbusy_interval 0\nstate_dir\n",
     [":1: unknown key \"foo\"", ":3: busy_interval: 0 is out of range",
      ":4: state_dir: missing value"]),
    ("clash.conf", "coap_listen :7777\ncoaps_listen :7777\n",
     [":2: coap_listen and coaps_listen use the same port 7777"]),
]
for name, text, wants in bad_cases:
    path = write(name, text)
    p = run("-n", "-c", path)
    checks.eq(p.returncode, 1, "%s: otagw -n exits 1" % name)
    for w in wants:
        checks.check((path + w) in p.stderr,
                     "%s: stderr has %r (got %r)" % (name, path + w,
                                                     p.stderr))
    checks.check("configuration OK" not in p.stderr,
                 "%s: not OK" % name)
    # Starting (not -n) with a bad file fails the same way.
    p = run("-d", "-c", path)
    checks.eq(p.returncode, 1, "%s: otagw -d refuses to start" % name)
    checks.check((path + wants[0]) in p.stderr,
                 "%s: start-up reports the error" % name)

# HTTPS on, certificate files missing: -n names them and exits 1, since
# otagw would not start; starting fails cleanly.
nocert = write("nocert.conf", "https_listen 127.0.0.1:%d\n"
               "tls_cert %s/none.pem\ntls_key %s/none.key\n"
               "state_dir %s/nocert-var\ncoaps_listen off\n"
               "admin_listen off\n" % (free_port_both(), TMP, TMP, TMP))
p = run("-n", "-c", nocert)
checks.eq(p.returncode, 1, "-n with missing certificate files exits 1")
checks.check("configuration OK" not in p.stderr,
             "-n does not say OK when files are missing")
checks.check("tls_cert %s/none.pem: No such file" % TMP in p.stderr and
             "tls_key %s/none.key: No such file" % TMP in p.stderr,
             "-n names the missing certificate files (%r)" % p.stderr)
p = run("-d", "-c", nocert)
checks.eq(p.returncode, 1, "otagw -d without its certificate exits 1")
checks.check("cannot load tls_cert" in p.stderr,
             "start-up says the certificate cannot be loaded")

# A listen address that does not resolve stops the daemon at start-up:
# -n says so too, with its setting (the .invalid domain never resolves).
noname = write("noname.conf", "https_listen nohost.invalid:%d\n"
               "coaps_listen off\nadmin_listen off\nstate_dir %s/nn-var\n"
               "tls_cert %s\ntls_key %s\n" %
               (free_port_both(), TMP, os.path.join(SRCDIR, "certs",
                                                    "server.pem"),
                os.path.join(SRCDIR, "certs", "server.key")))
p = run("-n", "-c", noname)
checks.check(p.returncode == 1 and "configuration OK" not in p.stderr and
             "https_listen nohost.invalid: " in p.stderr,
             "-n names a listen address that does not resolve (%r)" %
             p.stderr)

missing = os.path.join(TMP, "missing.conf")
p = run("-n", "-c", missing)
checks.eq(p.returncode, 1, "a missing file exits 1")
checks.check(missing in p.stderr and "No such file" in p.stderr,
             "a missing file is named with the reason")

# Options ---------------------------------------------------------------------
for opt in ("--help", "-h"):
    p = run(opt)
    checks.eq(p.returncode, 0, "%s exits 0" % opt)
    for word in ("-c", "-n", "-d", "-v", "SIGHUP", "SIGTERM", "otagw.conf",
                 "state_dir", "docs/", "admin API", "upstream_url"):
        checks.check(word in p.stdout, "%s mentions %s" % (opt, word))

p = run("-V")
checks.eq(p.returncode, 0, "-V exits 0")
checks.check(re.match(r"otagw \d+\.\d+", p.stdout), "-V prints the version")
p = run("--version")
checks.check(re.match(r"otagw \d+\.\d+", p.stdout), "--version too")

p = run("-x")
checks.eq(p.returncode, 1, "a bad option exits 1")
checks.check("usage:" in p.stderr, "a bad option prints the usage")
p = run("-n", "-c", shipped, "extra")
checks.eq(p.returncode, 1, "a stray argument exits 1")

# A running gateway -------------------------------------------------------------
https_port = free_port_both()
pki = Pki(os.path.join(TMP, "pki"))
gw = Gateway(coap=True, coaps=True, tmp=tempfile.mkdtemp(dir=TMP), extra={
    "https_listen": "127.0.0.1:%d" % https_port,
    "tls_cert": pki.server[0], "tls_key": pki.server[1],
    "check_interval": "1h",
})
checks.check(not os.path.exists(gw.state), "state dir absent before start")
with gw:
    log = gw.log()
    checks.check("otagw ready" in log, "otagw ready is logged")
    checks.check(re.search(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z "
                           r"otagw\[%d\]: info: otagw ready" % gw.proc.pid,
                           log, re.M),
                 "foreground log lines: time otagw[pid]: level: message")
    checks.check(re.search(r"otagw ready.*127\.0\.0\.1:%d" % gw.coaps_port,
                           log), "the ready line names the coaps listener")
    checks.check(os.path.isdir(gw.state), "the state dir was created")
    checks.eq(stat.S_IMODE(os.stat(gw.state).st_mode), 0o700,
              "the state dir has mode 0700")
    checks.check(re.search(r"otagw ready.*https 127\.0\.0\.1:%d" % https_port,
                           log), "the ready line names the https listener")
    checks.check(coap_ping(gw.coap_port), "otagw answers a CoAP ping")

    # SIGHUP: a reloadable change.
    gw.extra["check_interval"] = "2h"
    gw.write_conf()
    gw.proc.send_signal(signal.SIGHUP)
    try:
        wait_for(lambda: "check_interval changed: 1h -> 2h" in gw.log(),
                 10, "check_interval reload")
        checks.check(True, "SIGHUP applies a changed check_interval")
        wait_for(lambda: gw.log().count("configuration reloaded") >= 1,
                 10, "reload done")
        checks.check(True, "SIGHUP logs configuration reloaded")
    except TimeoutError as e:
        checks.check(False, str(e))

    # SIGHUP: a listener change needs a restart and is not applied.
    old_coaps = gw.coaps_port
    gw.coaps_port = free_port()
    gw.write_conf()
    gw.proc.send_signal(signal.SIGHUP)
    try:
        wait_for(lambda: "coaps_listen changed: needs a restart" in gw.log(),
                 10, "coaps_listen restart message")
        checks.check(True, "SIGHUP reports coaps_listen needs a restart")
        wait_for(lambda: gw.log().count("configuration reloaded") >= 2,
                 10, "second reload done")
    except TimeoutError as e:
        checks.check(False, str(e))
    gw.coaps_port = old_coaps
    checks.check(gw.alive(), "otagw keeps running after the reload")
    checks.check(coap_ping(gw.coap_port), "and still answers")

    # SIGHUP: a broken file is refused, the daemon keeps its settings.
    with open(gw.conf, "a") as f:
        f.write("max_body 12\n")
    gw.proc.send_signal(signal.SIGHUP)
    try:
        wait_for(lambda: "reload failed" in gw.log(), 10, "reload failure")
        checks.check(True, "SIGHUP with a broken file is refused")
        checks.check("%s:%d: max_body: 12 is out of range" %
                     (gw.conf, len(open(gw.conf).read().splitlines()))
                     in gw.log(), "and the error is logged as file:line")
    except TimeoutError as e:
        checks.check(False, str(e))
    checks.check(gw.alive() and coap_ping(gw.coap_port),
                 "otagw keeps serving after a refused reload")

    t0 = time.monotonic()
    rc = gw.stop(signal.SIGTERM, timeout=10)
    checks.eq(rc, 0, "SIGTERM: exit status 0")
    checks.check(time.monotonic() - t0 < 5, "SIGTERM: stopped within 5 s")
    checks.check("otagw stopped" in gw.log(), "SIGTERM: otagw stopped logged")

# SIGINT stops cleanly too, and a restart reuses the state dir.
gw2 = Gateway(coap=True, coaps=False, tmp=gw.tmp)
with gw2:
    checks.check(coap_ping(gw2.coap_port), "a second start answers")
    rc = gw2.stop(signal.SIGINT, timeout=10)
    checks.eq(rc, 0, "SIGINT: exit status 0")

# Without -d: otagw detaches; the detached daemon serves and stops on
# SIGTERM.  It is found through /proc by its unique configuration path.
gw3 = Gateway(coap=True, coaps=False, tmp=tempfile.mkdtemp(
    prefix="otagw-detach-", dir=TMP))
p = subprocess.run([OTAGW, "-c", gw3.conf], capture_output=True, text=True,
                   timeout=30)
checks.eq(p.returncode, 0, "without -d the starting process exits 0")


def find_daemon():
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if gw3.conf.encode() in argv and os.path.basename(
                argv[0]).startswith(b"otagw"):
            return int(pid)
    return None


try:
    pid = wait_for(find_daemon, 10, "the detached daemon")
    checks.check(wait_for(lambda: coap_ping(gw3.coap_port, 1.0), 10,
                          "detached daemon answering"),
                 "the detached daemon answers a CoAP ping")
    os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not os.path.exists("/proc/%d" % pid) or
             open("/proc/%d/stat" % pid).read().split(")")[1].split()[0]
             == "Z", 10, "the detached daemon to stop")
    checks.check(True, "the detached daemon stops on SIGTERM")
except TimeoutError as e:
    checks.check(False, str(e))
    pid = find_daemon()
    if pid:
        os.kill(pid, signal.SIGKILL)

shutil.rmtree(TMP, ignore_errors=True)
checks.done()
