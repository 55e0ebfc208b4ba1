# SPDX-License-Identifier: BSD-2-Clause
"""test_otactl: the real otactl binary on a temporary state directory.

Every command and its output (text and --json shapes), the id alone on the
last line of creating commands (text; with --json the created object is
the one JSON document), lists as {"items","next"} with the next page's
cursor, ids in numeric order (j-2 before j-10), the CSV import's header
line and its report of every bad line, exit status 2 for usage errors and 1 for
refused operations with an "otactl: " message, and nothing stored by a
refused call (devices, firmware, jobs, outbox depth and image files are
compared before and after).  Finally otactl writes while a running daemon
reads the same store: a device checks in over coaps and gets the notice of
the job otactl just created.

otactl --url against a fake server that closes or resets the connection
(at once, or after the TLS handshake while otactl sends a large upload):
otactl ignores SIGPIPE and says what broke, with exit status 1, never a
silent death by signal (exit 141).
"""

import hashlib
import json
import os
import select
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time

from otagw_harness import OTACTL, Checks, Gateway, Pki, wait_for

checks = Checks()

DEVICE_KEYS = {"id", "product", "versions", "psk", "secret", "created",
               "lastSeen", "seqs"}
FIRMWARE_KEYS = {"id", "product", "module", "version", "name", "description",
                 "signMethod", "size", "md5", "sha256", "state", "created",
                 "seq", "authorSig", "filename", "sha1"}
JOB_KEYS = {"id", "firmware", "product", "module", "version", "kind",
            "state", "scope", "strategy", "confirm", "srcVersions",
            "ratePerMinute", "retry", "timeoutMinutes", "start", "end",
            "created", "started", "finished", "counts"}
JOBDEV_KEYS = {"job", "device", "state", "reason", "step", "desc", "retries",
               "version", "created", "notified", "started", "updated",
               "patch"}
STATES = ["WAIT_CONFIRM", "QUEUED", "NOTIFIED", "UPGRADING", "SUCCEEDED",
          "FAILED", "RETRY_WAIT", "CANCELED"]


def last_line(p):
    lines = p.stdout.strip().splitlines()
    return lines[-1].strip() if lines else ""


def js(gw, *args, via="state"):
    """Runs otactl --json ...: its stdout must be one JSON document."""
    p = gw.otactl("--json", *args, via=via)
    if p.returncode != 0:
        checks.check(False, "otactl --json %s: %s" % (" ".join(args),
                                                      p.stderr.strip()))
        return None
    try:
        return json.loads(p.stdout)
    except ValueError as e:
        checks.check(False, "otactl --json %s: not one JSON document "
                     "(%s): %r" % (" ".join(args), e, p.stdout[:300]))
        return None


def items(gw, *args, via="state"):
    """A list command's items; its document is {"items":[...],"next"}."""
    d = js(gw, *args, via=via)
    if not isinstance(d, dict) or set(d) != {"items", "next"}:
        checks.check(False, "otactl --json %s: a list document (%r)" %
                     (" ".join(args), str(d)[:200]))
        return []
    return d["items"]


def snapshot(gw):
    """What a refused call must not change."""
    devs = items(gw, "device", "list")
    fws = items(gw, "firmware", "list")
    jobs = items(gw, "job", "list")
    relay = js(gw, "relay", "status") or {}
    imgdir = os.path.join(gw.state, "images")
    imgs = sorted(os.listdir(imgdir)) if os.path.isdir(imgdir) else []
    return (len(devs), len(fws), len(jobs), relay.get("depth"),
            relay.get("lastSeq"), imgs,
            sorted(json.dumps(j.get("counts"), sort_keys=True)
                   for j in jobs))


def refused(gw, what, args, want_rc, want_msg, via="state"):
    """Runs a call that must fail with want_rc, say why, store nothing."""
    before = snapshot(gw)
    p = gw.otactl(*args, via=via)
    after = snapshot(gw)
    checks.eq(p.returncode, want_rc, what + ": exit status")
    checks.check(p.stderr.startswith("otactl: "),
                 what + ": message starts with 'otactl: ' (%r)" %
                 p.stderr[:200])
    if want_msg:
        checks.check(want_msg.lower() in p.stderr.lower(),
                     what + ": message mentions %r (%r)" %
                     (want_msg, p.stderr.strip()[:300]))
    checks.eq(after, before, what + ": nothing stored")
    return p


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)
    return path


def image(gw, name, size, seed=0):
    data = bytes(((i * 131 + seed * 7) ^ (i >> 8)) & 0xff
                 for i in range(size))
    return write(os.path.join(gw.tmp, name), data), data


