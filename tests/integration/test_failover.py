#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""test_failover: an active/standby failover (docs/ha.md) played on one
machine.

Two gateways share one state directory, as the two nodes of a cluster
share the DRBD device mounted on whichever is active: A and B have the
same gateway_id and upstream, and listen on ports of their own.  The
upstream is nghttpx in front of the recording backend of upstream.py.
Every device request is plain CoAP from the harness, and every one is
written down with the answer the device got, so the events the upstream
receives can be compared with what the devices were told.

  1. A serves: four devices report versions, a device in a job reports
     progress, a second one is notified and downloads half of the image
     block-wise; the relay delivers all of it.
  2. B on the same state directory is refused while A lives: exit 1,
     "state directory DIR is in use by otagw (pid A)", nothing of A's
     touched, and A keeps serving.
  3. A is killed with kill -9 in the middle of traffic, while a batch is
     in flight to a slow upstream and more events wait in the outbox.
  4. B starts on the same state directory and serves: devices check in
     against B's port, the notified device gets the same notice again
     and downloads the rest of the image from the block it had reached
     (same ETag, whole image by size and SHA-256), the device in the
     job finishes; B's relay sends what A left.
  5. Nothing acknowledged is lost: every request answered 2.xx has its
     event upstream.  The upstream's seqs are 1..N with no hole, the
     first arrivals in order; a batch A had sent but not seen answered
     arrives again from B (duplicates are counted, and each is the same
     event again, so dropping by seq is safe).
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading

from otagw_harness import (COAP_GET, COAP_POST, OPT_ETAG, OTAGW, Checks,
                           CoapUdp, Gateway, free_port, otactl_items,
                           otactl_json, wait_for)
from upstream import NGHTTPX, OPENSSL, Recorder, upstream_conf

checks = Checks()
GATEWAY_ID = "gw-ha"
REPORTERS = ["s1", "s2", "s3", "s4"]   # devices that report versions
WORKER = "j1"                          # a device that upgrades in a job
SLEEPER = "n1"                         # notified, downloads, no progress
BLOCK = 1024
IMAGE_BLOCKS = 8


def poll(cond, timeout, what):
    """wait_for that returns False instead of raising."""
    try:
        return wait_for(cond, timeout, what, interval=0.05)
    except TimeoutError:
        return False


def relay_status(gw):
    return otactl_json(gw, "relay", "status")


