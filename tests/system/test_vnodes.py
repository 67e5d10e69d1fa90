#!/usr/bin/env python3
"""test_vnodes.py - virtual nodes (dhtd --vnodes K, issue 18): a ring of
five processes with four positions each and three copies of every key.

What a user would notice, checked in order (each step needs the previous):
  0. --vnodes 0 or 65, or --vnodes 2 with --data, is a usage error;
  1. five daemons with --vnodes 4 form one ring of 20 positions, each
     process's named as its log line "virtual nodes #i,#j,..." says (the
     first process #0..#3, the others chosen among ADDR#0..ADDR#255 with
     the ring in view), in the order of SHA-1 of those names, with the
     right predecessors (`dht ring --json`); and the ring is balanced:
     the processes' shares of the id circle (the arcs ending at their
     positions, computed from the ids `dht ring --json` lists) are within
     max/mean BALANCE_MAX (hashed names #0..#3 of five processes give
     about 1.9; chosen, 1.11 at worst over 200 random port sets);
  2. keys put through random processes read back;
  3. `dht lookup KEY --json` names the position that follows the key's id;
  4. the copies lie on three distinct processes: the keys and primary
     keys each position reports (`dht ring --json`, which asks each
     position its status) are exactly what the rule "owner, then the next
     positions of processes not chosen yet" gives, and differ from what
     three consecutive positions would give (so the check can fail);
  5. a sixth process joins: the ring has 24 positions, balanced as in 1,
     the copies move to match the rule again, every key reads back;
  6. a process leaves gracefully (SIGTERM, exit 0): the ring has 20
     positions again, the copies match the rule, every key reads back;
  7. a process is killed (SIGKILL, its 4 positions gone at once): every
     key reads back (its copies were on other processes too), and the
     copies are back in place on the 16 positions left.

Usage: test_vnodes.py --bin BUILD_DIR [--seed N]. Exits non-zero on failure.
"""

import json
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import (Cluster, TestFailure, check, key_id, node_id,  # noqa: E402
                    parallel, parse_args, put_all, run_cmd, run_steps)

PROCS = 5
K = 4
R = 3
N_KEYS = 240
N_LOOKUPS = 40
WORKERS = 3
SETTLE_TIMEOUT = 25.0
EXTRA = ["--vnodes", str(K), "--replicas", str(R), "--sync-ms", "300"]
# Max/mean of the processes' shares of the circle a ring of processes
# joining one after the other must keep (bench/vnodes.py, the unit test
# test_vnode_choice: 1.11 at worst for 5 or 6 processes with K = 4).
BALANCE_MAX = 1.25


def base(addr):
    return addr.split("#", 1)[0]


def names_logged(node):
    """The names a process says it runs: its log line "virtual nodes
    #i,#j,..."."""
    m = re.search(r"virtual nodes (#[0-9]+(?:,#[0-9]+)*)", node.log_text())
    if not m:
        return None
    return ["%s%s" % (node.addr, i) for i in m.group(1).split(",")]


def circle_balance(ring):
    """Max/mean of the processes' shares of the id circle (the arcs that
    end at their positions), from the ids `dht ring --json` lists."""
    pos = sorted((int(e["id"], 16), base(e["addr"])) for e in ring)
    share = {}
    for i, (x, b) in enumerate(pos):
        share[b] = share.get(b, 0) + (x - pos[i - 1][0]) % (1 << 160)
    return max(share.values()) * len(share) / float(1 << 160)


def placement(keys, addrs, distinct):
    """Expected (keys, primary_keys) per position: the owner of a key is
    the first position at or after its id; its copies go to the owner and
    the next positions, skipping (distinct) those of processes already
    chosen, up to R (or as many processes as there are)."""
    ring = sorted(addrs, key=node_id)
    ids = [node_id(a) for a in ring]
    n_proc = len({base(a) for a in ring})
    want = min(R, n_proc) if distinct else min(R, len(ring))
    keys_at = {a: 0 for a in ring}
    prim_at = {a: 0 for a in ring}
    for k in keys:
        kid = key_id(k)
        i = next((j for j, x in enumerate(ids) if x >= kid), 0)
        prim_at[ring[i]] += 1
        chosen, procs = [], set()
        j = i
        while len(chosen) < want:
            a = ring[j % len(ring)]
            if not distinct or base(a) not in procs:
                chosen.append(a)
                procs.add(base(a))
            j += 1
        for a in chosen:
            keys_at[a] += 1
    return keys_at, prim_at


