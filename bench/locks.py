#!/usr/bin/env python3
"""locks.py - the lock cycle (acquire, one append under the lock, release)
and the lock hand-over under contention, on the ring beside etcd's lock
and Redis SET NX PX, in one run on this machine. It prints figures; it is
not a test.

What it does:
  1. installs redis-server/redis-tools and etcd-server/etcd-client with
     apt-get when redis-server, redis-cli, etcd or etcdctl is missing;
  2. builds a release dht/dhtd (no sanitizers) in /tmp/build-benchrel,
     unless --bin names a directory that already holds them;
  3. starts a ring of --nodes dhtd (default 5, --replicas 3) on free
     127.0.0.1 ports, one redis-server (no persistence) and one etcd (a
     temporary data dir), all bound to 127.0.0.1;
  4. runs --rounds rounds (default 3); in each, in an order that rotates
     from round to round, for each system:
     a. uncontended cycles through CLI processes (--cycles, default 50),
        one process per request, so that process start-up weighs the same
        on every side:
          dht:   dht lock acquire N; dht lock append N TOKEN K V;
                 dht lock release N TOKEN           (3 processes)
          etcd:  etcdctl lock N -- etcdctl put K V  (2 processes)
          redis: redis-cli SET N TOKEN NX PX 10000; redis-cli APPEND K V;
                 redis-cli EVAL <compare-and-delete> 1 N TOKEN  (3)
     b. the same cycle over one open connection, in this process
        (--wire-cycles, default 500): the ring through C_LOCK frames with
        request ids (what the client library sends; bench/lock_clients.py),
        etcd through its v3 lock API (lock, put, unlock over one keep-alive
        HTTP connection of the JSON gateway, one session lease), Redis
        over RESP (SET NX PX, APPEND, the compare-and-delete script);
     c. hand-over latency through CLI processes (--handovers, default 20):
        a waiter process is queued behind the holder (dht: `dht lock
        acquire N` listed in `lock status`; etcd: `etcdctl lock N`, its key
        under N/; redis: a shell loop of `redis-cli SET NX PX` every 10 ms,
        Redis having no queue) and has waited 0.2 s more (SETTLE_S: so
        that etcd's waiter has its watch in place), then the release
        process starts (dht lock
        release / etcdctl del HOLDER-KEY / redis-cli EVAL); the figure is
        from that start to the waiter printing its grant;
     d. hand-over latency over open connections: two clients, one holds,
        the other waits (the ring's client asks again every 10 ms, as the
        library's CHORD_LOCK_POLL_MS; etcd blocks in lock; Redis spins on
        SET NX every 10 ms); from the holder's release call to the
        waiter's acquire returning;
  5. prints the median over the rounds of each figure and the ratios
     dht / etcd and dht / redis (cycles/s: above 1 is faster; latency:
     below 1 is faster).

The ring's clients contact a node drawn at random (not the lock's owner):
that is what a user's `dht` does, and it costs a forward. etcd and Redis
are one server each, with nothing replicated; the ring keeps 3 copies.

Every process it starts (daemons, servers, waiters) is stopped by PID on
every way out: normal end, exception, SIGINT/SIGTERM/SIGHUP (the handlers
of tests/system/common.py), and the death of this script (PDEATHSIG).

Usage: bench/locks.py [--bin DIR] [--nodes 5] [--replicas 3] [--rounds 3]
         [--cycles 50] [--wire-cycles 500] [--handovers 20]
         [--systems dht,etcd,redis] [--seed S] [--json FILE]
"""

import argparse
import json
import os
import random
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "system"))
sys.path.insert(0, HERE)

from common import (HOST, Cluster, TestFailure, _set_pdeathsig,  # noqa: E402
                    run_cmd)
from lock_clients import (ClientError, DhtWireClient,  # noqa: E402
                          EtcdClient, RedisClient, RELEASE_LUA)
import etcd_peer  # noqa: E402
from vs_redis import (_EXTRA, DEFAULT_BUILD, apt_install,  # noqa: E402
                      ensure_build, ensure_redis, log, machine_line, median,
                      start_redis, stop_extra)

