#!/usr/bin/env python3
"""test_locks.py - the acceptance test of issue 15 (locks with FIFO
waiters and leases, appends queued and applied on release, fencing tokens,
exactly-once retries): real dhtd processes on 127.0.0.1, driven through
the `dht` CLI.

CLI contract relied on (exit codes: 0 ok, 1 not found, 2 usage, 3 ring
failed, 4 precondition failed, 5 lock wait timed out):
  dht append KEY VALUE [--fence NAME:N]
  dht put KEY VALUE --fence NAME:N / dht del KEY --fence NAME:N
  dht lock acquire NAME [--lease-ms MS] [--wait-ms MS] [--json]
      -> "<32 hex client id>:<fence>" (--json: name, token, client, fence)
  dht lock renew|release NAME TOKEN, dht lock append NAME TOKEN KEY VALUE
  dht lock status NAME --json -> name, held, holder, fence, lease_left_ms,
      releasing, queued [{key, value}], waiters [client id, ...]
  dhtd --test-drop-replies PCT / --test-drop-requests PCT

What a user would notice, one scenario each (on one 5-node ring with
--replicas 3, the failover last; then two 3-node rings for the drops):
  sanity    `dht append` creates a key and appends to it (also to a value
            written by put); usage errors exit 2 without a ring.
  timeout   while X holds, `acquire --wait-ms 500` exits 5 after about
            0.5 s and leaves the queue; a token of another client with
            the holder's fence is refused (4); X's release works.
  fifo (a)  8 contenders: the first holds until the 7 others are queued
            (the waiters list is captured from `lock status --json`); each
            queues 20 `lock append`s of "<id>," to one key and releases.
            The value is 8 whole contiguous batches of 20, in the order of
            the fences (grant order), and the grant order is the waiters
            order captured (arrival order); while held, status shows the
            holder, its fence and its queued appends.
  lease (b) A acquires with --lease-ms 1500, queues an append, stops. B,
            queued, is granted between the lease's end and lease + 1 s
            after A's last renewal, with a higher fence; A's append never
            lands; A's append, renew and release exit 4; after B's fenced
            put, A's late put, del and append fenced with A's fence exit 4
            and change nothing.
  failover (c) the lock's owner (`dht lookup lock:NAME --json`) is killed
            with SIGKILL while the holder has 6 queued appends to two keys
            (one owned by the killed node) and 3 waiters are queued: after
            failover the state (holder, queue, waiters) is intact, the
            holder's release exits 0 and the batch lands exactly once (a
            second release, a retry, exits 0 and
            applies nothing again), then the waiters are granted in their
            order with growing fences.
  exactly-once (d) on a ring whose nodes drop 20% of the replies of
            mutating requests after executing them (then: drop 20% of the
            requests before executing them), 40 `dht append`s of distinct
            tokens with 3 seeds and --timeout-ms 1500: every token that
            was acknowledged appears exactly once, none more than once,
            at least 36 of 40 are acknowledged, and at least one append
            visibly retried (took longer than one attempt's share).

Usage: test_locks.py --bin BUILD_DIR [--seed N] [--only NAME[,NAME]]
Exits non-zero on failure. Every dhtd and every `dht` process it starts is
stopped by its PID on every way out (see common.py; the client processes
are killed by the Clients set below at the end of each scenario).
"""

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import (KILL_TIMEOUT, Cluster, Result, Runner,  # noqa: E402
                    TestFailure, _set_pdeathsig, check, true_successor)

EXIT_OK, EXIT_NOT_FOUND, EXIT_USAGE, EXIT_RING = 0, 1, 2, 3
EXIT_PRECONDITION, EXIT_WAIT = 4, 5

MAIN_NODES = 5
REPLICAS = 3
DROP_NODES = 3
DROP_PCT = 20
N_CONTENDERS = 8
BATCH = 20
N_APPENDS = 40
MIN_ACKED = 36          # of N_APPENDS under drops (all 3 seeds drop: 0.8%)
DROP_TIMEOUT_MS = 1500  # per `dht append` under drops: 500 ms per seed
ATTEMPT_S = 0.45        # an append slower than this retried on a 2nd seed
LEASE_B_MS = 1500
LEASE_SLACK_S = 1.0     # the next waiter is granted within lease + this
EARLY_SLACK_S = 0.1     # and not before the lease (clock tolerance)
WAIT_MS = 500           # timeout scenario: acquire --wait-ms
CMD_TIMEOUT = 30.0      # one short `dht` process (Python-side bound)
CLI_MS = "5000"         # --timeout-ms of the ordinary commands
POLL = 0.05
TOKEN_RE = re.compile(r"^([0-9a-f]{32}):([0-9]+)$")
HEX32_RE = re.compile(r"^[0-9a-f]{32}$")
STATUS_FIELDS = ("name", "held", "holder", "fence", "lease_left_ms",
                 "releasing", "queued", "waiters")


# --- client processes ------------------------------------------------------

