# SPDX-License-Identifier: BSD-2-Clause
"""test_ddi_api: hawkBit's DDI API on the HTTPS device port (issue 16),
request by request with curl, over HTTP/2 and HTTP/1.1.

- authentication: no token, a wrong token, another device's token and a
  GatewayToken get 401 with an empty body; a client certificate naming
  the device is taken;
- the controller base: "config.polling.sleep" as HH:MM:SS, a configData
  link until the device has attributes, a deploymentBase link once a job
  row is notified, none while the row waits for confirmation;
- deploymentBase: the action id as a string, one chunk (part, version,
  name) with one artifact (the filename given at firmware add, size,
  sha1/md5/sha256 equal to the image's, download links that serve the
  image with ranges and its .MD5SUM);
- feedback: proceeding makes the row UPGRADING with the step of cnt/of,
  closed/success makes it SUCCEEDED (the device's version is the job's),
  feedback on the closed action then answers 410, on an unknown action
  404 with hawkBit's error body, a malformed body 400 with it, a body
  over 64 KiB 413, and none of these change the row;
- a failed action (closed/failure) ends the row FAILED device:-1 with the
  details as its desc; its retry is a new action id;
- a canceled row is linked as cancelAction until the device's feedback
  on it, which stops the link; feedback on the canceled deployment 410;
- every detail a device sends reaches the upstream, in the progress
  event's "details" (the desc keeps 128 characters of them);
- configData: merge, remove and bad attributes (400), shown by otactl
  device show; wrong methods 405 with Allow, unknown resources 404;
  Accept: application/json answers application/json, else hal+json.
"""

import hashlib
import json
import os
import re
import signal
import sys
import tempfile
import time

from otagw_harness import (H2_ACK, H2_HEADERS, H2_RST_STREAM, H2_SETTINGS,
                           Checks, H2Raw, Pki, curl_request, hpack_status,
                           https_gateway, otactl_json, wait_for)
from upstream import NGHTTPX, Recorder

checks = Checks()
DEV = "swu-1"
SECRET = "s3cret-swu-1"


def main():
    if NGHTTPX is None:
        print("SKIP: nghttpx (nghttp2-proxy) not installed")
        return 77
    tmp = tempfile.mkdtemp(prefix="otagw-ddi-api-")
    pki = Pki(os.path.join(tmp, "pki"), devices=(DEV,))
    rec = Recorder(tmp)
    try:
        run(tmp, pki, rec)
    finally:
        rec.close()
    return checks.done()


def held_bodies(gw, pki):
    """Bodies a device streams to the DDI API count against the
    connection's cap on held bytes (128 KiB), as buffered ones do: four
    configData bodies of 60,000 bytes on one HTTP/2 connection, and the
    one that passes the cap is refused, its bytes drained rather than
    kept (before, each stream could keep 64 KiB: 6.4 MB a connection with
    100 streams).  The bodies end once all are sent, so every stream is
    answered: 413 for the refused one, 400 (not JSON) for the others."""
    h = H2Raw(gw.https_port, pki.ca[0])
    h.wait(lambda f: f.type == H2_SETTINGS and not f.flags & H2_ACK)
    sids = (1, 3, 5, 7)
    for sid in sids:
        h.request(sid, "PUT", "/DEFAULT/controller/v1/%s/configData" % DEV,
                  [("authorization", "TargetToken " + SECRET),
                   ("content-type", "application/json")], end=False)
        for _ in range(4):
            h.data(sid, b" " * 15000)
    for sid in sids:
        h.data(sid, b"", end=True)
    status = {}
    deadline = time.monotonic() + 10
    while len(status) < len(sids) and time.monotonic() < deadline:
        f = h.read(0.5)
        if f is not None and f.type == H2_HEADERS:
            status[f.sid] = hpack_status(f.payload)
        elif f is not None and f.type == H2_RST_STREAM:
            status.setdefault(f.sid, "RST")
    h.sock.close()
    got = sorted(status.values(), key=str)
    checks.check(len(status) == 4 and 413 in got and
                 set(got) <= {400, 413},
                 "four 60,000-byte configData bodies on one HTTP/2 "
                 "connection: the ones past 128 KiB refused (%s)" % got)


