#!/usr/bin/env python3
"""test_bench.py - `dht bench`, the load generator, against a real ring of
three dhtd on 127.0.0.1.

What a user would notice, checked in order:
  1. `bench -t put,get,del --json` through one node completes: for every
     operation run the completed count equals the requested count, errors
     are 0, the latency figures are ordered (p50 <= p99 <= p99.9 <= max),
     the puts really stored 16-byte values (read back with `dht get`), the
     gets found them, and the dels removed every key;
  2. the text report (no --json) names every operation, the replication
     factor the node reports and the consistency level, and exits 0;
  3. `--direct` (ring-aware: each key to its owner) adds up the same way
     and says it learnt the three nodes; with -P 8 pipelining too;
  4. failures are counted, never hidden: through a relay that swallows
     every 7th request, exactly the swallowed requests are reported as
     timed out, ok + not_found + errors == requests, the exit code is 3
     and stderr has one line; a relay that swallows everything and a
     1-second --time-limit stop the run on time with every request
     accounted for (in flight: timed out; the rest: not sent);
  5. a bench against a port where nothing listens exits 3 with one line
     on stderr; bad bench options exit 2 without touching the network,
     and a bench option given to another command is a usage error.

Usage: test_bench.py --bin BUILD_DIR [--seed N]. Exits non-zero on failure.
The relay of step 4 is a few Python threads; it is started after every
daemon and stopped before cleanup, and every socket in it has a timeout.
"""

import json
import os
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import (HOST, Cluster, Runner, TestFailure,  # noqa: E402
                    check, one_line_error, parse_args)

N_NODES = 3
BENCH_TIMEOUT = 120.0  # one `dht bench` run, sanitizers on 2 cores
OPS = ("put", "get", "del")
MSG_C_PUT, MSG_C_GET, MSG_C_DEL = 64, 65, 66
RELAY_IO_TIMEOUT = 0.2  # seconds a relay thread blocks before re-checking
RELAY_JOIN_TIMEOUT = 5.0


class Relay:
    """A TCP relay on 127.0.0.1 in front of one node that forwards whole
    frames both ways, except that it swallows (never forwards) every
    `drop_every`-th keyed request (C_PUT/C_GET/C_DEL) of each connection;
    drop_every=1 swallows them all. C_STATUS always passes, so the bench's
    first contact works. `dropped` counts the swallowed requests."""

    def __init__(self, upstream, drop_every):
        host, port = upstream.rsplit(":", 1)
        self.upstream = (host, int(port))
        self.drop_every = drop_every
        self.dropped = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.sockets = []
        self.threads = []
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind((HOST, 0))
        self.listener.listen(256)
        self.listener.settimeout(RELAY_IO_TIMEOUT)
        self.addr = "%s:%d" % (HOST, self.listener.getsockname()[1])
        self._spawn(self._accept_loop)

    def _spawn(self, fn, *args):
        t = threading.Thread(target=fn, args=args, daemon=True)
        self.threads.append(t)
        t.start()

    def _accept_loop(self):
        while not self.stopping.is_set():
            try:
                down, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                up = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                down.close()
                continue
            for s in (down, up):
                s.settimeout(RELAY_IO_TIMEOUT)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.lock:
                self.sockets += [down, up]
            self._spawn(self._pump_requests, down, up)
            self._spawn(self._pump_raw, up, down)

    def _recv(self, s, n):
        """Exactly n bytes, or None when the stream ends or we stop."""
        buf = bytearray()
        while len(buf) < n and not self.stopping.is_set():
            try:
                chunk = s.recv(n - len(buf))
            except socket.timeout:
                continue
            except OSError:
                return None
            if not chunk:
                return None
            buf += chunk
        return bytes(buf) if len(buf) == n else None

    def _pump_requests(self, down, up):
        seen = 0
        while not self.stopping.is_set():
            head = self._recv(down, 4)
            if head is None:
                break
            (length,) = struct.unpack(">I", head)
            rest = self._recv(down, length)
            if rest is None or len(rest) < 2:
                break
            if rest[1] in (MSG_C_PUT, MSG_C_GET, MSG_C_DEL):
                seen += 1
                if seen % self.drop_every == 0:
                    with self.lock:
                        self.dropped += 1
                    continue
            try:
                up.sendall(head + rest)
            except OSError:
                break
        self._close_pair(down, up)

    def _pump_raw(self, up, down):
        while not self.stopping.is_set():
            try:
                data = up.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not data:
                break
            try:
                down.sendall(data)
            except OSError:
                break
        self._close_pair(down, up)

    def _close_pair(self, a, b):
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self):
        self.stopping.set()
        self.listener.close()
        with self.lock:
            socks = list(self.sockets)
        for s in socks:
            try:
                s.close()
            except OSError:
                pass
        for t in self.threads:
            t.join(timeout=RELAY_JOIN_TIMEOUT)


