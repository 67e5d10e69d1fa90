#!/usr/bin/env python3
"""test_causal.py - version vectors as a user meets them (issue 14), on
a 3-node ring (r = 3).

  1. get --json prints {"key", "values": [{"value", "ttl_s"}], "context"};
     a put with a context read before a newer write is concurrent with
     it: `dht get` then exits 6 with one line naming 2 values and prints
     nothing on stdout; --all prints both length-prefixed; --json lists
     both; a put with the context of that read leaves exactly one.
  2. Compare-and-set: --if-absent on a key with a value exits 4 and
     writes nothing; on a new key it writes. --if-context with a stale
     context exits 4 and writes nothing; with the current one it writes.
     A bad context is a usage error (exit 2).
  3. CAS under 8 concurrent incrementing clients (get --json, put
     --if-context, retry on exit 4), each through a different node in
     turn: the counter ends equal to the number of successful puts.
  4. TTL: a key put with --ttl 2 reads in the first second (ttl_s shown),
     is gone from every replica after 3 s (get --consistency all exits
     1), and stays gone across a restart of every node.
  5. Sessions: `dht --session FILE` through a different node each time
     reads its own write; the token file exists and a corrupt one is
     refused with one line.
  6. An old-format data directory (written by the release before version
     vectors: a checkpoint and a log, puts, overwrites, deletes, an
     append) loads: every key reads as it did.

Usage: test_causal.py --bin BUILD_DIR.
"""

import json
import os
import shutil
import signal
import sys
import tarfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import (Cluster, check, one_line_error, parse_args,  # noqa: E402
                    run_steps)

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "fixtures", "datadir-v1.tar.gz")
CLIENTS = 8
INCREMENTS = 6  # successful puts each client makes


