"""scenario.py - `run`: start the ring, play the file's `at T ...` lines on
schedule (node actions, background load, checks), wait for the load, turn
the node logs into events, print what happened, and stop the ring (unless
--keep and the run got to its end).

Invariants: steps run in file order, each no earlier than T0 + its time;
load generators are child processes recorded by PID, stopped by SIGTERM at
the latest LOAD_GRACE seconds past their schedule (and on any way out);
whatever happens once the ring is up (a failed step, an error, SIGINT or
SIGTERM: exit 130), the ring is stopped on the way out unless --keep was
given and the report was printed. What a run records stays in the run
directory: scenario.tsv, load-<step>.tsv, acked, events.tsv, ops.tsv.

What it does not do: interpret the results beyond counting failed steps
(report.py summarises; a step fails when its action or check fails).
"""

import dataclasses
import os
import signal
import sys
import time

from . import (check, clock, errors, events, launcher, load, node, procs,
               report)

LOAD_POLL_S = 0.2
LOAD_EXIT_TRIES = 100        # x 50 ms after SIGTERM before SIGKILL
OP_SPACING_MS = 50           # the expected duration of an unpaced operation
RECORDS = ("acked", "scenario.tsv", "events.tsv")


@dataclasses.dataclass
class Progress:
    """What the way out needs to know."""
    loads: list = dataclasses.field(default_factory=list)
    done: bool = False


def _load_step(ctx, sched, step, progress):
    """Start a load generator; (message, when it should be done in ms)."""
    progress.loads.append(load.start(ctx, sched, step))
    op = step.action[len("load-"):]
    msg = "load %s %d" % (op, step.count)
    if step.rate > 0:
        msg += " at %d/s" % step.rate
        due = step.at_ms + step.count * 1000 // step.rate
    else:
        due = step.at_ms + step.count * OP_SPACING_MS
    if op == "put":
        msg += " (keys %s-s%d-N)" % (ctx.name, step.no)
    return msg, due


def _play_step(ctx, sched, step, progress):
    """(ok, message, due ms) of one step."""
    if step.action in node.ACTIONS:
        ok, msg = node.ACTIONS[step.action](ctx, step.node)
    elif step.action.startswith("load-"):
        msg, due = _load_step(ctx, sched, step, progress)
        return True, msg, due
    else:
        ok, msg = check.run_check(ctx)
    if not ok:
        if step.action != "check":
            msg = "%s node %s: %s" % (step.action, step.node, msg)
        msg += "  [FAILED]"
    return ok, msg, 0


def _reset_records(ctx):
    for name in ctx.run.matching("load-*.tsv"):
        ctx.run.remove(name)
    for name in RECORDS:
        ctx.run.remove(name)
    ctx.run.write_text("scenario.tsv", "")


def _play(ctx, sched, progress):
    """Play every step; returns (failed steps, when the load should end)."""
    steps = ctx.topo.steps
    fails = end_ms = 0
    print()
    print("== playing the scenario of %s (%d steps, the last at %ss)"
          % (ctx.file, len(steps), clock.secs(steps[-1].at_ms)))
    for step in steps:
        sched.sleep_until_ms(step.at_ms)
        t = sched.rel_ms()
        ok, msg, due = _play_step(ctx, sched, step, progress)
        end_ms = max(end_ms, due)
        fails += not ok
        ctx.run.append("scenario.tsv", "%d\t%s\n" % (t, msg))
        print("[%6ss] %s" % (clock.secs(t), msg))
    return fails, end_ms


def _running(pid):
    try:
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return False


def _end_load(pid):
    """SIGTERM a generator and collect it (SIGKILL if it lingers)."""
    procs.send(pid, signal.SIGTERM)
    for _ in range(LOAD_EXIT_TRIES):
        if not _running(pid):
            return
        time.sleep(procs.POLL_S)
    procs.send(pid, signal.SIGKILL)
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _await_load(ctx, sched, progress, end_ms):
    if not progress.loads:
        return
    wait_until = end_ms // 1000 + ctx.settings.load_grace
    print("== waiting for the load to finish (at most until %ds)"
          % wait_until)
    for pid in progress.loads:
        while _running(pid):
            if sched.rel_ms() // 1000 >= wait_until:
                print("%s: a load generator is still running; stopping it"
                      % errors.PROG)
                _end_load(pid)
                break
            time.sleep(LOAD_POLL_S)
    progress.loads = []