def check_counts(report, ops, requests, what, expect_errors=0):
    """Every asked operation is in the report and adds up."""
    check(isinstance(report, dict), "%s: the JSON is not an object" % what)
    check(sorted(report) == sorted(ops), "%s: operations %s reported, "
          "expected %s" % (what, sorted(report), sorted(ops)))
    for op in ops:
        r = report[op]
        for field in ("ops_per_sec", "p50_ms", "p99_ms", "p999_ms", "errors",
                      "requests", "completed", "ok", "not_found"):
            check(field in r, "%s: %s lacks %r: %r" % (what, op, field, r))
        check(r["requests"] == requests, "%s: %s asked %d requests, the "
              "report says %r" % (what, op, requests, r["requests"]))
        check(r["ok"] + r["not_found"] == r["completed"],
              "%s: %s: ok %d + not_found %d != completed %d"
              % (what, op, r["ok"], r["not_found"], r["completed"]))
        check(r["completed"] + r["errors"] == r["requests"],
              "%s: %s: completed %d + errors %d != requests %d"
              % (what, op, r["completed"], r["errors"], r["requests"]))
        kinds = r.get("errors_by_kind", {})
        check(sum(kinds.values()) == r["errors"], "%s: %s: the kinds of "
              "error %r do not add up to %d" % (what, op, kinds, r["errors"]))
        if expect_errors == 0:
            check(r["errors"] == 0, "%s: %s had %d errors: %r"
                  % (what, op, r["errors"], r))
            check(r["completed"] == requests, "%s: %s completed %d of %d"
                  % (what, op, r["completed"], requests))
            check(r["ops_per_sec"] > 0, "%s: %s: ops_per_sec %r"
                  % (what, op, r["ops_per_sec"]))
            check(0 < r["p50_ms"] <= r["p99_ms"] <= r["p999_ms"]
                  <= r["max_ms"], "%s: %s: latencies out of order: %r"
                  % (what, op, r))


