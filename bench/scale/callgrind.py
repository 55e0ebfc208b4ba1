# SPDX-License-Identifier: BSD-2-Clause
"""callgrind.py: instructions per read-only check, under valgrind.

    python3 bench/scale/callgrind.py BUILD [BUILD ...]

For each build: provisions 2,000 devices with nothing pending, starts
BUILD/src/otagw under `valgrind --tool=callgrind`, sends 2,000 checks
(each device's first: a write, as last_seen is set) and then, in a second
run, 6,000; the difference of the two runs' instruction totals over the
4,000 extra checks (read-only: each device again within the minute) is
the daemon's instructions per read-only check, start-up and shutdown
cancelled out.  Instructions do not depend on the load of the machine,
so two builds compare exactly where wall-clock rounds are noisy.
Standard library only; not part of `make check`.
"""

import os
import re
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration"))
sys.dont_write_bytecode = True

from otagw_harness import COAP_POST, CoapUdp, free_port  # noqa: E402

DEVICES = 2000


def instructions(build, checks):
    tmp = tempfile.mkdtemp(prefix="otagw-cg-")
    state = os.path.join(tmp, "var")
    os.makedirs(state, 0o700)
    port = free_port()
    conf = os.path.join(tmp, "otagw.conf")
    with open(conf, "w") as f:
        f.write("gateway_id g\nstate_dir %s\nlog_level warn\n"
                "coap_listen 127.0.0.1:%d\ncoaps_listen off\n"
                "https_listen off\nadmin_listen off\n" % (state, port))
    csv = os.path.join(tmp, "d.csv")
    with open(csv, "w") as f:
        f.write("".join("idle,i%04d,,%032x\n" % (i, i + 1)
                        for i in range(DEVICES)))
    subprocess.run([os.path.join(build, "src", "otactl"), "--state", state,
                    "device", "import", csv], check=True,
                   capture_output=True)
    out = os.path.join(tmp, "callgrind.out")
    with open(os.path.join(tmp, "log"), "wb") as log:
        p = subprocess.Popen(["valgrind", "--tool=callgrind",
                              "--callgrind-out-file=" + out,
                              os.path.join(build, "src", "otagw"), "-d",
                              "-c", conf], stdout=log, stderr=log)
        time.sleep(1)
        c = CoapUdp("127.0.0.1", port, timeout=10)
        for i in range(checks):
            if c.request(COAP_POST, "/ota/i%04d/check" % (i % DEVICES),
                         b"{}") is None:
                sys.exit("callgrind: no answer from %s" % build)
        c.close()
        p.send_signal(signal.SIGTERM)
        p.wait(120)
    with open(out) as f:
        m = re.search(r"^(?:summary|totals): (\d+)", f.read(), re.M)
    return int(m.group(1))


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: callgrind.py BUILD [BUILD ...]")
    for build in sys.argv[1:]:
        a = instructions(build, DEVICES)
        b = instructions(build, 3 * DEVICES)
        print("%s: %d instructions per read-only check" % (
            build, (b - a) // (2 * DEVICES)))


if __name__ == "__main__":
    main()
