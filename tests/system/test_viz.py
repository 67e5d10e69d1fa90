#!/usr/bin/env python3
"""test_viz.py - the topology launcher (tools/dht-topo) and the ring
visualiser (dht-viz), as a user meets them.

  (a) every file in topologies/ passes `dht-viz --check-topology`; a
      malformed file is refused with FILE:LINE:COLUMN, by dht-viz and by
      dht-topo alike (one parser);
  (b) a topology drawn offline (ring64): well-formed SVG with every
      address, DOT accepted by Graphviz;
  (c) `dht-topo up topologies/ring16` starts 16 nodes (a second `up` is
      refused); with keys stored, dht-viz crawls the live ring:
        - SVG: well-formed XML (xmllint), every node's address, the
          highlighted node, the key's lookup path and replica set, and a
          key full of markup characters escaped;
        - HTML: one self-contained page: no http:, https:, //, no src=
          or link to anything, data embedded as JSON naming all 16 nodes;
          --watch rewrites it and it reloads itself (meta refresh);
        - DOT accepted by `dot -Tsvg`; the text table lists every node;
        - a paused node and a killed node are marked (not "ok");
        - a headless Chromium screenshot of the page is not blank (when
          chromium is installed);
  (d) `dht-topo down` leaves none of the recorded PIDs alive;
  (e) `dht-topo run` plays a small scenario (load, kill, restart, check)
      and reports what happened; no process outlives it.

The ring uses 127.0.0.1:7100-7115 (ring16) and 7120-7124 (the scenario);
the other system tests take random ports from 20000 up, and CTest runs
system tests one at a time. Run state goes to a private temporary
directory ($DHT_TOPO_RUN), never to the repository's run/.

Usage: test_viz.py --bin BUILD_DIR [--seed N].
"""

import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import (Runner, TestFailure, check, parse_args,  # noqa: E402
                    port_is_free, run_cmd)

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TOPO_DIR = os.path.join(REPO, "topologies")
DHT_TOPO = os.path.join(REPO, "tools", "dht-topo")
RING16 = os.path.join(TOPO_DIR, "ring16")
RING16_ADDRS = ["127.0.0.1:%d" % p for p in range(7100, 7116)]
SCENARIO_PORTS = list(range(7120, 7125))
UP_TIMEOUT = 240.0     # dht-topo up of 16 sanitized nodes on 2 cores
DOWN_TIMEOUT = 240.0
RUN_TIMEOUT = 300.0    # the small scenario, up and down included
MARK_TIMEOUT = 20.0    # a peer marks a paused node