class Ledger:
    """Every device request and the answer the device got.  An entry's
    key names the event that request must produce upstream when it was
    answered 2.xx: ("inform", device, version) or ("progress", device,
    job, step)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.entries = []       # (key, code, gateway name)
        self.version = 0

    def next_version(self):
        with self.lock:
            self.version += 1
            return "1.0.%d" % self.version

    def add(self, key, code, gw):
        with self.lock:
            self.entries.append((key, code, gw))

    def acknowledged(self, gw=None):
        with self.lock:
            return [k for k, c, g in self.entries if c and
                    c.startswith("2.") and (gw is None or g == gw)]

    def unanswered(self):
        with self.lock:
            return [k for k, c, g in self.entries if c is None]


def inform(ledger, gw, name, dev, c=None, version=None):
    """A check with a version report; returns the reply (or None)."""
    version = version or ledger.next_version()
    body = json.dumps({"versions": {"default": version}}).encode()
    own = c is None
    if own:
        c = CoapUdp("127.0.0.1", gw.coap_port)
    try:
        r = c.request(COAP_POST, "/ota/%s/check" % dev, body, 50)
    finally:
        if own:
            c.close()
    ledger.add(("inform", dev, version), r and r.code, name)
    return r


def progress(ledger, gw, name, dev, job, step, c=None, version=None):
    body = {"job": job, "step": step}
    if version:
        body["version"] = version
    own = c is None
    if own:
        c = CoapUdp("127.0.0.1", gw.coap_port)
    try:
        r = c.request(COAP_POST, "/ota/%s/progress" % dev,
                      json.dumps(body).encode(), 50)
    finally:
        if own:
            c.close()
    ledger.add(("progress", dev, job, step), r and r.code, name)
    return r


def download(gw, fw, first, last):
    """Blocks first..last of fw from gw: (bytes, set of ETags, ok)."""
    data, etags, ok = b"", set(), True
    with CoapUdp("127.0.0.1", gw.coap_port) as c:
        for n in range(first, last + 1):
            r = c.request(COAP_GET, "/fw/" + fw, block2=(n, BLOCK))
            if r is None or r.code != "2.05" or r.block2() is None or \
                    r.block2()[0] != n:
                ok = False
                break
            data += r.payload
            etags.add(r.opt(OPT_ETAG))
    return data, etags, ok


def event_key(e):
    """The ledger key an upstream event answers to (None for others)."""
    if e.get("type") == "inform":
        return ("inform", e.get("device"),
                (e.get("versions") or {}).get("default"))
    if e.get("type") == "progress":
        return ("progress", e.get("device"), e.get("job"), e.get("step"))
    return None


class Traffic(threading.Thread):
    """Devices busy against one gateway until stopped: version reports
    from every reporter and progress from the worker, in turn, with short
    CoAP timeouts so that requests to a dead gateway give up soon."""

    def __init__(self, ledger, gw, name, job, step):
        super().__init__(daemon=True)
        self.ledger, self.gw, self.name, self.job = ledger, gw, name, job
        self.step = step        # the worker's next progress step
        self.halt = threading.Event()
        self.sent = 0

    def run(self):
        socks = dict((d, CoapUdp("127.0.0.1", self.gw.coap_port,
                                 timeout=0.5, tries=2))
                     for d in REPORTERS + [WORKER])
        try:
            i = 0
            while not self.halt.is_set() and self.sent < 5000:
                dev = (REPORTERS + [WORKER])[i % (len(REPORTERS) + 1)]
                i += 1
                if dev != WORKER:
                    inform(self.ledger, self.gw, self.name, dev,
                           c=socks[dev])
                elif self.step < 99:
                    progress(self.ledger, self.gw, self.name, WORKER,
                             self.job, self.step, c=socks[dev])
                    self.step += 1
                else:
                    continue    # the worker has said all it will
                self.sent += 1
        finally:
            for c in socks.values():
                c.close()


def gateways(tmp, proxy, crt, token_file):
    """A and B: the same state directory, gateway id and upstream, each
    with its own configuration, log and CoAP port."""
    conf = upstream_conf(proxy, crt, token_file, gateway_id=GATEWAY_ID)
    dirs = [os.path.join(tmp, n) for n in ("node-a", "node-b")]
    for d in dirs:
        os.makedirs(d)
    a = Gateway(coap=True, coaps=False, extra=conf, tmp=dirs[0])
    b = Gateway(coap=True, coaps=False, tmp=dirs[1],
                extra=dict(conf, state_dir=a.state))
    while b.coap_port == a.coap_port:
        b.coap_port = free_port()
    b.state = a.state           # for otactl
    b.write_conf()
    a.name, b.name = "A", "B"
    return a, b


def main():
    if NGHTTPX is None or OPENSSL is None:
        print("SKIP: nghttpx (nghttp2-proxy) or openssl not installed")
        return 77
    tmp = tempfile.mkdtemp(prefix="otagw-failover-")
    rec = Recorder(tmp)
    a, b = gateways(tmp, rec.proxy, rec.crt, rec.token_file)
    try:
        run(tmp, rec.be, a, b)
    finally:
        for gw in (a, b):
            if gw.alive():
                gw.stop()
        rec.close()
    for gw in (a, b):
        log = gw.log()
        checks.check("Sanitizer" not in log and "runtime error" not in log,
                     "no sanitizer reports in %s's log" % gw.name)
    if checks.failed:
        for gw in (a, b):
            sys.stderr.write("--- otagw %s log ---\n%s\n" %
                             (gw.name, gw.log()[-5000:]))
        sys.stderr.write("kept %s\n" % tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return checks.done()


def run(tmp, be, a, b):
    ledger = Ledger()
    image = os.urandom(IMAGE_BLOCKS * BLOCK)
    path = os.path.join(tmp, "fw.bin")
    with open(path, "wb") as f:
        f.write(image)

    # 1. A serves ----------------------------------------------------------
    a.start()
    for dev in REPORTERS:
        a.otactl("device", "put", dev, "--product", "p", check=True)
    for dev in (WORKER, SLEEPER):
        a.otactl("device", "put", dev, "--product", "p", "--version",
                 "1.0.0", check=True)
    fw = a.otactl_id("firmware", "add", path, "--product", "p",
                     "--version", "2.0.0")
    job = a.otactl_id("job", "create", "--firmware", fw, "--force",
                      "--devices", WORKER + "," + SLEEPER)
    for _ in range(3):
        for dev in REPORTERS:
            inform(ledger, a, "A", dev)
    r = inform(ledger, a, "A", WORKER, version="1.0.0")
    checks.eq(r and r.code, "2.05", "A: the worker is notified")
    for step in range(1, 11):
        progress(ledger, a, "A", WORKER, job, step)
    r = inform(ledger, a, "A", SLEEPER, version="1.0.0")
    checks.eq(r and r.code, "2.05", "A: the sleeper is notified")
    notice_a = json.loads(r.payload) if r and r.code == "2.05" else {}
    half = IMAGE_BLOCKS // 2
    part_a, etags_a, ok = download(a, fw, 0, half - 1)
    checks.check(ok and len(part_a) == half * BLOCK,
                 "A: the sleeper downloads blocks 0-%d" % (half - 1))
    acked = ledger.acknowledged()
    checks.eq(len(acked), len(ledger.entries), "A: every request "
              "answered 2.xx (%d)" % len(acked))
    target = relay_status(a)["lastSeq"]
    checks.check(poll(lambda: {e["seq"] for e in be.taken()} >=
                      set(range(1, target + 1)), 30,
                      "A's events upstream"),
                 "A relays its first %d events" % target)

    # 2. B is refused while A lives ----------------------------------------
    p = subprocess.run([OTAGW, "-d", "-c", b.conf], capture_output=True,
                       text=True, timeout=30)
    checks.eq(p.returncode, 1, "B on A's state directory exits 1")
    want = "state directory %s is in use by otagw (pid %d)" % (
        a.state, a.proc.pid)
    said = [ln for ln in p.stderr.splitlines() if "state directory" in ln]
    checks.check(want in p.stderr, "B says who holds the directory (%r)" %
                 (said[-1][-110:] if said else p.stderr[-200:]))
    with open(os.path.join(a.state, "otagw.pid")) as f:
        checks.eq(f.read().strip(), str(a.proc.pid),
                  "otagw.pid still holds A's pid")
    r = inform(ledger, a, "A", REPORTERS[0])
    checks.check(a.alive() and r is not None and r.code.startswith("2."),
                 "A keeps serving after B was refused")

    # 3. kill -9 A in the middle of traffic --------------------------------
    poll(lambda: relay_status(a)["depth"] == 0, 20, "A's outbox empty")
    be.settle()
    with be.lock:
        be.script = ["slow"]    # the next batch waits 3 s for its 200
        r0 = be.received
    traffic = Traffic(ledger, a, "A", job, 11)
    traffic.start()
    inflight = poll(lambda: be.received > r0, 10, "a batch in flight")
    before = len(ledger.acknowledged("A"))
    poll(lambda: len(ledger.acknowledged("A")) >= before + 10, 2,
         "more events behind the batch in flight")
    a.kill9()
    busy = traffic.is_alive()
    with be.lock:
        unanswered_at_kill = be.received > len(be.posts)
    traffic.halt.set()
    traffic.join(30)
    checks.check(inflight and busy and traffic.sent > 10,
                 "A killed in the middle of traffic (%d requests)" %
                 traffic.sent)
    st = relay_status(a)        # the store, read with no daemon on it
    last_a = st["lastSeq"]
    be.settle()
    upstream_max = max(e["seq"] for e in be.taken())
    checks.check(st["depth"] > 0 and last_a > upstream_max,
                 "events left in the outbox by A: depth %d, seqs %d-%d "
                 "never sent" % (st["depth"], upstream_max + 1, last_a))
    inflight_seqs = set()
    if unanswered_at_kill:
        inflight_seqs = {e["seq"] for e in (be.posts[-1][1] or [])}

    # 4. B takes over ------------------------------------------------------
    b.start()
    with open(os.path.join(a.state, "otagw.pid")) as f:
        checks.eq(f.read().strip(), str(b.proc.pid), "B holds the lock")
    for dev in REPORTERS:
        r = inform(ledger, b, "B", dev)
    checks.check(r is not None and r.code.startswith("2."),
                 "B: devices check in against B's port")
    with CoapUdp("127.0.0.1", b.coap_port) as c:
        r = c.request(COAP_POST, "/ota/%s/check" % SLEEPER, b"{}", 50)
    notice_b = json.loads(r.payload) if r and r.code == "2.05" else {}
    checks.check(notice_b != {} and all(
        notice_b.get(k) == notice_a.get(k) for k in
        ("job", "firmware", "version", "size", "sign")),
        "B hands the sleeper the same notice again (%r)" %
        {k: notice_b.get(k) for k in ("job", "firmware")})
    part_b, etags_b, ok = download(b, fw, half, IMAGE_BLOCKS - 1)
    checks.check(ok and len(etags_a | etags_b) == 1 and
                 None not in etags_a,
                 "B serves the rest from block %d with A's ETag" % half)
    whole = part_a + part_b
    checks.eq((len(whole), hashlib.sha256(whole).hexdigest()),
              (len(image), hashlib.sha256(image).hexdigest()),
              "the image, half from A and half from B, by size and "
              "SHA-256")
    for step in range(traffic.step, traffic.step + 5):
        progress(ledger, b, "B", WORKER, job, step)
    r = progress(ledger, b, "B", WORKER, job, 100, version="2.0.0")
    checks.eq(r and r.code, "2.04", "B: the worker reports success")
    rows = otactl_items(b, "job", "devices", job) or []
    states = {row.get("device"): row.get("state") for row in rows}
    checks.eq(states.get(WORKER), "SUCCEEDED", "the worker's row")
    last = relay_status(b)["lastSeq"]
    everything = set(range(1, last + 1))
    poll(lambda: {e["seq"] for e in be.taken()} >= everything, 40,
         "every seq upstream")
    poll(lambda: relay_status(b)["depth"] == 0, 20, "B's outbox empty")
    be.settle()

    # 5. what the upstream got ---------------------------------------------
    events = be.taken()
    got = {}
    dups = 0
    for e in events:
        if e["seq"] in got:
            dups += 1
            if got[e["seq"]] != e:
                got[e["seq"]]["differs"] = True
        else:
            got[e["seq"]] = dict(e)
    seqs = set(got)
    checks.eq(sorted(everything - seqs), [], "no seq missing in 1..%d" %
              last)
    checks.eq(sorted(seqs - everything), [], "no seq beyond %d" % last)
    checks.check(not any(e.get("differs") for e in got.values()),
                 "a seq that came twice is the same event both times")
    first, order = set(), []
    for e in events:
        if e["seq"] not in first:
            first.add(e["seq"])
            order.append(e["seq"])
    checks.eq(order, sorted(order), "events first arrive in seq order")
    checks.eq({e.get("gateway") for e in events}, {GATEWAY_ID},
              "every event carries the one gateway_id")
    keys = {event_key(e) for e in got.values()}
    acked = ledger.acknowledged()
    lost = [k for k in acked if k not in keys]
    checks.eq(lost, [], "every request answered 2.xx has its event "
              "upstream (%d requests, %d to A, %d to B)" %
              (len(acked), len(ledger.acknowledged("A")),
               len(ledger.acknowledged("B"))))
    b_seqs = [e["seq"] for e in got.values() if event_key(e) in
              set(ledger.acknowledged("B"))]
    checks.check(b_seqs and min(b_seqs) > last_a,
                 "B's events continue the seq after A's last (%d)" % last_a)
    checks.check(any(e.get("type") == "state" and
                     e.get("device") == WORKER and
                     e.get("state") == "SUCCEEDED" for e in got.values()),
                 "the worker's SUCCEEDED state change arrives")
    if unanswered_at_kill:
        again = [s for s in inflight_seqs
                 if sum(1 for e in events if e["seq"] == s) >= 2]
        checks.check(inflight_seqs and len(again) == len(inflight_seqs),
                     "the batch in flight when A died arrives again from "
                     "B (%d events)" % len(inflight_seqs))
    else:
        print("note: the slow batch was answered before the kill; no "
              "duplicate was expected", file=sys.stderr)
    print("upstream: %d events, %d distinct seqs, %d duplicates; %d "
          "requests unanswered at the kill" %
          (len(events), len(seqs), dups, len(ledger.unanswered())),
          file=sys.stderr)
    st = relay_status(b)
    checks.eq((st["depth"], st["parkedEvents"], st["dropped"]), (0, 0, 0),
              "B's outbox drained, nothing parked or dropped")


if __name__ == "__main__":
    sys.exit(main())
