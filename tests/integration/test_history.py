#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""test_history: devices' upgrade histories and the fleet's statistics.

The real daemon with coaps and the admin API on free ports; devices are
coap-client-openssl over DTLS with their own PSKs; the operator is
otactl, on the state directory and over the admin API, and curl:

  - an upgrade over CoAP leaves one SUCCEEDED entry in the device's
    history, from the version the device was on at its notice to the
    target; a failure the device reports, then a retry that succeeds,
    leave both attempts (the failure with its reason and description),
    newest first; device show ends with them; pages (--limit, --after,
    "next"); the admin API's GET /api/v1/devices/{id}/history;
  - an operator's cancel is an entry too, and device rm takes the
    device's history with it;
  - product versions: devices per reported version, the most common
    first, and those that never reported one; over the admin API too;
  - firmware statistics count devices: a device in two jobs of the same
    firmware (canceled in the first, taken again by the second) counts
    once, in the state of its row in the newer job, in firmware show and
    firmware list, text and JSON ("devices", and "counts" alike);
  - the bound, history_max_per_device, applies to otactl on the state
    directory too (otagw records it in the store), and a SIGHUP that
    lowers it takes effect at the device's next entry;
  - otactl --url prints exactly what otactl --state prints for every new
    command, text and JSON.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

from otagw_harness import (OTACTL, Checks, Gateway, Pki, curl_request,
                           free_port, otactl_items, otactl_json, wait_for)

checks = Checks()

for tool in ("curl", "openssl"):
    if shutil.which(tool) is None:
        print("%s not installed: skipping" % tool)
        sys.exit(77)

tmp = tempfile.mkdtemp(prefix="otagw-history-")
pki = Pki(os.path.join(tmp, "pki"))
token = os.urandom(24).hex()
token_path = os.path.join(tmp, "admin.token")
with open(token_path, "w") as f:
    f.write(token + "\n")
os.chmod(token_path, 0o600)
admin_port = free_port(socket.SOCK_STREAM)
base = "https://127.0.0.1:%d" % admin_port
settings = {"admin_listen": "127.0.0.1:%d" % admin_port,
            "admin_token_file": token_path,
            "tls_cert": pki.server[0], "tls_key": pki.server[1],
            "log_level": "info", "history_max_per_device": "3"}


def psk_of(dev):
    return "key-%s-0123456789" % dev


class Dev:
    """A device over coaps with its own PSK (coap-client-openssl)."""

    def __init__(self, gw, name):
        self.gw = gw
        self.name = name

    def post(self, what, body):
        return self.gw.coap("post", "/ota/%s/%s" % (self.name, what),
                            payload=json.dumps(body),
                            dtls=(self.name, psk_of(self.name)),
                            content_format=50)

    def check(self, version):
        return self.post("check", {"versions": {"default": version}})

    def progress(self, job, step, version=None, desc=None, what=""):
        body = {"job": job, "step": step}
        if version is not None:
            body["version"] = version
        if desc is not None:
            body["desc"] = desc
        r = self.post("progress", body)
        checks.eq(r.code, "2.04", "%s %s: progress %d" %
                  (what, self.name, step))
        return r


def notice(dev, version, job, what):
    """Checks in until the notice of job comes back."""
    got = {}

    def offered():
        r = dev.check(version)
        if r.code != "2.05":
            return False
        try:
            got.update(json.loads(r.data))
        except ValueError:
            return False
        return got.get("job") == job
    wait_for(offered, 15, "%s: the notice of %s" % (what, job))
    return got


def otactl_url(*args):
    return subprocess.run([OTACTL, "--url", base, "--token-file",
                           token_path, "--ca", pki.ca[0]] +
                          [str(a) for a in args], capture_output=True,
                          timeout=120)


def same_both(gw, *args):
    """otactl --state and --url: the same bytes, exit status, errors."""
    s = subprocess.run([OTACTL, "--state", gw.state] + [str(a) for a in
                                                        args],
                       capture_output=True, timeout=60)
    u = otactl_url(*args)
    checks.check(s.stdout == u.stdout and s.returncode == u.returncode and
                 s.stderr == u.stderr,
                 "otactl %s: --url == --state%s" %
                 (" ".join(map(str, args)), "" if s.stdout == u.stdout
                  else " (%r vs %r)" % (s.stdout[:300], u.stdout[:300])))
    return s


