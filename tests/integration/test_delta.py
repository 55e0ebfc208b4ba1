# SPDX-License-Identifier: BSD-2-Clause
"""test_delta: otactl delta make writes patches that Debian's bspatch
applies.

For pairs chosen to hit the edge cases (empty images, 1-byte images,
identical images, unrelated random images, the old image longer and
shorter than the new one, small edits of 1 MiB and of 64 MiB, bzip2
block size 1) and a real pair (one C program built twice with a small
change), `otactl delta make OLD NEW PATCH` makes the patch, Debian's
/usr/bin/bspatch (package bsdiff) applies it, and the result must have
NEW's SHA-256; `otactl delta apply` must give the same.  Then the
command line's refusals: a missing input, a damaged patch, a result
whose SHA-256 or size is not the one given, usage errors; each leaves
no output file behind.  Outputs that are not plain files: a FIFO (as
/dev/null) is written in place, a symbolic link stays one.  Runs without a daemon, configuration or state
directory.  Exit 77 (skipped) without bspatch.
"""

import hashlib
import json
import os
import random
import shutil
import stat
import subprocess
import sys
import tempfile
import threading

from otagw_harness import OTACTL, Checks

checks = Checks()
BSPATCH = "/usr/bin/bspatch"


def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def otactl(*args, env=None):
    return subprocess.run([OTACTL] + list(args), capture_output=True,
                          text=True, timeout=600, env=env)