# ----------------------------------------------------------------------------
def test_usage(gw):
    p = subprocess.run([OTACTL, "--help"], capture_output=True, text=True)
    checks.eq(p.returncode, 0, "--help exits 0")
    checks.check("job create --firmware ID" in p.stdout, "--help: usage")
    p = subprocess.run([OTACTL, "--state", gw.state, "job", "create",
                        "--help"], capture_output=True, text=True)
    checks.eq(p.returncode, 0, "job create --help exits 0")
    checks.check(p.stdout.startswith("usage: otactl job create"),
                 "job create --help: its usage")
    checks.check("--abort-min-devices" in p.stdout, "job create --help: "
                 "its options")
    p = subprocess.run([OTACTL, "--state", gw.state], capture_output=True,
                       text=True)
    checks.eq(p.returncode, 2, "no command: exit 2")
    p = gw.otactl("frobnicate")
    checks.eq(p.returncode, 2, "unknown command: exit 2")
    checks.check("otactl: unknown command" in p.stderr, "unknown command: "
                 "message")
    p = gw.otactl("device", "explode")
    checks.eq(p.returncode, 2, "unknown verb: exit 2")
    p = gw.otactl("device", "put", "d1")
    checks.eq(p.returncode, 2, "device put without --product: exit 2")
    checks.check("--product" in p.stderr, "device put: says --product")
    p = gw.otactl("device", "show")
    checks.eq(p.returncode, 2, "device show without id: exit 2")
    p = gw.otactl("device", "list", "--bogus")
    checks.eq(p.returncode, 2, "unknown option: exit 2")
    a, b = gw.otactl("--json", "device", "list"), gw.otactl(
        "device", "list", "--json")
    checks.check(a.returncode == 0 and a.stdout.startswith('{"items":') and
                 (b.returncode, b.stdout) == (0, a.stdout),
                 "--json after the command, as before it")
    p = gw.otactl("device", "list", "--", "--json")
    checks.eq(p.returncode, 2, "--json after -- is an argument: exit 2")
    p = subprocess.run([OTACTL, "--url", "https://127.0.0.1:8444",
                        "--token-file", "/dev/null", "device", "list"],
                       capture_output=True, text=True)
    checks.eq(p.returncode, 1, "--url with an empty token file: exit 1")
    checks.check("empty" in p.stderr, "--url: says the token file is empty")
    p = subprocess.run([OTACTL, "--url", "https://127.0.0.1:8444",
                        "--state", gw.state, "device", "list"],
                       capture_output=True, text=True)
    checks.eq(p.returncode, 2, "--url with --state: exit 2")
    p = subprocess.run([OTACTL, "-c", os.path.join(gw.tmp, "missing.conf"),
                        "device", "list"], capture_output=True, text=True)
    checks.eq(p.returncode, 1, "-c missing file: exit 1")
    checks.check("otactl: " in p.stderr, "-c missing file: message")


