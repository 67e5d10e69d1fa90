#!/usr/bin/env python3
"""test_viz_live.py - `dht-viz --serve`, the live page, as a person
watching a ring meets it (issue 17, the live half).

  (a) live: a 5-node ring, the page open in headless Chromium (DevTools
      protocol, tests/system/browser.py). Without any reload:
        - a node that joins is drawn within 2 s of answering as active;
        - a node killed with SIGKILL is drawn dead, and the timeline lists
          its death, within the detector's time (its timeout as its peers
          report it + dead_after 1.5 s + a heartbeat) + 2 s;
        - a node paused with SIGSTOP is drawn suspected and then dead, and
          the timeline lists both, within the same bound. (A killed node
          on loopback refuses connections, so its peers convict it at once
          without a suspicion: the pause is what shows the suspicion.)
        - a lookup typed in the box comes back with its path and replica
          set, and the path is drawn;
        - the killed node leaves the page (and the timeline says it is
          gone) once no node names it any more;
  (b) rate: a 32-node ring and one --serve --rate 10 for about 5 s: the
      status requests the nodes answered (the status_requests counter of
      `dht status --json`) add up to at most 10 per second, and the
      server did poll (at least a quarter of that);
  (c) screenshots of the live page at 8 and 64 nodes, written to a folder
      the test prints and keeps;
  (d) --serve on an address that is not loopback is refused (exit 2, one
      line naming --serve-any).

Skips (exit 77) when chromium is not installed. Every process is stopped
by PID on every way out (the harness's Cluster).

Usage: test_viz_live.py --bin BUILD_DIR [--seed N].
"""

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import (Cluster, Runner, TestFailure, _set_pdeathsig,  # noqa: E402
                    check, parse_args)
from browser import Browser, find_chromium  # noqa: E402

DEAD_AFTER_S = 1.5   # the detector's dead_after_ms (src/core/fd.h)
HEARTBEAT_S = 0.2    # dhtd's default --heartbeat-ms
SLACK_S = 2.0        # what the issue allows the page on top
JOIN_S = 2.0
GONE_S = 25.0        # dht-viz forgets a node silent and unnamed for 10 s


def start_serve(c, node, rate=20, extra=()):
    """Start dht-viz --serve on a free port, recorded in the cluster so that
    cleanup stops it by PID. Returns (proc, url)."""
    port = c.free_port()
    log = open(os.path.join(c.tmp, "serve-%d.log" % port), "ab")
    try:
        proc = subprocess.Popen(
            [os.path.join(c.bin_dir, "dht-viz"), "--serve",
             "127.0.0.1:%d" % port, "--node", node.addr, "--rate",
             str(rate)] + list(extra),
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            preexec_fn=_set_pdeathsig)
    finally:
        log.close()
    c.procs.append(proc)
    return proc, "http://127.0.0.1:%d/" % port


def stop_serve(proc):
    proc.terminate()
    try:
        return proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
        raise TestFailure("dht-viz --serve did not stop on SIGTERM")


def node_js(addr, what):
    return ("(() => { const g = document.querySelector('#nodes g.node[data-addr=\""
            + addr + "\"]'); return g ? " + what + " : null; })()")


def timeline_js(kind, addr):
    return ("document.querySelector('#timeline li[data-kind=\"%s\"]"
            "[data-addr=\"%s\"]') !== null" % (kind, addr))


def peer_timeout_s(c, about, nodes):
    """The largest timeout any of `nodes` reports for `about`, in s."""
    worst = 0
    for n in nodes:
        st = c.dht_json(n, "status", "--json")
        for p in st.get("peers", []):
            if p.get("addr") == about.addr:
                worst = max(worst, p.get("timeout_ms", 0))
    return worst / 1000.0


def wait_page_nodes(b, count, timeout):
    return b.wait_for("document.querySelectorAll('#nodes g.node.ok').length"
                      " === %d" % count, timeout)