class Clients:
    """The `dht` processes of a scenario, recorded by PID as they start,
    so that kill_all() can stop every one still running (a waiter blocked
    in acquire, a thread's command) whatever happened."""

    def __init__(self, dht_bin):
        self.dht_bin = dht_bin
        self.procs = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def argv(self, seeds, args, timeout_ms):
        argv = [self.dht_bin]
        for s in seeds:
            argv += ["--node", s]
        argv += ["--timeout-ms", str(timeout_ms)]
        return argv + [str(a) for a in args]

    def start(self, seeds, *args, timeout_ms=CLI_MS):
        """Start `dht` in the background; returns (Popen, argv)."""
        if self.stopping.is_set():
            raise TestFailure("scenario stopping: not starting dht %s"
                              % " ".join(str(a) for a in args))
        argv = self.argv(seeds, args, timeout_ms)
        with self.lock:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE,
                                 preexec_fn=_set_pdeathsig)
            self.procs.append(p)
        return p, argv

    @staticmethod
    def finish(p, argv, timeout=CMD_TIMEOUT):
        """Wait (bounded) for a started `dht`; kill it on timeout."""
        try:
            out, err = p.communicate(timeout=timeout)
            code = p.returncode
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            code = "timeout after %.0f s (killed)" % timeout
        return Result(argv, code, out.decode(errors="replace"),
                      err.decode(errors="replace"))

    def run(self, seeds, *args, timeout_ms=CLI_MS, timeout=CMD_TIMEOUT):
        p, argv = self.start(seeds, *args, timeout_ms=timeout_ms)
        return self.finish(p, argv, timeout)

    def abandon(self):
        """No new process from now on (until reset), and kill_all(): the
        threads of a scenario past its deadline end at their next step."""
        self.stopping.set()
        self.kill_all()

    def reset(self):
        self.stopping.clear()

    def kill_all(self):
        """SIGKILL every recorded process still running, by PID."""
        with self.lock:
            procs = list(self.procs)
        for p in procs:
            if p.poll() is None:
                try:
                    p.kill()
                except ProcessLookupError:
                    pass
        for p in procs:
            try:
                p.wait(timeout=KILL_TIMEOUT)
            except subprocess.TimeoutExpired:
                sys.stderr.write("warning: dht pid %d did not die\n" % p.pid)
        with self.lock:
            self.procs = [p for p in self.procs if p.poll() is None]


def expect(r, code, what):
    check(r.code == code, "%s: expected exit %d, got: %s"
          % (what, code, r.describe()))


def parse_token(r, what):
    """(client hex, fence) from an acquire's stdout."""
    expect(r, EXIT_OK, what)
    line = r.out.strip()
    m = TOKEN_RE.match(line)
    check(m is not None, "%s: stdout is not one '<32 hex>:<fence>' line: %s"
          % (what, r.describe()))
    fence = int(m.group(2))
    check(fence > 0, "%s: fence 0 in token %r" % (what, line))
    return m.group(1), fence


def runs_of(value):
    """'a,a,b,' -> [('a', 2), ('b', 1)] (the batches as they lie)."""
    items = [x for x in value.split(",") if x != ""]
    out = []
    for x in items:
        if out and out[-1][0] == x:
            out[-1] = (x, out[-1][1] + 1)
        else:
            out.append((x, 1))
    return out


def show_runs(value):
    return " ".join("%sx%d" % r for r in runs_of(value)) or "(empty)"


def join_threads(threads, deadline, clients, what):
    """Join threads by the deadline; past it kill their processes (they
    then end at once) and fail."""
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    late = [t.name for t in threads if t.is_alive()]
    if late:
        clients.abandon()
        for t in threads:
            t.join(KILL_TIMEOUT)
        raise TestFailure("%s: %s still running at the deadline (their dht "
                          "processes were killed)" % (what, ", ".join(late)))


def stop_threads(threads, clients):
    """On every way out of a scenario with threads: kill their processes,
    let them start no other, wait (bounded) for them to end, then allow new
    processes again (the scenario's own checks go on)."""
    clients.abandon()
    for t in threads:
        t.join(KILL_TIMEOUT)
    clients.reset()


# --- the test --------------------------------------------------------------