def test_devices(gw):
    p = gw.otactl("device", "put", "d1", "--product", "p1", "--secret",
                  "Sup3rS3cret", "--psk", "00112233445566778899aabbccddeeff",
                  "--version", "1.0.0", "--version", "wifi=2.0")
    checks.eq(p.returncode, 0, "device put: exit 0")
    checks.eq(last_line(p), "d1", "device put: id on the last line")
    p = gw.otactl("--json", "device", "put", "d2", "--product", "p1",
                  "--version", "1.0.0", "--psk", "0102")
    checks.eq(p.stdout.count("\n"), 1, "device put --json: one line, no "
              "id after the object (%r)" % p.stdout)
    d = json.loads(p.stdout)
    checks.eq(set(d), DEVICE_KEYS, "device put --json: device shape")
    checks.eq(d["id"], "d2", "device put --json: the id inside it")
    checks.eq(d["versions"], {"default": "1.0.0"}, "device put: versions")
    checks.eq((d["psk"], d["secret"]), (True, False), "device put: keys")
    gw.otactl("device", "put", "d3", "--product", "p1", "--version", "0.9",
              check=True)
    gw.otactl("device", "put", "e1", "--product", "p2", "--version",
              "1.0.0", via="conf", check=True)

    d = js(gw, "device", "show", "d1")
    checks.eq(set(d), DEVICE_KEYS | {"history", "attributes"},
              "device show --json: shape (the device, its history)")
    checks.eq(d["history"], [], "device show --json: no history yet")
    checks.eq(d["versions"], {"default": "1.0.0", "wifi": "2.0"},
              "device show: versions")
    checks.eq((d["psk"], d["secret"]), (True, True), "device show: keys")
    checks.check(d["created"].endswith("Z") and d["lastSeen"] is None,
                 "device show: times")
    p = gw.otactl("device", "show", "d1")
    checks.check("product:" in p.stdout and "p1" in p.stdout and
                 "wifi=2.0" in p.stdout, "device show: key: value text")
    checks.check("Sup3rS3cret" not in p.stdout, "device show: no secret")
    with open(os.path.join(gw.state, "data.mdb"), "rb") as f:
        checks.check(b"Sup3rS3cret" not in f.read(),
                     "the secret is not stored in clear")

    # update keeps the rest
    gw.otactl("device", "put", "d1", "--product", "p1", "--version", "1.0.1",
              check=True)
    d2 = js(gw, "device", "show", "d1")
    checks.eq(d2["versions"], {"default": "1.0.1", "wifi": "2.0"},
              "device put again: versions merged")
    checks.eq((d2["created"], d2["secret"]), (d["created"], True),
              "device put again: created and secret kept")
    gw.otactl("device", "put", "d1", "--product", "p1", "--version", "1.0.0",
              check=True)

    d = js(gw, "device", "list")
    checks.eq(d and d.get("next"), None, "device list --json: next null "
              "on the last page")
    lst = items(gw, "device", "list")
    checks.eq([x["id"] for x in lst], ["d1", "d2", "d3", "e1"],
              "device list --json: all, in id order")
    lst = items(gw, "device", "list", "--product", "p1", "--version",
                "1.0.0")
    checks.eq([x["id"] for x in lst], ["d1", "d2"],
              "device list --product --version")
    lst = items(gw, "device", "list", "--version", "wifi=2.0")
    checks.eq([x["id"] for x in lst], ["d1"], "device list MODULE=VER")
    # the cursor: pages of two, each document saying where the next starts
    d = js(gw, "device", "list", "--limit", "2")
    checks.eq(([x["id"] for x in d["items"]], d["next"]), (["d1", "d2"],
              "d2"), "device list --json --limit 2: items and next")
    d = js(gw, "device", "list", "--limit", "2", "--after", d["next"])
    checks.eq(([x["id"] for x in d["items"]], d["next"]), (["d3", "e1"],
              None), "device list --json --after next: the last page")
    p = gw.otactl("device", "list")
    rows = p.stdout.strip().splitlines()
    checks.check(rows[0].split()[:2] == ["ID", "PRODUCT"] and len(rows) == 5,
                 "device list: a table with a header")
    col = rows[0].index("PRODUCT")
    checks.check(all(r[col - 2:col] == "  " for r in rows[1:]),
                 "device list: aligned columns")
    p = gw.otactl("device", "list", "--limit", "2")
    checks.check("--after d2" in p.stdout, "device list --limit: next page")

    # bad input
    refused(gw, "device put bad id", ["device", "put", "bad id",
            "--product", "p1"], 1, "device id")
    refused(gw, "device put bad product", ["device", "put", "d9",
            "--product", "p/1"], 1, "product")
    refused(gw, "device put bad psk", ["device", "put", "d9", "--product",
            "p1", "--psk", "xyz"], 1, "psk")
    refused(gw, "device put bad version", ["device", "put", "d9",
            "--product", "p1", "--version", "1 0"], 1, "version")
    refused(gw, "device show unknown", ["device", "show", "nobody"], 1,
            "nobody")
    refused(gw, "device rm unknown", ["device", "rm", "nobody"], 1,
            "nobody")

    # import
    csv = write(os.path.join(gw.tmp, "good.csv"),
                b"product,device,secret,psk\n"
                b"p1,i1,s1,0011\np1,i2,,\r\np1,\"i3\",\"x,y\",\n")
    p = gw.otactl("device", "import", csv)
    checks.eq(p.returncode, 0, "device import: exit 0")
    checks.check("3 devices" in p.stdout, "device import: summary")
    r = js(gw, "device", "import", csv)
    checks.eq(r, {"lines": 3, "created": 0, "updated": 3},
              "device import --json: counts")
    bad = write(os.path.join(gw.tmp, "bad.csv"),
                b"p1,i4,s,00\np1,i5,s,00\np1,bad id,s,00\n")
    refused(gw, "device import bad line", ["device", "import", bad], 1,
            "line 3")
    test_import_lines(gw)
    big = write(os.path.join(gw.tmp, "big.csv"), "".join(
        "p9,big-%d,,\n" % i for i in range(10001)).encode())
    refused(gw, "device import 10,001 lines", ["device", "import", big], 1,
            "10000")
    refused(gw, "device import missing file", ["device", "import",
            os.path.join(gw.tmp, "nope.csv")], 1, "nope.csv")
    p = gw.otactl("device", "rm", "i3")
    checks.eq(p.returncode, 0, "device rm: exit 0")
    refused(gw, "device show removed", ["device", "show", "i3"], 1, "i3")


