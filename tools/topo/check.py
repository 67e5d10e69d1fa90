"""check.py - the scenario's `check`: wait (bounded by settle_wait) until
the running, unpaused nodes form one correct ring, then read every
acknowledged key through them.

Invariants: only nodes whose recorded PID still runs dhtd and is not
stopped count as live; the ring is read from the first live node; each key
is read through every live node as a seed, starting one further along for
each key. The message is that of the bash original.

What it does not do: repair anything, or wait for a key (one read each).
"""

import time

from . import clock, procs, ring, state

RING_TIMEOUT_MS = 2000
RING_POLL_S = 0.5


def live_nodes(ctx):
    """The addresses of the running, unpaused nodes, in file order."""
    live = []
    for addr in ctx.topo.addrs:
        pid = procs.parse_pid(ctx.run.read_pid(addr))
        if procs.runs_dhtd(pid) and not procs.is_paused(pid):
            live.append(addr)
    return live


def _await_ring(ctx, live):
    """(settled, addresses dht ring listed last)."""
    want = sorted(live)
    deadline = clock.whole_seconds() + ctx.settings.settle_wait
    got = []
    while clock.whole_seconds() < deadline:
        listing = ring.parse_json(
            ctx.dht.ring(live[0], timeout_ms=RING_TIMEOUT_MS).out)
        got = sorted(ring.ring_addrs(listing))
        if got == want and ring.ring_is_correct(listing):
            return True, got
        time.sleep(RING_POLL_S)
    return False, got


def _why_not(code):
    if code == 1:
        return "not found"
    return "wrong value" if code == 0 else "exit %d" % code


def _read_acked(ctx, live):
    """(readable, unreadable, first unreadable) over the acked keys."""
    ok = bad = 0
    first_bad = ""
    for i, line in enumerate(ctx.run.read_lines("acked")):
        key, value = state.split_acked(line)
        r = ctx.dht.get(ring.seed_args(live, i), ctx.settings.op_timeout_ms,
                        key, errors=False)
        if r.code == 0 and r.out.rstrip("\n") == value:
            ok += 1
            continue
        bad += 1
        if not first_bad:
            first_bad = "%s (%s)" % (key, _why_not(r.code))
    return ok, bad, first_bad


def run_check(ctx):
    """(ok, message) of a `check` step."""
    t0 = clock.whole_seconds()
    live = live_nodes(ctx)
    if not live:
        return False, "check: no node is running"
    settled, got = _await_ring(ctx, live)
    ok, bad, first_bad = _read_acked(ctx, live)
    msg = "check: "
    if settled:
        msg += "ring correct (%d nodes)" % len(live)
        waited = clock.whole_seconds() - t0
        if waited != 0:
            msg += " after waiting %ds" % waited
        msg += "; "
    else:
        msg += ("ring not correct after %ds (dht ring lists %d of %d live "
                "nodes); " % (ctx.settings.settle_wait,
                              sum(1 for a in got if a), len(live)))
    msg += "%d of %d acknowledged keys readable" % (ok, ok + bad)
    if bad:
        msg += ", %d not (first: %s)" % (bad, first_bad)
    return settled and bad == 0, msg