class LockTest:
    def __init__(self, args):
        self.args = args
        self.bin = args.bin
        self.seed = args.seed
        self.rng = random.Random(args.seed)
        self.c = None             # the main ring (5 nodes, --replicas 3)
        self.clients = None
        self.killed = []          # nodes a scenario killed on purpose

    # -- helpers ---------------------------------------------------------

    def seeds(self, exclude=()):
        """Every live node's address but `exclude`, in random order."""
        addrs = [n.addr for n in self.c.live_nodes() if n.addr not in exclude]
        self.rng.shuffle(addrs)
        return addrs

    def dht(self, *args, seeds=None, timeout_ms=CLI_MS):
        return self.clients.run(seeds or self.seeds(), *args,
                                timeout_ms=timeout_ms)

    def acquire(self, name, *extra, seeds=None, what=None):
        r = self.dht("lock", "acquire", name, *extra, seeds=seeds)
        return parse_token(r, what or "acquire %s" % name)

    def try_status(self, name, seeds=None):
        """(status dict or None, Result)."""
        r = self.dht("lock", "status", name, "--json", seeds=seeds,
                     timeout_ms="3000")
        if r.code != 0:
            return None, r
        try:
            st = json.loads(r.out)
        except ValueError as e:
            raise TestFailure("lock status --json is not JSON (%s): %s"
                              % (e, r.describe()))
        missing = [f for f in STATUS_FIELDS if f not in st]
        check(isinstance(st, dict) and not missing,
              "lock status --json lacks %s: %s" % (missing, r.describe()))
        check(isinstance(st["waiters"], list)
              and isinstance(st["queued"], list),
              "lock status: waiters/queued not arrays: %s" % r.describe())
        st["waiters"] = [str(w).lower() for w in st["waiters"]]
        if isinstance(st.get("holder"), str):
            st["holder"] = st["holder"].lower()
        return st, r

    def status(self, name, seeds=None):
        st, r = self.try_status(name, seeds)
        check(st is not None, "lock status %s: %s" % (name, r.describe()))
        return st

    def wait_status(self, name, cond, what, timeout, seeds=None):
        """Poll `lock status` (bounded in time) until cond(st); returns st,
        or fails with the last status seen."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while True:
            st, r = self.try_status(name, seeds)
            if st is not None:
                if cond(st):
                    return st
                last = json.dumps(st)
            else:
                last = r.describe()
            if time.monotonic() >= deadline:
                raise TestFailure("%s: not within %.1f s; last status: %s"
                                  % (what, timeout, last))
            time.sleep(POLL)

    def get(self, key, seeds=None):
        """The value of key, or None when not found (exit 1)."""
        r = self.dht("get", key, seeds=seeds)
        if r.code == EXIT_NOT_FOUND:
            return None
        expect(r, EXIT_OK, "get %s" % key)
        return r.out

    def check_value(self, key, want, what, seeds=None):
        got = self.get(key, seeds)
        check(got == want, "%s: %s is %r, expected %r%s"
              % (what, key, got, want,
                 "" if got is None else " (batches: %s)" % show_runs(got)))

    def holder_batch(self, name, token, key, tag, n, seeds=None):
        """n x `lock append NAME TOKEN KEY "<tag>,"`, each must exit 0."""
        for j in range(n):
            r = self.dht("lock", "append", name, token, key, tag + ",",
                         seeds=seeds)
            expect(r, EXIT_OK, "%s: lock append %d of %d" % (tag, j + 1, n))

    def unexpected_deaths(self):
        """How many dhtd of the main ring died without a scenario killing
        them (each one's log is printed)."""
        dead = 0
        for n in self.c.nodes:
            if not n.alive() and n not in self.killed:
                print("dhtd %s died during the test; log:\n%s"
                      % (n.addr, n.log_tail()))
                dead += 1
        return dead

    # -- the main ring ---------------------------------------------------

    def step_ring(self):
        self.c = Cluster(self.bin, name="locks", seed=self.seed)
        self.clients = Clients(self.c.dht_bin)
        flags = ["--replicas", str(REPLICAS)]
        first = self.c.start_node(extra=flags)
        for _ in range(1, MAIN_NODES):
            self.c.start_node(join=self.rng.choice(self.c.nodes), extra=flags)
        took = self.c.wait_ring(timeout=30.0)
        print("  %d nodes, --replicas %d, ring correct after %.1f s (first %s)"
              % (MAIN_NODES, REPLICAS, took, first.addr), flush=True)

    def scenario_sanity(self):
        key = "append-%d" % self.seed
        r = self.dht("append", key, "ab")
        expect(r, EXIT_OK, "append to a new key")
        self.check_value(key, "ab", "append created the key")
        r = self.dht("append", key, "cd")
        expect(r, EXIT_OK, "second append")
        self.check_value(key, "abcd", "append appended")
        key2 = "append-put-%d" % self.seed
        expect(self.dht("put", key2, "x"), EXIT_OK, "put")
        expect(self.dht("append", key2, "y"), EXIT_OK, "append after put")
        self.check_value(key2, "xy", "append after put")
        # Usage errors: exit 2 before any connection (a dead seed).
        dead = ["127.0.0.1:1"]
        for argv in (["append", key], ["lock", "acquire"],
                     ["lock", "frobnicate", "x"],
                     ["lock", "release", "x", "not-a-token"],
                     ["put", key, "v", "--fence", "no-number"]):
            r = self.clients.run(dead, *argv)
            expect(r, EXIT_USAGE, "usage error `dht %s`" % " ".join(argv))
        print("  append creates and appends; 5 usage errors exit 2")

    def scenario_wait_timeout(self):
        name = "timeout-%d" % self.seed
        xc, xf = self.acquire(name, what="X acquires")
        token = "%s:%d" % (xc, xf)
        t0 = time.monotonic()
        r = self.dht("lock", "acquire", name, "--wait-ms", str(WAIT_MS))
        took = time.monotonic() - t0
        expect(r, EXIT_WAIT, "acquire --wait-ms %d while held" % WAIT_MS)
        check(WAIT_MS / 1000.0 - 0.05 <= took <= WAIT_MS / 1000.0 + 3.0,
              "acquire --wait-ms %d exited 5 after %.2f s" % (WAIT_MS, took))
        st = self.status(name)
        check(st["waiters"] == [],
              "the timed-out waiter is still queued: %s" % json.dumps(st))
        check(st["held"] is True and st["holder"] == xc and st["fence"] == xf,
              "X (%s, fence %d) should hold: %s" % (xc, xf, json.dumps(st)))
        other = "%032x" % self.rng.getrandbits(128)
        if other == xc:
            other = "%032x" % (int(xc, 16) ^ 1)
        r = self.dht("lock", "append", name, "%s:%d" % (other, xf),
                     "timeout-key-%d" % self.seed, "forged,")
        expect(r, EXIT_PRECONDITION, "lock append with another client's "
               "token and the holder's fence")
        r = self.dht("lock", "release", name, "%s:%d" % (other, xf))
        expect(r, EXIT_PRECONDITION, "release with another client's token")
        expect(self.dht("lock", "release", name, token), EXIT_OK,
               "X's release")
        st = self.status(name)
        check(st["held"] is False, "held after the release: %s"
              % json.dumps(st))
        check(self.get("timeout-key-%d" % self.seed) is None,
              "the forged append landed")
        print("  acquire --wait-ms %d: exit 5 after %.2f s, left the queue; "
              "forged token refused (4)" % (WAIT_MS, took))

    # -- (a) FIFO with 8 contenders -------------------------------------

    def scenario_fifo(self):
        name = "fifo-%d" % self.seed
        key = "fifo-value-%d" % self.seed
        r = self.dht("lock", "acquire", name, "--json")
        expect(r, EXIT_OK, "p0 acquires (--json)")
        try:
            j = json.loads(r.out)
            c0, f0, tok0 = j["client"].lower(), int(j["fence"]), j["token"]
            jname = j["name"]
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise TestFailure("acquire --json lacks a field (%s): %s"
                              % (e, r.describe()))
        check(jname == name and tok0 == "%s:%d" % (c0, f0)
              and HEX32_RE.match(c0) and f0 > 0,
              "acquire --json: name/token/client/fence disagree: %s" % r.out)
        st = self.status(name)
        check(st["held"] is True and st["holder"] == c0 and st["fence"] == f0
              and st["waiters"] == [] and st["queued"] == [],
              "after p0's grant (%s): %s" % (tok0, json.dumps(st)))

        granted = {}          # contender -> (client, fence)
        errors = []
        stagger = {i: self.rng.uniform(0, 0.2)
                   for i in range(1, N_CONTENDERS)}

        def contender(i):
            try:
                time.sleep(stagger[i])
                r = self.clients.run(self.seeds(), "lock", "acquire", name,
                                     "--wait-ms", "60000", timeout=75)
                client, fence = parse_token(r, "p%d acquires" % i)
                granted[i] = (client, fence)
                token = "%s:%d" % (client, fence)
                self.holder_batch(name, token, key, "p%d" % i, BATCH)
                expect(self.dht("lock", "release", name, token), EXIT_OK,
                       "p%d releases" % i)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append("p%d: %s" % (i, e))

        threads = [threading.Thread(target=contender, args=(i,),
                                    name="p%d" % i, daemon=True)
                   for i in range(1, N_CONTENDERS)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        try:
            n_wait = N_CONTENDERS - 1
            st = self.wait_status(
                name, lambda s: len(s["waiters"]) >= n_wait or errors,
                "%d waiters queued behind p0" % n_wait, 20.0)
            check(not errors, "a contender failed while queueing: %s"
                  % "; ".join(errors))
            arrival = list(st["waiters"])
            check(len(arrival) == n_wait and len(set(arrival)) == n_wait
                  and all(HEX32_RE.match(w) for w in arrival)
                  and c0 not in arrival,
                  "waiters list: %s" % json.dumps(st))
            print("  7 waiters queued %.1f s after they started; arrival "
                  "order %s" % (time.monotonic() - t0,
                                " ".join(w[:8] for w in arrival)), flush=True)

            self.holder_batch(name, tok0, key, "p0", BATCH)
            st = self.status(name)
            want_q = [{"key": key, "value": "p0,"}] * BATCH
            got_q = [{"key": q.get("key"), "value": q.get("value")}
                     for q in st["queued"]]
            check(st["held"] is True and st["holder"] == c0
                  and st["fence"] == f0 and got_q == want_q,
                  "p0 holds with %d queued appends of 'p0,' to %s: %s"
                  % (BATCH, key, json.dumps(st)))
            check(st["waiters"] == arrival,
                  "the waiters changed while p0 held: %s, then %s"
                  % (arrival, st["waiters"]))
            early = self.get(key)
            check(early is None, "p0's queued appends landed before its "
                  "release: %r" % early)
            expect(self.dht("lock", "release", name, tok0), EXIT_OK,
                   "p0 releases")
            join_threads(threads, time.monotonic() + 60.0, self.clients,
                         "contenders")
        finally:
            stop_threads(threads, self.clients)
        check(not errors, "%d contender(s) failed: %s"
              % (len(errors), "; ".join(errors)))
        took = time.monotonic() - t0

        granted[0] = (c0, f0)
        by_fence = sorted(granted, key=lambda i: granted[i][1])
        fences = [granted[i][1] for i in by_fence]
        check(len(set(fences)) == N_CONTENDERS,
              "fences repeat: %s" % {("p%d" % i): granted[i] for i in granted})
        check(by_fence[0] == 0, "p0 got fence %d but p%d got a lower one"
              % (f0, by_fence[0]))
        grant_clients = [granted[i][0] for i in by_fence[1:]]
        check(sorted(grant_clients) == sorted(arrival),
              "the granted client ids %s are not the queued ones %s"
              % (grant_clients, arrival))
        check(grant_clients == arrival,
              "grant order (by fence) %s differs from the arrival order %s"
              % (" ".join(c[:8] for c in grant_clients),
                 " ".join(c[:8] for c in arrival)))
        value = self.get(key)
        want = "".join(("p%d," % i) * BATCH for i in by_fence)
        check(value == want,
              "the value is not %d whole batches of %d in grant order %s: "
              "its batches are %s" % (N_CONTENDERS, BATCH,
                                      " ".join("p%d" % i for i in by_fence),
                                      show_runs(value or "")))
        st = self.status(name)
        check(st["held"] is False and st["waiters"] == []
              and st["queued"] == [] and st["fence"] == fences[-1],
              "after the last release: %s" % json.dumps(st))
        print("  %d batches of %d whole, in grant order = arrival order "
              "(fences %d..%d), %.1f s" % (N_CONTENDERS, BATCH, fences[0],
                                           fences[-1], took))

    # -- (b) lease expiry and fencing ------------------------------------

    def scenario_lease(self):
        name = "lease-%d" % self.seed
        kq = "lease-queued-%d" % self.seed
        kf = "lease-fenced-%d" % self.seed
        ac, af = self.acquire(name, "--lease-ms", str(LEASE_B_MS),
                              what="A acquires --lease-ms %d" % LEASE_B_MS)
        tok_a = "%s:%d" % (ac, af)
        pb, argv_b = self.clients.start(self.seeds(), "lock", "acquire",
                                        name, "--wait-ms", "15000")
        try:
            st = self.wait_status(
                name, lambda s: s["waiters"] or pb.poll() is not None,
                "B queued behind A", 5.0)
            if pb.poll() is not None:
                raise TestFailure("B's acquire ended before A's lease "
                                  "expired: %s"
                                  % Clients.finish(pb, argv_b).describe())
            bc = st["waiters"][0]
            check(st["waiters"] == [bc] and bc != ac,
                  "waiters: %s" % json.dumps(st))
            t_ren0 = time.monotonic()
            r = self.dht("lock", "append", name, tok_a, kq, "from-A")
            t_ren1 = time.monotonic()
            expect(r, EXIT_OK, "A's lock append (A's lease of %d ms must not "
                   "have run out yet: setup too slow?)" % LEASE_B_MS)
            st = self.status(name)
            check(st["held"] is True and st["holder"] == ac
                  and len(st["queued"]) == 1
                  and isinstance(st["lease_left_ms"], int)
                  and 0 < st["lease_left_ms"] <= LEASE_B_MS,
                  "A holds with 1 queued append and lease_left_ms in "
                  "(0, %d]: %s" % (LEASE_B_MS, json.dumps(st)))
            # A stops. B must be granted after A's lease, within lease + 1 s.
            limit = t_ren1 + LEASE_B_MS / 1000.0 + LEASE_SLACK_S
            while pb.poll() is None and time.monotonic() < limit + 5.0:
                time.sleep(0.01)
            t_b = time.monotonic()
            rb = Clients.finish(pb, argv_b, timeout=5.0)
        finally:
            if pb.poll() is None:
                pb.kill()
        b_client, bf = parse_token(rb, "B's acquire")
        tok_b = "%s:%d" % (b_client, bf)
        check(b_client == bc, "B's token client %s is not the waiter %s"
              % (b_client, bc))
        check(bf > af, "B's fence %d is not above A's %d" % (bf, af))
        check(t_b <= limit, "B granted %.2f s after A's last renewal; the "
              "bound is lease + %.0f s = %.2f s" % (
                  t_b - t_ren1, LEASE_SLACK_S,
                  LEASE_B_MS / 1000.0 + LEASE_SLACK_S))
        check(t_b >= t_ren0 + LEASE_B_MS / 1000.0 - EARLY_SLACK_S,
              "B granted %.2f s after A renewed, before A's lease of %d ms "
              "ran out" % (t_b - t_ren0, LEASE_B_MS))
        st = self.status(name)
        check(st["held"] is True and st["holder"] == b_client
              and st["fence"] == bf and st["queued"] == []
              and st["waiters"] == [],
              "after the expiry B holds, A's queue discarded: %s"
              % json.dumps(st))
        for argv in (["lock", "append", name, tok_a, kq, "late-A"],
                     ["lock", "renew", name, tok_a],
                     ["lock", "release", name, tok_a]):
            expect(self.dht(*argv), EXIT_PRECONDITION,
                   "expired holder A: `dht %s`" % " ".join(argv[:2]))
        landed = self.get(kq)
        check(landed is None, "A's queued append landed: %s = %r"
              % (kq, landed))
        fb, fa = "%s:%d" % (name, bf), "%s:%d" % (name, af)
        expect(self.dht("put", kf, "B-wrote", "--fence", fb), EXIT_OK,
               "B's fenced put")
        for argv in (["put", kf, "A-late", "--fence", fa],
                     ["del", kf, "--fence", fa],
                     ["append", kf, "A-late", "--fence", fa]):
            expect(self.dht(*argv), EXIT_PRECONDITION,
                   "A's late `dht %s --fence %s`" % (argv[0], fa))
        self.check_value(kf, "B-wrote", "after A's refused fenced writes")
        expect(self.dht("lock", "renew", name, tok_b), EXIT_OK, "B renews")
        expect(self.dht("lock", "release", name, tok_b), EXIT_OK,
               "B releases")
        check(self.get(kq) is None, "A's queued append landed at B's "
              "release")
        st = self.status(name)
        check(st["held"] is False and st["fence"] == bf,
              "after B's release: %s" % json.dumps(st))
        print("  B granted %.2f s after A's last renewal (lease %.1f s), "
              "fence %d > %d; A's append/renew/release/put/del/append: 4"
              % (t_b - t_ren1, LEASE_B_MS / 1000.0, bf, af))

    # -- (c) kill -9 of the lock's owner ---------------------------------

    def scenario_failover(self):
        name = "failover-%d" % self.seed
        live = [n.addr for n in self.c.live_nodes()]
        r = self.dht("lookup", "lock:" + name, "--json")
        expect(r, EXIT_OK, "lookup lock:%s" % name)
        try:
            owner = json.loads(r.out)["owner"]["addr"]
        except (ValueError, KeyError, TypeError) as e:
            raise TestFailure("lookup --json lacks owner.addr (%s): %s"
                              % (e, r.describe()))
        want = true_successor("lock:" + name, live)
        check(owner == want, "lookup lock:%s names %s, the successor of "
              "SHA-1('lock:%s') is %s" % (name, owner, name, want))
        victim = next(n for n in self.c.live_nodes() if n.addr == owner)
        seeds = self.seeds(exclude=[owner])

        def key_owned(pred, prefix):
            for i in range(2000):
                k = "%s-%d-%d" % (prefix, self.seed, i)
                if pred(true_successor(k, live)):
                    return k
            raise TestFailure("no key found for %s" % prefix)
        k1 = key_owned(lambda a: a == owner, "fo-victims")
        k2 = key_owned(lambda a: a != owner, "fo-other")
        k3 = "fo-waiters-%d" % self.seed

        hc, hf = self.acquire(name, "--lease-ms", "30000", seeds=seeds,
                              what="H acquires")
        tok_h = "%s:%d" % (hc, hf)
        queue = []
        for j in range(3):
            for k in (k1, k2):
                r = self.dht("lock", "append", name, tok_h, k, "h%d," % j,
                             seeds=seeds)
                expect(r, EXIT_OK, "H's lock append %d" % len(queue))
                queue.append({"key": k, "value": "h%d," % j})

        granted = {}
        errors = []
        waiters = []
        procs = {}

        def waiter(i):
            try:
                p, argv = procs[i]
                rr = Clients.finish(p, argv, timeout=70)
                client, fence = parse_token(rr, "w%d's acquire" % i)
                granted[i] = (client, fence, time.monotonic())
                token = "%s:%d" % (client, fence)
                self.holder_batch(name, token, k3, "w%d" % i, 1, seeds=seeds)
                expect(self.dht("lock", "release", name, token, seeds=seeds),
                       EXIT_OK, "w%d releases" % i)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append("w%d: %s" % (i, e))

        threads = []
        want = "h0,h1,h2,"
        try:
            for i in (1, 2, 3):
                procs[i] = self.clients.start(seeds, "lock", "acquire", name,
                                              "--wait-ms", "60000")
                st = self.wait_status(
                    name, lambda s: len(s["waiters"]) >= i,
                    "w%d queued" % i, 10.0, seeds=seeds)
                check(st["waiters"][:i - 1] == waiters
                      and len(st["waiters"]) == i,
                      "w%d did not queue behind %s: %s"
                      % (i, waiters, json.dumps(st)))
                waiters.append(st["waiters"][-1])
                t = threading.Thread(target=waiter, args=(i,),
                                     name="w%d" % i, daemon=True)
                t.start()
                threads.append(t)
            st = self.status(name, seeds=seeds)
            got_q = [{"key": q.get("key"), "value": q.get("value")}
                     for q in st["queued"]]
            check(st["held"] is True and st["holder"] == hc
                  and got_q == queue and st["waiters"] == waiters,
                  "before the kill: %s" % json.dumps(st))

            print("  killing the lock's owner %s (pid %d) with 3 waiters "
                  "and %d queued appends" % (owner, victim.pid, len(queue)),
                  flush=True)
            t_kill = time.monotonic()
            self.killed.append(victim)
            check(self.c.signal_node(victim, signal.SIGKILL),
                  "cannot SIGKILL %s" % owner)
            victim.proc.wait(timeout=KILL_TIMEOUT)

            def intact(s):
                q = [{"key": x.get("key"), "value": x.get("value")}
                     for x in s["queued"]]
                return (s["held"] is True and s["holder"] == hc
                        and q == queue and s["waiters"] == waiters)
            self.wait_status(name, intact, "the lock state (holder, %d "
                             "queued, 3 waiters in order) after the "
                             "failover" % len(queue), 20.0, seeds=seeds)
            t_back = time.monotonic() - t_kill
            r = self.dht("lookup", "lock:" + name, "--json", seeds=seeds)
            expect(r, EXIT_OK, "lookup after the kill")
            new_owner = json.loads(r.out)["owner"]["addr"]
            check(new_owner != owner, "lookup still names the dead %s"
                  % owner)
            r = self.dht("lock", "release", name, tok_h, seeds=seeds,
                         timeout_ms="10000")
            expect(r, EXIT_OK, "H's release after the failover")
            self.check_value(k1, want, "batch on the dead owner's key",
                             seeds=seeds)
            self.check_value(k2, want, "batch on the other key", seeds=seeds)
            r = self.dht("lock", "release", name, tok_h, seeds=seeds)
            # a release repeated with the same token is a retry (its reply
            # may have been lost): it answers ok and applies nothing again
            expect(r, EXIT_OK, "H's second release (a retry)")
            self.check_value(k1, want, "batch once after a repeated release",
                             seeds=seeds)
            join_threads(threads, time.monotonic() + 40.0, self.clients,
                         "waiters")
        finally:
            stop_threads(threads, self.clients)
        check(not errors, "%d waiter(s) failed: %s"
              % (len(errors), "; ".join(errors)))
        self.check_value(k1, want, "batch still once after the waiters",
                         seeds=seeds)
        self.check_value(k2, want, "batch still once after the waiters",
                         seeds=seeds)
        order = sorted(granted, key=lambda i: granted[i][1])
        check(order == [1, 2, 3] and [granted[i][0] for i in order] ==
              waiters, "waiters granted by fence in order %s (clients %s), "
              "queued as %s" % (order, [granted[i][0] for i in order],
                                waiters))
        check(granted[1][1] > hf, "w1's fence %d is not above H's %d"
              % (granted[1][1], hf))
        self.check_value(k3, "w1,w2,w3,", "the waiters' batches",
                         seeds=seeds)
        st = self.status(name, seeds=seeds)
        check(st["held"] is False and st["waiters"] == [],
              "after the last waiter's release: %s" % json.dumps(st))
        print("  state intact %.1f s after the kill (new owner %s); H's "
              "batch landed once on both keys; w1 w2 w3 served in order"
              % (t_back, new_owner))

    # -- (d) exactly-once under dropped replies / requests --------------

    def scenario_drops(self, flag):
        c = Cluster(self.bin, name="locks-drop", seed=self.rng.getrandbits(31))
        clients = Clients(c.dht_bin)
        try:
            extra = [flag, str(DROP_PCT)]
            c.start_node(extra=extra)
            for _ in range(1, DROP_NODES):
                c.start_node(join=self.rng.choice(c.nodes), extra=extra)
            c.wait_ring(timeout=30.0)
            key = "once-%s-%d" % (flag.strip("-"), self.seed)
            addrs = [n.addr for n in c.nodes]
            tokens = ["t%02d" % i for i in range(N_APPENDS)]
            jobs = []
            for t in tokens:
                seeds = list(addrs)
                self.rng.shuffle(seeds)
                jobs.append((t, seeds))
            results = {}

            def one(job):
                t, seeds = job
                t0 = time.monotonic()
                r = clients.run(seeds, "append", key, t + ",",
                                timeout_ms=DROP_TIMEOUT_MS)
                results[t] = (r, time.monotonic() - t0)

            idx = [0]
            lk = threading.Lock()

            def worker():
                while True:
                    with lk:
                        if idx[0] >= len(jobs):
                            return
                        job = jobs[idx[0]]
                        idx[0] += 1
                    one(job)
            ws = [threading.Thread(target=worker, daemon=True)
                  for _ in range(4)]
            t0 = time.monotonic()
            for w in ws:
                w.start()
            join_threads(ws, t0 + 90.0, clients, "appenders")
            took = time.monotonic() - t0

            bad = [(t, r) for t, (r, _) in results.items()
                   if r.code not in (EXIT_OK, EXIT_RING)]
            check(not bad, "%d append(s) exited neither 0 nor 3; first: %s"
                  % (len(bad), bad[0][1].describe() if bad else ""))
            acked = [t for t in tokens if results[t][0].code == EXIT_OK]
            slow = [t for t in tokens if results[t][1] >= ATTEMPT_S]
            r = clients.run(addrs, "get", key)
            expect(r, EXIT_OK, "get %s" % key)
            parts = r.out.split(",")
            check(parts[-1] == "", "value does not end with ',': %r" % r.out)
            parts = parts[:-1]
            counts = {}
            for p in parts:
                counts[p] = counts.get(p, 0) + 1
            strange = sorted(set(counts) - set(tokens))
            check(not strange, "value holds tokens nobody appended: %s"
                  % strange[:5])
            twice = sorted(t for t in counts if counts[t] > 1)
            check(not twice, "applied more than once: %s (%s)" % (
                ", ".join("%s x%d" % (t, counts[t]) for t in twice),
                "acknowledged" if set(twice) <= set(acked) else
                "some not acknowledged"))
            lost = sorted(t for t in acked if counts.get(t, 0) != 1)
            check(not lost, "acknowledged (exit 0) but missing: %s" % lost)
            check(len(acked) >= MIN_ACKED,
                  "only %d of %d appends acknowledged; first failure: %s"
                  % (len(acked), N_APPENDS, next(
                      (results[t][0].describe() for t in tokens
                       if t not in acked), "")))
            check(slow, "no append took over %.2f s: the %s %d flag had no "
                  "visible effect (no retry happened)"
                  % (ATTEMPT_S, flag, DROP_PCT))
            dead = c.count_deaths()
            check(dead == 0, "%d dhtd died" % dead)
            print("  %s %d: %d/%d acknowledged, %d retried (> %.2f s), every "
                  "acknowledged token exactly once, unacknowledged ones at "
                  "most once (%d of %d landed), %.1f s"
                  % (flag, DROP_PCT, len(acked), N_APPENDS, len(slow),
                     ATTEMPT_S, len(parts) - len(acked),
                     N_APPENDS - len(acked), took))
        finally:
            clients.kill_all()
            c.cleanup()


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", required=True,
                    help="directory holding the dhtd and dht binaries")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--only", default="",
                    help="comma-separated scenarios to run (default: all): "
                    "sanity,timeout,fifo,lease,failover,replies,requests")
    a = ap.parse_args()
    if a.seed is None:
        a.seed = random.SystemRandom().randrange(1 << 31)
    print("seed %d (rerun with --seed %d)" % (a.seed, a.seed), flush=True)
    return a