def api_get(path):
    r = curl_request(base + path, headers=["Authorization: Bearer " +
                                           token], cacert=pki.ca[0],
                     tmpdir=tmp)
    try:
        return r.status, json.loads(r.body or b"null")
    except ValueError:
        return r.status, None


def history(gw, dev, *extra):
    return otactl_items(gw, "device", "history", dev, *extra) or []


def brief(items):
    return [(h["seq"], h["job"], h["state"], h["reason"], h["from"],
             h["to"], h["retries"]) for h in items]


def test_upgrades(gw, fw):
    h1, h2 = Dev(gw, "h1"), Dev(gw, "h2")
    ja = gw.otactl_id("job", "create", "--firmware", fw, "--force",
                      "--devices", "h1,h2,h3", "--retry", "1",
                      "--retry-interval", "0")

    # h1: a clean upgrade
    notice(h1, "1.0.0", ja, "h1")
    h1.progress(ja, 10, desc="downloading", what="h1")
    h1.progress(ja, 100, version="2.0.0", what="h1")
    got = history(gw, "h1")
    checks.eq(brief(got), [(1, ja, "SUCCEEDED", None, "1.0.0", "2.0.0", 0)],
              "h1: one SUCCEEDED entry from 1.0.0 to 2.0.0")
    if got:
        e = got[0]
        checks.eq((e["device"], e["firmware"], e["module"]),
                  ("h1", fw, "default"), "h1 entry: device, firmware")
        checks.check(e["notified"] and e["started"] and e["finished"] and
                     e["notified"] <= e["started"] <= e["finished"],
                     "h1 entry: notified <= started <= finished")

    # h2: fails (download), is retried, then succeeds
    notice(h2, "1.0.0", ja, "h2")
    h2.progress(ja, 20, what="h2")
    h2.progress(ja, -2, desc="http 404", what="h2")
    row = [r for r in otactl_items(gw, "job", "devices", ja)
           if r["device"] == "h2"]
    checks.eq(row and row[0]["state"], "RETRY_WAIT", "h2: waits to retry")
    got = history(gw, "h2")
    checks.eq(brief(got), [(1, ja, "FAILED", "device:-2", "1.0.0", "2.0.0",
                            0)],
              "h2: the failed attempt is in the history before the retry")
    checks.eq(got and got[0]["desc"], "http 404", "h2: its description")
    notice(h2, "1.0.0", ja, "h2 retry")
    h2.progress(ja, 100, version="2.0.0", what="h2 retry")
    got = history(gw, "h2")
    checks.eq(brief(got),
              [(2, ja, "SUCCEEDED", None, "1.0.0", "2.0.0", 1),
               (1, ja, "FAILED", "device:-2", "1.0.0", "2.0.0", 0)],
              "h2: the retry's success and the failure, newest first")

    # device show ends with the history
    p = gw.otactl("device", "show", "h2")
    lines = p.stdout.splitlines()
    checks.check("history:       2 upgrade attempts, newest first" in lines,
                 "device show h2: the history line (%r)" % lines[-4:])
    checks.check(lines[-3].startswith("SEQ ") and
                 lines[-2].startswith("2 ") and "SUCCEEDED" in lines[-2] and
                 lines[-1].startswith("1 ") and "device:-2" in lines[-1] and
                 lines[-1].rstrip().endswith("http 404"),
                 "device show h2: both attempts in a table")
    d = otactl_json(gw, "device", "show", "h2")
    checks.eq([h["seq"] for h in d.get("history", [])], [2, 1],
              "device show --json: history newest first")

    # pages
    d = otactl_json(gw, "device", "history", "h2", "--limit", "1")
    checks.eq(([h["seq"] for h in d["items"]], d["next"]), ([2], "2"),
              "device history --limit 1: the newest, next 2")
    d = otactl_json(gw, "device", "history", "h2", "--after", "2")
    checks.eq(([h["seq"] for h in d["items"]], d["next"]), ([1], None),
              "device history --after 2: the older one, next null")
    p = gw.otactl("device", "history", "h2", "--limit", "1")
    checks.check(p.stdout.splitlines()[-1] == "(more: --after 2)",
                 "device history --limit 1: says where to go on")

    # the admin API
    st, body = api_get("/api/v1/devices/h2/history")
    checks.eq((st, [h["seq"] for h in (body or {}).get("items", [])],
               (body or {}).get("next")), (200, [2, 1], None),
              "GET /api/v1/devices/h2/history")
    st, body = api_get("/api/v1/devices/h2/history?limit=1")
    checks.eq((st, (body or {}).get("next")), (200, "2"),
              "GET .../history?limit=1: next")
    st, body = api_get("/api/v1/devices/nobody/history")
    checks.eq((st, (body or {}).get("error")), (404, "not_found"),
              "GET .../history of an unknown device: 404")
    st, body = api_get("/api/v1/devices/h2/history?after=zz")
    checks.eq((st, (body or {}).get("error")), (400, "bad_request"),
              "GET .../history?after=zz: 400")
    return ja