def run(tmp, pki, rec):
    conf = {"check_interval": "90s", "busy_interval": "2s",
            "wakeup_jitter": "0", "log_level": "debug"}
    conf.update(rec.conf())
    gw = https_gateway(pki, tmp=tmp, extra=conf)
    image = os.urandom(200000)
    img_path = os.path.join(tmp, "lamp-1.1.0.swu")
    with open(img_path, "wb") as f:
        f.write(image)
    base = "%s/DEFAULT/controller/v1/%s" % (gw.https_url, DEV)

    def ddi(path="", method="GET", data=None, token=SECRET, http="2",
            accept="application/json", headers=(), **kw):
        h = list(headers)
        if token is not None:
            h.append("Authorization: TargetToken " + token)
        if accept:
            h.append("Accept: " + accept)
        if data is not None:
            h.append("Content-Type: application/json")
            if not isinstance(data, bytes):
                data = json.dumps(data).encode()
        return curl_request(base + path, method, http, h, data, pki.ca[0],
                            tmpdir=tmp, **kw)

    def body(r):
        return json.loads(r.body) if r.body else None

    def row(job):
        for it in otactl_json(gw, "job", "devices", job)["items"]:
            if it["device"] == DEV:
                return it
        return None

    def feedback(action, execution, finished, cnt=None, of=None,
                 details=("x",), kind="deploymentBase", http="2"):
        res = {"finished": finished}
        if cnt is not None:
            res["progress"] = {"cnt": cnt, "of": of}
        return ddi("/%s/%s/feedback" % (kind, action), "POST",
                   {"id": int(action), "time": "20261207T120000",
                    "status": {"result": res, "execution": execution,
                               "details": list(details)}}, http=http)

    with gw:
        gw.otactl("device", "put", DEV, "--product", "lamp", "--secret",
                  SECRET, "--version", "1.0.0", check=True)
        gw.otactl("device", "put", "other", "--product", "lamp",
                  "--secret", "other-secret", check=True)
        # 1.0.0, the devices' version, and a patch from it to 1.1.0: a
        # hawkBit device takes the full image only, so it is never
        # offered the patch (nor its fallback rules)
        old_path = os.path.join(tmp, "lamp-1.0.0.swu")
        with open(old_path, "wb") as f:
            f.write(image[:150000] + os.urandom(50000))
        fw0 = gw.otactl_id("firmware", "add", old_path, "--product",
                           "lamp", "--version", "1.0.0")
        fw = gw.otactl_id("firmware", "add", img_path, "--product", "lamp",
                          "--version", "1.1.0")
        patch_path = os.path.join(tmp, "p.bsdiff")
        gw.otactl("delta", "make", old_path, img_path, patch_path,
                  check=True)
        gw.otactl("firmware", "add", patch_path, "--delta-from", fw0,
                  "--format", "bsdiff4", "--version", "1.1.0", check=True)

        # authentication
        for what, kw in (("no token", {"token": None}),
                         ("a wrong token", {"token": "nope"}),
                         ("another device's token",
                          {"token": "other-secret"}),
                         ("a gateway token",
                          {"token": None, "headers":
                           ["Authorization: GatewayToken " + SECRET]})):
            r = ddi(**kw)
            checks.eq((r.status, r.body), (401, b""), what + ": 401 empty")
        r = curl_request(base, "GET", "2", ["Accept: application/json"],
                         None, pki.ca[0], cert=pki.client[DEV], tmpdir=tmp)
        checks.eq(r.status, 200, "a client certificate naming the device")

        # the base, nothing pending
        for http in ("2", "1.1"):
            r = ddi(http=http)
            checks.eq(r.status, 200, "base over HTTP/%s" % http)
            checks.eq(r.h("content-type"), "application/json",
                      "Accept: application/json gets application/json")
            b = body(r)
            checks.eq(b["config"]["polling"]["sleep"], "00:01:30",
                      "sleep is check_interval as HH:MM:SS")
            checks.eq(sorted(b["_links"]), ["configData"],
                      "only configData linked while nothing is pending")
            checks.eq(b["_links"]["configData"]["href"],
                      base + "/configData", "absolute configData href")
        r = ddi(accept=None)
        checks.eq(r.h("content-type"), "application/hal+json",
                  "no Accept: application/hal+json")

        # configData
        r = ddi("/configData", "PUT", {"mode": "merge", "data":
                                       {"hwRevision": "2", "VIN": "ab"}})
        checks.eq((r.status, r.body), (200, b""), "configData: 200 empty")
        r = ddi("/configData", "PUT", {"data": {"VIN": ""}, "mode": "remove"})
        checks.eq(r.status, 200, "configData remove")
        for bad in ({"data": {}}, {"data": {"k": 5}}, {"mode": "x",
                    "data": {"k": "v"}}, {"data": {"k" * 129: "v"}},
                    {"data": {"\u001b]0;t\u0007": "v"}},
                    {"data": {"k": "\u001b[2J"}}, {"data": {"k": "a\u007f"}}):
            r = ddi("/configData", "PUT", bad)
            checks.eq(r.status, 400, "configData %r refused" % (bad,))
            checks.check(body(r) and "errorCode" in body(r),
                         "hawkBit's error body for %r" % (bad,))
        held_bodies(gw, pki)
        dev = otactl_json(gw, "device", "show", DEV)
        checks.eq(dev.get("attributes"), {"hwRevision": "2"},
                  "device show lists the attributes")
        checks.eq(sorted(body(ddi())["_links"]), [],
                  "no configData link once attributes are held")

        # a job: the row is notified by the base poll
        job = gw.otactl_id("job", "create", "--firmware", fw, "--verify", "--devices",
                           DEV)
        b = body(ddi())
        checks.check("deploymentBase" in b["_links"],
                     "deploymentBase linked once a job exists: %r" % b)
        href = b["_links"]["deploymentBase"]["href"]
        m = re.match(re.escape(base) + r"/deploymentBase/(\d+)$", href)
        checks.check(m is not None, "deploymentBase href %s" % href)
        action = m.group(1) if m else "1"
        checks.eq(row(job)["state"], "NOTIFIED", "the poll notified the row")
        checks.eq(row(job).get("patch"), None,
                  "no patch for a hawkBit device, though one exists")
        checks.eq(b["config"]["polling"]["sleep"], "00:00:02",
                  "busy: sleep is busy_interval")

        r = ddi("/deploymentBase/" + action)
        d = body(r)
        checks.eq(r.status, 200, "deploymentBase 200")
        checks.eq(d["id"], action, "id is the action, as a string")
        dep = d["deployment"]
        checks.eq((dep["download"], dep["update"]), ("attempt", "attempt"),
                  "download/update attempt for a job without --force")
        chunk = dep["chunks"][0]
        checks.eq((chunk["part"], chunk["version"], len(dep["chunks"])),
                  ("default", "1.1.0", 1), "one chunk: module, version")
        art = chunk["artifacts"][0]
        checks.eq(art["filename"], "lamp-1.1.0.swu", "the file's name")
        checks.eq(art["size"], len(image), "artifact size")
        checks.eq(art["hashes"], {
            "sha1": hashlib.sha1(image).hexdigest(),
            "md5": hashlib.md5(image).hexdigest(),
            "sha256": hashlib.sha256(image).hexdigest()}, "hashes")
        dl = art["_links"]["download"]["href"]
        checks.eq(art["_links"]["download-http"]["href"], dl,
                  "download-http = download")
        checks.eq(dl, "%s/softwaremodules/%s/artifacts/lamp-1.1.0.swu" %
                  (base, fw), "download href")
        for http in ("2", "1.1"):
            r = curl_request(dl, "GET", http, ["Authorization: TargetToken "
                             + SECRET, "Range: bytes=1000-"], None,
                             pki.ca[0], tmpdir=tmp)
            checks.eq((r.status, r.body), (206, image[1000:]),
                      "artifact range over HTTP/%s" % http)
        r = curl_request(dl, "HEAD", "2", ["Authorization: TargetToken " +
                         SECRET], None, pki.ca[0], tmpdir=tmp,
                         extra=["-I"])
        checks.eq((r.status, r.h("content-length")), (200, str(len(image))),
                  "HEAD of the artifact")
        r = curl_request(dl, "GET", "2", ["Authorization: TargetToken x"],
                         None, pki.ca[0], tmpdir=tmp)
        checks.eq(r.status, 401, "artifact with a wrong token: 401")
        r = curl_request(dl.replace("lamp-1.1.0.swu", "other.swu"), "GET",
                         "2", ["Authorization: TargetToken " + SECRET],
                         None, pki.ca[0], tmpdir=tmp)
        checks.eq(r.status, 404, "artifact under another name: 404")
        r = curl_request(art["_links"]["md5sum"]["href"], "GET", "1.1",
                         ["Authorization: TargetToken " + SECRET], None,
                         pki.ca[0], tmpdir=tmp)
        checks.eq(r.body.decode(), "%s  lamp-1.1.0.swu\n" %
                  hashlib.md5(image).hexdigest(), ".MD5SUM")

        # bad feedback changes nothing
        r = ddi("/deploymentBase/%s/feedback" % action, "POST", b"{nope")
        checks.eq(r.status, 400, "malformed feedback: 400")
        checks.eq(body(r)["errorCode"],
                  "hawkbit.server.error.rest.body.notReadable",
                  "hawkBit's notReadable error")
        r = ddi("/deploymentBase/%s/feedback" % action, "POST",
                {"status": {"execution": "closed", "result":
                            {"finished": "maybe"}}})
        checks.eq(r.status, 400, "unknown finished: 400")
        r = ddi("/deploymentBase/%s/feedback" % action, "POST",
                {"status": {"execution": "proceeding", "result":
                            {"finished": "none"}, "details":
                            ["x" * 70000]}})
        checks.eq(r.status, 413, "feedback over 64 KiB: 413")
        r = feedback("12345", "closed", "success")
        checks.eq(r.status, 404, "feedback on an unknown action: 404")
        checks.check(body(r) and "errorCode" in body(r),
                     "unknown action: hawkBit's error body")
        checks.eq(row(job)["state"], "NOTIFIED", "row unchanged")

        # progress, with a log as long as SWUpdate sends, over HTTP/1.1
        log = ["line %d of the installer's log" % i for i in range(48)]
        r = feedback(action, "proceeding", "none", 1, 4, log, http="1.1")
        checks.eq((r.status, r.body), (200, b""), "proceeding: 200 empty")
        rw = row(job)
        checks.eq((rw["state"], rw["step"]), ("UPGRADING", 25),
                  "proceeding 1 of 4: UPGRADING 25")
        checks.check(rw["desc"].startswith("line 0 of") and
                     len(rw["desc"]) <= 128, "desc from the details")

        def relayed():
            for e in rec.events():
                if e.get("type") == "progress" and e.get("details") == log:
                    return e
            return None
        wait_for(relayed, 15, "the progress event upstream")
        e = relayed() or {}
        checks.eq((e.get("device"), e.get("job"), e.get("step")),
                  (DEV, job, 25), "upstream: all 48 details, the step")
        checks.check("deploymentBase" in body(ddi())["_links"],
                     "still linked while UPGRADING")
        r = feedback(action, "closed", "success", details=["Update "
                                                            "Installed."])
        checks.eq(r.status, 200, "closed/success: 200")
        checks.eq(row(job)["state"], "SUCCEEDED", "closed/success")
        dev = otactl_json(gw, "device", "show", DEV)
        checks.eq(dev["versions"], {"default": "1.1.0"},
                  "the device runs the job's version")
        r = feedback(action, "closed", "success")
        checks.eq((r.status, r.body), (410, b""), "closed action: 410")
        checks.eq(sorted(body(ddi())["_links"]), [],
                  "nothing linked after success")

        # a failure, and its retry as a new action
        gw.otactl("device", "put", DEV, "--product", "lamp", "--version",
                  "1.0.0", check=True)
        job2 = gw.otactl_id("job", "create", "--firmware", fw, "--verify", "--devices",
                            DEV)
        a2 = body(ddi())["_links"]["deploymentBase"]["href"].rsplit("/")[-1]
        checks.check(a2 != action, "a new job, a new action")
        r = feedback(a2, "closed", "failure", 0, 1,
                     ["ERROR : HASH mismatch : aa <--> bb",
                      "No suitable .swu image found"])
        checks.eq(r.status, 200, "closed/failure: 200")
        rw = row(job2)
        checks.eq((rw["state"], rw["reason"]), ("FAILED", "device:-1"),
                  "closed/failure: FAILED device:-1")
        checks.eq(rw["desc"], "ERROR : HASH mismatch : aa <--> bb | No "
                  "suitable .swu image found", "the details kept")
        wait_for(lambda: any(e.get("type") == "state" and
                             e.get("state") == "FAILED" and
                             e.get("job") == job2
                             for e in rec.events()), 15,
                 "the FAILED state upstream")
        checks.check(any(e.get("details") == [
            "ERROR : HASH mismatch : aa <--> bb",
            "No suitable .swu image found"] and e.get("step") == -1
            for e in rec.events()), "upstream: the failure's details")
        checks.check("deploymentBase" not in body(ddi())["_links"],
                     "no link once the row failed")
        checks.eq(feedback(a2, "proceeding", "none").status, 410,
                  "feedback on the failed attempt: 410")
        gw.otactl("job", "retry", job2, DEV, check=True)
        links = body(ddi())["_links"]
        a3 = links.get("deploymentBase", {}).get("href", "/").rsplit("/")[-1]
        checks.check(a3 not in ("", a2),
                     "the retry is a new action (%s, was %s)" % (a3, a2))
        checks.eq(feedback(a2, "proceeding", "none").status, 410,
                  "feedback on the first attempt while the retry runs: 410")

        # cancel: linked until acknowledged
        gw.otactl("job", "cancel", job2, DEV, check=True)
        links = body(ddi())["_links"]
        checks.eq(sorted(links), ["cancelAction"], "cancelAction linked")
        checks.eq(links["cancelAction"]["href"],
                  "%s/cancelAction/%s" % (base, a3), "cancelAction href")
        r = ddi("/cancelAction/" + str(a3))
        checks.eq(body(r), {"id": a3, "cancelAction": {"stopId": a3}},
                  "cancelAction body")
        r = ddi("/deploymentBase/" + str(a3))
        checks.eq((r.status, r.body), (404, b""),
                  "canceled deployment: 404 empty")
        checks.eq(feedback(a3, "proceeding", "none").status, 410,
                  "feedback on the canceled deployment: 410")
        r = feedback(a3, "closed", "success", kind="cancelAction",
                     details=["cancellation acknowledged."])
        checks.eq((r.status, r.body), (200, b""), "cancel feedback: 200")
        checks.eq(sorted(body(ddi())["_links"]), [],
                  "the cancel is not linked once acknowledged")
        checks.eq(row(job2)["state"], "CANCELED", "the row stays CANCELED")

        # a row canceled while it waited for its retry: the device has
        # no action to stop, so no cancelAction
        gw.otactl("device", "put", DEV, "--product", "lamp", "--version",
                  "1.0.0", check=True)
        job3 = gw.otactl_id("job", "create", "--firmware", fw, "--verify",
                            "--devices", DEV)
        a4 = body(ddi())["_links"]["deploymentBase"]["href"].rsplit("/")[-1]
        checks.eq(feedback(a4, "closed", "failure").status, 200,
                  "job 3 fails")
        gw.otactl("job", "retry", job3, DEV, check=True)
        gw.otactl("job", "cancel", job3, DEV, check=True)
        checks.eq(sorted(body(ddi())["_links"]), [],
                  "no cancelAction for a row canceled between attempts")
        checks.eq(ddi("/cancelAction/" + a4).status, 404,
                  "its ended action is no cancel to fetch")

        # methods and resources
        r = ddi("/configData", "GET")
        checks.eq((r.status, r.h("allow")), (405, "PUT"), "GET configData")
        r = ddi("", "POST", {})
        checks.eq(r.status, 405, "POST on the base")
        for path in ("/installedBase/1", "/nothing", "/deploymentBase/x",
                     "/deploymentBase/0"):
            checks.eq(ddi(path).status, 404, "%s: 404" % path)
        r = curl_request("%s/other/controller/v1/%s" % (gw.https_url, DEV),
                         "GET", "2", ["Authorization: TargetToken " + SECRET],
                         None, pki.ca[0], tmpdir=tmp)
        checks.eq(r.status, 404, "another tenant: 404")
        # https_public_url, once set (SIGHUP), makes the links
        gw.extra["https_public_url"] = "https://localhost:%d" % gw.https_port
        gw.write_conf()
        gw.proc.send_signal(signal.SIGHUP)
        pub = ("https://localhost:%d/DEFAULT/controller/v1/fresh/configData"
               % gw.https_port)
        gw.otactl("device", "put", "fresh", "--product", "lamp",
                  "--secret", "fresh-secret", check=True)
        def fresh_link():
            r = curl_request(base.replace(DEV, "fresh"), "GET", "2",
                             ["Authorization: TargetToken fresh-secret"],
                             None, pki.ca[0], tmpdir=tmp)
            links = body(r)["_links"] if r.status == 200 else {}
            return links.get("configData", {}).get("href") == pub
        try:
            wait_for(fresh_link, 10, "links from https_public_url")
        except TimeoutError:
            pass
        checks.check(fresh_link(), "links follow https_public_url "
                     "(set by SIGHUP), not the Host")

        checks.check("https: ddi h1 POST" in gw.log(),
                     "DDI requests are logged at debug level")
        checks.check(SECRET not in gw.log(), "the token is never logged")


if __name__ == "__main__":
    sys.exit(main())