SYSTEMS = ("dht", "etcd", "redis")
LINE_TIMEOUT = 30.0      # a waiter prints its grant
QUEUE_TIMEOUT = 10.0     # a waiter shows up queued
POLL_S = 0.01            # a spinning / polling waiter (CHORD_LOCK_POLL_MS)
SETTLE_S = 0.2           # a queued waiter waits this long before the release
LEASE_MS = 10000
CMD_TIMEOUT = 30.0


class BenchError(Exception):
    """A system did not do what the cycle expects (printed, not hidden)."""


def start_etcd(port, peer_port, workdir):
    """One etcd member on 127.0.0.1:port (peers on peer_port), data and log
    in workdir; waits until /health says true."""
    return etcd_peer.start_etcd(
        HOST, port, peer_port, _EXTRA, _set_pdeathsig,
        data_dir=os.path.join(workdir, "etcd-data"),
        log_path=os.path.join(workdir, "etcd.log"))


def spawn(argv):
    """A background process (a waiter, a release), stopped by PID with
    the servers if this script leaves early."""
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         preexec_fn=_set_pdeathsig)
    _EXTRA.append(p)
    return p


def reap(p, what, timeout=CMD_TIMEOUT, want=0):
    """Wait for a spawned process; BenchError unless it exits `want`."""
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    if p in _EXTRA:
        _EXTRA.remove(p)
    if want is not None and p.returncode != want:
        raise BenchError("%s exited %s: %s" % (
            what, p.returncode, err.decode(errors="replace").strip()[:300]))
    return out.decode(errors="replace")


def stop(p):
    """Terminate a spawned process unless it was reaped already."""
    if p not in _EXTRA:
        return
    if p.poll() is None:
        p.terminate()
    reap(p, "", timeout=10, want=None)


def read_line(p, what, timeout=LINE_TIMEOUT):
    """The first line p prints, waited for with select (bounded)."""
    deadline = time.monotonic() + timeout
    fd = p.stdout.fileno()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise BenchError("%s printed nothing in %.0f s" % (what, timeout))
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            line = p.stdout.readline()
            if not line:
                raise BenchError("%s exited (%s) without a line: %s" % (
                    what, p.wait(),
                    p.stderr.read().decode(errors="replace")[:300]))
            return line.decode(errors="replace").strip()


def ok(r, what):
    if r.code != 0:
        raise BenchError("%s: %s" % (what, r.describe()))
    return r.out.strip()