def test_cancel_and_counts(gw, fw, ja):
    h3 = Dev(gw, "h3")
    # h3 is canceled in the first job, then taken again by a second one
    gw.otactl("job", "cancel", ja, "h3", check=True)
    checks.eq(brief(history(gw, "h3")),
              [(1, ja, "CANCELED", "canceled", "1.1.0", "2.0.0", 0)],
              "h3: the cancel is an entry, from the version it runs")
    jb = gw.otactl_id("job", "create", "--firmware", fw, "--force",
                      "--devices", "h3")

    # rows: ja h1 SUCCEEDED, h2 SUCCEEDED, h3 CANCELED; jb h3 QUEUED
    f = otactl_json(gw, "firmware", "show", fw)
    want = {"SUCCEEDED": 2, "QUEUED": 1, "CANCELED": 0, "total": 3}
    checks.eq({k: f["devices"].get(k) for k in want}, want,
              "firmware show --json: 3 devices, h3 once (QUEUED in jb)")
    checks.eq(f["counts"], f["devices"], "firmware show --json: counts "
              "are the devices too")
    p = gw.otactl("firmware", "show", fw)
    checks.check("devices:       3 (QUEUED 1, SUCCEEDED 2)" in
                 p.stdout.splitlines(),
                 "firmware show: devices: 3 (%r)" % p.stdout[-80:])
    lst = otactl_items(gw, "firmware", "list")
    checks.eq([x["devices"]["total"] for x in lst if x["id"] == fw], [3],
              "firmware list --json: 3 devices")
    st, body = api_get("/api/v1/firmware/" + fw)
    checks.eq((st, (body or {}).get("devices", {}).get("total")), (200, 3),
              "GET /api/v1/firmware/{id}: devices.total 3")

    # h3 upgrades in the second job
    notice(h3, "1.1.0", jb, "h3")
    h3.progress(jb, 100, version="2.0.0", what="h3")
    checks.eq(brief(history(gw, "h3")),
              [(2, jb, "SUCCEEDED", None, "1.1.0", "2.0.0", 0),
               (1, ja, "CANCELED", "canceled", "1.1.0", "2.0.0", 0)],
              "h3: a success in the second job after the cancel")
    f = otactl_json(gw, "firmware", "show", fw)
    checks.eq((f["devices"]["SUCCEEDED"], f["devices"]["total"]), (3, 3),
              "firmware show: 3 devices, all SUCCEEDED")
    return jb


def test_versions(gw):
    d = otactl_json(gw, "product", "versions", "lamp")
    checks.eq(d, {"product": "lamp", "module": "default",
                  "versions": [{"version": "2.0.0", "devices": 3},
                               {"version": "1.0.0", "devices": 1}],
                  "unreported": 1, "total": 5},
              "product versions lamp --json")
    p = gw.otactl("product", "versions", "lamp")
    checks.eq(p.stdout.splitlines(),
              ["product lamp, module default: 5 devices",
               "VERSION         DEVICES  SHARE",
               "2.0.0           3        60.0%",
               "1.0.0           1        20.0%",
               "(not reported)  1        20.0%"],
              "product versions lamp: the table")
    d = otactl_json(gw, "product", "versions", "lamp", "--module", "wifi")
    checks.eq((d["versions"], d["unreported"], d["total"]),
              ([{"version": "7", "devices": 1}], 4, 5),
              "product versions --module wifi")
    p = gw.otactl("product", "versions", "nothing")
    checks.eq((p.returncode, p.stdout), (0, "product nothing has no "
                                         "devices\n"),
              "product versions of a product without devices")
    p = gw.otactl("product", "versions", "bad/product")
    checks.eq(p.returncode, 1, "product versions of a bad name: exit 1")
    st, body = api_get("/api/v1/products/lamp/versions?module=default")
    checks.eq((st, (body or {}).get("total")), (200, 5),
              "GET /api/v1/products/lamp/versions")


