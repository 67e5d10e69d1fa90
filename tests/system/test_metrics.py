#!/usr/bin/env python3
"""test_metrics.py - dhtd --metrics-listen: what an operator's Prometheus
and load balancer see (issue 16).

What a user would notice, checked in order:
  1. a 3-node ring, each node with --metrics-listen on its own port:
     /metrics parses with prometheus_client's own parser, every family has
     a HELP and a TYPE, names start with chord_, and counters end in
     _total; /healthz answers 200 "ok" on every node; an unknown path 404;
  2. load: N puts and M gets through `dht`, spread over the nodes; summed
     over the nodes (a request is counted by the node the client asked,
     whatever node owns the key), chord_client_requests_total{op=put,
     outcome=ok} grew by exactly N and {op=get,outcome=ok} by exactly M,
     the client latency histograms' _count (and +Inf bucket) by N and M,
     the peer-request histogram by at least N (every put is replicated to
     the two other nodes), and the nodes hold N * 3 copies between them
     (chord_keys_stored) and report network bytes in both directions;
  3. every metric the Grafana dashboard (contrib/grafana/*.json) names
     exists in a scrape;
  4. /healthz is 503 while a node joins (its seed is frozen with SIGSTOP
     for a moment, so the join waits) and 200 once it has joined; 503
     while it leaves (between SIGTERM and exit, polled from the start).

Usage: test_metrics.py --bin BUILD_DIR [--seed N]. Exit 77 (skipped, the
reason printed) when python3-prometheus-client is not installed. Every
daemon is stopped by PID on every way out (see common.py).
"""

import glob
import json
import os
import re
import signal
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import (HOST, Cluster, check, parallel,  # noqa: E402
                    parse_args, run_steps)

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    # The Debian package, when another Python runs this (pyenv, a venv).
    sys.path.append("/usr/lib/python3/dist-packages")
try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    print("SKIP: python3-prometheus-client is not installed "
          "(tools/run-tests.sh installs it)")
    sys.exit(77)

N_PUTS = 40
N_GETS = 30
REPLICAS = 3
WORKERS = 3
HTTP_TIMEOUT = 5.0
SETTLE_TIMEOUT = 20.0  # replicas hold every copy
JOIN_FREEZE_S = 1.5    # the seed stays frozen this long
REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def http_get(port, path):
    """(status, body) of GET http://127.0.0.1:port/path; status None when
    nothing answers."""
    url = "http://%s:%d%s" % (HOST, port, path)
    try:
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (urllib.error.URLError, ConnectionError, OSError):
        return None, ""


def scrape(port):
    """{(sample name, frozenset of labels): value} and the families."""
    status, text = http_get(port, "/metrics")
    check(status == 200, "GET /metrics on port %d: %s %r"
          % (port, status, text[:200]))
    fams = list(text_string_to_metric_families(text))
    samples = {}
    for f in fams:
        for s in f.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return samples, fams


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(scrapes, name, **labels):
    return sum(value(s, name, **labels) for s in scrapes)


