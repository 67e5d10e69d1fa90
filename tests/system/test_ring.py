#!/usr/bin/env python3
"""test_ring.py - the acceptance test of the foundation: a real ring of
eight dhtd processes on 127.0.0.1, driven through the `dht` CLI.

What a user would notice, checked in order (each step needs the previous):
  1. eight daemons join one by one, each through a random earlier node;
  2. the ring converges (bounded wait) and `dht ring --json` lists the
     eight nodes in the order of their SHA-1 ids, from every node, with
     the right predecessors;
  3. 1000 keys put through random nodes read back with the right value
     through a different random node;
  4. for 300 of them `dht lookup KEY --json` names the true successor
     (computed here from the sorted SHA-1 ids), with a sane path;
  5. three nodes leave gracefully (SIGTERM, one after another, each exits
     0) and the ring of the five others is correct again;
  6. every one of the 1000 keys is still readable with its value.

Usage: test_ring.py --bin BUILD_DIR [--seed N]. Exits non-zero on failure.
It does not test failures (kill -9) or replication: neither exists yet.
"""

import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import (Cluster, Runner, TestFailure, check, id_hex,  # noqa: E402
                    key_id, node_id, parallel, parse_args, put_all,
                    ring_order, true_successor)

N_NODES = 8
N_KEYS = 1000
N_LOOKUPS = 300
N_LEAVE = 3
WORKERS = 3  # dht processes at a time (2 cores)


def value_matches(out, value):
    """`dht get` prints the value; a trailing newline added for the
    terminal is allowed, nothing else."""
    return out == value or out == value + "\n"


