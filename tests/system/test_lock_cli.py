#!/usr/bin/env python3
"""test_lock_cli.py - `dht append`, `--fence` and `dht lock` as a user
meets them (issue 15), on a 3-node ring.

  1. Usage errors touch no node: a malformed token, a bad --fence, a lock
     option with another command, a missing subcommand -> exit 2 with one
     line (one JSON object with --json), nothing on stdout.
  2. append: two appends to a new key give their bytes in order; `-`
     reads stdin.
  3. lock acquire prints a token "<32 hex>:<fence>"; status --json names
     its client as the holder with its fence, no waiters; a second
     acquire with --wait-ms 300 exits 5 after about that long with one
     line, and leaves no waiter behind.
  4. lock append queues (the key is untouched until release); release
     applies the queue in order; the token no longer works (renew and
     append exit 4 with one line; release again is a retry: exit 0, and
     nothing is applied twice).
  5. A new grant has a higher fence; a put fenced with the old one is
     refused (exit 4, the value unchanged), one with the new fence goes
     through.

Usage: test_lock_cli.py --bin BUILD_DIR.
"""

import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import (Cluster, check, one_line_error, parse_args,  # noqa: E402
                    run_cmd, run_steps)

TOKEN = re.compile(r"^([0-9a-f]{32}):([1-9][0-9]*)$")


class Locks:
    def __init__(self, cluster, nodes):
        self.c = cluster
        self.nodes = nodes

    def dht(self, *args, stdin=None, node=0):
        return self.c.dht(self.nodes[node], *args, stdin=stdin)

    def ok(self, *args, stdin=None, node=0):
        r = self.dht(*args, stdin=stdin, node=node)
        check(r.code == 0, "want exit 0: %s" % r.describe())
        return r

    def value(self, key):
        return self.ok("get", key).out

    def acquire(self, name, *extra):
        r = self.ok("lock", "acquire", name, *extra)
        token = r.out.strip()
        m = TOKEN.match(token)
        check(m is not None, "not a token: %s" % r.describe())
        return token, m.group(1), int(m.group(2))

    def status(self, name):
        r = self.ok("lock", "status", name, "--json")
        return json.loads(r.out)

    def usage_errors(self):
        dead = "127.0.0.1:1"
        bad = [
            ["lock"],
            ["lock", "frob", "L"],
            ["lock", "acquire"],
            ["lock", "renew", "L", "nothex:1"],
            ["lock", "release", "L", "0" * 32 + ":0"],
            ["lock", "append", "L", "0" * 32 + ":1", "k"],
            ["lock", "status", "L", "--wait-ms", "5"],
            ["put", "k", "v", "--fence", "L"],
            ["put", "k", "v", "--fence", "L:x"],
            ["get", "k", "--fence", "L:1"],
            ["put", "k", "v", "--lease-ms", "100"],
        ]
        for args in bad:
            r = run_cmd([self.c.dht_bin, "--node", dead] + args)
            check(r.code == 2 and r.out == "" and one_line_error(r),
                  "want a one-line usage error: %s" % r.describe())
            r = run_cmd([self.c.dht_bin, "--node", dead, "--json"] + args)
            obj = json.loads(r.err)
            check(r.code == 2 and obj.get("exit") == 2,
                  "want a JSON usage error: %s" % r.describe())

    def appends(self):
        self.ok("append", "log", "one;")
        self.ok("append", "log", "two;", node=1)
        self.ok("append", "log", "-", stdin="three;", node=2)
        got = self.value("log")
        check(got == "one;two;three;", "appended value: %r" % got)

    def acquire_and_status(self):
        token, client, fence = self.acquire("printer", "--lease-ms", "20000")
        self.token, self.fence = token, fence
        st = self.status("printer")
        check(st["name"] == "printer" and st["held"] is True
              and st["holder"] == client and st["fence"] == fence
              and st["waiters"] == [] and st["queued"] == []
              and st["releasing"] is False
              and 0 < st["lease_left_ms"] <= 20000,
              "status after acquire: %r" % st)
        t0 = time.monotonic()
        r = self.dht("lock", "acquire", "printer", "--wait-ms", "300",
                     node=1)
        took = time.monotonic() - t0
        check(r.code == 5 and r.out == "" and one_line_error(r),
              "a held lock: want exit 5 and one line: %s" % r.describe())
        check(0.3 <= took < 10, "gave up after %.2f s" % took)
        st = self.status("printer")
        check(st["waiters"] == [], "the waiter left the queue: %r" % st)

    def queue_and_release(self):
        self.ok("put", "jobs", "start;")
        self.ok("lock", "append", "printer", self.token, "jobs", "page1;")
        self.ok("lock", "append", "printer", self.token, "jobs", "-",
                stdin="page2;", node=2)
        check(self.value("jobs") == "start;", "applied before release")
        st = self.status("printer")
        check([q["value"] for q in st["queued"]] == ["page1;", "page2;"]
              and all(q["key"] == "jobs" for q in st["queued"]),
              "queued appends: %r" % st)
        self.ok("lock", "renew", "printer", self.token)
        self.ok("lock", "release", "printer", self.token, node=1)
        got = self.value("jobs")
        check(got == "start;page1;page2;", "after release: %r" % got)
        st = self.status("printer")
        check(st["held"] is False and st["holder"] is None
              and st["queued"] == [], "status after release: %r" % st)
        for args in (["renew", "printer", self.token],
                     ["append", "printer", self.token, "jobs", "x"]):
            r = self.dht("lock", *args)
            check(r.code == 4 and r.out == "" and one_line_error(r),
                  "an old token: want exit 4: %s" % r.describe())
        # Releasing again is a retry of a release that completed: 0, and
        # nothing is applied a second time.
        self.ok("lock", "release", "printer", self.token, node=2)
        check(self.value("jobs") == "start;page1;page2;", "changed by "
              "an old token")

    def fences(self):
        token, _, fence = self.acquire("printer")
        check(fence > self.fence, "fence %d after %d" % (fence, self.fence))
        self.ok("put", "report", "new", "--fence", "printer:%d" % fence)
        r = self.dht("put", "report", "late", "--fence",
                     "printer:%d" % self.fence)
        check(r.code == 4 and one_line_error(r),
              "an older fence: want exit 4: %s" % r.describe())
        r = self.dht("append", "report", "!", "--fence",
                     "printer:%d" % self.fence, node=2)
        check(r.code == 4, "a fenced append: want exit 4: %s" % r.describe())
        check(self.value("report") == "new", "written despite the fence")
        self.ok("lock", "release", "printer", token)


def main():
    args = parse_args(__doc__.splitlines()[0])
    c = Cluster(args.bin, name="locks", seed=args.seed)
    first = c.start_node()
    nodes = [first, c.start_node(join=first), c.start_node(join=first)]
    c.wait_ring(nodes)
    t = Locks(c, nodes)
    return run_steps("test_lock_cli", c, [
        ("usage errors touch no node", t.usage_errors),
        ("append", t.appends),
        ("acquire, status, a second acquire times out!",
         t.acquire_and_status),
        ("lock append, release, an old token", t.queue_and_release),
        ("fences", t.fences),
    ])


if __name__ == "__main__":
    sys.exit(main())