def test_import_lines(gw):
    """The CSV import: a header line naming the columns (Tencent's and
    Aliyun's templates), and every bad line reported, nothing imported."""
    bad = write(os.path.join(gw.tmp, "three.csv"),
                b"p1,t-1,s,00\n"
                b"p1,t-2,s,zz\n"          # 2: the PSK is not hex
                b"p/1,t-3\n"              # 3: the product
                b"p1,t-4\n"
                b"\n"
                b"p1,t-1\n")              # 6: t-1 again
    p = refused(gw, "device import three bad lines", ["device", "import",
                bad], 1, "line 2")
    errs = p.stderr.splitlines()
    checks.eq([e.split(":")[1].strip() for e in errs],
              ["line 2", "line 3", "line 6"],
              "device import: each bad line on stderr (%r)" % errs)
    checks.check(all(e.startswith("otactl: line ") for e in errs),
                 "device import: 'otactl: line N: message'")
    checks.check("PSK" in errs[0] and "product" in errs[1] and
                 "already on line 1" in errs[2], "device import: what is "
                 "wrong with each (%r)" % errs)
    checks.eq(p.stdout, "", "device import refused: nothing on stdout")
    checks.eq(gw.otactl("device", "show", "t-1").returncode, 1,
              "device import refused: not even the good lines")
    many = write(os.path.join(gw.tmp, "many.csv"), "".join(
        "p1,many %d\n" % i for i in range(130)).encode())
    p = refused(gw, "device import 130 bad lines", ["device", "import",
                many], 1, "line 1:")
    errs = p.stderr.splitlines()
    checks.eq((len(errs), errs[-1]), (101, "otactl: and 30 more bad lines"),
              "device import: the first 100 bad lines, then a count")

    # Tencent: one column, DeviceName; the product from the command line
    tencent = write(os.path.join(gw.tmp, "tencent.csv"),
                    b"DeviceName\r\ntc-1\r\ntc-2\r\n")
    refused(gw, "device import DeviceName without --product",
            ["device", "import", tencent], 1, "product")
    p = gw.otactl("--json", "device", "import", tencent, "--product", "p1")
    checks.eq((p.returncode, json.loads(p.stdout or "null")),
              (0, {"lines": 2, "created": 2, "updated": 0}),
              "device import: Tencent's DeviceName template with --product")
    # Aliyun: ProductKey, DeviceName and a Nickname that is ignored
    aliyun = write(os.path.join(gw.tmp, "aliyun.csv"),
                   "\ufeffProductKey,DeviceName,Nickname,DeviceSecret\n"
                   "p2,al-1,台灯,s3cret\n".encode())
    p = gw.otactl("device", "import", aliyun)
    checks.eq(p.stdout, "imported 1 devices: 1 new, 0 updated\n",
              "device import: Aliyun's template")
    d = js(gw, "device", "show", "al-1")
    checks.eq((d["product"], d["secret"]), ("p2", True),
              "device import: its columns mapped by name")
    for dev in ("tc-1", "tc-2", "al-1"):
        gw.otactl("device", "rm", dev, check=True)


def test_firmware(gw):
    path, data = image(gw, "fw1.bin", 100000, 1)
    p = gw.otactl("firmware", "add", path, "--product", "p1", "--version",
                  "1.1.0", "--description", "first build")
    checks.eq(p.returncode, 0, "firmware add: exit 0")
    fw1 = last_line(p)
    checks.check(fw1.startswith("fw-"), "firmware add: id on the last line")
    checks.check(hashlib.sha256(data).hexdigest() in p.stdout,
                 "firmware add: prints the SHA-256")
    f = js(gw, "firmware", "show", fw1)
    checks.eq(set(f) - {"counts", "devices"}, FIRMWARE_KEYS,
              "firmware show --json: shape")
    checks.eq(f["sha256"], hashlib.sha256(data).hexdigest(),
              "firmware: sha256")
    checks.eq(f["md5"], hashlib.md5(data).hexdigest(), "firmware: md5")
    checks.eq(f["size"], len(data), "firmware: size")
    checks.eq((f["module"], f["name"], f["signMethod"], f["state"]),
              ("default", "1_1_0", "SHA256", "UNVERIFIED"),
              "firmware: defaults")
    stored = os.path.join(gw.state, "images", fw1)
    checks.check(os.path.getsize(stored) == len(data) and
                 hashlib.sha256(open(stored, "rb").read()).hexdigest() ==
                 f["sha256"], "the stored image matches by size and SHA-256")

    path2, data2 = image(gw, "fw2.bin", 3000, 2)
    p = gw.otactl("--json", "firmware", "add", path2, "--product", "p1",
                  "--version", "1.2.0", "--name", "新固件(v2)", "--module",
                  "default", "--sign-method", "MD5", via="conf")
    f2 = json.loads(p.stdout)   # one document: the firmware, its id inside
    fw2 = f2["id"]
    checks.eq(set(f2) - {"counts", "devices"}, FIRMWARE_KEYS,
              "firmware add --json: shape")
    checks.eq((f2["id"], f2["name"], f2["signMethod"]),
              (fw2, "新固件(v2)", "MD5"), "firmware add --json: values")
    with open(path2, "rb") as fh:
        p = subprocess.run([OTACTL, "--state", gw.state, "firmware", "add",
                            "-", "--product", "p2", "--version", "1.0.0"],
                           stdin=fh, capture_output=True, text=True)
    checks.eq(p.returncode, 0, "firmware add from stdin")

    lst = items(gw, "firmware", "list")
    checks.eq(len(lst), 3, "firmware list --json: three")
    checks.check(all(set(x) - {"counts", "devices"} == FIRMWARE_KEYS
                     for x in lst),
                 "firmware list --json: shapes")
    p = gw.otactl("firmware", "list")
    checks.check(p.stdout.startswith("ID") and fw2 in p.stdout and
                 "新固件(v2)" in p.stdout, "firmware list: table")
    p = gw.otactl("firmware", "edit", fw2, "--name", "renamed",
                  "--description", "second")
    checks.eq(p.returncode, 0, "firmware edit: exit 0")
    f2 = js(gw, "firmware", "show", fw2)
    checks.eq((f2["name"], f2["description"], f2["version"]),
              ("renamed", "second", "1.2.0"), "firmware edit: changed")
    p = gw.otactl("firmware", "show", fw2)
    checks.check("name:" in p.stdout and "renamed" in p.stdout,
                 "firmware show: text")

    # bad input: exit 1, a clear message, nothing stored
    path3, _ = image(gw, "fw3.bin", 500, 3)
    base = ["firmware", "add", path3, "--product", "p1"]
    refused(gw, "firmware add bad version", base + ["--version", "1.0 b"],
            1, "version")
    refused(gw, "firmware add name starting with _", base +
            ["--version", "3.0", "--name", "_x"], 1, "name")
    refused(gw, "firmware add name with a space", base +
            ["--version", "3.0", "--name", "a b"], 1, "name")
    refused(gw, "firmware add name of 33", base +
            ["--version", "3.0", "--name", "a" * 33], 1, "name")
    refused(gw, "firmware add description of 101", base +
            ["--version", "3.0", "--description", "d" * 101], 1,
            "description")
    refused(gw, "firmware add sign method", base +
            ["--version", "3.0", "--sign-method", "CRC"], 1, "sign")
    refused(gw, "firmware add duplicate version", base +
            ["--version", "1.1.0"], 1, "already")
    empty = write(os.path.join(gw.tmp, "empty.bin"), b"")
    refused(gw, "firmware add empty image", ["firmware", "add", empty,
            "--product", "p1", "--version", "3.0"], 1, "empty")
    refused(gw, "firmware add missing file", ["firmware", "add",
            os.path.join(gw.tmp, "none.bin"), "--product", "p1",
            "--version", "3.0"], 1, "none.bin")
    refused(gw, "firmware add without --version", base, 2, "--version")
    refused(gw, "firmware edit bad name", ["firmware", "edit", fw2,
            "--name", "(x"], 1, "name")
    refused(gw, "firmware show unknown", ["firmware", "show", "fw-999"], 1,
            "fw-999")
    refused(gw, "firmware rm unknown", ["firmware", "rm", "fw-999"], 1,
            "fw-999")
    return fw1, fw2