class Bench:
    def __init__(self, a, cluster, rport, eport):
        self.a = a
        self.c = cluster
        self.rport = rport
        self.eport = eport
        self.ep = "%s:%d" % (HOST, eport)
        self.etcdctl = ["etcdctl", "--endpoints", self.ep]
        self.rcli = ["redis-cli", "-h", HOST, "-p", str(rport)]
        self.serial = 0
        os.environ["ETCDCTL_API"] = "3"

    def fresh(self, what):
        """A lock name and a key nobody used before in this run."""
        self.serial += 1
        return ("bench-%s-%d-%d" % (what, self.a.seed, self.serial),
                "bench-%s-%d-%d-value" % (what, self.a.seed, self.serial))

    def node(self):
        return random.choice(self.c.nodes).addr

    def dht_argv(self, *args):
        return [self.c.dht_bin, "--node", self.node()] + [str(x)
                                                          for x in args]

    def dht(self, *args):
        return run_cmd(self.dht_argv(*args), timeout=CMD_TIMEOUT)

    # --- a: cycles through CLI processes ------------------------------

    def cli_cycle(self, who, name, key, i):
        if who == "dht":
            tok = ok(self.dht("lock", "acquire", name), "dht lock acquire")
            ok(self.dht("lock", "append", name, tok, key, "x,"),
               "dht lock append")
            ok(self.dht("lock", "release", name, tok), "dht lock release")
        elif who == "etcd":
            ok(run_cmd(self.etcdctl + ["lock", name, "--"] + self.etcdctl +
                       ["put", key, "x"], timeout=CMD_TIMEOUT),
               "etcdctl lock -- etcdctl put")
        else:
            tok = "t%d-%d" % (os.getpid(), i)
            got = ok(run_cmd(self.rcli + ["SET", name, tok, "NX", "PX",
                                          str(LEASE_MS)]), "redis-cli SET")
            if got != "OK":
                raise BenchError("redis-cli SET NX answered %r" % got)
            ok(run_cmd(self.rcli + ["APPEND", key, "x,"]), "redis-cli APPEND")
            got = ok(run_cmd(self.rcli + ["EVAL", RELEASE_LUA, "1", name,
                                          tok]), "redis-cli EVAL")
            if got != "1":
                raise BenchError("redis release answered %r" % got)

    def cli_cycles(self, who):
        name, key = self.fresh("cli")
        t0 = time.monotonic()
        for i in range(self.a.cycles):
            self.cli_cycle(who, name, key, i)
        return self.a.cycles / (time.monotonic() - t0)

    # --- b: cycles over one connection ---------------------------------

    def client(self, who):
        if who == "dht":
            return DhtWireClient(self.node())
        if who == "etcd":
            return EtcdClient(self.eport)
        return RedisClient(self.rport)

    def wire_acquire(self, who, cl, name, tok):
        """Acquire (waiting as each system waits); a handle to release."""
        if who == "dht":
            return cl.acquire(name, LEASE_MS, POLL_S, LINE_TIMEOUT)
        if who == "etcd":
            return cl.lock(name)
        cl.acquire(name, tok, LEASE_MS, POLL_S, LINE_TIMEOUT)
        return tok

    def wire_release(self, who, cl, name, handle):
        if who == "dht":
            cl.release(name, handle)
        elif who == "etcd":
            cl.unlock(handle)
        else:
            cl.release(name, handle)

    def wire_cycles(self, who):
        name, key = self.fresh("wire")
        cl = self.client(who)
        try:
            t0 = time.monotonic()
            for i in range(self.a.wire_cycles):
                h = self.wire_acquire(who, cl, name, "t%d" % i)
                if who == "dht":
                    cl.append(name, h, key, "x,")
                elif who == "etcd":
                    cl.put(key, "x")
                else:
                    cl.append(key, "x,")
                self.wire_release(who, cl, name, h)
            return self.a.wire_cycles / (time.monotonic() - t0)
        finally:
            cl.close()

    # --- c: hand-over through CLI processes ----------------------------

    def wait_queued(self, who, name, watcher):
        """Until the waiter is queued (bounded; dht and etcd show it), then
        SETTLE_S more: an etcd waiter that has just written its key has
        not yet set up its watch, and a release then reaches it only ~90 ms
        later (the watch catches up on its own tick); every system gets the
        same settling time, so the figure is that of a waiter that waits."""
        deadline = time.monotonic() + QUEUE_TIMEOUT
        while time.monotonic() < deadline:
            if who == "dht":
                r = self.dht("lock", "status", name, "--json")
                if r.code == 0 and json.loads(r.out).get("waiters"):
                    break
            elif who == "etcd":
                if watcher.count_prefix(name + "/") >= 2:
                    break
            else:
                break  # a spinning waiter: nothing shows it
            time.sleep(POLL_S)
        else:
            raise BenchError("%s: the waiter is not queued after %.0f s"
                             % (who, QUEUE_TIMEOUT))
        time.sleep(SETTLE_S)

    def cli_waiter(self, who, name, i):
        if who == "dht":
            return spawn(self.dht_argv("lock", "acquire", name, "--wait-ms",
                                       "30000"))
        if who == "etcd":
            return spawn(self.etcdctl + ["lock", name])
        tok = "w%d-%d" % (os.getpid(), i)
        loop = ('until [ "$(%s SET %s %s NX PX %d)" = OK ]; do sleep %.3f; '
                'done; echo %s' % (" ".join(self.rcli), name, tok, LEASE_MS,
                                   POLL_S, tok))
        return spawn(["sh", "-c", loop])

    def cli_release(self, who, name, holder):
        if who == "dht":
            return spawn(self.dht_argv("lock", "release", name, holder))
        if who == "etcd":
            return spawn(self.etcdctl + ["del", holder])
        return spawn(self.rcli + ["EVAL", RELEASE_LUA, "1", name, holder])

    def cli_handovers(self, who):
        name, _ = self.fresh("handover")
        watcher = EtcdClient(self.eport) if who == "etcd" else None
        procs = []
        out = []
        try:
            first = self.cli_waiter(who, name, -1)
            procs.append(first)
            holder = read_line(first, "%s first holder" % who)
            for i in range(self.a.handovers):
                w = self.cli_waiter(who, name, i)
                procs.append(w)
                self.wait_queued(who, name, watcher)
                t_rel = time.monotonic()
                rel = self.cli_release(who, name, holder)
                holder = read_line(w, "%s waiter %d" % (who, i))
                out.append((time.monotonic() - t_rel) * 1000.0)
                reap(rel, "%s release" % who)
                if who == "etcd":  # the old holder's etcdctl still runs
                    stop(procs[-2])
            rel = self.cli_release(who, name, holder)
            reap(rel, "%s last release" % who)
        finally:
            for p in procs:
                stop(p)
            if watcher:
                watcher.close()
        return out

    # --- d: hand-over over open connections ----------------------------

    def wire_handovers(self, who):
        name, _ = self.fresh("wirehand")
        a, b = self.client(who), self.client(who)
        watcher = EtcdClient(self.eport) if who == "etcd" else None
        out = []
        try:
            h = self.wire_acquire(who, a, name, "ta")
            for i in range(self.a.handovers):
                got = {}

                def wait(cl=b, tok="t%d" % i):
                    try:
                        got["h"] = self.wire_acquire(who, cl, name, tok)
                        got["t"] = time.monotonic()
                    except (ClientError, OSError) as e:
                        got["e"] = e
                th = threading.Thread(target=wait, daemon=True)
                th.start()
                deadline = time.monotonic() + QUEUE_TIMEOUT
                while not got and time.monotonic() < deadline:
                    if who == "dht" and self.dht_waiters(name) >= 1:
                        break
                    if who == "etcd" and watcher.count_prefix(name + "/") >= 2:
                        break
                    if who == "redis":
                        break
                    time.sleep(POLL_S)
                else:
                    if not got:
                        raise BenchError("%s: the waiter is not queued after "
                                         "%.0f s" % (who, QUEUE_TIMEOUT))
                time.sleep(SETTLE_S)  # as in wait_queued
                if got:
                    raise BenchError("%s: the waiter got the lock while it "
                                     "was held: %r" % (who, got))
                t_rel = time.monotonic()
                self.wire_release(who, a, name, h)
                th.join(LINE_TIMEOUT)
                if "e" in got or "t" not in got:
                    raise BenchError("%s waiter %d: %s" % (
                        who, i, got.get("e", "no grant in time")))
                out.append((got["t"] - t_rel) * 1000.0)
                h = got["h"]
                a, b = b, a
            self.wire_release(who, a, name, h)
        finally:
            a.close()
            b.close()
            if watcher:
                watcher.close()
        return out

    def dht_waiters(self, name):
        """Waiters of the lock, asked through a separate connection."""
        cl = DhtWireClient(self.node())
        try:
            return cl.waiters(name)
        finally:
            cl.close()


