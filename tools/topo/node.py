"""node.py - one node of the topology: start it (creating the ring or
joining it through a seed) and wait until it answers, stop it gracefully,
and the actions a user or a scenario takes on it (kill, pause, resume,
leave, join, restart).

Invariants: a node is signalled only through the PID in its pid file, and
only while that PID still runs dhtd (procs.runs_dhtd); its pid file is
written as soon as it is started and removed once it is gone; every wait is
bounded (ready_wait, stop_wait, 5 s after SIGKILL). Each action returns
(ok, message); the messages are those of the bash original, word for word.

What it does not do: start or stop the ring as a whole (launcher.py), or
decide what a failed action means (the caller prints it).
"""

import signal
import sys
import time

from . import clock, errors, procs, ring

KILL_TRIES = 100         # x 50 ms: a node is gone after SIGKILL
READY_POLL_S = 0.1
STATUS_TIMEOUT_MS = 2000
SEED_TIMEOUT_MS = 1000
LOG_LINES_ON_EXIT = 10


def _err(text):
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def _note_once(ctx, what, text):
    if what not in ctx.notes:
        ctx.notes.add(what)
        _err("%s: note: %s" % (errors.PROG, text))


def _ring_args(r):
    args = []
    for option, value in (("--successors", r.successors),
                          ("--stabilize-ms", r.stabilize_ms),
                          ("--replicas", r.replicas),
                          ("--heartbeat-ms", r.heartbeat_ms),
                          ("--sync-ms", r.sync_ms)):
        if value != 0:
            args += [option, str(value)]
    return args


def _dhtd_args(ctx, i, seed):
    node = ctx.topo.nodes[i]
    args = ["--listen", node.addr] + _ring_args(ctx.topo.ring)
    if seed:
        args += ["--join", seed]
    if node.id != "-":
        if ctx.bins.dhtd_has("--id"):
            args += ["--id", node.id]
        else:
            _note_once(ctx, "id", "dhtd has no --id; nodes get SHA-1 of "
                       "their address")
    if node.data != "-":
        if ctx.bins.dhtd_has("--data"):
            args += ["--data", ctx.run.data_dir(node.data)]
        else:
            _note_once(ctx, "data", "dhtd has no --data; data= directories "
                       "are not used (nodes keep their keys in memory)")
    return args


def _wait_ready(ctx, addr, pid, log):
    deadline = clock.whole_seconds() + ctx.settings.ready_wait
    while clock.whole_seconds() < deadline:
        if not procs.alive(pid):
            _err("%s: dhtd %s (pid %d) exited; last lines of %s:"
                 % (errors.PROG, addr, pid, log))
            for line in ctx.run.log_tail(addr, LOG_LINES_ON_EXIT):
                _err(line)
            return False
        out = ctx.dht.status(addr, STATUS_TIMEOUT_MS)
        if out is not None and ring.is_active(out):
            return True
        time.sleep(READY_POLL_S)
    _err("%s: dhtd %s did not answer within %ds; see %s"
         % (errors.PROG, addr, ctx.settings.ready_wait, log))
    return False


def start(ctx, i, seed):
    """Start node i, joining through `seed` ("" creates a ring); record its
    PID and its place in `order`; wait until it answers. (ok, pid)."""
    addr = ctx.addr(i)
    args = _dhtd_args(ctx, i, seed)
    ctx.run.append(ctx.run.log_name(addr), "=== %s dhtd %s\n" % (
        time.strftime("%Y-%m-%d %H:%M:%S"), " ".join(args)))
    proc = procs.spawn([ctx.bins.dhtd] + args, ctx.run.logfile(addr))
    ctx.children.append(proc)
    ctx.run.write_pid(addr, proc.pid)
    ctx.run.add_to_order(addr)
    ctx.started.append(addr)
    return _wait_ready(ctx, addr, proc.pid, ctx.run.logfile(addr)), proc.pid


def recorded_dhtd(ctx, addr):
    """The recorded PID of addr if it still runs dhtd, else None."""
    pid = procs.parse_pid(ctx.run.read_pid(addr))
    return pid if procs.runs_dhtd(pid) else None


