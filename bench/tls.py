#!/usr/bin/env python3
"""tls.py - what mutual TLS costs: a ring of --nodes dhtd (default 16) in
plaintext and the same ring size over TLS, `dht bench` get and put ops/s
on both in one run, and the TLS handshakes per second of one node. It
prints figures; it is not a test.

What it does:
  1. builds a release dht/dhtd/dht-tlsbench (no sanitizers) in
     /tmp/build-benchrel, unless --bin names a directory holding them;
  2. makes certificates with tools/dht-certs (a CA, a node certificate for
     127.0.0.1, a client certificate) in a temporary directory;
  3. starts two rings of --nodes dhtd on free 127.0.0.1 ports, one
     plaintext and one with --tls-cert/--tls-key/--tls-ca, and waits
     until `dht ring` shows each correct;
  4. runs --rounds rounds (default 3); in each, in an order that swaps
     from round to round, on each ring:
        dht --node RANDOM bench -c C -n N -d D -t put,get --keyspace K
     (over TLS with $DHT_TLS_* set to the client certificate);
  5. prints the median put and get ops/s of each ring and the ratios
     TLS / plaintext;
  6. measures handshakes per second of one node of the TLS ring:
        dht-tlsbench --node NODE -n H            (full handshakes)
        dht-tlsbench --node NODE -n H --resume   (resumed, + one status)

Every process it starts is stopped by PID on every way out (the handlers
of tests/system/common.py).

Usage: bench/tls.py [--bin DIR] [--nodes 16] [--rounds 3] [-n 50000]
         [-c 50] [-d 16] [--keyspace 10000] [--handshakes 2000] [--seed S]
         [--json FILE]
"""

import argparse
import json
import os
import random
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "system"))
sys.path.insert(0, HERE)

from common import Cluster, TestFailure, run_cmd  # noqa: E402
from vs_redis import (DEFAULT_BUILD, ensure_build, log,  # noqa: E402
                      machine_line, median, run_dht_bench)

TLS_ENV = ("DHT_TLS_CA", "DHT_TLS_CERT", "DHT_TLS_KEY")


def set_tls_env(certs):
    """Client certificate for every `dht` run from now on (None: none)."""
    for k in TLS_ENV:
        os.environ.pop(k, None)
    if certs:
        os.environ["DHT_TLS_CA"] = os.path.join(certs, "ca.crt")
        os.environ["DHT_TLS_CERT"] = os.path.join(certs, "client.crt")
        os.environ["DHT_TLS_KEY"] = os.path.join(certs, "client.key")


def start_ring(cluster, n, extra):
    first = cluster.start_node(extra=extra)
    nodes = [first]
    for _ in range(1, n):
        nodes.append(cluster.start_node(join=random.choice(nodes),
                                        extra=extra))
    took = cluster.wait_ring(nodes=nodes, timeout=180.0)
    return nodes, took


def tlsbench(bin_dir, node, n, resume):
    argv = [os.path.join(bin_dir, "dht-tlsbench"), "--node", node.addr,
            "-n", str(n), "--seconds", "60", "--json"]
    if resume:
        argv.append("--resume")
    r = run_cmd(argv, timeout=120)
    if r.code != 0:
        raise TestFailure("dht-tlsbench failed: " + r.describe())
    return json.loads(r.out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default=DEFAULT_BUILD)
    ap.add_argument("--nodes", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("-n", "--requests", type=int, default=50000)
    ap.add_argument("-c", "--clients", type=int, default=50)
    ap.add_argument("-d", "--value", type=int, default=16)
    ap.add_argument("--keyspace", type=int, default=10000)
    ap.add_argument("--handshakes", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--json", help="also write the medians to this file")
    a = ap.parse_args()
    if a.seed is None:
        a.seed = random.SystemRandom().randrange(1 << 31)
    random.seed(a.seed)
    log("seed %d" % a.seed)
    log("machine: " + machine_line())
    bin_dir = ensure_build(a.bin, ("dht", "dhtd", "dht-tlsbench"))
    certs = os.path.join(tempfile.mkdtemp(prefix="tls-bench-"), "certs")
    r = run_cmd([os.path.join(REPO, "tools", "dht-certs"), certs,
                 "127.0.0.1:1"], timeout=60)
    if r.code != 0:
        raise SystemExit("dht-certs failed: " + r.describe())
    tls_flags = ["--tls-ca", os.path.join(certs, "ca.crt"),
                 "--tls-cert", os.path.join(certs, "127.0.0.1_1.crt"),
                 "--tls-key", os.path.join(certs, "127.0.0.1_1.key")]
    cluster = Cluster(bin_dir, name="tlsbench", seed=a.seed, log_level="warn")
    try:
        set_tls_env(None)
        plain, took = start_ring(cluster, a.nodes, [])
        log("plaintext ring of %d correct after %.1f s" % (a.nodes, took))
        set_tls_env(certs)
        tls, took = start_ring(cluster, a.nodes, tls_flags)
        log("TLS ring of %d correct after %.1f s" % (a.nodes, took))
        runs = {"plain": [], "tls": []}
        for rnd in range(a.rounds):
            order = ["plain", "tls"] if rnd % 2 == 0 else ["tls", "plain"]
            for who in order:
                set_tls_env(certs if who == "tls" else None)
                ring = tls if who == "tls" else plain
                rep = run_dht_bench(cluster, random.choice(ring), a, False)
                runs[who].append(rep)
                log("round %d %-5s put %9.0f ops/s  get %9.0f ops/s"
                    % (rnd + 1, who, rep["put"]["ops_per_sec"], rep["get"]["ops_per_sec"]))
        med = {who: {op: median([x[op]["ops_per_sec"] for x in reps])
                     for op in ("put", "get")}
               for who, reps in runs.items()}
        log("")
        log("median of %d rounds, %d nodes, -c %d -n %d -d %d, keyspace %d:"
            % (a.rounds, a.nodes, a.clients, a.requests, a.value,
               a.keyspace))
        for op in ("get", "put"):
            ratio = med["tls"][op] / med["plain"][op]
            log("  %s: plaintext %.0f ops/s, TLS %.0f ops/s, TLS/plaintext "
                "%.2f" % (op, med["plain"][op], med["tls"][op], ratio))
        set_tls_env(certs)
        target = random.choice(tls)
        full = tlsbench(bin_dir, target, a.handshakes, False)
        res = tlsbench(bin_dir, target, a.handshakes, True)
        log("handshakes of one node (%s), one client loop:" % target.addr)
        log("  full: %.0f per second (%d in %.1f s)"
            % (full["per_second"], full["handshakes"], full["seconds"]))
        log("  resumed (+ one status request each): %.0f per second "
            "(%d of %d resumed)" % (res["per_second"], res["resumed"],
                                    res["handshakes"]))
        if a.json:
            with open(a.json, "w") as f:
                json.dump({"medians": med, "full": full, "resumed": res,
                           "args": vars(a)}, f, indent=2)
        dead = cluster.count_deaths()
        if dead:
            log("warning: %d daemons died during the run" % dead)
    finally:
        cluster.cleanup()
        set_tls_env(None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
