# SPDX-License-Identifier: BSD-2-Clause
"""test_campaign: a realistic upgrade campaign over 200 simulated devices.

One product ("cam"), 200 devices on 1.0.0, firmware 2.0.0, driven the way
an operator would with otactl on the running daemon's state directory,
while simulated devices (device_sim.py: plain coap; coaps through
coap-client-openssl for the three lab devices; and, when this build has the
HTTPS device front end, ten devices over HTTPS/1.1 with bearer secrets)
check in, download, verify the digest, report progress and fail or sleep
on demand:

  1. the firmware is UNVERIFIED and a batch is refused; a verify job on
     three lab devices (coaps) makes it VERIFIED;
  2. a 10% gray release: exactly floor(197 * 10 / 100) = 19 devices, the
     same set when read again; one device fails once and is retried
     (interval 0), one fails every attempt with -4, one boots into a
     version that is neither source nor target (wrong-version), one
     sleeps through the first wake-ups (QUEUED, "offline"), one goes
     silent after its first progress report (stays UPGRADING: no retry,
     no early timeout) and is canceled;
  3. a dynamic job for devices on 1.5.0 that waits for user confirmation;
  4. the full batch with a rate limit of 10 a minute: after every device
     has checked in once, exactly 10 notices are out and the rest wait in
     QUEUED with the reason rate-limited; the daemon is killed (SIGKILL)
     and restarted; the waiting devices keep checking in, and the next ten
     notices go out a minute after the first, not before (this minute is
     most of the test's run time);
  5. the operator speeds up: a second batch over the same source version
     is refused (409) without override, and with override it takes the
     160 waiting devices (their rows fail "superseded") but not the one
     that is UPGRADING; failures, automatic retries, one operator retry;
  6. the dynamic job takes in a device provisioned with 1.5.0, a device
     provisioned without a version that then reports 1.5.0, and an old
     device that later reports 1.5.0; each waits in WAIT_CONFIRM until
     `job confirm`; the rate-limited batch and the dynamic job are
     terminated.

The final statistics of every job are asserted exactly from `otactl
--json job show` and `job devices`, and the upstream outbox is checked:
operator actions add exactly one state event per state a row entered,
and (read with mdb_dump) the state events of every row form a path of
CONTRACT §3 that ends in the row's final state.  Every device's upgrade
history holds exactly the attempts its state events ended (SUCCEEDED,
FAILED, CANCELED), in the same order, and the firmware counts each
device once, by its row in the newest job, not the rows of all jobs.

The timeout rule needs at least 5 minutes of real time (the daemon has no
clock to inject); it is covered by tests/unit/test_core.c (test_timeout,
core_tick on an injected clock) and tests/unit/test_jobs.c.  Here the
silent device only shows that nothing fires early and that a timeout-able
row is not retried.
"""

import json
import os
import random
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

from otagw_harness import (Checks, Gateway, Pki, free_port,
                           gateway_restart, otactl_items, otactl_json,
                           wait_for)
from device_sim import (Behaviour, CoapTransport, CoapsTransport, Device,
                        HttpsTransport, fleet_wake)

checks = Checks()
PRODUCT = "cam"
NDEV = 200
SRC, TARGET, DYNSRC = "1.0.0", "2.0.0", "1.5.0"
JD_STATES = ["WAIT_CONFIRM", "QUEUED", "NOTIFIED", "UPGRADING", "SUCCEEDED",
             "FAILED", "RETRY_WAIT", "CANCELED"]
# CONTRACT §3: the states a row may enter from each state
EDGES = {
    None: {"QUEUED", "WAIT_CONFIRM"},
    "WAIT_CONFIRM": {"QUEUED", "CANCELED", "FAILED"},
    "QUEUED": {"NOTIFIED", "CANCELED", "FAILED"},
    "NOTIFIED": {"UPGRADING", "FAILED", "CANCELED"},
    "UPGRADING": {"SUCCEEDED", "FAILED", "CANCELED"},
    "FAILED": {"RETRY_WAIT", "QUEUED"},
    "RETRY_WAIT": {"QUEUED", "CANCELED", "FAILED"},
    "SUCCEEDED": set(),
    "CANCELED": set(),
}