class Env:
    """Paths and environment shared by the checks."""

    def __init__(self, bin_dir):
        self.bin = os.path.abspath(bin_dir)
        self.viz = os.path.join(self.bin, "dht-viz")
        self.dht = os.path.join(self.bin, "dht")
        self.tmp = tempfile.mkdtemp(prefix="dht-viz-test-")
        self.run_root = os.path.join(self.tmp, "run")
        self.env = dict(os.environ, DHT_BIN=self.bin,
                        DHT_TOPO_RUN=self.run_root)
        self.pids = {}  # address -> pid, as dht-topo recorded them

    def topo(self, *args, timeout=UP_TIMEOUT, env=None):
        """Run tools/dht-topo with DHT_BIN and DHT_TOPO_RUN set."""
        try:
            p = subprocess.run([DHT_TOPO] + list(args), env=env or self.env,
                               stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TestFailure("dht-topo %s did not finish in %.0f s"
                              % (" ".join(args), timeout))
        return p.returncode, p.stdout.decode(errors="replace"), \
            p.stderr.decode(errors="replace")

    def viz_run(self, *args, timeout=120):
        return run_cmd([self.viz] + list(args), timeout=timeout)

    def read_pids(self, name):
        """The PIDs of the run directory's pid files, by address."""
        d = os.path.join(self.run_root, name)
        out = {}
        if not os.path.isdir(d):
            return out
        for f in os.listdir(d):
            if f.endswith(".pid"):
                try:
                    with open(os.path.join(d, f)) as fh:
                        out[f[:-4].replace("_", ":")] = int(fh.read().strip())
                except (OSError, ValueError):
                    pass
        return out


def pid_alive(pid):
    """A live, non-zombie process with that PID."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
        return st.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def is_dhtd(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return b"dhtd" in f.read()
    except OSError:
        return False


def kill_leftovers(pids):
    """Last resort after a failed test: SIGKILL the recorded PIDs that still
    run dhtd (never anything by name)."""
    for pid in pids:
        if pid_alive(pid) and is_dhtd(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def xmllint_ok(path):
    """None when xmllint accepts the file, else its complaint."""
    if not shutil.which("xmllint"):
        raise TestFailure("xmllint is not installed (apt-get install "
                          "libxml2-utils; tools/run-tests.sh does it)")
    r = run_cmd(["xmllint", "--noout", path], timeout=60)
    return None if r.code == 0 else r.err[:500]


def read_text(path):
    with open(path, "r", encoding="utf-8") as f:
        return f.read()


# ---- PNG: decode with zlib only, to tell a blank screenshot --------------

def png_pixels(path):
    """(width, height, rows of bytes, bytes per pixel) of an 8-bit RGB or
    RGBA PNG, unfiltered."""
    with open(path, "rb") as f:
        data = f.read()
    check(data[:8] == b"\x89PNG\r\n\x1a\n", "%s is not a PNG" % path)
    pos, idat, w, h, bpp = 8, b"", 0, 0, 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        ctype = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if ctype == b"IHDR":
            w, h, depth, colour = struct.unpack(">IIBB", body[:10])
            check(depth == 8 and colour in (2, 6),
                  "unexpected PNG format (depth %d, colour %d)"
                  % (depth, colour))
            bpp = 3 if colour == 2 else 4
        elif ctype == b"IDAT":
            idat += body
        elif ctype == b"IEND":
            break
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        ftype = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if ftype == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xff
        elif ftype == 2:
            for i in range(stride):
                line[i] = (line[i] + prev[i]) & 0xff
        elif ftype == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xff
        elif ftype == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pr) & 0xff
        rows.append(bytes(line))
        prev = line
    return w, h, rows, bpp


# ---- the checks ------------------------------------------------------------

def check_topology_files(e):
    names = sorted(n for n in os.listdir(TOPO_DIR)
                   if os.path.isfile(os.path.join(TOPO_DIR, n))
                   and not n.startswith("."))
    for want in ("single", "ring5", "ring16", "ring64", "churn16", "hosts8"):
        check(want in names, "topologies/%s is missing" % want)
    for n in names:
        r = e.viz_run("--check-topology", os.path.join(TOPO_DIR, n))
        check(r.code == 0 and "ok" in r.out, "topologies/%s: %s"
              % (n, r.describe()))
    bad = os.path.join(e.tmp, "bad-topology")
    with open(bad, "w") as f:
        f.write("# a node with a bad port\nring successors=4\n"
                "node 127.0.0.1:7000\nnode   127.0.0.1:99999\n")
    want = "%s:4:18: port 99999 is out of range" % bad
    r = e.viz_run("--check-topology", bad)
    check(r.code == 1 and r.err.startswith(want),
          "expected exit 1 and '%s...': %s" % (want, r.describe()))
    code, out, err = e.topo("up", bad, timeout=60)
    check(code != 0 and want in err,
          "dht-topo up of a malformed file: expected '%s', got exit %d, "
          "stderr %r" % (want, code, err[:300]))
    bad2 = os.path.join(e.tmp, "bad-scenario")
    with open(bad2, "w") as f:
        f.write("node 127.0.0.1:7000\nat 5 kill 7\n")
    want = "%s:2:11: no node '7'" % bad2
    code, out, err = e.topo("run", bad2, timeout=60)
    check(code != 0 and want in err,
          "dht-topo run of a bad scenario: expected '%s', got exit %d, "
          "stderr %r" % (want, code, err[:300]))


def check_offline(e):
    ring64 = os.path.join(TOPO_DIR, "ring64")
    svg = os.path.join(e.tmp, "ring64.svg")
    r = e.viz_run("--topology", ring64, "--key", "apple", "--output", svg)
    check(r.code == 0, r.describe())
    problem = xmllint_ok(svg)
    check(problem is None, "ring64.svg is not well-formed: %s" % problem)
    text = read_text(svg)
    for p in range(7200, 7264):
        check("127.0.0.1:%d" % p in text,
              "ring64.svg does not name 127.0.0.1:%d" % p)
    dot = os.path.join(e.tmp, "ring64.dot")
    r = e.viz_run("--topology", ring64, "--format", "dot", "--output", dot)
    check(r.code == 0, r.describe())
    dot_accepts(dot)


def dot_accepts(path):
    if not shutil.which("dot"):
        raise TestFailure("graphviz's dot is not installed (apt-get install "
                          "graphviz; tools/run-tests.sh does it)")
    r = run_cmd(["dot", "-Tsvg", "-o", os.devnull, path], timeout=120)
    check(r.code == 0, "dot -Tsvg refuses %s: %s" % (path, r.describe()))


def check_up(e, state):
    for p in range(7100, 7116):
        check(port_is_free(p), "port %d is in use: is ring16 running? (stop "
              "it: tools/dht-topo down topologies/ring16)" % p)
    code, out, err = e.topo("up", RING16)
    state["up"] = True
    e.pids = e.read_pids("ring16")
    check(code == 0, "dht-topo up failed (exit %d): %s %s"
          % (code, out[-1500:], err[-1500:]))
    check(sorted(e.pids) == sorted(RING16_ADDRS),
          "pid files for %s, expected the 16 ring16 nodes" % sorted(e.pids))
    for a, pid in e.pids.items():
        check(pid_alive(pid) and is_dhtd(pid), "%s (pid %d) is not a "
              "running dhtd" % (a, pid))
    for a in RING16_ADDRS:
        check(a in out, "the table of `up` does not list %s" % a)
    code, out, err = e.topo("up", RING16, timeout=60)
    check(code != 0 and "already up" in err,
          "a second up: expected a refusal naming 'already up', got exit "
          "%d, %r" % (code, err[:300]))
    # Keys, so the ranges have something to shade.
    for i in range(48):
        r = run_cmd([e.dht, "--node", RING16_ADDRS[i % 16], "put",
                     "viz-key-%d" % i, "value-%d" % i], timeout=30)
        check(r.code == 0, r.describe())


def check_svg(e):
    svg = os.path.join(e.tmp, "live.svg")
    r = e.viz_run("--node", "127.0.0.1:7104", "--key", "viz-key-7",
                  "--highlight", "127.0.0.1:7109", "--output", svg)
    check(r.code == 0, r.describe())
    problem = xmllint_ok(svg)
    check(problem is None, "live.svg is not well-formed: %s" % problem)
    text = read_text(svg)
    for a in RING16_ADDRS:
        check(a in text, "live.svg does not name %s" % a)
    check("viz-key-7" in text and "owner of the key" in text,
          "live.svg has no key trace")
    look = run_cmd([e.dht, "--node", "127.0.0.1:7104", "lookup", "viz-key-7",
                    "--json"], timeout=30)
    check(look.code == 0, look.describe())
    lk = json.loads(look.out)
    check("owner %s" % lk["owner"]["addr"] in text,
          "live.svg does not name the key's owner %s" % lk["owner"]["addr"])
    # Markup in a key is escaped, never emitted raw.
    evil = '<script>alert("x")</script>&amp;\'/>'
    svg2 = os.path.join(e.tmp, "evil.svg")
    r = e.viz_run("--node", "127.0.0.1:7100", "--key", evil, "--output", svg2)
    check(r.code == 0, r.describe())
    problem = xmllint_ok(svg2)
    check(problem is None, "the SVG of a key with markup is not "
          "well-formed: %s" % problem)
    check("<script" not in read_text(svg2), "a key's markup leaked into "
          "the SVG")
    html2 = os.path.join(e.tmp, "evil.html")
    r = e.viz_run("--node", "127.0.0.1:7100", "--key", evil, "--output",
                  html2)
    check(r.code == 0, r.describe())
    check("<script>alert" not in read_text(html2),
          "a key's markup leaked into the HTML")
    check(read_text(html2).count("<script") == 2,
          "the HTML should hold exactly its two script elements")


# Anything that would make the page load something from elsewhere.
EXTERNAL = [
    (re.compile(r"https?:", re.I), "http: or https:"),
    (re.compile(r"//"), "//"),
    (re.compile(r"""\bsrc\s*=\s*["']?(?!data:)""", re.I), "src= (not data:)"),
    (re.compile(r"<link\b", re.I), "<link>"),
    (re.compile(r"@import", re.I), "@import"),
    (re.compile(r"url\(\s*(?!#)", re.I), "url() other than url(#...)"),
    (re.compile(r"\b(href|xlink:href)\s*=\s*[\"']?(?!#)", re.I),
     "href to anything but #"),
]


