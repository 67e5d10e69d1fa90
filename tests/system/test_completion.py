#!/usr/bin/env python3
"""test_completion.py - the bash completion of dht
(tools/dht/dht.bash-completion), as bash itself runs it.

What a user would notice: `dht loo<TAB>` offers lookup; `dht <TAB>` offers
every command `dht --help` lists; `dht --js<TAB>` offers --json; after a
command no second command is offered; bench's own options come only
after `bench`; `--consistency q<TAB>` offers quorum; `--file <TAB>`
offers files; and every option the completion offers is one `dht --help`
lists (so the two cannot drift apart).

Usage: test_completion.py --bin BUILD_DIR. Exit 77 when bash is missing.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import Runner, check, parse_args  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCRIPT = os.path.join(REPO, "tools", "dht", "dht.bash-completion")


def complete(line, cwd=None):
    """The candidates bash's completion function gives for `line` (the
    cursor at its end), one per element."""
    words = line.split(" ")
    prog = (". %s\n" % SCRIPT +
            "COMP_WORDS=(%s)\n" % " ".join("'%s'" % w for w in words) +
            "COMP_CWORD=%d\n" % (len(words) - 1) +
            "COMP_LINE='%s'\nCOMP_POINT=%d\n" % (line, len(line)) +
            "_dht_complete dht '%s' '%s'\n" % (words[-1], words[-2]) +
            "printf '%s\\n' \"${COMPREPLY[@]}\"\n")
    p = subprocess.run(["bash", "--norc", "--noprofile", "-c", prog],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=20, cwd=cwd)
    check(p.returncode == 0 and p.stderr == b"",
          "bash: exit %d, %r" % (p.returncode, p.stderr[:200]))
    return [w for w in p.stdout.decode().split("\n") if w]


def main():
    args = parse_args(__doc__.splitlines()[0])
    if not shutil.which("bash"):
        print("SKIP: bash is not installed")
        return 77
    helptext = subprocess.run([os.path.join(args.bin, "dht"), "--help"],
                              stdout=subprocess.PIPE, timeout=20,
                              check=True).stdout.decode()
    commands = re.findall(r"^  ([a-z]+) ", helptext.split("commands:")[1]
                          .split("\n\n")[0], re.M)
    r = Runner("test_completion")

    def subcommand():
        got = complete("dht loo")
        check(got == ["lookup"], "dht loo<TAB>: %r" % got)
        got = complete("dht --node 127.0.0.1:7000 st")
        check(got == ["status"], "after an option and its value: %r" % got)

    def every_command():
        got = complete("dht ")
        check(sorted(got) == sorted(set(commands)),
              "dht <TAB>: %r, --help lists %r" % (got, commands))

    def options():
        check(complete("dht --js") == ["--json"], "--js<TAB>")
        check(complete("dht get k ") == [], "no second command after get")
        check("--keyspace" not in complete("dht get k --"),
              "bench options offered outside bench")
        check("--keyspace" in complete("dht bench --"),
              "bench options not offered after bench")
        check(complete("dht --consistency q") == ["quorum"],
              "--consistency q<TAB>")
        every = complete("dht bench -")
        listed = set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", helptext))
        check(set(every) <= listed, "offered but not in --help: %r"
              % sorted(set(every) - listed))

    def files():
        with tempfile.TemporaryDirectory() as d:
            open(os.path.join(d, "value.bin"), "wb").close()
            got = complete("dht put k --file val", cwd=d)
            check(got == ["value.bin"], "--file val<TAB>: %r" % got)

    r.run("a subcommand completes", subcommand)
    r.run("every command of --help", every_command)
    r.run("options and values", options)
    r.run("file names after --file", files)
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