class MetricsTest:
    def __init__(self, args):
        self.c = Cluster(args.bin, name="metrics", seed=args.seed)
        self.nodes = []
        self.mports = []

    def start(self, join=None, wait=True):
        """A node with metrics on a port of its own and a data directory
        (so the write-ahead log's metrics are there too)."""
        mport = self.c.free_port()
        data = os.path.join(self.c.tmp, "data-%d" % mport)
        node = self.c.start_node(
            join=join, wait=wait,
            extra=["--replicas", str(REPLICAS), "--data", data,
                   "--metrics-listen", "%s:%d" % (HOST, mport)])
        return node, mport

    def step_ring(self):
        for i in range(3):
            node, mport = self.start(join=self.nodes[0] if i else None)
            self.nodes.append(node)
            self.mports.append(mport)
        self.c.wait_ring(self.nodes)
        for port in self.mports:
            status, body = http_get(port, "/healthz")
            check((status, body.strip()) == (200, "ok"),
                  "/healthz of an active node: %s %r" % (status, body))
            status, _ = http_get(port, "/nope")
            check(status == 404, "GET /nope: %s, wanted 404" % status)
            _, fams = scrape(port)
            check(len(fams) >= 20, "only %d families" % len(fams))
            for f in fams:
                check(f.name.startswith("chord_"), "family %s" % f.name)
                check(f.type != "unknown" and f.documentation,
                      "family %s has no TYPE or HELP" % f.name)
                if f.type == "counter":
                    check(any(s.name == f.name + "_total" for s in f.samples),
                          "counter %s has no _total sample" % f.name)

    def step_load(self):
        before = [scrape(p)[0] for p in self.mports]
        keys = ["metrics-%d" % i for i in range(N_PUTS)]
        nodes = self.nodes

        def put(i):
            return self.c.dht(nodes[i % 3], "put", keys[i], "v%d" % i)

        def get(i):
            return self.c.dht(nodes[(i + 1) % 3], "get", keys[i % N_PUTS])
        for name, fn, n in (("put", put, N_PUTS), ("get", get, N_GETS)):
            bad = [r for r in parallel(fn, range(n), WORKERS) if r.code != 0]
            check(not bad, "%d %ss failed; first: %s"
                  % (len(bad), name, bad[0].describe() if bad else ""))
        after = [scrape(p)[0] for p in self.mports]

        def grew(name, **labels):
            return total(after, name, **labels) - total(before, name, **labels)
        for op, n in (("put", N_PUTS), ("get", N_GETS)):
            d = grew("chord_client_requests_total", op=op, outcome="ok")
            check(d == n, "%s ok requests grew by %d over the nodes, wanted "
                  "%d" % (op, d, n))
            d = grew("chord_client_request_duration_seconds_count", op=op)
            check(d == n, "%s latency count grew by %d, wanted %d"
                  % (op, d, n))
            d = grew("chord_client_request_duration_seconds_bucket", op=op,
                     le="+Inf")
            check(d == n, "%s +Inf bucket grew by %d, wanted %d" % (op, d, n))
            per_node = [value(a, "chord_client_requests_total", op=op,
                              outcome="ok") -
                        value(b, "chord_client_requests_total", op=op,
                              outcome="ok")
                        for a, b in zip(after, before)]
            check(all(p > 0 for p in per_node),
                  "%s requests were spread over the 3 nodes, yet some node "
                  "counted none: %s" % (op, per_node))
        d = grew("chord_peer_request_duration_seconds_count")
        check(d >= N_PUTS, "peer request latency count grew by %d, wanted at "
              "least %d (each put is replicated)" % (d, N_PUTS))
        for direction in ("in", "out"):
            d = grew("chord_network_bytes_total", direction=direction)
            check(d > 0, "network bytes %s did not grow" % direction)
        want = N_PUTS * REPLICAS
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while True:
            held = total([scrape(p)[0] for p in self.mports],
                         "chord_keys_stored")
            if held == want or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        check(held == want, "the nodes hold %d copies, wanted %d"
              % (held, want))

    def step_dashboard(self):
        files = glob.glob(os.path.join(REPO, "contrib", "grafana", "*.json"))
        check(files, "no dashboard under contrib/grafana")
        samples, fams = scrape(self.mports[0])
        names = {s[0] for s in samples} | {f.name for f in fams}
        for path in files:
            with open(path) as f:
                dash = json.load(f)   # valid JSON, or this raises
            exprs = [t["expr"] for p in dash.get("panels", [])
                     for t in p.get("targets", [])]
            check(exprs, "%s has no queries" % path)
            used = set()
            for e in exprs:
                used |= set(re.findall(r"\bchord_[a-z_]+", e))
            missing = sorted(used - names)
            check(not missing, "%s names metrics a scrape lacks: %s"
                  % (os.path.basename(path), missing))

    def step_health(self):
        seed = self.nodes[0]
        self.c.signal_node(seed, signal.SIGSTOP)
        try:
            node, mport = self.start(join=seed, wait=False)
            seen = []
            deadline = time.monotonic() + JOIN_FREEZE_S
            while time.monotonic() < deadline:
                status, body = http_get(mport, "/healthz")
                if status is not None:
                    seen.append((status, body.strip()))
                time.sleep(0.05)
        finally:
            self.c.signal_node(seed, signal.SIGCONT)
        check(seen, "/healthz never answered while the node joined")
        check(all(s == 503 for s, _ in seen),
              "/healthz while joining: %s" % sorted(set(seen)))
        check(any("joining" in b for _, b in seen),
              "503 body does not say joining: %s" % sorted(set(seen)))
        self.c.wait_ready(node)
        status, body = http_get(mport, "/healthz")
        check(status == 200, "/healthz after the join: %s %r"
              % (status, body))
        # Leaving: from the moment the node logs the signal until it is
        # gone, /healthz must not say 200 (it may be gone at once).
        node.proc.send_signal(signal.SIGTERM)
        codes = []
        deadline = time.monotonic() + 20
        while node.alive() and time.monotonic() < deadline:
            if "received SIGTERM" not in node.log_text():
                time.sleep(0.005)
                continue
            status, _ = http_get(mport, "/healthz")
            if status is not None:
                codes.append(status)
        check(not node.alive(), "the node did not exit after SIGTERM")
        check(200 not in codes, "/healthz said 200 while leaving: %s" % codes)

    def check_alive(self):
        dead = [n for n in self.nodes if not n.alive()]
        check(not dead, "dhtd %s died during the test; log:\n%s"
              % (dead[0].addr, dead[0].log_tail()) if dead else "")

    def run(self):
        return run_steps("test_metrics", self.c, [
            ("3-node ring: /metrics parses, /healthz 200!", self.step_ring),
            ("counters and histograms grow by the load sent",
             self.step_load),
            ("every dashboard metric exists", self.step_dashboard),
            ("the ring's nodes are all alive", self.check_alive),
            ("/healthz 503 while joining and leaving, 200 between",
             self.step_health),
        ])

if __name__ == "__main__":
    sys.exit(MetricsTest(parse_args(__doc__.splitlines()[0])).run())
