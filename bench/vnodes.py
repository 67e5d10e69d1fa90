#!/usr/bin/env python3
"""vnodes.py - what virtual nodes (dhtd --vnodes K, issue 18) buy and cost
on a real ring of local dhtd processes. It prints figures; it is not a
test.

For each K of --ks (default 1,4,16), on a fresh ring of --procs daemons
(default 16) started with --vnodes K (and --metrics-listen):
  1. start the processes one after the other, each once a walk of the
     ring (`dht ring --json`) meets all the positions of the ones before,
     active (each joiner walks the ring to choose its names, dhtd(8)
     --vnodes); wait until `dht ring --json` lists all procs x K
     positions;
  2. idle maintenance: the growth of chord_peer_frames_sent_total (every
     node-to-node frame the process sent, all its vnodes) on /metrics of
     every process over --idle seconds (default 10), per process per
     second; and RSS per process (VmRSS of /proc/PID/status);
  3. --puts puts (default 100 000) with `dht bench -t put` through the
     first process, over a key space of 10^12 (so nearly every key is
     new), then a short settle;
  4. balance: the primary keys of each process (the sum of primary_keys
     over its positions in `dht ring --json`), max / mean, beside the
     process's share of the id circle (the arcs ending at its positions,
     which the primary keys follow), max / mean; the keys it holds with
     the replicas (keys), max / mean; RSS again.
It prints one line per K and a table in Markdown (--json FILE also writes
the figures).

Every daemon is stopped by PID on every way out (tests/system/common.py).
Usage: bench/vnodes.py [--bin DIR] [--procs 16] [--ks 1,4,16]
                       [--puts 100000] [--idle 10] [--json FILE]
--bin defaults to /tmp/build-vnodes, else build/ (a Release build is
best: -DCMAKE_BUILD_TYPE=Release).
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "system"))

from common import Cluster, TestFailure, run_cmd  # noqa: E402


def metric(addr, name):
    """One unlabelled sample of /metrics at addr ("host:port")."""
    with urllib.request.urlopen("http://%s/metrics" % addr, timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    raise TestFailure("%s: no %s on /metrics" % (addr, name))


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def wait_positions(c, node, k, want, timeout=60):
    """Wait until a walk of the ring from `node` meets `want` positions,
    all active, k of them `node`'s: the process has joined with all its
    positions and the next one to start sees them all when it chooses its
    own (dhtd --vnodes with --join walks the ring first). Processes join
    one after the other, as an operator would start them."""
    if k <= 1:
        return
    deadline = time.monotonic() + timeout
    got = None
    while time.monotonic() < deadline:
        rg = ring(c, node, timeout=10)
        if rg:
            mine = [e for e in rg if e["addr"].split("#", 1)[0] == node.addr]
            got = "%d positions, %d of its own" % (len(rg), len(mine))
            if (len(rg) == want and len(mine) == k and
                    all(e.get("state") == "active" for e in rg)):
                return
        time.sleep(0.3)
    raise TestFailure("%s: ring not complete after %d s: %s of %d"
                      % (node.addr, timeout, got, want))


def ring(c, node, timeout=120):
    """`dht ring --json` from node, or None when it fails."""
    try:
        return c.dht_json(node, "--timeout-ms", str(timeout * 1000), "ring",
                          "--json", timeout=timeout + 10)
    except TestFailure:
        return None


def one_k(args, k):
    c = Cluster(args.bin, name="vnodes-bench")
    try:
        procs, mports = [], []
        extra = ["--vnodes", str(k)]
        for i in range(args.procs):
            mp = c.free_port()
            ex = extra + ["--metrics-listen", "127.0.0.1:%d" % mp]
            n = c.start_node(join=procs[0] if procs else None, extra=ex)
            wait_positions(c, n, k, (i + 1) * k)
            procs.append(n)
            mports.append("127.0.0.1:%d" % mp)
        want = args.procs * k
        deadline = time.monotonic() + 180
        got = None
        while time.monotonic() < deadline:
            rg = ring(c, procs[0])
            got = len(rg) if rg else None
            if got == want and all(e.get("state") == "active" for e in rg):
                break
            time.sleep(2)
        else:
            raise TestFailure("K=%d: ring lists %s of %d positions"
                              % (k, got, want))
        time.sleep(3)  # let the joins' transfers finish
        f0 = [metric(m, "chord_peer_frames_sent_total") for m in mports]
        t0 = time.monotonic()
        time.sleep(args.idle)
        f1 = [metric(m, "chord_peer_frames_sent_total") for m in mports]
        dt = time.monotonic() - t0
        frames = [(b - a) / dt for a, b in zip(f0, f1)]
        rss_idle = [rss_kib(n.pid) for n in procs]

        t0 = time.monotonic()
        r = run_cmd([c.dht_bin, "--node", procs[0].addr, "bench", "-t",
                     "put", "-n", str(args.puts), "-c", "50",
                     "--keyspace", "1000000000000", "--time-limit", "600",
                     "--json"], timeout=700)
        took = time.monotonic() - t0
        if r.code != 0:
            raise TestFailure("K=%d: bench failed: %s" % (k, r.describe()))
        time.sleep(5)  # anti-entropy and the last replica writes
        rg = ring(c, procs[0])
        if not rg or len(rg) != want:
            raise TestFailure("K=%d: ring after the puts lists %s positions"
                              % (k, len(rg) if rg else None))
        prim, held = {}, {}
        for e in rg:
            b = e["addr"].split("#", 1)[0]
            prim[b] = prim.get(b, 0) + (e.get("primary_keys") or 0)
            held[b] = held.get(b, 0) + (e.get("keys") or 0)
        rss_full = [rss_kib(n.pid) for n in procs]
        # Each process's share of the id circle (the arcs ending at its
        # positions): what the primary keys should follow.
        ids = sorted((int(e["id"], 16), e["addr"].split("#", 1)[0])
                     for e in rg)
        arc = {}
        for i, (x, b) in enumerate(ids):
            arc[b] = arc.get(b, 0) + (x - ids[i - 1][0]) % (1 << 160)
        a = list(arc.values())
        p = list(prim.values())
        h = list(held.values())
        res = {
            "k": k, "procs": args.procs, "positions": want,
            "keys": sum(p), "puts": args.puts, "put_s": round(took, 1),
            "primary_max_mean": round(max(p) / statistics.mean(p), 3),
            "primary_min_mean": round(min(p) / statistics.mean(p), 3),
            "held_max_mean": round(max(h) / statistics.mean(h), 3),
            "arc_max_mean": round(max(a) / statistics.mean(a), 3),
            "rss_idle_kib": round(statistics.mean(rss_idle)),
            "rss_full_kib": round(statistics.mean(rss_full)),
            "frames_per_s": round(statistics.mean(frames), 1),
            "frames_per_s_max": round(max(frames), 1),
        }
        print("K=%(k)d: %(keys)d keys, primary max/mean %(primary_max_mean)s "
              "(min/mean %(primary_min_mean)s; share of the id circle "
              "max/mean %(arc_max_mean)s), held max/mean "
              "%(held_max_mean)s, RSS %(rss_idle_kib)d KiB idle / "
              "%(rss_full_kib)d KiB full, %(frames_per_s)s frames/s per "
              "process idle (max %(frames_per_s_max)s), puts %(put_s)s s"
              % res, flush=True)
        return res
    finally:
        c.cleanup()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default=None)
    ap.add_argument("--procs", type=int, default=16)
    ap.add_argument("--ks", default="1,4,16")
    ap.add_argument("--puts", type=int, default=100000)
    ap.add_argument("--idle", type=float, default=10.0)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    if args.bin is None:
        args.bin = next((d for d in ("/tmp/build-vnodes",
                                     os.path.join(REPO, "build"))
                         if os.path.exists(os.path.join(d, "dhtd"))),
                        "build")
    results = [one_k(args, int(k)) for k in args.ks.split(",")]
    print()
    print("| K | positions | keys | primary max/mean | primary min/mean "
          "| circle share max/mean | held max/mean | RSS idle (KiB) "
          "| RSS after puts (KiB) | frames/s per process, idle |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print("| %(k)d | %(positions)d | %(keys)d | %(primary_max_mean)s | "
              "%(primary_min_mean)s | %(arc_max_mean)s | %(held_max_mean)s | "
              "%(rss_idle_kib)d | %(rss_full_kib)d | %(frames_per_s)s |" % r)
    print("\n%s, %d CPUs, %s" % (platform.platform(), os.cpu_count(),
                                 time.strftime("%Y-%m-%d %H:%M UTC",
                                               time.gmtime())))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
