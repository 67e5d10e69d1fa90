#!/usr/bin/env python3
"""test_restart.py - a ring remembers itself across restarts (issue 19):
three `dhtd --replicas 3 --data DIR` killed with SIGKILL and restarted on
their directories WITHOUT --join, as a service manager would, come back
as one ring.

What a user would notice, checked in order:
  1. three nodes form a ring; 300 puts are acknowledged; every node holds
     every key, and its data directory's `peers` file (first line
     "chord-peers 1", then one address per line) lists the two others;
  2. all three get SIGKILL and are restarted, each on its own port and
     directory and without --join, in a random order with a random pause
     of 0-2 s between starts: each logs that it is rejoining through the
     2 peers known before; within 10 s of the last start `dht ring` from
     every node lists all three in id order, and all 300 keys read back;
  3. SIGKILL of all three again; one restarts first and waits alone for
     a few seconds: it reports itself active on a ring of its own and
     logs that none of its peers answered; then the two others start
     (again without --join) and within 10 s the three are one ring and
     every key reads back (the lone node found them again and merged);
  4. a node whose `peers` file is corrupt says so in one line and creates
     a new ring, as if there were no file.

Usage: test_restart.py --bin BUILD_DIR [--seed N]. Prints one line per
step and "N passed, M failed"; exits non-zero on failure. DHT_KEEP_LOGS=1
keeps the logs and data directories. Every daemon is stopped by PID on
every way out (see common.py).
"""

import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import (KILL_TIMEOUT, Cluster, Runner, TestFailure,  # noqa: E402
                    check, parallel, parse_args, put_all)

N_NODES = 3
N_KEYS = 300
REPLICAS = 3
WORKERS = 3            # dht processes at a time (2 cores)
PLACE_TIMEOUT = 30.0   # every node holds every key, and lists its peers
RING_TIMEOUT = 10.0    # one ring after the last restart (the acceptance)
PAUSE_MAX = 2.0        # longest pause between two restarts
ALONE_S = 3.0          # how long the first node of step 3 stays alone
PEERS_HEADER = "chord-peers 1"


