#!/usr/bin/env python3
"""check_circles.py - no two files of a folder call each other, directly or
round a loop (the house rule "lower files never call upward").

Reads the compiled objects with `nm`, so it sees calls (and uses of global
data), not includes: file A -> file B when an object of A needs a symbol
that B alone defines. Each argument is one folder, as NAME=FILES, FILES a
',' or ';'-separated list of static libraries (.a) or objects (.o). For each
folder it finds the strongly connected components of that graph (Tarjan)
and fails, naming every circle and the symbols that tie it, when one holds
more than one file.

    check_circles.py core='libchord_core.a' tools/sim='a.o;b.o;...'

Exit: 0 no circle, 1 a circle, 2 usage error or nm failure.
"""
import os
import subprocess
import sys


def members(paths):
    """{member name: (defined set, undefined set)} for objects and archives."""
    out = {}
    for path in paths:
        if not path:
            continue
        try:
            text = subprocess.run(["nm", "-A", path], check=True,
                                  capture_output=True, text=True).stdout
        except (OSError, subprocess.CalledProcessError) as e:
            print(f"check_circles: nm {path}: {e}", file=sys.stderr)
            sys.exit(2)
        for line in text.splitlines():
            # archive:member.o:ADDR T name   or   file.o:  U name
            head, _, rest = line.rpartition(":")
            parts = rest.split()
            if len(parts) < 2:
                continue
            kind, name = parts[-2], parts[-1]
            member = os.path.basename(head.split(":")[-1] or head)
            d, u = out.setdefault(member, (set(), set()))
            if kind == "U":
                u.add(name)
            elif kind in "TDBR":  # global text, data, bss, read-only
                d.add(name)
    return out


def edges(objs):
    owner = {}
    for m, (defs, _) in objs.items():
        for s in defs:
            owner[s] = m
    g = {m: {} for m in objs}
    for m, (_, undef) in objs.items():
        for s in undef:
            o = owner.get(s)
            if o and o != m:
                g[m].setdefault(o, []).append(s)
    return g


def sccs(g):
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in g[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(comp)

    sys.setrecursionlimit(10000)
    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def main(argv):
    if not argv or any("=" not in a for a in argv):
        print(__doc__, file=sys.stderr)
        return 2
    bad = 0
    for arg in argv:
        name, files = arg.split("=", 1)
        objs = members(files.replace(",", ";").split(";"))
        g = edges(objs)
        circles = 0
        for comp in sccs(g):
            if len(comp) < 2:
                continue
            circles += 1
            print(f"check_circles: {name}: circle of {len(comp)} files: "
                  + ", ".join(sorted(comp)))
            for a in sorted(comp):
                for b, syms in sorted(g[a].items()):
                    if b in comp:
                        print(f"    {a} -> {b}: " + ", ".join(sorted(syms)[:6]))
        print(f"check_circles: {name}: {len(objs)} files, "
              f"{sum(len(v) for v in g.values())} call edges, "
              f"{circles or 'no'} circle{'s' if circles != 1 else ''}")
        bad += circles
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
