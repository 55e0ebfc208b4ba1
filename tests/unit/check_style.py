#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""check_style: the layout rules of CONTRIBUTING.md, checked in make check.

Over every .c and .h file under src/, fuzz/ and tests/ (tests/tools too):

  - each file opens with its SPDX-License-Identifier line, then a comment
    that says what it is for;
  - lines are at most 80 columns, tabs counting to the next multiple of 8;
  - indentation is tabs, then at most four spaces (a continuation line),
    or the " *" of a block comment; no trailing white space;
  - a function definition has its return type on a line of its own, its
    name at the start of the next line, and its opening brace alone at
    the start of a line;
  - a function body of more than 100 lines has a comment right above the
    function that says why it is long (it uses the word "long").

One check per file; prints each violation, then "N passed, N failed".
Exit status 1 on a violation.  Standard library only.
"""
import os
import re
import sys

TOP = os.environ.get("OTAGW_SRCDIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DIRS = ("src", "fuzz", "tests")
SCRIPT_DIRS = ("bench", "fuzz", "tests", "certs", ".ci")
SCRIPTS = ("quickstart.sh", "configure.ac", "Makefile.am")
LICENSE = "BSD-2-Clause"
MAX_COLS = 80
MAX_BODY = 100

INDENT = re.compile(r"^\t*( {0,4}(?=\S)| \*|$)")
NAME_LINE = re.compile(r"^([A-Za-z_]\w*)\(")
TYPE_AND_NAME = re.compile(r"^(?!typedef|struct \w+ \{|enum|union|#)"
                           r"[A-Za-z_][\w \t\*]*[\s\*]"
                           r"(?!__attribute__)([A-Za-z_]\w*)\(")


def columns(line):
    col = 0
    for ch in line:
        col = (col // 8 + 1) * 8 if ch == "\t" else col + 1
    return col


def check_file(path, rel):
    bad = []
    try:
        lines = open(path, encoding="utf-8").read().split("\n")
    except UnicodeDecodeError:
        return ["%s: not UTF-8" % rel]
    first = 1
    if not lines or lines[0] != "/* SPDX-License-Identifier: %s */" % \
            LICENSE:
        bad.append("%s:1: no SPDX-License-Identifier line" % rel)
    if first >= len(lines) or not lines[first].startswith("/*"):
        bad.append("%s:%d: the file does not open with a comment" %
                   (rel, first + 1))
    in_comment = False
    for n, line in enumerate(lines, 1):
        if columns(line) > MAX_COLS:
            bad.append("%s:%d: %d columns" % (rel, n, columns(line)))
        if line != line.rstrip():
            bad.append("%s:%d: trailing white space" % (rel, n))
        stripped = line.lstrip()
        if not in_comment and not stripped.startswith(("#", "/*", "*")) \
                and not INDENT.match(line):
            bad.append("%s:%d: indentation is not tabs (and up to four "
                       "spaces)" % (rel, n))
        if "/*" in line and "*/" not in line[line.index("/*"):]:
            in_comment = True
        elif in_comment and "*/" in line:
            in_comment = False
        m = TYPE_AND_NAME.match(line)
        if m and not line.rstrip().endswith((";", ",")) and \
                _opens_body(lines, n):
            bad.append("%s:%d: return type and name of %s() on one line"
                       % (rel, n, m.group(1)))
    bad += check_functions(lines, rel)
    return bad


def _opens_body(lines, n):
    """Does the declaration starting at line n (1-based) open a body?"""
    for i in range(n - 1, min(n + 8, len(lines))):
        s = lines[i].rstrip()
        if s.endswith(";"):
            return False
        if s == "{" or s.endswith(")") and i + 1 < len(lines) and \
                lines[i + 1] == "{":
            return True
    return False


def check_functions(lines, rel):
    """Long bodies need a reason above them."""
    bad = []
    i = 0
    while i < len(lines):
        if lines[i] != "{":
            i += 1
            continue
        # find the name line above the brace
        j = i - 1
        while j >= 0 and not NAME_LINE.match(lines[j]):
            if lines[j] == "" or lines[j].startswith(("}", "#")):
                j = -1
                break
            j -= 1
        end = i + 1
        while end < len(lines) and lines[end] != "}":
            end += 1
        if j >= 0 and end - i - 1 > MAX_BODY:
            name = NAME_LINE.match(lines[j]).group(1)
            k = j - 2	# above the return type
            comment = []
            while k >= 0 and lines[k].lstrip().startswith(("/*", "*")):
                comment.append(lines[k])
                k -= 1
            if not any("long" in c.lower() for c in comment):
                bad.append("%s:%d: %s() has %d lines and no comment above "
                           "it saying why it is long" %
                           (rel, j + 1, name, end - i - 1))
        i = end + 1
    return bad


def check_scripts():
    """Scripts (Python, shell) carry the SPDX line in their first two
    lines (after a #! line); one check for all of them."""
    paths = [os.path.join(TOP, f) for f in SCRIPTS]
    for d in SCRIPT_DIRS:
        for dirpath, _, files in sorted(os.walk(os.path.join(TOP, d))):
            if "/corpus" in dirpath or "/regress" in dirpath:
                continue
            paths += [os.path.join(dirpath, f) for f in sorted(files)
                      if f.endswith((".py", ".sh")) or f == "run"]
    bad = []
    for path in paths:
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            head = [f.readline() for _ in range(2)]
        if not any("SPDX-License-Identifier: " + LICENSE in h
                   for h in head):
            bad.append("%s: no SPDX-License-Identifier line" %
                       os.path.relpath(path, TOP))
    return bad


def main():
    passed = failed = 0
    for d in DIRS:
        for dirpath, _, files in sorted(os.walk(os.path.join(TOP, d))):
            if "/." in dirpath or "/corpus" in dirpath or \
                    "/regress" in dirpath:
                continue
            for f in sorted(files):
                if not f.endswith((".c", ".h")):
                    continue
                path = os.path.join(dirpath, f)
                rel = os.path.relpath(path, TOP)
                bad = check_file(path, rel)
                if bad:
                    failed += 1
                    for b in bad:
                        print(b)
                else:
                    passed += 1
    bad = check_scripts()
    for b in bad:
        print(b)
    passed, failed = passed + (not bad), failed + bool(bad)
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
