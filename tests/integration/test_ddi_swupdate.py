# SPDX-License-Identifier: BSD-2-Clause
"""test_ddi_swupdate: Debian's real SWUpdate against otagw's hawkBit DDI
API on the HTTPS device port (issue 16, docs/hawkbit.md).

The test builds CMS-signed .swu images with openssl and cpio, whose
sw-description installs one 300 KB payload into a file with the raw
handler, and runs `swupdate` in suricatta mode (its own configuration
file with the test CA, its own TMPDIR) against a gateway that answers
polls with a one-second sleep.  Four devices, each of its own product
with its own image and target file, run at the same time:

- a: SWUpdate downloads and installs the image (the target file equals
  the payload), the row is UPGRADING; restarted with `-c 2` it reports
  success: the row is SUCCEEDED, the verify job COMPLETED, and the base
  offers no deployment any more.  Its `identify` attribute reaches otagw
  through configData and shows in `otactl device show`.
- b: the same through a TCP proxy that resets the first connection
  after 100 KB from the server: SWUpdate resumes with a Range request
  (206 in otagw's debug log) and installs the whole payload.
- c: a download slowed down to 16 KB/s by a proxy; the operator cancels
  the row while it is UPGRADING: SWUpdate stops, posts cancelAction feedback
  once, the row is CANCELED and the base no longer offers cancelAction.
- d: an image whose sw-description names the wrong SHA-256: the row is
  FAILED with reason device:-1 and SWUpdate's failure details in its
  desc (its "HASH mismatch" line, or its closing "No suitable .swu
  image found": that varies from run to run), the "HASH mismatch" line
  reaches a recording upstream in a progress event's details, and the
  base offers no deployment any more.

Skipped (77) when swupdate, cpio, openssl, curl or nghttpx is missing.
Every swupdate process is stopped in a finally block.
"""

import hashlib
import json
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

from otagw_harness import (Checks, Pki, curl_request, https_gateway,
                           otactl_items, otactl_json, wait_for)
from upstream import NGHTTPX, Recorder

SWUPDATE = "/usr/bin/swupdate"
TENANT = "DEFAULT"
BOARD = "otagw-test:1.0"
PAYLOAD_SIZE = 300000
CUT_AFTER = 100000
SLOW_RATE = 16384
STALL = 20

checks = Checks()

if not os.access(SWUPDATE, os.X_OK):
    print("%s not installed: skipping" % SWUPDATE)
    sys.exit(77)
if NGHTTPX is None:
    print("nghttpx (nghttp2-proxy) not installed: skipping")
    sys.exit(77)
for tool in ("cpio", "openssl", "curl"):
    if shutil.which(tool) is None:
        print("%s not installed: skipping" % tool)
        sys.exit(77)


def run(argv, cwd=None):
    p = subprocess.run(argv, cwd=cwd, capture_output=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(argv),
                                       p.stderr.decode()[-500:]))
    return p


def make_signer(d):
    """A self-signed RSA certificate and key that sign the images; the
    certificate is swupdate's -k."""
    crt, key = os.path.join(d, "sign.crt"), os.path.join(d, "sign.key")
    run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
         "-keyout", key, "-out", crt, "-subj", "/CN=otagw-test-signer",
         "-days", "2"])
    return crt, key


SW_DESCRIPTION = """software =
{
	version = "%(version)s";
	hardware-compatibility: [ "1.0" ];
	images: (
		{
			filename = "payload.bin";
			device = "%(target)s";
			type = "raw";
			sha256 = "%(sha256)s";
		}
	);
}
"""


