"""context.py - what one invocation of dht-topo works with: the FILE
argument and its topology, the settings and binaries, the run directory,
the `dht` client, and what this invocation itself started.

Invariants: built once by cli.py and passed down; the only mutable parts
are per invocation (the addresses started, the notes already printed, the
dhtd children kept for reaping), never module globals.

What it does not do: any I/O of its own.
"""

import dataclasses


@dataclasses.dataclass
class Context:
    file: str                 # the FILE argument, as given
    name: str                 # its base name: the run directory's name
    topo: object              # topology.Topology
    settings: object          # settings.Settings
    bins: object              # settings.Binaries
    run: object               # state.RunDir
    dht: object               # ring.Dht
    started: list = dataclasses.field(default_factory=list)
    notes: set = dataclasses.field(default_factory=set)
    children: list = dataclasses.field(default_factory=list)

    def addr(self, i):
        return self.topo.nodes[i].addr

    def reap(self):
        """Collect the exit status of started dhtd that have exited (a
        killed node is otherwise a zombie until the tool exits)."""
        self.children = [p for p in self.children if p.poll() is None]
