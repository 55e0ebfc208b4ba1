#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""test_coap_idle: many idle DTLS sessions held, then expired.

- 1,000 DTLS sessions (tests/tools/dtls_client idle: a whole
  handshake and one check each, then silence) are all answered, and
  /metrics counts 1,000 open sessions and 1,000 handshakes.
- otagw's resident memory grew by at most 12 KB a session (once a
  handshake is done, otagw drops OpenSSL's connection and keeps only the
  record keys, src/tls/dtlsrec.c; before, a session cost some 43 KB).
  Not checked in a sanitizer build, whose allocator pads every block
  and holds freed ones in quarantine (nor is the memory's return).
- A new session answers two checks in turn while the 1,000 are held:
  the record layer that took over from OpenSSL decrypts, answers and
  keeps its sequence numbers.
- Once coap_session_timeout passes, /metrics shows no session left, the
  memory goes back (resident memory at most a quarter of the growth above
  where it started, or 1 MiB per worker thread), and a new device is
  served.
"""

import json
import os
import shutil
import socket
import subprocess
import tempfile

from otagw_harness import (COAP_CON, COAP_POST, DTLS_CLIENT, OPT_URI_PATH,
                           Checks, Pki, coap_encode, dtls_send,
                           free_port, https_gateway, metrics_scrape,
                           need_dtls_client, rss_kib, sanitized, wait_for)

checks = Checks()
SESSIONS = 1000
TIMEOUT_S = 15
KB_PER_SESSION = 12


def path_opts(path):
    return [(OPT_URI_PATH, s.encode()) for s in path.strip("/").split("/")]


def check_dgram(dev, mid):
    return coap_encode(COAP_CON, COAP_POST, mid, b"t%d" % mid,
                       path_opts("/ota/%s/check" % dev),
                       json.dumps({"version": "1.0.0"}).encode())


def scrape(gw, ca, token):
    return metrics_scrape(gw.admin_url, ca, token, gw.tmp)


def run(gw, ca, token):
    for dev in ("d1", "d2"):
        gw.otactl("device", "put", dev, "--product", "p", "--psk",
                  ("key-" + dev).encode().hex(), "--version", "1.0.0",
                  check=True)
    pid = gw.proc.pid
    # Settle what the first handshakes allocate once (OpenSSL's tables).
    rc, out = dtls_send(gw, "d2", "key-d2", [check_dgram("d2", 1)])
    checks.eq(out and out[0] and out[0][1], "2.04", "a first check")
    rss0 = rss_kib(pid)
    idle = subprocess.Popen(
        [DTLS_CLIENT, "-b", "127.0.0.7", "127.0.0.1", str(gw.coaps_port),
         "d1", b"key-d1".hex(), "idle", str(SESSIONS), "120",
         check_dgram("d1", 7).hex()],
        stdout=subprocess.PIPE, text=True)
    try:
        line = idle.stdout.readline()
        checks.eq(line.strip(), "answered %d" % SESSIONS,
                  "every idle session's check was answered")
        m = scrape(gw, ca, token)
        rss1 = rss_kib(pid)
        checks.eq(m.get("otagw_coap_sessions"), float(SESSIONS),
                  "/metrics: %d sessions held" % SESSIONS)
        checks.check(m.get("otagw_coap_handshakes_total", 0) >= SESSIONS,
                     "/metrics: %d handshakes" % SESSIONS)
        per = (rss1 - rss0) / SESSIONS
        if sanitized(pid):
            print("sanitizer build: memory per session (%.1f KB) not "
                  "checked" % per)
        else:
            checks.check(per <= KB_PER_SESSION,
                         "resident memory per idle session %.1f KB "
                         "(at most %d)" % (per, KB_PER_SESSION))
        # A session answers check after check without OpenSSL's state.
        rc, out = dtls_send(gw, "d2", "key-d2", [check_dgram("d2", 2),
                                                 check_dgram("d2", 3)],
                            bind="127.0.0.8")
        checks.eq([o and o[1] for o in out], ["2.04", "2.04"],
                  "two checks in turn on one session")
    finally:
        idle.kill()
        idle.wait()
    # They expire (the sockets are gone; the server never hears of it).
    wait_for(lambda: scrape(gw, ca, token).get("otagw_coap_sessions") == 0,
             TIMEOUT_S + 10, "the idle sessions to expire")
    rss2 = rss_kib(pid)
    # each worker thread's malloc arena keeps a little at its top
    workers = int(scrape(gw, ca, token).get("otagw_workers") or 1)
    what = ("memory back after expiry: RSS %d, %d with the sessions, "
            "%d after (KiB), %d workers" % (rss0, rss1, rss2, workers))
    if sanitized(pid):
        print("sanitizer build (it keeps freed memory): " + what)
    else:
        checks.check(rss2 - rss0 <= max((rss1 - rss0) / 4, 1024 * workers),
                     what)
    rc, out = dtls_send(gw, "d2", "key-d2", [check_dgram("d2", 4)])
    checks.eq(out and out[0] and out[0][1], "2.04",
              "a device is served after the expiry")


def main():
    need_dtls_client()
    tmp = tempfile.mkdtemp(prefix="otagw-idle-")
    pki = Pki(os.path.join(tmp, "pki"))
    token = os.urandom(16).hex()
    token_path = os.path.join(tmp, "admin.token")
    with open(token_path, "w") as f:
        f.write(token + "\n")
    admin_port = free_port(socket.SOCK_STREAM)
    gwp = https_gateway(pki, client_ca=False, tmp=tmp, coaps=True, extra={
        "admin_listen": "127.0.0.1:%d" % admin_port,
        "admin_token_file": token_path,
        "log_level": "info",
        "coap_max_sessions": "5000",
        "coap_session_timeout": "%ds" % TIMEOUT_S,
        "coap_handshakes_per_source": "64",
        "coap_handshakes_per_net": "64",
        # 1,000 sessions of one device from one host
        "coap_sessions_per_source": "0",
        "coap_sessions_per_device": "0"})
    gwp.admin_url = "https://127.0.0.1:%d" % admin_port
    try:
        with gwp as gw:
            run(gw, pki.ca[0], token)
            checks.check(gw.alive(), "otagw still running")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    checks.done()


if __name__ == "__main__":
    main()
