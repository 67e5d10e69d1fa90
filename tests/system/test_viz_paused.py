#!/usr/bin/env python3
"""test_viz_paused.py - a ring of 3 with one node paused (SIGSTOP): what
dht-viz draws agrees with what its legend says, read from the DOM
Chromium renders.

A 3-node ring holds a few keys; one node (not the one crawled from) is
frozen with SIGSTOP by its PID. Once the others' failure detectors report
it, the HTML page and the standalone SVG are drawn and checked:
  - the title counts every node known: "3 nodes", with the paused one
    named by its state ("(1 suspected)" or "(1 dead)"), never "2 nodes";
  - three nodes are drawn; the paused one in the state its peers report
    (class state-suspected or state-dead), not with the "did not answer"
    cross (state-unreachable) and not as OK; the two others as OK;
  - the legend has one row per state drawn, whose count is the number of
    nodes drawn in that state (the counts add up to 3), and whose symbol
    is the one those nodes are drawn with;
  - the text table says "3 nodes" too.
The paused node gets SIGCONT, and every daemon is stopped by its PID, on
every way out. Skips (exit 77) when chromium is not installed.

Usage: test_viz_paused.py --bin BUILD_DIR [--seed N].
"""

import os
import re
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import (Cluster, Runner, check, parse_args,  # noqa: E402
                    run_cmd)
import viz_dom  # noqa: E402

MARK_TIMEOUT = 20.0  # the peers report the paused node
CRAWL_TIMEOUT_MS = "700"


def viz(e, *args):
    return run_cmd([os.path.join(e.bin, "dht-viz"), "--node", e.start.addr,
                    "--timeout-ms", CRAWL_TIMEOUT_MS] + list(args),
                   timeout=60)


def health_in_table(e, addr):
    r = viz(e)
    if r.code != 0:
        return None, r.out
    for line in r.out.splitlines():
        f = line.split()
        if len(f) > 3 and f[1] == addr:
            return f[3].rstrip("*"), r.out
    return "absent", r.out


def check_agreement(m, paused, what):
    check(re.search(r"\b3 nodes\b", m["title"]),
          "%s: the title %r does not count 3 nodes" % (what, m["title"]))
    nodes = {nd["title"].split(" ")[0]: nd for nd in m["nodes"]}
    check(len(m["nodes"]) == 3 and paused in nodes,
          "%s: drawn nodes %s, expected 3 with %s" % (what, sorted(nodes),
                                                      paused))
    states = {}
    for addr, nd in nodes.items():
        st = re.search(r"state-(\w+)", nd["cls"]).group(1)
        states.setdefault(st, []).append(nd)
        if addr != paused:
            check(st == "ok", "%s: %s is drawn %s, expected ok"
                  % (what, addr, st))
    pst = re.search(r"state-(\w+)", nodes[paused]["cls"]).group(1)
    check(pst in ("suspected", "dead"),
          "%s: the paused node is drawn %s, expected as its peers report it "
          "(suspected or dead)" % (what, pst))
    check("(1 %s)" % pst in m["title"], "%s: the title %r does not name the "
          "%s node" % (what, m["title"], pst))
    legend = {row["state"]: row for row in m["legend"]}
    check(len(legend) == len(m["legend"]), "%s: a state has two legend rows"
          % what)
    check(sorted(legend) == sorted(states),
          "%s: legend rows %s, states drawn %s" % (what, sorted(legend),
                                                   sorted(states)))
    check(sum(row["count"] for row in m["legend"]) == 3,
          "%s: the legend counts %s" % (what, [(r["state"], r["count"])
                                               for r in m["legend"]]))
    for st, drawn in states.items():
        row = legend[st]
        check(row["count"] == len(drawn), "%s: the legend says %d %s, %d "
              "drawn" % (what, row["count"], st, len(drawn)))
        for nd in drawn:
            want = row["dot"]
            if "ghost" in nd["cls"]:
                check(m["legend_ghost"], "%s: a ghost is drawn and the legend "
                      "has no dashed row" % what)
                want = None  # dashed, in its state's colour: compared below
                check(nd["dot"][2] and nd["dot"][1] == row["dot"][0],
                      "%s: ghost symbol %s vs legend %s"
                      % (what, nd["dot"], row["dot"]))
            if want:
                check(nd["dot"] == want, "%s: a %s node is drawn %s, the "
                      "legend draws %s" % (what, st, nd["dot"], want))


def check_paused(e):
    c = e.cluster
    a = c.start_node()
    b = c.start_node(join=a)
    d = c.start_node(join=a)
    c.wait_ring()
    for k in range(6):
        r = c.dht(a, "put", "paused-key-%d" % k, "v")
        check(r.code == 0, r.describe())
    e.start = a
    paused = b
    check(c.signal_node(paused, signal.SIGSTOP), "cannot SIGSTOP %s"
          % paused.addr)
    e.stopped = paused
    deadline = time.monotonic() + MARK_TIMEOUT
    health, table = None, ""
    while time.monotonic() < deadline:
        health, table = health_in_table(e, paused.addr)
        if health in ("suspected", "dead"):
            break
        time.sleep(0.3)
    check(health in ("suspected", "dead"),
          "%s was not reported within %.0f s (last %r):\n%s"
          % (paused.addr, MARK_TIMEOUT, health, table))
    check(re.search(r"^Chord ring: 3 nodes", table, re.M),
          "the text table does not count 3 nodes:\n%s" % table)
    html = os.path.join(e.tmp, "paused.html")
    svg = os.path.join(e.tmp, "paused.svg")
    for out in (html, svg):
        r = viz(e, "--output", out)
        check(r.code == 0, r.describe())
    check_agreement(viz_dom.measure(html, e.tmp), paused.addr, "HTML page")
    page = os.path.join(e.tmp, "paused-svg.html")
    viz_dom.page_of_svg(svg, page)
    check_agreement(viz_dom.measure(page, e.tmp), paused.addr, "SVG")
    del d


class Env:
    def __init__(self, bin_dir, seed):
        self.bin = os.path.abspath(bin_dir)
        self.tmp = tempfile.mkdtemp(prefix="dht-viz-paused-")
        self.cluster = Cluster(bin_dir, name="viz-paused", seed=seed)
        self.start = None
        self.stopped = None


def main():
    args = parse_args(__doc__.splitlines()[0])
    if not viz_dom.chromium():
        print("skip: chromium is not installed (tools/run-tests.sh installs "
              "it)")
        return 77
    e = Env(args.bin, args.seed)
    runner = Runner("test_viz_paused")
    try:
        runner.run("3 nodes, one paused: title, counts, drawing and legend "
                   "agree", check_paused, e)
    finally:
        if e.stopped:
            e.cluster.signal_node(e.stopped, signal.SIGCONT)
        e.cluster.cleanup()
        viz_dom.drop_tmp(e.tmp)
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