def make_swu(d, name, payload, target, signer, version, sha256=None):
    """d/NAME: a CMS-signed .swu (newc cpio with CRC) holding
    sw-description, its signature and payload.bin, which the raw handler
    writes into target.  sha256: what sw-description claims (default:
    the payload's own).  The inputs stay in d/NAME.d (swupdate deletes
    what it extracts, so its TMPDIR is elsewhere)."""
    src = os.path.join(d, name + ".d")
    os.makedirs(src)
    with open(os.path.join(src, "payload.bin"), "wb") as f:
        f.write(payload)
    desc = os.path.join(src, "sw-description")
    with open(desc, "w") as f:
        f.write(SW_DESCRIPTION % {
            "version": version, "target": target,
            "sha256": sha256 or hashlib.sha256(payload).hexdigest()})
    run(["openssl", "cms", "-sign", "-in", desc, "-out", desc + ".sig",
         "-signer", signer[0], "-inkey", signer[1], "-outform", "DER",
         "-nosmimecap", "-binary"])
    out = os.path.join(d, name)
    with open(out, "wb") as f:
        p = subprocess.run(["cpio", "-o", "-H", "crc", "--quiet"], cwd=src,
                           input=b"sw-description\nsw-description.sig\n"
                           b"payload.bin\n", stdout=f,
                           stderr=subprocess.PIPE, timeout=60)
    if p.returncode != 0:
        raise RuntimeError("cpio: " + p.stderr.decode()[-500:])
    return out


class TcpProxy:
    """A TCP proxy from a free loopback port to 127.0.0.1:target_port.
    It forwards bytes both ways (TLS stays end to end).  cut_after: the
    first connection whose server-to-client bytes pass it is aborted,
    both of its sockets closed with SO_LINGER 0, so each end gets an RST.
    rate: server-to-client bytes a second, per connection (a slow link).
    .counts holds the server-to-client bytes of each connection in the
    order they were accepted; .cut the index of the aborted one."""

    def __init__(self, target_port, cut_after=None, rate=None):
        self.target = ("127.0.0.1", target_port)
        self.cut_after = cut_after
        self.rate = rate
        self.chunk = min(16384, rate // 4) if rate else 16384
        self.counts = []
        self.cut = None
        self.lock = threading.Lock()
        self.stopping = False
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopping:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            with self.lock:
                idx = len(self.counts)
                self.counts.append(0)
            threading.Thread(target=self._pipe, args=(c, idx),
                             daemon=True).start()

    @staticmethod
    def _abort(*socks):
        for s in socks:
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                             struct.pack("ii", 1, 0))
            except OSError:
                pass
            s.close()

    def _from_server(self, idx, data):
        """The part of data to forward and whether to abort after it."""
        with self.lock:
            n = self.counts[idx]
            if (self.cut_after is not None and self.cut is None and
                    n + len(data) > self.cut_after):
                self.cut = idx
                data = data[:self.cut_after - n]
                self.counts[idx] += len(data)
                return data, True
            self.counts[idx] += len(data)
            return data, False

    def _pipe(self, c, idx):
        try:
            u = socket.create_connection(self.target, timeout=10)
        except OSError:
            self._abort(c)
            return
        peer = {c: u, u: c}
        try:
            while not self.stopping:
                ready, _, _ = select.select([c, u], [], [], 0.5)
                for s in ready:
                    data = s.recv(self.chunk if s is u else 16384)
                    if not data:
                        self._abort(c, u)
                        return
                    cut = False
                    if s is u:
                        data, cut = self._from_server(idx, data)
                    if data:
                        peer[s].sendall(data)
                    if cut:
                        self._abort(c, u)
                        return
                    if s is u and self.rate:
                        time.sleep(len(data) / self.rate)
        except OSError:
            pass
        self._abort(c, u)

    def close(self):
        self.stopping = True
        self.lsock.close()


