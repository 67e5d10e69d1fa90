"""scenarios.py - the faults of the suite and what each must show.

Every scenario runs on a fresh 8-node ring (ring.py) in the private
namespace, with writers going before, during and after the fault
(workload.py), and ends the same way (after_heal): wait (bounded) until
the live nodes form one ring and note how long that took after the heal,
let the replicas settle, then read every acknowledged write back through
random nodes. A scenario's report gives: writes attempted and
acknowledged, readable (at the first pass and at the end), lost,
unreachable, the time to one ring, and "lookup exceeded N hops" lines in
the logs; and a list of named checks, each passed or failed with what was
seen. The scenario passes when every check does.

The faults (issue 19):
  kill_one      kill -9 one node, restart it on its data dir (--join a
                live node) 5 s later
  kill_two      the same with two nodes adjacent on the ring
  sigstop       SIGSTOP one node for 8 s, then SIGCONT
  isolate       cut one node from all others for 20 s, heal; operations
                through it must succeed within 2 s of the heal
  halves        split the ring into two arcs of 4 for 20 s, heal; one ring
                within 30 s, no acknowledged write unreadable, and no run
                of "exceeded N hops" lines longer than one stabilize
                period (250 ms)
  flap          isolate/heal one node every 2 s for 10 s
  restart_all   kill -9 all 8, restart them all on their data dirs without
                --join in random order; one ring within 10 s of the last
                start and every acknowledged write readable

What it does not do: it never retries a failed check to make it pass
(read-back passes are part of the measure and are reported), and it
leaves nothing running: the caller's finally tears the ring and the
firewall down.
"""

import json
import time

from ring import shuffled
from workload import AckLog, Probe, Writers, read_back

SETTLE = 3.0          # seconds between one ring and the read-back
READ_SPAN = 4.0       # ...whose passes (3, 2 s apart) start within this
RING_BOUND = 30.0     # the bound on one ring after a heal
RESTART_BOUND = 10.0  # one ring after the last restart of restart_all
SPLIT = 20.0          # halves and isolate last this long
PROBE_WINDOW = 6.0    # operations through the healed node, this long
PROBE_BOUND = 2.0     # ...must all succeed from this many seconds on
CUT_PROBE = 2.0       # the same probe, the last seconds of the cut
STABILIZE = 0.25      # dhtd's default --stabilize-ms, in seconds


class Profile:
    """Bounds of one run: short (ctest) or full (bench)."""

    def __init__(self, name, writers, max_writes, warm):
        self.name = name
        self.writers = writers          # writer threads
        self.max_writes = max_writes    # per writer
        self.warm = warm                # seconds of writes before a fault


SHORT = Profile("short", writers=3, max_writes=300, warm=3.0)
FULL = Profile("full", writers=3, max_writes=400, warm=5.0)


class Report:
    """What one scenario saw."""

    def __init__(self, name):
        self.name = name
        self.checks = []        # (text, ok, detail)
        self.figures = []       # (label, text)
        self.error = None

    def check(self, text, ok, detail=""):
        self.checks.append((text, bool(ok), detail))
        return ok

    def figure(self, label, text):
        self.figures.append((label, text))

    @property
    def passed(self):
        return self.error is None and self.checks and all(
            ok for _t, ok, _d in self.checks)

    def render(self):
        out = ["scenario %s: %s" % (self.name,
                                    "PASS" if self.passed else "FAIL")]
        for label, text in self.figures:
            out.append("  %-14s %s" % (label + ":", text))
        for text, ok, detail in self.checks:
            out.append("  %s %s%s" % ("ok  " if ok else "FAIL", text,
                                      " -- " + detail if detail else ""))
        if self.error:
            out.append("  ERROR " + self.error)
        return "\n".join(out)


