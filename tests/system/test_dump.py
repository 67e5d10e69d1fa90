#!/usr/bin/env python3
"""test_dump.py - backup and restore (issue 16): `dht dump` of a 16-node
ring holding 10 000 keys, then `dht load` into a fresh 16-node ring.

What a user would notice, checked in order (each step needs the previous):
  1. sixteen memory-only dhtd join one by one and the ring converges;
     10 000 keys (values of 0..120 bytes, binary bytes included) are put
     through four nodes over pipelined client connections;
  2. `dht dump --output FILE --json` exits 0, says 10 000 keys, prints
     nothing on stderr (not a terminal: no progress line), leaves no
     temporary file, and the file, read here with the format of
     docs/dump-format.md (CRC-32C per block, end block count), holds
     every key with its value, exactly once;
  3. with one node frozen (SIGSTOP), a dump through another node still
     completes and holds the same records (its range is served by its
     successor once the ring suspects it; the replicas hold its keys);
  4. the first ring is stopped; a fresh 16-node ring starts; `dht load
     FILE --json` exits 0 and says 10 000 keys; a dump of the new ring
     holds the same records as the first dump, record by record: key,
     value and version (counter and writer);
  5. loading the same file again (stderr on a pseudo-terminal: a
     progress line, erased before the summary on stdout) exits 0 and
     changes nothing: a third dump is record for record the second one
     (versions included);
  6. a truncated copy and a copy with one damaged byte are refused by
     `dht load` (exit 2, one line naming the offset, "nothing was
     loaded"), and the ring still holds exactly what it held; `dump`
     without --output and --output with another command are usage errors.

Dump and load rates (keys/s) are printed for the record.

Usage: test_dump.py --bin BUILD_DIR [--seed N]. Exits non-zero on failure.
Every daemon is stopped by PID on every way out (see common.py).
"""

import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import (MSG_C_RESULT, Cluster, Runner, TestFailure,  # noqa: E402
                    check, connect, decode_c_result, encode_frame,
                    one_line_error, parse_args, read_frame, run_cmd)

N_NODES = 16
N_KEYS = 10000
PUT_CONNS = 4          # client connections the keys are put through
PUT_WINDOW = 32        # requests in flight on each
PUT_RETRIES = 50       # per key, for busy / not-serving answers
PUT_TIMEOUT = 60.0     # all the puts
NODE_FLAGS = ["--stabilize-ms", "100", "--heartbeat-ms", "100"]
DUMP_TIMEOUT = 60.0    # one dht dump or load
MSG_C_PUT = 64
STATUS_OK = 0
RETRY_STATUSES = (2, 3, 6, 7)  # redirect, try again, unavailable, busy


def key_of(i):
    return b"dump-key-%05d" % i


def value_of(i):
    n = (i * 37) % 121
    return bytes(((i + k * 7) & 0xff) for k in range(n))


# --- the dump file, read as docs/dump-format.md describes it --------------