def main():
    args = parse_args()
    t = LockTest(args)
    runner = Runner("test_locks")
    main_ring = [
        ("sanity", "append creates and appends; usage errors",
         t.scenario_sanity),
        ("timeout", "acquire --wait-ms: exit 5, leaves the queue",
         t.scenario_wait_timeout),
        ("fifo", "(a) 8 contenders: whole batches, grant order = arrival",
         t.scenario_fifo),
        ("lease", "(b) lease expiry: next waiter in time, old fence refused",
         t.scenario_lease),
        ("failover", "(c) kill -9 of the lock's owner: release once, "
         "waiters in order", t.scenario_failover),
    ]
    drops = [
        ("replies", "(d) --test-drop-replies %d: every append once" % DROP_PCT,
         lambda: t.scenario_drops("--test-drop-replies")),
        ("requests", "(d) --test-drop-requests %d: every append once"
         % DROP_PCT, lambda: t.scenario_drops("--test-drop-requests")),
    ]
    only = set(filter(None, args.only.split(",")))
    known = {k for k, _, _ in main_ring + drops}
    if only - known:
        print("unknown scenario(s) %s; known: %s"
              % (sorted(only - known), sorted(known)))
        return 2
    t0 = time.monotonic()
    try:
        selected = [s for s in main_ring if not only or s[0] in only]
        if selected and runner.run("a ring of %d with --replicas %d"
                               % (MAIN_NODES, REPLICAS), t.step_ring):
            for _, title, fn in selected:
                t.clients.reset()
                ok = runner.run(title, fn)
                t.clients.kill_all()
                if not ok:
                    print("  logs:\n" + t.c.dump_logs(8), flush=True)
            runner.failed += t.unexpected_deaths()
        elif selected:
            print("main-ring scenarios not run: %s"
                  % ", ".join(s[0] for s in selected), flush=True)
            runner.failed += len(selected)
        if t.c is not None:
            t.c.cleanup()
        for key, title, fn in drops:
            if not only or key in only:
                runner.run(title, fn)
    finally:
        if t.clients is not None:
            t.clients.kill_all()
        if t.c is not None:
            t.c.cleanup()
    print("total %.1f s" % (time.monotonic() - t0))
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