class Ctx:
    """What a scenario works with."""

    def __init__(self, ring, fw, rng, profile, rep):
        self.ring = ring
        self.fw = fw
        self.rng = rng
        self.profile = profile
        self.rep = rep
        self.log = AckLog()
        self.writers = None
        self.check_loops = False   # halves: the loop bound

    def start_writers(self):
        p = self.profile
        self.writers = Writers(self.ring, self.log, self.rng, self.rep.name,
                               writers=p.writers, max_writes=p.max_writes,
                               max_seconds=120.0).start()
        time.sleep(p.warm)

    def split_seen(self, group, label):
        """Check that a partition took effect: the ring walked from the
        first node of `group` lists only nodes of `group`."""
        ring = self.ring
        addrs = [ring.addrs[i] for i in group]
        r = ring.dht(addrs[0], "--timeout-ms", "2000", "ring", "--json",
                     timeout=20)
        seen = []
        if r.code == 0:
            try:
                seen = [e.get("addr") for e in json.loads(r.out)]
            except ValueError:
                seen = []
        ok = r.code == 0 and seen and set(seen) <= set(addrs)
        self.rep.check("%s took effect (ring from %s lists only its side)"
                       % (label, addrs[0]), ok,
                       "lists %s" % seen if r.code == 0 else r.describe())

    def after_heal(self, t_heal, bound=RING_BOUND, what="the heal",
                   extra_writes=2.0):
        """The common end: one ring, settle, read back; figures and
        checks into the report."""
        ring, rep = self.ring, self.rep
        self.writers.stop_at(t_heal + extra_writes)
        poll_bound = max(bound, RING_BOUND)
        took, problem = ring.wait_one_ring(t_heal, poll_bound)
        self.writers.stop()
        rep.figure("one ring", "%.1f s after %s" % (took, what)
                   if took is not None else
                   "not within %.0f s after %s" % (poll_bound, what))
        if took is None:
            rings = ring.rings_seen()
            rep.figure("rings", "%d seen: %s" % (len(rings), "; ".join(
                ",".join(a.split(":")[0][8:] for a in r) for r in rings)))
        rep.check("one ring within %.0f s of %s" % (bound, what),
                  took is not None and took <= bound,
                  "" if took is not None and took <= bound else
                  ("took %.1f s" % took if took is not None
                   else "last problem: %s" % problem))
        time.sleep(SETTLE)
        acks = self.log.snapshot()
        w = self.writers
        rb = read_back(ring, acks, self.rng)
        f = rb["first"]
        rep.figure("writes", "%d attempted by the writers, %d acknowledged "
                   "in all, %d failed%s" % (
                       w.attempted, len(acks), w.failed,
                       (" (e.g. %s)" % w.first_errors[0])
                       if w.first_errors else ""))
        rep.figure("read back", "acknowledged %d, readable %d, lost %d "
                   "(not found or another value), unreachable %d" % (rb["acknowledged"], rb["readable"],
                                       rb["lost"], rb["unreachable"]))
        rep.figure("first pass", "%.0f s after %s: readable %d, not "
                   "found or wrong %d, failed %d; %s" % (
                       SETTLE, "one ring" if took is not None else
                       "the ring wait gave up", f["ok"], f["lost"],
                       f["unreachable"],
                       _last_pass(rb["last_pass_at"])))
        hops, burst = ring.hop_limit_bursts(STABILIZE)
        rep.figure("hop limit", "%d \"exceeded N hops\" log lines, the "
                   "longest run %.2f s" % (hops, burst))
        if self.check_loops:
            rep.check("no hop-limit loop lasting more than one stabilize "
                      "period (%.2f s)" % STABILIZE, burst <= STABILIZE,
                      "a run of %.2f s" % burst)
        bad = rb["lost"] + rb["unreachable"]
        rep.check("every acknowledged write readable with its value "
                  "(read passes %.0f-%.0f s after one ring)"
                  % (SETTLE, SETTLE + READ_SPAN),
                  rb["acknowledged"] > 0 and bad == 0,
                  "; ".join(rb["examples"]) if bad else
                  ("" if rb["acknowledged"] else "no write acknowledged"))
        dead = ring.dead_slots()
        rep.check("no node died on its own", not dead,
                  "exited: %s\n%s" % ([ring.addrs[i] for i in dead],
                                      ring.log_tails()) if dead else "")


def _last_pass(at):
    if at is None:
        return "not all readable after the last pass"
    if at == 0.0:
        return "all at the first pass"
    return "all readable by the pass %.1f s later" % at


def kill_one(c):
    i = c.rng.randrange(c.ring.n)
    _kill_restart(c, [i])


def kill_two(c):
    order = c.ring.ring_order_slots()
    k = c.rng.randrange(c.ring.n)
    _kill_restart(c, [order[k], order[(k + 1) % c.ring.n]])


def _kill_restart(c, victims):
    c.start_writers()
    for i in victims:
        c.ring.kill(i)
    c.rep.figure("fault", "kill -9 %s, restart 5 s later with --join"
                 % ", ".join(c.ring.addrs[i] for i in victims))
    time.sleep(5.0)
    live = [i for i in range(c.ring.n) if i not in victims]
    t_start = time.monotonic()
    for i in victims:
        c.ring.start(i, join=c.rng.choice(live))
    c.after_heal(t_start, what="the restart")


def sigstop(c):
    i = c.rng.randrange(c.ring.n)
    c.start_writers()
    c.ring.freeze(i)
    c.rep.figure("fault", "SIGSTOP %s for 8 s" % c.ring.addrs[i])
    time.sleep(8.0)
    c.ring.thaw(i)
    c.after_heal(time.monotonic(), what="SIGCONT")


