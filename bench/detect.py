#!/usr/bin/env python3
"""detect.py - how fast the failure detector notices a failed node, and
how often it is wrong about a healthy one, on a real ring of local dhtd
processes. It prints figures; it is not a test.

What it does, on one ring of --nodes daemons (default 16) on 127.0.0.1:
  1. Detection time, frozen node (--kills trials, default 20): pick a node
     X (a shuffled round of all nodes, so every node is a victim once
     before any is again), note its predecessor P in sorted-id order, send
     X SIGSTOP at wall-clock time T, and tail P's log for
     "suspecting X: no answer within N ms"; the detection time is that
     line's millisecond timestamp minus T. A frozen process keeps its
     sockets open, so only the timeout can find it. X is then killed
     (SIGKILL) and restarted on the same address, and the ring must be
     correct again before the next trial: every trial starts from a
     healthy ring, and P's detector carries no false-suspicion penalty
     over from an earlier trial (a SIGCONT would have counted as one and
     doubled P's timeout for X; tests/system/test_replication.py checks
     that path).
  2. Detection time, killed node (--kills trials): the same with SIGKILL.
     The kernel closes the dead process's connections, so P notices at
     once; the first of "connection to X failed", "suspecting X",
     "X is dead", "X is unreachable" in P's log counts. X is restarted on
     the same address and rejoins; the ring must settle before the next.
  3. False suspicions on the idle ring over --minutes (default 10),
     after 10 s of quiet: no node fails in the window, so every
     "suspecting" line any log gains is a false suspicion. Also counted:
     the growth of the false_suspicions counters in `dht status`, the
     "alive after all" lines and how soon each came after its suspicion
     (within 20 ms: the answer was already waiting when the node
     convicted), the "this node was stalled" lines, and how late this
     script's own 10 ms sleeps woke (a view of how starved the machine
     was: on a shared 2-core machine, other work starves the daemons).
  4. The same over --minutes under each load of --load, one after the
     other: "bench" = `dht bench -c CLIENTS` (default 50, put,get over a
     10000-key space, closed loop: it saturates the machine) through a
     random node, run after run; "loops" = 3 threads each running `dht
     put` / `dht get` through random nodes in a loop (a moderate load).
It prints each trial, then mean, p50, p99 (nearest rank: with 20 samples,
the largest) and max of both detection times, the counts of 3 and 4, and
the machine (nproc, CPU model, load average) and date; --json FILE also
writes them.

Every daemon is stopped by PID on every way out (tests/system/common.py).
Usage: bench/detect.py [--bin DIR] [--nodes 16] [--kills 20]
                       [--minutes 10] [--clients 50] [--seed N]
                       [--load bench,loops] [--skip-detect]
                       [--skip-idle] [--skip-load] [--json FILE]
--bin defaults to /tmp/build-detect (configure it with
-DCMAKE_BUILD_TYPE=Release -DCHORD_TESTS=OFF), else build/.
"""

import argparse
import calendar
import json
import math
import os
import platform
import random
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "system"))

from common import Cluster, TestFailure, ring_order, run_cmd  # noqa: E402

MAX_NODES = 64           # daemons one run may start
DETECT_GIVE_UP = 10.0    # s to wait for P to notice one failure
SETTLE_TIMEOUT = 60.0    # s for the ring to be correct after a restart
SETTLE_EXTRA = 2.0       # s more, so round-trip estimates settle
LOG_POLL = 0.005         # s between two reads of P's log
BENCH_RUN_S = 60         # one `dht bench` run at most (--time-limit)
BENCH_REQUESTS = 20000   # requests per operation of one bench run
BENCH_KEYSPACE = 10000
LOOP_WORKERS = 3         # CLI put/get loops of the "loops" load
LOOP_MAX_OPS = 1000000   # bound of one loop
QUIET_BEFORE = 10.0      # s of quiet between the trials and the windows
QUICK_MS = 20            # an answer this soon after a suspicion was queued
LAG_REPORT_MS = 100      # oversleeping of the probe worth counting


