"""workload.py - the clients of the fault suite: concurrent writers through
the `dht` CLI that record every acknowledged write, probes through one
node, and the read-back check.

Writers: W threads, each putting fresh keys with unique values
(`f-<tag>-w<writer>-<seq>` = `v-<seed>-<writer>-<seq>-<random>`) through a
random node with two random fallbacks (`--node` x3, --timeout-ms 2000).
A write is acknowledged when `dht put` exits 0; only those are recorded,
with the time. A write that failed or timed out may still have happened;
it is never checked. Each writer stops at stop(), at its count bound, or at
its time bound (or the earlier time stop_at() sets), whichever comes
first.

Read-back: every acknowledged key is read with `dht get` through a random
node (4 threads); a key is readable when the CLI exits 0 and prints exactly
the value written. Keys that are not are tried again (through other random
nodes) after a pause, a bounded number of passes; what is still wrong then
is lost (not found, or another value) or unreachable (the CLI failed).

Invariants: every loop is bounded in count and time; no thread is alive
while the harness forks a daemon except writer threads, which only run
the CLI (a dhtd's PDEATHSIG is bound to the main thread that forks it).
"""

import random
import threading
import time

from ring import common

PUT_TIMEOUT_MS = 2000
GET_TIMEOUT_MS = 2000


class AckLog:
    """Every acknowledged write: (key, value, node, monotonic time)."""

    def __init__(self):
        self._lock = threading.Lock()
        self.acks = []

    def add(self, key, value, node):
        with self._lock:
            self.acks.append((key, value, node, time.monotonic()))

    def snapshot(self):
        with self._lock:
            return list(self.acks)

    def __len__(self):
        with self._lock:
            return len(self.acks)


def put(ring, key, value, seeds, timeout_ms=PUT_TIMEOUT_MS):
    """One `dht put` through `seeds` (addresses, first tried first)."""
    return ring.dht(None, "--timeout-ms", timeout_ms, "put", key, value,
                    nodes=seeds, timeout=timeout_ms / 1000.0 * 3 + 5)


def get(ring, key, seeds, timeout_ms=GET_TIMEOUT_MS):
    return ring.dht(None, "--timeout-ms", timeout_ms, "get", key,
                    nodes=seeds, timeout=timeout_ms / 1000.0 * 3 + 5)


class Writers:
    """W writer threads; see the module comment."""

    def __init__(self, ring, log, rng, tag, writers=3, max_writes=300,
                 max_seconds=120.0, pause=0.1):
        self.ring = ring
        self.log = log
        self.tag = tag
        self.max_writes = max_writes
        self.max_seconds = max_seconds
        self.pause = pause
        self.stop_ev = threading.Event()
        self.until = time.monotonic() + max_seconds
        self.attempted = 0
        self.failed = 0
        self.first_errors = []
        self._lock = threading.Lock()
        self._seeds = [rng.randrange(1 << 30) for _ in range(writers)]
        self.threads = [threading.Thread(target=self._loop, args=(w,),
                                         daemon=True)
                        for w in range(writers)]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def _loop(self, w):
        rng = random.Random(self._seeds[w])
        for seq in range(self.max_writes):
            if self.stop_ev.is_set() or time.monotonic() >= self.until:
                return
            key = "f-%s-w%d-%d" % (self.tag, w, seq)
            value = "v-%d-%d-%d-%08x" % (self._seeds[w], w, seq,
                                         rng.randrange(1 << 32))
            seeds = self.ring.random_addrs(rng, 3)
            r = put(self.ring, key, value, seeds)
            with self._lock:
                self.attempted += 1
                if r.code != 0:
                    self.failed += 1
                    if len(self.first_errors) < 3:
                        self.first_errors.append(r.err.strip()[:200])
            if r.code == 0:
                self.log.add(key, value, seeds[0])
            self.stop_ev.wait(self.pause)

    def stop_at(self, when):
        """Let the writers go on until `when` (monotonic), no later than
        their time bound."""
        self.until = min(self.until, when)

    def stop(self):
        """Stop and join every writer (each finishes its current put,
        bounded by the CLI's timeout)."""
        self.stop_ev.set()
        for t in self.threads:
            t.join(timeout=PUT_TIMEOUT_MS / 1000.0 * 3 + 10)


