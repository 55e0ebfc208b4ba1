# SPDX-License-Identifier: BSD-2-Clause
"""test_idle_conns: keep-alive HTTPS connections that go idle give their
buffers back, and still serve their next request (issue 14: an operator
with tens of thousands of devices on one box).

A device that keeps its connection open between check-ins holds it idle
for minutes.  The daemon gives back what such a connection does not need
while idle (the output queue, the record stage, the TLS write buffer,
HTTP/1.1's input buffer) at the first sweep after a second of silence.

- 300 HTTP/1.1 connections each send one check (a notice, 200) and go
  quiet: the daemon's resident memory grows by less than 48 KiB per
  connection (before the buffers were given back: about 90 KiB).
- after that, every one of them sends its next check on the same
  connection and gets the same notice; 20 of them send two checks in one
  write (pipelined) and get both answers in order.
- HTTP/2: 20 connections each make a check on stream 1, go quiet for
  2.5 s, then check on stream 3 and download a 40 KiB range on stream 5;
  every answer is complete and the bytes are the image's.
- out of descriptors: a second daemon started with a limit of 64 open
  files says so at the start; 150 TCP connections exhaust its
  descriptors, and it neither spins nor floods its log (at most 6
  "cannot accept" lines in 3 s, where it wrote one per wake-up, hundreds
  of thousands, before); once they close, a device's check is answered
  and /metrics counts the listener's pauses.
"""

import json
import os
import socket
import ssl
import sys
import tempfile
import time

from otagw_harness import (H2_DATA, H2_END_STREAM, H2_GOAWAY, H2_HEADERS,
                           H2_RST_STREAM, AdminApi, Checks, H2Raw,
                           Http1Reader, Pki, check_request, hpack_status,
                           https_gateway,
                           metrics_scrape, rss_kib, sanitized, wait_for)

checks = Checks()

N_H1 = 300
N_PIPE = 20
N_H2 = 20
MAX_KIB = 48
IDLE_S = 2.5        # past the one-second idle mark and a sweep


def notice_of(body):
    """What a notice names (its download URL is signed anew each time)."""
    try:
        n = json.loads(body)
    except ValueError:
        return None
    return (n.get("firmware"), n.get("version"), n.get("size"),
            n.get("sha256"))


def h2_exchange(h, sid, method, path, fields, body=None):
    """One request on stream sid: (status, body bytes, error frame)."""
    h.request(sid, method, path, fields, end=body is None)
    if body is not None:
        h.data(sid, body, end=True)
    status, data = None, b""
    while True:
        f = h.read(10)
        if f is None:
            return status, data, "no frame"
        if f.type in (H2_GOAWAY, H2_RST_STREAM) and f.sid in (0, sid):
            return status, data, repr(f)
        if f.sid != sid:
            continue
        if f.type == H2_HEADERS:
            status = hpack_status(f.payload)
        elif f.type == H2_DATA:
            data += f.payload
        if f.flags & H2_END_STREAM:
            return status, data, None