def gray_rank(job, dev):
    """jobs_gray_rank of src/jobs/jobs.c: FNV-1a of "job \\xff device"
    and a 64-bit finalizer."""
    m = (1 << 64) - 1
    h = 0xcbf29ce484222325
    for b in job.encode() + b"\xff" + dev.encode():
        h = ((h ^ b) * 0x100000001b3) & m
    h ^= h >> 33
    h = (h * 0xff51afd7ed558ccd) & m
    h ^= h >> 33
    h = (h * 0xc4ceb9fe1a85ec53) & m
    return h ^ (h >> 33)


def psk(dev):
    return "psk-" + dev


def dev_name(i):
    return "d%03d" % i


class Campaign:
    def __init__(self, gw):
        self.gw = gw
        self.devs = {}

    # otactl --------------------------------------------------------------
    def ctl(self, *args):
        return self.gw.otactl(*args)

    def ctl_ok(self, *args):
        p = self.ctl(*args)
        checks.check(p.returncode == 0, "otactl %s: exit 0 (%s)" %
                     (" ".join(args[:3]), p.stderr.strip()[-200:]))
        return p

    def create(self, *args):
        p = self.ctl_ok("job", "create", *args)
        return p.stdout.strip().splitlines()[-1].strip()

    def job(self, jid):
        return otactl_json(self.gw, "job", "show", jid)

    def rows(self, jid, state=None):
        args = ["job", "devices", jid] + (["--state", state] if state else [])
        return {r["device"]: r for r in otactl_items(self.gw, *args)}

    def seq(self):
        r = otactl_json(self.gw, "relay", "status")
        return r["lastSeq"]

    def wait_job(self, jid, state, timeout=15):
        try:
            wait_for(lambda: self.job(jid)["state"] == state, timeout,
                     "job %s %s" % (jid, state), interval=0.1)
            return True
        except TimeoutError:
            return False

    def counts(self, jid):
        c = self.job(jid)["counts"]
        return {k: v for k, v in c.items() if v}

    def delta(self, what, want, fn):
        """Runs fn; the outbox must grow by exactly want events."""
        before = self.seq()
        out = fn()
        checks.eq(self.seq() - before, want, what + ": outbox events")
        return out

    def wake_until_quiet(self, devs, rounds=8):
        """Wakes devs round after round until a round hands out nothing
        and nobody sleeps (the tick requeues retries within a second)."""
        for _ in range(rounds):
            sleepers = any(d.asleep for d in devs)
            acted = fleet_wake(devs)
            if not acted and not sleepers:
                return True
        return False


