#!/usr/bin/env python3
"""put_path.py - where a put's (and a routed get's) node-to-node traffic
goes, from the nodes' own counters, and optionally where its CPU time goes
(perf). It prints figures; it is not a test.

What it does:
  1. starts a ring of --nodes dhtd (default 16, r = 3) on free 127.0.0.1
     ports, each with its own /metrics port (--metrics-listen), and waits
     until `dht ring` shows the correct ring;
  2. for each pass (routed puts through one node, --direct puts, routed
     gets through one node) runs `dht bench` with -c/-n/-d/--keyspace,
     scrapes every node's /metrics before and after, and prints per client
     operation: peer requests sent, replica frames and the writes they
     carried (writes per frame: how well the copies of one turn were
     coalesced), lookups started (near 0: the owner cache answered),
     frames and bytes on the wire, and the CPU time (user + system) all
     dhtd processes spent, from /proc (less sensitive to other work on
     the machine than ops/s), and how busy the `dht bench` client was
     (its CPU time over the run's wall time: near 100% it is the limit);
  3. with --perf OP (put or get), records every node with `perf record`
     (DWARF call graphs) during a --direct OP benchmark (every node is
     then both an owner and a replica of others' keys) and prints the
     inclusive share of the functions of the put / get path at the owner
     (chord__replica_write and below) and at a replica
     (chord__transfer_receive and below), and the top self costs.

Counters a build does not have (chord_replica_*_total before replica
batching) print as 0. Every process it starts is stopped by PID on every
way out (tests/system/common.py).

Usage: bench/put_path.py --bin DIR [--nodes 16] [-n 50000] [-c 50]
         [-d 16] [--keyspace 10000] [--perf put|get] [--perf-seconds 6]
"""

import argparse
import json
import os
import random
import re
import resource
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "system"))

from common import HOST, Cluster  # noqa: E402
import vs_redis  # noqa: E402

BENCH_TIMEOUT = 600.0

# Functions whose inclusive share the profile prints: a put at the owner
# (coord -> replica write -> log/apply -> copies to the replicas), at a
# replica (TRANSFER received, applied, acked), and the I/O around them.
PATH_FUNCS = (
    "on_read", "on_frame", "on_turn", "chord_node_receive",
    "chord_msg_decode", "chord_msg_encode", "chord__coord_client",
    "chord__coord_store", "chord__replica_write", "chord__replica_read",
    "chord__rbatch_add", "chord__rbatch_flush", "chord__rpc",
    "chord__keystate_load", "chord_dvv_write", "chord_dvv_to_item",
    "chord__apply", "chord_store_apply", "chord_item_encode",
    "chord__transfer_receive", "chord__send_durable",
    "chord__replica_answer", "chord__rbatch_settled", "chord_node_flush",
    "chord_node_next_deadline", "chord_node_tick",
    "chord_transport_send", "chord_transport_reply", "chord__conn_write",
    "chord__transport_flush_all", "uv__write", "uv__read",
    "__GI___libc_write", "__GI___libc_writev", "__GI___libc_read",
    "epoll_wait", "malloc", "free", "SHA1")


def log(msg):
    print(msg, flush=True)


def scrape(port):
    """{"name{labels}": value} of one node's /metrics."""
    with urllib.request.urlopen("http://%s:%d/metrics" % (HOST, port),
                                timeout=10) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^(\S+)\s+(\S+)$", line)
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