def pct(values, q):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def run_round(bench, order, rnd, runs):
    for who in order:
        fig = {}
        for metric, fn in (("cli_cycles", bench.cli_cycles),
                           ("wire_cycles", bench.wire_cycles),
                           ("cli_handover", bench.cli_handovers),
                           ("wire_handover", bench.wire_handovers)):
            try:
                fig[metric] = fn(who)
            except (BenchError, ClientError, TestFailure, OSError,
                    ValueError) as e:
                log("round %d %-5s %s FAILED: %s" % (rnd, who, metric, e))
                fig[metric] = None
        runs[who].append(fig)

        def f(m, form):
            v = fig.get(m)
            if v is None:
                return "failed"
            return form % (statistics.median(v) if isinstance(v, list)
                           else v)
        log("round %d %-5s cycles/s CLI %s, one conn %s | hand-over p50 "
            "CLI %s, one conn %s" % (
                rnd, who, f("cli_cycles", "%.1f"), f("wire_cycles", "%.0f"),
                f("cli_handover", "%.1f ms"), f("wire_handover", "%.2f ms")))


def summarize(a, runs):
    """Medians over the rounds of each figure: {who: {metric: value}}."""
    med = {}
    for who, rs in runs.items():
        m = {}
        for metric in ("cli_cycles", "wire_cycles"):
            vals = [r[metric] for r in rs if r.get(metric) is not None]
            m[metric] = median(vals) if vals else None
        for metric in ("cli_handover", "wire_handover"):
            per = [r[metric] for r in rs if r.get(metric)]
            m[metric + "_p50"] = median([statistics.median(v)
                                         for v in per]) if per else None
            m[metric + "_p90"] = median([pct(v, 0.9)
                                         for v in per]) if per else None
        med[who] = m
    return med