def _gather(ctx, sched, offsets):
    """events.tsv from the logs, ops.tsv from the load files."""
    found = events.collect(ctx.run, ctx.topo.addrs, offsets, sched.t0_day_ms)
    ctx.run.write_text("events.tsv", "".join(r + "\n" for r in found))
    ops = []
    for name in ctx.run.matching("load-*.tsv"):
        ops += ctx.run.read_lines(name)
    ctx.run.write_text("ops.tsv", "".join(
        r + "\n" for r in events.sort_by_time(ops)))


def _print_load_steps(ctx):
    for step in ctx.topo.steps:
        if not step.action.startswith("load-"):
            continue
        name = "load-%d.tsv" % step.no
        sys.stdout.write("load step %d (line %d, %s %d): " % (
            step.no, step.line, step.action[len("load-"):], step.count))
        if ctx.run.exists(name):
            sys.stdout.write(report.load_summary(ctx.run.read_lines(name)))
        else:
            sys.stdout.write("no operation recorded\n")


def _print_exited(ctx):
    for addr in ctx.topo.addrs:
        pid = ctx.run.read_pid(addr)
        if pid and not procs.runs_dhtd(procs.parse_pid(pid)):
            print("note: %s (pid %s) exited by itself; last lines of its log:"
                  % (addr, pid))
            for line in ctx.run.log_tail(addr, 3):
                print("      " + line)


def _report(ctx):
    print()
    print("== what happened (per step, until the next one)")
    sys.stdout.write(report.summarise(ctx.run.read_lines("scenario.tsv"),
                                      ctx.run.read_lines("events.tsv"),
                                      ctx.run.read_lines("ops.tsv")))
    _print_load_steps(ctx)
    _print_exited(ctx)
    p = ctx.run.path
    print("(events: %s/events.tsv, operations: %s/ops.tsv, logs: %s/*.log)"
          % (p, p, p))


def _scenario(ctx, keep, progress):
    """Everything after `up`; returns the exit status."""
    _reset_records(ctx)
    offsets = [ctx.run.log_size(a) for a in ctx.topo.addrs]
    sched = clock.Clock()
    fails, end_ms = _play(ctx, sched, progress)
    _await_load(ctx, sched, progress, end_ms)
    _gather(ctx, sched, offsets)
    _report(ctx)
    progress.done = True
    print()
    if fails == 0:
        print("run: every step succeeded")
    else:
        print("run: %d step(s) failed (marked FAILED above)" % fails)
    if keep:
        print("the ring is still running; stop it with: tools/dht-topo "
              "down %s" % ctx.file)
    return 0 if fails == 0 else errors.EXIT_FAILURE


def _on_exit(ctx, keep, progress):
    for pid in progress.loads:
        procs.send(pid, signal.SIGTERM)
    if not keep or not progress.done:
        print()
        print("== stopping %s" % ctx.name)
        launcher.down(ctx)


def run(ctx, keep):
    """`run FILE [--keep]`: returns the exit status (0: every step
    succeeded)."""
    if not ctx.topo.steps:
        raise errors.die("%s has no scenario ('at T ACTION' lines); see the "
                         "comment at the top of topologies/churn16"
                         % ctx.file)
    print("== starting %s (%d nodes)" % (ctx.name, ctx.topo.n_listed))
    launcher.up(ctx, quiet=True)
    progress = Progress()
    try:
        with errors.trapped():
            return _scenario(ctx, keep, progress)
    except errors.Interrupted:
        return errors.EXIT_INTERRUPTED
    finally:
        _on_exit(ctx, keep, progress)
