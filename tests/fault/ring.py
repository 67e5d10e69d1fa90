"""ring.py - the ring under test: N dhtd processes (8 by default) with
--replicas 3, --fsync always and a --data directory each, every one on its
own loopback address (127.0.0.11, .12, ...) and port 7000 inside the
fault suite's private network namespace.

Role: start the ring (the first node alone, the others joining it one by
one), kill -9 a node, freeze and thaw it (SIGSTOP/SIGCONT), restart it on
its own data directory with or without --join, tell whether the live
nodes form one correct ring (tests/system/common.py's ring_problem) and
how long that took, and count what the logs say about routing loops.

A node is a slot: its address, uid and data directory stay; each start
makes a new process (a common.Node) in the slot. When the harness is real
root each slot's dhtd runs under a uid of its own (UID_BASE + slot) so the
firewall can tell the nodes' connections apart (see netns.py); the temp
dir is then world-readable and each data dir belongs to its node's uid.

Invariants: every process is recorded (common.Cluster.procs) before
anything else can fail and is stopped by PID on every way out (the
Cluster's cleanup, atexit, signal handlers, PR_SET_PDEATHSIG); every wait
is bounded. It asserts nothing: the scenarios judge.
"""

import datetime
import json
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "system"))
import common  # noqa: E402  (tests/system/common.py)

PORT = 7000
UID_BASE = 61000
HOP_LIMIT_LINE = "exceeded"   # lookup.c: "lookup from X exceeded N hops"


def host_of(i):
    return "127.0.0.%d" % (11 + i)