def main():
    tmp = tempfile.mkdtemp(prefix="otagw-idle-")
    pki = Pki(os.path.join(tmp, "pki"))
    os.makedirs(os.path.join(tmp, "gw"))
    gw = https_gateway(pki, client_ca=False, tmp=os.path.join(tmp, "gw"),
                       extra={"max_connections_per_source": "0",
                              "workers": "1"})
    with gw:
        secret = "s-" + os.urandom(8).hex()
        gw.otactl("device", "put", "d1", "--product", "p", "--secret",
                  secret, "--version", "1.0.0", check=True)
        img = os.urandom(200 * 1024 + 33)
        fw = gw.add_firmware(img)
        gw.otactl_id("job", "create", "--firmware", fw, "--devices", "d1",
                     "--force")
        req = check_request("d1", secret)
        ctx = ssl.create_default_context(cafile=pki.ca[0])
        ctx.set_alpn_protocols(["http/1.1"])

        # one connection first: the daemon's first-use allocations
        warm = ctx.wrap_socket(socket.create_connection(
            ("127.0.0.1", gw.https_port), timeout=10),
            server_hostname="localhost")
        warm.sendall(req)
        status, warm_body = Http1Reader(warm).answer()
        checks.eq(status, 200, "warm-up check answered with a notice")
        first = json.loads(warm_body)
        checks.check(first.get("firmware") == fw, "the notice names %s "
                     "(%r)" % (fw, first.get("firmware")))
        warm.close()
        time.sleep(IDLE_S)
        r0 = rss_kib(gw.proc.pid)

        conns = []
        for _ in range(N_H1):
            s = ctx.wrap_socket(socket.create_connection(
                ("127.0.0.1", gw.https_port), timeout=10),
                server_hostname="localhost")
            s.sendall(req)
            rd = Http1Reader(s)
            conns.append(rd)
            status, _ = rd.answer()
            if status != 200:
                checks.eq(status, 200, "first check on a new connection")
        time.sleep(IDLE_S)
        r1 = rss_kib(gw.proc.pid)
        per = (r1 - r0) / N_H1
        print("# resident memory: %d KiB before, %d KiB with %d idle "
              "connections: %.1f KiB each" % (r0, r1, N_H1, per))
        if sanitized(gw.proc.pid):
            print("# AddressSanitizer build: its quarantine holds freed "
                  "memory, the memory check is left out")
        else:
            checks.check(per < MAX_KIB, "an idle HTTP/1.1 connection "
                         "costs under %d KiB (%.1f)" % (MAX_KIB, per))

        same = 0
        for i, rd in enumerate(conns):
            if i < N_PIPE:
                rd.s.sendall(req + req)
                a1, a2 = rd.answer(), rd.answer()
                ok = (a1[0] == 200 and a2[0] == 200 and
                      notice_of(a1[1]) == notice_of(a2[1]) ==
                      notice_of(warm_body))
            else:
                rd.s.sendall(req)
                a1 = rd.answer()
                ok = (a1[0] == 200 and
                      notice_of(a1[1]) == notice_of(warm_body))
            same += 1 if ok else 0
        checks.eq(same, N_H1, "idle connections that answered their next "
                  "check (%d of them two pipelined checks) with the "
                  "notice" % N_PIPE)
        for rd in conns:
            rd.s.close()
        # all closed at once: their pages go back to the system at the
        # next sweep (they once stayed, after a flood too)
        time.sleep(IDLE_S)
        r2 = rss_kib(gw.proc.pid)
        print("# resident memory: %d KiB once they closed" % r2)
        if not sanitized(gw.proc.pid):
            checks.check(r2 - r0 < (r1 - r0) / 2, "closed connections "
                         "give their memory back (%d KiB over the start, "
                         "%d while open)" % (r2 - r0, r1 - r0))

        fields = [("authorization", "Bearer " + secret),
                  ("content-type", "application/json")]
        cbody = b'{"versions":{"default":"1.0.0"}}'
        url = (first.get("url") or "").split("://", 1)[-1]
        fwpath = url[url.find("/"):] if "/" in url else ""
        checks.check(fwpath.startswith("/"), "the notice has a download "
                     "path (%r)" % fwpath)
        h2s = [H2Raw(gw.https_port, pki.ca[0]) for _ in range(N_H2)]
        okc = 0
        for h in h2s:
            st, data, err = h2_exchange(h, 1, "POST", "/ota/d1/check",
                                        fields + [("content-length",
                                                   str(len(cbody)))],
                                        cbody)
            okc += 1 if st == 200 and err is None else 0
        checks.eq(okc, N_H2, "HTTP/2 first checks answered")
        time.sleep(IDLE_S)
        okc = okr = 0
        for h in h2s:
            st, data, err = h2_exchange(h, 3, "POST", "/ota/d1/check",
                                        fields + [("content-length",
                                                   str(len(cbody)))],
                                        cbody)
            okc += 1 if (st == 200 and err is None and
                         notice_of(data) == notice_of(warm_body)) else 0
            st, data, err = h2_exchange(h, 5, "GET", fwpath,
                                        fields + [("range",
                                                   "bytes=1000-41959")])
            okr += 1 if (st == 206 and err is None and
                         data == img[1000:41960]) else 0
            h.sock.close()
        checks.eq(okc, N_H2, "idle HTTP/2 connections: the next check "
                  "answered with the notice")
        checks.eq(okr, N_H2, "idle HTTP/2 connections: a 40 KiB range "
                  "after it, byte for byte")
        checks.check(gw.alive(), "the daemon still runs")
    out_of_descriptors(tmp, pki)
    return checks.done()


def out_of_descriptors(tmp, pki):
    os.makedirs(os.path.join(tmp, "gw2"))
    admin = AdminApi(os.path.join(tmp, "gw2"), pki.ca[0])
    extra = {"max_connections_per_source": "0", "workers": "1"}
    extra.update(admin.settings())
    gw = https_gateway(pki, client_ca=False, tmp=os.path.join(tmp, "gw2"),
                       extra=extra)
    gw.nofile = 64
    with gw:
        secret = "s-" + os.urandom(8).hex()
        gw.otactl("device", "put", "d1", "--product", "p", "--secret",
                  secret, "--version", "1.0.0", check=True)
        checks.check("descriptor limit 64 is below the 10256 that 10000 "
                     "HTTPS device connections" in gw.log(),
                     "the start says the descriptor limit is low")
        flood = []
        try:
            for _ in range(150):
                flood.append(socket.create_connection(
                    ("127.0.0.1", gw.https_port), timeout=5))
        except OSError:
            pass
        # TCP_DEFER_ACCEPT hands silent connections over after a second
        wait_for(lambda: "cannot accept connections" in gw.log(), 10,
                 "the daemon runs out of descriptors")
        before = gw.log().count("cannot accept connections")
        time.sleep(3)
        lines = gw.log().count("cannot accept connections") - before
        checks.check(lines <= 6, "out of descriptors: %d log lines in 3 s "
                     "(at most 6)" % lines)
        checks.check("Too many open files" in gw.log(),
                     "the log names the shortage")
        for s in flood:
            s.close()
        ctx = ssl.create_default_context(cafile=pki.ca[0])
        ctx.set_alpn_protocols(["http/1.1"])
        ok = False
        deadline = time.monotonic() + 15
        while not ok and time.monotonic() < deadline:
            try:
                s = ctx.wrap_socket(socket.create_connection(
                    ("127.0.0.1", gw.https_port), timeout=5),
                    server_hostname="localhost")
                s.sendall(check_request("d1", secret))
                ok = Http1Reader(s).answer()[0] == 204
                s.close()
            except OSError:
                time.sleep(0.2)
        checks.check(ok, "after the flood a device's check is answered")
        m = metrics_scrape(admin.url, pki.ca[0], admin.token, gw.tmp)
        checks.check(m.get("otagw_https_device_accept_pauses_total", 0) > 0,
                     "/metrics counts the listener's pauses (%r)" %
                     m.get("otagw_https_device_accept_pauses_total"))
        checks.check(gw.alive(), "the daemon still runs")


if __name__ == "__main__":
    sys.exit(main())
