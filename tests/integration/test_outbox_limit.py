#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""test_outbox_limit: outbox_limit holds without an upstream (issue 14,
item 3), with the real daemon.

No upstream_url is set, so nothing ever leaves the outbox.  Version
reports from CoAP checks fill it: once it holds outbox_limit events, each
new one makes the oldest go (no progress event is there to go first), the
depth stays at the limit, and the drops are counted in the store
(`otactl relay status`) and in /metrics.  otactl --state applies the limit
the daemon saved (a job's state events), and a restart with a lower limit
trims the outbox down to it at once.
"""

import json
import os
import socket

from otagw_harness import (COAP_POST, Checks, CoapUdp, Gateway, Pki,
                           curl_request, free_port, gateway_restart)

checks = Checks()
LIMIT = 100
FIRST = 120
DEVICES = 150


def status(gw):
    o = gw.otactl("--json", "relay", "status")
    try:
        return json.loads(o.stdout)
    except ValueError:
        return {}


def metrics(gw, base, token_path, ca):
    with open(token_path) as f:
        tok = f.read().strip()
    r = curl_request(base + "/metrics", "GET", "2",
                     ["Authorization: Bearer " + tok], None, ca,
                     tmpdir=gw.tmp)
    out = {}
    for line in r.body.decode("utf-8", "replace").splitlines():
        if line and not line.startswith("#"):
            k, _, v = line.rpartition(" ")
            try:
                out[k] = float(v)
            except ValueError:
                pass
    return out


def fill(gw):
    with CoapUdp("127.0.0.1", gw.coap_port) as c:
        for i in range(DEVICES):
            r = c.request(COAP_POST, "/ota/d%03d/check" % i,
                          b'{"versions":{"default":"1.0.0"}}', 50)
            checks.eq(r.code if r else None, "2.04",
                      "check of d%03d answered" % i)


def main():
    gw = Gateway(coap=True, coaps=False)
    pki = Pki(os.path.join(gw.tmp, "pki"))
    token_path = os.path.join(gw.tmp, "admin.token")
    with open(token_path, "w") as f:
        f.write(os.urandom(16).hex() + "\n")
    os.chmod(token_path, 0o600)
    port = free_port(socket.SOCK_STREAM)
    base = "https://127.0.0.1:%d" % port
    gw.extra.update({"admin_listen": "127.0.0.1:%d" % port,
                     "admin_token_file": token_path,
                     "tls_cert": pki.server[0], "tls_key": pki.server[1],
                     "outbox_limit": str(FIRST)})
    gw.write_conf()
    csv = os.path.join(gw.tmp, "devices.csv")
    with open(csv, "w") as f:
        for i in range(DEVICES):
            f.write("p,d%03d,,\n" % i)
    gw.otactl("device", "import", csv, check=True)
    with gw:
        fill(gw)
        s = status(gw)
        checks.eq(s.get("depth"), FIRST, "the outbox holds outbox_limit "
                  "events, not one per report")
        checks.eq(s.get("dropped"), DEVICES - FIRST,
                  "the reports beyond the limit are counted as dropped")
        checks.eq(s.get("lastSeq"), DEVICES, "every report had its seq")
        checks.eq(s.get("oldestSeq"), DEVICES - FIRST + 1,
                  "the oldest reports went first")
        m = metrics(gw, base, token_path, pki.ca[0])
        checks.eq(m.get("otagw_outbox_depth"), float(FIRST),
                  "/metrics: depth at the limit")
        checks.eq(m.get("otagw_outbox_dropped_total"),
                  float(DEVICES - FIRST), "/metrics: drops counted")
        checks.eq(m.get("otagw_outbox_dropped_reports_total"),
                  float(DEVICES - FIRST),
                  "/metrics: drops of version reports counted apart")

        # a lower limit trims the outbox at the next start, oldest first
        gw.stop()
        gw.extra["outbox_limit"] = str(LIMIT)
        gw.write_conf()
        gateway_restart(gw)
        s = status(gw)
        checks.eq(s.get("depth"), LIMIT, "a restart with a lower limit "
                  "trims the outbox to it")
        checks.eq(s.get("oldestSeq"), DEVICES - LIMIT + 1,
                  "the trim dropped the oldest events")
        checks.eq(s.get("dropped"), DEVICES - LIMIT, "the trim's drops "
                  "are counted")

        # otactl --state applies the limit the daemon saved: a job's
        # QUEUED state events leave the outbox at the limit
        fw = os.path.join(gw.tmp, "fw.bin")
        with open(fw, "wb") as f:
            f.write(os.urandom(2048))
        fwid = gw.otactl_id("firmware", "add", fw, "--product", "p",
                            "--version", "2.0.0")
        gw.otactl("job", "create", "--firmware", fwid, "--force", "--all",
                  check=True)
        s = status(gw)
        checks.eq(s.get("depth"), LIMIT, "otactl --state keeps the limit")
        checks.eq(s.get("lastSeq"), 2 * DEVICES, "the job wrote its state "
                  "events")
        checks.eq(s.get("dropped"), 2 * DEVICES - LIMIT,
                  "otactl's drops are counted too")
        m = metrics(gw, base, token_path, pki.ca[0])
        checks.eq(m.get("otagw_outbox_dropped_total"),
                  float(2 * DEVICES - LIMIT), "/metrics: every drop")
    return checks.done()


if __name__ == "__main__":
    raise SystemExit(main())
