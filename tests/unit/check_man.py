#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""check_man: the manual pages in man/ are clean mdoc(7), and otagw.conf(5)
names every setting.

One check per page: `mandoc -Tlint -Wall PAGE` must print nothing.  The
one message allowed is mandoc's "referenced manual not found" for a page
of this tree (otagw.conf(5) pointing at otagw(8), say): with -Wall mandoc
looks for the pages an .Xr names only in /usr/share/man, where these are
not until they are installed.  Such a reference passes when the page it
names is in man/, which this check looks at itself.

One more check: every key of the table config_keys in src/config.c has
its own item (".It Ic KEY") in man/otagw.conf.5.

Prints each problem on a line of its own and "N passed, N failed" last,
like the rest of the suite; exit status 1 when anything failed.
Standard library only.
"""
import os
import re
import shutil
import subprocess
import sys

TOP = os.environ.get("OTAGW_SRCDIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAN = os.path.join(TOP, "man")
PAGES = ("otactl.1", "otagw.conf.5", "otagw.8")
XR_LOCAL = re.compile(r"STYLE: referenced manual not found: "
                      r"Xr (\S+) (\S+)( \(\d+ times\))?$")


def lint(mandoc, page):
    """The problems mandoc -Tlint -Wall finds in page, as lines."""
    proc = subprocess.run([mandoc, "-Tlint", "-Wall", page],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, check=False)
    bad = []
    for line in proc.stdout.splitlines():
        m = XR_LOCAL.search(line)
        if m and os.path.isfile(os.path.join(MAN, "%s.%s" % m.group(1, 2))):
            continue
        bad.append(line)
    if proc.returncode not in (0, 1, 2) and not bad:
        bad.append("%s: mandoc exited %d" % (page, proc.returncode))
    return bad


def config_keys():
    """The keys of config_keys in src/config.c."""
    text = open(os.path.join(TOP, "src", "config.c"), encoding="utf-8").read()
    m = re.search(r"config_keys\[\] = \{(.*?)\n\};", text, re.S)
    if m is None:
        return []
    return re.findall(r'\{ "([a-z0-9_]+)",', m.group(1))


def main():
    passed = failed = 0
    mandoc = shutil.which("mandoc")
    if mandoc is None:
        print("mandoc not found: apt-get install mandoc (quickstart.sh "
              "installs it)")
    for name in PAGES:
        page = os.path.join(MAN, name)
        if mandoc is None:
            bad = ["man/%s: not checked" % name]
        elif not os.path.isfile(page):
            bad = ["man/%s: missing" % name]
        else:
            bad = lint(mandoc, page)
        if bad:
            failed += 1
            for b in bad:
                print(b)
        else:
            passed += 1

    keys = config_keys()
    conf = os.path.join(MAN, "otagw.conf.5")
    items = set()
    if os.path.isfile(conf):
        for line in open(conf, encoding="utf-8"):
            m = re.match(r"\.It Ic ([a-z0-9_]+)", line)
            if m:
                items.add(m.group(1))
    missing = [k for k in keys if k not in items]
    if not keys:
        print("src/config.c: no config_keys table found")
        failed += 1
    elif missing:
        for k in missing:
            print("man/otagw.conf.5: setting %s (src/config.c) has no item"
                  % k)
        failed += 1
    else:
        passed += 1

    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
