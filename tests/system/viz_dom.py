"""viz_dom.py - what the dht-viz tests share: headless Chromium reading a
page dht-viz drew, as a user's browser renders it.

Role: copy a page (HTML, or an SVG wrapped in a page), add one script at
its end that reads the rendered DOM -- the bounding box (getBBox, in the
ring's SVG units) of every node label, of the key's label and of the id
ticks; every node's state class; the legend's state rows with their
counts and symbols; the title -- and writes it as JSON into a <pre>;
then run `chromium --headless --dump-dom` and parse that JSON back. Also
takes screenshots, synthesises `dht ring --json` snapshots with chosen
ids, and finds overlapping boxes.

Invariants: the page under test is never changed (the script goes into a
copy); Chromium runs with a private profile in the caller's temporary
directory, bounded in time, and is a short-lived command (no daemon).
Python 3 standard library only.
"""

import json
import os
import re
import shutil
import subprocess
import sys

from common import TestFailure, check

CHROMIUM_TIMEOUT = 60.0

# Runs in the page after it is laid out; writes what it measured into
# <pre id="viz-measured">.
MEASURE_JS = r"""
<script>
(function () {
  function box(e) {
    var b = e.getBBox();
    return [b.x, b.y, b.x + b.width, b.y + b.height];
  }
  function dot(g) {
    var d = g.querySelector('.dot');
    return d ? [d.getAttribute('fill'), d.getAttribute('stroke'),
                d.getAttribute('stroke-dasharray') || ''] : null;
  }
  var ring = document.getElementById('ring-svg');
  var out = {labels: [], key: null, ticks: [], nodes: [], legend: [],
             title: '', viewBox: ring.getAttribute('viewBox'),
             width: ring.getAttribute('width'),
             height: ring.getAttribute('height')};
  Array.prototype.forEach.call(ring.querySelectorAll('.label'),
    function (g) {
      out.labels.push({i: Number(g.getAttribute('data-i')), box: box(g),
                       text: g.textContent});
    });
  var k = document.getElementById('key-label');
  if (k) out.key = box(k);
  Array.prototype.forEach.call(ring.querySelectorAll('.tick'),
    function (t) { out.ticks.push(box(t)); });
  Array.prototype.forEach.call(ring.querySelectorAll('.node'),
    function (g) {
      var t = g.querySelector('title');
      out.nodes.push({i: Number(g.getAttribute('data-i')),
                      cls: g.getAttribute('class'),
                      title: t ? t.textContent : '', dot: dot(g)});
    });
  Array.prototype.forEach.call(document.querySelectorAll('.legend-state'),
    function (g) {
      out.legend.push({state: g.getAttribute('data-state'),
                       count: Number(g.getAttribute('data-count')),
                       text: g.textContent, dot: dot(g)});
    });
  var ghost = document.querySelector('.legend-ghost');
  out.legend_ghost = ghost ? {count: Number(ghost.getAttribute('data-count')),
                              dot: dot(ghost)} : null;
  var title = document.getElementById('title');
  out.title = title ? title.textContent : '';
  var pre = document.createElement('pre');
  pre.id = 'viz-measured';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>
"""


def drop_tmp(tmp):
    """Remove a test's temporary directory, or keep it (and say where)
    when DHT_KEEP_LOGS is set."""
    if os.environ.get("DHT_KEEP_LOGS"):
        sys.stderr.write("files kept in %s\n" % tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)


