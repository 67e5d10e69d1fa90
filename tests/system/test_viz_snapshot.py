#!/usr/bin/env python3
"""test_viz_snapshot.py - `dht-sim --snapshot` and `dht-viz --input`: a
simulated ring of 1000 nodes drawn from a file, and a live ring's
`dht ring --json` read the same way.

  (a) `dht-sim --nodes 1000 --keys 500 --snapshot FILE` writes a JSON
      array of 1000 status objects sorted by id; dht-viz --input draws it
      in every format within a time bound: SVG well-formed (xmllint),
      titled "1000 nodes", drawn as density arcs (no node dot, no label,
      under 1 MB), HTML with its data, DOT accepted by Graphviz, and a
      text table of 1000 nodes whose owned keys add up to 500;
  (b) a live ring of 3: the objects of `dht ring --json` and of the
      snapshot have the same fields (the snapshot's shape is dht ring's),
      and `dht ring --json` saved to a file is drawn by --input with its
      3 nodes;
  (c) a 600-node snapshot with 5 suspected nodes and a highlight: density
      arcs, and exactly those 6 nodes drawn and labelled;
  (d) a malformed snapshot is refused with exit 1 and one line
      "dht-viz: FILE:LINE:COLUMN: why"; dht-sim refuses a snapshot path it
      cannot write before it runs (exit 2).

Usage: test_viz_snapshot.py --bin BUILD_DIR [--seed N].
"""

import json
import os
import re
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import (Cluster, Runner, check, one_line_error,  # noqa: E402
                    parse_args, run_cmd)
from test_viz import dot_accepts, xmllint_ok  # noqa: E402
import viz_dom  # noqa: E402

NODES = 1000
KEYS = 500
SIM_TIMEOUT = 120.0
DRAW_LIMIT_S = 10.0  # one drawing of 1000 nodes
SVG_LIMIT = 1 << 20


def check_sim(e):
    snap = os.path.join(e.tmp, "sim.json")
    r = run_cmd([os.path.join(e.bin, "dht-sim"), "--nodes", str(NODES),
                 "--lookups", "0", "--keys", str(KEYS), "--replicas", "3",
                 "--seed", str(e.seed), "--check-every", "0",
                 "--snapshot", snap],
                timeout=SIM_TIMEOUT)
    check(r.code == 0, r.describe())
    with open(snap) as f:
        ring = json.load(f)
    check(isinstance(ring, list) and len(ring) == NODES,
          "the snapshot holds %s nodes, expected %d"
          % (len(ring) if isinstance(ring, list) else ring, NODES))
    ids = [x["id"] for x in ring]
    check(ids == sorted(ids), "the snapshot is not sorted by id")
    check(sum(x["primary_keys"] for x in ring) == KEYS,
          "the snapshot's nodes own %d keys, expected %d"
          % (sum(x["primary_keys"] for x in ring), KEYS))
    e.snapshot = snap
    e.sim_fields = ring[0]
    outputs = {}
    for fmt in ("svg", "html", "dot", "text"):
        out = os.path.join(e.tmp, "sim." + fmt)
        t0 = time.monotonic()
        r = run_cmd([os.path.join(e.bin, "dht-viz"), "--input", snap,
                     "--format", fmt, "--output", out], timeout=60)
        took = time.monotonic() - t0
        check(r.code == 0, r.describe())
        check(took < DRAW_LIMIT_S, "drawing %d nodes as %s took %.1f s"
              % (NODES, fmt, took))
        with open(out, encoding="utf-8") as f:
            outputs[fmt] = f.read()
        print("  %s: %d bytes in %.2f s" % (fmt, len(outputs[fmt]), took),
              flush=True)
    svg = outputs["svg"]
    problem = xmllint_ok(os.path.join(e.tmp, "sim.svg"))
    check(problem is None, "the SVG is not well-formed: %s" % problem)
    check(len(svg) < SVG_LIMIT, "the SVG of %d nodes is %d bytes"
          % (NODES, len(svg)))
    check(re.search(r"Chord ring \xb7 %d nodes" % NODES, svg),
          "the SVG's title does not count %d nodes" % NODES)
    check(svg.count('class="density"') > 100,
          "the SVG of %d nodes is not drawn as density arcs" % NODES)
    check('class="node ' not in svg and 'class="label"' not in svg,
          "a ring of %d healthy nodes should have no dot and no label"
          % NODES)
    check('id="ring-data"' in outputs["html"] and
          "%d nodes" % NODES in outputs["html"], "the HTML lacks its data")
    dot_accepts(os.path.join(e.tmp, "sim.dot"))
    lines = outputs["text"].splitlines()
    check(lines[0].startswith("Chord ring: %d nodes (%d answered)"
                              % (NODES, NODES)), "text: %r" % lines[0])
    owned = sum(int(l.split()[5]) for l in lines[2:2 + NODES])
    check(owned == KEYS, "the text table's nodes own %d keys" % owned)