def write(d, name, data):
    path = os.path.join(d, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def edited(data, rng, every, insert=b""):
    """data with a byte changed every `every` bytes and insert after
    each tenth change."""
    out = bytearray()
    for i, start in enumerate(range(0, len(data), every)):
        piece = bytearray(data[start:start + every])
        if piece:
            piece[len(piece) // 2] ^= 0x5A
        out += piece
        if insert and i % 10 == 0:
            out += insert
    return bytes(out)


def roundtrip(d, name, old, new, *opts):
    """Makes OLD -> NEW with otactl, applies it with bspatch and with
    otactl; checks both results.  The patch's size, or None."""
    o = write(d, name + ".old", old) if isinstance(old, bytes) else old
    n = write(d, name + ".new", new) if isinstance(new, bytes) else new
    p = os.path.join(d, name + ".patch")
    r = otactl("--json", "delta", "make", o, n, p, *opts)
    if not checks.eq(r.returncode, 0, "%s: delta make (%s)" % (
            name, r.stderr.strip())):
        return None
    st = json.loads(r.stdout)
    size = os.path.getsize(p)
    checks.eq(st["patchSize"], size, "%s: patchSize is the file's" % name)
    out = os.path.join(d, name + ".bspatch")
    b = subprocess.run([BSPATCH, o, out, p], capture_output=True, text=True)
    checks.eq(b.returncode, 0, "%s: bspatch applies it (%s)" % (
        name, b.stderr.strip()))
    want = sha(n)
    checks.eq(sha(out) if os.path.exists(out) else None, want,
              "%s: bspatch's result has NEW's SHA-256" % name)
    out2 = os.path.join(d, name + ".apply")
    a = otactl("delta", "apply", o, p, out2, "--sha256", want,
               "--size", str(os.path.getsize(n)))
    checks.eq(a.returncode, 0, "%s: otactl delta apply (%s)" % (
        name, a.stderr.strip()))
    checks.eq(a.stdout.strip(), "%d bytes, sha256 %s" % (
        os.path.getsize(n), want), "%s: apply prints size and digest" % name)
    checks.eq(sha(out2) if os.path.exists(out2) else None, want,
              "%s: otactl's result has NEW's SHA-256" % name)
    print("  %s: old %d new %d patch %d" % (name, os.path.getsize(o),
          os.path.getsize(n), size), file=sys.stderr)
    for f in (out, out2):
        if os.path.exists(f):
            os.unlink(f)
    return size


def edge_cases(d):
    rng = random.Random(15)
    r1 = rng.randbytes(200000)
    r2 = rng.randbytes(300000)
    mib = rng.randbytes(1 << 20)
    roundtrip(d, "empty-empty", b"", b"")
    roundtrip(d, "empty-one", b"", b"x")
    roundtrip(d, "one-empty", b"x", b"")
    roundtrip(d, "one-one", b"x", b"y")
    size = roundtrip(d, "identical", mib, mib)
    checks.check(size is not None and size < 500,
                 "identical 1 MiB images: a patch of %s bytes" % size)
    roundtrip(d, "unrelated", r1, r2)
    roundtrip(d, "old-longer", r2, r2[1000:151000])
    roundtrip(d, "new-longer", r2[1000:151000], r2)
    new = edited(mib, rng, 4096, b"inserted")
    size = roundtrip(d, "edited-1m", mib, new)
    checks.check(size is not None and size < len(new) // 50,
                 "1 MiB with 256 edits: a patch of %s bytes" % size)
    roundtrip(d, "edited-1m-block1", mib, new, "--block", "1")


def big_pair(d):
    """64 MiB, edited every 64 KiB, with inserts."""
    rng = random.Random(64)
    old = rng.randbytes(64 << 20)
    new = edited(old, rng, 65536, b"0123456789abcdef")
    size = roundtrip(d, "edited-64m", old, new)
    checks.check(size is not None and size < 1 << 20,
                 "64 MiB with 1024 edits: a patch of %s bytes" % size)


PROGRAM = r"""
#include <stdio.h>
#include <string.h>
static const char *banner = "%s";
static int table[64];
static int
step(int x)
{
	return x * 1103515245 + %d;
}
int
main(int argc, char **argv)
{
	int i, x = argc;
	for (i = 0; i < 64; i++)
		table[i] = x = step(x);
	printf("%%s %%d %%zu\n", banner, table[x & 63], strlen(argv[0]));
	%s
	return 0;
}
"""


def real_pair(d):
    """One program built twice with a small change (a string, a
    constant and one more call)."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        checks.check(False, "a C compiler for the real pair")
        return
    exes = []
    for v, (banner, k, extra) in enumerate([
            ("otagw delta test 1.0", 12345, ""),
            ("otagw delta test 1.1", 12347, 'puts("new in 1.1");')]):
        src = write(d, "prog%d.c" % v,
                    (PROGRAM % (banner, k, extra)).encode())
        exe = os.path.join(d, "prog%d" % v)
        r = subprocess.run([cc, "-O2", "-g", "-o", exe, src],
                           capture_output=True, text=True)
        checks.eq(r.returncode, 0, "build %s (%s)" % (exe, r.stderr))
        exes.append(exe)
    size = roundtrip(d, "real", exes[0], exes[1])
    new = os.path.getsize(exes[1])
    checks.check(size is not None and size < new // 2,
                 "real pair: a patch of %s bytes for %d" % (size, new))


def refusals(d):
    rng = random.Random(3)
    old = write(d, "r.old", rng.randbytes(5000))
    new = write(d, "r.new", rng.randbytes(100) + open(old, "rb").read())
    patch = os.path.join(d, "r.patch")
    out = os.path.join(d, "r.out")

    r = otactl("delta", "make", old, os.path.join(d, "missing"), patch)
    checks.eq(r.returncode, 1, "make: a missing NEW fails")
    checks.check(r.stderr.startswith("otactl: ") and
                 "No such file" in r.stderr, "make: says why: " +
                 r.stderr.strip())
    checks.check(not os.path.exists(patch), "make: no PATCH left behind")
    checks.eq(otactl("delta", "make", old, new).returncode, 2,
              "make: two arguments is a usage error")
    checks.eq(otactl("delta", "make", old, new, patch, "--block",
                     "0").returncode, 2, "make: --block 0 is refused")
    r = otactl("--progress", "delta", "make", old, new, patch, "--verify")
    checks.eq(r.returncode, 0, "make --verify --progress")
    checks.check("delta: " in r.stderr and "(100%)" in r.stderr,
                 "--progress reports on stderr: %r" % r.stderr[-80:])
    checks.eq(r.stdout.strip().splitlines()[-1], patch,
              "make prints the patch's path last")
    checks.check(not [f for f in os.listdir(d) if f.startswith("r.patch.")],
                 "make leaves no temporary file")

    good = open(patch, "rb").read()
    want = sha(new)
    bad = write(d, "bad.patch", good[:-1])
    r = otactl("delta", "apply", old, bad, out)
    checks.eq(r.returncode, 1, "apply: a truncated patch fails")
    checks.check("corrupt patch" in r.stderr, "apply: says it is corrupt: " +
                 r.stderr.strip())
    checks.check(not os.path.exists(out), "apply: no OUT left behind")
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0xFF
    bad = write(d, "flip.patch", bytes(flipped))
    checks.eq(otactl("delta", "apply", old, bad, out).returncode, 1,
              "apply: a flipped byte fails")
    checks.eq(otactl("delta", "apply", old, write(d, "x.patch", b"BSDIFF4"),
                     out).returncode, 1, "apply: 7 bytes fail")
    r = otactl("delta", "apply", old, patch, out, "--sha256", "00" * 32)
    checks.eq(r.returncode, 1, "apply: another --sha256 fails")
    checks.check(not os.path.exists(out), "apply: then no OUT either")
    r = otactl("delta", "apply", old, patch, out, "--size", "5099")
    checks.eq(r.returncode, 1, "apply: a smaller --size fails")
    checks.eq(otactl("delta", "apply", old, patch, out, "--sha256",
                     "abc").returncode, 2, "apply: --sha256 abc is refused")
    p = subprocess.run([OTACTL, "delta", "apply", old, patch, "-"],
                       capture_output=True, timeout=60)
    checks.eq(hashlib.sha256(p.stdout).hexdigest(), want,
              "apply OUT '-': the result on stdout")
    checks.check(not [f for f in os.listdir(d) if f.startswith("r.out")],
                 "apply leaves no temporary file")
    # a corrupt patch bspatch would also reject: our refusal is not alone
    b = subprocess.run([BSPATCH, old, out, os.path.join(d, "x.patch")],
                       capture_output=True)
    checks.check(b.returncode != 0, "bspatch refuses the 7-byte patch too")


def read_fifo(path, got):
    """Reads the FIFO at path to its end, into got["data"]."""
    with open(path, "rb") as f:
        got["data"] = f.read()


def outputs(d):
    """PATCH and OUT that are not plain paths: a FIFO (as /dev/null, a
    device) is written in place, not renamed over; a symbolic link stays
    a link and its file gets the output."""
    rng = random.Random(5)
    old = write(d, "o.old", rng.randbytes(3000))
    new = write(d, "o.new", open(old, "rb").read()[:2000] +
                rng.randbytes(50))
    want = sha(new)
    fifo = os.path.join(d, "o.fifo")
    for cmd, args in (("make", [old, new]), ("apply", [old, None])):
        if os.path.exists(fifo):
            os.unlink(fifo)
        os.mkfifo(fifo)
        got = {}
        t = threading.Thread(target=read_fifo, args=(fifo, got))
        t.start()
        if args[1] is None:
            args[1] = os.path.join(d, "o.patch")
        r = otactl("delta", cmd, args[0], args[1], fifo)
        t.join(60)
        checks.eq(r.returncode, 0, "%s into a FIFO (%s)" % (
            cmd, r.stderr.strip()))
        checks.check(stat.S_ISFIFO(os.lstat(fifo).st_mode),
                     "%s: the FIFO is still a FIFO, not a file renamed "
                     "over it" % cmd)
        if cmd == "make":
            write(d, "o.patch", got.get("data", b""))
            b = subprocess.run([BSPATCH, old, os.path.join(d, "o.bsp"),
                                os.path.join(d, "o.patch")],
                               capture_output=True)
            checks.check(b.returncode == 0 and
                         sha(os.path.join(d, "o.bsp")) == want,
                         "make: what went through the FIFO is the patch")
        else:
            checks.eq(hashlib.sha256(got.get("data", b"")).hexdigest(),
                      want, "apply: what went through the FIFO is NEW")
    r = otactl("delta", "make", old, new, fifo, "--verify")
    checks.eq(r.returncode, 2, "make --verify into a FIFO: usage error")
    checks.check("not a regular file" in r.stderr, "and says why: " +
                 r.stderr.strip())

    real = write(d, "o.real", b"before")
    link = os.path.join(d, "o.link")
    os.symlink("o.real", link)
    r = otactl("delta", "apply", old, os.path.join(d, "o.patch"), link)
    checks.eq(r.returncode, 0, "apply into a symbolic link")
    checks.check(os.path.islink(link) and sha(real) == want,
                 "the link stays a link, its file holds NEW")
    checks.check(not [f for f in os.listdir(d) if f.startswith("o.real.")
                      or f.startswith("o.link.")],
                 "no temporary file left beside either")


def main():
    if not os.access(BSPATCH, os.X_OK):
        print("skip: no %s (apt-get install bsdiff)" % BSPATCH)
        sys.exit(77)
    d = tempfile.mkdtemp(prefix="otagw-delta-")
    try:
        edge_cases(d)
        real_pair(d)
        refusals(d)
        outputs(d)
        big_pair(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    checks.done()


if __name__ == "__main__":
    main()
