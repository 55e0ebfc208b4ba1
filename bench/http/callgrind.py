# SPDX-License-Identifier: BSD-2-Clause
"""callgrind.py: otagw's instructions per 4 KiB range request, under valgrind.

    python3 bench/http/callgrind.py [-n N] BUILD [BUILD ...]

For each build and each protocol (HTTP/1.1 and HTTP/2, one request at a
time on each of 10 keep-alive connections, as devices send them): starts
BUILD/src/otagw under `valgrind --tool=callgrind` with a device, a
firmware and a job as bench/http does, sends N range requests
(`Range: bytes=0-4095`, the device's bearer secret) with h2load, stops
the daemon, and does it again with 3 x N.  The difference of the two
instruction totals over the 2 x N extra requests is the daemon's
instructions per range request in user space: its own code, OpenSSL,
nghttp2, the HTTP/1.1 parser and libc, not the kernel (valgrind does not
see it).  Instructions do not depend on the machine's load, so two builds
compare exactly where the CPU time of bench/http moves by 10 % between
rounds.  Standard library only; not part of `make check`.
"""

import argparse
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True

import bench  # noqa: E402


def instructions(a, build, proto, n):
    """callgrind's instruction total of one daemon run serving n ranges."""
    tmp = tempfile.mkdtemp(prefix="otagw-cg-http-")
    try:
        out = os.path.join(tmp, "callgrind.out")
        # the harness starts a.otagw: a wrapper that runs it under valgrind
        wrap = os.path.join(tmp, "otagw-cg")
        with open(wrap, "w") as f:
            f.write("#!/bin/sh\nexec valgrind --tool=callgrind "
                    "--callgrind-out-file=%s %s \"$@\"\n" % (
                        out, os.path.join(build, "src", "otagw")))
        os.chmod(wrap, stat.S_IRWXU)
        ns = argparse.Namespace(otagw=wrap, otactl=os.path.join(
            build, "src", "otactl"))
        cert, key = bench.benchlib.server_cert(tmp)
        image = os.path.join(tmp, "image.bin")
        with open(image, "wb") as f:
            f.write(os.urandom(a.size))
        gw = bench.Otagw(ns, tmp, cert, key, image)
        gw.start()
        try:
            args = [a.h2load] + (["--h1"] if proto == "h1" else [])
            for h in gw.headers:
                args += ["-H", h]
            args += ["-H", "range: bytes=0-4095", "-n", str(n), "-c", "10",
                     "-m", "1", gw.url]
            p = subprocess.run(args, capture_output=True, text=True,
                               timeout=900)
            m = re.search(r"status codes: (\d+) 2xx", p.stdout)
            if m is None or int(m.group(1)) != n:
                sys.exit("callgrind: h2load against %s: %s" % (
                    build, p.stdout[-600:] + p.stderr[-600:]))
        finally:
            gw.proc.send_signal(signal.SIGTERM)
            gw.proc.wait(120)
        with open(out) as f:
            m = re.search(r"^(?:summary|totals): (\d+)", f.read(), re.M)
        return int(m.group(1))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=2000,
                    help="requests of the shorter run (default 2000)")
    ap.add_argument("-s", "--size", type=int, default=1 << 20)
    ap.add_argument("--h2load", default=shutil.which("h2load") or "h2load")
    ap.add_argument("builds", nargs="+", metavar="BUILD")
    a = ap.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("callgrind: valgrind is needed (apt-get install valgrind)")
    print("%-30s %-6s %s" % ("build", "proto",
                             "instructions per 4 KiB range (user space)"))
    for build in a.builds:
        for proto in ("h1", "h2"):
            lo = instructions(a, build, proto, a.n)
            hi = instructions(a, build, proto, 3 * a.n)
            print("%-30s %-6s %d" % (build, proto,
                                     (hi - lo) // (2 * a.n)), flush=True)


if __name__ == "__main__":
    main()