def outbox_events(state_dir):
    """The events in the outbox, read with mdb_dump (None without it)."""
    tool = shutil.which("mdb_dump")
    if tool is None:
        return None
    p = subprocess.run([tool, "-p", "-s", "outbox", state_dir],
                       capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        return None
    lines = p.stdout.splitlines()
    try:
        i = lines.index("HEADER=END") + 1
    except ValueError:
        return None
    out = []
    vals = lines[i:]
    for k in range(0, len(vals) - 1, 2):
        if vals[k] == "DATA=END":
            break
        v = vals[k + 1][1:]       # each line starts with a space
        # mdb_dump -p: printable bytes as they are, others as \\XX
        raw = bytearray()
        j = 0
        while j < len(v):
            h = v[j + 1:j + 3]
            if v[j] == "\\" and len(h) == 2 and all(
                    x in "0123456789abcdef" for x in h):
                raw.append(int(h, 16))
                j += 3
            else:
                raw += v[j].encode()
                j += 1
        start = 9         # type byte and time stamp (store.c)
        out.append(json.loads(raw[start:].decode()))
    return out


def https_answers(port, cafile):
    """Whether a TLS server answers on port (the HTTPS device front end)."""
    ctx = ssl.create_default_context(cafile=cafile)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
            with ctx.wrap_socket(s, server_hostname="127.0.0.1"):
                return True
    except (OSError, ssl.SSLError):
        return False


def start_gateway(tmp):
    """The gateway with coap, coaps and, when this build has the HTTPS
    device front end, https.  Returns (gw, pki or None)."""
    pki = Pki(os.path.join(tmp, "pki"))
    port = free_port(socket.SOCK_STREAM)
    os.makedirs(os.path.join(tmp, "gw-https"))
    gw = Gateway(coap=True, coaps=True, tmp=os.path.join(tmp, "gw-https"),
                 extra={"https_listen": "127.0.0.1:%d" % port,
                        "tls_cert": pki.server[0], "tls_key": pki.server[1],
                        "device_ca": '""'})
    try:
        gw.start()
        if https_answers(port, pki.ca[0]):
            gw.https_port = port
            return gw, pki
        gw.stop()
    except RuntimeError:
        pass
    print("no HTTPS device front end in this build: every device on CoAP",
          file=sys.stderr)
    os.makedirs(os.path.join(tmp, "gw"))
    return Gateway(coap=True, coaps=True,
                   tmp=os.path.join(tmp, "gw")).start(), None


def main():
    t0 = time.monotonic()
    rnd = random.Random(4)
    image = bytes(rnd.getrandbits(8) for _ in range(3000))
    tmp = tempfile.mkdtemp(prefix="otagw-campaign-")
    gw, pki = start_gateway(tmp)
    try:
        campaign(gw, pki, image)
    except BaseException:
        sys.stderr.write("--- otagw log ---\n%s\n" % gw.log()[-4000:])
        raise
    finally:
        gw.stop()
    el = time.monotonic() - t0
    if checks.failed == 0:
        shutil.rmtree(tmp, ignore_errors=True)
    checks.check(el < 180, "campaign took %.1f s" % el)
    checks.done()


def campaign(gw, pki, image):
    c = Campaign(gw)
    host = "127.0.0.1"

    # provisioning: one CSV import, then every device reports 1.0.0
    csv = os.path.join(gw.tmp, "devices.csv")
    with open(csv, "w") as f:
        f.write("product,device,secret,psk\n")
        for i in range(NDEV):
            d = dev_name(i)
            f.write("%s,%s,secret-%s,%s\n" % (PRODUCT, d, d,
                                             psk(d).encode().hex()))
    c.ctl_ok("device", "import", csv)
    for i in range(NDEV):
        d = dev_name(i)
        if i < 3:
            t = CoapsTransport(host, gw.coaps_port, d, psk(d), gw.tmp)
        elif pki is not None and i % 20 == 7:
            t = HttpsTransport(host, gw.https_port, d, "secret-" + d,
                               pki.ca[0])
        else:
            t = CoapTransport(host, gw.coap_port)
        c.devs[d] = Device(d, SRC, t)
    alld = [c.devs[dev_name(i)] for i in range(NDEV)]
    fleet_wake(alld[3:])
    fleet_wake(alld[:3])
    lst = otactl_items(gw, "device", "list", "--product", PRODUCT,
                       "--version", SRC)
    checks.eq(len(lst), NDEV, "every device reported " + SRC)

    # 1. firmware and verification ----------------------------------
    path = os.path.join(gw.tmp, "fw.bin")
    with open(path, "wb") as f:
        f.write(image)
    fw = gw.otactl_id("firmware", "add", path, "--product", PRODUCT,
                      "--version", TARGET, "--name", "cam-2",
                      "--description", "campaign test image")
    checks.eq(otactl_json(gw, "firmware", "show", fw)["state"],
              "UNVERIFIED", "new firmware is UNVERIFIED")
    p = c.ctl("job", "create", "--firmware", fw, "--all")
    checks.check(p.returncode == 1 and "verify" in p.stderr,
                 "a batch of UNVERIFIED firmware is refused (%s)" %
                 p.stderr.strip())
    lab = ["d000", "d001", "d002"]
    v = c.delta("verify job create", 3, lambda: c.create(
        "--firmware", fw, "--verify", "--devices", ",".join(lab)))
    fleet_wake([c.devs[d] for d in lab])
    checks.check(c.wait_job(v, "COMPLETED"), "verify job COMPLETED")
    checks.eq(c.counts(v), {"SUCCEEDED": 3, "total": 3},
              "verify job counts")
    checks.eq(otactl_json(gw, "firmware", "show", fw)["state"],
              "VERIFIED", "firmware VERIFIED after the verify job")
    checks.check(all(c.devs[d].version == TARGET and
                     c.devs[d].counters["digest_failures"] == 0
                     for d in lab), "lab devices (coaps) on " + TARGET)

    # 2. gray release ---------------------------------------------------
    g = c.create("--firmware", fw, "--gray", "10", "--src-version", SRC,
                 "--retry", "1", "--retry-interval", "0",
                 "--timeout", "5")
    grows = c.rows(g)
    checks.eq(len(grows), (NDEV - 3) * 10 // 100,
              "gray 10% of 197 devices: floor")
    checks.eq(sorted(c.rows(g)), sorted(grows),
              "gray set is the same when read again")
    cand = sorted((gray_rank(g, d.id), d.id) for d in alld
                  if d.version == SRC)
    checks.eq(sorted(grows), sorted(d for _, d in cand[:len(grows)]),
              "gray set: the lowest ranks of hash(job, device)")
    checks.eq(c.job(g)["counts"]["total"], len(grows), "gray job total")
    gs = sorted(grows)
    gdev = [c.devs[d] for d in gs]
    g_retry, g_fail, g_wrong, g_silent, g_sleep = gdev[:5]
    g_retry.b = Behaviour(fail=[-2])
    g_fail.b = Behaviour(fail=[-4], fail_always=True)
    g_wrong.b = Behaviour(wrong_version="1.9.9")
    g_silent.b = Behaviour(silent=True)
    g_sleep.sleep(2)
    fleet_wake(gdev)
    r = c.rows(g)[g_sleep.id]
    checks.check(r["state"] == "QUEUED" and r["reason"] == "offline",
                 "sleeping device waits in QUEUED (offline): %r" % r)
    checks.eq(g_silent.last_notice["timeout"], 300,
              "notice carries the job's timeout in seconds")
    c.wake_until_quiet(gdev)
    r = c.rows(g)[g_silent.id]
    checks.check(r["state"] == "UPGRADING" and r["retries"] == 0 and
                 r["step"] == 0, "silent device stays UPGRADING: %r" % r)
    checks.eq(c.job(g)["state"], "RUNNING", "gray job still RUNNING")
    c.delta("cancel", 1, lambda: c.ctl_ok("job", "cancel", g,
                                          g_silent.id))
    checks.check(c.wait_job(g, "COMPLETED"), "gray job COMPLETED")
    n_gray = len(gs)
    checks.eq(c.counts(g), {"SUCCEEDED": n_gray - 3, "FAILED": 2,
                            "CANCELED": 1, "total": n_gray},
              "gray job final counts")
    rows = c.rows(g)
    r = rows[g_retry.id]
    checks.check(r["state"] == "SUCCEEDED" and r["retries"] == 1 and
                 r["version"] == TARGET, "retried device SUCCEEDED: %r"
                 % r)
    r = rows[g_fail.id]
    checks.check(r["state"] == "FAILED" and r["reason"] == "device:-4"
                 and r["desc"] == "flash failed" and r["step"] == -4 and
                 r["retries"] == 1, "failing device: device:-4 after "
                 "its retry: %r" % r)
    r = rows[g_wrong.id]
    checks.check(r["state"] == "FAILED" and r["reason"] == "wrong-version"
                 and r["retries"] == 1 and r["version"] == "1.9.9",
                 "wrong version: FAILED wrong-version: %r" % r)
    checks.eq(rows[g_silent.id]["state"], "CANCELED", "canceled row")
    checks.eq(rows[g_sleep.id]["state"], "SUCCEEDED",
              "the sleeper upgraded once awake")
    for d in gdev:
        d.b = Behaviour()

    # 3. a dynamic job for devices that come up on 1.5.0 ---------------
    dj = c.delta("dynamic job create", 0, lambda: c.create(
        "--firmware", fw, "--dynamic", "--src-version", DYNSRC,
        "--confirm"))
    checks.eq(c.job(dj)["state"], "RUNNING", "dynamic job RUNNING")

    # 4. full batch, rate-limited ---------------------------------------
    on_src = sorted(d.id for d in alld if d.version == SRC)
    f1 = c.create("--firmware", fw, "--src-version", SRC, "--rate", "10",
                  "--retry", "1", "--retry-interval", "0",
                  "--timeout", "5")
    f1rows = c.rows(f1)
    checks.eq(sorted(f1rows), on_src,
              "full batch takes every device on " + SRC)
    order = [c.devs[d] for d in sorted(f1rows)]
    f_silent = order[0]
    f_silent.b = Behaviour(silent=True)
    fleet_wake(order)
    rows = c.rows(f1)
    handed = [d for d, r in rows.items() if r["notified"]]
    checks.eq(len(handed), 10, "rate 10/min: 10 notices in the first "
              "minute")
    waiting = [r for r in rows.values() if r["state"] == "QUEUED"]
    checks.eq(len(waiting), len(on_src) - 10, "the rest wait in QUEUED")
    checks.check(all(r["reason"] == "rate-limited" for r in waiting),
                 "waiting rows say rate-limited")
    checks.eq(sorted(handed), sorted(d.id for d in order[:10]),
              "the first ten to check in got the notices")
    checks.eq(rows[f_silent.id]["state"], "UPGRADING",
              "silent device UPGRADING in the full batch")
    # the next minute hands out the next ten, not before
    first = min(r["notified"] for r in rows.values() if r["notified"])
    w0 = time.time() - (time.mktime(time.strptime(
        first[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone +
        int(first[20:23]) / 1000.0)
    queued = [c.devs[d] for d in sorted(rows)
              if rows[d]["state"] == "QUEUED"]
    # the rate counter is in the store: a crash and restart changes
    # nothing about who waits and until when
    gw.kill9()
    gateway_restart(gw)
    # the waiting devices keep checking in every 2 s until one gets a
    # notice: that must be a minute after the first, and ten of them
    t_first = time.monotonic() - w0
    acted = {}
    deadline = t_first + 75
    while not acted and time.monotonic() < deadline:
        acted = fleet_wake(queued)
        t_got = time.monotonic() - t_first
        if not acted:
            time.sleep(2)
    checks.check(60 <= t_got < 67, "next notices %.1f s after the "
                 "first" % t_got)
    # a round may straddle the minute: ten devices in a row, in the
    # order they checked in
    idx = sorted(i for i, d in enumerate(queued) if d.id in acted)
    checks.check(len(idx) == 10 and idx == list(range(idx[0],
                 idx[0] + 10)), "the next minute: the next ten (%r)" %
                 idx)
    rows = c.rows(f1)
    waiting = [r for r in rows.values() if r["state"] == "QUEUED"]
    checks.eq(len(waiting), len(on_src) - 20, "the rest still wait")
    checks.eq(c.counts(f1), {"UPGRADING": 1, "SUCCEEDED": 19,
                             "QUEUED": len(on_src) - 20,
                             "total": len(on_src)},
              "rate-limited batch after two minutes' windows")

    # 5. override ---------------------------------------------------------
    p = c.ctl("job", "create", "--firmware", fw, "--src-version", SRC)
    checks.check(p.returncode == 1 and "overlap" in p.stderr,
                 "overlapping batch refused without override (%s)" %
                 p.stderr.strip())
    nwait = len(waiting)
    f2 = c.delta("override job create", 2 * nwait, lambda: c.create(
        "--firmware", fw, "--src-version", SRC, "--override",
        "--retry", "1", "--retry-interval", "0", "--timeout", "5"))
    f2rows = c.rows(f2)
    checks.eq(len(f2rows), nwait, "override takes the waiting devices")
    checks.check(f_silent.id not in f2rows,
                 "override leaves the UPGRADING device alone")
    rows = c.rows(f1, "FAILED")
    checks.eq(sorted(d for d, r in rows.items()
                     if r["reason"] == "superseded"), sorted(f2rows),
              "replaced rows FAILED superseded")
    fs = [c.devs[d] for d in sorted(f2rows)]
    f_once1, f_once3, f_fail, f_op, f_sleep = fs[:5]
    f_once1.b = Behaviour(fail=[-1])
    f_once3.b = Behaviour(fail=[-3])
    f_fail.b = Behaviour(fail=[-4], fail_always=True)
    f_op.b = Behaviour(fail=[-2, -2])
    f_sleep.sleep(3)
    c.wake_until_quiet(fs)
    ok = c.wait_job(f2, "COMPLETED")
    if not ok:
        for dv, r in c.rows(f2).items():
            if r["state"] not in ("SUCCEEDED", "FAILED"):
                print("DEBUG", r, c.devs[dv].log[-12:], file=sys.stderr)
    checks.check(ok, "override batch COMPLETED")
    r = c.rows(f2)[f_op.id]
    checks.check(r["state"] == "FAILED" and r["reason"] == "device:-2" and
                 r["retries"] == 1, "device failed twice: %r" % r)
    c.delta("operator retry", 1, lambda: c.ctl_ok("job", "retry", f2,
                                                  f_op.id))
    checks.eq(c.job(f2)["state"], "RUNNING", "a retry reopens the job")
    fleet_wake([f_op])
    checks.check(c.wait_job(f2, "COMPLETED"), "batch COMPLETED again")
    checks.eq(c.counts(f2), {"SUCCEEDED": nwait - 1, "FAILED": 1,
                             "total": nwait}, "override batch counts")
    rows = c.rows(f2)
    checks.eq((rows[f_op.id]["state"], rows[f_op.id]["retries"]),
              ("SUCCEEDED", 2), "operator retry succeeded")
    checks.eq([rows[d.id]["retries"] for d in (f_once1, f_once3)],
              [1, 1], "automatic retries")
    checks.eq((rows[f_fail.id]["reason"], rows[f_fail.id]["desc"]),
              ("device:-4", "flash failed"), "failure reason and desc")

    # 6. dynamic job: new and changed devices ---------------------------
    d200, d201 = "d200", "d201"
    c.ctl_ok("device", "put", d200, "--product", PRODUCT, "--version",
             DYNSRC)
    c.ctl_ok("device", "put", d201, "--product", PRODUCT)
    c.devs[d200] = Device(d200, DYNSRC,
                          CoapTransport(host, gw.coap_port))
    c.devs[d201] = Device(d201, DYNSRC,
                          CoapTransport(host, gw.coap_port))
    g_wrong.set_version(DYNSRC)
    late = [c.devs[d200], c.devs[d201], g_wrong]
    wait_for(lambda: fleet_wake(late) == {} and
             len(c.rows(dj)) == 3, 10, "dynamic job picks devices up",
             interval=0.2)
    rows = c.rows(dj)
    checks.eq(sorted(rows), sorted(d.id for d in late),
              "dynamic job: provisioned, new and changed devices")
    checks.check(all(r["state"] == "WAIT_CONFIRM" for r in rows.values()),
                 "they wait for confirmation")
    checks.eq(fleet_wake(late), {}, "no notice before confirmation")
    for d in late:
        c.delta("confirm", 1, lambda: c.ctl_ok("job", "confirm", dj,
                                               d.id))
    checks.eq(sorted(fleet_wake(late)), sorted(d.id for d in late),
              "notices after confirmation")
    checks.eq(c.counts(dj), {"SUCCEEDED": 3, "total": 3},
              "dynamic job counts")
    checks.eq(c.job(dj)["state"], "RUNNING", "dynamic job stays open")

    c.delta("terminate", 1, lambda: c.ctl_ok("job", "terminate", f1))
    c.delta("terminate dynamic", 0, lambda: c.ctl_ok("job", "terminate",
                                                     dj))
    p = c.ctl("job", "terminate", f1)
    checks.check(p.returncode == 1, "terminating twice is refused")

    # final statistics --------------------------------------------------
    final = {
        v: ("COMPLETED", {"SUCCEEDED": 3, "total": 3}),
        g: ("COMPLETED", {"SUCCEEDED": n_gray - 3, "FAILED": 2,
                          "CANCELED": 1, "total": n_gray}),
        dj: ("TERMINATED", {"SUCCEEDED": 3, "total": 3}),
        f1: ("TERMINATED", {"SUCCEEDED": 19, "FAILED": nwait + 1,
                            "total": len(on_src)}),
        f2: ("COMPLETED", {"SUCCEEDED": nwait - 1, "FAILED": 1,
                           "total": nwait}),
    }
    jl = {j["id"]: j for j in otactl_items(gw, "job", "list")}
    checks.eq(sorted(jl), sorted(final), "job list")
    for jid, (state, cnt) in final.items():
        j = c.job(jid)
        checks.eq((j["state"], {k: n for k, n in j["counts"].items()
                                if n}), (state, cnt),
                  "final %s (%s)" % (jid, j["kind"]))
        checks.check(j["finished"] is not None and
                     j["started"] is not None, jid + ": times set")
    r = c.rows(f1)[f_silent.id]
    checks.eq((r["state"], r["reason"]), ("FAILED", "terminated"),
              "UPGRADING row of a terminated job")
    # the firmware counts devices, each once, in the state of its row in
    # the newest of the firmware's jobs that has it
    fwj = otactl_json(gw, "firmware", "show", fw)
    latest = {}
    for jid in sorted(final, key=lambda i: int(i.split("-")[1])):
        for dev, row in c.rows(jid).items():
            latest[dev] = row["state"]
    want = {"SUCCEEDED": 0, "FAILED": 0, "CANCELED": 0}
    for st in latest.values():
        if st in want:
            want[st] += 1
    want["total"] = len(latest)
    checks.eq({k: fwj["devices"].get(k) for k in want}, want,
              "firmware devices across its jobs, each once")
    checks.eq(fwj["counts"], fwj["devices"],
              "firmware counts: the same numbers as devices")
    nrows = sum(cnt["total"] for _, cnt in final.values())
    checks.check(want["total"] < nrows,
                 "devices in several jobs of the firmware count once "
                 "(%d devices, %d rows)" % (want["total"], nrows))
    upgraded = sorted(d.id for d in c.devs.values()
                      if d.version == TARGET)
    lst = otactl_items(gw, "device", "list", "--version", TARGET)
    checks.eq(sorted(x["id"] for x in lst), upgraded,
              "devices on %s per the gateway" % TARGET)
    checks.eq(len(upgraded), 3 + (n_gray - 3) + 19 + (nwait - 1) + 3,
              "devices upgraded")
    checks.check(all(d.counters["digest_failures"] == 0 and
                     d.counters["errors"] == 0 for d in c.devs.values()),
                 "every download intact, no request refused")
    if pki is not None:
        hd = [d for d in c.devs.values() if d.t.name == "https"]
        checks.check(hd and any(d.counters["downloads"] for d in hd),
                     "HTTPS devices took part: %d devices, %d on %s" %
                     (len(hd), sum(d.version == TARGET for d in hd),
                      TARGET))

    # outbox: every state change has its event ------------------------
    rs = otactl_json(gw, "relay", "status")
    checks.eq((rs["depth"], rs.get("dropped", 0)), (rs["lastSeq"], 0),
              "outbox keeps every event (no upstream)")
    evs = outbox_events(gw.state)
    if evs is None:
        print("mdb_dump not available: outbox paths not checked",
              file=sys.stderr)
    else:
        checks.eq(len(evs), rs["depth"], "mdb_dump sees the outbox")
        paths = {}
        for e in evs:
            if e["type"] == "state":
                paths.setdefault((e["job"], e["device"]), []).append(
                    e["state"])
        bad = []
        nrows = 0
        for jid in final:
            for dev, r in c.rows(jid).items():
                nrows += 1
                pth = paths.get((jid, dev), [])
                prev, ok = None, bool(pth)
                for s in pth:
                    ok = ok and s in EDGES[prev]
                    prev = s
                if not ok or prev != r["state"]:
                    bad.append((jid, dev, pth, r["state"]))
        checks.eq(bad, [], "every row's events follow CONTRACT §3 to "
                  "its final state")
        checks.eq(len(paths), nrows, "events only for existing rows")
        checks.eq(paths.get((g, g_retry.id)),
                  ["QUEUED", "NOTIFIED", "UPGRADING", "FAILED",
                   "RETRY_WAIT", "QUEUED", "NOTIFIED", "UPGRADING",
                   "SUCCEEDED"], "events of the retried device")
        # every attempt that ended, as its state event says, is in its
        # device's history, in the same order (oldest last there)
        ended = {}
        for e in evs:
            if e["type"] == "state" and e["state"] in ("SUCCEEDED",
                                                       "FAILED",
                                                       "CANCELED"):
                ended.setdefault(e["device"], []).append((e["job"],
                                                          e["state"]))
        badh = []
        for dev in sorted(set(ended) | set(c.devs)):
            h = otactl_items(gw, "device", "history", dev,
                             check=False) or []
            got = [(x["job"], x["state"]) for x in reversed(h)]
            if got != ended.get(dev, []):
                badh.append((dev, got, ended.get(dev, [])))
        checks.eq(badh[:3], [], "every device's history holds the attempts "
                  "its state events ended, in order (%d devices)" %
                  len(set(ended) | set(c.devs)))
        h = otactl_items(gw, "device", "history", g_retry.id) or []
        checks.eq([(x["state"], x["reason"], x["retries"]) for x in h],
                  [("SUCCEEDED", None, 1), ("FAILED", "device:-2", 0)],
                  "history of the retried device: both attempts")
    for d in c.devs.values():
        d.t.close()


if __name__ == "__main__":
    main()