def test_jobs(gw, fw1, fw2):
    p = gw.otactl("job", "create", "--firmware", fw1, "--verify",
                  "--devices", "d1,d2")
    checks.eq(p.returncode, 0, "job create --verify: exit 0")
    j1 = last_line(p)
    checks.check(j1.startswith("j-"), "job create: id on the last line")
    j = js(gw, "job", "show", j1)
    checks.check(JOB_KEYS <= set(j), "job show --json: job shape (%s)" %
                 sorted(set(j) ^ JOB_KEYS))
    checks.eq(set(j["counts"]), set(STATES) | {"total"},
              "job show --json: counts shape")
    checks.eq((j["kind"], j["state"], j["counts"]["QUEUED"],
               j["counts"]["total"]), ("verify", "RUNNING", 2, 2),
              "job show: verify job RUNNING with 2 QUEUED")
    p = gw.otactl("job", "show", j1)
    checks.check("state:" in p.stdout and "RUNNING" in p.stdout and
                 "QUEUED" in p.stdout, "job show: text")
    rows = items(gw, "job", "devices", j1)
    checks.eq([r["device"] for r in rows], ["d1", "d2"], "job devices")
    checks.check(all(set(r) == JOBDEV_KEYS for r in rows),
                 "job devices --json: jobdev shape")
    d = js(gw, "job", "devices", j1, "--limit", "1")
    checks.eq(([r["device"] for r in d["items"]], d["next"]), (["d1"], "d1"),
              "job devices --json --limit 1: the cursor")
    rows = items(gw, "job", "devices", j1, "--after", "d1")
    checks.eq([r["device"] for r in rows], ["d2"], "job devices --after")
    rows = items(gw, "job", "devices", j1, "--state", "FAILED")
    checks.eq(rows, [], "job devices --state FAILED: none")
    p = gw.otactl("job", "devices", j1, "--state", "queued")
    checks.check(p.stdout.startswith("DEVICE") and "d2" in p.stdout,
                 "job devices: table")
    p = gw.otactl("job", "devices", j1, "--state", "SLEEPING")
    checks.eq(p.returncode, 2, "job devices bad state: exit 2")

    # batch refusals
    refused(gw, "job create batch on UNVERIFIED", ["job", "create",
            "--firmware", fw1], 1, "UNVERIFIED")
    refused(gw, "job create unknown firmware", ["job", "create",
            "--firmware", "fw-999", "--force"], 1, "fw-999")
    refused(gw, "job create unknown device", ["job", "create",
            "--firmware", fw1, "--verify", "--devices", "d1,ghost"], 1,
            "ghost")
    refused(gw, "job create device of another product", ["job", "create",
            "--firmware", fw1, "--verify", "--devices", "e1"], 1, "e1")
    refused(gw, "job create bad rate", ["job", "create", "--firmware", fw1,
            "--force", "--rate", "5"], 1, "rate")
    refused(gw, "job create bad start", ["job", "create", "--firmware",
            fw1, "--force", "--start", "tomorrow"], 2, "RFC 3339")
    refused(gw, "job create two scopes", ["job", "create", "--firmware",
            fw1, "--all", "--gray", "10"], 2, "one of")

    # forced batch over all, scheduled in the future
    p = gw.otactl("job", "create", "--firmware", fw1, "--force",
                  "--src-version", "0.9", "--start", "2099-01-01T00:00:00Z",
                  "--retry", "2", "--retry-interval", "10", "--timeout", "30")
    checks.eq(p.returncode, 0, "job create --force: exit 0")
    j2 = last_line(p)
    j = js(gw, "job", "show", j2)
    checks.eq((j["kind"], j["state"], j["srcVersions"], j["counts"]["total"],
               j["retry"], j["timeoutMinutes"]),
              ("batch", "SCHEDULED", ["0.9"], 1,
               {"count": 2, "intervalMinutes": 10}, 30),
              "job create: batch SCHEDULED on d3 with its options")
    checks.check(j["start"].startswith("2099-01-01T00:00:00"),
                 "job create: start")
    refused(gw, "job create overlapping batch", ["job", "create",
            "--firmware", fw2, "--force", "--src-version", "0.9"], 1, j2)
    p = gw.otactl("--json", "job", "create", "--firmware", fw2, "--force",
                  "--src-version", "0.9", "--override", "--confirm")
    checks.eq(p.returncode, 0, "job create --override: exit 0")
    j = json.loads(p.stdout)    # one document: the job, its id inside
    j3 = j["id"]
    checks.check(j3.startswith("j-"), "job create --json: the id inside")
    checks.eq((j["confirm"], j["counts"]["WAIT_CONFIRM"]),
              ("user", 1), "job create --json: confirm job")
    rows = items(gw, "job", "devices", j2)
    checks.eq([(r["device"], r["state"], r["reason"]) for r in rows],
              [("d3", "FAILED", "superseded")], "override supersedes")

    # row operations
    p = gw.otactl("job", "confirm", j3, "d3")
    checks.eq(p.returncode, 0, "job confirm: exit 0")
    checks.check("QUEUED" in p.stdout, "job confirm: QUEUED")
    refused(gw, "job confirm again", ["job", "confirm", j3, "d3"], 1,
            "QUEUED")
    r = js(gw, "job", "cancel", j3, "d3")
    checks.eq(set(r), JOBDEV_KEYS, "job cancel --json: jobdev shape")
    checks.eq(r["state"], "CANCELED", "job cancel: CANCELED")
    refused(gw, "job retry canceled", ["job", "retry", j3, "d3"], 1,
            "CANCELED")
    refused(gw, "job cancel unknown job", ["job", "cancel", "j-999", "d1"],
            1, "j-999")
    refused(gw, "job cancel device not in job", ["job", "cancel", j1,
            "d3"], 1, "d3")
    refused(gw, "job show unknown", ["job", "show", "j-999"], 1, "j-999")
    j = js(gw, "job", "show", j3)
    checks.eq(j["state"], "COMPLETED", "a job whose last row ends "
              "completes")

    # gray release, stable and at least one device
    for i in range(10):
        gw.otactl("device", "put", "g%d" % i, "--product", "p2",
                  "--version", "0.5", check=True)
    fwg = gw.otactl_id("firmware", "add", image(gw, "g.bin", 1000, 9)[0],
                       "--product", "p2", "--version", "0.6")
    jg = gw.otactl_id("job", "create", "--firmware", fwg, "--force",
                      "--gray", "5")
    rows = items(gw, "job", "devices", jg)
    checks.eq(len(rows), 1, "gray 5% of 10: one device")
    checks.eq(items(gw, "job", "devices", jg), rows, "gray pick is stable")

    lst = items(gw, "job", "list")
    checks.eq([x["id"] for x in lst if x["id"] in (j1, j2, j3, jg)],
              sorted([j1, j2, j3, jg], key=lambda i: int(i[2:])),
              "job list --json")
    p = gw.otactl("job", "list")
    checks.check(p.stdout.startswith("ID") and j3 in p.stdout,
                 "job list: table")

    # firmware rm while an open job uses it
    refused(gw, "firmware rm in use", ["firmware", "rm", fw1], 1, j1)
    f = js(gw, "firmware", "show", fw1)
    checks.eq(f["counts"]["total"], 3, "firmware show: counts across jobs")

    # --watch, not on a terminal: a line a second until the job ends
    w = subprocess.Popen([OTACTL, "--state", gw.state, "job", "show", j1,
                          "--watch"], stdout=subprocess.PIPE, text=True)
    first = ""
    ready, _, _ = select.select([w.stdout], [], [], 10)
    if ready:
        first = w.stdout.readline()
    checks.check(j1 in first and "RUNNING" in first,
                 "job show --watch: a snapshot line (%r)" % first)
    p = gw.otactl("job", "terminate", j1)
    checks.eq(p.returncode, 0, "job terminate: exit 0")
    checks.check("TERMINATED" in p.stdout, "job terminate: says so")
    try:
        rest, _ = w.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        w.kill()
        rest, _ = w.communicate()
    checks.eq(w.returncode, 0, "job show --watch ends with the job")
    checks.check("TERMINATED" in rest, "job show --watch: last snapshot "
                 "TERMINATED")
    refused(gw, "job terminate again", ["job", "terminate", j1], 1,
            "TERMINATED")
    rows = items(gw, "job", "devices", j1)
    checks.eq({(r["state"], r["reason"]) for r in rows},
              {("FAILED", "terminated")}, "terminate fails open rows")
    f = js(gw, "firmware", "show", fw1)
    checks.eq(f["state"], "VERIFY_FAILED", "a terminated verify job "
              "fails the verification")

    gw.otactl("job", "terminate", j2, check=True)
    p = gw.otactl("firmware", "rm", fw1)
    checks.eq(p.returncode, 0, "firmware rm after its jobs end")
    checks.check(not os.path.exists(os.path.join(gw.state, "images", fw1)),
                 "firmware rm removes the image")

    r = js(gw, "relay", "status")
    checks.eq(set(r), {"depth", "oldestSeq", "oldestAgeSeconds", "lastSeq",
                       "dropped", "parkedBatches", "parkedEvents", "sent",
                       "retries"},
              "relay status --json: shape")
    checks.check(r["depth"] > 0 and r["lastSeq"] >= r["depth"],
                 "relay status: the job events are in the outbox")
    p = gw.otactl("relay", "status")
    checks.check("outbox depth:" in p.stdout and "last seq:" in p.stdout,
                 "relay status: text")