def test_bound_and_rm(gw, fw):
    # otactl on the state directory trims to the daemon's bound (3); the
    # jobs end with their one row, which the daemon's tick notes a moment
    # later: --override does not wait for it
    for i in range(4):
        j = gw.otactl_id("job", "create", "--firmware", fw, "--force",
                         "--override", "--devices", "h5")
        gw.otactl("job", "cancel", j, "h5", check=True)
    checks.eq([h["seq"] for h in history(gw, "h5")], [4, 3, 2],
              "h5: 4 cancels, the last 3 kept (history_max_per_device 3)")
    # a lower bound by SIGHUP: at the next entry
    gw.extra["history_max_per_device"] = "2"
    gw.write_conf()
    gw.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: b"keep their last 2 upgrade history" in
             gw.log_bytes(), 10, "the new bound recorded")
    checks.eq([h["seq"] for h in history(gw, "h5")], [4, 3, 2],
              "h5: a lower bound trims nothing by itself")
    j = gw.otactl_id("job", "create", "--firmware", fw, "--force",
                     "--override", "--devices", "h5")
    gw.otactl("job", "cancel", j, "h5", check=True)
    checks.eq([h["seq"] for h in history(gw, "h5")], [5, 4],
              "h5: the next entry trims to the new bound")

    # device rm takes the history with it
    gw.otactl("device", "rm", "h5", check=True)
    p = gw.otactl("device", "history", "h5")
    checks.eq((p.returncode, p.stderr.strip()), (1, "otactl: no device h5"),
              "device history of a removed device: refused")
    gw.otactl("device", "put", "h5", "--product", "lamp", "--version",
              "1.0.0", check=True)
    p = gw.otactl("device", "history", "h5")
    checks.eq(p.stdout, "no upgrade history for device h5\n",
              "a device provisioned again starts without a history")
    d = otactl_json(gw, "device", "history", "h5")
    checks.eq(d, {"items": [], "next": None}, "... and --json: empty list")


def test_both(gw, fw):
    for c in (("device", "show", "h2"), ("device", "show", "h4"),
              ("device", "history", "h2"),
              ("device", "history", "h2", "--limit", "1"),
              ("device", "history", "h2", "--after", "2"),
              ("device", "history", "h3", "--limit", "5"),
              ("device", "history", "nobody"),
              ("device", "history", "h2", "--after", "x"),
              ("product", "versions", "lamp"),
              ("product", "versions", "lamp", "--module", "wifi"),
              ("product", "versions", "nothing"),
              ("product", "versions", "bad/p"),
              ("firmware", "show", fw), ("firmware", "list")):
        for j in ((), ("--json",)):
            same_both(gw, *(j + c))


def main():
    with Gateway(coap=False, coaps=True, extra=settings, tmp=tmp) as gw:
        for name, v in (("h1", "1.0.0"), ("h2", "1.0.0"), ("h3", "1.1.0"),
                        ("h4", None), ("h5", "1.0.0")):
            args = ["device", "put", name, "--product", "lamp", "--psk",
                    psk_of(name).encode().hex()]
            if v:
                args += ["--version", v]
            gw.otactl(*args, check=True)
        gw.otactl("device", "put", "h4", "--product", "lamp", "--version",
                  "wifi=7", check=True)
        gw.otactl("device", "put", "o1", "--product", "other", "--version",
                  "1.0.0", check=True)
        path = os.path.join(gw.tmp, "fw.bin")
        with open(path, "wb") as f:
            f.write(os.urandom(3000))
        fw = gw.otactl_id("firmware", "add", path, "--product", "lamp",
                          "--version", "2.0.0")
        ja = test_upgrades(gw, fw)
        test_cancel_and_counts(gw, fw, ja)
        test_versions(gw)
        test_both(gw, fw)
        test_bound_and_rm(gw, fw)
        checks.check(gw.alive(), "daemon still running")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
    checks.done()