def print_table(a, med, systems):
    rows = [("cycles/s, CLI processes", "cli_cycles", "%.1f"),
            ("cycles/s, one connection", "wire_cycles", "%.0f"),
            ("hand-over p50 ms, CLI", "cli_handover_p50", "%.1f"),
            ("hand-over p90 ms, CLI", "cli_handover_p90", "%.1f"),
            ("hand-over p50 ms, one conn", "wire_handover_p50", "%.2f"),
            ("hand-over p90 ms, one conn", "wire_handover_p90", "%.2f")]
    others = [s for s in systems if s != "dht"]
    head = "%-28s" % "" + "".join("%11s" % s for s in systems)
    if "dht" in systems:
        head += "".join("%12s" % ("dht/" + o) for o in others)
    log(head)
    for title, key, form in rows:
        line = "%-28s" % title
        for s in systems:
            v = med[s][key]
            line += "%11s" % (form % v if v is not None else "failed")
        if "dht" in systems:
            for o in others:
                d, v = med["dht"][key], med[o][key]
                line += "%12s" % ("%.2f" % (d / v) if d and v else "-")
        log(line)
    log("(cycles/s: a ratio above 1 means the ring is faster; latency: "
        "below 1. CLI cycle = 3 processes for dht and redis, 2 for etcd "
        "(etcdctl lock -- etcdctl put); etcd puts where the others append)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default=DEFAULT_BUILD)
    ap.add_argument("--nodes", type=int, default=5)
    ap.add_argument("--replicas", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cycles", type=int, default=50)
    ap.add_argument("--wire-cycles", type=int, default=500)
    ap.add_argument("--handovers", type=int, default=20)
    ap.add_argument("--systems", default=",".join(SYSTEMS),
                    help="which to measure, comma-separated (default all)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--json", help="also write the figures to this file")
    a = ap.parse_args()
    systems = [s for s in SYSTEMS if s in a.systems.split(",")]
    if not systems:
        raise SystemExit("--systems names none of %s" % ", ".join(SYSTEMS))
    if a.seed is None:
        a.seed = random.SystemRandom().randrange(1 << 31)
    random.seed(a.seed)
    log("seed %d" % a.seed)
    log("machine: " + machine_line())
    ensure_redis()
    apt_install(("etcd", "etcdctl"), ("etcd-server", "etcd-client"))
    bin_dir = ensure_build(a.bin)
    tmp = tempfile.mkdtemp(prefix="locks-bench-")
    cluster = Cluster(bin_dir, name="locksbench", seed=a.seed,
                      log_level="warn")
    try:
        if "dht" in systems:
            flags = ["--replicas", str(a.replicas)]
            cluster.start_node(extra=flags)
            for _ in range(1, a.nodes):
                cluster.start_node(join=random.choice(cluster.nodes),
                                   extra=flags)
            took = cluster.wait_ring(timeout=60.0)
            log("ring of %d dhtd (--replicas %d) correct after %.1f s"
                % (a.nodes, a.replicas, took))
        rport = cluster.free_port()
        start_redis(rport, tmp)
        eport, epeer = cluster.free_port(), cluster.free_port()
        start_etcd(eport, epeer, tmp)
        log("redis-server on %s:%d (no persistence), etcd on %s:%d (data in "
            "%s)" % (HOST, rport, HOST, eport, tmp))
        bench = Bench(a, cluster, rport, eport)
        runs = {s: [] for s in systems}
        order = list(systems)
        for rnd in range(1, a.rounds + 1):
            run_round(bench, order, rnd, runs)
            order = order[1:] + order[:1]
        med = summarize(a, runs)
        log("")
        log("medians of %d rounds: %d CLI cycles, %d one-connection cycles, "
            "%d hand-overs of each kind per round; ring of %d, --replicas %d"
            % (a.rounds, a.cycles, a.wire_cycles, a.handovers, a.nodes,
               a.replicas))
        print_table(a, med, systems)
        log("machine: " + machine_line())
        if a.json:
            with open(a.json, "w") as f:
                json.dump({"args": vars(a), "runs": runs, "medians": med}, f,
                          indent=1)
    finally:
        stop_extra()
        cluster.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