class BenchTest:
    def __init__(self, args):
        self.args = args
        self.c = Cluster(args.bin, name="bench", seed=args.seed)
        self.rng = self.c.rng

    def start_ring(self):
        self.c.start_node()
        for _ in range(1, N_NODES):
            self.c.start_node(join=self.rng.choice(self.c.nodes))
        self.c.wait_ring(timeout=30.0)

    def bench(self, node, *args, timeout=BENCH_TIMEOUT):
        return self.c.dht(node, "bench", *args, timeout=timeout)

    def bench_json(self, node, *args):
        r = self.bench(node, *args, "--json")
        check(r.code == 0, "expected exit 0: " + r.describe())
        try:
            return json.loads(r.out)
        except ValueError as e:
            raise TestFailure("bench --json is not JSON (%s): %s"
                              % (e, r.describe()))

    # 1 ---------------------------------------------------------------
    def test_routed(self):
        node = self.rng.choice(self.c.nodes)
        seed = str(self.rng.getrandbits(32))
        # 40 keys, 1500 puts: every key is written (a key is missed with
        # probability (39/40)^1500, about 1e-16).
        rep = self.bench_json(node, "-c", "8", "-n", "1500", "-d", "16",
                              "-t", "put,get", "-P", "2", "--keyspace", "40",
                              "--key-seed", seed)
        check_counts(rep, ("put", "get"), 1500, "bench put,get")
        check(rep["put"]["not_found"] == 0, "a put was 'not found': %r"
              % rep["put"])
        check(rep["get"]["ok"] == 1500, "gets after the puts found %d of "
              "1500 (every key was written): %r" % (rep["get"]["ok"],
                                                    rep["get"]))
        # The values are there, 16 bytes, readable by the plain CLI.
        other = self.rng.choice(self.c.nodes)
        for k in (0, 17, 39):
            r = self.c.dht(other, "get", "key:%012d" % k)
            check(r.code == 0 and r.out.rstrip("\n") == "x" * 16,
                  "get key:%012d after the bench: %s" % (k, r.describe()))
        # Deleting: 1000 dels over the 40 keys draw every key (one is
        # missed with probability (39/40)^1000, about 1e-11), so afterwards
        # none can be read. Deleting a deleted key may answer ok or not
        # found; both are completed operations.
        rep = self.bench_json(node, "-c", "4", "-n", "1000", "-t", "del",
                              "--keyspace", "40", "--key-seed", seed)
        check_counts(rep, ("del",), 1000, "bench del")
        for k in range(40):
            r = self.c.dht(other, "get", "key:%012d" % k)
            check(r.code == 1, "get key:%012d after the dels: expected "
                  "exit 1: %s" % (k, r.describe()))

    # 2 ---------------------------------------------------------------
    def test_text(self):
        node = self.rng.choice(self.c.nodes)
        r = self.bench(node, "-c", "5", "-n", "300", "-t", "get,put,del",
                       "--keyspace", "100")
        check(r.code == 0, "bench (text): " + r.describe())
        for title in ("====== PUT ======", "====== GET ======",
                      "====== DEL ======"):
            check(title in r.out, "text report lacks %r: %s"
                  % (title, r.describe()))
        check(r.out.index("PUT") < r.out.index("GET") < r.out.index("DEL"),
              "operations must run put, get, del: " + r.describe())
        check("300 requests completed" in r.out and "requests per second"
              in r.out and "errors: 0" in r.out,
              "text report lacks its figures: " + r.describe())
        # The replication factor the node reports, and the consistency
        # level asked for, are in the report; "all" waits for every copy.
        st = self.c.dht_json(node, "status", "--json")
        replicas = st.get("replicas", 1)
        r = self.bench(node, "-c", "3", "-n", "200", "-t", "put,get",
                       "--consistency", "all", "--keyspace", "50")
        check(r.code == 0, "bench --consistency all: " + r.describe())
        want = "%d replica%s, consistency all" % (replicas,
                                                 "" if replicas == 1 else "s")
        check(want in r.out, "report lacks %r: %s" % (want, r.describe()))

    # 3 ---------------------------------------------------------------
    def test_direct(self):
        node = self.rng.choice(self.c.nodes)
        rep = self.bench_json(node, "--direct", "-c", "6", "-n", "1200",
                              "-t", "put,get", "--keyspace", "30")
        check_counts(rep, ("put", "get"), 1200, "bench --direct")
        check(rep["get"]["ok"] == 1200, "direct gets found %d of 1200: %r"
              % (rep["get"]["ok"], rep["get"]))
        rep = self.bench_json(node, "--direct", "-c", "3", "-P", "8", "-n",
                              "1200", "-t", "get", "--keyspace", "30")
        check_counts(rep, ("get",), 1200, "bench --direct -P 8")
        r = self.bench(node, "--direct", "-c", "2", "-n", "50", "-t", "get")
        check(r.code == 0 and "direct to each key's owner (%d nodes)"
              % N_NODES in r.out, "--direct text report: " + r.describe())

    # 4 ---------------------------------------------------------------
    def test_failures_counted(self):
        node = self.rng.choice(self.c.nodes)
        relay = Relay(node.addr, drop_every=7)
        try:
            r = self.bench(relay.addr, "--timeout-ms", "300", "-c", "4",
                           "-n", "140", "-t", "put", "--json")
        finally:
            relay.stop()
        check(r.code == 3, "some requests were swallowed: expected exit 3: "
              + r.describe())
        check(one_line_error(r), "expected one line on stderr: "
              + r.describe())
        try:
            rep = json.loads(r.out)
        except ValueError as e:
            raise TestFailure("not JSON (%s): %s" % (e, r.describe()))
        check_counts(rep, ("put",), 140, "bench through the relay",
                     expect_errors=relay.dropped)
        p = rep["put"]
        check(relay.dropped > 0, "the relay swallowed nothing")
        check(p["errors"] == relay.dropped and
              p["errors_by_kind"]["timeout"] == relay.dropped,
              "the relay swallowed %d requests, the report says %r"
              % (relay.dropped, p))
        check(p["completed"] == 140 - relay.dropped,
              "completed %d, expected %d" % (p["completed"],
                                             140 - relay.dropped))

    def test_time_limit(self):
        node = self.rng.choice(self.c.nodes)
        relay = Relay(node.addr, drop_every=1)
        t0 = time.monotonic()
        try:
            r = self.bench(relay.addr, "--time-limit", "1", "-c", "3", "-P",
                           "2", "-n", "100", "-t", "put,get", "--json",
                           timeout=30)
        finally:
            relay.stop()
        took = time.monotonic() - t0
        check(r.code == 3, "the time limit passed: expected exit 3: "
              + r.describe())
        check(one_line_error(r), "expected one line on stderr: "
              + r.describe())
        check(took < 15, "a 1-second run took %.1f s" % took)
        rep = json.loads(r.out)
        check_counts(rep, ("put", "get"), 100, "bench --time-limit 1",
                     expect_errors=100)
        p, g = rep["put"], rep["get"]
        check(p["completed"] == 0 and p["errors_by_kind"]["timeout"] == 6
              and p["errors_by_kind"]["unsent"] == 94,
              "put: 6 in flight (3 clients x 2) and 94 never sent "
              "expected: %r" % p)
        check(g["errors_by_kind"]["unsent"] == 100,
              "get never started: expected 100 unsent: %r" % g)

    # 5 ---------------------------------------------------------------
    def test_unreachable(self):
        dead = "%s:%d" % (HOST, self.c.free_port())
        r = self.bench(dead, "-n", "10", timeout=30)
        check(r.code == 3, "bench --node %s (nobody listening): expected "
              "exit 3: %s" % (dead, r.describe()))
        check(one_line_error(r), "expected one line on stderr: "
              + r.describe())
        check(r.out == "", "nothing on stdout expected: " + r.describe())
        r = self.bench(dead, "--direct", "-n", "10", timeout=30)
        check(r.code == 3 and one_line_error(r),
              "bench --direct to nobody: " + r.describe())

    def test_usage(self):
        # A port nobody listens on: a usage error must not get as far as
        # connecting (that would be exit 3).
        dead = "%s:%d" % (HOST, self.c.free_port())
        for argv in (["-c", "0"], ["-n", "x"], ["-t", "get,frob"],
                     ["-P", "5000"], ["-d", str((1 << 20) + 1)],
                     ["--keyspace", "0"], ["--time-limit", "0"],
                     ["--consistency", "most"],
                     ["extra-argument"]):
            r = self.bench(dead, *argv, timeout=30)
            check(r.code == 2 and one_line_error(r),
                  "bench %s: expected exit 2 with one line: %s"
                  % (" ".join(argv), r.describe()))
        r = self.c.dht(dead, "get", "k", "-c", "5")
        check(r.code == 2 and one_line_error(r) and "bench" in r.err,
              "get with -c: expected a usage error naming bench: "
              + r.describe())


def main():
    args = parse_args(__doc__.splitlines()[0])
    runner = Runner("test_bench")
    t = BenchTest(args)
    try:
        if runner.run("start a ring of 3", t.start_ring):
            runner.run("1 put,get,del through a node", t.test_routed)
            runner.run("2 text report", t.test_text)
            runner.run("3 --direct", t.test_direct)
            runner.run("4 failures counted (relay)", t.test_failures_counted)
            runner.run("4 time limit", t.test_time_limit)
            runner.run("5 unreachable node", t.test_unreachable)
            runner.run("5 usage errors", t.test_usage)
            runner.failed += t.c.count_deaths()
        else:
            print(t.c.dump_logs())
    finally:
        t.c.cleanup()
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
