"""load.py - the load generators of `run`: COUNT puts or gets at RATE per
second (0: back to back), each through every node as a seed (starting one
further along per operation), each bounded by op_timeout_ms. One line per
operation in load-<step>.tsv:
    t_ms <TAB> put|get <TAB> key <TAB> STATUS <TAB> detail
where STATUS is ok, failed, notfound, wrong or skipped.
Puts append the acknowledged key and value to `acked`; gets read keys from
there (an operation with nothing acknowledged yet is skipped).

Invariants: each generator is a child process of the tool (a fork), so it
runs beside the scenario and is stopped by the PID the tool recorded
(SIGTERM; SIGINT is ignored, as in a background job of a shell); it never
prints and always ends with os._exit. Keys are <name>-s<step>-<i>, values
v<run id>-<step>-<i>.

What it does not do: judge the results (report.py summarises the file).
"""

import os
import signal
import sys
import time
import traceback

from . import clock, ring, state

ERROR_CHARS = 160        # of a failed operation's message
GOT_CHARS = 60           # of a wrong value


def one_line(text):
    """One line from a command's stderr, for a report."""
    text = text.rstrip("\n").replace("\n", " ")
    if text.startswith("dht: "):
        text = text[len("dht: "):]
    return text[:ERROR_CHARS]


def _put(ctx, seeds, step, i, run_id):
    key = "%s-s%d-%d" % (ctx.name, step.no, i)
    value = "v%d-%d-%d" % (run_id, step.no, i)
    r = ctx.dht.put(seeds, ctx.settings.op_timeout_ms, key, value)
    if r.code != 0:
        return "put\t%s\tfailed\t%s" % (key, one_line(r.err)), None
    return "put\t%s\tok\t-" % key, "%s\t%s\n" % (key, value)


def _get(ctx, seeds, i):
    acked = ctx.run.read_lines("acked")
    if not acked:
        return "get\t-\tskipped\tnothing acknowledged yet"
    key, value = state.split_acked(acked[i % len(acked)])
    r = ctx.dht.get(seeds, ctx.settings.op_timeout_ms, key)
    got = r.out.rstrip("\n")
    if r.code == 0 and got == value:
        return "get\t%s\tok\t-" % key
    if r.code == 0:
        return "get\t%s\twrong\tgot %s" % (key, got[:GOT_CHARS])
    status = "notfound" if r.code == 1 else "failed"
    return "get\t%s\t%s\t%s" % (key, status, one_line(r.err))


def generate(ctx, sched, step):
    """Run the load of `step` to its end (in the current process)."""
    out = "load-%d.tsv" % step.no
    interval = 1000000 // step.rate if step.rate > 0 else 0
    start = clock.now_us()
    addrs = ctx.topo.addrs
    for i in range(step.count):
        if interval:
            ahead = start + i * interval - clock.now_us()
            if ahead > 0:
                time.sleep(ahead / 1e6)
        seeds = ring.seed_args(addrs, i)
        t = sched.rel_ms()
        if step.action == "load-put":
            line, acked = _put(ctx, seeds, step, i, sched.run_id)
        else:
            line, acked = _get(ctx, seeds, i), None
        ctx.run.append(out, "%d\t%s\n" % (t, line))
        if acked:
            ctx.run.append("acked", acked)


def start(ctx, sched, step):
    """Fork a generator for `step`; returns its PID."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    code = 0
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        generate(ctx, sched, step)
    except BaseException:  # noqa: BLE001 - a child never returns
        traceback.print_exc()
        code = 1
    finally:
        os._exit(code)
