#!/usr/bin/env python3
"""lockstep(1), the page docs/meson.build builds with `lockstep man`:
  - groff (and man-db's man) format it without a single warning;
  - it is what the program writes now, and its .TH carries the version;
  - every command of `lockstep --help` has a SYNOPSIS entry and a section
    under COMMANDS with every option --help shows for it, and no more;
    every option src/main.c parses is in --help;
  - every key of `lockstep config-reference` is under its group in
    CONFIGURATION, in the same order, and no other;
  - every LOCKSTEP_* variable the sources read is in ENVIRONMENT;
  - it is plain ASCII (other characters as \\[uXXXX]), and no text line
    starts with a '.' or '\\'' that troff would take for a request.
Prints TAP.

usage: man_page.py LOCKSTEP_BINARY LOCKSTEP_1 SOURCE_ROOT [FILTER]
"""
import os
import re
import shutil
import subprocess
import sys

import tap

LS = os.path.abspath(sys.argv[1])
PAGE = os.path.abspath(sys.argv[2])
ROOT = os.path.abspath(sys.argv[3])
FILTER = sys.argv[4] if len(sys.argv) > 4 else ""
SUITE = tap.Suite()
test = SUITE.test

# the request names man(7) and groff's an-ext define, and what the page uses
KNOWN_REQUESTS = {"TH", "SH", "SS", "TP", "PP", "B", "I", "BR", "IR", "RB", "BI", "br", "SY", "YS", "EX", "EE", "\\\""}


def run(*args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=60, **kw)


def page_text():
    with open(PAGE, encoding="ascii") as f:
        return f.read()


def unescape(s):
    """The page's troff text as typed: the escapes ls_man_str() writes undone,
    font changes dropped."""
    s = re.sub(r"\\f[BIRP]", "", s)
    s = re.sub(r"\\\[u([0-9A-F]{4,6})\]", lambda m: chr(int(m.group(1), 16)), s)
    return s.replace("\\-", "-").replace("\\(dq", '"').replace("\\&", "").replace("\\ ", " ").replace("\\e", "\\")


def section(text, name):
    """The lines of .SH NAME, up to the next .SH."""
    lines = text.split("\n")
    head = ".SH " + name if " " not in name else '.SH "%s"' % name
    assert head in lines, "the page has no %s section" % head
    out = []
    for line in lines[lines.index(head) + 1:]:
        if line.startswith(".SH "):
            break
        out.append(line)
    return out


def macro_arg(line, macro):
    """The argument of `.MACRO arg` or `.MACRO "arg"`, unescaped."""
    arg = line[len(macro) + 2:]
    if arg.startswith('"') and arg.endswith('"'):
        arg = arg[1:-1]
    return unescape(arg)


def help_commands():
    """{command: [options]} from `lockstep --help`, in its order."""
    out = run(LS, "--help")
    assert out.returncode == 0, out.stderr
    cmds, cur = {}, None
    for line in out.stdout.split("\n")[1:]:
        # a synopsis, then three spaces and a summary (no options there)
        words = line.strip().split("   ")[0].split()
        if line.startswith("  lockstep "):
            name = []
            for w in words[1:]:
                if not re.fullmatch(r"[a-z][a-z-]*", w):
                    break
                name.append(w)
            cur = " ".join(name)
            assert cur and cur not in cmds, "--help: %r" % line
            cmds[cur] = []
        elif cur is None:
            continue
        for w in words:
            m = re.match(r"\[?(--[a-z][a-z-]*)", w)
            if m and m.group(1) not in cmds[cur]:
                cmds[cur].append(m.group(1))
    assert len(cmds) >= 10, "--help lists only %s" % list(cmds)
    return cmds


@test
def groff_no_warnings():
    """groff -ww: every warning on (bad macros, escapes, lines it cannot
    break, missing glyphs); -z: no output, only the diagnostics."""
    if not shutil.which("groff"):
        raise tap.SkipTest("groff is not installed (Debian: groff-base)")
    for width in ("80", "60"):
        out = run("groff", "-man", "-Tutf8", "-ww", "-z", "-rLL=%sn" % width, PAGE)
        assert out.returncode == 0 and not out.stderr.strip(), "groff -ww at %s columns:\n%s" % (width, out.stderr)


@test
def man_no_warnings():
    """man-db's own pipeline (preconv, tbl, groff) as a reader gets it."""
    if not shutil.which("man"):
        raise tap.SkipTest("man is not installed (Debian: man-db)")
    env = dict(os.environ, MANWIDTH="80", MAN_KEEP_FORMATTING="", LC_ALL="C.UTF-8")
    out = run("man", "--warnings=w", "-E", "UTF-8", "-l", PAGE, env=env)
    assert out.returncode == 0 and not out.stderr.strip(), "man --warnings=w:\n%s" % out.stderr
    text = out.stdout
    for head in ("NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "CONFIGURATION", "FILES", "ENVIRONMENT",
                 "EXIT STATUS", "SEE ALSO"):
        assert re.search(r"^%s$" % head, text, re.M), "the rendered page has no %s heading" % head


