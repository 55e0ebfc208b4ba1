# SPDX-License-Identifier: BSD-2-Clause
"""test_transfer: the gateway sees downloads (issue 13, item 4).

A device that never reports progress starts its download over DTLS (the
first blocks, by hand over a real DTLS session) and finishes it over
HTTPS with curl (a range from where it stopped).  The gateway keeps one
record for device and firmware: `otactl job devices` shows the share
sent (0 %, then the CoAP part, then 100 %), `--json` carries delivered and
size, and the upstream receives "transfer" events with the bytes, at
most one per tenth of the image plus the last.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

from otagw_harness import (Checks, Pki, coap_decode, coap_encode,
                           curl_request, https_gateway, wait_for)
from upstream import (NGHTTPX, TOKEN, Backend, Proxy, make_cert,
                      upstream_conf)

checks = Checks()
DTLS_CLIENT = os.environ.get("DTLS_CLIENT_BIN", "")
OPT_URI_PATH, OPT_BLOCK2 = 11, 23
BLOCK = 512

for tool in ("curl",):
    if shutil.which(tool) is None:
        print("%s not installed: skipping" % tool)
        sys.exit(77)
if not DTLS_CLIENT or not os.access(DTLS_CLIENT, os.X_OK) or not NGHTTPX:
    print("dtls_client or nghttpx missing: skipping")
    sys.exit(77)


def block2(num):
    v = num << 4 | (BLOCK.bit_length() - 5)
    return b"" if v == 0 else v.to_bytes((v.bit_length() + 7) // 8, "big")


def coap_blocks(gw, dev, key, fw, nums):
    """GET /fw/FW blocks nums over one DTLS session; their payloads."""
    msgs = []
    for i, num in enumerate(nums):
        opts = [(OPT_URI_PATH, b"fw"), (OPT_URI_PATH, fw.encode()),
                (OPT_BLOCK2, block2(num))]
        msgs.append(coap_encode(0, 1, 0x4000 + i, b"T%d" % i, opts))
    p = subprocess.run([DTLS_CLIENT, "127.0.0.1", str(gw.coaps_port), dev,
                        key.encode().hex(), "send"] +
                       [m.hex() for m in msgs], capture_output=True,
                       text=True, timeout=60)
    out = []
    for line in p.stdout.splitlines():
        m = None if line == "-" else coap_decode(bytes.fromhex(line))
        out.append(m[5] if m and m[1] == "2.05" else None)
    return out


def job_row(gw, job, dev):
    o = gw.otactl("--json", "job", "devices", job)
    try:
        items = json.loads(o.stdout)["items"]
    except (ValueError, KeyError):
        return {}
    return next((r for r in items if r["device"] == dev), {})


def sent_column(gw, job, dev):
    o = gw.otactl("job", "devices", job)
    lines = o.stdout.splitlines()
    if not lines:
        return None
    head = lines[0].split()
    for line in lines[1:]:
        cols = line.split()
        if cols and cols[0] == dev:
            return cols[head.index("SENT")]
    return None


def main():
    tmp = tempfile.mkdtemp(prefix="otagw-xfer-")
    pki = Pki(os.path.join(tmp, "pki"))
    be = Backend(b"")
    key, crt = make_cert(tmp, "up", "localhost")
    proxy = Proxy(tmp, be.port, key, crt).start()
    tok = os.path.join(tmp, "up.token")
    with open(tok, "w") as f:
        f.write(TOKEN + "\n")
    extra = upstream_conf(proxy, crt, tok)
    gw = https_gateway(pki, extra=extra, coaps=True, client_ca=False)
    img = os.urandom(40 * BLOCK + 100)
    try:
        with gw:
            psk = "key-of-t1-0123"
            gw.otactl("device", "put", "t1", "--product", "p", "--psk",
                      psk.encode().hex(), "--secret", "s-t1", "--version",
                      "1.0.0", check=True)
            path = os.path.join(gw.tmp, "img.bin")
            with open(path, "wb") as f:
                f.write(img)
            fw = gw.otactl_id("firmware", "add", path, "--product", "p",
                              "--version", "2.0.0")
            job = gw.otactl_id("job", "create", "--firmware", fw,
                               "--devices", "t1", "--force")
            checks.eq(sent_column(gw, job, "t1"), "-",
                      "job devices: SENT - before any download")
            r = gw.coap("post", "/ota/t1/check", b'{"version":"1.0.0"}',
                        dtls=("t1", psk))
            checks.eq(r.code, "2.05", "check over DTLS: the notice")

            # the first 16 blocks over DTLS (and one past a gap)
            got = coap_blocks(gw, "t1", psk, fw, list(range(16)) + [30])
            checks.check(all(b is not None for b in got),
                         "16 blocks and one more over DTLS")
            coap_part = b"".join(got[:16])
            checks.eq(coap_part, img[:16 * BLOCK], "the CoAP part is the "
                      "image's beginning")
            # the record follows once the device pauses (2 s)
            wait_for(lambda: job_row(gw, job, "t1").get("delivered") ==
                     16 * BLOCK, 10, "the record after the pause")
            row = job_row(gw, job, "t1")
            checks.eq((row.get("delivered"), row.get("size")),
                      (16 * BLOCK, len(img)),
                      "--json job devices: delivered is the blocks from 0 "
                      "without a gap, not the one past it")
            checks.eq(sent_column(gw, job, "t1"), "%d%%" % (
                16 * BLOCK * 100 // len(img)), "job devices: SENT in %")

            # the rest over HTTPS, from where it stopped
            r = curl_request(gw.https_url + "/fw/" + fw, "GET", "1.1",
                             ["Authorization: Bearer s-t1",
                              "X-Device-Id: t1",
                              "Range: bytes=%d-" % (16 * BLOCK)], None,
                             pki.ca[0], tmpdir=gw.tmp)
            checks.eq((r.status, coap_part + r.body == img), (206, True),
                      "the rest over HTTPS: 206, and the parts make the "
                      "image")
            wait_for(lambda: job_row(gw, job, "t1").get("delivered") ==
                     len(img), 10, "delivered reaches the size")
            checks.eq(sent_column(gw, job, "t1"), "100%",
                      "job devices: SENT 100% after HTTPS finished it")

            # the upstream: transfer events with the bytes, in order
            def transfers():
                return [e for _, batch in list(be.posts) for e in batch
                        if e.get("type") == "transfer"]
            wait_for(lambda: any(e.get("bytes") == len(img)
                                 for e in transfers()), 20,
                     "the last transfer event upstream")
            ev = transfers()
            sizes = [e.get("bytes") for e in ev]
            checks.check(sizes == sorted(sizes) and sizes[-1] == len(img)
                         and len(ev) <= 11,
                         "transfer events grow to the size, at most one a "
                         "tenth (%s)" % sizes)
            checks.check(all(e.get("device") == "t1" and
                             e.get("firmware") == fw and
                             e.get("job") == job and
                             e.get("size") == len(img) for e in ev),
                         "each names device, firmware, job and size")
    finally:
        proxy.stop()
        be.close()
    checks.done()


if __name__ == "__main__":
    main()
