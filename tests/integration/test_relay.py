#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""test_relay: the upstream relay and firmware fetch against a real
HTTP/2 upstream.

The upstream is nghttpx (Debian's nghttp2-proxy) terminating TLS and
HTTP/2 on a free port with a throwaway certificate for "localhost", in
front of a recording backend (Python standard library, HTTP/1.1); both
are in upstream.py, shared with test_failover.  The backend checks the
bearer token, records every batch and answers with scripted statuses;
it also serves an image whose first download is cut off half way.
Events are made by real devices over plain CoAP (version reports, and
progress of a device in a job).

Cases:
  - events arrive in seq order, at least once, seq strictly increasing in
    every batch, with the gateway id, type and device;
  - 500 and 429 answers: the same batch is sent again (after a backoff)
    and then taken;
  - a 400 parks that batch (counted in otactl relay status) and later
    events still arrive;
  - the upstream down for a while (nghttpx killed) and back: nothing lost,
    order kept;
  - the gateway killed with kill -9 with events pending: they arrive
    after the restart;
  - in all of the above, every sequence number not parked arrives: no gap;
  - the outbox limit drops progress events oldest first and keeps version
    reports and state changes; the drops are counted;
  - an upstream with a certificate for another name is refused;
  - firmware add --url, interrupted once and resumed with Range, verified
    by size and SHA-256; a wrong --sha256 leaves nothing behind.
"""

import hashlib
import json
import os
import shutil
import sys
import tempfile
import time

from otagw_harness import (COAP_POST, Checks, CoapUdp, Gateway,
                           gateway_restart, otactl_items, otactl_json,
                           wait_for)
from upstream import (NGHTTPX, OPENSSL, TOKEN, Backend, Proxy, make_cert,
                      upstream_conf)

checks = Checks()


# Devices ---------------------------------------------------------------------

class Devices:
    """Plain CoAP devices that report versions and progress."""

    def __init__(self, gw):
        self.gw = gw
        self.n = 0

    def informs(self, dev, count):
        codes = []
        with CoapUdp("127.0.0.1", self.gw.coap_port) as c:
            for _ in range(count):
                self.n += 1
                body = json.dumps({"versions": {"default": "1.0.%d" %
                                                self.n}}).encode()
                r = c.request(COAP_POST, "/ota/%s/check" % dev, body, 50)
                codes.append(r and r.code)
        checks.check(all(x and x.startswith("2.") for x in codes),
                     "%d version reports from %s answered (%r)" %
                     (count, dev, codes[:3]))

    def progress(self, dev, job, steps):
        codes = []
        with CoapUdp("127.0.0.1", self.gw.coap_port) as c:
            for s in steps:
                r = c.request(COAP_POST, "/ota/%s/progress" % dev,
                              json.dumps({"job": job, "step": s}).encode(),
                              50)
                codes.append(r and r.code)
        checks.check(all(x == "2.04" for x in codes),
                     "progress reports answered 2.04 (%r)" % codes[:5])


def last_seq(gw):
    return otactl_json(gw, "relay", "status")["lastSeq"]


def relay_status(gw):
    return otactl_json(gw, "relay", "status")


def check_batches(be, what, since=0):
    """Every batch strictly increasing in seq; first deliveries in order."""
    ok = True
    for status, evs in be.snapshot(since):
        seqs = [e.get("seq") for e in (evs or [])]
        if not seqs or any(b <= a for a, b in zip(seqs, seqs[1:])):
            ok = False
    checks.check(ok, what + ": every batch is a non-empty array with seq "
                 "strictly increasing")
    seen, order_ok, prev = set(), True, 0
    for e in be.taken(since):
        s = e["seq"]
        if s in seen:
            continue        # at least once: a duplicate is allowed
        if s <= prev:
            order_ok = False
        seen.add(s)
        prev = s
    checks.check(order_ok, what + ": events first arrive in seq order")
    return seen


def poll(cond, timeout, what):
    """wait_for that returns False instead of raising."""
    try:
        return wait_for(cond, timeout, what, interval=0.1)
    except TimeoutError:
        return False


def wait_delivered(be, gw, what, parked=(), timeout=30):
    """Waits until every seq up to the gateway's last one arrived (except
    parked ones) and the outbox is empty."""
    target = last_seq(gw)
    want = set(range(1, target + 1)) - set(parked)

    def done():
        got = {e["seq"] for e in be.taken()}
        return want <= got
    ok = poll(done, timeout, what)
    got = {e["seq"] for e in be.taken()}
    checks.eq(sorted(want - got), [], what + ": no seq missing up to %d" %
              target)
    return ok


def main():
    if NGHTTPX is None or OPENSSL is None:
        print("SKIP: nghttpx (nghttp2-proxy) or openssl not installed")
        return 77
    tmp = tempfile.mkdtemp(prefix="otagw-relay-")
    image = os.urandom(3 * 1024 * 1024 + 123)
    be = Backend(image)
    key, crt = make_cert(tmp, "up", "localhost")
    okey, ocrt = make_cert(tmp, "other", "other.example")
    token_file = os.path.join(tmp, "upstream.token")
    with open(token_file, "w") as f:
        f.write(TOKEN + "\n")
    proxy = Proxy(tmp, be.port, key, crt).start()
    proxies = [proxy]
    try:
        run_main(tmp, be, proxy, crt, token_file, image)
        run_limit(tmp, be, proxy, crt, token_file)
        run_limit_retry(tmp, be, proxy, crt, token_file)
        bad = Proxy(tmp, be.port, okey, ocrt).start()
        proxies.append(bad)
        run_wrong_name(tmp, be, bad, crt, token_file)
    finally:
        for p in proxies:
            p.stop()
        be.close()
    shutil.rmtree(tmp, ignore_errors=True)
    return checks.done()


def finish(gw):
    """Stops gw; its log is shown and kept when a check failed."""
    gw.stop()
    log = gw.log()
    checks.check("Sanitizer" not in log and "runtime error" not in log,
                 "no sanitizer reports in the gateway's log")
    if checks.failed:
        sys.stderr.write("--- otagw log (%s) ---\n%s\n" % (gw.tmp,
                                                           log[-6000:]))
    else:
        shutil.rmtree(gw.tmp, ignore_errors=True)


def run_main(tmp, be, proxy, crt, token_file, image):
    gw = Gateway(coap=True, coaps=False,
                 extra=upstream_conf(proxy, crt, token_file))
    gw.start()
    devs = Devices(gw)
    parked = set()
    try:
        gw.otactl("device", "put", "d1", "--product", "p", check=True)
        gw.otactl("device", "put", "d2", "--product", "p", check=True)

        # plain delivery --------------------------------------------------
        devs.informs("d1", 20)
        wait_delivered(be, gw, "first informs")
        evs = be.taken()
        checks.check(len(evs) >= 20, "at least 20 events arrived (%d)" %
                     len(evs))
        e = evs[-1]
        checks.eq(e.get("gateway"), "gw-test", "event gateway id")
        checks.eq(e.get("type"), "inform", "event type inform")
        checks.eq(e.get("device"), "d1", "event device")
        checks.check(isinstance(e.get("ts"), str) and
                     e["ts"].endswith("Z"), "event ts is RFC 3339 UTC")
        checks.eq(be.bad_auth, 0, "bearer token accepted")
        checks.check(TOKEN not in gw.log(), "the token is never logged")
        checks.eq(relay_status(gw)["depth"], 0, "outbox empty after 2xx")

        # 500 and 429 are retried -------------------------------------------
        n0 = len(be.snapshot())
        with be.lock:
            be.script = [500, 429]
        devs.informs("d2", 5)
        wait_delivered(be, gw, "after 500 and 429")
        posts = be.snapshot()[n0:]
        statuses = [s for s, _ in posts]
        checks.eq(statuses[:3], [500, 429, 200],
                  "500, then 429, then taken")
        if len(posts) >= 3:
            checks.eq(posts[0][1][0]["seq"], posts[2][1][0]["seq"],
                      "the refused batch is sent again from the same seq")
        checks.check("answered 500" in gw.log() or "retry" in gw.log(),
                     "retries are logged")
        st = relay_status(gw)
        checks.check(st["retries"] >= 2,
                     "relay status counts the retries (%d)" % st["retries"])
        checks.check(st["sent"] >= sum(len(b) for s, b in be.snapshot()
                                       if s == 200),
                     "relay status counts the events sent (%d)" % st["sent"])

        # a slow upstream does not slow devices down ------------------------
        n0 = len(be.snapshot())
        with be.lock:
            be.script = ["slow"]
        devs.informs("d1", 1)
        t0 = time.monotonic()
        worst, answered, asked = 0.0, 0, 0
        with CoapUdp("127.0.0.1", gw.coap_port) as c:
            while time.monotonic() - t0 < 2.0:
                t1 = time.monotonic()
                r = c.request(COAP_POST, "/ota/d2/check", b"{}", 50)
                worst = max(worst, time.monotonic() - t1)
                asked += 1
                answered += r is not None
                time.sleep(0.2)
        checks.eq(answered, asked, "every check answered during a slow "
                  "POST")
        checks.check(worst < 0.5, "checks stay fast while the upstream is "
                     "slow (worst %.3f s)" % worst)
        wait_delivered(be, gw, "after a slow answer")

        # 400 parks a batch; later events still arrive ------------------------
        wait_for(lambda: relay_status(gw)["depth"] == 0, 10, "outbox empty")
        n0 = len(be.snapshot())
        with be.lock:
            be.script = [400]
        devs.informs("d1", 3)
        wait_for(lambda: len(be.snapshot()) > n0, 10, "the 400 batch")
        first = be.snapshot()[n0]
        checks.eq(first[0], 400, "scripted 400 answered")
        parked |= {e["seq"] for e in first[1]}
        wait_for(lambda: relay_status(gw)["parkedBatches"] == 1, 10,
                 "parked batch counted")
        st = relay_status(gw)
        checks.eq(st["parkedBatches"], 1, "relay status: one parked batch")
        checks.eq(st["parkedEvents"], len(first[1]),
                  "relay status: its events kept aside")
        checks.check("parked" in gw.log() and "400" in gw.log(),
                     "the parked batch and its status are logged")
        devs.informs("d2", 4)
        wait_delivered(be, gw, "after a parked batch", parked)

        # the upstream down for a while --------------------------------------
        proxy.stop()
        devs.informs("d1", 10)
        mark = len(gw.log_bytes())
        wait_for(lambda: b"retry" in gw.log_bytes()[mark:] or
                 b"lost the connection" in gw.log_bytes()[mark:], 15,
                 "relay notices the outage")
        checks.check(relay_status(gw)["depth"] >= 10,
                     "events wait in the outbox while the upstream is down")
        devs.informs("d2", 10)
        proxy.start()
        wait_delivered(be, gw, "after the outage", parked, timeout=40)

        # kill -9 with events pending ------------------------------------------
        proxy.stop()
        devs.informs("d1", 15)
        pending = relay_status(gw)["depth"]
        checks.check(pending >= 15, "events pending before kill -9 (%d)" %
                     pending)
        gw.kill9()
        proxy.start()
        gateway_restart(gw)
        wait_delivered(be, gw, "after kill -9 and restart", parked,
                       timeout=40)
        check_batches(be, "main")

        # kill -9 in the middle of a batch ------------------------------------
        with be.lock:
            be.script = ["slow"]
            r0 = be.received
        devs.informs("d2", 5)
        poll(lambda: be.received > r0, 10, "a batch in flight")
        gw.kill9()
        gateway_restart(gw)
        wait_delivered(be, gw, "after kill -9 in the middle of a batch",
                       parked, timeout=40)
        check_batches(be, "main, with kill -9 mid-batch")

        # firmware add --url -----------------------------------------------
        url = "https://localhost:%d/image.bin" % proxy.port
        sha = hashlib.sha256(image).hexdigest()
        p = gw.otactl("firmware", "add", "--url", url, "--sha256", sha,
                      "--ca", crt, "--product", "p", "--version", "9.0.0")
        checks.eq(p.returncode, 0, "firmware add --url: exit 0 (%s)" %
                  p.stderr.strip()[-300:])
        fw_id = p.stdout.strip().splitlines()[-1] if p.stdout.strip() \
            else ""
        gets = list(be.image_gets)
        checks.check(len(gets) >= 2 and gets[0] is None and
                     (gets[1] or "").startswith("bytes=") and
                     gets[1] != "bytes=0-",
                     "first download cut, resumed with Range (%r)" % gets)
        if fw_id:
            fw = otactl_json(gw, "firmware", "show", fw_id)
            checks.eq(fw.get("size"), len(image), "fetched image size")
            checks.eq(fw.get("sha256"), sha, "fetched image SHA-256")
            path = os.path.join(gw.state, "images", fw_id)
            with open(path, "rb") as f:
                data = f.read()
            checks.eq(len(data), len(image), "stored image size")
            checks.eq(hashlib.sha256(data).hexdigest(), sha,
                      "stored image SHA-256")

        # a server that ignores Range: the download starts over
        with be.lock:
            be.cut_next = True
            be.image_gets = []
        p = gw.otactl("firmware", "add", "--url",
                      url.replace("image.bin", "norange.bin"), "--sha256",
                      sha, "--ca", crt, "--product", "p", "--version",
                      "9.0.2")
        checks.eq(p.returncode, 0, "firmware add --url, Range ignored: "
                  "exit 0 (%s)" % p.stderr.strip()[-300:])
        gets = list(be.image_gets)
        checks.check(len(gets) == 2 and (gets[1] or "").startswith("bytes="),
                     "Range asked, a whole 200 taken instead (%r)" % gets)
        if p.returncode == 0:
            fw = otactl_json(gw, "firmware", "show",
                             p.stdout.strip().splitlines()[-1])
            checks.eq((fw.get("size"), fw.get("sha256")), (len(image), sha),
                      "Range ignored: size and SHA-256")

        before = sorted(os.listdir(os.path.join(gw.state, "images")))
        nfw = len(otactl_items(gw, "firmware", "list"))
        p = gw.otactl("firmware", "add", "--url", url, "--sha256", "00" * 32,
                      "--ca", crt, "--product", "p", "--version", "9.0.1")
        checks.check(p.returncode != 0, "wrong --sha256 fails")
        checks.check("SHA-256" in p.stderr, "the error names SHA-256 (%s)" %
                     p.stderr.strip()[-200:])
        checks.eq(len(otactl_items(gw, "firmware", "list")), nfw,
                  "wrong --sha256: no firmware added")
        checks.eq(sorted(os.listdir(os.path.join(gw.state, "images"))),
                  before, "wrong --sha256: no file left behind")
    finally:
        finish(gw)


def limited_gateway(tmp, be, proxy, crt, token_file, name, **kw):
    """With the upstream down and the backend settled, a gateway whose
    outbox holds 100 events, and a small image file for it; returns
    (gateway, Devices, image path)."""
    proxy.stop()
    be.settle()
    gw = Gateway(coap=True, coaps=False,
                 extra=upstream_conf(proxy, crt, token_file,
                                     outbox_limit="100", **kw))
    gw.start()
    img = os.path.join(tmp, name)
    with open(img, "wb") as f:
        f.write(os.urandom(2048))
    return gw, Devices(gw), img


def run_limit(tmp, be, proxy, crt, token_file):
    """The outbox limit with the upstream down."""
    gw, devs, img = limited_gateway(tmp, be, proxy, crt, token_file,
                                    "small.bin")
    try:
        gw.otactl("device", "put", "u1", "--product", "q", "--version",
                  "1.0.0", check=True)
        gw.otactl("device", "put", "u2", "--product", "q", check=True)
        fw = gw.otactl_id("firmware", "add", img, "--product", "q",
                          "--version", "2.0.0")
        job = gw.otactl_id("job", "create", "--firmware", fw, "--force",
                           "--devices", "u1")
        devs.informs("u2", 30)
        with CoapUdp("127.0.0.1", gw.coap_port) as c:
            c.request(COAP_POST, "/ota/u1/check",
                      json.dumps({"versions": {"default": "1.0.0"}})
                      .encode(), 50)
        devs.progress("u1", job, list(range(1, 100)) * 2)
        st = relay_status(gw)
        checks.check(st["depth"] <= 100 + 5,
                     "outbox stays near its limit (%d)" % st["depth"])
        checks.check(st["dropped"] > 0, "drops counted (%d)" % st["dropped"])
        checks.check("dropped" in gw.log(), "drops logged")
        total, dropped = st["lastSeq"], st["dropped"]
        since = len(be.snapshot())
        proxy.start()
        wait_for(lambda: relay_status(gw)["depth"] == 0, 40,
                 "outbox drained")
        got = be.taken(since)
        seqs = sorted({e["seq"] for e in got})
        checks.eq(len(seqs) + dropped, total,
                  "delivered + dropped = every event")
        kinds = {}
        for e in got:
            kinds.setdefault(e["type"], set()).add(e["seq"])
        checks.eq(len([e for e in {x["seq"]: x for x in got}.values()
                       if e["type"] == "inform" and e["device"] == "u2"]),
                  30, "all 30 version reports kept")
        checks.check(len(kinds.get("state", ())) >= 1,
                     "state changes kept")
        prog = sorted(kinds.get("progress", ()))
        checks.check(bool(prog) and max(prog) >= total - 2,
                     "the newest progress events are the ones kept")
        checks.check(len(prog) < 198, "progress events were dropped")
        # oldest first: every kept progress is newer than every dropped one
        allprog = set(range(1, total + 1)) - set(seqs)
        checks.check(not allprog or min(prog) > max(allprog),
                     "progress dropped oldest first")
        check_batches(be, "limit", since)
    finally:
        finish(gw)


def run_limit_retry(tmp, be, proxy, crt, token_file):
    """A batch answered 503 is read again from the outbox before it is
    sent again: its events that the outbox limit dropped meanwhile never
    arrive."""
    gw, devs, img = limited_gateway(tmp, be, proxy, crt, token_file,
                                    "small2.bin", upstream_backoff_max="10s")
    try:
        gw.otactl("device", "put", "r1", "--product", "r", "--version",
                  "1.0.0", check=True)
        fw = gw.otactl_id("firmware", "add", img, "--product", "r",
                          "--version", "2.0.0")
        job = gw.otactl_id("job", "create", "--firmware", fw, "--force",
                           "--devices", "r1")
        with CoapUdp("127.0.0.1", gw.coap_port) as c:
            c.request(COAP_POST, "/ota/r1/check",
                      json.dumps({"versions": {"default": "1.0.0"}})
                      .encode(), 50)
        devs.progress("r1", job, list(range(1, 41)))
        with be.lock:
            be.script = ["later"]
            since = len(be.posts)
        proxy.start()

        def refused():
            return [evs for st, evs in be.snapshot(since) if st == 503]
        first = poll(refused, 30, "a batch answered 503")
        first = {e["seq"] for e in (first[0] if first else [])}
        checks.check(len(first) >= 40,
                     "the refused batch holds the 40 progress events (%d "
                     "events)" % len(first))
        # The relay waits 8 s (Retry-After); meanwhile the limit drops
        # the oldest progress events, those of the refused batch first.
        devs.progress("r1", job, list(range(41, 100)) * 3)
        st = relay_status(gw)
        total, dropped = st["lastSeq"], st["dropped"]
        checks.check(dropped > 40, "drops counted (%d)" % dropped)
        wait_for(lambda: relay_status(gw)["depth"] == 0, 40,
                 "outbox drained")
        seqs = {e["seq"] for e in be.taken(since)}
        checks.eq(len(seqs) + dropped, total,
                  "after a 503: delivered + dropped = every event")
        checks.check(len(first - seqs) > 0,
                     "events of the refused batch that were dropped "
                     "meanwhile did not arrive (%d of %d)" %
                     (len(first - seqs), len(first)))
        check_batches(be, "limit retry", since)
    finally:
        finish(gw)


def run_wrong_name(tmp, be, bad, crt, token_file):
    """An upstream whose certificate names another host is refused."""
    gw = Gateway(coap=True, coaps=False,
                 extra=upstream_conf(bad, crt, token_file))
    gw.start()
    try:
        gw.otactl("device", "put", "w1", "--product", "p", check=True)
        n0 = len(be.snapshot())
        Devices(gw).informs("w1", 3)
        poll(lambda: b"TLS" in gw.log_bytes(), 15, "TLS failure logged")
        checks.check("TLS" in gw.log(), "the relay logs the TLS failure")
        checks.eq(len(be.snapshot()), n0,
                  "nothing posted to an upstream with the wrong name")
        checks.check(relay_status(gw)["depth"] >= 3,
                     "events stay in the outbox")
    finally:
        finish(gw)


if __name__ == "__main__":
    sys.exit(main())