def cpu_seconds(pids):
    """utime + stime of these processes, in seconds."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / float(tick)


def delta(before, after, name):
    return sum(a.get(name, 0.0) - b.get(name, 0.0)
               for b, a in zip(before, after))


def bench(cluster, node, a, op, direct):
    args = ["bench", "-c", str(a.clients), "-n", str(a.requests), "-d",
            str(a.value), "-t", op, "--keyspace", str(a.keyspace), "--json"]
    if direct:
        args.append("--direct")
    r = cluster.dht(node, *args, timeout=BENCH_TIMEOUT)
    return json.loads(r.out)[op]


def one_pass(cluster, mports, a, op, direct):
    node = random.choice(cluster.nodes)
    pids = [nd.pid for nd in cluster.nodes]
    before = [scrape(p) for p in mports]
    cpu0 = cpu_seconds(pids)
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    res = bench(cluster, node, a, op, direct)
    wall = time.monotonic() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = cpu_seconds(pids) - cpu0
    client = (ru1.ru_utime - ru0.ru_utime + ru1.ru_stime - ru0.ru_stime)
    after = [scrape(p) for p in mports]
    n = float(a.requests)
    d = {k: delta(before, after, k) for k in (
        "chord_peer_requests_total", "chord_replica_frames_sent_total",
        "chord_replica_writes_sent_total", "chord_lookup_hops_count",
        "chord_peer_frames_sent_total",
        'chord_network_bytes_total{direction="out"}')}
    frames = d["chord_replica_frames_sent_total"]
    writes = d["chord_replica_writes_sent_total"]
    log("%-6s %-7s %8.0f ops/s p50 %.3f ms | dht bench busy %.0f%% | per "
        "op: dhtd CPU %.0f us, peer requests %.2f, replica frames %.2f (%.2f "
        "writes each), lookups %.3f, node frames %.2f, bytes out %.0f"
        % (op, "direct" if direct else "routed", res["ops_per_sec"],
           res["p50_ms"], 100.0 * client / wall, cpu * 1e6 / n,
           d["chord_peer_requests_total"] / n,
           frames / n,
           writes / frames if frames else 0.0,
           d["chord_lookup_hops_count"] / n,
           d["chord_peer_frames_sent_total"] / n,
           d['chord_network_bytes_total{direction="out"}'] / n))


def profile(cluster, a, outdir):
    node = random.choice(cluster.nodes)
    data = os.path.join(outdir, "perf-%s.data" % a.perf)
    perf = vs_redis.perf_record([n.pid for n in cluster.nodes], data,
                                a.perf_seconds)
    time.sleep(0.5)
    args = ["bench", "-c", str(a.clients), "-n", str(a.requests * 50), "-d",
            str(a.value), "-t", a.perf, "--keyspace", str(a.keyspace),
            "--direct", "--time-limit", str(a.perf_seconds + 1), "--json"]
    r = cluster.dht(node, *args, timeout=BENCH_TIMEOUT)
    failed = vs_redis.perf_finish(perf, data)
    if failed:
        log(failed)
        return
    ops = json.loads(r.out)[a.perf]["ops_per_sec"]
    log("perf: all %d dhtd (each the owner of some keys and a replica of "
        "others'), %d s of --direct %ss (%.0f ops/s)"
        % (len(cluster.nodes), a.perf_seconds, a.perf, ops))
    for line in vs_redis.perf_summary(data, PATH_FUNCS, "the path", top=16):
        log(line)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--nodes", type=int, default=16)
    ap.add_argument("-n", "--requests", type=int, default=50000)
    ap.add_argument("-c", "--clients", type=int, default=50)
    ap.add_argument("-d", "--value", type=int, default=16)
    ap.add_argument("--keyspace", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--perf", choices=("put", "get"))
    ap.add_argument("--perf-seconds", type=int, default=6)
    a = ap.parse_args()
    if a.seed is None:
        a.seed = random.SystemRandom().randrange(1 << 31)
    random.seed(a.seed)
    log("seed %d, load average %s" % (a.seed, " ".join(
        "%.2f" % x for x in os.getloadavg())))
    cluster = Cluster(a.bin, name="putpath", seed=a.seed, log_level="warn")
    outdir = tempfile.mkdtemp(prefix="put-path-")
    with cluster:
        mports = []
        for i in range(a.nodes):
            mp = cluster.free_port()
            mports.append(mp)
            extra = ["--metrics-listen", "%s:%d" % (HOST, mp)]
            cluster.start_node(join=random.choice(cluster.nodes) if i else
                               None, extra=extra)
        log("ring of %d correct after %.1f s" % (a.nodes,
                                                 cluster.wait_ring(timeout=120.0)))
        for op, direct in (("put", False), ("put", True), ("get", False),
                           ("get", False)):
            one_pass(cluster, mports, a, op, direct)
        try:
            if a.perf:
                profile(cluster, a, outdir)
        finally:
            vs_redis.stop_extra()


if __name__ == "__main__":
    main()
