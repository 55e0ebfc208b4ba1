# SPDX-License-Identifier: BSD-2-Clause
"""test_tls_resume: TLS session resumption on the HTTPS listeners, with
Python's ssl module as the device, against the real daemon.

Each device connection is what a sleepy device does: a new TCP
connection, a handshake, one `POST /ota/{device}/check` over HTTP/1.1,
the answer read, then a close either with close_notify (unwrap) or
without it (the socket just closed, as esp_http_client does).

- TLS 1.2 session-id resumption (the client sends no ticket extension),
  with and without close_notify, on the device and the admin listener.
- TLS 1.2 and TLS 1.3 ticket resumption, without close_notify.
- every resumed connection still answers the check (200 or 204).
- SIGHUP (a reload) keeps the ticket keys: a ticket from before resumes.
- ticket keys rotate: with tls_ticket_key_rotate 2s a ticket still opens
  1.5 s after it was issued and no longer 4.5 s after (two intervals).
- a restart makes new keys: an old ticket no longer resumes.
"""

import os
import signal
import socket
import ssl
import sys
import tempfile
import time

from otagw_harness import (Checks, Http1Reader, Pki, check_request,
                           free_port, https_gateway, gateway_restart,
                           wait_for)

checks = Checks()


def client_ctx(pki, tls13, tickets):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(pki.ca[0])
    ctx.check_hostname = False
    v = ssl.TLSVersion.TLSv1_3 if tls13 else ssl.TLSVersion.TLSv1_2
    ctx.minimum_version = ctx.maximum_version = v
    if not tickets:
        ctx.options |= ssl.OP_NO_TICKET
    return ctx


def http_exchange(s, request):
    """Sends one HTTP/1.1 request, reads its answer; the status code."""
    s.sendall(request)
    return Http1Reader(s).answer()[0]


def visit(ctx, port, request, session=None, close_notify=False):
    """One connection: (session to keep, reused?, HTTP status)."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s = ctx.wrap_socket(raw, server_hostname="localhost", session=session)
    try:
        status = http_exchange(s, request)
        sess, reused = s.session, s.session_reused
        if close_notify:
            s = s.unwrap()
    finally:
        s.close()
    return sess, reused, status


HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"


def series(tag, ctx, port, request, close_notify, n=4):
    """A full handshake, then n more connections each offering the last
    session; checks that every one resumed and answered."""
    sess, reused, status = visit(ctx, port, request,
                                 close_notify=close_notify)
    checks.check(not reused and status in (200, 204),
                 "%s: first connection full handshake, answered (%d)" %
                 (tag, status))
    got = 0
    for _ in range(n):
        sess2, reused, status = visit(ctx, port, request, session=sess,
                                      close_notify=close_notify)
        got += 1 if reused else 0
        checks.check(status in (200, 204), "%s: answered (%d)" %
                     (tag, status))
        sess = sess2 if sess2 is not None else sess
    checks.eq(got, n, "%s: connections resumed" % tag)
    return sess


def main():
    tmp = tempfile.mkdtemp(prefix="otagw-tlsres-")
    pki = Pki(os.path.join(tmp, "pki"))
    admin_port = free_port(socket.SOCK_STREAM)
    token = os.path.join(tmp, "admin.token")
    with open(token, "w") as f:
        f.write("t-" + os.urandom(16).hex() + "\n")
    os.chmod(token, 0o600)
    extra = {"admin_listen": "127.0.0.1:%d" % admin_port,
             "admin_token_file": token}
    os.makedirs(os.path.join(tmp, "gw"))
    gw = https_gateway(pki, extra=extra, client_ca=False,
                       tmp=os.path.join(tmp, "gw"))
    with gw:
        secret = "s-" + os.urandom(8).hex()
        gw.otactl("device", "put", "d1", "--product", "p", "--secret",
                  secret, "--version", "1.0.0", check=True)
        req = check_request("d1", secret)
        port = gw.https_port
        ctx12id = client_ctx(pki, False, False)
        ctx12t = client_ctx(pki, False, True)
        ctx13 = client_ctx(pki, True, True)

        series("TLS 1.2 session id, close_notify", ctx12id, port, req,
               True)
        series("TLS 1.2 session id, no close_notify", ctx12id, port, req,
               False)
        series("admin, TLS 1.2 session id, no close_notify", ctx12id,
               admin_port, HEALTHZ, False)
        series("TLS 1.2 ticket, no close_notify", ctx12t, port, req, False)
        series("TLS 1.3 ticket, no close_notify", ctx13, port, req, False)
        series("TLS 1.3 ticket, close_notify", ctx13, port, req, True)

        # A reload keeps the ticket keys (the session-id cache is new).
        t12 = series("TLS 1.2 ticket before SIGHUP", ctx12t, port, req,
                     False, n=1)
        t13 = series("TLS 1.3 ticket before SIGHUP", ctx13, port, req,
                     False, n=1)
        mark = gw.log_bytes().count(b"configuration reloaded")
        gw.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: gw.log_bytes().count(b"configuration reloaded") >
                 mark, 10, "reload logged")
        _, reused, _ = visit(ctx12t, port, req, session=t12)
        checks.check(reused, "TLS 1.2 ticket resumes after SIGHUP")
        _, reused, _ = visit(ctx13, port, req, session=t13)
        checks.check(reused, "TLS 1.3 ticket resumes after SIGHUP")

        # A restart: new keys, new cache.
        sid = series("TLS 1.2 session id before restart", ctx12id, port,
                     req, False, n=1)
        gw.stop()
        gateway_restart(gw)
        _, reused, status = visit(ctx12t, port, req, session=t12)
        checks.check(not reused and status in (200, 204),
                     "TLS 1.2 ticket after a restart: full handshake")
        _, reused, status = visit(ctx12id, port, req, session=sid)
        checks.check(not reused and status in (200, 204),
                     "TLS 1.2 session id after a restart: full handshake")

    # Rotation: tickets open for at least one interval, at most two.
    extra2 = dict(extra, tls_ticket_key_rotate="2s",
                  admin_listen="off")
    os.makedirs(os.path.join(tmp, "gw2"))
    gw = https_gateway(pki, extra=extra2, client_ca=False,
                       tmp=os.path.join(tmp, "gw2"))
    with gw:
        gw.otactl("device", "put", "d1", "--product", "p", "--secret",
                  secret, "--version", "1.0.0", check=True)
        port = gw.https_port
        for tag, ctx in (("TLS 1.2", ctx12t), ("TLS 1.3", ctx13)):
            sess, _, _ = visit(ctx, port, req)
            t0 = time.monotonic()
            while time.monotonic() < t0 + 1.5:
                time.sleep(0.05)
            _, reused, _ = visit(ctx, port, req, session=sess)
            checks.check(reused, "%s: ticket still opens after 1.5 s "
                         "(rotation 2 s)" % tag)
            while time.monotonic() < t0 + 4.5:
                time.sleep(0.05)
            _, reused, status = visit(ctx, port, req, session=sess)
            checks.check(not reused and status in (200, 204),
                         "%s: ticket refused after 4.5 s (two intervals),"
                         " full handshake answered" % tag)
    return checks.done()


if __name__ == "__main__":
    sys.exit(main())
