#!/usr/bin/env python3
"""causal.py - what version vectors cost: put/get throughput and bytes
per key of this tree beside the release before them (--before, default
57b40d9, built from this repository's history), in one run on this
machine. It prints figures; it is not a test.

Each of --rounds rounds runs both builds in turn (the order alternates
round by round, so drift on a noisy machine falls on both):
  - a ring of --nodes dhtd (r = 3, memory only) and one `dht bench`
    through its first node: -c clients, -n requests, -d-byte values, put
    then get over --keyspace keys; ops/s of each;
  - one dhtd (-r 1) and --keys keys written over a pipelined connection:
    its RSS growth per key.
Then the medians, and the ratios after / before (issue 14's budget: put
throughput at least 0.90 of before).

Usage: bench/causal.py [--bin DIR] [--before REV] [--rounds 3]
                       [-n 50000] [-c 50] [--keys 100000] [--json FILE]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "system"))
sys.path.insert(0, HERE)

from common import Cluster, TestFailure  # noqa: E402
from memory import SETTLE, put_dhtd, rss_bytes  # noqa: E402
from vs_redis import (DEFAULT_BUILD, ensure_build, log,  # noqa: E402
                      machine_line, median, run_dht_bench)


def build_rev(rev, out_dir):
    """A release build of dht and dhtd at git revision `rev` in out_dir
    (a detached worktree beside it holds the sources)."""
    if all(os.access(os.path.join(out_dir, b), os.X_OK)
           for b in ("dht", "dhtd")):
        return out_dir
    src = out_dir + "-src"
    if not os.path.isdir(src):
        log("checking out %s in %s" % (rev, src))
        subprocess.run(["git", "-C", REPO, "worktree", "add", "--detach",
                        src, rev], check=True, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL)
    log("building %s (Release) in %s" % (rev, out_dir))
    subprocess.run(["cmake", "-S", src, "-B", out_dir,
                    "-DCMAKE_BUILD_TYPE=Release", "-DCHORD_TESTS=OFF",
                    "-DCHORD_SANITIZE=OFF"], check=True,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", out_dir, "-j2", "--target", "dht",
                    "dhtd"], check=True, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL)
    return out_dir


def throughput(bin_dir, a, tag):
    cluster = Cluster(bin_dir, name="causal-" + tag, log_level="warn")
    try:
        first = cluster.start_node()
        nodes = [first] + [cluster.start_node(join=first)
                           for _ in range(a.nodes - 1)]
        cluster.wait_ring(nodes, timeout=60.0)
        rep = run_dht_bench(cluster, first, a, direct=False)
        return rep["put"]["ops_per_sec"], rep["get"]["ops_per_sec"]
    finally:
        cluster.cleanup()


def memory(bin_dir, a, tag):
    cluster = Cluster(bin_dir, name="causal-mem-" + tag, log_level="warn")
    try:
        node = cluster.start_node(extra=["-r", "1"])
        time.sleep(SETTLE)
        d0 = rss_bytes(node.pid)
        put_dhtd(node.addr, a.keys, a.value)
        st = json.loads(cluster.dht(node, "status", "--json").out)
        if st.get("keys") != a.keys:
            raise TestFailure("dhtd holds %r keys, want %d"
                              % (st.get("keys"), a.keys))
        time.sleep(SETTLE)
        return (rss_bytes(node.pid) - d0) / a.keys
    finally:
        cluster.cleanup()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default=DEFAULT_BUILD)
    ap.add_argument("--before", default="57b40d9")
    ap.add_argument("--before-bin", default=None,
                    help="a release build of --before (default: built in "
                    "the temp directory)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--nodes", type=int, default=4)
    ap.add_argument("-n", "--requests", type=int, default=50000)
    ap.add_argument("-c", "--clients", type=int, default=50)
    ap.add_argument("-d", "--value", type=int, default=16)
    ap.add_argument("--keyspace", type=int, default=10000)
    ap.add_argument("--keys", type=int, default=100000)
    ap.add_argument("--json", help="also write the figures to this file")
    a = ap.parse_args()
    log("machine: " + machine_line())
    after = ensure_build(a.bin)
    before = build_rev(a.before, a.before_bin or os.path.join(
        tempfile.gettempdir(), "chord-before-%s" % a.before))
    builds = {"before": before, "after": after}
    runs = {k: {"put": [], "get": [], "bytes_per_key": []} for k in builds}
    for rnd in range(a.rounds):
        order = ["before", "after"] if rnd % 2 == 0 else ["after", "before"]
        for tag in order:
            put, get = throughput(builds[tag], a, tag)
            bpk = memory(builds[tag], a, tag)
            runs[tag]["put"].append(put)
            runs[tag]["get"].append(get)
            runs[tag]["bytes_per_key"].append(bpk)
            log("round %d %-6s put %8.0f ops/s  get %8.0f ops/s  "
                "%6.1f B/key" % (rnd + 1, tag, put, get, bpk))
    med = {k: {m: median(v) for m, v in r.items()} for k, r in runs.items()}
    log("")
    log("median of %d rounds (%d nodes, r = 3, %d clients, %d requests, "
        "%d-byte values; memory: %d keys, -r 1):"
        % (a.rounds, a.nodes, a.clients, a.requests, a.value, a.keys))
    log("              before (%s)   after   after/before" % a.before)
    for m, unit in (("put", "ops/s"), ("get", "ops/s"),
                    ("bytes_per_key", "B/key")):
        b, f = med["before"][m], med["after"][m]
        log("  %-13s %10.1f %10.1f   %.3f   (%s)" % (m, b, f, f / b, unit))
    log("machine: " + machine_line())
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"args": vars(a), "runs": runs, "medians": med}, f,
                      indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