class Causal:
    def __init__(self, cluster, nodes, data):
        self.c = cluster
        self.nodes = nodes
        self.data = data

    def dht(self, *args, stdin=None, node=0):
        return self.c.dht(self.nodes[node % len(self.nodes)], *args,
                          stdin=stdin)

    def ok(self, *args, node=0):
        r = self.dht(*args, node=node)
        check(r.code == 0, "want exit 0: %s" % r.describe())
        return r

    def read(self, key, node=0, code=0):
        r = self.dht("get", key, "--json", node=node)
        check(r.code == code, "get --json: want exit %d: %s"
              % (code, r.describe()))
        doc = json.loads(r.out)
        check(doc.get("key") == key and isinstance(doc.get("values"), list)
              and isinstance(doc.get("context"), str) and doc["context"],
              "get --json document: %r" % doc)
        return doc

    def siblings(self):
        self.ok("put", "colour", "red")
        stale = self.read("colour")["context"]
        self.ok("put", "colour", "green", node=1)
        # A put with the context read before "green": concurrent with it.
        self.ok("put", "colour", "blue", "--context", stale, node=2)
        r = self.dht("get", "colour")
        check(r.code == 6 and r.out == "" and one_line_error(r)
              and "2 values" in r.err,
              "get with siblings: want exit 6, nothing on stdout, one line "
              "naming 2 values: %s" % r.describe())
        r = self.ok("get", "colour", "--all")
        check(sorted(r.out.split("\n")[1::2][:2]) == ["blue", "green"]
              and r.out.startswith(("4\n", "5\n")),
              "--all: length-prefixed values: %r" % r.out)
        doc = self.read("colour", node=1)
        got = sorted(v["value"] for v in doc["values"])
        check(got == ["blue", "green"], "--json values: %r" % got)
        check(all(v["ttl_s"] is None for v in doc["values"]),
              "no TTL: ttl_s null: %r" % doc)
        self.ok("put", "colour", "teal", "--context", doc["context"])
        r = self.ok("get", "colour", node=2)
        check(r.out == "teal", "resolved: want teal: %s" % r.describe())
        check(len(self.read("colour")["values"]) == 1, "one value left")

    def compare_and_set(self):
        r = self.dht("put", "colour", "x", "--if-absent")
        check(r.code == 4 and one_line_error(r),
              "--if-absent on a key with a value: exit 4: %s" % r.describe())
        check(self.ok("get", "colour").out == "teal", "written anyway")
        self.ok("put", "fresh", "1", "--if-absent", node=1)
        check(self.ok("get", "fresh").out == "1", "--if-absent wrote")
        ctx = self.read("fresh")["context"]
        self.ok("put", "fresh", "2")
        r = self.dht("put", "fresh", "3", "--if-context", ctx, node=2)
        check(r.code == 4 and one_line_error(r),
              "a stale --if-context: exit 4: %s" % r.describe())
        check(self.ok("get", "fresh").out == "2", "a failed CAS wrote")
        ctx = self.read("fresh", node=1)["context"]
        self.ok("put", "fresh", "3", "--if-context", ctx)
        check(self.ok("get", "fresh").out == "3", "CAS did not write")
        r = self.dht("del", "fresh", "--if-context", ctx)
        check(r.code == 4, "del --if-context stale: exit 4: %s"
              % r.describe())
        for bad in (["put", "k", "v", "--context", "%%%"],
                    ["put", "k", "v", "--if-context", ""],
                    ["put", "k", "v", "--if-absent", "--if-context", ctx],
                    ["put", "k", "v", "--ttl", "0"],
                    ["put", "k", "v", "--ttl", "x"]):
            r = self.dht(*bad)
            check(r.code == 2 and one_line_error(r) and r.out == "",
                  "usage error: want exit 2: %s" % r.describe())

    def cas_counter(self):
        self.ok("put", "counter", "0")
        done = [0] * CLIENTS
        errors = []

        def client(i):
            turn = i
            tries = 0
            while done[i] < INCREMENTS and tries < 400:
                tries += 1
                turn += 1
                r = self.dht("get", "counter", "--json", node=turn)
                if r.code != 0:
                    errors.append("get: " + r.describe())
                    return
                doc = json.loads(r.out)
                if len(doc["values"]) != 1:
                    errors.append("siblings under CAS: %r" % doc)
                    return
                n = int(doc["values"][0]["value"])
                r = self.dht("put", "counter", str(n + 1), "--if-context",
                             doc["context"], node=turn + 1)
                if r.code == 0:
                    done[i] += 1
                elif r.code != 4:
                    errors.append("put: " + r.describe())
                    return

        threads = [threading.Thread(target=client, args=(i,))
                   for i in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        check(not errors, "clients failed: %s" % errors[:3])
        total = sum(done)
        check(total == CLIENTS * INCREMENTS,
              "each client made its increments: %r" % done)
        final = self.ok("get", "counter", "--consistency", "all").out
        check(final == str(total), "counter %s after %d successful puts"
              % (final, total))

    def ttl(self):
        t0 = time.monotonic()
        self.ok("put", "brief", "here", "--ttl", "2")
        doc = self.read("brief", node=1)
        check(time.monotonic() - t0 < 1.0,
              "the read took too long to mean anything")
        check([v["value"] for v in doc["values"]] == ["here"]
              and doc["values"][0]["ttl_s"] in (1, 2),
              "read in the first second, ttl_s 1 or 2: %r" % doc)
        self.ok("put", "lasting", "stays")
        time.sleep(max(0.0, 3.0 - (time.monotonic() - t0)))
        for i in range(len(self.nodes)):
            r = self.dht("get", "brief", "--consistency", "all", node=i)
            check(r.code == 1, "expired: want exit 1 from every node and "
                  "replica: %s" % r.describe())
        # Across a restart of every node (kill -9, then each on its port
        # and data directory; they find each other from what they knew).
        ports = [n.port for n in self.nodes]
        for n in self.nodes:
            self.c.stop_node(n, sig=signal.SIGKILL)
        self.nodes[:] = [self.c.start_node(port=ports[i], wait=False,
                                           extra=["--data", self.data[i]])
                         for i in range(len(ports))]
        self.c.wait_ring(self.nodes, timeout=40.0)
        for i in range(len(self.nodes)):
            r = self.dht("get", "brief", "--consistency", "all", node=i)
            check(r.code == 1, "after a restart: %s" % r.describe())
        check(self.ok("get", "lasting").out == "stays",
              "a key without TTL survived the restarts")

    def sessions(self):
        tok = os.path.join(self.c.tmp, "session.tok")
        for i in range(6):
            self.ok("--session", tok, "put", "mine", "v%d" % i, node=i)
            r = self.ok("--session", tok, "get", "mine", node=i + 1)
            check(r.out == "v%d" % i, "read-your-writes through another "
                  "node: %s" % r.describe())
        check(os.path.getsize(tok) > 0, "no token file written")
        with open(tok, "wb") as f:
            f.write(b"garbage\x00\x01")
        r = self.dht("--session", tok, "get", "mine")
        check(r.code != 0 and one_line_error(r) and tok in r.err,
              "a corrupt token: one line naming the file: %s" % r.describe())

    def old_format(self):
        d = os.path.join(self.c.tmp, "old")
        with tarfile.open(FIXTURE) as t:
            t.extractall(d)
        node = self.c.start_node(extra=["--data", os.path.join(d, "a"),
                                        "-r", "1"])
        want = {"k1": "value-1", "k2": "value-2b", "k4": "value-4b",
                "k6": "value-6 and more", "k7": "value-7"}
        for k, v in want.items():
            r = self.c.dht(node, "get", k)
            check(r.code == 0 and r.out == v, "old data %s: want %r: %s"
                  % (k, v, r.describe()))
        for k in ("k3", "k5", "big"):
            r = self.c.dht(node, "get", k)
            check(r.code == 1, "old data %s was deleted: %s"
                  % (k, r.describe()))
        self.c.stop_node(node)
        shutil.rmtree(d, ignore_errors=True)


def main():
    args = parse_args(__doc__.splitlines()[0])
    c = Cluster(args.bin, name="causal", seed=args.seed)
    data = [os.path.join(c.tmp, "data%d" % i) for i in range(3)]
    first = c.start_node(extra=["--data", data[0]])
    nodes = [first, c.start_node(join=first, extra=["--data", data[1]]),
             c.start_node(join=first, extra=["--data", data[2]])]
    c.wait_ring(nodes)
    t = Causal(c, nodes, data)
    return run_steps("test_causal", c, [
        ("siblings, --all, --json, a put with a context", t.siblings),
        ("compare-and-set", t.compare_and_set),
        ("CAS under %d concurrent clients" % CLIENTS, t.cas_counter),
        ("TTL, also across restarts", t.ttl),
        ("sessions", t.sessions),
        ("an old-format data directory loads", t.old_format),
    ])


if __name__ == "__main__":
    sys.exit(main())