def check_html(e):
    html = os.path.join(e.tmp, "live.html")
    r = e.viz_run("--node", "127.0.0.1:7107", "--key", "viz-key-3",
                  "--output", html)
    check(r.code == 0, r.describe())
    text = read_text(html)
    for rx, what in EXTERNAL:
        m = rx.search(text)
        check(m is None, "the page has %s: ...%s..." % (
            what, text[max(0, m.start() - 60):m.end() + 60] if m else ""))
    for a in RING16_ADDRS:
        check(a in text, "the page does not name %s" % a)
    m = re.search(r'<script type="application/json" id="ring-data">(.*?)'
                  r'</script>', text, re.S)
    check(m is not None, "the page has no embedded ring data")
    data = json.loads(m.group(1))
    addrs = sorted(n["addr"] for n in data["nodes"])
    check(addrs == sorted(RING16_ADDRS), "the embedded data lists %s" % addrs)
    for n in data["nodes"]:
        check(n["fingers"] and n["succ"] and n["peers"] is not None,
              "node %s has no fingers or successors in the page data"
              % n["addr"])
    check("http-equiv=\"refresh\"" not in text,
          "a page written once must not reload itself")
    # --watch: rewritten every second, reloading itself.
    watched = os.path.join(e.tmp, "watch.html")
    t0 = time.monotonic()
    r = e.viz_run("--node", "127.0.0.1:7100", "--watch", "1", "--count", "2",
                  "--output", watched, timeout=120)
    took = time.monotonic() - t0
    check(r.code == 0, r.describe())
    check(r.err.count("wrote") == 2, "--watch 1 --count 2 should report two "
          "drawings: %r" % r.err)
    check(took >= 0.9, "--watch 1 --count 2 took %.2f s, less than the "
          "1 s between drawings" % took)
    check('<meta http-equiv="refresh" content="1">' in read_text(watched),
          "the watched page does not reload itself every second")
    r = e.viz_run("--node", "127.0.0.1:7100", "--watch", "1")
    check(r.code == 2, "--watch without --output must be a usage error: "
          + r.describe())


