#!/usr/bin/env python3
"""hops.py - how many hops a lookup takes, and how long a get takes, on a
real ring of local dhtd processes. It prints figures; it is not a test.

For each ring size N (16 and 64 by default) it starts N daemons on
127.0.0.1 (free ports), waits until `dht ring --json` shows the correct
ring, then runs 1000 `dht lookup KEY --json` of random keys through random
nodes and prints the mean and p99 hop count beside 1/2 log2 N, the
expected mean for Chord with full finger tables.

On the 16-node ring it also measures `get` latency (p50, p99) through
random nodes. To time the ring and not process start-up, the timed gets
speak the wire protocol from Python over one persistent TCP connection per
node (frame: u32 length, u8 version 1, u8 type, u16 flags 0, u64 req_id,
body; C_GET = 65 with body u32 key length + key + u8 consistency; the
reply C_RESULT = 69 is read whole by its length).

Usage: bench/hops.py [--bin DIR] [--sizes 16,64] [--lookups 1000]
                     [--gets 2000] [--seed N]
--bin defaults to build/ (release), else build-asan/. Every daemon it
starts is stopped by PID when it ends (see tests/system/common.py).
"""

import argparse
import json
import math
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "system"))

from common import (MSG_C_RESULT, Cluster, TestFailure,  # noqa: E402
                    connect, encode_c_get, parallel, read_frame)

MAX_SIZE = 128  # daemons one run may start


def percentile(values, p):
    """The p-th percentile (nearest rank) of a non-empty list."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(math.ceil(p / 100.0 * len(s))) - 1))
    return s[k]


def default_bin():
    for d in ("build", "build-asan"):
        path = os.path.join(REPO, d)
        if os.access(os.path.join(path, "dhtd"), os.X_OK):
            return path
    return os.path.join(REPO, "build")


def start_ring(c, n):
    """Start n daemons, each joining through a random earlier one."""
    first = c.start_node(extra=["--log-level", "warn"])
    for _ in range(n - 1):
        c.start_node(join=c.rng.choice(c.nodes), extra=["--log-level", "warn"])
    took = c.wait_ring(timeout=30.0 + n)
    return first, took


def measure_hops(c, n, lookups):
    nodes = c.live_nodes()
    items = [("bench-%x" % c.rng.getrandbits(64), c.rng.choice(nodes))
             for _ in range(lookups)]
    t0 = time.monotonic()
    results = parallel(lambda it: c.dht(it[1], "lookup", it[0], "--json"),
                       items, workers=4)
    hops = []
    for r in results:
        if r.code != 0:
            raise TestFailure("lookup failed: " + r.describe())
        hops.append(int(json.loads(r.out)["hops"]))
    took = time.monotonic() - t0
    mean = sum(hops) / len(hops)
    print("N=%-3d  lookups=%d  mean hops %.2f  p99 %d  max %d   "
          "(1/2 log2 N = %.2f; %.0f lookups/s through the CLI)"
          % (n, len(hops), mean, percentile(hops, 99), max(hops),
             0.5 * math.log2(n), len(hops) / took), flush=True)


def measure_gets(c, gets):
    """Put some keys with the CLI, then time C_GET over raw connections."""
    nodes = c.live_nodes()
    keys = ["lat-%d-%x" % (i, c.rng.getrandbits(32)) for i in range(200)]
    res = parallel(lambda k: c.dht(c.rng.choice(nodes), "put", k, "v" * 100),
                   keys, workers=4)
    bad = [r for r in res if r.code != 0]
    if bad:
        raise TestFailure("put failed: " + bad[0].describe())
    conns = {n.addr: connect(n.addr, timeout=10.0) for n in nodes}
    try:
        lat = []
        req = 1
        for _ in range(gets):
            node = c.rng.choice(nodes)
            key = c.rng.choice(keys)
            s = conns[node.addr]
            t0 = time.perf_counter()
            s.sendall(encode_c_get(req, key))
            mtype, req_id, body = read_frame(s)
            lat.append((time.perf_counter() - t0) * 1000.0)
            if mtype != MSG_C_RESULT or req_id != req:
                raise TestFailure("get %r through %s: reply type %d req %d"
                                  % (key, node.addr, mtype, req_id))
            if not body or body[0] != 0:
                raise TestFailure("get %r through %s: status %s"
                                  % (key, node.addr,
                                     body[0] if body else "none"))
            req += 1
    finally:
        for s in conns.values():
            s.close()
    print("N=%-3d  gets=%d over persistent connections: p50 %.3f ms  "
          "p99 %.3f ms  max %.3f ms"
          % (len(nodes), len(lat), percentile(lat, 50), percentile(lat, 99),
             max(lat)), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default=default_bin())
    ap.add_argument("--sizes", default="16,64")
    ap.add_argument("--lookups", type=int, default=1000)
    ap.add_argument("--gets", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",") if x]
    if any(n < 1 or n > MAX_SIZE for n in sizes):
        ap.error("ring sizes must be 1..%d" % MAX_SIZE)
    print("binaries from %s, seed %d" % (args.bin, args.seed))
    status = 0
    for n in sizes:
        c = Cluster(args.bin, name="bench%d" % n, seed=args.seed + n)
        try:
            _, took = start_ring(c, n)
            print("N=%-3d  ring correct %.1f s after the last join"
                  % (n, took), flush=True)
            measure_hops(c, n, args.lookups)
            if n == 16:
                measure_gets(c, args.gets)
        except TestFailure as e:
            print("N=%d: %s" % (n, e), file=sys.stderr)
            status = 1
        finally:
            c.cleanup()
    return status


if __name__ == "__main__":
    sys.exit(main())