class FaultRing(common.Cluster):
    """N slots; see the module comment."""

    def __init__(self, bin_dir, n=8, owner_uids=False, seed=None,
                 name="fault", extra=()):
        super().__init__(bin_dir, name=name, seed=seed)
        self.n = n
        self.hosts = [host_of(i) for i in range(n)]
        self.addrs = ["%s:%d" % (h, PORT) for h in self.hosts]
        self.uids = [UID_BASE + i for i in range(n)] if owner_uids else None
        self.extra = list(extra)
        self.slots = [None] * n        # the current common.Node of each
        self.data = [os.path.join(self.tmp, "data-%d" % i) for i in range(n)]
        if self.uids:
            os.chmod(self.tmp, 0o755)
        for i, d in enumerate(self.data):
            os.makedirs(d, exist_ok=True)
            if self.uids:
                os.chown(d, self.uids[i], self.uids[i])

    def dht(self, node, *args, **kw):
        """common.Cluster.dht with a 2 s request timeout unless the call
        gives one, so that a ring walk meeting a frozen or cut-off node
        stays short."""
        if "--timeout-ms" not in [str(a) for a in args]:
            args = ("--timeout-ms", "2000") + tuple(args)
        return super().dht(node, *args, **kw)

    # --- processes -----------------------------------------------------

    def _spawn(self, i, args):
        log_path = os.path.join(self.tmp, "dhtd-%d.log" % i)
        logf = open(log_path, "ab")
        kw = {}
        if self.uids:
            kw = dict(user=self.uids[i], group=self.uids[i], extra_groups=[])
        try:
            proc = subprocess.Popen([self.dhtd] + list(args),
                                    stdin=subprocess.DEVNULL, stdout=logf,
                                    stderr=subprocess.STDOUT,
                                    preexec_fn=common._set_pdeathsig, **kw)
        finally:
            logf.close()
        self.procs.append(proc)
        node = common.Node(self.addrs[i], proc, log_path)
        self.nodes.append(node)
        self.slots[i] = node
        return node

    def start(self, i, join=None, wait=True):
        """Start slot i on its data dir; join through slot `join` (an
        index) or an address, or alone when None."""
        args = ["--listen", self.addrs[i], "--replicas", "3",
                "--fsync", "always", "--data", self.data[i]]
        if join is not None:
            args += ["--join", self.addrs[join] if isinstance(join, int)
                     else join]
        args += self.extra
        node = self._spawn(i, args)
        if wait:
            self.wait_ready(node)
        return node

    def start_all(self):
        """Slot 0 alone, then each other slot joining slot 0."""
        self.start(0)
        for i in range(1, self.n):
            self.start(i, join=0)

    def kill(self, i):
        """kill -9 slot i and wait (bounded) until it is gone."""
        node = self.slots[i]
        self.signal_node(node, signal.SIGKILL)
        try:
            node.proc.wait(timeout=common.KILL_TIMEOUT)
        except subprocess.TimeoutExpired:
            pass
        node.exit_code = node.proc.returncode

    def freeze(self, i):
        return self.signal_node(self.slots[i], signal.SIGSTOP)

    def thaw(self, i):
        return self.signal_node(self.slots[i], signal.SIGCONT)

    def live(self):
        return [s for s in self.slots if s is not None and s.alive()]

    def dead_slots(self):
        """Slots whose current process has exited (none should, but for
        the ones a scenario killed and has not restarted yet)."""
        return [i for i, s in enumerate(self.slots)
                if s is None or not s.alive()]

    # --- the ring ------------------------------------------------------

    def ring_order_slots(self):
        """Slot indices in ring (node id) order."""
        return sorted(range(self.n),
                      key=lambda i: common.node_id(self.addrs[i]))

    def one_ring_problem(self):
        """None when all N slots run and form one correct ring."""
        nodes = [s for s in self.slots if s is not None]
        dead = [s.addr for s in nodes if not s.alive()]
        if dead or len(nodes) != self.n:
            return "not every node runs (exited: %s)" % (dead or "?")
        return self.ring_problem(nodes)

    def wait_one_ring(self, since, bound):
        """Poll (bounded by `bound` seconds after `since`, a monotonic
        time) until the ring is one. Returns (seconds after `since` or
        None, the last problem)."""
        deadline = since + bound
        problem = "not checked"
        for _ in range(100000):
            problem = self.one_ring_problem()
            now = time.monotonic()
            if problem is None:
                return now - since, None
            if now >= deadline:
                break
            time.sleep(0.2)
        return None, problem

    def rings_seen(self):
        """The rings the live nodes are on: walk `dht ring` from each and
        group the walks; a list of sorted address tuples (a node whose
        walk fails is a ring of its own, marked "?")."""
        seen = {}
        for s in self.live():
            r = self.dht(s, "ring", "--json", timeout=20)
            try:
                walk = tuple(sorted(e["addr"] for e in json.loads(r.out)))
            except (ValueError, KeyError, TypeError):
                walk = (s.addr + "?",)
            seen[walk] = True
        return list(seen)

    def random_addrs(self, rng, k):
        """k distinct node addresses in random order."""
        return rng.sample(self.addrs, k)

    def hop_limit_times(self):
        """The times (seconds, from the log's UTC stamps) of every
        "lookup ... exceeded N hops" line of all logs, sorted."""
        times = []
        for i in range(self.n):
            path = os.path.join(self.tmp, "dhtd-%d.log" % i)
            try:
                with open(path, "r", errors="replace") as f:
                    lines = [l for l in f
                             if HOP_LIMIT_LINE in l and "hops" in l]
            except OSError:
                continue
            for line in lines:
                try:
                    stamp = datetime.datetime.strptime(
                        line.split(" ", 1)[0], "%Y-%m-%dT%H:%M:%S.%fZ")
                except ValueError:
                    continue
                times.append(stamp.timestamp())
        return sorted(times)

    def hop_limit_bursts(self, gap):
        """(line count, longest burst in seconds): a burst is a run of
        hop-limit lines with less than `gap` seconds between two."""
        times = self.hop_limit_times()
        longest = 0.0
        start = prev = None
        for t in times:
            if prev is None or t - prev >= gap:
                start = t
            prev = t
            longest = max(longest, t - start)
        return len(times), longest

    def log_tails(self, lines=12):
        out = []
        for i, s in enumerate(self.slots):
            if s is None:
                continue
            out.append("--- slot %d %s (pid %d, %s) ---" % (
                i, s.addr, s.pid,
                "running" if s.alive() else "exit %s" % s.proc.returncode))
            out.append(s.log_tail(lines))
        return "\n".join(out)


def shuffled(rng, seq):
    seq = list(seq)
    rng.shuffle(seq)
    return seq