def check_live_shape(e):
    with Cluster(e.bin, name="viz-snapshot", seed=e.seed) as c:
        a = c.start_node()
        c.start_node(join=a)
        c.start_node(join=a)
        c.wait_ring()
        ring = c.dht_json(a, "ring", "--json")
    check(len(ring) == 3, "dht ring --json lists %d nodes" % len(ring))
    live, sim = ring[0], e.sim_fields
    check(list(live) == list(sim), "fields of dht ring --json %s, of the "
          "snapshot %s" % (list(live), list(sim)))
    for part in ("fingers", "peers", "successors"):
        if live[part] and sim[part]:
            check(list(live[part][0]) == list(sim[part][0]),
                  "%s entries: %s vs %s" % (part, list(live[part][0]),
                                            list(sim[part][0])))
    path = os.path.join(e.tmp, "live.json")
    with open(path, "w") as f:
        json.dump(ring, f, indent=1)
    r = run_cmd([os.path.join(e.bin, "dht-viz"), "--input", path],
                timeout=30)
    check(r.code == 0 and r.out.startswith("Chord ring: 3 nodes (3 answered)"),
          r.describe())
    for node in ring:
        check(node["addr"] in r.out, "the table lacks %s" % node["addr"])


def check_dense_notable(e):
    """A dense ring still draws and labels the nodes that matter."""
    n = 600
    ids = [(k * ((1 << 160) // n) + 12345) % (1 << 160) for k in range(n)]
    suspected = {7, 8, 9, 300, 599}
    ring, addrs = viz_dom.synth_ring(ids, suspected)
    path = os.path.join(e.tmp, "dense.json")
    with open(path, "w") as f:
        json.dump(ring, f)
    svg = os.path.join(e.tmp, "dense.svg")
    r = run_cmd([os.path.join(e.bin, "dht-viz"), "--input", path,
                 "--highlight", addrs[100], "--output", svg], timeout=60)
    check(r.code == 0, r.describe())
    with open(svg, encoding="utf-8") as f:
        text = f.read()
    check(text.count('class="density"') > 100, "no density arcs")
    drawn = re.findall(r'<g class="node state-(\w+)[^"]*" data-i="\d+">'
                       r'<title>([^ ]+)', text)
    want = set(addrs[k] for k in suspected) | {addrs[100]}
    check(set(a for _, a in drawn) == want,
          "dense ring: drawn %s, expected the suspected and the highlighted "
          "%s" % (sorted(a for _, a in drawn), sorted(want)))
    check(sorted(st for st, _ in drawn).count("suspected") == len(suspected),
          "dense ring: states drawn %s" % drawn)
    check(text.count('class="label"') == len(want),
          "dense ring: %d labels, expected %d" % (text.count('class="label"'),
                                                 len(want)))
    check(re.search(r"%d nodes \(%d suspected\)" % (n, len(suspected)),
                    text), "dense ring: the title does not count %d nodes, "
          "%d suspected" % (n, len(suspected)))


def check_malformed(e):
    nowhere = os.path.join(e.tmp, "no-such-dir", "snap.json")
    r = run_cmd([os.path.join(e.bin, "dht-sim"), "--nodes", "8",
                 "--snapshot", nowhere], timeout=30)
    check(r.code == 2 and one_line_error(r) and nowhere in r.err,
          "a snapshot that cannot be written is refused before the run: "
          + r.describe())
    bad = os.path.join(e.tmp, "bad.json")
    with open(bad, "w") as f:
        f.write('[\n{"id": "00", "addr": "127.0.0.1:1"}\n]\n')
    r = run_cmd([os.path.join(e.bin, "dht-viz"), "--input", bad],
                timeout=30)
    check(r.code == 1 and one_line_error(r) and
          r.err.startswith("dht-viz: %s:2:" % bad) and "40 hex" in r.err,
          "a bad id: " + r.describe())
    with open(bad, "w") as f:
        f.write('[{"id": "%s", "addr": "x:1"} {}]' % ("0" * 40))
    r = run_cmd([os.path.join(e.bin, "dht-viz"), "--input", bad],
                timeout=30)
    check(r.code == 1 and one_line_error(r) and
          r.err.startswith("dht-viz: %s:1:" % bad) and "','" in r.err,
          "a missing comma: " + r.describe())


class Env:
    def __init__(self, bin_dir, seed):
        self.bin = os.path.abspath(bin_dir)
        self.seed = seed
        self.tmp = tempfile.mkdtemp(prefix="dht-viz-snapshot-")
        self.snapshot = None
        self.sim_fields = None


def main():
    args = parse_args(__doc__.splitlines()[0])
    e = Env(args.bin, args.seed)
    runner = Runner("test_viz_snapshot")
    try:
        if runner.run("dht-sim --snapshot of %d nodes, drawn by --input"
                      % NODES, check_sim, e):
            runner.run("the snapshot has dht ring --json's shape; a saved "
                       "ring is drawn", check_live_shape, e)
        runner.run("a dense ring draws and labels its notable nodes",
                   check_dense_notable, e)
        runner.run("a malformed snapshot: FILE:LINE:COLUMN", check_malformed,
                   e)
    finally:
        viz_dom.drop_tmp(e.tmp)
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