def test_live(args):
    with Cluster(args.bin, name="viz-live", seed=args.seed) as c:
        first = c.start_node()
        for _ in range(4):
            c.start_node(join=first)
        c.wait_ring()
        proc, url = start_serve(c, first)
        with Browser(url) as b:
            check(wait_page_nodes(b, 5, 15),
                  "the page does not show 5 ok nodes: %s"
                  % b.eval("document.getElementById('summary').textContent"))
            b.eval("window.__noReload = 1")

            # A join appears within 2 s of the node answering as active.
            new = c.start_node(join=first)
            t0 = time.monotonic()
            check(b.wait_for(node_js(new.addr, "g.dataset.health === 'ok'"),
                             JOIN_S),
                  "%s joined but the page does not show it after %.0f s"
                  % (new.addr, JOIN_S))
            print("    join drawn after %.2f s" % (time.monotonic() - t0))
            check(b.wait_for(timeline_js("joined", new.addr), 1.0),
                  "the timeline does not list the join")

            # SIGKILL: dead, and the timeline says so.
            live = [n for n in c.nodes if n.alive()]
            victim = live[2]
            others = [n for n in live if n is not victim]
            bound = (peer_timeout_s(c, victim, others) + DEAD_AFTER_S
                     + HEARTBEAT_S + SLACK_S)
            c.signal_node(victim, signal.SIGKILL)
            t0 = time.monotonic()
            check(b.wait_for(node_js(victim.addr,
                                     "g.dataset.health === 'dead'"), bound),
                  "%s was killed; after %.1f s the page draws it as %s"
                  % (victim.addr, bound,
                     b.eval(node_js(victim.addr, "g.dataset.history"))))
            left = bound - (time.monotonic() - t0)
            check(b.wait_for(timeline_js("dead", victim.addr),
                             max(left, 0.1)),
                  "the timeline does not list the death of %s" % victim.addr)
            print("    kill drawn dead after %.2f s (bound %.1f s); "
                  "history: %s" % (time.monotonic() - t0, bound,
                                   b.eval(node_js(victim.addr,
                                                  "g.dataset.history"))))

            # SIGSTOP: suspected, then dead; both in the timeline.
            paused = [n for n in others if n.alive()][1]
            rest = [n for n in others if n is not paused and n.alive()]
            bound = (peer_timeout_s(c, paused, rest) + DEAD_AFTER_S
                     + HEARTBEAT_S + SLACK_S)
            c.signal_node(paused, signal.SIGSTOP)
            t0 = time.monotonic()
            check(b.wait_for(node_js(paused.addr,
                                     "g.dataset.history.includes('suspected')"),
                             bound),
                  "%s was paused; after %.1f s the page drew it as %s"
                  % (paused.addr, bound,
                     b.eval(node_js(paused.addr, "g.dataset.history"))))
            check(b.wait_for(node_js(paused.addr,
                                     "g.dataset.health === 'dead'"),
                             max(bound - (time.monotonic() - t0), 0.1)),
                  "%s was paused; after %.1f s the page draws it as %s"
                  % (paused.addr, bound,
                     b.eval(node_js(paused.addr, "g.dataset.history"))))
            check(b.eval(timeline_js("suspected", paused.addr)),
                  "the timeline does not list the suspicion of %s"
                  % paused.addr)
            check(b.wait_for(timeline_js("dead", paused.addr), 1.0),
                  "the timeline does not list the death of %s" % paused.addr)
            hist = b.eval(node_js(paused.addr, "g.dataset.history")).split()
            check(hist.index("suspected") < len(hist) - 1 - hist[::-1].index("dead"),
                  "suspected does not come before dead: %s" % hist)
            print("    pause drawn %s in %.2f s (bound %.1f s)"
                  % (" -> ".join(hist), time.monotonic() - t0, bound))
            texts = b.eval("[...document.querySelectorAll('#timeline li')]"
                           ".slice(0, 6).map(li => li.textContent)")
            print("    timeline, newest first: %s" % texts)

            # A lookup: path and replica set, drawn.
            b.eval("document.getElementById('key').value = 'live-key';"
                   "document.getElementById('lookup-btn').click()")
            owner = b.wait_for("document.getElementById('lookup-result')"
                               ".dataset.owner", 10)
            check(owner, "the lookup box shows no owner: %s" % b.eval(
                "document.getElementById('lookup-result').textContent"))
            text = b.eval("document.getElementById('lookup-result')"
                          ".textContent")
            check("replicas:" in text and owner in text,
                  "the lookup result lacks the replica set: %s" % text)
            check(b.eval("document.querySelectorAll('#path .replica-mark')"
                         ".length") >= 1, "the replica set is not drawn")
            # The killed node goes away once no node names it any more
            # (dht-viz forgets a silent node 10 s after that).
            t0 = time.monotonic()
            check(b.wait_for(node_js(victim.addr, "false") + " === null",
                             GONE_S),
                  "%s is still drawn %.0f s after its death"
                  % (victim.addr, GONE_S))
            check(b.wait_for(timeline_js("gone", victim.addr), 1.0),
                  "the timeline does not say %s is gone" % victim.addr)
            print("    killed node removed from the page after %.1f s more"
                  % (time.monotonic() - t0))
            check(b.eval("window.__noReload") == 1,
                  "the page was reloaded")
        code = stop_serve(proc)
        check(code == 0, "dht-viz --serve exited %s on SIGTERM" % code)
        c.signal_node(paused, signal.SIGCONT)


def status_counts(c, nodes):
    out = {}
    for n in nodes:
        st = c.dht_json(n, "status", "--json")
        check("status_requests" in st, "status --json has no "
              "status_requests: %s" % sorted(st))
        out[n.addr] = st["status_requests"]
    return out