class Swupdate:
    """One swupdate in suricatta mode for a device, in directory d (its
    configuration file, log and TMPDIR are there)."""

    def __init__(self, d, dev, secret, url, ca, signer_cert, extra=(),
                 identify=None):
        self.d, self.dev, self.secret, self.url = d, dev, secret, url
        self.signer = signer_cert
        self.extra = list(extra)
        self.proc = None
        self.runs = 0
        self.tmpdir = os.path.join(d, "swtmp")
        os.makedirs(self.tmpdir, exist_ok=True)
        self.cfg = os.path.join(d, "swupdate.cfg")
        with open(self.cfg, "w") as f:
            f.write('globals :\n{\n\tverbose = true;\n};\n')
            f.write('suricatta :\n{\n\ttenant = "%s";\n\tid = "%s";\n'
                    '\turl = "%s";\n\ttargettoken = "%s";\n'
                    '\tcafile = "%s";\n\tpolldelay = 1;\n\tretry = 3;\n'
                    '\tretrywait = 1;\n};\n' % (TENANT, dev, url, secret,
                                                  ca))
            if identify:
                f.write("identify : (\n%s\n);\n" % ",\n".join(
                    '\t{ name = "%s"; value = "%s"; }' % kv
                    for kv in identify))
        self.logpath = None

    def start(self, confirm=None):
        """Starts swupdate (confirm: its -c state, e.g. 2 = success)."""
        self.runs += 1
        self.logpath = os.path.join(self.d, "swupdate-%d.log" % self.runs)
        sur = ["-t", TENANT, "-u", self.url, "-i", self.dev, "-k",
               self.secret, "-p", "1", "-r", "3", "-w", "1"] + self.extra
        if confirm is not None:
            sur += ["-c", str(confirm)]
        env = dict(os.environ, TMPDIR=self.tmpdir)
        self.log = open(self.logpath, "wb")
        # SIGPIPE stays ignored (Python ignores it; restore_signals=False
        # keeps that across exec), as systemd's IgnoreSIGPIPE=yes does for
        # Debian's swupdate.service: swupdate 2022.12's main process dies
        # of SIGPIPE when an IPC client hangs up before its answer, which
        # its suricatta child does now and then after a download (fixed
        # upstream in 2024.05, "network_thread: block SIGPIPE in network
        # thread"), and the orphaned child then waits for ever
        self.proc = subprocess.Popen(
            [SWUPDATE, "-f", self.cfg, "-v", "-H", BOARD, "-k", self.signer,
             "-u", " ".join(sur)], cwd=self.d, env=env, stdout=self.log,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, restore_signals=False)
        return self

    def stop(self):
        """SIGTERM to the process group of the swupdate this test started
        (its children, "suricatta" and the downloader, are in it), then
        SIGKILL if it has not gone within 10 s."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(10)
                    break
                except subprocess.TimeoutExpired:
                    continue
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.log.close()
        self.proc = None

    def status(self):
        """"running", or how the swupdate this test started ended."""
        if self.proc is None or self.proc.poll() is None:
            return "running"
        rc = self.proc.returncode
        return ("killed by signal %d" % -rc) if rc < 0 else "exit %d" % rc

    def text(self):
        try:
            with open(self.logpath, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except (OSError, TypeError):
            return ""


class Case:
    """One device of its own product, its image, its job and its swupdate."""

    def __init__(self, gw, pki, w, signer, name, bad_hash=False, via=None,
                 extra=(), identify=None):
        self.gw, self.name = gw, name
        self.dev = "swu-" + name
        self.secret = "s-%s-%s" % (name, os.urandom(8).hex())
        self.d = os.path.join(w, name)
        os.makedirs(self.d)
        self.payload = os.urandom(PAYLOAD_SIZE)
        self.target = os.path.join(self.d, "target.img")
        open(self.target, "wb").close()   # raw opens it without O_CREAT
        wrong = hashlib.sha256(b"not the payload").hexdigest()
        self.swu = make_swu(self.d, "bad.swu" if bad_hash else "ok.swu",
                            self.payload, self.target, signer, "1.1.0",
                            wrong if bad_hash else None)
        product = "swu-" + name
        gw.otactl("device", "put", self.dev, "--product", product,
                  "--version", "1.0.0", "--secret", self.secret, check=True)
        self.fw = gw.otactl_id("firmware", "add", self.swu, "--product",
                               product, "--version", "1.1.0")
        self.job = gw.otactl_id("job", "create", "--firmware", self.fw,
                                "--verify", "--devices", self.dev)
        port = via.port if via else gw.https_port
        self.url = "https://127.0.0.1:%d" % port
        self.stalls = 0
        self.sw = Swupdate(self.d, self.dev, self.secret, self.url,
                           pki.ca[0], signer[0], extra, identify)
        self.pki = pki

    def row(self):
        rows = otactl_items(self.gw, "job", "devices", self.job,
                            check=False) or []
        for r in rows:
            if r.get("device") == self.dev:
                return r
        return {}

    def state(self):
        return self.row().get("state")

    def wait_state(self, want, timeout, what):
        try:
            wait_for(lambda: self.state() in want, timeout, what,
                     interval=0.2)
            return checks.check(True, "%s: %s" % (self.dev, what))
        except TimeoutError:
            return checks.check(False, "%s: %s (row %r)" % (
                self.dev, what, self.row()))

    def installed(self):
        with open(self.target, "rb") as f:
            return f.read() == self.payload

    def base(self):
        """GET the controller base with the device's TargetToken, straight
        to otagw: (status, parsed body or None)."""
        r = curl_request("%s/%s/controller/v1/%s" % (
            self.gw.https_url, TENANT, self.dev), "GET", "2",
            ["Authorization: TargetToken " + self.secret,
             "Accept: application/json"], None, self.pki.ca[0],
            tmpdir=self.gw.tmp)
        try:
            return r.status, json.loads(r.body)
        except ValueError:
            return r.status, None

    def links(self):
        status, body = self.base()
        if status != 200 or not isinstance(body, dict):
            return None
        return sorted((body.get("_links") or {}).keys())

    def requests(self, pattern):
        """otagw's debug lines for this device's DDI requests whose
        "METHOD PATH -> STATUS" matches pattern (a regex, PATH relative
        to the controller base)."""
        base = re.escape("/%s/controller/v1/%s" % (TENANT, self.dev))
        rx = re.compile(r"https: (?:ddi )?h[12] (?:%s)" % pattern.replace(
            "BASE", base))
        return [ln for ln in self.gw.log().splitlines() if rx.search(ln)]


def watched(c, cond, what, restart=True):
    """Waits STALL seconds for cond(); then, like a device's watchdog,
    restarts a swupdate that stalled and waits as long again (restart
    False: gives up at once), and says so.  With SIGPIPE ignored (see
    Swupdate.start) none was seen in 12 runs; before, about one run in
    ten had one."""
    for attempt in (1, 2):
        try:
            wait_for(cond, STALL, what, interval=0.2)
            return True
        except TimeoutError:
            pass
        if attempt == 2 or not restart:
            return False
        sys.stderr.write("note: %s: swupdate stalled (%s; %s), restarting "
                         "it; its log ends with %r\n" % (
                             c.dev, what, c.sw.status(), c.sw.text()[-300:]))
        c.stalls += 1
        c.sw.stop()
        c.sw.start()
    return False


def wait_installed(c, restart=True):
    """Waits until swupdate installed c's payload and, on a later poll,
    says it waits for a restart to report, with the row UPGRADING."""
    return watched(c, lambda: c.installed() and
                   c.state() == "UPGRADING" and
                   "pending testing" in c.sw.text(), "install", restart)


def case_success(c):
    """a: install, then -c 2 reports success; configData seen."""
    checks.check(wait_installed(c), "%s: swupdate wrote the payload into "
                 "its target file, waits for a restart, and the row is "
                 "UPGRADING (row %r)" % (c.dev, c.row()))
    step = c.row().get("step")
    checks.check(isinstance(step, int) and 0 <= step < 100,
                 "%s: step below 100 before the success report (%r)" % (
                     c.dev, step))
    checks.check(c.requests(r"POST BASE/deploymentBase/\d+/feedback -> 200"),
                 c.dev + ": feedback posted and answered 200")
    c.sw.stop()
    c.sw.start(confirm=2)
    c.wait_state(("SUCCEEDED",), 30, "SUCCEEDED after the -c 2 restart")
    job = otactl_json(c.gw, "job", "show", c.job, check=False) or {}
    checks.eq(job.get("state"), "COMPLETED", c.dev + ": verify job state")
    checks.eq(c.row().get("version"), "1.1.0", c.dev + ": row version")
    checks.check("Update Installed" in (c.row().get("desc") or "") or
                 "Update Installed" in c.gw.log(),
                 c.dev + ": SWUpdate's success detail reached otagw")
    links = c.links()
    checks.check(links is not None and "deploymentBase" not in links,
                 "%s: no deploymentBase once SUCCEEDED (%r)" % (c.dev, links))
    dev = otactl_json(c.gw, "device", "show", c.dev, check=False) or {}
    checks.eq(dev.get("attributes"), {"board": "otagw-test", "slot": "A"},
              c.dev + ": configData attributes in device show")
    checks.check(links is not None and "configData" not in links,
                 "%s: no configData link once attributes are stored" %
                 c.dev)


def case_resume(new_case):
    """b: a download cut after 100 KB resumes with a range.  A swupdate
    that stalls after the cut is not restarted (a new one would download
    from the start): the case runs again once with a new device."""
    c, proxy = new_case("b")
    c.sw.start()
    if not wait_installed(c, restart=False):
        sys.stderr.write("note: %s: swupdate stalled after the cut (%s, "
                         "proxy %r), once more with another device; its log "
                         "ends with %r\n" % (c.dev, c.sw.status(),
                                              proxy.counts,
                                              c.sw.text()[-300:]))
        c.stalls += 1
        c.sw.stop()
        c, proxy = new_case("b2")
        c.sw.start()
        wait_installed(c, restart=False)
    checks.check(c.installed() and c.state() == "UPGRADING",
                 "%s: the whole payload installed after the cut "
                 "(row %r, proxy %r)" % (c.dev, c.row(), proxy.counts))
    checks.check(proxy.cut is not None and
                 proxy.counts[proxy.cut] == CUT_AFTER,
                 "%s: the proxy cut a connection after %d bytes (%r)" % (
                     c.dev, CUT_AFTER, proxy.counts))
    ranged = c.requests(r"GET BASE/softwaremodules/[^/ ]+/artifacts/ok\.swu "
                        r"-> 206")
    checks.check(ranged, c.dev + ": the download resumed with a range "
                 "(206 in otagw's log)")
    checks.check("Channel sleeps for" in c.sw.text(),
                 c.dev + ": swupdate waited -w seconds before resuming")
    sys.stderr.write("%s: server-to-client bytes per proxied connection: "
                     "%r\n" % (c.dev, proxy.counts))
    c.sw.stop()
    c.sw.start(confirm=2)
    c.wait_state(("SUCCEEDED",), 30, "SUCCEEDED after the -c 2 restart")


def case_cancel(c, slow):
    """c: the row canceled while SWUpdate downloads (slowly)."""
    if not c.wait_state(("UPGRADING",), 30, "UPGRADING (download started)"):
        return
    try:
        wait_for(lambda: sum(slow.counts) > CUT_AFTER // 2, 20,
                 "half the cut through the slow link", interval=0.1)
    except TimeoutError:
        pass
    checks.check(not c.installed(), c.dev + ": canceled in the middle of "
                 "the download (%r bytes through the slow link)" %
                 slow.counts)
    c.gw.otactl("job", "cancel", c.job, c.dev, check=True)
    fb = r"POST BASE/cancelAction/\d+/feedback -> 200"
    if not checks.check(watched(c, lambda: c.requests(fb),
                                "cancel feedback"),
                        c.dev + ": SWUpdate posted cancelAction feedback, "
                        "answered 200"):
        return
    checks.check(c.requests(r"GET BASE/cancelAction/\d+ -> 200"),
                 c.dev + ": SWUpdate fetched the cancelAction")
    checks.eq(c.state(), "CANCELED", c.dev + ": row state")
    # two more polls of the base after the acknowledgement: no new one
    polls = len(c.requests(r"GET BASE -> 200"))
    acks = len(c.requests(fb))
    try:
        wait_for(lambda: len(c.requests(r"GET BASE -> 200")) >= polls + 2,
                 15, "two more polls", interval=0.2)
    except TimeoutError:
        pass
    checks.check(len(c.requests(fb)) <= acks + 1,
                 "%s: the acknowledgement is not repeated poll after poll "
                 "(%d, then %d)" % (c.dev, acks, len(c.requests(fb))))
    links = c.links()
    checks.check(links is not None and "cancelAction" not in links and
                 "deploymentBase" not in links,
                 "%s: the base offers no action after the ack (%r)" % (
                     c.dev, links))
    checks.check(not c.installed(), c.dev + ": the payload was not "
                 "installed")


def case_failure(c, be):
    """d: a wrong sha256 in sw-description."""
    checks.check(watched(c, lambda: c.state() == "FAILED", "FAILED"),
                 "%s: FAILED (row %r)" % (c.dev, c.row()))
    row = c.row()
    checks.eq(row.get("reason"), "device:-1", c.dev + ": reason")
    # SWUpdate 2022.12 closes the action with the error lines its status
    # callback collected by then: "ERROR : HASH mismatch : ..." first, or,
    # when that line came too late (it varies from run to run), its
    # closing "No suitable .swu image found", alone or after "ERROR :
    # Error write on socket ctrl" (the installer hung up on the download)
    desc = row.get("desc") or ""
    checks.check("HASH mismatch" in c.sw.text(),
                 c.dev + ": swupdate refused the image for its hash")
    checks.check(desc.startswith("ERROR : HASH mismatch : ") or
                 desc.endswith("No suitable .swu image found"),
                 "%s: SWUpdate's failure details in the desc (%r)" % (
                     c.dev, desc))
    links = c.links()
    checks.check(links is not None and "deploymentBase" not in links,
                 "%s: no deploymentBase once FAILED (%r)" % (c.dev, links))

    # upstream: SWUpdate's error line in some progress event's details,
    # from its log feedback or from the failure, whichever carried it
    def hash_line():
        with be.lock:
            evs = [e for _, batch in be.posts for e in (batch or [])]
        return [e for e in evs if e.get("device") == c.dev and
                any("HASH mismatch" in str(x) for x in
                    e.get("details") or [])]
    try:
        wait_for(hash_line, 15, "HASH mismatch upstream", interval=0.2)
        checks.check(True, c.dev + ": SWUpdate's HASH mismatch line "
                     "reached the upstream in an event's details")
    except TimeoutError:
        with be.lock:
            evs = [e for _, batch in be.posts for e in (batch or [])
                   if e.get("device") == c.dev]
        checks.check(False, ("%s: SWUpdate's HASH mismatch line upstream "
                             "(events %r)" % (c.dev, evs))[:3000])


def main():
    w = tempfile.mkdtemp(prefix="otagw-ddi-")
    pki = Pki(os.path.join(w, "pki"))
    signer = make_signer(w)
    os.makedirs(os.path.join(w, "gw"))
    rec = Recorder(w)
    be = rec.be
    conf = {"ddi_tenant": TENANT, "check_interval": "1s",
            "busy_interval": "1s"}
    conf.update(rec.conf())
    gwp = https_gateway(pki, extra=conf, tmp=os.path.join(w, "gw"))
    cases = []
    proxies = []
    ok = False
    try:
        with gwp as gw:
            def resume_case(name):
                px = TcpProxy(gw.https_port, cut_after=CUT_AFTER)
                proxies.append(px)
                x = Case(gw, pki, w, signer, name, via=px)
                cases.append(x)
                return x, px

            a = Case(gw, pki, w, signer, "a", identify=(
                ("board", "otagw-test"), ("slot", "A")))
            slow = TcpProxy(gw.https_port, rate=SLOW_RATE)
            proxies.append(slow)
            c = Case(gw, pki, w, signer, "c", via=slow)
            d = Case(gw, pki, w, signer, "d", bad_hash=True)
            cases += [a, c, d]
            t0 = time.monotonic()
            for x in cases:
                x.sw.start()
            def resume_thread():
                try:
                    case_resume(resume_case)
                except Exception as e:      # counted, not lost in a thread
                    checks.check(False, "resume case: %r" % e)

            resume = threading.Thread(target=resume_thread)
            resume.start()
            case_cancel(c, slow)
            case_failure(d, be)
            case_success(a)
            resume.join()
            sys.stderr.write("swupdate cases took %.1f s, %d stalled "
                             "swupdate run(s)\n" % (
                                 time.monotonic() - t0,
                                 sum(x.stalls for x in cases)))
            log = gw.log()
            checks.check(not any(x.secret in log for x in cases),
                         "no TargetToken in otagw's log")
            ok = checks.failed == 0
    finally:
        for x in cases:
            x.sw.stop()
        for px in proxies:
            px.close()
        rec.close()
        if ok:
            shutil.rmtree(w, ignore_errors=True)
        else:
            for x in cases:
                sys.stderr.write("--- %s swupdate log (last run) ---\n%s\n"
                                 % (x.dev, x.sw.text()[-3000:]))
            sys.stderr.write("--- otagw DDI lines ---\n%s\n" % "\n".join(
                ln for ln in gwp.log().splitlines()
                if "/controller/v1/" in ln)[-6000:])
            sys.stderr.write("kept for a look: %s\n" % w)
    checks.done()


main()
