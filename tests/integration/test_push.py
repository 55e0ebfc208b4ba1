#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""test_push: a device that stays awake hears of a notice at once.

CoAP Observe (RFC 7641) on /ota/{device}/notice, with coap-client-openssl:

- `coap-client-openssl -s 30` over DTLS subscribes; the registration is
  answered 2.05 "{}" with Observe (nothing pending, Max-Age 3600); an
  `otactl job create` for the device brings a notification with the
  notice within a few seconds (the daemon's poll runs every second),
  long before Max-Age or check_interval; the device's row is NOTIFIED;
- the notification is confirmable and acknowledged (/metrics);
- over plain CoAP, from a socket of our own: a registration, Observe 1
  ends it (/metrics otagw_coap_observations), a reset to a notification
  ends another.

The HTTPS long poll, POST /ota/{device}/check?wait=SECONDS, with curl
over HTTP/2 and HTTP/1.1:

- a poll with wait=30 is answered 200 with the notice within about 2 s of
  the `otactl job create` for its device;
- a poll with wait=2 and nothing pending is answered 204 (with
  Retry-After) after about 2 s;
- a bad wait (0, 301, not a number) is 400 at once;
- a client that goes away leaves no watcher behind (otagw_push_watchers);
- SIGTERM answers a waiting poll at once with 503 and Retry-After.
"""

import json
import os
import re
import shutil
import signal
import socket
import tempfile
import threading
import time

from otagw_harness import (COAP_ACK, COAP_CON, COAP_GET, COAP_RST, CURL,
                           OPT_URI_PATH, Checks, Pki, coap_decode, coap_encode,
                           curl_request, free_port, https_gateway,
                           metrics_scrape, observe, wait_for)

checks = Checks()
OPT_OBSERVE = 6


def scrape(gw, ca, token):
    return metrics_scrape(gw.admin_url, ca, token, gw.tmp)


def device(gw, dev, psk=None, secret=None):
    """A device of a product of its own, and a firmware for it (so that
    each job here is the only one of its product): the firmware's id."""
    args = ["device", "put", dev, "--product", "p-" + dev, "--version",
            "1.0.0"]
    if psk is not None:
        args += ["--psk", psk.encode().hex()]
    if secret is not None:
        args += ["--secret", secret]
    gw.otactl(*args, check=True)
    img = os.path.join(gw.tmp, "fw-%s.bin" % dev)
    with open(img, "wb") as f:
        f.write(os.urandom(3000))
    return gw.otactl_id("firmware", "add", img, "--product", "p-" + dev,
                        "--version", "2.0.0")


def job_for(gw, fw, dev):
    return gw.otactl_id("job", "create", "--firmware", fw, "--force",
                        "--devices", dev)


def row_state(gw, job, dev):
    p = gw.otactl("--json", "job", "devices", job, check=True)
    for item in json.loads(p.stdout)["items"]:
        if item.get("device") == dev:
            return item.get("state")
    return None


class Observer:
    """CoAP Observe by hand over plain CoAP: one socket, one session."""

    def __init__(self, port):
        self.addr = ("127.0.0.1", port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.mid = 0x4000

    def close(self):
        self.sock.close()

    def get(self, dev, observe, token):
        self.mid += 1
        opts = [(OPT_URI_PATH, s.encode()) for s in ("ota", dev, "notice")]
        if observe is not None:
            opts.append((OPT_OBSERVE, bytes([observe]) if observe else b""))
        self.sock.sendto(coap_encode(COAP_CON, COAP_GET, self.mid, token,
                                     opts), self.addr)
        return self.recv(5)

    def recv(self, timeout):
        """The next message: (type, code, mid, token, opts, payload), or
        None."""
        self.sock.settimeout(timeout)
        try:
            data, _ = self.sock.recvfrom(65536)
        except socket.timeout:
            return None
        return coap_decode(data)

    def send_empty(self, mtype, mid):
        self.sock.sendto(coap_encode(mtype, 0, mid, b"", []), self.addr)


def has_opt(msg, num):
    return any(n == num for n, _ in msg[4])


def coap_part(gw, ca, token):
    psk = "key-of-d1"
    fw = device(gw, "d1", psk=psk)
    device(gw, "u1")
    fw_u2 = device(gw, "u2")

    # coap-client-openssl subscribes over DTLS for 30 s
    sub, reg = observe(gw, "d1", psk, 30)
    try:
        checks.check(reg is not None and "'{}'" in reg[1] and
                     "Max-Age:3600" in reg[1],
                     "registered: 2.05 {} with Observe and Max-Age 3600 "
                     "(%r)" % (reg[1].strip() if reg else sub.text()[-500:]))
        t0 = time.monotonic()
        job = job_for(gw, fw, "d1")
        note = None
        try:
            note = wait_for(lambda: sub.find(r"c:2\.05 .*\"job\":\"%s\"" %
                                             re.escape(job), t0),
                            10, "the notification")
        except TimeoutError:
            pass
        took = note[0] - t0 if note else None
        checks.check(note is not None and took < 4.0,
                     "the notice arrives %s s after job create "
                     "(Max-Age was 3600)" % (round(took, 2) if note
                                              else None))
        checks.check(note is not None and "t:CON" in note[1] and
                     "Observe:" in note[1] and "Max-Age:60" in note[1],
                     "a confirmable notification with Observe and "
                     "Max-Age 60 (%r)" % (note[1].strip()[:160]
                                          if note else None))
        checks.eq(row_state(gw, job, "d1"), "NOTIFIED",
                  "the push notified the row, as a check would")
        m = wait_for(lambda: (lambda d: d if d.get(
            "otagw_coap_notifications_acked_total", 0) >= 1 else None)(
                scrape(gw, ca, token)), 10, "the ACK")
        checks.check(m.get("otagw_coap_notifications_total", 0) >= 1 and
                     m.get("otagw_coap_observations", 0) >= 1,
                     "/metrics: notification sent and acknowledged, "
                     "observation held")
        checks.check(m.get('otagw_push_notices_total{proto="coaps"}', 0) ==
                     1, "/metrics: one notice pushed over coaps")
    finally:
        sub.stop()

    # plain CoAP by hand: Observe 1 ends an observation
    obs = Observer(gw.coap_port)
    try:
        before = scrape(gw, ca, token)
        r = obs.get("u1", 0, b"\x01\x02")
        checks.check(r is not None and r[1] == "2.05" and
                     has_opt(r, OPT_OBSERVE) and r[5] == b"{}",
                     "plain CoAP: registered")
        m = scrape(gw, ca, token)
        checks.eq(m.get("otagw_coap_observations", 0) -
                  before.get("otagw_coap_observations", 0), 1,
                  "/metrics: one observation more")
        r = obs.get("u1", 1, b"\x01\x02")
        checks.check(r is not None and r[1] == "2.05" and
                     not has_opt(r, OPT_OBSERVE),
                     "Observe 1: a plain answer")
        m = scrape(gw, ca, token)
        checks.eq(m.get("otagw_coap_observations", 0),
                  before.get("otagw_coap_observations", 0),
                  "Observe 1 ended the observation")
        # a reset to a notification ends one too
        r = obs.get("u2", 0, b"\x07")
        checks.check(r is not None and has_opt(r, OPT_OBSERVE),
                     "u2 registered")
        job_for(gw, fw_u2, "u2")
        n = obs.recv(6)
        checks.check(n is not None and n[0] == COAP_CON and
                     n[1] == "2.05" and n[3] == b"\x07" and
                     b'"job":' in n[5], "u2's notification")
        if n is not None:
            obs.send_empty(COAP_RST, n[2])
        wait_for(lambda: scrape(gw, ca, token).get(
            'otagw_coap_observations_ended_total{reason="reset"}', 0) >= 1,
            10, "the reset to end the observation")
        checks.check(True, "a reset ended u2's observation")
    finally:
        obs.close()


class Poll:
    """A curl request in a thread of its own; .result once it ended, and
    .ended, the time.monotonic() it did."""

    def __init__(self, gw, ca, dev, secret, query, http="2", body=b"{}",
                 extra=()):
        self.result = None
        self.ended = None
        self.started = time.monotonic()
        url = "%s/ota/%s/check%s" % (gw.https_url, dev, query)
        hdrs = ["Authorization: Bearer " + secret,
                "Content-Type: application/json"]

        def run():
            self.result = curl_request(url, "POST", http, hdrs, body, ca,
                                       extra=extra, tmpdir=gw.tmp)
            self.ended = time.monotonic()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def wait(self, timeout):
        self.thread.join(timeout)
        return self.result


def waiting(gw, ca, token, n):
    """Waits until n long polls wait (/metrics)."""
    return wait_for(lambda: scrape(gw, ca, token).get(
        "otagw_https_device_long_polls", -1) == n, 10,
        "%d long polls waiting" % n)


def https_part(gw, ca, token):
    secrets = {}
    fws = {}
    for dev in ("h2dev", "h1dev", "idle", "gone", "stop"):
        secrets[dev] = "s-" + os.urandom(6).hex()
        fws[dev] = device(gw, dev, secret=secrets[dev])

    # bad waits: 400 at once
    for q in ("?wait=0", "?wait=301", "?wait=abc", "?wait=5&wait=6"):
        r = curl_request("%s/ota/idle/check%s" % (gw.https_url, q), "POST",
                         "2", ["Authorization: Bearer " + secrets["idle"]],
                         b"{}", ca, tmpdir=gw.tmp)
        checks.eq(r.status, 400, "wait %s: 400" % q)

    # a poll answered as soon as a job exists, HTTP/2 then HTTP/1.1
    for dev, http in (("h2dev", "2"), ("h1dev", "1.1")):
        p = Poll(gw, ca, dev, secrets[dev], "?wait=30", http,
                 json.dumps({"version": "1.0.0"}).encode())
        waiting(gw, ca, token, 1)
        t0 = time.monotonic()
        job = job_for(gw, fws[dev], dev)
        r = p.wait(40)
        took = p.ended - t0 if r is not None else None
        checks.check(r is not None and r.status == 200 and
                     b'"job":"%s"' % job.encode() in r.body,
                     "HTTP/%s: wait=30 answered 200 with the notice "
                     "(%r)" % (http, r))
        checks.check(took is not None and took < 3.0,
                     "HTTP/%s: answered %s s after job create" %
                     (http, round(took, 2) if took is not None else None))
        checks.check(r is not None and r.h("retry-after") == "60",
                     "HTTP/%s: Retry-After 60 (busy_interval)" % http)
        checks.eq(row_state(gw, job, dev), "NOTIFIED",
                  "HTTP/%s: the row is NOTIFIED" % http)

    # nothing comes: 204 when the wait ends
    p = Poll(gw, ca, "idle", secrets["idle"], "?wait=2")
    r = p.wait(20)
    took = p.ended - p.started if r is not None else None
    checks.check(r is not None and r.status == 204 and
                 r.h("retry-after") == "3600",
                 "wait=2, nothing pending: 204 with Retry-After 3600 (%r)"
                 % r)
    checks.check(took is not None and 1.8 <= took < 4.5,
                 "wait=2: answered after %s s" %
                 (round(took, 2) if took is not None else None))

    # a client that gives up leaves no watcher behind
    p = Poll(gw, ca, "gone", secrets["gone"], "?wait=30", "1.1",
             extra=["--max-time", "2"])
    waiting(gw, ca, token, 1)
    p.wait(20)
    checks.check(p.result is not None and p.result.rc == 28,
                 "curl --max-time 2 gave up (rc %r)" %
                 (p.result.rc if p.result else None))
    try:
        m = wait_for(lambda: (lambda d: d if d.get(
            "otagw_push_watchers", -1) == 0 else None)(
                scrape(gw, ca, token)), 10, "the watcher to go")
    except TimeoutError:
        m = scrape(gw, ca, token)
    checks.eq(m.get("otagw_push_watchers"), 0.0,
              "/metrics: no watcher left after the client went away")
    checks.eq(m.get("otagw_https_device_long_polls"), 0.0,
              "/metrics: no long poll waiting")
    checks.check(m.get('otagw_https_device_long_polls_total'
                       '{outcome="gone"}', 0) >= 1,
                 "/metrics: the poll ended as gone")
    checks.check(m.get('otagw_push_notices_total{proto="https"}', 0) >= 2,
                 "/metrics: notices pushed over https")

    # SIGTERM: a waiting poll is answered at once, 503 and Retry-After
    p = Poll(gw, ca, "stop", secrets["stop"], "?wait=60")
    waiting(gw, ca, token, 1)
    t0 = time.monotonic()
    gw.proc.send_signal(signal.SIGTERM)
    r = p.wait(20)
    took = p.ended - t0 if r is not None else None
    checks.check(r is not None and r.status == 503 and
                 r.h("retry-after") == "5",
                 "SIGTERM: the waiting poll gets 503, Retry-After 5 (%r)" % r)
    checks.check(took is not None and took < 2.0,
                 "SIGTERM: answered %s s later" %
                 (round(took, 2) if took is not None else None))
    checks.eq(gw.proc.wait(20), 0, "otagw stopped cleanly")


def main():
    tmp = tempfile.mkdtemp(prefix="otagw-push-")
    pki = Pki(os.path.join(tmp, "pki"))
    token = os.urandom(16).hex()
    token_path = os.path.join(tmp, "admin.token")
    with open(token_path, "w") as f:
        f.write(token + "\n")
    admin_port = free_port(socket.SOCK_STREAM)
    gwp = https_gateway(pki, client_ca=False, tmp=tmp, coaps=True, extra={
        "admin_listen": "127.0.0.1:%d" % admin_port,
        "admin_token_file": token_path,
        "coap_listen": "127.0.0.1:%d" % free_port(),
        "check_interval": "1h", "busy_interval": "60s"})
    gwp.coap_port = int(gwp.extra["coap_listen"].rsplit(":", 1)[1])
    gwp.admin_url = "https://127.0.0.1:%d" % admin_port
    try:
        with gwp as gw:
            coap_part(gw, pki.ca[0], token)
            https_part(gw, pki.ca[0], token)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    checks.done()


if __name__ == "__main__":
    main()