def test_rate(args):
    # Below what the server manages unbounded even in a sanitizer build
    # with 32 sanitized nodes on 2 cores (about 8/s), so the bound binds.
    rate = 10
    with Cluster(args.bin, name="viz-rate", seed=args.seed) as c:
        first = c.start_node()
        for _ in range(31):
            c.start_node(join=first)
        nodes = list(c.nodes)
        before = status_counts(c, nodes)
        proc, _ = start_serve(c, first, rate=rate)
        t0 = time.monotonic()
        time.sleep(5.0)
        code = stop_serve(proc)
        elapsed = time.monotonic() - t0
        check(code == 0, "dht-viz --serve exited %s" % code)
        after = status_counts(c, nodes)
        # Each count includes the request that read it: one per node.
        served = sum(after[a] - before[a] - 1 for a in before)
        per_s = served / elapsed
        print("    %d status requests in %.2f s: %.1f/s (bound %d/s) over "
              "%d nodes; most on one node: %d"
              % (served, elapsed, per_s, rate, len(nodes),
                 max(after[a] - before[a] - 1 for a in before)))
        check(served <= rate * elapsed + 1,
              "%d status requests in %.2f s is over %d/s"
              % (served, elapsed, rate))
        check(served >= rate * elapsed / 4,
              "only %d status requests in %.2f s: the server hardly polls"
              % (served, elapsed))


def test_screenshots(args):
    folder = tempfile.mkdtemp(prefix="dht-viz-live-shots-")
    print("    screenshots go to %s" % folder, flush=True)
    with Cluster(args.bin, name="viz-shots", seed=args.seed) as c:
        first = c.start_node()
        for _ in range(7):
            c.start_node(join=first)
        for i in range(40):
            r = c.dht(first, "put", "shot-key-%d" % i, "v%d" % i)
            check(r.code == 0, r.describe())
        proc, url = start_serve(c, first, rate=100)
        with Browser(url, width=1500, height=1000) as b:
            check(wait_page_nodes(b, 8, 15), "the page does not show 8 nodes")
            b.wait_for("document.querySelector('#timeline li') !== null", 5)
            b.eval("document.querySelector('#nodes g.node')"
                   ".dispatchEvent(new MouseEvent('click'))")
            time.sleep(1.5)
            path = os.path.join(folder, "live-8.png")
            b.screenshot(path)
            check(os.path.getsize(path) > 10000, "%s is nearly empty" % path)
            # 56 more at once (joins run concurrently; each is waited
            # for afterwards).
            more = [c.start_node(join=first, wait=False) for _ in range(56)]
            for n in more:
                c.wait_ready(n, timeout=60)
            check(wait_page_nodes(b, 64, 30),
                  "the page does not show 64 ok nodes: %s"
                  % b.eval("document.getElementById('summary').textContent"))
            time.sleep(1.5)
            path = os.path.join(folder, "live-64.png")
            b.screenshot(path)
            check(os.path.getsize(path) > 10000, "%s is nearly empty" % path)
            summary = b.eval("document.getElementById('summary').textContent")
            check(re.match(r"64 nodes: 64 ok", summary),
                  "summary at 64 nodes: %r" % summary)
        with open("/proc/%d/stat" % proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        print("    dht-viz --serve used %.2f s of CPU" % cpu)
        code = stop_serve(proc)
        check(code == 0, "dht-viz --serve exited %s" % code)
    print("    wrote %s" % ", ".join(sorted(os.listdir(folder))))


def test_loopback_only(args):
    """A non-loopback --serve is refused (exit 2, one line naming
    --serve-any) before anything is started."""
    viz = os.path.join(args.bin, "dht-viz")
    r = subprocess.run([viz, "--serve", "192.0.2.1:8080", "--node",
                        "127.0.0.1:1"], capture_output=True, text=True,
                       timeout=10)
    check(r.returncode == 2, "non-loopback --serve exited %d: %s"
          % (r.returncode, r.stderr))
    lines = r.stderr.strip().splitlines()
    check(len(lines) == 1 and "--serve-any" in lines[0],
          "the refusal is not one line naming --serve-any: %r" % r.stderr)
    r = subprocess.run([viz, "--rate", "5"], capture_output=True, text=True,
                       timeout=10)
    check(r.returncode == 2 and "--serve" in r.stderr,
          "--rate without --serve: exit %d, %r" % (r.returncode, r.stderr))


def main():
    args = parse_args(__doc__)
    if not find_chromium():
        print("skip: chromium is not installed (tools/run-tests.sh installs "
              "it)", flush=True)
        return 77
    r = Runner("test_viz_live")
    r.run("--serve refuses a non-loopback address", test_loopback_only, args)
    r.run("live page: join, kill, pause, lookup, gone", test_live, args)
    r.run("crawl rate bounded (32 nodes)", test_rate, args)
    r.run("screenshots at 8 and 64 nodes", test_screenshots, args)
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
