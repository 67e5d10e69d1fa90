#!/usr/bin/env python3
"""test_durability.py - the acceptance test of durability (issue 4): real
dhtd processes on 127.0.0.1 with `--data` directories, killed with
SIGKILL and restarted on the same directories.

What a user would notice, checked in order:
  1. (for --fsync always, then batch) three `dhtd --replicas 3 --data DIR`
     form a ring; 500 puts are acknowledged; every node holds its keys
     (`keys` in `dht status --json`, which also says "durability": MODE);
     all three get SIGKILL at once and are restarted on the same ports and
     directories; each one logs "recovered N keys ..." with N at least what
     it held when killed, so every node recovered its own copies from its
     own log rather than from a peer; all 500 values read back;
  2. a data directory whose log has a flipped byte in the middle is
     refused: dhtd exits 1 with one line naming the log file and the byte
     offset of the damaged record (computed here by walking the records);
     with --repair it starts, sets the file aside as *.damaged, and keeps
     exactly the records before the damage;
  3. a second dhtd on a directory in use is refused with
     "dhtd: DIR is in use by another node (pid N)", N the first one's pid;
     a dhtd without --data says at start that it is memory-only.

Puts and gets go over persistent TCP connections speaking the wire
protocol (an acknowledged put is a C_RESULT with status ok), so the test
measures the daemons and not hundreds of CLI start-ups; a sample of the
values is also read through the `dht get` CLI.

Usage: test_durability.py --bin BUILD_DIR [--seed N]. Prints one line per
step and "N passed, M failed"; exits non-zero on failure. DHT_KEEP_LOGS=1
keeps the logs and data directories. Every daemon is stopped by PID on
every way out (see common.py).
"""

import json
import os
import re
import signal
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import (KILL_TIMEOUT, START_TIMEOUT, Cluster, Runner,  # noqa: E402
                    TestFailure, check, connect, encode_frame, parse_args,
                    read_frame)

N_NODES = 3
N_KEYS = 500
REPLICAS = 3
WRITERS = 3            # TCP connections putting at once
PLACE_TIMEOUT = 30.0   # every node holds its keys after the puts
OP_TRIES = 5           # attempts of one put/get (busy, try again...)
OP_TIMEOUT = 10.0      # one request over TCP
CLI_SAMPLE = 20        # values also read through `dht get`
CORRUPT_KEYS = 50      # puts before the corruption test's damage
CORRUPT_AT = 25        # 1-based record whose payload gets a flipped byte

MSG_C_PUT = 64
MSG_C_GET = 65
MSG_C_RESULT = 69
STATUS_OK = 0
STATUS_NOT_FOUND = 1
WAL_HEADER = 16        # u32 length, u32 crc, u64 seq


# --- the wire protocol (src/core/wire.h) ----------------------------------

def _bytes(b):
    return struct.pack(">I", len(b)) + b


def c_result(body):
    """(status, error, value) of a C_RESULT body: u8 status, u16-length
    error text, u32-length value."""
    if len(body) < 7:
        raise ConnectionError("C_RESULT body of %d bytes" % len(body))
    status = body[0]
    (elen,) = struct.unpack(">H", body[1:3])
    pos = 3 + elen
    (vlen,) = struct.unpack(">I", body[pos:pos + 4])
    return status, body[3:pos].decode(errors="replace"), \
        body[pos + 4:pos + 4 + vlen]


class Conn:
    """One TCP connection to a node, one request at a time."""

    def __init__(self, addr):
        self.addr = addr
        self.sock = connect(addr, timeout=OP_TIMEOUT)
        self.req = 0

    def call(self, mtype, body):
        self.req += 1
        self.sock.sendall(encode_frame(mtype, self.req, body))
        while True:
            rtype, rid, rbody = read_frame(self.sock)
            if rid == self.req:
                if rtype != MSG_C_RESULT:
                    raise ConnectionError("reply of type %d" % rtype)
                return c_result(rbody)

    def put(self, key, value):
        """True once the node acknowledged the put (status ok)."""
        for _ in range(OP_TRIES):
            status, err, _ = self.call(MSG_C_PUT, _bytes(key.encode()) +
                                       _bytes(value.encode()) + b"\0")
            if status == STATUS_OK:
                return True
            time.sleep(0.2)
        return False

    def get(self, key):
        """The value, or None when not found (or failing after a few
        tries)."""
        for _ in range(OP_TRIES):
            status, err, value = self.call(MSG_C_GET,
                                           _bytes(key.encode()) + b"\0")
            if status == STATUS_OK:
                return value.decode(errors="replace")
            if status == STATUS_NOT_FOUND:
                return None
            time.sleep(0.2)
        return None

    def close(self):
        self.sock.close()