def read_back(ring, acks, rng, passes=3, pause=2.0, workers=4):
    """Read every acknowledged write back through random nodes, then the
    ones that failed again (other random nodes) after `pause`, at most
    `passes` passes. Returns a dict: acknowledged, readable (at the end),
    first (verdict counts of the first pass: ok, lost, unreachable),
    last_pass_at (seconds from the call to the start of the pass after
    which nothing was pending, None when something still is), lost,
    unreachable, examples (a few failures, described)."""
    t0 = time.monotonic()
    pending = list(acks)
    first = None
    last_pass_at = None
    last_result = {}
    for p in range(passes):
        t_pass = 0.0 if p == 0 else time.monotonic() - t0
        picks = [(a, rng.choice(ring.addrs)) for a in pending]

        def one(item):
            (key, value, _node, _t), addr = item
            r = get(ring, key, [addr])
            if r.code == 0 and r.out == value:
                return "ok", r, addr
            if r.code == 1 or r.code == 0:
                return "lost", r, addr
            return "unreachable", r, addr
        results = common.parallel(one, picks, workers)
        nxt = []
        counts = {"ok": 0, "lost": 0, "unreachable": 0}
        for (ack, _addr), (verdict, r, addr) in zip(picks, results):
            counts[verdict] += 1
            if verdict != "ok":
                nxt.append(ack)
                last_result[ack[0]] = (verdict, r, addr)
        if first is None:
            first = counts
        pending = nxt
        if not pending:
            last_pass_at = t_pass
            break
        if p == passes - 1:
            break
        time.sleep(pause)
    lost = [a for a in pending if last_result[a[0]][0] == "lost"]
    unreach = [a for a in pending if last_result[a[0]][0] == "unreachable"]
    examples = []
    for a in pending[:3]:
        verdict, r, addr = last_result[a[0]]
        examples.append("%s %s via %s (written via %s): exit %s %s" % (
            verdict, a[0], addr, a[2], r.code,
            (r.err.strip() or repr(r.out))[:120]))
    return dict(acknowledged=len(acks), readable=len(acks) - len(pending),
                first=first or {"ok": 0, "lost": 0, "unreachable": 0},
                last_pass_at=last_pass_at, lost=len(lost),
                unreachable=len(unreach), examples=examples)


class Probe:
    """Operations through one node after a heal: each round puts a fresh
    key through that node alone and reads back an older acknowledged key
    through it. Records (start time, ok, what failed)."""

    def __init__(self, ring, log, addr, older, tag, timeout_ms=1000):
        self.ring = ring
        self.log = log
        self.addr = addr
        self.older = older
        self.tag = tag
        self.timeout_ms = timeout_ms
        self.ops = []

    def run(self, since, seconds, rng):
        """Probe for `seconds` (bounded count too). Returns the time after
        `since` from which every op succeeded (None when the last one
        failed), and the ops."""
        end = since + seconds
        for seq in range(1000):
            t0 = time.monotonic()
            if t0 >= end:
                break
            key = "p-%s-%d" % (self.tag, seq)
            value = "pv-%d-%08x" % (seq, rng.randrange(1 << 32))
            r = put(self.ring, key, value, [self.addr], self.timeout_ms)
            ok = r.code == 0
            why = "" if ok else "put: " + (r.err.strip() or str(r.code))
            if ok:
                self.log.add(key, value, self.addr)
                if self.older:
                    k, v, _n, _t = rng.choice(self.older)
                    g = get(self.ring, k, [self.addr], self.timeout_ms)
                    if g.code != 0 or g.out != v:
                        ok = False
                        why = "get %s: exit %s %s" % (
                            k, g.code, (g.err.strip() or repr(g.out))[:100])
            self.ops.append((t0 - since, ok, why))
            time.sleep(0.05)
        settled = None
        for t, ok, _why in self.ops:
            if not ok:
                settled = None
            elif settled is None:
                settled = t
        return settled