def percentile(values, p):
    """The p-th percentile (nearest rank) of a non-empty list."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(math.ceil(p / 100.0 * len(s))) - 1))
    return s[k]


def default_bin():
    for d in ("/tmp/build-detect", os.path.join(REPO, "build")):
        if os.access(os.path.join(d, "dhtd"), os.X_OK):
            return d
    return "/tmp/build-detect"


def log_time(line):
    """Seconds since the epoch of a log line "YYYY-MM-DDTHH:MM:SS.mmmZ ..."
    (UTC, from CLOCK_REALTIME, like time.time()), or None."""
    stamp = line.split(" ", 1)[0]
    if len(stamp) != 24 or not stamp.endswith("Z"):
        return None
    try:
        tm = time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")
        # The stamp truncates to the ms: take the middle of that ms.
        return calendar.timegm(tm) + (int(stamp[20:23]) + 0.5) / 1000.0
    except ValueError:
        return None


def log_size(node):
    """The size of node's log now: where the lines still to come start."""
    try:
        return os.path.getsize(node.log_path)
    except OSError:
        return 0


def log_since(node, offset):
    """The complete lines of node's log after byte `offset`."""
    try:
        with open(node.log_path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except OSError:
        return []
    text = data.decode(errors="replace")
    if not text.endswith("\n"):
        text = text[:text.rfind("\n") + 1]
    return text.splitlines()


def wait_log(node, offset, patterns, give_up):
    """The first line after `offset` of node's log that contains one of
    `patterns`, waiting at most `give_up` seconds; None if none came."""
    deadline = time.monotonic() + give_up
    while True:
        for line in log_since(node, offset):
            if any(p in line for p in patterns):
                return line
        if time.monotonic() >= deadline:
            return None
        time.sleep(LOG_POLL)


def machine():
    """What the figures were measured on: nproc, CPU model, kernel, date."""
    model = platform.processor() or "?"
    try:
        out = subprocess.run(["lscpu"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, timeout=10)
        for line in out.stdout.decode(errors="replace").splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
                break
    except (OSError, subprocess.TimeoutExpired):
        pass
    return {"nproc": os.cpu_count(), "cpu": model,
            "kernel": platform.release(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


class Bench:
    """One ring and the measurements made on it, one after the other."""

    def __init__(self, args):
        self.args = args
        self.c = Cluster(args.bin, name="detect", seed=args.seed)
        self.rng = self.c.rng
        self.flags = ["--log-level", "info"]
        self.victims = []

    # --- the ring --------------------------------------------------------

    def start(self):
        """Start --nodes daemons, each joining through a random earlier
        one, and wait until the ring is correct."""
        first = self.c.start_node(extra=self.flags)
        for _ in range(self.args.nodes - 1):
            self.c.start_node(join=self.rng.choice(self.c.live_nodes()),
                              extra=self.flags)
        took = self.c.wait_ring(timeout=SETTLE_TIMEOUT)
        print("ring of %d correct %.1f s after the last join (first %s)"
              % (self.args.nodes, took, first.addr), flush=True)
        time.sleep(SETTLE_EXTRA)

    def pick(self):
        """The next victim and its predecessor in sorted-id order."""
        live = self.c.live_nodes()
        if not self.victims:
            self.victims = sorted(n.addr for n in live)
            self.rng.shuffle(self.victims)
        addr = self.victims.pop()
        by_addr = {n.addr: n for n in live}
        order = ring_order(list(by_addr))
        i = order.index(addr)
        return by_addr[addr], by_addr[order[i - 1]]

    def restart(self, node):
        """SIGKILL node (if it still runs) and start it again on the same
        address, joining through a random live node; wait for the ring."""
        self.c.stop_node(node, signal.SIGKILL, timeout=5.0)
        via = self.rng.choice(self.c.live_nodes())
        self.c.start_node(join=via, extra=self.flags, port=node.port)
        took = self.c.wait_ring(timeout=SETTLE_TIMEOUT)
        time.sleep(SETTLE_EXTRA)
        return took

    # --- 1 and 2 -----------------------------------------------------------

    def trial(self, how):
        """One failure ("freeze" or "kill") of the next victim; returns
        the seconds until its predecessor's log noticed it, or None."""
        victim, pred = self.pick()
        offset = log_size(pred)
        if how == "freeze":
            sig = signal.SIGSTOP
            patterns = ["suspecting %s:" % victim.addr]
        else:
            sig = signal.SIGKILL
            patterns = ["connection to %s failed" % victim.addr,
                        "suspecting %s:" % victim.addr,
                        "%s is dead" % victim.addr,
                        "%s is unreachable" % victim.addr]
        t_sig = time.time()
        self.c.signal_node(victim, sig)
        line = wait_log(pred, offset, patterns, DETECT_GIVE_UP)
        settle = self.restart(victim)
        if line is None:
            print("  %s %s: %s never noticed within %.0f s"
                  % (how, victim.addr, pred.addr, DETECT_GIVE_UP), flush=True)
            return None
        t_log = log_time(line)
        detect = t_log - t_sig if t_log is not None else float("nan")
        print("  %-6s %s: noticed by %s after %4.0f ms  (%s)  ring "
              "settled %.1f s after restart"
              % (how, victim.addr, pred.addr, detect * 1000,
                 line.split(" ", 3)[3] if line.count(" ") >= 3 else line,
                 settle), flush=True)
        return detect

    def detect(self, how):
        """--kills trials of one kind; their figures as a dict."""
        print("detection, %s (%d trials; load average %s):"
              % (how, self.args.kills,
                 " ".join("%.2f" % x for x in os.getloadavg())), flush=True)
        samples = []
        misses = 0
        for _ in range(self.args.kills):
            d = self.trial(how)
            if d is None or d != d:
                misses += 1
            else:
                samples.append(d * 1000.0)
        res = {"trials": self.args.kills, "missed": misses,
               "samples_ms": [round(s, 1) for s in samples]}
        if samples:
            res.update({"mean_ms": sum(samples) / len(samples),
                        "p50_ms": percentile(samples, 50),
                        "p99_ms": percentile(samples, 99),
                        "min_ms": min(samples), "max_ms": max(samples)})
            print("  => %s: mean %.0f ms, p50 %.0f ms, p99 %.0f ms, "
                  "min %.0f, max %.0f, missed %d"
                  % (how, res["mean_ms"], res["p50_ms"], res["p99_ms"],
                     res["min_ms"], res["max_ms"], misses), flush=True)
        return res

    # --- 3 and 4 -----------------------------------------------------------

    def bench_run(self, nodes, left, tally):
        """One `dht bench` run through a random node, at most `left` s."""
        limit = max(1, min(BENCH_RUN_S, int(left)))
        via = self.rng.choice(nodes)
        r = run_cmd([self.c.dht_bin, "--node", via.addr, "--json", "bench",
                     "-c", str(self.args.clients), "-n", str(BENCH_REQUESTS),
                     "-t", "put,get", "--keyspace", str(BENCH_KEYSPACE),
                     "--key-seed", str(self.rng.getrandbits(16)),
                     "--time-limit", str(limit)], timeout=limit + 30)
        tally["runs"] += 1
        try:
            j = json.loads(r.out)
            for op in ("put", "get"):
                st = j.get(op) or {}
                tally["ops"] += int(st.get("ok", 0)) + int(
                    st.get("not_found", 0))
                kinds = st.get("errors_by_kind") or {}
                tally["errors"] += int(kinds.get("status", 0)) + int(
                    kinds.get("connection", 0))
        except (ValueError, TypeError, AttributeError):
            tally["errors"] += 1
        # A run cut by its time limit exits 3 with the requests in flight
        # as timeouts and the rest unsent: that is not an error of the
        # ring; refused requests and lost connections are.
        if r.code not in (0, 3):
            tally["failed_runs"] += 1
            if tally["failed_runs"] <= 3:
                print("  bench run %d: %s" % (tally["runs"], r.describe()),
                      flush=True)

    def loop_worker(self, nodes, end, seed, tally, lock):
        """One put/get loop through the `dht` CLI until `end`."""
        rng = random.Random(seed)
        i = 0
        while time.monotonic() < end and i < LOOP_MAX_OPS:
            i += 1
            key = "load-%d-%d" % (seed % 1000, rng.randrange(BENCH_KEYSPACE))
            via = rng.choice(nodes)
            if i % 2:
                r = self.c.dht(via, "put", key, "v%d" % i, timeout=30)
            else:
                r = self.c.dht(via, "get", key, timeout=30)
            with lock:
                tally["ops"] += 1
                if r.code not in (0, 1):
                    tally["errors"] += 1

    def status_false_suspicions(self, nodes):
        """Sum over `nodes` of every monitored peer's false_suspicions."""
        total = 0
        for n in nodes:
            r = self.c.dht(n, "status", "--json", timeout=10)
            try:
                for p in json.loads(r.out).get("peers") or []:
                    total += int(p.get("false_suspicions", 0))
            except (ValueError, TypeError, AttributeError):
                pass
        return total

    def count_window(self, minutes, load):
        """Run the ring for `minutes`, idle (load None), under `dht bench`
        ("bench") or under a few CLI put/get loops ("loops"), and count
        the suspicions every live log gained meanwhile. No node fails in
        the window, so every suspicion is a false one."""
        nodes = self.c.live_nodes()
        offsets = {n.addr: log_size(n) for n in nodes}
        fs0 = self.status_false_suspicions(nodes)
        what = {None: "idle ring",
                "bench": "ring loaded by dht bench -c %d, put,get"
                         % self.args.clients,
                "loops": "ring loaded by %d CLI put/get loops"
                         % LOOP_WORKERS}[load]
        print("%s, %.1f min (load average %s)"
              % (what, minutes, " ".join("%.2f" % x for x in os.getloadavg())),
              flush=True)
        probe = LagProbe()
        probe.start()
        tally = {"runs": 0, "ops": 0, "errors": 0, "failed_runs": 0}
        t0 = time.monotonic()
        end = t0 + minutes * 60.0
        try:
            if load == "loops":
                lock = threading.Lock()
                workers = [threading.Thread(
                    target=self.loop_worker,
                    args=(nodes, end, self.rng.getrandbits(31), tally, lock))
                    for _ in range(LOOP_WORKERS)]
                for w in workers:
                    w.start()
                for w in workers:
                    w.join(minutes * 60.0 + 60)
            while time.monotonic() < end:
                left = end - time.monotonic()
                if load == "bench":
                    self.bench_run(nodes, left, tally)
                else:
                    time.sleep(min(5.0, max(0.0, left)))
        finally:
            probe.stop()
        took = time.monotonic() - t0
        fs1 = self.status_false_suspicions(nodes)

        suspecting = alive_again = stalled = 0
        gaps = []      # suspicion -> "alive after all", same node and peer
        open_susp = {}
        examples = []
        for n in nodes:
            for line in log_since(n, offsets[n.addr]):
                parts = line.split(" ", 4)
                msg = parts[4] if len(parts) == 5 else ""
                hit = True
                if msg.startswith("suspecting "):
                    suspecting += 1
                    peer = msg.split(" ")[1].rstrip(":")
                    open_susp[(n.addr, peer)] = log_time(line)
                elif " is alive after all: false suspicion #" in msg:
                    alive_again += 1
                    peer = msg.split(" ")[0]
                    t_s = open_susp.pop((n.addr, peer), None)
                    t_a = log_time(line)
                    if t_s is not None and t_a is not None:
                        gaps.append((t_a - t_s) * 1000.0)
                elif msg.startswith("this node was stalled"):
                    stalled += 1
                else:
                    hit = False
                if hit and len(examples) < 8:
                    examples.append(line)
        quick = sum(1 for g in gaps if g <= QUICK_MS)
        res = {"what": what, "minutes": took / 60.0,
               "suspicions": suspecting, "alive_again_lines": alive_again,
               "status_false_suspicions_delta": fs1 - fs0,
               "stall_lines": stalled,
               "answered_within_%d_ms" % QUICK_MS: quick,
               "suspicion_to_alive_ms": [round(g, 1) for g in gaps],
               "host_lag": probe.summary(),
               "loadavg_end": os.getloadavg()}
        if load:
            res.update(tally)
            res["ops_per_sec"] = tally["ops"] / took
        print("  load average at the end: %s; this script's own 10 ms "
              "sleeps overslept by > %d ms %d times (max %.0f ms)"
              % (" ".join("%.2f" % x for x in os.getloadavg()), LAG_REPORT_MS,
                 res["host_lag"]["over"], res["host_lag"]["max_ms"]))
        print("  => %.1f min: %d suspicions ('suspecting' lines; status "
              "counters +%d), %d 'alive after all' (%d of them within %d ms "
              "of the suspicion: the answer was already waiting), %d "
              "'stalled' lines%s"
              % (took / 60.0, suspecting, fs1 - fs0, alive_again, quick,
                 QUICK_MS, stalled,
                 ("; %d ops (%.0f ops/s), %d errors%s"
                  % (tally["ops"], tally["ops"] / took, tally["errors"],
                     ", %d bench runs (%d failed)" % (tally["runs"],
                                                       tally["failed_runs"])
                     if load == "bench" else "")) if load else ""),
              flush=True)
        for e in examples:
            print("    " + e)
        return res


class LagProbe:
    """A thread that sleeps 10 ms at a time and notes how much longer
    each sleep took: a coarse view of how starved the machine was (the
    daemons' loops suffer the same)."""

    def __init__(self):
        self.stop_flag = threading.Event()
        self.over = 0
        self.max_ms = 0.0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop_flag.is_set():
            t = time.monotonic()
            time.sleep(0.01)
            late = (time.monotonic() - t - 0.01) * 1000.0
            self.max_ms = max(self.max_ms, late)
            if late > LAG_REPORT_MS:
                self.over += 1

    def start(self):
        self.thread.start()

    def stop(self):
        self.stop_flag.set()
        self.thread.join(5)

    def summary(self):
        return {"over": self.over, "threshold_ms": LAG_REPORT_MS,
                "max_ms": round(self.max_ms, 1)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default=None)
    ap.add_argument("--nodes", type=int, default=16)
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--skip-detect", action="store_true")
    ap.add_argument("--skip-idle", action="store_true")
    ap.add_argument("--skip-load", action="store_true")
    ap.add_argument("--load", default="bench",
                    help="comma-separated loads after the idle window: "
                         "bench (dht bench -c CLIENTS), loops (3 CLI "
                         "put/get loops)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    args.bin = args.bin or default_bin()
    if not 2 <= args.nodes <= MAX_NODES:
        ap.error("--nodes must be 2-%d" % MAX_NODES)
    if not 1 <= args.kills <= 1000 or not 0 < args.minutes <= 120:
        ap.error("--kills 1-1000, --minutes (0, 120]")
    if not 1 <= args.clients <= 1000:
        ap.error("--clients 1-1000")
    loads = [x for x in args.load.split(",") if x]
    if any(x not in ("bench", "loops") for x in loads):
        ap.error("--load takes bench and/or loops")
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1 << 31)
    info = machine()
    print("seed %d; bin %s; %s" % (args.seed, args.bin, json.dumps(info)),
          flush=True)
    out = {"machine": info, "nodes": args.nodes, "seed": args.seed,
           "argv": sys.argv}
    b = Bench(args)
    try:
        b.start()
        if not args.skip_detect:
            out["freeze"] = b.detect("freeze")
            out["kill"] = b.detect("kill")
        if not args.skip_detect:
            time.sleep(QUIET_BEFORE)
        if not args.skip_idle:
            out["idle"] = b.count_window(args.minutes, load=None)
        if not args.skip_load:
            for load in loads:
                out["loaded_" + load] = b.count_window(args.minutes,
                                                       load=load)
    except TestFailure as e:
        print("bench failed: %s" % e, flush=True)
        return 1
    finally:
        b.c.cleanup()
    print(json.dumps(out, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