def test_id_order():
    """Ids sort by number: fw-2 before fw-10, j-2 before j-10, in lists,
    their pages and the text tables."""
    gw = Gateway()
    try:
        gw.otactl("device", "put", "o1", "--product", "po", "--version",
                  "0.1", check=True)
        img, _ = image(gw, "o.bin", 100, 4)
        fws, jobs = [], []
        for k in range(1, 12):
            fws.append(gw.otactl_id("firmware", "add", img, "--product",
                                    "po", "--version", "1.%d" % k))
            jobs.append(gw.otactl_id("job", "create", "--firmware",
                                     fws[-1], "--verify", "--devices",
                                     "o1"))
            gw.otactl("job", "terminate", jobs[-1], check=True)
        checks.eq((fws[1], fws[9], jobs[1], jobs[9]),
                  ("fw-2", "fw-10", "j-2", "j-10"), "ids count from 1")
        checks.eq([x["id"] for x in items(gw, "firmware", "list")], fws,
                  "firmware list --json: fw-2 before fw-10")
        checks.eq([x["id"] for x in items(gw, "job", "list")], jobs,
                  "job list --json: j-2 before j-10")
        d = js(gw, "job", "list", "--after", "j-2", "--limit", "8")
        checks.eq(([x["id"] for x in d["items"]], d["next"]),
                  (jobs[2:10], "j-10"), "job list --after j-2 --limit 8: "
                  "j-3 to j-10, next j-10")
        d = js(gw, "job", "list", "--after", d["next"])
        checks.eq(([x["id"] for x in d["items"]], d["next"]),
                  (["j-11"], None), "job list --after j-10: j-11, the end")
        d = js(gw, "firmware", "list", "--limit", "3", "--after", "fw-8")
        checks.eq(([x["id"] for x in d["items"]], d["next"]),
                  (["fw-9", "fw-10", "fw-11"], None),
                  "firmware list --after fw-8 --limit 3")
        p = gw.otactl("job", "list", "--limit", "10")
        rows = [r.split()[0] for r in p.stdout.strip().splitlines()[1:]]
        checks.eq(rows, jobs[:10] + ["(more:"],
                  "job list: the table in number order, then the next page")
        checks.check(p.stdout.rstrip().endswith("(more: --after j-10)"),
                     "job list --limit: says --after j-10")
        p = gw.otactl("firmware", "list")
        rows = [r.split()[0] for r in p.stdout.strip().splitlines()[1:]]
        checks.eq(rows, fws, "firmware list: the table in number order")
        refused(gw, "job list bad --after", ["job", "list", "--after",
                "j 1"], 1, "after")
        refused(gw, "firmware list bad --limit", ["firmware", "list",
                "--limit", "0"], 2, "--limit")
    finally:
        if checks.failed == 0:
            shutil.rmtree(gw.tmp, ignore_errors=True)