def isolate(c):
    ring = c.ring
    i = c.rng.randrange(ring.n)
    c.start_writers()
    c.fw.isolate(i)
    t_cut = time.monotonic()
    c.rep.figure("fault", "%s cut from the 7 others for %.0f s"
                 % (ring.addrs[i], SPLIT))
    time.sleep(SPLIT - CUT_PROBE)
    # Reads through it ask for keys the other side acknowledged while it
    # was cut off (it cannot hold them itself). The same probe while it
    # is still cut off shows that the probe can fail.
    older = [a for a in c.log.snapshot()
             if a[3] >= t_cut and a[2] != ring.addrs[i]]
    c.rep.figure("probe keys", "%d acknowledged by the others during the "
                 "isolation" % len(older))
    cut = Probe(ring, c.log, ring.addrs[i], older, "cut")
    cut.run(time.monotonic(), CUT_PROBE, c.rng)
    c.split_seen([i], "the isolation")
    c.fw.heal()
    t_heal = time.monotonic()
    n_bad = sum(1 for _t, ok, _w in cut.ops if not ok)
    c.rep.check("the probe fails through the node while it is cut off",
                n_bad > 0, "%d of %d failed" % (n_bad, len(cut.ops)))
    probe = Probe(ring, c.log, ring.addrs[i], older, "iso")
    settled = probe.run(t_heal, PROBE_WINDOW, c.rng)
    fails = [(t, why) for t, ok, why in probe.ops if not ok]
    c.rep.figure("through it", "%d ops in %.0f s after the heal, %d failed;"
                 " all succeed from %s" % (
                     len(probe.ops), PROBE_WINDOW, len(fails),
                     "%.1f s" % settled if settled is not None else "never"))
    c.rep.check("operations through the isolated node succeed within "
                "%.0f s of the heal" % PROBE_BOUND,
                settled is not None and settled <= PROBE_BOUND,
                "" if settled is not None and settled <= PROBE_BOUND else
                "last failure at %.1f s: %s" % (fails[-1][0], fails[-1][1])
                if fails else "no operation ran")
    c.after_heal(t_heal)


def halves(c):
    ring = c.ring
    order = ring.ring_order_slots()
    k = c.rng.randrange(ring.n)
    order = order[k:] + order[:k]
    a, b = order[:ring.n // 2], order[ring.n // 2:]
    c.check_loops = True
    c.start_writers()
    c.fw.partition([a, b])
    t_split = time.monotonic()
    c.rep.figure("fault", "split %s | %s for %.0f s" % (
        ",".join(ring.hosts[i][8:] for i in a),
        ",".join(ring.hosts[i][8:] for i in b), SPLIT))
    time.sleep(SPLIT)
    c.split_seen(a, "the split")
    c.fw.heal()
    t_heal = time.monotonic()
    during = sum(1 for _k, _v, _n, t in c.log.snapshot()
                 if t_split <= t <= t_heal)
    c.rep.figure("split writes", "%d acknowledged during the split" % during)
    c.after_heal(t_heal)


def flap(c):
    ring = c.ring
    i = c.rng.randrange(ring.n)
    c.start_writers()
    c.rep.figure("fault", "%s isolated and healed every 2 s for 10 s"
                 % ring.addrs[i])
    t0 = time.monotonic()
    for step in range(5):
        if step % 2 == 0:
            c.fw.isolate(i)
        else:
            c.fw.heal()
        time.sleep(max(0.0, t0 + 2.0 * (step + 1) - time.monotonic()))
    c.fw.heal()
    c.after_heal(time.monotonic())


def restart_all(c):
    ring = c.ring
    c.start_writers()
    for i in shuffled(c.rng, range(ring.n)):
        ring.kill(i)
    order = shuffled(c.rng, range(ring.n))
    c.rep.figure("fault", "kill -9 all, restart without --join in order %s"
                 % ",".join(ring.hosts[i][8:] for i in order))
    time.sleep(1.0)
    for n, i in enumerate(order):
        ring.start(i, join=None, wait=False)
        if n + 1 < len(order):
            time.sleep(c.rng.uniform(0.0, 0.5))
    t_last = time.monotonic()
    c.after_heal(t_last, bound=RESTART_BOUND, what="the last start")


ALL = {"kill_one": kill_one, "kill_two": kill_two, "sigstop": sigstop,
       "isolate": isolate, "halves": halves, "flap": flap,
       "restart_all": restart_all}
SHORT_SET = ["halves", "isolate", "restart_all"]
FULL_SET = ["kill_one", "kill_two", "sigstop", "isolate", "halves", "flap",
            "restart_all"]
