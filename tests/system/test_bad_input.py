#!/usr/bin/env python3
"""test_bad_input.py - what the programs do with input they must refuse.

With a ring of three dhtd on 127.0.0.1:
  (a) garbage on raw TCP (random bytes; a header claiming 4 GiB; a frame
      of an unknown type; a C_GET whose key length overruns the frame) ->
      the node closes that connection, logs a line, and keeps serving: a
      connection opened before still gets answers, and put/get through
      that node still work;
  (b) a 2000-byte key (or a value over 1 MiB) -> `dht put` exits 2 with
      one line on stderr and nothing is stored; a 1024-byte key works;
  (c) an unknown CLI command (and no command) -> exit 2, one line;
  (d) `--node` where nobody listens -> exit 3, one line; with a dead seed
      first and a live one second, the command succeeds;
  (e) `dhtd --join` to a port nobody listens on -> non-zero exit with a
      clear message within 10 s; `dhtd` with a bad flag -> exit 2;
  (f) `dht get` of a missing key -> exit 1, nothing on stdout.

Usage: test_bad_input.py --bin BUILD_DIR [--seed N].
"""

import json
import os
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import (HOST, MSG_C_GET, MSG_C_RESULT, Cluster,  # noqa: E402
                    Runner, TestFailure, check, connect, encode_c_get,
                    encode_frame, one_line_error, parse_args, read_frame)
from common import expect_closed as common_expect_closed  # noqa: E402

CLOSE_TIMEOUT = 5.0  # a node closes a connection that sent garbage
JOIN_FAIL_TIMEOUT = 10.0


def expect_closed(sock, what):
    common_expect_closed(sock, what, CLOSE_TIMEOUT)


def send_garbage(sock, data):
    try:
        sock.sendall(data)
    except (ConnectionResetError, BrokenPipeError):
        pass  # closed already, before we finished: that is fine