def test_limits():
    gw = Gateway(extra={"firmware_max_size": "1K",
                        "firmware_max_per_product": "2"})
    os.makedirs(gw.state, 0o700)    # as otagw makes it at its first start
    try:
        small, _ = image(gw, "small.bin", 1024, 1)
        large, _ = image(gw, "large.bin", 1025, 2)
        gw.otactl_id("firmware", "add", small, "--product", "p",
                     "--version", "1", via="conf")
        refused(gw, "firmware add over firmware_max_size",
                ["firmware", "add", large, "--product", "p", "--version",
                 "2"], 1, "firmware_max_size", via="conf")
        gw.otactl_id("firmware", "add", small, "--product", "p",
                     "--version", "2", via="conf")
        refused(gw, "firmware add over firmware_max_per_product",
                ["firmware", "add", small, "--product", "p", "--version",
                 "3"], 1, "firmware_max_per_product", via="conf")
    finally:
        shutil.rmtree(gw.tmp, ignore_errors=True)


def test_with_daemon():
    """otactl writes while the daemon reads the same store."""
    with Gateway() as gw:
        # coap-client takes the key as text; otactl as its bytes in hex
        key = "live1-psk-0123456"
        gw.otactl("device", "put", "live1", "--product", "pl", "--psk",
                  key.encode().hex(), "--version", "1.0", via="conf",
                  check=True)
        path, data = image(gw, "live.bin", 4096, 5)
        fw = gw.otactl_id("firmware", "add", path, "--product", "pl",
                          "--version", "2.0", via="conf")
        job = gw.otactl_id("job", "create", "--firmware", fw, "--verify",
                           "--devices", "live1", via="conf")
        checks.check(gw.alive(), "the daemon runs beside otactl")

        def notice():
            r = gw.coap("post", "/ota/live1/check",
                        payload=b"{\"version\":\"1.0\"}",
                        dtls=("live1", key), content_format=50)
            return r if r.code == "2.05" else None
        try:
            r = wait_for(notice, 15, "a notice for live1")
            n = json.loads(r.data.decode())
            checks.eq((n.get("job"), n.get("firmware"), n.get("size"),
                       n.get("sign")),
                      (job, fw, len(data), hashlib.sha256(data).hexdigest()),
                      "the daemon hands out otactl's job")
        except TimeoutError as e:
            checks.check(False, "daemon sees otactl's job: %s" % e)
        j = js(gw, "job", "show", job)
        checks.eq(j and j["counts"]["NOTIFIED"], 1,
                  "otactl sees the daemon's change (NOTIFIED)")