def stop(ctx, addr):
    """Stop addr by its pid file: SIGTERM (and SIGCONT, in case it is
    paused), SIGKILL after stop_wait. Returns the line to report, or None
    when it was not running."""
    pid = recorded_dhtd(ctx, addr)
    if pid is None:
        ctx.run.remove_pid(addr)
        return None
    procs.send(pid, signal.SIGTERM)
    procs.send(pid, signal.SIGCONT)
    if procs.wait_gone(pid, ctx.settings.stop_wait * 20):
        line = "stopped %s (pid %d)" % (addr, pid)
    else:
        line = ("%s: %s (pid %d) still running after %ds; SIGKILL"
                % (errors.PROG, addr, pid, ctx.settings.stop_wait))
        procs.send(pid, signal.SIGKILL)
        procs.wait_gone(pid, KILL_TRIES)
    ctx.reap()
    ctx.run.remove_pid(addr)
    return line


def pick_seed(ctx, i):
    """A running, unpaused node other than i that answers (nodes in start
    order first), or ""."""
    skip = ctx.addr(i)
    for addr in ctx.run.read_order() + ctx.topo.addrs:
        if not addr or addr == skip:
            continue
        pid = recorded_dhtd(ctx, addr)
        if pid is None or procs.is_paused(pid):
            continue
        if ctx.dht.answers(addr, SEED_TIMEOUT_MS):
            return addr
    return ""


# ---- actions on node i; each returns (ok, message) --------------------------

def _not_running(addr):
    return False, "%s is not running" % addr


def kill(ctx, i):
    """SIGKILL: a crash."""
    addr = ctx.addr(i)
    pid = recorded_dhtd(ctx, addr)
    if pid is None:
        return _not_running(addr)
    procs.send(pid, signal.SIGKILL)
    procs.wait_gone(pid, KILL_TRIES)
    ctx.reap()
    ctx.run.remove_pid(addr)
    return True, "killed %s (node %d, pid %d)" % (addr, i, pid)


def _signal_action(ctx, i, sig, verb):
    addr = ctx.addr(i)
    pid = recorded_dhtd(ctx, addr)
    if pid is None:
        return _not_running(addr)
    procs.send(pid, sig)
    return True, "%s %s (node %d, pid %d)" % (verb, addr, i, pid)


def pause(ctx, i):
    """SIGSTOP: the node freezes (its port still accepts connections)."""
    return _signal_action(ctx, i, signal.SIGSTOP, "paused")


def resume(ctx, i):
    """SIGCONT."""
    return _signal_action(ctx, i, signal.SIGCONT, "resumed")


def leave(ctx, i):
    """SIGTERM: a graceful leave."""
    addr = ctx.addr(i)
    pid = recorded_dhtd(ctx, addr)
    if pid is None:
        return _not_running(addr)
    stop(ctx, addr)
    return True, "%s left (node %d, pid %d, SIGTERM)" % (addr, i, pid)


def _start_via_seed(ctx, i, what):
    addr = ctx.addr(i)
    seed = pick_seed(ctx, i)
    ok, pid = start(ctx, i, seed)
    if not ok:
        return False, "%s %s failed (see %s)" % (what, addr,
                                                 ctx.run.logfile(addr))
    via = ", joined via %s" % seed if seed else ""
    return True, "%s %s (node %d, pid %d)%s" % (what, addr, i, pid, via)


def join(ctx, i):
    """Start a node of the file that is not running."""
    addr = ctx.addr(i)
    if recorded_dhtd(ctx, addr) is not None:
        return False, "%s is already running" % addr
    if procs.listening(addr):
        return False, "port %s (%s) is already in use" % (
            addr.rpartition(":")[2], addr)
    return _start_via_seed(ctx, i, "joined")


def restart(ctx, i):
    """Start it again through a live node (SIGKILL first if it runs)."""
    if recorded_dhtd(ctx, ctx.addr(i)) is not None:
        kill(ctx, i)
    return _start_via_seed(ctx, i, "restarted")


ACTIONS = {"kill": kill, "pause": pause, "resume": resume, "leave": leave,
           "join": join, "restart": restart}
