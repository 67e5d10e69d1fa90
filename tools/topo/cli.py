"""cli.py - the command line of dht-topo: check the arguments, read the
environment and the topology, run one command, turn the outcome into an
exit status.

Invariants: the checks come in the bash original's order (at least two
arguments; binaries; the topology file, parsed by dht-viz; then the
command's own arguments), so the same mistake gets the same message and
status: 2 and the usage text for a usage error, 1 and "dht-topo: ..." for a
failure, the command's own status otherwise. SIGINT and SIGTERM keep their
default action except where a command has something to undo; SIGPIPE kills
quietly, as it kills a shell script.

What it does not do: any of the commands' work (launcher.py, node.py,
scenario.py do it).
"""

import os
import signal
import sys

from . import context, errors, launcher, node, ring, scenario, settings, state
from . import topology

USAGE = """\
usage: dht-topo up|down|status FILE
       dht-topo kill|pause|resume|restart|leave|join FILE NODE
       dht-topo run FILE [--keep]
(NODE: an index, 0 = the first node line, or HOST:PORT; see the comment
at the top of any file in topologies/)"""
RING_COMMANDS = ("up", "down", "status")


def _usage():
    return errors.Exit(errors.EXIT_USAGE, USAGE)


def _context(cmd_file, repo):
    config = settings.from_env(os.environ, repo)
    bins = settings.find_binaries(os.environ, repo)
    topo = topology.load(bins.viz, cmd_file)
    name = os.path.basename(cmd_file.rstrip("/")) or cmd_file
    return context.Context(file=cmd_file, name=name, topo=topo,
                           settings=config, bins=bins,
                           run=state.RunDir(config.run_root, name),
                           dht=ring.Dht(bins.dht))


def _node_command(ctx, cmd, ref):
    i = topology.resolve(ctx.topo, ref)
    if i is None:
        raise errors.die(
            "no node '%s' in %s (give an index from 0 to %d or one of its "
            "HOST:PORT)" % (ref, ctx.file, len(ctx.topo.nodes) - 1))
    ctx.run.ensure()
    ok, msg = node.ACTIONS[cmd](ctx, i)
    if not ok:
        sys.stdout.flush()
        sys.stderr.write("%s: %s: %s\n" % (errors.PROG, cmd, msg))
        return errors.EXIT_FAILURE
    print(msg)
    return 0


def _run_command(ctx, args):
    if len(args) > 1 or (args and args[0] != "--keep"):
        raise _usage()
    return scenario.run(ctx, keep=bool(args))


# The commands that start dhtd processes on this machine.
LAUNCH_COMMANDS = ("up", "run", "restart", "join")


def _refuse_remote(ctx, cmd):
    """dht-topo starts every node here, plaintext and open to whoever can
    reach the port: a topology naming other hosts' addresses is for
    dht-viz --topology and for operators, not for launching."""
    outside = topology.not_loopback(ctx.topo)
    if cmd in LAUNCH_COMMANDS and outside:
        raise errors.die(
            "%s names addresses outside loopback (%s%s): dht-topo starts "
            "every node on this machine, so it launches loopback "
            "topologies only; draw this one with dht-viz --topology, and "
            "start its nodes with dhtd on their own hosts"
            % (ctx.file, ", ".join(outside[:3]),
               ", ..." if len(outside) > 3 else ""))


def _dispatch(argv, repo):
    if len(argv) < 2:
        raise _usage()
    cmd, rest = argv[0], argv[2:]
    ctx = _context(argv[1], repo)
    _refuse_remote(ctx, cmd)
    if cmd in RING_COMMANDS:
        if rest:
            raise _usage()
        if cmd == "up":
            launcher.up(ctx)
            return 0
        return launcher.down(ctx) if cmd == "down" else launcher.status(ctx)
    if cmd in node.ACTIONS:
        if len(rest) != 1:
            raise _usage()
        return _node_command(ctx, cmd, rest[0])
    if cmd == "run":
        return _run_command(ctx, rest)
    raise _usage()


def _setup_streams():
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.stdout.reconfigure(line_buffering=True, errors="surrogateescape")
    sys.stderr.reconfigure(line_buffering=True, errors="surrogateescape")


def main(argv, repo):
    """Run dht-topo with the arguments after the program name; `repo` is
    the repository the script lives in. Returns the exit status."""
    _setup_streams()
    try:
        return _dispatch(argv, repo)
    except errors.Exit as e:
        sys.stdout.flush()
        if e.text is not None:
            sys.stderr.write(e.text + "\n")
        return e.code