class FakeServer:
    """A TCP listener on 127.0.0.1 that mistreats every connection.

    mode: "close" (close at once), "reset" (RST at once), "tls-close" and
    "tls-reset" (finish the TLS handshake, read a little, then close or
    reset)."""

    def __init__(self, mode, pki):
        self.mode = mode
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(pki.server[0], pki.server[1])
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(16)
        self.ls.settimeout(0.2)
        self.port = self.ls.getsockname()[1]
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop:
            try:
                c, _ = self.ls.accept()
            except OSError:
                continue
            try:
                self.serve(c)
            except OSError:
                pass
            finally:
                c.close()

    def serve(self, c):
        c.settimeout(5)
        rst = struct.pack("ii", 1, 0)
        if self.mode == "close":
            return
        if self.mode == "reset":
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, rst)
            return
        s = self.ctx.wrap_socket(c, server_side=True)
        s.recv(100)
        if self.mode == "tls-reset":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, rst)
        s.close()

    def close(self):
        self.stop = True
        self.thread.join()
        self.ls.close()


def test_broken_connection():
    """otactl --url when the other end closes or resets the connection."""
    tmp = tempfile.mkdtemp(prefix="otagw-ctl-broken-")
    try:
        pki = Pki(os.path.join(tmp, "pki"))
        token = os.path.join(tmp, "token")
        with open(token, "w") as f:
            f.write("t0ken\n")
        big = os.path.join(tmp, "big.bin")
        with open(big, "wb") as f:
            f.write(os.urandom(4 << 20))
        for mode in ("close", "reset", "tls-close", "tls-reset"):
            srv = FakeServer(mode, pki)
            try:
                for cmd in (["device", "list"],
                            ["firmware", "add", big, "--product", "p",
                             "--version", "1.0.0"]):
                    p = subprocess.run(
                        [OTACTL, "--url", "https://127.0.0.1:%d" % srv.port,
                         "--token-file", token, "--ca", pki.ca[0]] + cmd,
                        capture_output=True, text=True, timeout=60)
                    what = "server %s, otactl %s" % (mode, cmd[0] + " " +
                                                     cmd[1])
                    checks.eq(p.returncode, 1, what + ": exit 1, not a "
                              "signal")
                    err = p.stderr.strip()
                    checks.check(err.startswith("otactl: ") and
                                 ("closed the connection" in err or
                                  "broke" in err),
                                 what + ": says the connection broke (%r)"
                                 % err)
                    checks.eq(p.stdout, "", what + ": prints nothing on "
                              "stdout")
            finally:
                srv.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    gw = Gateway()
    # otactl never makes a state directory: otagw does at its first start
    os.makedirs(gw.state, 0o700)
    try:
        test_usage(gw)
        test_devices(gw)
        fw1, fw2 = test_firmware(gw)
        test_jobs(gw, fw1, fw2)
    finally:
        if checks.failed == 0:
            shutil.rmtree(gw.tmp, ignore_errors=True)
        else:
            print("state kept in " + gw.tmp, file=sys.stderr)
    test_id_order()
    test_limits()
    test_with_daemon()
    test_broken_connection()
    checks.done()


if __name__ == "__main__":
    main()
