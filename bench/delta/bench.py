# SPDX-License-Identifier: BSD-2-Clause
"""bench.py: otactl delta make against Debian's bsdiff.

Run through bench/delta/run.sh (see bench/README.md).  For each pair of
images, `otactl delta make OLD NEW PATCH` and `bsdiff OLD NEW PATCH` run
in alternating rounds (A B, B A, ...); each run is timed (wall clock)
and its peak resident memory read from the kernel (wait4's ru_maxrss).
Both patches are applied once with Debian's bspatch and must give NEW.
The pairs:

  synthetic  random bytes of -s SIZE, and the same with a byte changed
             every 64 KiB and 16 bytes inserted after every tenth change
  real       two Debian versions of one executable or library
             (apt-get download into --cache; skipped when offline):
             libcrypto.so.3 and libssl.so.3 of libssl3, nginx of
             nginx

Figures: patch size (the same every round), time and peak memory as
median (min-max) of the rounds, the ratios otactl/bsdiff taken round by
round, and the share of NEW's bytes a patch saves (1 - patch / new).
Targets (issue 15): size at most 1.02x, time at most 1.0x, peak memory
at most 0.5x bsdiff's.  Exit status: 0 every target met, 3 one missed,
1 an error.
"""

import argparse
import glob
import hashlib
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)
sys.path.insert(0, BENCH)
sys.dont_write_bytecode = True
import benchlib  # noqa: E402

# (package, old version, new version, file in the package)
REAL = [
    ("libssl3", "3.0.20-1~deb12u2", "3.0.22-1~deb12u2",
     "usr/lib/x86_64-linux-gnu/libcrypto.so.3"),
    ("libssl3", "3.0.20-1~deb12u2", "3.0.22-1~deb12u2",
     "usr/lib/x86_64-linux-gnu/libssl.so.3"),
    ("nginx", "1.22.1-9+deb12u9", "1.22.1-9+deb12u12",
     "usr/sbin/nginx"),
]
TARGETS = {"size": 1.02, "time": 1.0, "mem": 0.5}


def say(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def synthetic(d, size):
    rng = random.Random(15)
    old = rng.randbytes(size)
    out = bytearray()
    for i, start in enumerate(range(0, size, 65536)):
        piece = bytearray(old[start:start + 65536])
        piece[len(piece) // 2] ^= 0x5A
        out += piece
        if i % 10 == 0:
            out += b"0123456789abcdef"
    name = "random-%dM" % (size >> 20)
    o = os.path.join(d, name + ".old")
    n = os.path.join(d, name + ".new")
    with open(o, "wb") as f:
        f.write(old)
    with open(n, "wb") as f:
        f.write(bytes(out))
    return (name + "-edited", o, n)


def fetch_deb(cache, pkg, ver):
    """The package's files, extracted under cache; None when offline."""
    key = "%s_%s" % (pkg, ver.replace(":", "%3a"))
    root = os.path.join(cache, key)
    if os.path.isdir(root):
        return root
    os.makedirs(cache, exist_ok=True)
    r = subprocess.run(["apt-get", "download", "%s=%s" % (pkg, ver)],
                       cwd=cache, capture_output=True, text=True)
    debs = glob.glob(os.path.join(cache, "%s_*.deb" % pkg))
    deb = [p for p in debs if ver.split(":")[-1].replace("~", "%7e") in p
           or ver.split(":")[-1] in p]
    if r.returncode != 0 or not deb:
        say("cannot download %s %s: %s" % (pkg, ver, r.stderr.strip()))
        return None
    subprocess.run(["dpkg-deb", "-x", deb[0], root], check=True)
    return root


def real_pairs(cache):
    pairs = []
    for pkg, v1, v2, path in REAL:
        a = fetch_deb(cache, pkg, v1)
        b = fetch_deb(cache, pkg, v2)
        if a is None or b is None:
            continue
        o = os.path.join(a, path)
        n = os.path.join(b, path)
        if os.path.isfile(o) and os.path.isfile(n):
            pairs.append(("%s %s" % (os.path.basename(path),
                                     v1 + ".." + v2), o, n))
    return pairs


def run(a, cmd):
    """Runs cmd under /usr/bin/time: (wall seconds, peak RSS in KiB)."""
    t0 = time.monotonic()
    p = subprocess.run([a.time, "-f", "maxrss %M"] + cmd,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       text=True)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd),
                                                   p.returncode, p.stderr))
    last = p.stderr.strip().splitlines()[-1]
    if not last.startswith("maxrss "):
        raise RuntimeError("no maxrss from %s: %r" % (a.time, last))
    return wall, int(last.split()[1])


