#!/usr/bin/env python3
"""test_failover.py - the client fails over, within its budget: a ring of
three dhtd processes on 127.0.0.1, driven through the `dht` CLI.

What a user would notice, checked in order (each step needs the previous):
  1. three daemons form a ring; a few keys are written;
  2. `dht --node A --node B get KEY` with A frozen (SIGSTOP: the connection
     opens, no answer comes; a timeout, not a refusal) prints the value
     through B within --timeout-ms;
  3. with every node frozen, `dht --timeout-ms 1500` exits 3 within about
     1.5 s, with one line on stderr that names each node tried;
  4. a node that is still joining (its successor-to-be is frozen, so its
     JOIN waits) answers a client with a REDIRECT naming the seed it joins
     through; `dht --node JOINER put/get` follows it and succeeds while the
     joiner still says it is joining; once the frozen node resumes, the
     joiner becomes active.

Usage: test_failover.py --bin BUILD_DIR [--seed N]. Exits non-zero on
failure. Every node frozen is resumed before the test goes on, and on
every way out (the harness sends SIGCONT before SIGTERM).
"""

import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import (ID_SPACE, MSG_C_RESULT, STATUS_REDIRECT,  # noqa: E402
                    Cluster, Runner, TestFailure, check, connect,
                    decode_c_result_hint, encode_c_get, id_hex, node_id,
                    one_line_error, parse_args, read_frame, true_successor)

BUDGET_MS = 1500     # step 3: the whole budget of one command
SLACK_S = 1.0        # process start and exit around it (sanitizer builds)


def value_matches(out, value):
    return out == value or out == value + "\n"