def check_dot_and_text(e):
    dot = os.path.join(e.tmp, "live.dot")
    r = e.viz_run("--node", "127.0.0.1:7100", "--key", "viz-key-1",
                  "--output", dot)
    check(r.code == 0, r.describe())
    dot_accepts(dot)
    check("style=dashed" in read_text(dot), "the DOT has no finger edges")
    r = e.viz_run("--node", "127.0.0.1:7100")
    check(r.code == 0, r.describe())
    check("16 nodes (16 answered)" in r.out, "text: %r" % r.out[:200])
    for a in RING16_ADDRS:
        check(a in r.out, "the text table does not list %s" % a)
    r = e.viz_run("--node", "127.0.0.1:7999")
    check(r.code == 3 and "cannot reach" in r.err,
          "a node nobody listens on: expected exit 3: " + r.describe())


def health_of(e, addr):
    """The HEALTH column of `addr` in dht-viz's text table, or None."""
    r = e.viz_run("--node", "127.0.0.1:7100", "--timeout-ms", "700")
    if r.code != 0:
        return None
    for line in r.out.splitlines():
        f = line.split()
        if len(f) > 3 and f[1] == addr:
            return f[3]
    return None


def check_marks(e):
    paused = "127.0.0.1:7110"
    code, out, err = e.topo("pause", RING16, paused, timeout=60)
    check(code == 0, "pause: %s %s" % (out, err))
    try:
        deadline = time.monotonic() + MARK_TIMEOUT
        health = None
        while time.monotonic() < deadline:
            health = health_of(e, paused)
            if health and health.rstrip("*") in ("suspected", "dead",
                                                 "unreachable"):
                break
            time.sleep(0.5)
        check(health and health.rstrip("*") != "ok",
              "a paused node is still drawn as %r after %.0f s"
              % (health, MARK_TIMEOUT))
        svg = os.path.join(e.tmp, "paused.svg")
        r = e.viz_run("--node", "127.0.0.1:7100", "--timeout-ms", "700",
                      "--output", svg)
        check(r.code == 0, r.describe())
        check(xmllint_ok(svg) is None, "paused.svg is not well-formed")
        titles = re.findall(r"<title>" + re.escape(paused) +
                            r" \(id [0-9a-f]{8}\)([^<]*)</title>",
                            read_text(svg))
        check(any(re.search(r"did not answer|suspected by [1-9]|: dead|"
                            r": suspected|dead by [1-9]", t) for t in titles),
              "the SVG does not mark %s: %s" % (paused, titles))
    finally:
        e.topo("resume", RING16, paused, timeout=60)
    killed = "127.0.0.1:7113"
    code, out, err = e.topo("kill", RING16, killed, timeout=60)
    check(code == 0, "kill: %s %s" % (out, err))
    deadline = time.monotonic() + MARK_TIMEOUT
    health = None
    while time.monotonic() < deadline:
        health = health_of(e, killed)
        if health and health.rstrip("*") != "ok":
            break
        time.sleep(0.5)
    check(health is not None and health.rstrip("*") != "ok",
          "a killed node is still drawn as %r" % health)
    code, out, err = e.topo("restart", RING16, killed, timeout=120)
    check(code == 0 and "restarted" in out, "restart: %s %s" % (out, err))
    e.pids = e.read_pids("ring16")


