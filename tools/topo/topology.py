"""topology.py - a topology file as dht-topo sees it: the ring parameters,
the nodes (listed ones first, then the ones the scenario joins) and the
scenario's steps.

Invariants: there is one parser, the C one of dht-viz; this module only
reads its normalised output (`dht-viz --dump-topology FILE`: one record per
line, single spaces, "-" for an absent value), so a malformed file is
reported exactly as dht-viz reports it (FILE:LINE:COLUMN: message). A node
is named by its index in `nodes` (0 = the first node line) or by its
HOST:PORT.

What it does not do: check addresses, times or counts (the C parser did;
is_loopback only sorts the parsed ones), or touch any process.
"""

import dataclasses
import os
import re
import subprocess

from . import errors

DUMP_BOUND_S = 60        # one run of dht-viz --dump-topology
NODE_INDEX = re.compile(r"[0-9]{1,6}")


@dataclasses.dataclass(frozen=True)
class Ring:
    """dhtd options for every node; 0 = not given (dhtd's default)."""
    successors: int = 0
    stabilize_ms: int = 0
    replicas: int = 0
    heartbeat_ms: int = 0
    sync_ms: int = 0


@dataclasses.dataclass(frozen=True)
class Node:
    """One node line (or `at T join` line): "-" for an absent id or data."""
    addr: str
    id: str
    data: str
    kind: str            # "listed" or "joined"


@dataclasses.dataclass(frozen=True)
class Step:
    """One `at T ACTION` line; node is None for load and check."""
    no: int              # 1-based, in file order
    line: int
    at_ms: int
    action: str          # kill pause resume restart leave join
    node: object         # load-put load-get check: None
    count: int
    rate: int


@dataclasses.dataclass(frozen=True)
class Topology:
    """What a topology file describes."""
    ring: Ring
    nodes: tuple
    steps: tuple

    @property
    def addrs(self):
        return [n.addr for n in self.nodes]

    @property
    def n_listed(self):
        return sum(1 for n in self.nodes if n.kind == "listed")


def is_loopback(addr):
    """Is a canonical HOST:PORT (as the C parser writes it) on loopback:
    127.0.0.0/8, [::1] or localhost?"""
    host = addr.rpartition(":")[0]
    return host.startswith("127.") or host in ("[::1]", "localhost")


def not_loopback(topo):
    """The addresses of topo outside loopback, in file order."""
    return [a for a in topo.addrs if not is_loopback(a)]


def _bad_dump(line):
    return errors.die("dht-viz --dump-topology printed an unexpected line: "
                      "%r" % line)


def _record(fields, ring, nodes, steps):
    kind, rest = fields[0], fields[1:]
    if kind == "ring" and len(rest) >= 5:
        ring.append(Ring(*(int(v) for v in rest[:5])))
    elif kind == "node" and len(rest) >= 5:
        nodes.append(Node(addr=rest[1], id=rest[2], data=rest[3],
                          kind=rest[4]))
    elif kind == "step" and len(rest) >= 7:
        steps.append(Step(no=int(rest[0]), line=int(rest[1]),
                          at_ms=int(rest[2]), action=rest[3],
                          node=None if rest[4] == "-" else int(rest[4]),
                          count=int(rest[5]), rate=int(rest[6])))
    else:
        raise ValueError(kind)


def parse_dump(text):
    """The Topology printed by `dht-viz --dump-topology` (raises Exit on a
    line it does not know: dht-viz and this tool disagree)."""
    ring, nodes, steps = [], [], []
    for line in text.splitlines():
        fields = line.split()
        if not fields:
            continue
        try:
            _record(fields, ring, nodes, steps)
        except ValueError:
            raise _bad_dump(line) from None
    return Topology(ring=ring[-1] if ring else Ring(), nodes=tuple(nodes),
                    steps=tuple(steps))


def load(viz, path):
    """Parse the file at `path` with dht-viz (raises Exit: a missing file,
    the parser's own message as it printed it, or no node listed)."""
    if not os.path.isfile(path):
        raise errors.die("no such topology file: %s" % path)
    try:
        p = subprocess.run([viz, "--dump-topology", path],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=DUMP_BOUND_S)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise errors.die("%s --dump-topology: %s" % (viz, e)) from None
    out = p.stdout.decode(errors="replace")
    if p.returncode != 0:
        raise errors.Exit(errors.EXIT_FAILURE, out.rstrip("\n"))
    topo = parse_dump(out)
    if topo.n_listed == 0:
        raise errors.die("%s: no node listed" % path)
    return topo


def resolve(topo, ref):
    """The index of the node `ref` names (an index or a HOST:PORT of the
    file), or None. A number never names an address."""
    if NODE_INDEX.fullmatch(ref):
        i = int(ref, 10)
        return i if i < len(topo.nodes) else None
    for i, node in enumerate(topo.nodes):
        if node.addr == ref:
            return i
    return None