def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc32c_table()


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = _CRC_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def read_dump(path):
    """The records of a dump file, as a dict key -> (value, counter,
    writer hex), checking the header, every block's checksum and the end
    block's count; fails on a repeated key."""
    with open(path, "rb") as f:
        data = f.read()
    check(data[:8] == b"CHORDDMP", "%s: no magic" % path)
    version, flags = struct.unpack(">HH", data[8:12])
    check(version == 1 and flags == 0, "%s: version %d flags %d"
          % (path, version, flags))
    check(struct.unpack(">I", data[28:32])[0] == crc32c(data[:28]),
          "%s: header checksum" % path)
    pos = 32
    records = {}
    while True:
        check(pos + 16 <= len(data), "%s: truncated at %d" % (path, pos))
        kind = data[pos]
        count, length, crc = struct.unpack(">III", data[pos + 4:pos + 16])
        payload = data[pos + 16:pos + 16 + length]
        check(len(payload) == length, "%s: short block at %d" % (path, pos))
        check(crc32c(payload, crc32c(data[pos:pos + 12])) == crc,
              "%s: block checksum at %d" % (path, pos))
        pos += 16 + length
        if kind == ord("E"):
            (total,) = struct.unpack(">Q", payload)
            check(total == len(records), "%s: end block counts %d, read %d"
                  % (path, total, len(records)))
            check(pos == len(data), "%s: bytes after the end" % path)
            return records
        check(kind == ord("R"), "%s: block kind %r" % (path, kind))
        p = 0
        for _ in range(count):
            (klen,) = struct.unpack(">I", payload[p:p + 4])
            key = payload[p + 4:p + 4 + klen]
            p += 4 + klen
            (vlen,) = struct.unpack(">I", payload[p:p + 4])
            value = payload[p + 4:p + 4 + vlen]
            p += 4 + vlen
            counter = struct.unpack(">Q", payload[p:p + 8])[0]
            writer = payload[p + 8:p + 28].hex()
            expires = struct.unpack(">Q", payload[p + 28:p + 36])[0]
            rflags = payload[p + 36]
            p += 37
            check(expires == 0 and rflags == 0 and counter >= 1,
                  "%s: record %r: expiry %d flags %d counter %d"
                  % (path, key, expires, rflags, counter))
            check(key not in records, "%s: key %r twice" % (path, key))
            records[key] = (value, counter, writer)
        check(p == length, "%s: block at %d has extra bytes" % (path, pos))


# --- putting many keys fast ------------------------------------------------

def put_frame(req_id, key, value):
    return encode_frame(MSG_C_PUT, req_id, struct.pack(">I", len(key)) + key
                        + struct.pack(">I", len(value)) + value
                        + struct.pack(">B", 0))


def put_through(addr, indices, deadline):
    """Put the keys of `indices` through the node at addr, PUT_WINDOW in
    flight; a key answered busy / not serving is sent again (bounded)."""
    sock = connect(addr, timeout=10.0)
    try:
        todo = list(indices)
        tries = {}
        inflight = {}
        next_id = 1
        while todo or inflight:
            check(time.monotonic() < deadline, "puts through %s timed out "
                  "with %d keys left" % (addr, len(todo) + len(inflight)))
            while todo and len(inflight) < PUT_WINDOW:
                i = todo.pop()
                inflight[next_id] = i
                sock.sendall(put_frame(next_id, key_of(i), value_of(i)))
                next_id += 1
            mtype, req_id, body = read_frame(sock)
            check(mtype == MSG_C_RESULT and req_id in inflight,
                  "unexpected reply type %d id %d" % (mtype, req_id))
            i = inflight.pop(req_id)
            status, error, _value = decode_c_result(body)
            if status == STATUS_OK:
                continue
            tries[i] = tries.get(i, 0) + 1
            check(status in RETRY_STATUSES and tries[i] < PUT_RETRIES,
                  "put %r through %s: status %d: %s"
                  % (key_of(i), addr, status, error))
            time.sleep(0.02)
            todo.append(i)
    finally:
        sock.close()


