#!/usr/bin/env python3
"""memory.py - memory per key: one dhtd (-r 1, memory only) beside one
redis-server, the same N keys written into both, in one run on this
machine. It prints figures; it is not a test.

Each of --runs runs (default 3) starts a fresh dhtd and a fresh
redis-server (no persistence), reads both resident sizes (VmRSS in
/proc/PID/status) and Redis's `used_memory`, writes the keys
key:000000000000 .. key:N-1 (16 bytes, as redis-benchmark -r names them)
with -d-byte values (distinct per key) into both over pipelined
connections (C_PUT frames to dhtd, SET to Redis), checks that both hold N
keys (`dht status --json` "keys", DBSIZE), reads the sizes again and
prints, per key: dhtd's RSS growth, Redis's used_memory growth and
Redis's RSS growth. Then the median of each over the runs, and the ratio
dhtd RSS / Redis RSS (the issue's goal: at most 1.0).

Usage: bench/memory.py [--bin DIR] [-n 126546] [-d 16] [--runs 3]
                       [--json FILE]
Helpers (redis install, release build, redis-server start, process
cleanup by PID) are those of vs_redis.py.
"""

import argparse
import json
import os
import shutil
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "tests", "system"))

from common import (HOST, MSG_C_RESULT, Cluster, TestFailure,  # noqa: E402
                    connect, decode_c_result, read_frame)
from test_dump import put_frame  # noqa: E402
from vs_redis import (DEFAULT_BUILD, ensure_build, ensure_redis,  # noqa: E402
                      log, machine_line, median, start_redis, stop_extra)

WINDOW = 256        # requests in flight on a pipelined connection
SETTLE = 1.0        # seconds before reading a resident size


def key_of(i):
    return b"key:%012d" % i


def value_of(i, size):
    v = b"val:%012d" % i
    return (v * (size // len(v) + 1))[:size]


def rss_bytes(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise TestFailure("no VmRSS for pid %d" % pid)


def put_dhtd(addr, n, size):
    """C_PUT every key through the node at addr, WINDOW at a time."""
    sock = connect(addr, timeout=30.0)
    try:
        for lo in range(0, n, WINDOW):
            hi = min(n, lo + WINDOW)
            sock.sendall(b"".join(put_frame(i + 1, key_of(i),
                                            value_of(i, size))
                                  for i in range(lo, hi)))
            for _ in range(lo, hi):
                mtype, req_id, body = read_frame(sock)
                status, error, _ = decode_c_result(body)
                if mtype != MSG_C_RESULT or status != 0:
                    raise TestFailure("put %d: type %d status %d: %s"
                                      % (req_id - 1, mtype, status, error))
    finally:
        sock.close()


def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def redis_call(sock, *args):
    """One command; its reply line (without CRLF; bulk replies' header)."""
    sock.sendall(resp(*args))
    buf = b""
    while b"\r\n" not in buf:
        buf += sock.recv(65536)
    line, rest = buf.split(b"\r\n", 1)
    if line.startswith(b"$"):  # a bulk string: read it whole
        want = int(line[1:]) + 2
        while len(rest) < want:
            rest += sock.recv(65536)
        return rest[:-2]
    return line


def put_redis(sock, n, size):
    """SET every key, WINDOW at a time."""
    for lo in range(0, n, WINDOW):
        hi = min(n, lo + WINDOW)
        sock.sendall(b"".join(resp(b"SET", key_of(i), value_of(i, size))
                              for i in range(lo, hi)))
        want = b"+OK\r\n" * (hi - lo)
        got = b""
        while len(got) < len(want):
            chunk = sock.recv(65536)
            if not chunk:
                raise TestFailure("redis closed the connection")
            got += chunk
        if got != want:
            raise TestFailure("SET replies: %r" % got[:80])


def redis_used_memory(sock):
    info = redis_call(sock, b"INFO", b"memory").decode()
    for line in info.splitlines():
        if line.startswith("used_memory:"):
            return int(line.split(":")[1])
    raise TestFailure("no used_memory in INFO memory")


def one_run(bin_dir, a, tmp, rnd):
    """Fresh dhtd and redis-server; returns the per-key figures."""
    cluster = Cluster(bin_dir, name="memory%d" % rnd, log_level="warn")
    try:
        node = cluster.start_node(extra=["-r", "1"])
        rport = cluster.free_port()
        rproc = start_redis(rport, tmp)
        rsock = socket.create_connection((HOST, rport), timeout=30.0)
        time.sleep(SETTLE)
        d0, r0, u0 = rss_bytes(node.pid), rss_bytes(rproc.pid), \
            redis_used_memory(rsock)
        t0 = time.monotonic()
        put_dhtd(node.addr, a.keys, a.value)
        t1 = time.monotonic()
        put_redis(rsock, a.keys, a.value)
        t2 = time.monotonic()
        st = json.loads(cluster.dht(node, "status", "--json").out)
        dbsize = int(redis_call(rsock, b"DBSIZE")[1:])
        if st.get("keys") != a.keys or dbsize != a.keys:
            raise TestFailure("dhtd holds %r keys, redis %d, want %d"
                              % (st.get("keys"), dbsize, a.keys))
        time.sleep(SETTLE)
        d1, r1, u1 = rss_bytes(node.pid), rss_bytes(rproc.pid), \
            redis_used_memory(rsock)
        rsock.close()
        res = {"dhtd_rss": (d1 - d0) / a.keys,
               "redis_used_memory": (u1 - u0) / a.keys,
               "redis_rss": (r1 - r0) / a.keys,
               "dhtd_rss_total": d1, "redis_rss_total": r1,
               "dhtd_put_s": t1 - t0, "redis_set_s": t2 - t1}
        log("run %d: dhtd RSS %.1f B/key | redis used_memory %.1f B/key, "
            "RSS %.1f B/key (writes: dhtd %.1f s, redis %.1f s)"
            % (rnd + 1, res["dhtd_rss"], res["redis_used_memory"],
               res["redis_rss"], res["dhtd_put_s"], res["redis_set_s"]))
        return res
    finally:
        stop_extra()
        cluster.cleanup()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default=DEFAULT_BUILD)
    ap.add_argument("-n", "--keys", type=int, default=126546)
    ap.add_argument("-d", "--value", type=int, default=16)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", help="also write the figures to this file")
    a = ap.parse_args()
    log("machine: " + machine_line())
    ensure_redis()
    bin_dir = ensure_build(a.bin)
    tmp = tempfile.mkdtemp(prefix="memory-")
    try:
        runs = [one_run(bin_dir, a, tmp, i) for i in range(a.runs)]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    med = {k: median([r[k] for r in runs]) for k in runs[0]}
    log("")
    log("median of %d runs, %d keys of 16 bytes, %d-byte values, bytes per "
        "key:" % (a.runs, a.keys, a.value))
    log("  dhtd -r 1 RSS          %7.1f" % med["dhtd_rss"])
    log("  redis used_memory      %7.1f" % med["redis_used_memory"])
    log("  redis RSS              %7.1f" % med["redis_rss"])
    log("  ratio dhtd RSS / redis RSS %.2f, / redis used_memory %.2f"
        % (med["dhtd_rss"] / med["redis_rss"],
           med["dhtd_rss"] / med["redis_used_memory"]))
    log("machine: " + machine_line())
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"args": vars(a), "runs": runs, "medians": med}, f,
                      indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
