# SPDX-License-Identifier: BSD-2-Clause
"""test_patch_make: patches otagw makes itself, and the check every
BSDIFF40 patch passes before it is stored (issue 15, item 5).

- `otactl --url firmware delta NEW --from OLD`: the daemon makes the
  patch on a thread of its own; while it works on a 16 MiB pair, a DTLS
  device's check is answered; Debian's `bspatch` turns OLD's image into
  NEW's with the stored patch, and a device on OLD's version is offered
  it and downloads it;
- `otactl --state firmware delta` (otactl makes it) with --block 1, the
  same check;
- an uploaded bsdiff4 patch that makes another image, or that is cut
  short, is refused (422) and leaves nothing; bad arguments are refused.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

from otagw_harness import AdminApi, Checks, Pki, https_gateway, otactl_json

checks = Checks()

for tool in ("coap-client-openssl", "bsdiff", "bspatch"):
    if shutil.which(tool) is None:
        print("%s not installed: skipping" % tool)
        sys.exit(77)


def sha(b):
    return hashlib.sha256(b).hexdigest()


def psk_of(dev):
    return "key-%s-0123456789" % dev


def edited(base, seed, n=6):
    out = bytearray(base)
    step = len(out) // (n + 1)
    for i in range(1, n + 1):
        out[i * step:i * step + 32] = hashlib.sha256(
            b"%d-%d" % (seed, i)).digest()
    out[step // 2:step // 2] = os.urandom(1000)
    return bytes(out)


def write(tmp, name, data):
    p = os.path.join(tmp, name)
    with open(p, "wb") as f:
        f.write(data)
    return p


def bspatch_ok(tmp, old_path, patch_path, want):
    out = os.path.join(tmp, "rebuilt.bin")
    p = subprocess.run(["bspatch", old_path, out, patch_path],
                       capture_output=True)
    if p.returncode != 0:
        return False
    with open(out, "rb") as f:
        return sha(f.read()) == sha(want)


def main():
    tmp = tempfile.mkdtemp(prefix="otagw-patchmake-")
    pki = Pki(os.path.join(tmp, "pki"))
    api = AdminApi(tmp, pki.ca[0])
    gw = https_gateway(pki, coaps=True, tmp=tmp, extra=api.settings())
    ctl_url = api.otactl

    def coaps(dev, method, path, body=None, **kw):
        return gw.coap(method, path, payload=body, dtls=(dev,
                       psk_of(dev)), content_format=50 if body else None,
                       **kw)

    big_old = os.urandom(16 << 20)
    big_new = edited(big_old, 1)
    old = os.urandom(400000)
    new = edited(old, 2)
    wrong = edited(old, 3)
    paths = {n: write(tmp, n, d) for n, d in (
        ("big-old", big_old), ("big-new", big_new), ("old", old),
        ("new", new), ("wrong", wrong))}

    with gw:
        for dev in ("d1", "d2", "d3"):
            gw.otactl("device", "put", dev, "--product", "p", "--psk",
                      psk_of(dev).encode().hex(), "--version", "1.0.0",
                      check=True)
        ids = {}
        for name, prod, ver in (("old", "p", "1.0.0"), ("new", "p", "2.0.0"),
                                ("big-old", "b", "1.0.0"),
                                ("big-new", "b", "2.0.0")):
            ids[name] = gw.otactl_id("firmware", "add", paths[name],
                                     "--product", prod, "--version", ver)

        # an uploaded bsdiff4 patch must make the target's image
        bad = os.path.join(tmp, "wrong.bsdiff")
        subprocess.run(["bsdiff", paths["old"], paths["wrong"], bad],
                       check=True)
        o = gw.otactl("patch", "add", bad, "--from", ids["old"], "--to",
                      ids["new"], "--format", "bsdiff4")
        checks.check(o.returncode == 1 and "does not make" in o.stderr,
                     "an uploaded bsdiff4 patch to another image: "
                     "refused (%s)" % o.stderr.strip())
        good = os.path.join(tmp, "good.bsdiff")
        subprocess.run(["bsdiff", paths["old"], paths["new"], good],
                       check=True)
        with open(good, "rb") as f:
            cut = write(tmp, "cut.bsdiff", f.read()[:-10])
        o = ctl_url("patch", "add", cut, "--from", ids["old"], "--to",
                    ids["new"], "--format", "bsdiff4")
        checks.check(o.returncode == 1 and "corrupt" in o.stderr,
                     "a truncated bsdiff4 patch over the API: refused "
                     "(%s)" % o.stderr.strip())
        checks.eq(otactl_json(gw, "patch", "list"),
                  {"items": [], "next": None}, "nothing stored by either")
        checks.eq(sorted(os.listdir(os.path.join(gw.state, "images"))),
                  sorted(ids.values()), "and no file left")

        # bad arguments
        for args, what in ((["firmware", "delta", ids["new"]], "no --from"),
                           (["firmware", "delta", ids["new"], "--from",
                             ids["old"], "--block", "0"], "--block 0"),
                           (["firmware", "delta", ids["new"], "--from",
                             ids["new"]], "the same firmware"),
                           (["firmware", "delta", ids["big-new"], "--from",
                             ids["old"]], "two products")):
            o = gw.otactl(*args)
            checks.check(o.returncode in (1, 2) and o.stderr.startswith(
                "otactl: "), "firmware delta with %s: refused (%s)" %
                (what, o.stderr.strip().splitlines()[0]))

        # made by the daemon, while it keeps answering devices
        job = gw.otactl_id("job", "create", "--firmware", ids["new"],
                           "--force", "--devices", "d1,d2")
        mk = ctl_url("--json", "firmware", "delta", ids["big-new"],
                     "--from", ids["big-old"], popen=True)
        r = coaps("d2", "post", "/ota/d2/check", '{"version":"1.0.0"}')
        running = mk.poll() is None
        out, err = mk.communicate(timeout=300)
        checks.check(r.code == "2.05" and running,
                     "a device's check is answered while the daemon makes "
                     "a patch of 16 MiB (%s, making: %s)" % (r.code, running))
        checks.eq(mk.returncode, 0, "otactl --url firmware delta (%s)" % err)
        bp = json.loads(out or "{}")
        checks.check(bp.get("format") == "bsdiff4" and
                     bp.get("toSha256") == sha(big_new) and
                     0 < bp.get("size", 0) < 100000,
                     "the daemon's patch: bsdiff4, small (%s bytes)" %
                     bp.get("size"))
        checks.check(bspatch_ok(tmp, paths["big-old"], os.path.join(
            gw.state, "images", bp.get("id", "x")), big_new),
            "Debian's bspatch applies the daemon's patch")
        checks.check("making it" in gw.log() and bp.get("id", "?") in
                     gw.log(), "the log says a patch was made")

        # made by otactl --state, with bzip2 blocks of 100 kB
        o = gw.otactl("--json", "firmware", "delta", ids["new"], "--from",
                      ids["old"], "--block", "1")
        checks.eq(o.returncode, 0, "otactl --state firmware delta --block 1 "
                  "(%s)" % o.stderr)
        p = json.loads(o.stdout or "{}")
        checks.check(bspatch_ok(tmp, paths["old"], os.path.join(
            gw.state, "images", p.get("id", "x")), new),
            "bspatch applies otactl's patch")
        o = gw.otactl("firmware", "delta", ids["new"], "--from", ids["old"])
        checks.check(o.returncode == 1 and "already" in o.stderr,
                     "a second patch for the pair: refused")

        # offered and downloaded
        r = coaps("d1", "post", "/ota/d1/check", '{"version":"1.0.0"}')
        d = json.loads(r.data or b"{}").get("delta", {})
        checks.eq((d.get("firmware"), d.get("format")), (p.get("id"),
                                                        "bsdiff4"),
                  "d1 is offered the patch otagw made")
        dl = os.path.join(tmp, "d1.patch")
        r = coaps("d1", "get", "/fw/" + p["id"], block=1024, out=dl)
        checks.check(r.code == "2.05" and bspatch_ok(tmp, paths["old"],
                                                     dl, new),
                     "downloaded over coaps, it restores 2.0.0")
        gw.otactl("job", "terminate", job)
    checks.done()


main()