class RingTest:
    def __init__(self, args):
        self.args = args
        self.c = Cluster(args.bin, name="ring", seed=args.seed)
        self.rng = self.c.rng
        self.kv = {}

    def step_join(self):
        first = self.c.start_node()
        print("  node 1/%d %s (creates the ring)" % (N_NODES, first.addr))
        for i in range(1, N_NODES):
            via = self.rng.choice(self.c.nodes)
            n = self.c.start_node(join=via)
            print("  node %d/%d %s joined via %s" % (i + 1, N_NODES, n.addr,
                                                   via.addr), flush=True)

    def step_ring(self):
        took = self.c.wait_ring(timeout=20.0)
        addrs, ring = self.c.ring_addrs(self.c.nodes[0])
        expected = ring_order([n.addr for n in self.c.nodes])
        print("  ring correct after %.1f s: %s" % (took, " -> ".join(addrs)))
        for e in ring:
            check(e.get("id") == id_hex(node_id(e["addr"])),
                  "ring entry %s has id %s, expected SHA-1 of its address %s"
                  % (e["addr"], e.get("id"), id_hex(node_id(e["addr"]))))
        check(set(addrs) == set(expected), "ring members differ")

    def put_one(self, item):
        key, value, via = item
        if len(value) % 7 == 0:
            # Some values go through stdin ("-"), the rest as an argument.
            return self.c.dht(via, "put", key, "-", stdin=value)
        return self.c.dht(via, "put", key, value)

    def step_put_get(self):
        nodes = self.c.live_nodes()
        items = []
        for i in range(N_KEYS):
            key = "key-%d-%05d-%x" % (self.args.seed, i,
                                      self.rng.getrandbits(32))
            value = "value %d %s" % (i, "x" * self.rng.randrange(0, 60))
            self.kv[key] = value
            items.append((key, value, self.rng.choice(nodes)))
        took = put_all(self.put_one, items, WORKERS)
        print("  %d puts in %.1f s" % (N_KEYS, took))
        # Read each back through a different node than the writer.
        reads = []
        for key, value, via in items:
            other = self.rng.choice([n for n in nodes if n is not via])
            reads.append((key, value, other))
        self.check_reads(reads, "after the puts")

    def check_reads(self, reads, when):
        t0 = time.monotonic()
        results = parallel(lambda it: self.c.dht(it[2], "get", it[0]),
                           reads, WORKERS)
        bad = [(it, r) for it, r in zip(reads, results)
               if r.code != 0 or not value_matches(r.out, it[1])]
        if bad:
            (key, value, via), r = bad[0]
            raise TestFailure(
                "%s: %d of %d gets wrong; first: key %r through %s "
                "(owner should be %s), expected %r: %s"
                % (when, len(bad), len(reads), key, via.addr,
                   true_successor(key, [n.addr for n in self.c.live_nodes()]),
                   value, r.describe()))
        print("  %d gets %s in %.1f s" % (len(reads), when,
                                          time.monotonic() - t0))

    def lookup_one(self, item):
        key, via = item
        return self.c.dht(via, "lookup", key, "--json")

    def step_lookup(self):
        nodes = self.c.live_nodes()
        addrs = [n.addr for n in nodes]
        keys = self.rng.sample(sorted(self.kv), N_LOOKUPS)
        items = [(k, self.rng.choice(nodes)) for k in keys]
        results = parallel(self.lookup_one, items, WORKERS)
        wrong = []
        hops = []
        for (key, via), r in zip(items, results):
            check(r.code == 0, "lookup failed: " + r.describe())
            try:
                j = json.loads(r.out)
                owner = j["owner"]["addr"]
                owner_id = j["owner"]["id"]
                path = j["path"]
                kid = j["key_id"]
                nhops = j["hops"]
            except (ValueError, KeyError, TypeError) as e:
                raise TestFailure("lookup --json lacks a field (%s): %s"
                                  % (e, r.describe()))
            want = true_successor(key, addrs)
            check(kid == id_hex(key_id(key)),
                  "lookup %r: key_id %s, expected SHA-1 %s"
                  % (key, kid, id_hex(key_id(key))))
            check(j.get("key") == key, "lookup %r: key field is %r"
                  % (key, j.get("key")))
            if owner != want or owner_id != id_hex(node_id(want)):
                wrong.append("%r via %s: owner %s (%s), expected %s"
                             % (key, via.addr, owner, owner_id, want))
            check(isinstance(path, list) and path and path[0] == via.addr,
                  "lookup %r via %s: path %r does not start at the "
                  "contacted node" % (key, via.addr, path))
            check(all(p in addrs for p in path),
                  "lookup %r: path %r names a node outside the ring"
                  % (key, path))
            check(isinstance(nhops, int) and 0 <= nhops <= N_NODES,
                  "lookup %r: %r hops in a ring of %d"
                  % (key, nhops, N_NODES))
            hops.append(nhops)
        check(not wrong, "%d of %d lookups name the wrong owner; first: %s"
              % (len(wrong), len(items), wrong[0] if wrong else ""))
        print("  %d lookups: owners right, mean %.2f hops, max %d"
              % (len(items), sum(hops) / len(hops), max(hops)))

    def step_leave(self):
        leavers = self.rng.sample(self.c.nodes, N_LEAVE)
        for n in leavers:
            t0 = time.monotonic()
            code = self.c.stop_node(n, signal.SIGTERM)
            check(code == 0,
                  "dhtd %s exited with %s after SIGTERM, expected 0 "
                  "(graceful leave); log:\n%s" % (n.addr, code, n.log_tail()))
            print("  %s left (exit 0 in %.1f s)" % (n.addr,
                                                     time.monotonic() - t0),
                  flush=True)
        took = self.c.wait_ring(timeout=20.0)
        print("  ring of %d correct %.1f s after the last leave"
              % (len(self.c.live_nodes()), took))

    def step_read_after_leave(self):
        nodes = self.c.live_nodes()
        reads = [(k, v, self.rng.choice(nodes)) for k, v in self.kv.items()]
        self.check_reads(reads, "after %d leaves" % N_LEAVE)
        # Keys that were handed over are counted by the remaining nodes.
        total = 0
        for n in nodes:
            st = self.c.dht_json(n, "status", "--json")
            total += int(st.get("keys", 0))
        check(total >= N_KEYS,
              "the %d remaining nodes hold %d keys, expected at least %d"
              % (len(nodes), total, N_KEYS))


def main():
    args = parse_args(__doc__.splitlines()[0])
    runner = Runner("test_ring")
    t = RingTest(args)
    steps = [
        ("8 nodes join one by one", t.step_join),
        ("ring converges in sorted-id order", t.step_ring),
        ("1000 puts, read back through other nodes", t.step_put_get),
        ("lookups name the true successor", t.step_lookup),
        ("3 graceful leaves, ring heals", t.step_leave),
        ("all keys readable after the leaves", t.step_read_after_leave),
    ]
    t0 = time.monotonic()
    try:
        for name, fn in steps:
            if not runner.run(name, fn):
                print("later steps skipped; logs:\n" + t.c.dump_logs(),
                      flush=True)
                break
    finally:
        t.c.cleanup()
    print("total %.1f s" % (time.monotonic() - t0))
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
