#!/usr/bin/env python3
"""test_manpages.py - the manual pages cannot drift from the programs.

For each program and its page (sources beside the code; the list is
PAGES below, the same pages cmake/install.cmake installs):
  1. every option the program's --help lists (long, and short ones such as
     -h) is documented in the page as a tagged paragraph (the line after
     `.TP`), and every option the page documents that way is in --help;
  2. `man --warnings -l PAGE` renders it with nothing on stderr (groff's
     warnings: a bad macro, a broken font escape, a line it cannot fit),
     and the rendering names the program;
  3. -h and --help print the same text and exit 0; --version and -V print
     "PROG VERSION" and exit 0 (the same -h/--help/--version habits
     everywhere). dhtd takes --help and --version (its short options are
     its own business).
The topology file format page, dht-topology(5), has no program: it is
rendered and must name every statement the parser knows (ring, node, at)
and every scenario action.

Usage: test_manpages.py --bin BUILD_DIR. Exit 77 (skipped) when man(1)
is not installed, saying so.
"""

import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import Runner, TestFailure, check, parse_args  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# program (as run), page source, how to run it
PAGES = [
    ("dht", "tools/dht/dht.1"),
    ("dht-viz", "tools/viz/dht-viz.1"),
    ("dht-sim", "tools/sim/dht-sim.1"),
    ("dht-topo", "tools/topo/dht-topo.1"),
    ("dhtd", "tools/dhtd/dhtd.8"),
]
FORMAT_PAGE = "tools/common/dht-topology.5"
TIMEOUT = 30

LONG = re.compile(r"(?<![\w-])--([a-z][a-z0-9-]*)")
SHORT = re.compile(r"(?<![\w-])-([A-Za-z])(?![\w-])")


def program(bin_dir, name):
    if name == "dht-topo":
        return [sys.executable, os.path.join(REPO, "tools", "dht-topo")]
    return [os.path.join(bin_dir, name)]


def run(argv):
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=TIMEOUT)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def options_of(text):
    # `dht ring --json` in a help text names another program's option.
    text = re.sub(r"`[^`\n]*`", " ", text)
    return ({"--" + m for m in LONG.findall(text)} |
            {"-" + m for m in SHORT.findall(text)})


def page_options(path):
    """The options the page documents: those on the tag line of a .TP."""
    lines = open(path, encoding="utf-8").read().splitlines()
    tags = []
    for i, line in enumerate(lines[:-1]):
        if line.strip() == ".TP":
            tags.append(lines[i + 1])
    text = "\n".join(tags).replace("\\-", "-")
    text = re.sub(r"\\f[BIRP]", "", text).replace('"', " ")
    return options_of(text)


def render(path):
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8", MAN_KEEP_STDERR="1")
    p = subprocess.run(["man", "--warnings", "-l", path],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=TIMEOUT, env=env)
    return p.returncode, p.stdout.decode(errors="replace"), \
        p.stderr.decode(errors="replace")


def check_in_step(bin_dir, name, page):
    code, helptext, err = run(program(bin_dir, name) + ["--help"])
    check(code == 0, "%s --help: exit %d, %r" % (name, code, err[:200]))
    want = options_of(helptext)
    have = page_options(os.path.join(REPO, page))
    check("--help" in want and "--version" in want,
          "%s --help does not list --help and --version" % name)
    missing = sorted(want - have)
    extra = sorted(have - want)
    check(not missing, "%s: options in --help but not documented in %s: %s"
          % (name, page, " ".join(missing)))
    check(not extra, "%s: options documented in %s but not in --help: %s"
          % (name, page, " ".join(extra)))


def check_renders(page, must_name):
    code, out, err = render(os.path.join(REPO, page))
    check(code == 0 and err.strip() == "",
          "man -l %s: exit %d, warnings: %r" % (page, code, err[:400]))
    for word in must_name:
        check(word in out, "man -l %s: the rendering lacks %r" % (page, word))


def check_habits(bin_dir, name):
    prog = program(bin_dir, name)
    code, long_help, _ = run(prog + ["--help"])
    check(code == 0, "%s --help exits %d" % (name, code))
    variants = [["--version"]]
    if name != "dhtd":
        code, short_help, _ = run(prog + ["-h"])
        check(code == 0 and short_help == long_help,
              "%s -h: exit %d, same text as --help: %s"
              % (name, code, short_help == long_help))
        variants.append(["-V"])
    for v in variants:
        code, out, err = run(prog + v)
        check(code == 0 and re.match(r"^%s \d+\.\d+\.\d+" % re.escape(name),
                                     out),
              "%s %s: exit %d, %r %r" % (name, v[0], code, out, err[:200]))


def main():
    args = parse_args(__doc__.splitlines()[0])
    if not shutil.which("man"):
        print("SKIP: man(1) is not installed (Debian: man-db)")
        return 77
    r = Runner("test_manpages")
    for name, page in PAGES:
        r.run("%s in step with --help" % page, check_in_step, args.bin, name,
              page)
        r.run("%s renders" % page, check_renders, page, [name])
        r.run("%s -h/--help/--version" % name, check_habits, args.bin, name)
    r.run("%s renders" % FORMAT_PAGE, check_renders, FORMAT_PAGE,
          ["ring", "node", "at", "kill", "pause", "resume", "restart",
           "leave", "join", "load", "check", "successors=", "stabilize_ms=",
           "replicas=", "heartbeat_ms=", "sync_ms=", "id=", "data=",
           "rate="])
    return r.finish()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except TestFailure as e:
        print("FAIL: %s" % e)
        sys.exit(1)
