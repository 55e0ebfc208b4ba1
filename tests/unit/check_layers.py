#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""check_layers: every #include in src/ follows the rules of
docs/architecture.md ("Include rules").

The rules are read from that page's table, so the page and the check
cannot drift apart.  Each row names a module (a directory under src/, or
one file such as `coap/msg.c`), the modules or headers it may include
besides the ground floor, and the third-party headers it may include.
A row for a file adds to its module's row.  The ground floor (the row
whose module is `ground floor`) may be included from anywhere and
includes nothing above itself.

    "x/y.h" is allowed in module m when x is m, or x is on the ground
            floor, or m's row names `x` or `x/y.h`
    <lib/..> is allowed when the file's row, or its module's, names a
            prefix of it (`<openssl/`) or the header itself (`<lmdb.h>`);
            the C library and POSIX headers are not third-party

Prints one line per violation and "N passed, N failed" (one check per
source file) like the rest of the suite; exit status 1 on a violation.
Standard library only.
"""
import os
import re
import sys

TOP = os.environ.get("OTAGW_SRCDIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOC = os.path.join(TOP, "docs", "architecture.md")
SRC = os.path.join(TOP, "src")

# Third-party headers: every include of these is checked against the rules.
THIRD_PARTY = ("coap3/", "lmdb.h", "cjson/", "openssl/", "nghttp2/",
               "http_parser.h", "systemd/", "bzlib.h", "divsufsort")


def read_rules():
    """{module or file: (set of includes, set of library prefixes)} and
    the ground floor's members."""
    text = open(DOC, encoding="utf-8").read()
    m = re.search(r"^## Include rules\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    if not m:
        sys.exit("check_layers: no 'Include rules' section in %s" % DOC)
    rules, ground = {}, set()
    for line in m.group(1).splitlines():
        if not line.startswith("| `"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        while len(cells) < 3:
            cells.append("")
        names = re.findall(r"`([^`]+)`", cells[0])
        incs = set(re.findall(r"`([^`<>]+)`", cells[1]))
        libs = set(re.findall(r"`<([^`>]+)>?`", cells[2]))
        for name in names:
            if name == "ground floor":
                ground |= incs
                rules.setdefault("ground floor", (set(), set()))[1].update(
                    libs)
                continue
            r = rules.setdefault(name, (set(), set()))
            r[0].update(incs)
            r[1].update(libs)
    return rules, ground


def module_of(rel, ground):
    """The module of src/rel: its first directory, or the file's name
    without its extension when it sits at the top (main, log, ev...)."""
    if "/" in rel:
        return rel.split("/", 1)[0]
    return os.path.splitext(rel)[0]


def in_ground(inc, ground):
    return module_of(inc, ground) in ground


def main():
    rules, ground = read_rules()
    passed = failed = 0
    for dirpath, _, files in sorted(os.walk(SRC)):
        for f in sorted(files):
            if not f.endswith((".c", ".h")):
                continue
            path = os.path.join(dirpath, f)
            rel = os.path.relpath(path, SRC)
            mod = module_of(rel, ground)
            base = os.path.splitext(rel)[0]
            own = set()
            libs = set()
            for key in (mod, rel, base + ".c", base + ".h"):
                if key in rules:
                    own |= rules[key][0]
                    libs |= rules[key][1]
            bad = []
            for n, line in enumerate(open(path, encoding="utf-8"), 1):
                m = re.match(r'\s*#\s*include\s+([<"])([^>"]+)[>"]', line)
                if not m:
                    continue
                kind, inc = m.groups()
                if kind == "<":
                    if not inc.startswith(THIRD_PARTY):
                        continue
                    if not any(inc.startswith(l) for l in libs):
                        bad.append("%s:%d: <%s> is not for %s" %
                                   (rel, n, inc, mod))
                    continue
                if inc.endswith(".c"):
                    bad.append("%s:%d: includes a .c file" % (rel, n))
                    continue
                tmod = module_of(inc, ground)
                if tmod == mod or inc in own or tmod in own:
                    continue
                if in_ground(inc, ground):
                    continue  # anyone may, the ground floor too
                bad.append('%s:%d: "%s" is not for %s (docs/architecture.md,'
                           ' Include rules)' % (rel, n, inc, mod))
            if bad:
                failed += 1
                for b in bad:
                    print(b)
            else:
                passed += 1
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