@test
def page_is_the_programs():
    out = run(LS, "man")
    assert out.returncode == 0 and not out.stderr, out.stderr
    assert out.stdout == page_text(), "%s is not what `lockstep man` writes now (rebuild)" % PAGE
    version = run(LS, "version").stdout.split()[-1]
    th = [l for l in out.stdout.split("\n") if l.startswith(".TH ")]
    assert th == ['.TH LOCKSTEP 1 "" "lockstep %s" "User Commands"' % version], th
    assert run(LS, "man", "extra").returncode == 2


@test
def plain_troff():
    text = page_text()  # opened as ASCII: raises on anything else
    for i, line in enumerate(text.split("\n"), 1):
        if line.startswith("'"):
            raise AssertionError("line %d starts with ' (a request to troff): %r" % (i, line))
        if line.startswith("."):
            req = line[1:].split(" ")[0]
            assert req in KNOWN_REQUESTS, "line %d: unknown request .%s: %r" % (i, req, line)
        # a lone backslash followed by something ls_man_str() never writes
        for m in re.finditer(r"\\(.)", line):
            assert m.group(1) in "-e&f[( \"", "line %d: escape \\%s: %r" % (i, m.group(1), line)
    assert "\t" not in text


@test
def commands_documented():
    text = page_text()
    want = help_commands()
    # COMMANDS: a .SS per command, its options as .TP tags "\fB\-\-opt\fR..."
    have, cur = {}, None
    lines = section(text, "COMMANDS")
    for i, line in enumerate(lines):
        if line.startswith(".SS "):
            cur = macro_arg(line, "SS")
            have[cur] = []
        elif line == ".TP" and cur:
            m = re.match(r"(--[a-z][a-z-]*)", unescape(lines[i + 1]))
            assert m, "COMMANDS %s: a .TP without an option: %r" % (cur, lines[i + 1])
            have[cur].append(m.group(1))
    assert list(have) == list(want), "COMMANDS sections %s, --help commands %s" % (list(have), list(want))
    for cmd in want:
        assert have[cmd] == want[cmd], "%s: --help shows %s, the man page %s" % (cmd, want[cmd], have[cmd])
    # SYNOPSIS: one .SY per command, its name in bold on the next line
    syn = section(text, "SYNOPSIS")
    names = [macro_arg(syn[i + 1], "B") for i, l in enumerate(syn) if l == ".SY lockstep"]
    assert names == list(want), "SYNOPSIS has %s" % names


@test
def parsed_options_documented():
    """The options src/main.c's parsers compare arguments with (strcmp) are
    in --help, and so in the page: a new option cannot go undocumented."""
    with open(os.path.join(ROOT, "src", "main.c"), encoding="utf-8") as f:
        parsed = set(re.findall(r'strcmp\([^,()]+, "(--[a-z][a-z-]*)"\)', f.read()))
    assert len(parsed) >= 30, "found only %s in src/main.c" % sorted(parsed)
    shown = {o for opts in help_commands().values() for o in opts}
    missing = sorted(parsed - shown)
    assert not missing, "src/main.c parses %s, --help does not show them (add them to cmds[])" % missing


@test
def config_keys_documented():
    out = run(LS, "config-reference")
    assert out.returncode == 0, out.stderr
    want, group = {}, None
    for line in out.stdout.split("\n"):
        if line.startswith("["):
            group = line[:line.index("]") + 1]
            want[group] = []
        elif line:
            want[group].append(line.split(" = ")[0])
    assert len(want) >= 10 and sum(len(k) for k in want.values()) >= 100, want
    have, group = {}, None
    lines = section(page_text(), "CONFIGURATION")
    for i, line in enumerate(lines):
        if line.startswith(".SS "):
            group = macro_arg(line, "SS")
            have[group] = []
        elif line == ".TP":
            assert group, "CONFIGURATION: a key before any group"
            have[group].append(macro_arg(lines[i + 1], "B"))
    assert list(have) == list(want), "groups: man page %s, config-reference %s" % (list(have), list(want))
    for g in want:
        assert have[g] == want[g], "%s: config-reference has %s, the man page %s" % (g, want[g], have[g])


@test
def environment_documented():
    names = set()
    for d in ("src", "lib"):
        for dirpath, _, files in os.walk(os.path.join(ROOT, d)):
            for f in files:
                if f.endswith((".c", ".h")):
                    with open(os.path.join(dirpath, f), encoding="utf-8", errors="replace") as fh:
                        names.update(re.findall(r'getenv\("((?:LOCKSTEP|LS)_[A-Z0-9_]+)"\)', fh.read()))
    assert "LOCKSTEP_ORT_LIB" in names, "found no getenv() of LOCKSTEP_ORT_LIB under %s" % ROOT
    env = unescape("\n".join(section(page_text(), "ENVIRONMENT")))
    missing = sorted(n for n in names if not re.search(r"\b%s\b" % n, env))
    assert not missing, "ENVIRONMENT does not mention %s" % missing


if __name__ == "__main__":
    sys.exit(SUITE.run(FILTER))
