#!/usr/bin/env python3
"""test_viz_layout.py - dht-viz's labels never overlap, read from the DOM
Chromium renders, and screenshots a person can look at.

  (a) snapshots (`dht ring --json` arrays, --input) of 3, 16 and 64 nodes,
      each with runs of adjacent ids (id, id+1, id+2) and a key traced:
      every label's bounding box (getBBox, from the rendered page) meets
      no other label, nor the key's label, nor an id tick; up to 24 nodes
      every node has a label; at 64 nodes exactly the notable ones (the
      suspected, the highlighted, the key's owner and replicas) do, the
      others being named by hover titles; the <svg> has a viewBox and no
      fixed size;
  (b) a live ring of 8 dhtd started with --id, three of them on adjacent
      ids: the same checks on the crawled page and the standalone SVG;
  (c) screenshots of the static HTML page and SVG at 8 and 64 nodes,
      written to the folder printed (DHT_VIZ_SHOTS, else
      BUILD_DIR/viz-screenshots), and not blank.

Skips (exit 77) when chromium is not installed. Every daemon is stopped by
its PID on the way out (tests/system/common.py).

Usage: test_viz_layout.py --bin BUILD_DIR [--seed N].
"""

import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import (Cluster, Runner, TestFailure, check,  # noqa: E402
                    parse_args, run_cmd)
import viz_dom  # noqa: E402
from test_viz import png_pixels  # noqa: E402

RING_WAIT = 30.0
BASE = 0x4000 << 144  # ids near a quarter mark: labels crowd the tick


def viz(bin_dir, *args):
    r = run_cmd([os.path.join(bin_dir, "dht-viz")] + list(args), timeout=60)
    check(r.code == 0, r.describe())
    return r


def check_page(m, n_nodes, want_labels, what):
    """The common checks of one measured page."""
    bad = viz_dom.overlaps(m)
    check(not bad, "%s: %d overlaps, first: %s" % (what, len(bad),
                                                   "; ".join(bad[:3])))
    check(m["viewBox"] and not m["width"] and not m["height"],
          "%s: the <svg> should have a viewBox and no fixed size, has "
          "viewBox=%r width=%r height=%r" % (what, m["viewBox"], m["width"],
                                             m["height"]))
    got = sorted(l["i"] for l in m["labels"])
    check(got == sorted(want_labels), "%s: labels for nodes %s, expected %s"
          % (what, got, sorted(want_labels)))
    check(len(m["nodes"]) == n_nodes, "%s: %d nodes drawn, expected %d"
          % (what, len(m["nodes"]), n_nodes))


def ids_with_runs(n, seed):
    """n ids spread over the ring, every fifth anchor with two more ids
    adjacent to it (id, id+1, id+2)."""
    anchors = n * 5 // 7 + 1
    step = (1 << 160) // anchors
    ids = []
    for k in range(anchors):
        base = (BASE + k * step + (seed * 7919 + k) % 1000) % (1 << 160)
        ids += [base, base + 1, base + 2] if k % 5 == 0 else [base]
    return sorted(set(ids))[:n]