class RestartTest:
    def __init__(self, args):
        self.args = args
        self.c = Cluster(args.bin, name="restart", seed=args.seed)
        self.rng = self.c.rng
        self.dirs = [os.path.join(self.c.tmp, "data-%d" % i)
                     for i in range(N_NODES)]
        self.ports = []
        self.nodes = []
        self.kv = {}

    def flags(self, i):
        return ["--replicas", str(REPLICAS), "--data", self.dirs[i]]

    def peers_listed(self, i):
        """The addresses the `peers` file of node i lists (None when it is
        missing or does not start with the version line)."""
        try:
            with open(os.path.join(self.dirs[i], "peers")) as f:
                lines = f.read().splitlines()
        except OSError:
            return None
        if not lines or lines[0] != PEERS_HEADER:
            return None
        return set(lines[1:])

    def status(self, node):
        r = self.c.dht(node, "--timeout-ms", "3000", "status", "--json",
                       timeout=10)
        check(r.code == 0, "status failed: " + r.describe())
        return json.loads(r.out)

    def check_keys(self, what):
        keys = sorted(self.kv)

        def get(k):
            return k, self.c.dht(self.rng.choice(self.nodes), "get", k)
        bad = [(k, r) for k, r in parallel(get, keys, WORKERS)
               if r.code != 0 or r.out.rstrip("\n") != self.kv[k]]
        check(not bad, "%d of %d keys unreadable or wrong %s; first: %s\n%s"
              % (len(bad), len(keys), what,
                 bad[0][1].describe() if bad else "", self.c.dump_logs()))

    def kill_all(self):
        for n in self.nodes:
            self.c.signal_node(n, signal.SIGKILL)
        for n in self.nodes:
            n.proc.wait(timeout=KILL_TIMEOUT)
            check(n.proc.returncode == -signal.SIGKILL,
                  "%s exited with %s, not by SIGKILL"
                  % (n.addr, n.proc.returncode))

    def restart(self, i):
        """Start node i again on its port and directory, without --join,
        without waiting for it."""
        n = self.c.start_node(port=self.ports[i], extra=self.flags(i),
                              wait=False)
        self.nodes[i] = n
        return n

    def wait_one_ring(self, since, what):
        """One ring of the three within RING_TIMEOUT of `since`."""
        left = since + RING_TIMEOUT - time.monotonic()
        try:
            self.c.wait_ring(timeout=max(left, 0.5))
        except TestFailure as e:
            raise TestFailure("%s: %s" % (what, e))
        print("  one ring %.1f s after the last start"
              % (time.monotonic() - since), flush=True)

    def step_ring_and_keys(self):
        first = self.c.start_node(extra=self.flags(0))
        self.nodes = [first]
        for i in range(1, N_NODES):
            self.nodes.append(self.c.start_node(join=first,
                                                extra=self.flags(i)))
        self.ports = [n.port for n in self.nodes]
        self.c.wait_ring()
        self.kv = {"restart-%04d" % i: "v%d-%d" % (
            i, self.rng.randrange(1 << 30)) for i in range(N_KEYS)}
        items = sorted(self.kv.items())

        def put(kv):
            return self.c.dht(self.rng.choice(self.nodes), "put", kv[0],
                              kv[1])
        took = put_all(put, items, WORKERS)
        print("  %d puts acknowledged in %.1f s" % (N_KEYS, took),
              flush=True)
        deadline = time.monotonic() + PLACE_TIMEOUT
        while True:
            held = [self.status(n)["keys"] for n in self.nodes]
            listed = [self.peers_listed(i) for i in range(N_NODES)]
            want = [set(n.addr for n in self.nodes if n is not m)
                    for m in self.nodes]
            if held == [N_KEYS] * N_NODES and all(
                    listed[i] is not None and want[i] <= listed[i]
                    for i in range(N_NODES)):
                break
            if time.monotonic() > deadline:
                raise TestFailure("after %.0f s: keys held %s (expected %d "
                                  "each), peers files list %s (expected at "
                                  "least %s)" % (PLACE_TIMEOUT, held, N_KEYS,
                                                 listed, want))
            time.sleep(0.25)

    def step_random_order(self):
        self.kill_all()
        order = list(range(N_NODES))
        self.rng.shuffle(order)
        pauses = [round(self.rng.uniform(0, PAUSE_MAX), 2)
                  for _ in order[1:]] + [0]
        print("  restart order %s, pauses %s s"
              % ([self.ports[i] for i in order], pauses[:-1]), flush=True)
        for i, pause in zip(order, pauses):
            self.restart(i)
            time.sleep(pause)
        last = time.monotonic()
        self.wait_one_ring(last, "after restarting all three without --join")
        for n in self.nodes:
            log = n.log_text()
            check("rejoining the ring through the 2 peers known before" in log,
                  "%s did not log that it rejoins through its 2 peers:\n%s"
                  % (n.addr, n.log_tail()))
        self.check_keys("after the restart in a random order")

    def step_first_alone(self):
        self.kill_all()
        order = list(range(N_NODES))
        self.rng.shuffle(order)
        lone = self.restart(order[0])
        st = self.c.wait_ready(lone)
        t_active = time.monotonic()
        succ = [s.get("addr") for s in st.get("successors", [])]
        check(all(a == lone.addr for a in succ),
              "%s should be alone, its successors are %s" % (lone.addr, succ))
        time.sleep(max(0.0, ALONE_S - (time.monotonic() - t_active)))
        check("none of the 2 peers known before answered" in lone.log_text(),
              "%s did not say it started alone:\n%s"
              % (lone.addr, lone.log_tail()))
        ring = self.c.dht_json(lone, "ring", "--json")
        check([e.get("addr") for e in ring] == [lone.addr],
              "the lone node's ring lists %s" % [e.get("addr") for e in ring])
        for k, i in enumerate(order[1:]):
            if k:
                time.sleep(round(self.rng.uniform(0, 1.0), 2))
            self.restart(i)
        last = time.monotonic()
        self.wait_one_ring(last, "after the lone node's peers came back")
        self.check_keys("after the lone node merged with its peers")

    def step_corrupt_file(self):
        d = os.path.join(self.c.tmp, "data-corrupt")
        os.makedirs(d)
        with open(os.path.join(d, "peers"), "w") as f:
            f.write(PEERS_HEADER + "\n" + "x" * 200 + ":1\n")
        n = self.c.start_node(extra=["--data", d])
        log = n.log_text()
        lines = [l for l in log.splitlines() if "peers" in l and "WARN" in l]
        check(len(lines) == 1 and "line 2 is longer than" in lines[0],
              "expected one WARN line about line 2 of the peers file:\n%s"
              % log)
        check("created a new ring" in log,
              "a node with a corrupt peers file should create a new ring:\n"
              + log)
        self.c.stop_node(n)


def main():
    args = parse_args(__doc__.splitlines()[0])
    t = RestartTest(args)
    r = Runner("test_restart")
    try:
        ok = r.run("3 nodes --data: ring, %d puts, peers files list the "
                   "others" % N_KEYS, t.step_ring_and_keys)
        ok = ok and r.run("kill -9 all, restart without --join in random "
                          "order: one ring within 10 s, every key back",
                          t.step_random_order)
        ok = ok and r.run("kill -9 all, first restarted waits alone, then "
                          "merges with the others", t.step_first_alone)
        r.run("corrupt peers file: one WARN line, a new ring",
              t.step_corrupt_file)
        for n in t.nodes:  # the current three: none may have died
            if not n.alive():
                print("dhtd %s died during the test; log:\n%s"
                      % (n.addr, n.log_tail()))
                r.failed += 1
    finally:
        t.c.cleanup()
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
