"""launcher.py - the ring as a whole: `up` (start the listed nodes one by
one, wait until `dht ring` lists them all, print a table), `down` (stop
every node the run directory records, last started first) and `status`
(one line per node).

Invariants: `up` refuses a topology that is already up and a port already
in use, before it starts anything; if it fails or is interrupted after
starting nodes, it stops exactly those (by PID) and removes `order`. The
wait for the ring is bounded (30 s + 1 s per two nodes). Output lines and
messages are those of the bash original.

What it does not do: play a scenario (scenario.py), or stop a process that
no pid file of this topology names.
"""

import sys
import time

from . import clock, errors, node, procs, ring

SETTLE_BASE_S = 30
SETTLE_POLL_S = 0.25
STATUS_TIMEOUT_MS = 2000
TABLE_FMT = "%-22s %-12s %-8s %6s  %-22s %s"
STATUS_FMT = "%-22s %-5s %-8s %-8s %-9s %6s"


def print_table(ctx, addr):
    """Print the ring as `dht ring --json` from addr shows it, with PIDs;
    False if dht failed (its message passes through) or answered garbage."""
    r = ctx.dht.ring(addr, show_errors=True)
    if r.code != 0:
        return False
    print(TABLE_FMT % ("ADDRESS", "ID", "PID", "KEYS", "PREDECESSOR",
                       "SUCCESSOR"))
    listing = ring.parse_json(r.out)
    if not isinstance(listing, list):
        return False
    for entry in listing:
        a, ident, keys, pred, succ = ring.table_row(entry)
        print(TABLE_FMT % (a, ident, ctx.run.read_pid(a) or "-", keys, pred,
                           succ))
    return True


# ---- up ---------------------------------------------------------------------

def _refuse_running(ctx):
    for addr in ctx.topo.addrs:
        pid = node.recorded_dhtd(ctx, addr)
        if pid is not None:
            raise errors.die(
                "topology '%s' is already up (pid %d for %s, in %s/); stop it "
                "first: tools/dht-topo down %s"
                % (ctx.name, pid, addr, ctx.run.path, ctx.file))
        ctx.run.remove_pid(addr)


def _refuse_taken_ports(ctx):
    for addr in ctx.topo.addrs[:ctx.topo.n_listed]:
        if procs.listening(addr):
            raise errors.die(
                "port %s (%s) is already in use; is another ring running? "
                "(tools/dht-topo status FILE)" % (addr.rpartition(":")[2],
                                                  addr))


def _start_listed(ctx):
    first = ctx.addr(0)
    for i in range(ctx.topo.n_listed):
        ok, pid = node.start(ctx, i, first if i else "")
        if not ok:
            raise errors.Exit(errors.EXIT_FAILURE)
        how = "joined via %s" % first if i else "created the ring"
        print("  %-22s pid %-7d %s" % (ctx.addr(i), pid, how))


def _await_ring(ctx):
    n = ctx.topo.n_listed
    want = sorted(ctx.topo.addrs[:n])
    deadline = clock.whole_seconds() + SETTLE_BASE_S + n // 2
    got = []
    while clock.whole_seconds() < deadline:
        got = sorted(ring.ring_addrs(ring.parse_json(
            ctx.dht.ring(ctx.addr(0)).out)))
        if got == want:
            return
        time.sleep(SETTLE_POLL_S)
    sys.stderr.write("%s: the ring did not settle: dht ring lists %d of %d "
                     "nodes\n" % (errors.PROG, sum(1 for a in got if a), n))
    raise errors.Exit(errors.EXIT_FAILURE)


def _undo(ctx):
    """`up` failed: stop the nodes it started, reporting on stderr."""
    if not ctx.started:
        return
    sys.stdout.flush()
    sys.stderr.write("%s: up failed; stopping the %d node(s) started\n"
                     % (errors.PROG, len(ctx.started)))
    for addr in ctx.started:
        line = node.stop(ctx, addr)
        if line:
            sys.stderr.write(line + "\n")
    ctx.run.remove_order()


def up(ctx, quiet=False):
    """Start the listed nodes; `quiet` leaves out the closing hints.
    Raises Exit when it fails (after stopping what it started)."""
    ctx.run.ensure()
    _refuse_running(ctx)
    _refuse_taken_ports(ctx)
    try:
        with errors.trapped():
            ctx.run.reset_order()
            _start_listed(ctx)
            _await_ring(ctx)
    except errors.Interrupted:
        _undo(ctx)
        raise errors.Exit(errors.EXIT_FAILURE) from None
    except BaseException:
        _undo(ctx)
        raise
    print()
    if not print_table(ctx, ctx.addr(0)):
        raise errors.Exit(errors.EXIT_FAILURE)
    print()
    print("ring '%s' is up (%d nodes, logs in %s/)."
          % (ctx.name, ctx.topo.n_listed, ctx.run.path))
    if not quiet:
        print("try:  %s --node %s put hello world" % (ctx.bins.dht,
                                                      ctx.addr(0)))
        print("      %s --node %s --output ring.html" % (ctx.bins.viz,
                                                          ctx.addr(0)))
        print("stop: tools/dht-topo down %s" % ctx.file)


# ---- down, status -----------------------------------------------------------

def down(ctx):
    """Stop every node it started, the first one last. Returns 0."""
    order = ctx.run.read_order()
    # Nodes with a pid file but not in `order` (an interrupted start) too.
    order += [a for a in ctx.topo.addrs
              if ctx.run.has_pid(a) and a not in order]
    any_stopped = False
    for addr in reversed(order):
        if addr and ctx.run.has_pid(addr):
            any_stopped = True
            line = node.stop(ctx, addr)
            if line:
                print(line)
    ctx.run.remove_order()
    if any_stopped:
        print("topology '%s' stopped (logs kept in %s/)" % (ctx.name,
                                                             ctx.run.path))
    else:
        print("topology '%s' is not up" % ctx.name)
    return 0


def _status_row(ctx, i, started):
    """(pid text, process, answers, keys) of node i."""
    n = ctx.topo.nodes[i]
    pid_text = ctx.run.read_pid(n.addr)
    pid = procs.parse_pid(pid_text)
    process, answers, keys = "down", "no", "-"
    if procs.runs_dhtd(pid):
        process = "paused" if procs.is_paused(pid) else "running"
    elif n.kind == "joined" and n.addr not in started:
        process = "-"
    if process == "running":
        out = ctx.dht.status(n.addr, STATUS_TIMEOUT_MS)
        if out is not None:
            answers, keys = "yes", ring.keys_text(out)
    return pid_text or "-", process, answers, keys


def status(ctx):
    """One line per node; 0 only if every started node answers."""
    started = ctx.run.read_order()
    print(STATUS_FMT % ("ADDRESS", "NODE", "PID", "PROCESS", "ANSWERS",
                        "KEYS"))
    want = ok = 0
    for i, n in enumerate(ctx.topo.nodes):
        pid, process, answers, keys = _status_row(ctx, i, started)
        if process != "-":
            want += 1
            ok += answers == "yes"
        print(STATUS_FMT % (n.addr, i, pid, process, answers, keys))
    print("%d of %d answering" % (ok, want))
    return 0 if ok == want else 1