def check_snapshots(e):
    for n in (3, 16, 64):
        ids = ids_with_runs(n, e.seed)
        suspected = set(range(0, n, 9)) if n > 24 else {1}
        ring, addrs = viz_dom.synth_ring(ids, suspected)
        path = os.path.join(e.tmp, "ring%d.json" % n)
        with open(path, "w") as f:
            json.dump(ring, f)
        html = os.path.join(e.tmp, "ring%d.html" % n)
        hl = addrs[n // 2]
        viz(e.bin, "--input", path, "--key", "viz-layout-key",
            "--highlight", hl, "--output", html)
        m = viz_dom.measure(html, e.tmp)
        by_addr = {nd["title"].split(" ")[0]: nd["i"] for nd in m["nodes"]}
        if n <= 24:
            want = list(by_addr.values())
        else:
            notable = set(addrs[k] for k in suspected) | {hl}
            for nd in m["nodes"]:
                if "state-ok" not in nd["cls"]:
                    notable.add(nd["title"].split(" ")[0])
            # The key's owner and replicas, from the page's summary.
            with open(html, encoding="utf-8") as f:
                text = f.read()
            summary = text[text.index('id="summary"'):text.index('id="info"')]
            notable |= set(a for a in addrs if a in summary)
            want = [by_addr[a] for a in notable]
        check(m["key"] is not None, "ring%d: no key label in the DOM" % n)
        check_page(m, n, want, "ring%d (--input, HTML)" % n)
        svg = os.path.join(e.tmp, "ring%d.svg" % n)
        viz(e.bin, "--input", path, "--key", "viz-layout-key",
            "--highlight", hl, "--output", svg)
        page = os.path.join(e.tmp, "ring%d-svg.html" % n)
        viz_dom.page_of_svg(svg, page)
        check_page(viz_dom.measure(page, e.tmp), n, want,
                   "ring%d (--input, SVG)" % n)
        if n == 64:
            e.pages["64"] = (html, page)


def start_ring(e):
    """8 dhtd with chosen ids: three adjacent, the rest spread."""
    c = Cluster(e.bin, name="viz-layout", seed=e.seed)
    e.cluster = c
    ids = [BASE, BASE + 1, BASE + 2] + [
        (BASE + k * ((1 << 160) // 5)) % (1 << 160) + 12345
        for k in range(1, 6)]
    first = None
    for i in ids:
        node = c.start_node(join=first, extra=["--id", "%040x" % i])
        first = first or node
    deadline = time.monotonic() + RING_WAIT
    got = []
    while time.monotonic() < deadline:
        r = c.dht(first, "ring", "--json", timeout=10)
        if r.code == 0:
            got = [x["addr"] for x in json.loads(r.out)]
            if sorted(got) == sorted(n.addr for n in c.nodes):
                return first
        time.sleep(0.3)
    raise TestFailure("the 8-node ring did not close in %.0f s: %s"
                      % (RING_WAIT, got))


def check_live(e):
    first = start_ring(e)
    html = os.path.join(e.tmp, "live8.html")
    viz(e.bin, "--node", first.addr, "--key", "viz-layout-key",
        "--output", html)
    m = viz_dom.measure(html, e.tmp)
    check_page(m, 8, [nd["i"] for nd in m["nodes"]], "live ring of 8")
    check(m["key"] is not None, "live ring of 8: no key label")
    texts = " ".join(l["text"] for l in m["labels"])
    for n in e.cluster.nodes:
        check(n.addr in texts, "live ring of 8: no label names %s" % n.addr)
    svg = os.path.join(e.tmp, "live8.svg")
    viz(e.bin, "--node", first.addr, "--key", "viz-layout-key",
        "--output", svg)
    page = os.path.join(e.tmp, "live8-svg.html")
    viz_dom.page_of_svg(svg, page)
    m = viz_dom.measure(page, e.tmp)
    check_page(m, 8, [nd["i"] for nd in m["nodes"]], "live ring of 8 (SVG)")
    e.pages["8"] = (html, svg)


def check_screenshots(e):
    os.makedirs(e.shots, exist_ok=True)
    check("8" in e.pages and "64" in e.pages,
          "the pages to photograph were not made")
    for n, (html, svg) in sorted(e.pages.items()):
        for src, kind in ((html, "html"), (svg, "svg")):
            png = os.path.join(e.shots, "static-%s-%s.png" % (n, kind))
            viz_dom.screenshot(src, png, e.tmp)
            w, h, rows, bpp = png_pixels(png)
            dark = sum(1 for y in range(0, h, 8) for x in range(0, w, 8)
                       if rows[y][x * bpp] < 200)
            check(dark > 200, "%s looks blank (%d dark samples)" % (png, dark))
    print("screenshots in %s" % e.shots, flush=True)


class Env:
    def __init__(self, bin_dir, seed):
        self.bin = os.path.abspath(bin_dir)
        self.seed = seed or 1
        self.tmp = tempfile.mkdtemp(prefix="dht-viz-layout-")
        self.shots = os.environ.get("DHT_VIZ_SHOTS") or os.path.join(
            self.bin, "viz-screenshots")
        self.cluster = None
        self.pages = {}


def main():
    args = parse_args(__doc__.splitlines()[0])
    if not viz_dom.chromium():
        print("skip: chromium is not installed (tools/run-tests.sh installs "
              "it)")
        return 77
    e = Env(args.bin, args.seed)
    runner = Runner("test_viz_layout")
    try:
        runner.run("labels never overlap at 3, 16, 64 nodes (--input)",
                   check_snapshots, e)
        runner.run("labels never overlap on a live ring of 8 (--id)",
                   check_live, e)
        runner.run("screenshots at 8 and 64 nodes", check_screenshots, e)
    finally:
        if e.cluster:
            e.cluster.cleanup()
        viz_dom.drop_tmp(e.tmp)
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