class FailoverTest:
    def __init__(self, args):
        self.c = Cluster(args.bin, name="failover", seed=args.seed)
        self.rng = self.c.rng
        self.ring = []
        self.frozen = []

    # -- helpers ---------------------------------------------------------

    def freeze(self, node):
        check(self.c.signal_node(node, signal.SIGSTOP),
              "cannot SIGSTOP %s" % node.addr)
        self.frozen.append(node)

    def thaw_all(self):
        for n in self.frozen:
            self.c.signal_node(n, signal.SIGCONT)
        self.frozen = []

    def key_not_owned_by(self, banned, prefix):
        """A key whose owner (among the first three nodes) is not in
        `banned`."""
        addrs = [n.addr for n in self.ring]
        bad = {n.addr for n in banned}
        for i in range(1000):
            k = "%s-%d" % (prefix, i)
            if true_successor(k, addrs) not in bad:
                return k
        raise TestFailure("no key found outside %s" % sorted(bad))

    def timed_dht(self, *args, nodes):
        t0 = time.monotonic()
        r = self.c.dht(None, *args, nodes=nodes)
        return r, time.monotonic() - t0

    # -- steps -----------------------------------------------------------

    def step_ring(self):
        a = self.c.start_node()
        b = self.c.start_node(join=a)
        c = self.c.start_node(join=b)
        self.ring = [a, b, c]
        self.c.wait_ring(self.ring)
        print("  ring %s" % " ".join(n.addr for n in self.ring))

    def step_frozen_first_seed(self):
        a, b, _ = self.ring
        key = self.key_not_owned_by([a], "fz")
        r = self.c.dht(b, "put", key, "through-b")
        check(r.code == 0, "put: " + r.describe())
        self.freeze(a)
        try:
            r, took = self.timed_dht("--timeout-ms", "4000", "get", key,
                                     nodes=[a, b])
        finally:
            self.thaw_all()
        check(r.code == 0 and value_matches(r.out, "through-b"),
              "get with the first seed frozen: " + r.describe())
        check(took < 4.0 + SLACK_S,
              "get took %.2f s, the budget is 4 s" % took)
        print("  get through %s with %s frozen: %.2f s (its share: 2 s)"
              % (b.addr, a.addr, took))

    def step_all_frozen(self):
        for n in self.ring:
            self.freeze(n)
        try:
            r, took = self.timed_dht("--timeout-ms", str(BUDGET_MS), "get",
                                     "anything", nodes=self.ring)
        finally:
            self.thaw_all()
        check(r.code == 3, "expected exit 3: " + r.describe())
        check(took >= BUDGET_MS / 1000.0 - 0.05,
              "gave up after %.2f s, before its budget" % took)
        check(took < BUDGET_MS / 1000.0 + SLACK_S,
              "took %.2f s with --timeout-ms %d" % (took, BUDGET_MS))
        check(one_line_error(r), "not one line: " + r.describe())
        check("cannot reach the ring" in r.err,
              "no 'cannot reach the ring': " + r.describe())
        for n in self.ring:
            check(n.addr in r.err, "%s not named: %s" % (n.addr,
                                                         r.describe()))
        print("  exit 3 after %.2f s: %s" % (took, r.err.strip()))
        self.c.wait_ring(self.ring, timeout=30.0)
        self.wait_serving()

    def wait_serving(self, timeout=20.0):
        """Wait (bounded) until a put through each node succeeds: after a
        freeze the failure detectors take a moment to trust each other
        again."""
        deadline = time.monotonic() + timeout
        for i, n in enumerate(self.ring):
            while True:
                r = self.c.dht(n, "put", "settle-%d" % i, "x")
                if r.code == 0:
                    break
                check(time.monotonic() < deadline,
                      "%s does not serve puts again: %s" % (n.addr,
                                                            r.describe()))
                time.sleep(0.2)

    def joiner_status(self, joiner):
        r = self.c.dht(joiner, "--timeout-ms", "1000", "status", "--json",
                       timeout=10)
        if r.code != 0:
            return None
        return json.loads(r.out).get("state")

    def step_joining_redirects(self):
        a, b, c = self.ring
        # The joiner sits just before c: its JOIN goes to c, which is
        # frozen, so it stays joining; it joins through a, which serves.
        jid = (node_id(c.addr) - 1) % ID_SPACE
        self.freeze(c)
        try:
            d = self.c.start_node(join=a, wait=False,
                                  extra=["--id", id_hex(jid)])
            deadline = time.monotonic() + 10
            state = None
            while time.monotonic() < deadline and state is None:
                state = self.joiner_status(d)
            check(state == "joining",
                  "joiner %s state %r, expected joining" % (d.addr, state))

            # The node's answer, on the wire: REDIRECT naming its seed.
            s = connect(d.addr)
            try:
                s.sendall(encode_c_get(41, "k"))
                mtype, req_id, body = read_frame(s)
            finally:
                s.close()
            check(mtype == MSG_C_RESULT and req_id == 41,
                  "reply type %d id %d" % (mtype, req_id))
            st, err, _, hint = decode_c_result_hint(body)
            check(st == STATUS_REDIRECT and hint == a.addr,
                  "joiner answered status %d hint %r (%s), expected a "
                  "redirect to %s" % (st, hint, err, a.addr))
            print("  %s answers: %s" % (d.addr, err))

            # The client follows it: put and get through the joiner alone
            # (the owner alone acknowledges: c, a replica, is frozen).
            key = self.key_not_owned_by([c], "jn")
            r = self.c.dht(d, "--timeout-ms", "4000", "--consistency", "one",
                           "put", key, "via-j")
            check(r.code == 0, "put through the joiner: " + r.describe())
            r = self.c.dht(d, "--timeout-ms", "4000", "--consistency", "one",
                           "get", key)
            check(r.code == 0 and value_matches(r.out, "via-j"),
                  "get through the joiner: " + r.describe())
            state = self.joiner_status(d)
            check(state == "joining",
                  "joiner no longer joining (%r): the redirect was not "
                  "what served" % state)
        finally:
            self.thaw_all()
        self.c.wait_ready(d, timeout=30.0)
        r = self.c.dht(d, "get", key)
        check(r.code == 0 and value_matches(r.out, "via-j"),
              "get through the joiner once active: " + r.describe())
        print("  %s active after the thaw" % d.addr)


def main():
    args = parse_args(__doc__.splitlines()[0])
    runner = Runner("test_failover")
    t = FailoverTest(args)
    steps = [
        ("a ring of 3", t.step_ring),
        ("first seed frozen: the second serves", t.step_frozen_first_seed),
        ("all frozen: exit 3 within the budget", t.step_all_frozen),
        ("a joining node redirects", t.step_joining_redirects),
    ]
    t0 = time.monotonic()
    try:
        for name, fn in steps:
            if not runner.run(name, fn):
                t.thaw_all()
                print("later steps skipped; logs:\n" + t.c.dump_logs(),
                      flush=True)
                break
        dead = t.c.count_deaths()
        if dead:
            runner.failed += dead
    finally:
        t.thaw_all()
        t.c.cleanup()
    print("total %.1f s" % (time.monotonic() - t0))
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