def measure_pair(a, d, name, old, new):
    patches = {"otactl": os.path.join(d, "p.otactl"),
               "bsdiff": os.path.join(d, "p.bsdiff")}
    cmds = {"otactl": [a.otactl, "delta", "make", old, new,
                       patches["otactl"]] + (["--block", str(a.block)]
                                             if a.block else []),
            "bsdiff": [a.bsdiff, old, new, patches["bsdiff"]]}

    def one(tool, rnd):
        if os.path.exists(patches[tool]):
            os.unlink(patches[tool])
        wall, rss = run(a, cmds[tool])
        return {"time": wall, "mem": rss,
                "size": os.path.getsize(patches[tool])}

    say("%s: %d -> %d bytes, %d rounds" % (name, os.path.getsize(old),
                                           os.path.getsize(new), a.rounds))
    res = benchlib.alternate(["otactl", "bsdiff"], a.rounds, one)
    want = sha(new)
    for tool, p in patches.items():
        out = os.path.join(d, "applied")
        subprocess.run([a.bspatch, old, out, p], check=True)
        if sha(out) != want:
            raise RuntimeError("%s: bspatch of %s's patch is not NEW" %
                               (name, tool))
        os.unlink(out)
    row = {"pair": name, "old": os.path.getsize(old),
           "new": os.path.getsize(new)}
    for tool in ("otactl", "bsdiff"):
        r = res[tool]
        row[tool] = {"size": r[-1]["size"],
                     "time": benchlib.summary([x["time"] for x in r]),
                     "mem_kib": benchlib.summary([x["mem"] for x in r]),
                     "saved": 1 - r[-1]["size"] / max(row["new"], 1)}
    o, b = res["otactl"], res["bsdiff"]
    row["ratio"] = {
        "size": o[-1]["size"] / b[-1]["size"],
        "time": benchlib.summary(benchlib.paired_ratios(
            [x["time"] for x in o], [x["time"] for x in b])),
        "mem": benchlib.summary(benchlib.paired_ratios(
            [x["mem"] for x in o], [x["mem"] for x in b]))}
    return row


def report(env, rows):
    print(env.header("bench/delta: otactl delta make against bsdiff"))
    print("# time and memory: median (min-max) of the rounds; ratios "
          "otactl/bsdiff round by round")
    fmt = "%-44s %-8s %10s %7s %22s %22s"
    print(fmt % ("pair", "tool", "patch", "saved", "time s",
                 "peak MiB"))
    ok = True
    for r in rows:
        for tool in ("otactl", "bsdiff"):
            t = r[tool]
            mem = dict(t["mem_kib"])
            mem.update({k: (v / 1024 if v is not None else None)
                        for k, v in mem.items() if k != "values"})
            print(fmt % (r["pair"][:44], tool, t["size"],
                         "%.2f%%" % (100 * t["saved"]),
                         benchlib.spread(t["time"], "%.2f"),
                         benchlib.spread(mem, "%.0f")))
        q = r["ratio"]
        print(fmt % ("", "ratio", "%.3fx" % q["size"], "",
                     benchlib.spread(q["time"], "%.2f") + "x",
                     benchlib.spread(q["mem"], "%.2f") + "x"))
        miss = [k for k in ("size", "time", "mem")
                if (q[k] if k == "size" else q[k]["median"]) > TARGETS[k]]
        if miss:
            ok = False
            print("%44s target missed: %s" % ("", ", ".join(miss)))
    print("# targets: patch size <= %.2fx, time <= %.2fx, peak memory "
          "<= %.2fx of bsdiff" % (TARGETS["size"], TARGETS["time"],
                                  TARGETS["mem"]))
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-B", "--builddir", default=".")
    ap.add_argument("--otactl")
    ap.add_argument("--bsdiff", default="/usr/bin/bsdiff")
    ap.add_argument("--bspatch", default="/usr/bin/bspatch")
    ap.add_argument("--time", default="/usr/bin/time",
                    help="GNU time, for the peak memory (package time)")
    ap.add_argument("-r", "--rounds", type=int, default=3,
                    help="alternating rounds (default 3)")
    ap.add_argument("-s", "--size", type=int, default=16,
                    help="synthetic images of SIZE MiB (default 16; "
                    "0 skips them)")
    ap.add_argument("--block", type=int, default=0,
                    help="otactl's bzip2 block size (default: its 9)")
    ap.add_argument("--cache", default=os.path.join(
        os.path.expanduser("~"), ".cache", "otagw-bench-delta"),
        help="where the Debian packages of the real pairs are kept")
    ap.add_argument("--no-real", action="store_true",
                    help="skip the real pairs (no download)")
    ap.add_argument("--json", metavar="FILE")
    ap.add_argument("-k", "--keep", action="store_true")
    a = ap.parse_args()
    a.otactl = benchlib.find_bin(a.otactl, "otactl", a.builddir)
    for tool in (a.bsdiff, a.bspatch, a.time):
        if not os.access(tool, os.X_OK):
            say("error: no %s (apt-get install bsdiff time)" % tool)
            return 1
    env = benchlib.RunEnv("delta")
    d = tempfile.mkdtemp(prefix="otagw-bench-delta-")
    rows = []
    try:
        pairs = [synthetic(d, a.size << 20)] if a.size > 0 else []
        if not a.no_real:
            pairs += real_pairs(a.cache)
        for name, old, new in pairs:
            rows.append(measure_pair(a, d, name, old, new))
    except (RuntimeError, OSError, subprocess.CalledProcessError) as e:
        say("error: %s" % e)
        return 1
    finally:
        if a.keep:
            say("kept %s" % d)
        else:
            shutil.rmtree(d, ignore_errors=True)
    env.finish()
    ok = report(env, rows)
    if a.json:
        benchlib.write_json(a.json, env.as_dict(rows=rows,
                                                targets=TARGETS))
    return 0 if ok else 3


if __name__ == "__main__":
    sys.exit(main())