def in_threads(fn, chunks):
    """Run fn(chunk) for each chunk in its own thread; re-raise the first
    exception. The threads are joined before returning."""
    errors = []

    def run(chunk):
        try:
            fn(chunk)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(c,)) for c in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def wal_record_offsets(path):
    """The byte offset of every whole record of a log segment, in order."""
    with open(path, "rb") as f:
        data = f.read()
    offs, pos = [], 0
    while pos + WAL_HEADER <= len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        if pos + WAL_HEADER + length > len(data):
            break
        offs.append(pos)
        pos += WAL_HEADER + length
    return offs


def last_recovered(log_text):
    """N of the last "recovered N keys" line of a log, or None."""
    found = re.findall(r"recovered (\d+) keys from snapshot", log_text)
    return int(found[-1]) if found else None


class DurabilityTest:
    def __init__(self, args):
        self.args = args

    def node_flags(self, data, mode, extra=()):
        return ["--replicas", str(REPLICAS), "--data", data, "--fsync",
                mode] + list(extra)

    def status(self, c, node):
        r = c.dht(node, "--timeout-ms", "3000", "status", "--json",
                  timeout=10)
        check(r.code == 0, "status failed: " + r.describe())
        return json.loads(r.out)

    def put_all(self, nodes, kv):
        keys = sorted(kv)

        def writer(i):
            conn = Conn(nodes[i % len(nodes)].addr)
            try:
                for k in keys[i::WRITERS]:
                    check(conn.put(k, kv[k]),
                          "put %s through %s was not acknowledged"
                          % (k, conn.addr))
            finally:
                conn.close()
        in_threads(writer, range(WRITERS))

    def check_all(self, c, nodes, kv):
        keys = sorted(kv)
        wrong = []

        def reader(i):
            conn = Conn(nodes[i % len(nodes)].addr)
            try:
                for k in keys[i::WRITERS]:
                    got = conn.get(k)
                    if got != kv[k]:
                        wrong.append((k, got))
            finally:
                conn.close()
        in_threads(reader, range(WRITERS))
        check(not wrong, "%d of %d keys lost or wrong after the restart, "
              "e.g. %r\n%s" % (len(wrong), len(kv), wrong[:5],
                               c.dump_logs()))
        for k in keys[:CLI_SAMPLE]:
            r = c.dht(nodes[keys.index(k) % len(nodes)], "get", k)
            check(r.code == 0 and r.out.rstrip("\n") == kv[k],
                  "dht get %s after the restart: %s" % (k, r.describe()))

    def kill_restart(self, mode):
        c = Cluster(self.args.bin, name="durability-" + mode,
                    seed=self.args.seed)
        try:
            dirs = [os.path.join(c.tmp, "data-%d" % i)
                    for i in range(N_NODES)]
            nodes = [c.start_node(extra=self.node_flags(dirs[0], mode))]
            for i in range(1, N_NODES):
                nodes.append(c.start_node(
                    join=nodes[0], extra=self.node_flags(dirs[i], mode)))
            c.wait_ring()
            kv = {"dur-%s-%04d" % (mode, i): "value-%d-%s" % (
                i, c.rng.randrange(1 << 30)) for i in range(N_KEYS)}
            t0 = time.monotonic()
            self.put_all(nodes, kv)
            print("  %d puts acknowledged in %.1f s with --fsync %s"
                  % (N_KEYS, time.monotonic() - t0, mode), flush=True)

            # Every node holds a copy of every key (r = 3 on 3 nodes).
            deadline = time.monotonic() + PLACE_TIMEOUT
            while True:
                held = [self.status(c, n) for n in nodes]
                if all(st["keys"] == N_KEYS for st in held):
                    break
                if time.monotonic() > deadline:
                    raise TestFailure("keys held before the kill: %s, "
                                      "expected %d each"
                                      % ([st["keys"] for st in held], N_KEYS))
                time.sleep(0.25)

            for n in nodes:
                c.signal_node(n, signal.SIGKILL)
            for n in nodes:
                n.proc.wait(timeout=KILL_TIMEOUT)
                check(n.proc.returncode == -signal.SIGKILL,
                      "%s exited with %s, not by SIGKILL"
                      % (n.addr, n.proc.returncode))

            # The same ports and directories: the first one alone, the
            # others join it. Each must recover its own copies.
            again = [c.start_node(port=nodes[0].port,
                                  extra=self.node_flags(dirs[0], mode))]
            for i in range(1, N_NODES):
                again.append(c.start_node(
                    port=nodes[i].port, join=again[0],
                    extra=self.node_flags(dirs[i], mode)))
            for n in again:
                got = last_recovered(n.log_text())
                check(got is not None and got >= N_KEYS,
                      "%s logged 'recovered %s keys' after SIGKILL, "
                      "expected %d:\n%s"
                      % (n.addr, got, N_KEYS, n.log_tail()))
            c.wait_ring()
            self.check_all(c, again, kv)
            print("  all %d keys back after kill -9 of all %d nodes"
                  % (N_KEYS, N_NODES), flush=True)
            for n in again:
                st = self.status(c, n)
                check(st.get("durability") == mode,
                      "status of %s says durability %r, expected %r"
                      % (n.addr, st.get("durability"), mode))
        finally:
            c.cleanup()

    def step_always(self):
        self.kill_restart("always")

    def step_batch(self):
        self.kill_restart("batch")

    def wait_exit(self, proc, what):
        try:
            return proc.wait(timeout=START_TIMEOUT)
        except Exception:  # noqa: BLE001 - TimeoutExpired
            raise TestFailure("%s did not exit" % what)

    def step_corruption(self):
        c = Cluster(self.args.bin, name="durability-corrupt",
                    seed=self.args.seed)
        try:
            data = os.path.join(c.tmp, "data")
            flags = ["--replicas", "1", "--data", data, "--fsync", "always"]
            n = c.start_node(extra=flags)
            conn = Conn(n.addr)
            keys = ["corrupt-%03d" % i for i in range(CORRUPT_KEYS)]
            for k in keys:
                check(conn.put(k, "v-" + k), "put %s not acknowledged" % k)
            conn.close()
            c.signal_node(n, signal.SIGKILL)
            n.proc.wait(timeout=KILL_TIMEOUT)

            seg = os.path.join(data, "wal-0000000000000001.log")
            offs = wal_record_offsets(seg)
            check(len(offs) == CORRUPT_KEYS,
                  "the log holds %d records for %d puts"
                  % (len(offs), CORRUPT_KEYS))
            bad = offs[CORRUPT_AT - 1]
            with open(seg, "r+b") as f:
                f.seek(bad + WAL_HEADER + 2)
                b = f.read(1)
                f.seek(bad + WAL_HEADER + 2)
                f.write(bytes([b[0] ^ 0x20]))

            # Refused, naming the file and the offset, in one line.
            proc, log = c.spawn_dhtd(["--listen", n.addr] + flags,
                                     "refused.log")
            code = self.wait_exit(proc, "dhtd on a corrupt log")
            with open(log, errors="replace") as f:
                text = f.read()
            check(code == 1, "dhtd on a corrupt log exited %s, expected 1:\n"
                  "%s" % (code, text))
            lines = [l for l in text.splitlines() if l.startswith("dhtd: ")]
            want = "%s is corrupt at byte offset %d" % (seg, bad)
            check(len(lines) == 1 and want in lines[0],
                  "expected one line with %r, got:\n%s" % (want, text))
            print("  refused: %s" % lines[0][:160], flush=True)

            # --repair keeps the records before the damage.
            m = c.start_node(port=n.port, extra=flags + ["--repair"])
            check(os.path.exists(seg + ".damaged"),
                  "no %s.damaged after --repair" % seg)
            got = last_recovered(m.log_text())
            check(got == CORRUPT_AT - 1,
                  "--repair recovered %s keys, expected %d:\n%s"
                  % (got, CORRUPT_AT - 1, m.log_tail()))
            conn = Conn(m.addr)
            for i, k in enumerate(keys):
                v = conn.get(k)
                if i < CORRUPT_AT - 1:
                    check(v == "v-" + k, "%s lost by the repair" % k)
                else:
                    check(v is None, "%s after the damage came back" % k)
            conn.close()
            c.stop_node(m)
        finally:
            c.cleanup()

    def step_lock(self):
        c = Cluster(self.args.bin, name="durability-lock",
                    seed=self.args.seed)
        try:
            data = os.path.join(c.tmp, "shared")
            a = c.start_node(extra=["--data", data])
            port = c.free_port()
            proc, log = c.spawn_dhtd(["--listen", "127.0.0.1:%d" % port,
                                      "--data", data], "second.log")
            code = self.wait_exit(proc, "a second dhtd on the same --data")
            with open(log, errors="replace") as f:
                text = f.read().strip()
            want = "dhtd: %s is in use by another node (pid %d)" % (data,
                                                                   a.pid)
            check(code == 1 and text == want,
                  "second dhtd: exit %s, output %r; expected 1 and %r"
                  % (code, text, want))
            check(a.alive(), "the first node died")

            # No --data: memory-only, said at start and in status.
            b = c.start_node()
            check("memory-only" in b.log_text(),
                  "no 'memory-only' line at start:\n" + b.log_tail())
            st = self.status(c, b)
            check(st.get("durability") == "memory",
                  "status says durability %r without --data"
                  % st.get("durability"))
        finally:
            c.cleanup()


def main():
    args = parse_args(__doc__.splitlines()[0])
    t = DurabilityTest(args)
    r = Runner("test_durability")
    r.run("3 nodes --fsync always: 500 puts, kill -9 all, restart: all back",
          t.step_always)
    r.run("3 nodes --fsync batch: 500 puts, kill -9 all, restart: all back",
          t.step_batch)
    r.run("corrupt log refused with file and offset; --repair keeps the "
          "prefix", t.step_corruption)
    r.run("second dhtd on a data dir in use refused; no --data is "
          "memory-only", t.step_lock)
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