def check_screenshot(e):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        print("skip screenshot: chromium is not installed (tools/run-tests.sh "
              "installs it)", flush=True)
        return
    html = os.path.join(e.tmp, "shot.html")
    r = e.viz_run("--node", "127.0.0.1:7100", "--key", "viz-key-5",
                  "--highlight", "127.0.0.1:7105", "--output", html)
    check(r.code == 0, r.describe())
    png = os.path.join(e.tmp, "shot.png")
    profile = os.path.join(e.tmp, "chromium-profile")
    argv = [chromium, "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--user-data-dir=" + profile,
            "--screenshot=" + png, "--window-size=1200,1000",
            "file://" + html]
    r = run_cmd(argv, timeout=120)
    check(os.path.exists(png), "chromium wrote no screenshot: "
          + r.describe())
    w, h, rows, bpp = png_pixels(png)
    check(w >= 1000 and h >= 800, "screenshot is %dx%d" % (w, h))
    colours, non_white = set(), 0
    for y in range(0, h, 4):
        row = rows[y]
        for x in range(0, w, 4):
            px = row[x * bpp:x * bpp + 3]
            colours.add(px)
            if px[0] < 235 or px[1] < 235 or px[2] < 235:
                non_white += 1
    samples = ((h + 3) // 4) * ((w + 3) // 4)
    check(len(colours) > 1, "the screenshot has a single colour")
    check(non_white > samples // 100, "the screenshot is nearly blank: %d "
          "of %d sampled pixels are not white" % (non_white, samples))
    # The ring's blues are there (the shaded ranges and the nodes).
    blues = sum(1 for c in colours if c[2] > c[0] + 40)
    check(blues > 5, "the screenshot shows no blue of the ring")


def check_down(e, state):
    pids = dict(e.pids)
    pids.update(e.read_pids("ring16"))
    code, out, err = e.topo("down", RING16, timeout=DOWN_TIMEOUT)
    state["up"] = False
    check(code == 0, "down failed: %s %s" % (out, err))
    time.sleep(0.2)
    left = [(a, p) for a, p in pids.items() if pid_alive(p) and is_dhtd(p)]
    check(not left, "processes left after down: %s" % left)
    check(not e.read_pids("ring16"), "pid files left after down")
    for p in range(7100, 7116):
        check(port_is_free(p), "port %d is still taken after down" % p)


def check_run(e):
    for p in SCENARIO_PORTS:
        check(port_is_free(p), "port %d is in use" % p)
    topo = os.path.join(e.tmp, "scenario5")
    with open(topo, "w") as f:
        f.write("# five nodes under load: one crashes and comes back\n"
                "ring successors=4 replicas=3 stabilize_ms=200\n")
        for p in SCENARIO_PORTS[:4]:
            f.write("node 127.0.0.1:%d\n" % p)
        f.write("at 0 load put 40 rate=20\n"
                "at 1 kill 2\n"
                "at 3 restart 127.0.0.1:%d\n"
                "at 4 join 127.0.0.1:%d\n"
                "at 6 check\n" % (SCENARIO_PORTS[2], SCENARIO_PORTS[4]))
    env = dict(e.env, DHT_TOPO_SETTLE_WAIT="90")
    try:
        code, out, err = e.topo("run", topo, timeout=RUN_TIMEOUT, env=env)
    finally:
        pids = e.read_pids("scenario5")
        kill_leftovers(pids.values())
    report = out + err
    check(code == 0, "run failed (exit %d):\n%s" % (code, report[-3000:]))
    for want in ("killed 127.0.0.1:%d" % SCENARIO_PORTS[2],
                 "restarted 127.0.0.1:%d" % SCENARIO_PORTS[2],
                 "joined 127.0.0.1:%d" % SCENARIO_PORTS[4],
                 "check: ring correct (5 nodes)",
                 "acknowledged keys readable",
                 "== what happened", "totals:", "load step 1",
                 "run: every step succeeded"):
        check(want in report, "the run report lacks %r:\n%s"
              % (want, report[-3000:]))
    m = re.search(r"(\d+) of (\d+) acknowledged keys readable", report)
    check(m and m.group(1) == m.group(2) and int(m.group(2)) > 0,
          "not every acknowledged key was readable: %s"
          % (m.group(0) if m else report[-1500:]))
    ops = os.path.join(e.run_root, "scenario5", "ops.tsv")
    with open(ops) as f:
        check(sum(1 for _ in f) == 40, "ops.tsv should list the 40 puts")
    time.sleep(0.2)
    left = [(a, p) for a, p in pids.items() if pid_alive(p) and is_dhtd(p)]
    check(not left, "processes left after run: %s" % left)


def main():
    args = parse_args(__doc__.splitlines()[0])
    e = Env(args.bin)
    for b in (e.viz, e.dht, os.path.join(e.bin, "dhtd")):
        if not os.access(b, os.X_OK):
            print("FAIL %s is missing (build dht-viz, dht and dhtd)" % b)
            return 1
    if not shutil.which("jq"):
        print("FAIL jq is not installed (tools/dht-topo needs it; "
              "tools/run-tests.sh installs it)")
        return 1
    runner = Runner("test_viz")
    state = {"up": False}
    try:
        runner.run("topology files parse; errors name FILE:LINE:COLUMN",
                   check_topology_files, e)
        runner.run("offline drawing of ring64 (SVG, DOT)", check_offline, e)
        if runner.run("dht-topo up topologies/ring16", check_up, e, state):
            runner.run("live SVG", check_svg, e)
            runner.run("self-contained HTML, --watch", check_html, e)
            runner.run("DOT and text", check_dot_and_text, e)
            runner.run("paused and killed nodes are marked", check_marks, e)
            runner.run("headless Chromium screenshot", check_screenshot, e)
        runner.run("dht-topo down leaves no process", check_down, e, state)
        runner.run("dht-topo run plays a scenario", check_run, e)
    finally:
        if state["up"]:
            e.topo("down", RING16, timeout=DOWN_TIMEOUT)
        kill_leftovers(list(e.pids.values()) +
                       list(e.read_pids("ring16").values()))
        if os.environ.get("DHT_KEEP_LOGS"):
            sys.stderr.write("logs kept in %s\n" % e.tmp)
        else:
            shutil.rmtree(e.tmp, ignore_errors=True)
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
