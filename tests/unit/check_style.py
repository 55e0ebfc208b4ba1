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

Comments and string literals are blanked out before the code is looked
at, so a "/*" or a brace in a string fools nothing; the function rules
do not apply inside a macro's body.  Before the tree, the checker runs
on a few bad snippets of its own and fails when one of them passes (and
when a good one fails); it also fails when it finds no C file.

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
LONG = re.compile(r"\blong\b", re.I)


def columns(line):
    col = 0
    for ch in line:
        col = (col // 8 + 1) * 8 if ch == "\t" else col + 1
    return col


def blank(text):
    """The text with every comment and the inside of every string and
    character literal turned into spaces (newlines kept), and for each
    line whether it starts inside a comment."""
    out = []
    starts_in_comment = [False]
    state = "code"      # or "block", "line", '"', "'"
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        nxt = text[i + 1] if i + 1 < n else ""
        if c == "\n":
            if state == "line":
                state = "code"
            out.append(c)
            starts_in_comment.append(state == "block")
            i += 1
            continue
        if state == "code":
            if c == "/" and nxt == "*":
                state = "block"
                out.append("  ")
                i += 2
                continue
            if c == "/" and nxt == "/":
                state = "line"
                out.append("  ")
                i += 2
                continue
            if c in "\"'":
                state = c
            out.append(c)
        elif state == "block":
            if c == "*" and nxt == "/":
                state = "code"
                out.append("  ")
                i += 2
                continue
            out.append("\t" if c == "\t" else " ")
        elif state == "line":
            out.append("\t" if c == "\t" else " ")
        else:   # in a string or character literal
            if c == "\\" and nxt not in ("", "\n"):
                out.append("  ")
                i += 2
                continue
            if c == state:
                state = "code"
                out.append(c)
            else:
                out.append(" ")
        i += 1
    return "".join(out).split("\n"), starts_in_comment


def check_file(path, rel):
    try:
        text = open(path, encoding="utf-8").read()
    except UnicodeDecodeError:
        return ["%s: not UTF-8" % rel]
    return check_text(text, rel)


def check_text(text, rel):
    bad = []
    lines = text.split("\n")
    code, in_comment = blank(text)
    in_directive = _directives(code)
    first = 1
    if not lines or lines[0] != "/* SPDX-License-Identifier: %s */" % \
            LICENSE:
        bad.append("%s:1: no SPDX-License-Identifier line" % rel)
    if first >= len(lines) or not lines[first].startswith("/*"):
        bad.append("%s:%d: the file does not open with a comment" %
                   (rel, first + 1))
    for n, line in enumerate(lines, 1):
        if columns(line) > MAX_COLS:
            bad.append("%s:%d: %d columns" % (rel, n, columns(line)))
        if line != line.rstrip():
            bad.append("%s:%d: trailing white space" % (rel, n))
        if in_comment[n - 1]:
            continue
        stripped = line.lstrip()
        if not stripped.startswith(("#", "/*", "*")) and \
                not INDENT.match(line):
            bad.append("%s:%d: indentation is not tabs (and up to four "
                       "spaces)" % (rel, n))
        if in_directive[n - 1]:
            continue    # a macro's body: no function rules
        m = TYPE_AND_NAME.match(code[n - 1]) or NAME_LINE.match(code[n - 1])
        brace = _opens_body(code, n) if m else 0
        if brace and not NAME_LINE.match(code[n - 1]):
            bad.append("%s:%d: return type and name of %s() on one line"
                       % (rel, n, m.group(1)))
        if brace and lines[brace - 1] != "{":
            bad.append("%s:%d: the opening brace of %s() is not alone at "
                       "the start of a line" % (rel, brace, m.group(1)))
    bad += check_functions(lines, rel)
    return bad


def _directives(code):
    """For each line, whether it belongs to a preprocessor directive
    (starts with "#", or continues one with a backslash)."""
    inside = []
    cont = False
    for line in code:
        inside.append(cont or line.lstrip().startswith("#"))
        cont = inside[-1] and line.endswith("\\")
    return inside


def _opens_body(code, n):
    """The function named on line n (1-based): the line of the "{" that
    opens its body, or 0 for a declaration (its parameters are followed
    by ";", "," or "=") or for something else."""
    depth = 0
    opened = False
    for i in range(n - 1, min(n + 40, len(code))):
        if code[i].lstrip().startswith("#"):
            return 0
        for ch in code[i]:
            if ch == "(":
                depth += 1
                opened = True
            elif ch == ")":
                depth -= 1
            elif opened and depth == 0:
                if ch == "{":
                    return i + 1
                if ch in ";,=":
                    return 0
    return 0


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
            k = j - 2  # above the return type
            comment = []
            while k >= 0 and lines[k].lstrip().startswith(("/*", "*")):
                comment.append(lines[k])
                k -= 1
            if not any(LONG.search(c) for c in comment):
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


HEAD = "/* SPDX-License-Identifier: %s */\n/* A snippet. */\n" % LICENSE
BODY = "{\n" + "\tg();\n" * (MAX_BODY + 1) + "}\n"
# (what the violation says, a snippet that has it)
SELFTEST_BAD = (
    ("columns", HEAD + "int x; /* " + "x" * 80 + " */\n"),
    ("indentation", HEAD + "static int\nf(void)\n{\n        return 0;\n}\n"),
    ("indentation", HEAD + 'static const char *s = "/*";\n      int y;\n'),
    ("trailing", HEAD + "int x; \n"),
    ("on one line", HEAD + "static int f(void)\n{\n\treturn 0;\n}\n"),
    ("on one line", HEAD + "static int f(int a,\n    int b)\n{\n}\n"),
    ("not alone", HEAD + "static int\nf(int a,\n    int b) {\n}\n"),
    ("not alone", HEAD + "static int\nf(void) { return 0; }\n"),
    ("long", HEAD + "/* Along the way. */\nstatic void\nf(void)\n" + BODY),
    ("SPDX", "/* A snippet. */\nint x;\n"),
)
# snippets with none
SELFTEST_GOOD = (
    HEAD + "int\t f(int,\n\t    int);\nvoid\t g(void) __attribute__((x));\n",
    HEAD + "#define F(x)\t\\\nstatic int\t\\\nf(void) { return x; }\n",
    HEAD + "/* Long: case after case. */\nstatic void\nf(void)\n" + BODY,
    HEAD + 'static const char *s = "{ /* (";\nstatic int\nf(void)\n{\n}\n',
)


def selftest():
    """A checker that passes everything checks nothing: each bad snippet
    must fail, and each good one pass."""
    broken = []
    for want, text in SELFTEST_BAD:
        if not any(want in b for b in check_text(text, "snippet")):
            broken.append("check_style self-test: no %r violation in %r"
                          % (want, text[len(HEAD):][:70]))
    for text in SELFTEST_GOOD:
        for b in check_text(text, "snippet"):
            broken.append("check_style self-test: %s in %r"
                          % (b, text[len(HEAD):][:70]))
    return broken


def main():
    passed = failed = 0
    broken = selftest()
    for b in broken:
        print(b)
    if broken:
        failed += 1
    nfiles = 0
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
                nfiles += 1
                bad = check_file(path, rel)
                if bad:
                    failed += 1
                    for b in bad:
                        print(b)
                else:
                    passed += 1
    if nfiles == 0:
        print("check_style: no .c or .h file under %s (OTAGW_SRCDIR?)" %
              ", ".join(os.path.join(TOP, d) for d in DIRS))
        failed += 1
    bad = check_scripts()
    for b in bad:
        print(b)
    passed, failed = passed + (not bad), failed + bool(bad)
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