def chromium():
    """The chromium binary, or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _argv(tmp, extra):
    return [chromium(), "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update",
            "--disable-sync",
            "--user-data-dir=" + os.path.join(tmp, "chromium-profile")] + extra


def _run(argv):
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=CHROMIUM_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise TestFailure("chromium did not finish in %.0f s: %s"
                          % (CHROMIUM_TIMEOUT, " ".join(argv[-2:])))
    return p


def page_of_svg(svg_path, html_path):
    """Wrap a standalone SVG in a minimal page (the SVG inline), so the
    measuring script can run next to it."""
    with open(svg_path, encoding="utf-8") as f:
        svg = f.read()
    svg = re.sub(r"^<\?xml[^>]*>\s*", "", svg)
    with open(html_path, "w", encoding="utf-8") as f:
        f.write("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                "</head><body>\n" + svg + "\n</body></html>\n")


def measure(page_path, tmp):
    """Render page_path (an HTML page) in headless Chromium and return
    what MEASURE_JS read from the DOM (a dict)."""
    with open(page_path, encoding="utf-8") as f:
        text = f.read()
    check("</body>" in text, "%s has no </body>" % page_path)
    copy = os.path.join(tmp, "measured-" + os.path.basename(page_path))
    with open(copy, "w", encoding="utf-8") as f:
        f.write(text.replace("</body>", MEASURE_JS + "</body>", 1))
    p = _run(_argv(tmp, ["--window-size=1200,1000", "--dump-dom",
                         "file://" + copy]))
    dom = p.stdout.decode(errors="replace")
    m = re.search(r'<pre id="viz-measured">(.*?)</pre>', dom, re.S)
    check(m is not None, "chromium's DOM of %s has no measurements (exit "
          "%d): %s" % (page_path, p.returncode,
                       p.stderr.decode(errors="replace")[-500:]))
    raw = (m.group(1).replace("&quot;", '"').replace("&lt;", "<")
           .replace("&gt;", ">").replace("&amp;", "&"))
    return json.loads(raw)


def screenshot(page_path, png_path, tmp, size="1400,1000"):
    """A PNG of page_path as Chromium shows it in a size window."""
    p = _run(_argv(tmp, ["--window-size=" + size,
                         "--screenshot=" + png_path, "file://" + page_path]))
    check(os.path.exists(png_path), "chromium wrote no screenshot of %s: "
          "exit %d" % (page_path, p.returncode))


def overlap(a, b, tol=0.5):
    """Do boxes [x0, y0, x1, y1] a and b share more than a sliver?"""
    return (min(a[2], b[2]) - max(a[0], b[0]) > tol and
            min(a[3], b[3]) - max(a[1], b[1]) > tol)


def overlaps(m):
    """Every pair of boxes in measurement m that overlaps: labels with each
    other, with the key's label and with the id ticks; the key's label
    with the ticks. A list of
    sentences, empty when there is none."""
    bad = []
    labels = m["labels"]
    for x in range(len(labels)):
        for y in range(x + 1, len(labels)):
            if overlap(labels[x]["box"], labels[y]["box"]):
                bad.append("label %r %s overlaps label %r %s"
                           % (labels[x]["text"], labels[x]["box"],
                              labels[y]["text"], labels[y]["box"]))
        if m["key"] and overlap(labels[x]["box"], m["key"]):
            bad.append("label %r overlaps the key's label"
                       % labels[x]["text"])
        for t in m["ticks"]:
            if overlap(labels[x]["box"], t):
                bad.append("label %r overlaps an id tick" % labels[x]["text"])
    for t in m["ticks"]:
        if m["key"] and overlap(m["key"], t):
            bad.append("the key's label overlaps an id tick")
    return bad


def status_object(addr, id_int, pred, succs, peers, keys=0, primary=0):
    """One object of `dht ring --json` (the fields dht-viz reads)."""
    def peer(a, i):
        return {"id": "%040x" % i, "addr": a}
    return {"id": "%040x" % id_int, "addr": addr, "state": "active",
            "predecessor": peer(*pred) if pred else None,
            "successors": [peer(a, i) for a, i in succs],
            "fingers": [], "keys": keys, "primary_keys": primary,
            "replicas": 3, "durability": "memory",
            "peers": [{"addr": a, "state": st, "rtt_ms": 1,
                       "timeout_ms": 300, "false_suspicions": 0}
                      for a, st in peers]}


def synth_ring(ids, suspected=(), port0=30000):
    """A consistent `dht ring --json` array of len(ids) nodes with the given
    ids (integers; adjacent ones allowed), addresses 127.0.0.1:port0+k in
    id order; each node in `suspected` (indexes) is reported suspected by
    its predecessor."""
    ids = sorted(ids)
    n = len(ids)
    addrs = ["127.0.0.1:%d" % (port0 + k) for k in range(n)]
    out = []
    for k in range(n):
        succ = [(addrs[(k + s) % n], ids[(k + s) % n])
                for s in range(1, min(n, 9))]
        nxt = (k + 1) % n
        peers = [(addrs[nxt], "suspected" if nxt in suspected else "alive")]
        out.append(status_object(addrs[k], ids[k],
                                 (addrs[k - 1], ids[k - 1]) if n > 1 else None,
                                 succ, peers, keys=3 * k, primary=k))
    return out, addrs