class VnodesTest:
    def __init__(self, args):
        self.c = Cluster(args.bin, name="vnodes", seed=args.seed)
        self.rng = self.c.rng
        self.procs = []
        self.names = {}  # process address -> the positions it runs
        self.kv = {}

    def positions(self):
        return [a for p in self.procs for a in self.names[p.addr]]

    def ring_now(self, via):
        r = self.c.dht(via, "--timeout-ms", "8000", "ring", "--json",
                       timeout=15)
        if r.code != 0:
            return None, "ring failed: " + r.describe()
        try:
            return json.loads(r.out), None
        except ValueError as e:
            return None, "ring --json unreadable: %s" % e

    def ring_problem(self, ring, addrs):
        got = [e.get("addr") for e in ring]
        want = sorted(addrs, key=node_id)
        if sorted(got) != sorted(want):
            return "ring lists %d positions %s, expected %s" % (
                len(got), sorted(got), sorted(want))
        i = got.index(want[0])
        if got[i:] + got[:i] != want:
            return "ring out of id order: %s" % got
        for j, e in enumerate(ring):
            pred = (e.get("predecessor") or {}).get("addr")
            if pred != ring[j - 1]["addr"]:
                return "predecessor of %s is %s, expected %s" % (
                    e["addr"], pred, ring[j - 1]["addr"])
        return None

    def wait_ring(self):
        addrs = self.positions()
        deadline = time.monotonic() + SETTLE_TIMEOUT
        problem = "not checked"
        while time.monotonic() < deadline:
            ring, problem = self.ring_now(self.rng.choice(self.procs))
            if ring is not None:
                problem = self.ring_problem(ring, addrs)
                if problem is None:
                    return ring
            time.sleep(0.5)
        raise TestFailure("ring of %d positions not correct after %.0f s: "
                          "%s\n%s" % (len(addrs), SETTLE_TIMEOUT, problem,
                                      self.c.dump_logs(10)))

    def start(self, via):
        """Start a process and wait until its last position (the last
        name its log line gives, the last to join) is active: processes
        join one after the other."""
        n = self.c.start_node(join=via, extra=EXTRA)
        names = names_logged(n)
        check(names is not None and len(set(names)) == K,
              "%s: no log line naming %d virtual nodes; log:\n%s" % (
                  n.addr, K, n.log_tail()))
        if via is None:
            check(names == ["%s#%d" % (n.addr, i) for i in range(K)],
                  "the first process runs %s, expected #0..#%d" % (
                      names, K - 1))
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while time.monotonic() < deadline:
            r = self.c.dht(names[-1], "--timeout-ms", "2000",
                           "status", "--json", timeout=10)
            if r.code == 0 and json.loads(r.out).get("state") == "active":
                self.procs.append(n)
                self.names[n.addr] = names
                # The next process must see all of this one in its walk.
                self.wait_ring()
                return n
            time.sleep(0.2)
        raise TestFailure("%s not active after %.0f s; log:\n%s" % (
            names[-1], SETTLE_TIMEOUT, n.log_tail()))

    def check_balance(self, ring):
        hashed = circle_balance([
            {"id": "%040x" % node_id("%s#%d" % (p.addr, i)),
             "addr": "%s#%d" % (p.addr, i)}
            for p in self.procs for i in range(K)])
        got = circle_balance(ring)
        print("  share of the id circle, max/mean: %.3f (names #0..#%d "
              "would give %.3f)" % (got, K - 1, hashed))
        check(got <= BALANCE_MAX, "max/mean share of the circle %.3f > %.2f "
              "with positions %s" % (got, BALANCE_MAX, self.names))

    def step_usage(self):
        """Out of range, or with a data directory: a usage error (exit 2)
        that names the problem, before anything listens."""
        addr = "127.0.0.1:%d" % self.c.free_port()
        for extra, words in ((["--vnodes", "65"], "1 to 64"),
                             (["--vnodes", "0"], "1 to 64"),
                             (["--vnodes", "2", "--data",
                               os.path.join(self.c.tmp, "d")], "--data")):
            r = run_cmd([self.c.dhtd, "--listen", addr] + extra, timeout=10)
            check(r.code == 2 and words in r.err,
                  "dhtd %s: expected exit 2 naming %r: %s" % (
                      " ".join(extra), words, r.describe()))

    def step_start(self):
        self.start(None)
        for _ in range(PROCS - 1):
            self.start(self.rng.choice(self.procs))
        ring = self.wait_ring()
        print("  %d processes, %d positions in id order" % (PROCS, len(ring)))
        self.check_balance(ring)

    def put_one(self, item):
        key, value, via = item
        return self.c.dht(via, "put", key, value)

    def step_put(self):
        items = []
        for i in range(N_KEYS):
            key = "vk-%d-%d" % (i, self.rng.randrange(1 << 30))
            self.kv[key] = "v%d" % i
            items.append((key, self.kv[key], self.rng.choice(self.procs)))
        took = put_all(self.put_one, items, WORKERS)
        print("  %d puts in %.1f s" % (N_KEYS, took))
        self.check_reads("after the puts")

    def check_reads(self, when):
        def get(key):
            r = self.c.dht(self.rng.choice(self.procs), "get", key)
            return key, r
        bad = []
        for key, r in parallel(get, list(self.kv), WORKERS):
            if r.code != 0 or r.out.rstrip("\n") != self.kv[key]:
                bad.append("%s: %s" % (key, r.describe()))
        check(not bad, "%d of %d keys unreadable %s: %s" % (
            len(bad), len(self.kv), when, bad[:3]))

    def step_lookup(self):
        addrs = self.positions()
        ring = sorted(addrs, key=node_id)
        for key in self.rng.sample(list(self.kv), N_LOOKUPS):
            kid = key_id(key)
            want = next((a for a in ring if node_id(a) >= kid), ring[0])
            got = self.c.dht_json(self.rng.choice(self.procs), "lookup", key,
                                  "--json")
            owner = (got.get("owner") or {}).get("addr")
            check(owner == want, "lookup %s names %s, expected %s" % (
                key, owner, want))

    def wait_copies(self, what):
        addrs = self.positions()
        keys_at, prim_at = placement(self.kv, addrs, True)
        naive, _ = placement(self.kv, addrs, False)
        check(naive != keys_at, "the key set does not tell distinct-process "
              "placement from consecutive positions: pick more keys")
        deadline = time.monotonic() + SETTLE_TIMEOUT
        problem = "not checked"
        while time.monotonic() < deadline:
            ring, problem = self.ring_now(self.rng.choice(self.procs))
            if ring is not None:
                got_k = {e["addr"]: e.get("keys") for e in ring}
                got_p = {e["addr"]: e.get("primary_keys") for e in ring}
                if got_k == keys_at and got_p == prim_at:
                    per_proc = {}
                    for a, n in got_k.items():
                        per_proc[base(a)] = per_proc.get(base(a), 0) + n
                    print("  %s: copies per process %s (%d keys x %d)" % (
                        what, sorted(per_proc.values()), len(self.kv), R))
                    return
                problem = "keys %s primary %s, expected %s / %s" % (
                    got_k, got_p, keys_at, prim_at)
            time.sleep(0.5)
        raise TestFailure("%s: copies not in place after %.0f s: %s\n%s" % (
            what, SETTLE_TIMEOUT, problem, self.c.dump_logs(10)))

    def step_copies(self):
        self.wait_copies("after the puts")

    def step_join(self):
        n = self.start(self.rng.choice(self.procs))
        self.check_balance(self.wait_ring())
        self.wait_copies("after %s joined" % n.addr)
        self.check_reads("after the join")

    def lose(self, sig, what):
        """Stop a process other than the first with `sig`; the ring of the
        others must close, keep every key and put the copies back."""
        gone = self.rng.choice(self.procs[1:])
        self.procs.remove(gone)
        code = self.c.stop_node(gone, sig)
        check(sig != signal.SIGTERM or code == 0,
              "%s exited %s after SIGTERM; log:\n%s" % (gone.addr, code,
                                                         gone.log_tail()))
        self.wait_ring()
        self.check_reads("after %s %s" % (gone.addr, what))
        self.wait_copies("after %s %s" % (gone.addr, what))

    def step_leave(self):
        self.lose(signal.SIGTERM, "left")

    def step_kill(self):
        self.lose(signal.SIGKILL, "was killed")

    def step_alive(self):
        dead = [p.addr for p in self.procs if not p.alive()]
        check(not dead, "daemons died: %s\n%s" % (dead, self.c.dump_logs(20)))


def main():
    args = parse_args(__doc__.splitlines()[0])
    t = VnodesTest(args)
    steps = [
        ("--vnodes out of range or with --data: usage error", t.step_usage),
        ("%d processes x %d chosen positions form one balanced ring!" % (
            PROCS, K),
         t.step_start),
        ("%d keys put and read back!" % N_KEYS, t.step_put),
        ("lookup names the successor position", t.step_lookup),
        ("%d copies of every key on %d distinct processes!" % (R, R),
         t.step_copies),
        ("a joining process takes its ranges, keys readable!", t.step_join),
        ("a leaving process hands its ranges over, keys readable",
         t.step_leave),
        ("a killed process loses no key", t.step_kill),
        ("no daemon died", t.step_alive),
    ]
    return run_steps("test_vnodes", t.c, steps)


if __name__ == "__main__":
    sys.exit(main())