class BadInputTest:
    def __init__(self, args):
        self.args = args
        self.c = Cluster(args.bin, name="bad", seed=args.seed)
        self.rng = self.c.rng

    def start_ring(self):
        a = self.c.start_node()
        self.c.start_node(join=a)
        self.c.start_node(join=a)
        self.c.wait_ring(timeout=20.0)

    def total_keys(self):
        return sum(int(self.c.dht_json(n, "status", "--json").get("keys", 0))
                   for n in self.c.live_nodes())

    def check_serving(self, node, tag):
        key = "after-%s-%d" % (tag, self.rng.getrandbits(32))
        r = self.c.dht(node, "put", key, "v-" + tag)
        check(r.code == 0, "after %s, put through %s failed: %s"
              % (tag, node.addr, r.describe()))
        r = self.c.dht(node, "get", key)
        check(r.code == 0 and r.out.rstrip("\n") == "v-" + tag,
              "after %s, get through %s failed: %s"
              % (tag, node.addr, r.describe()))

    # (a) -------------------------------------------------------------
    def test_garbage(self):
        node = self.c.nodes[0]
        rand = bytes(self.rng.getrandbits(8) for _ in range(512))
        # A random stream whose first length byte is high claims more
        # than the frame cap.
        rand_big = bytes([0x80 | rand[0]]) + rand[1:]
        huge = struct.pack(">I", 0xFFFFFFFF) + bytes([1, MSG_C_GET, 0, 0]) \
            + rand[:64]
        unknown = encode_frame(0xEE, 7, rand[:40])
        bad_version = encode_frame(MSG_C_GET, 8, rand[:40], version=0x77)
        overrun = encode_frame(MSG_C_GET, 9,
                               struct.pack(">I", 1 << 30) + b"k" * 16)
        cases = [("random bytes", rand_big), ("4 GiB length", huge),
                 ("unknown type 0xEE", unknown),
                 ("protocol version 0x77", bad_version),
                 ("key length past the frame", overrun)]
        # A well-behaved connection opened before the garbage arrives.
        good = connect(node.addr)
        try:
            for i, (what, data) in enumerate(cases):
                s = connect(node.addr)
                local = "%s:%d" % s.getsockname()
                try:
                    send_garbage(s, data)
                    expect_closed(s, what)
                finally:
                    s.close()
                check(node.alive(), "%s killed dhtd %s (exit %s); log:\n%s"
                      % (what, node.addr, node.proc.returncode,
                         node.log_tail()))
                self.wait_log_line(node, local, what)
                try:
                    good.sendall(encode_c_get(100 + i, "no-such-key-%d" % i))
                    mtype, req_id, _ = read_frame(good)
                except OSError as e:
                    raise TestFailure(
                        "after %s, a C_GET on the connection opened before "
                        "(%s) got no reply: %s; log:\n%s"
                        % (what, "%s:%d" % good.getsockname(), e,
                           node.log_tail()))
                check(mtype == MSG_C_RESULT and req_id == 100 + i,
                      "after %s the other connection got type %d req %d, "
                      "expected C_RESULT for req %d"
                      % (what, mtype, req_id, 100 + i))
                self.check_serving(node, "garbage%d" % i)
        finally:
            good.close()
        for n in self.c.nodes:
            check(n.alive(), "dhtd %s died; log:\n%s" % (n.addr, n.log_tail()))

    def wait_log_line(self, node, client, what):
        """The node logs one line (debug lines aside) naming the client
        address whose connection it closed. The line may be written a
        moment after the close."""
        deadline = time.monotonic() + 2.0
        lines = []
        while time.monotonic() < deadline:
            lines = [l for l in node.log_text().splitlines()
                     if client in l and " DEBUG " not in l]
            if lines:
                break
            time.sleep(0.05)
        check(len(lines) == 1, "%s: expected dhtd %s to log one line about "
              "the connection from %s it closed, got %r"
              % (what, node.addr, client, lines))

    # (b) -------------------------------------------------------------
    def test_oversize_key(self):
        node = self.c.nodes[1]
        before = self.total_keys()
        key = "K" * 2000
        r = self.c.dht(node, "put", key, "value")
        check(r.code == 2, "put with a 2000-byte key: expected exit 2: "
              + r.describe())
        check(one_line_error(r), "expected one line on stderr: "
              + r.describe())
        # A value one byte over 1 MiB, through stdin, is refused too.
        r = self.c.dht(node, "put", "big-value", "-",
                       stdin=b"v" * ((1 << 20) + 1))
        check(r.code == 2, "put of a 1 MiB + 1 value: expected exit 2: "
              + r.describe())
        check(one_line_error(r), "expected one line on stderr: "
              + r.describe())
        after = self.total_keys()
        check(after == before, "the ring held %d keys before and %d after "
              "the refused puts" % (before, after))
        # The largest legal key still works.
        key = "L" * 1024
        r = self.c.dht(node, "put", key, "max")
        check(r.code == 0, "put with a 1024-byte key: " + r.describe())
        r = self.c.dht(self.c.nodes[2], "get", key)
        check(r.code == 0 and r.out.rstrip("\n") == "max",
              "get of the 1024-byte key: " + r.describe())

    # (c) -------------------------------------------------------------
    def test_unknown_command(self):
        node = self.c.nodes[0]
        r = self.c.dht(node, "frobnicate", "x")
        check(r.code == 2, "dht frobnicate: expected exit 2: "
              + r.describe())
        check(one_line_error(r), "expected one line on stderr: "
              + r.describe())
        # Missing arguments are usage errors too (the message may be the
        # usage text, so only its presence is checked).
        for argv in ([], ["put", "only-a-key"], ["get"]):
            r = self.c.dht(node, *argv)
            check(r.code == 2 and r.err.strip(),
                  "dht %s: expected exit 2 with a message: %s"
                  % (" ".join(argv) or "(no command)", r.describe()))

    # (d) -------------------------------------------------------------
    def test_dead_node(self):
        dead = "%s:%d" % (HOST, self.c.free_port())
        r = self.c.dht(dead, "get", "anything", timeout=20)
        check(r.code == 3, "--node %s (nobody listening): expected exit 3: "
              "%s" % (dead, r.describe()))
        check(one_line_error(r), "expected one line on stderr: "
              + r.describe())
        live = self.c.nodes[2]
        r = self.c.dht(None, "put", "two-seeds", "ok", nodes=[dead, live])
        check(r.code == 0, "put with seeds %s (dead), %s (alive): %s"
              % (dead, live.addr, r.describe()))
        r = self.c.dht(None, "get", "two-seeds", nodes=[dead, live])
        check(r.code == 0 and r.out.rstrip("\n") == "ok",
              "get with a dead first seed: " + r.describe())

    # (e) -------------------------------------------------------------
    def test_dhtd_bad_start(self):
        dead = "%s:%d" % (HOST, self.c.free_port())
        port = self.c.free_port()
        t0 = time.monotonic()
        proc, log_path = self.c.spawn_dhtd(
            ["--listen", "%s:%d" % (HOST, port), "--join", dead],
            "join-dead.log")
        try:
            code = proc.wait(timeout=JOIN_FAIL_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise TestFailure("dhtd --join %s (nobody there) still running "
                              "after %.0f s" % (dead, JOIN_FAIL_TIMEOUT))
        took = time.monotonic() - t0
        with open(log_path, errors="replace") as f:
            text = f.read()
        check(code != 0, "dhtd --join %s exited 0; output:\n%s"
              % (dead, text))
        check(dead in text or "join" in text.lower(),
              "dhtd --join %s exited %d without a message naming the join "
              "(output: %r)" % (dead, code, text[-500:]))
        print("  --join to nobody: exit %d after %.1f s: %s"
              % (code, took, text.strip().splitlines()[-1] if text.strip()
                 else ""))
        for argv in (["--no-such-flag"],
                     ["--listen", "%s:%d" % (HOST, port), "--bogus", "1"],
                     ["--listen", "not-an-address"]):
            proc, log_path = self.c.spawn_dhtd(argv, "bad-flag.log")
            try:
                code = proc.wait(timeout=JOIN_FAIL_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise TestFailure("dhtd %s still running" % " ".join(argv))
            with open(log_path, errors="replace") as f:
                text = f.read()
            check(code == 2, "dhtd %s: expected exit 2, got %d; output: %r"
                  % (" ".join(argv), code, text[-300:]))

    # (f) -------------------------------------------------------------
    def test_missing_key(self):
        for n in self.c.nodes:
            r = self.c.dht(n, "get", "never-stored-%d" % self.rng.getrandbits(
                48))
            check(r.code == 1, "get of a missing key through %s: expected "
                  "exit 1: %s" % (n.addr, r.describe()))
            check(r.out == "", "get of a missing key printed %r on stdout"
                  % r.out)
        # A deleted key is missing too.
        node = self.c.nodes[0]
        r = self.c.dht(node, "put", "to-delete", "v")
        check(r.code == 0, r.describe())
        r = self.c.dht(node, "del", "to-delete")
        check(r.code == 0, "del: " + r.describe())
        r = self.c.dht(self.c.nodes[1], "get", "to-delete")
        check(r.code == 1, "get after del: expected exit 1: " + r.describe())

    def test_json_status(self):
        st = self.c.dht_json(self.c.nodes[0], "status", "--json")
        for field in ("id", "addr", "predecessor", "successors", "keys"):
            check(field in st, "status --json lacks %r: %s"
                  % (field, json.dumps(st)[:300]))


def main():
    args = parse_args(__doc__.splitlines()[0])
    runner = Runner("test_bad_input")
    t = BadInputTest(args)
    try:
        if runner.run("start a ring of 3", t.start_ring):
            runner.run("(a) garbage on raw TCP", t.test_garbage)
            runner.run("(b) oversize key refused", t.test_oversize_key)
            runner.run("(c) unknown CLI command", t.test_unknown_command)
            runner.run("(d) unreachable --node, second seed",
                       t.test_dead_node)
            runner.run("(e) dhtd join to nobody, bad flag",
                       t.test_dhtd_bad_start)
            runner.run("(f) missing key", t.test_missing_key)
            runner.run("status --json fields", t.test_json_status)
            runner.failed += t.c.count_deaths()
        else:
            print(t.c.dump_logs())
    finally:
        t.c.cleanup()
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