class DumpTest:
    def __init__(self, args):
        self.args = args
        self.c = None
        self.tmp = tempfile.mkdtemp(prefix="dht-dumpfiles-")
        self.dump_a = None
        self.dump_b = None

    def dht(self, node, *args, timeout=DUMP_TIMEOUT):
        return run_cmd([self.c.dht_bin, "--node", node.addr] + list(args),
                       timeout=timeout)

    def start_ring(self, name):
        self.c = Cluster(self.args.bin, name=name, seed=self.args.seed)
        self.c.start_node(extra=NODE_FLAGS)
        for _ in range(1, N_NODES):
            via = self.c.rng.choice(self.c.nodes)
            self.c.start_node(join=via, extra=NODE_FLAGS)
        took = self.c.wait_ring(timeout=60.0)
        print("  %d nodes, ring correct after %.1f s" % (N_NODES, took),
              flush=True)

    def dump(self, name):
        """dht dump of the ring into tmp/name; returns (path, report)."""
        path = os.path.join(self.tmp, name)
        node = self.c.rng.choice(self.c.nodes)
        r = self.dht(node, "dump", "--output", path, "--json")
        check(r.code == 0, "dump failed: " + r.describe())
        check(r.err == "", "dump wrote to stderr (not a terminal): %r"
              % r.err)
        rep = json.loads(r.out)
        check(os.path.exists(path), "no dump file at %s" % path)
        left = [f for f in os.listdir(self.tmp) if ".partial-" in f]
        check(not left, "temporary files left: %r" % left)
        return path, rep

    # --- 1 ---
    def step_ring_and_keys(self):
        self.start_ring("dumpA")
        t0 = time.monotonic()
        deadline = t0 + PUT_TIMEOUT
        nodes = self.c.rng.sample(self.c.nodes, PUT_CONNS)
        errors = []

        def worker(k):
            try:
                put_through(nodes[k].addr, range(k, N_KEYS, PUT_CONNS),
                            deadline)
            except (TestFailure, OSError, ValueError) as e:
                errors.append(str(e))

        threads = [threading.Thread(target=worker, args=(k,))
                   for k in range(PUT_CONNS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(PUT_TIMEOUT + 10)
        check(not errors, "puts failed: %s" % "; ".join(errors[:3]))
        print("  %d keys put in %.1f s" % (N_KEYS, time.monotonic() - t0),
              flush=True)

    # --- 2 ---
    def step_dump(self):
        path, rep = self.dump("ring-a.dump")
        check(rep.get("keys") == N_KEYS, "dump says %r keys, want %d"
              % (rep.get("keys"), N_KEYS))
        recs = read_dump(path)
        check(len(recs) == N_KEYS, "file holds %d records" % len(recs))
        bad = [i for i in range(N_KEYS)
               if recs.get(key_of(i), (None,))[0] != value_of(i)]
        check(not bad, "%d keys missing or wrong in the dump, first %r"
              % (len(bad), key_of(bad[0]) if bad else None))
        self.dump_a = (path, recs)
        print("  dump: %d keys in %d ms (%d keys/s), %d ranges, %d pages"
              % (rep["keys"], rep["ms"], rep["keys_per_s"], rep["ranges"],
                 rep["pages"]), flush=True)

    # --- 3 ---
    def step_dump_round_frozen_node(self):
        victim = self.c.nodes[len(self.c.nodes) // 2]
        check(self.c.signal_node(victim, signal.SIGSTOP), "cannot freeze")
        try:
            t0 = time.monotonic()
            path = os.path.join(self.tmp, "frozen.dump")
            others = [n for n in self.c.nodes if n is not victim]
            r = self.dht(self.c.rng.choice(others), "dump", "--output", path,
                         "--json", "--timeout-ms", "20000")
            took = time.monotonic() - t0
        finally:
            self.c.signal_node(victim, signal.SIGCONT)
        check(r.code == 0, "dump with %s frozen: %s"
              % (victim.addr, r.describe()))
        rep = json.loads(r.out)
        # Its range is served by its successor once the ring suspects it:
        # same keys, same values, same versions (replicas hold them).
        self.compare(self.dump_a[1], read_dump(path), "the dump",
                     "the dump with a node frozen")
        print("  with %s frozen: %d keys in %.1f s, %d ranges"
              % (victim.addr, rep["keys"], took, rep["ranges"]), flush=True)

    # --- 4 ---
    def step_load_fresh_ring(self):
        self.c.cleanup()
        self.start_ring("dumpB")
        node = self.c.rng.choice(self.c.nodes)
        r = self.dht(node, "load", self.dump_a[0], "--json")
        check(r.code == 0, "load failed: " + r.describe())
        check(r.err == "", "load wrote to stderr: %r" % r.err)
        rep = json.loads(r.out)
        check(rep.get("keys") == N_KEYS, "load says %r keys" % rep.get("keys"))
        print("  load: %d keys in %d ms (%d keys/s)"
              % (rep["keys"], rep["ms"], rep["keys_per_s"]), flush=True)
        path, _ = self.dump("ring-b.dump")
        got = read_dump(path)
        self.compare(self.dump_a[1], got, "the first ring", "the new ring")
        self.dump_b = got

    def compare(self, want, got, wname, gname):
        check(len(got) == len(want), "%s holds %d records, %s %d"
              % (gname, len(got), wname, len(want)))
        diff = [k for k in want if got.get(k) != want[k]]
        check(not diff, "%d records differ between %s and %s; first %r: "
              "%r vs %r" % (len(diff), wname, gname, diff[0] if diff else
                            None, want.get(diff[0]) if diff else None,
                            got.get(diff[0]) if diff else None))

    def load_on_terminal(self, node, path):
        """`dht load` with stderr on a pseudo-terminal: (exit code,
        stdout, what the terminal got)."""
        master, slave = os.openpty()
        try:
            p = subprocess.Popen([self.c.dht_bin, "--node", node.addr, "load",
                                  path], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=slave)
        finally:
            os.close(slave)
        try:
            out, _ = p.communicate(timeout=DUMP_TIMEOUT)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            os.close(master)
            raise TestFailure("load on a terminal timed out")
        tty = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the other side is closed and drained
                break
            if not chunk:
                break
            tty += chunk
        os.close(master)
        return p.returncode, out.decode(errors="replace"), tty

    # --- 5 ---
    def step_load_again(self):
        node = self.c.rng.choice(self.c.nodes)
        # On a terminal: a progress line (done/total, percent, rate).
        code, out, tty = self.load_on_terminal(node, self.dump_a[0])
        check(code == 0, "second load failed (exit %s): %r" % (code, tty))
        check(b"\rload: " in tty and b"/s" in tty and b"100%" in tty,
              "no progress line on the terminal: %r" % tty[-200:])
        check(out.startswith("loaded %d keys" % N_KEYS),
              "second load said %r" % out)
        path, rep = self.dump("ring-b2.dump")
        check(rep.get("keys") == N_KEYS, "after the second load the ring "
              "holds %r keys" % rep.get("keys"))
        self.compare(self.dump_b, read_dump(path), "the dump after one load",
                     "the dump after two")

    # --- 6 ---
    def step_bad_files(self):
        src = self.dump_a[0]
        with open(src, "rb") as f:
            data = f.read()
        cut = os.path.join(self.tmp, "cut.dump")
        with open(cut, "wb") as f:
            f.write(data[:len(data) * 2 // 3])
        damaged = os.path.join(self.tmp, "damaged.dump")
        spoilt = bytearray(data)
        spoilt[32 + 16 + 100] ^= 0x20  # in the first block's records
        with open(damaged, "wb") as f:
            f.write(bytes(spoilt))
        node = self.c.nodes[0]
        for path, word in ((cut, "truncated"), (damaged, "damaged")):
            r = self.dht(node, "load", path)
            check(r.code == 2, "load of a %s file: %s" % (word, r.describe()))
            check(one_line_error(r) and word in r.err and "offset" in r.err
                  and "nothing was loaded" in r.err,
                  "load of a %s file said: %r" % (word, r.err))
        _, rep = self.dump("ring-b3.dump")
        check(rep.get("keys") == N_KEYS, "after refused loads the ring "
              "holds %r keys" % rep.get("keys"))
        r = self.dht(node, "dump")
        check(r.code == 2 and one_line_error(r) and "--output" in r.err,
              "dump without --output: " + r.describe())
        r = self.dht(node, "status", "--output", "x")
        check(r.code == 2 and one_line_error(r),
              "--output with status: " + r.describe())

    def cleanup(self):
        if self.c:
            self.c.cleanup()
        shutil.rmtree(self.tmp, ignore_errors=True)


def main():
    args = parse_args(__doc__.splitlines()[0])
    t = DumpTest(args)
    run = Runner("test_dump")
    try:
        steps = [("16-node ring, 10000 keys", t.step_ring_and_keys),
                 ("dump holds every key once", t.step_dump),
                 ("dump goes round a frozen node",
                  t.step_dump_round_frozen_node),
                 ("load into a fresh ring: same records",
                  t.step_load_fresh_ring),
                 ("load again changes nothing", t.step_load_again),
                 ("bad files refused, nothing loaded", t.step_bad_files)]
        for name, fn in steps:
            if not run.run(name, fn):
                if t.c:
                    print(t.c.dump_logs())
                break
    finally:
        t.cleanup()
    return run.finish()


if __name__ == "__main__":
    sys.exit(main())
