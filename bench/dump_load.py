#!/usr/bin/env python3
"""dump_load.py - how fast `dht dump` and `dht load` go on a ring of local
dhtd (memory only): keys per second, several runs each.

    bench/dump_load.py --bin BUILD_DIR [--nodes 16] [--keys 100000]
                       [--runs 3]

It starts --nodes daemons, puts --keys keys (values of 0..120 bytes)
over pipelined client connections, runs `dht dump --json` --runs times,
stops that ring, starts a fresh one of the same size and runs `dht load
--json` of the first dump --runs times (the first load writes every key,
the later ones find every key current: the idempotent case). It prints
each run's JSON summary and the median keys/s of each kind. Not a test:
it asserts only that every command exited 0 and counted --keys keys.
Every daemon is stopped by PID (tests/system/common.py).
"""

import argparse
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tests", "system"))

import test_dump  # noqa: E402  (the ring, the fast puts, the file reader)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--nodes", type=int, default=16)
    ap.add_argument("--keys", type=int, default=100000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    test_dump.N_NODES = args.nodes
    test_dump.N_KEYS = args.keys
    test_dump.PUT_TIMEOUT = 600.0
    t = test_dump.DumpTest(args)
    rates = {"dump": [], "load": [], "load again": []}
    try:
        t.step_ring_and_keys()
        path = os.path.join(t.tmp, "bench.dump")
        for _ in range(args.runs):
            r = t.dht(t.c.nodes[0], "dump", "--output", path, "--json",
                      timeout=600)
            rep = json.loads(r.out) if r.code == 0 else {}
            print("dump", r.out.strip() or r.describe(), flush=True)
            if rep.get("keys") != args.keys:
                return 1
            rates["dump"].append(rep["keys_per_s"])
        t.c.cleanup()
        t.start_ring("bench-load")
        for i in range(args.runs):
            r = t.dht(t.c.nodes[0], "load", path, "--json", timeout=1200)
            rep = json.loads(r.out) if r.code == 0 else {}
            print("load", r.out.strip() or r.describe(), flush=True)
            if rep.get("keys") != args.keys:
                return 1
            rates["load" if i == 0 else "load again"].append(
                rep["keys_per_s"])
    finally:
        t.cleanup()
    for kind, v in rates.items():
        if v:
            print("%-10s median %d keys/s over %d run(s) (%d nodes, %d keys)"
                  % (kind, statistics.median(v), len(v), args.nodes,
                     args.keys))
    return 0


if __name__ == "__main__":
    sys.exit(main())
