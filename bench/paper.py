#!/usr/bin/env python3
"""paper.py - reproduce the Chord paper's simulation experiments with
dht-sim, and write each as a CSV file and an SVG plot.

Role: run `dht-sim --json` once per data point, one run at a time (the
machine has 2 cores), collect the figures, and draw them beside the
paper's. Every run has its own seed (--seed plus a fixed offset per point),
so the whole set replays bit for bit.

The three experiments (names are also what --only takes):
  pathlen  mean and 1st/99th percentile path length against the ring size
           N = 2^3 ... 2^14, static ring (paper: mean about 1/2 log2 N).
  fail     a fraction 0 ... 50% of N = 1000 nodes crashes at once, with
           r = 2 log2 N successors; all lookups are sent the instant after
           the crash (paper: mean path 3.84 -> 5.09, essentially no failed
           lookups). Keys stored beforehand with 3 replicas give keys_lost.
  churn    500 nodes under Poisson joins and crashes. The paper's rates
           (0.05 ... 0.40 events/s, stabilising every 30 s on average) are
           compared with ours in the unit that carries over: crashes per
           stabilisation period, f = (R / 2) * period. The "scaled" series
           runs R = 2 f / period with our 250 ms period (paper: about 3%
           failed lookups at f = 3); the "literal" series runs the paper's
           rates unchanged, which for us is a very gentle churn.
  pns      N = 256, 1024, 4096 nodes on the geo latency model (five
           continents, 2-147 ms one way), with and without proximity
           routing (--pns): mean and p99 lookup latency, hops, messages.

Hops: dht-sim reports the core's count, hops = len(path) - 1 where the
path runs from the contacted node to the owner, the owner last: the
messages that carry the query from node to node until the owner has it.
A node whose successor list reaches the key sends the query straight to
its owner. The paper counts the nodes traversed until the key's
predecessor answers; mean_pred_hops = hops - 1 is written beside it for
comparison (with the jump above it undercounts by the jumps skipped).

Progress: on a terminal, each experiment draws one line on stderr (runs
done of its total, percent, runs per minute, ETA), redrawn in place and
cleared before anything is printed; not on a pipe or a file.

Outputs go to --out (default bench/results): pathlen.csv, fail.csv,
churn.csv, pns.csv, the matching .svg files, and machine.txt (nproc,
lscpu). The
commands run are printed as they start, with their wall time after.

Usage: bench/paper.py --bin BUILD_DIR [--out DIR]
                      [--only pathlen,fail,churn,pns]
                      [--seed S] [--quick]
--quick shrinks every experiment (sizes up to 2^9, fewer lookups, shorter
runs) to check the script itself in a minute; its figures are not the
paper's. Python 3 standard library only; it draws its own SVG.

It does not start real processes or open sockets: dht-sim is a simulator.
"""

import argparse
import csv
import json
import math
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

STABILIZE_MS = 250            # dht-sim's default stabilize period
PAPER_STABILIZE_S = 30.0      # the paper's mean stabilize period
RUN_TIMEOUT_S = 3600          # one dht-sim run may take at most this long
PAPER_PATH_FAIL = {0.0: 3.84, 0.5: 5.09}   # mean path, the fail experiment
PAPER_CHURN_POINT = (3.0, 3.0)  # about 3% failed at 3 crashes per period


def find_bin(d):
    path = os.path.join(d, "dht-sim")
    if not os.access(path, os.X_OK):
        sys.exit("paper.py: no executable dht-sim in %s (build it first: "
                 "cmake -DCMAKE_BUILD_TYPE=Release ...)" % d)
    return path


class Progress:
    """One progress line on stderr while an experiment runs, only when
    stderr is a terminal (the same look as the C programs' line,
    tools/common/progress.h). say() prints a line on stdout without
    tearing the progress line."""

    def __init__(self, label, total):
        self.label, self.total, self.done = label, total, 0
        self.t0 = time.monotonic()
        self.active = sys.stderr.isatty()

    def _line(self):
        el = time.monotonic() - self.t0
        rate = self.done / el if el > 0 else 0.0
        pct = 100 * self.done // self.total if self.total else 0
        if self.done >= self.total:
            eta = "0:00"
        elif self.done:
            left = int((self.total - self.done) / rate)
            eta = "%d:%02d" % (left // 60, left % 60)
        else:
            eta = "?"
        return "%s: %d/%d %d%% %.1f/min ETA %s" % (
            self.label, self.done, self.total, pct, rate * 60, eta)

    def _draw(self, end=""):
        if self.active:
            sys.stderr.write("\r" + self._line() + "\033[K" + end)
            sys.stderr.flush()

    def say(self, text):
        if self.active:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
        print(text, flush=True)
        self._draw()

    def step(self):
        self.done += 1
        self._draw()

    def finish(self):
        self._draw("\n")
        self.active = False


def run_sim(binary, args, log, progress):
    """Run dht-sim with args + --json; return (result dict, wall seconds).
    One step of `progress` when it is done."""
    cmd = [binary] + [str(a) for a in args] + ["--json"]
    shown = " ".join(["dht-sim"] + [str(a) for a in args] + ["--json"])
    progress.say("  $ " + shown)
    t0 = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=RUN_TIMEOUT_S)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        sys.exit("paper.py: dht-sim failed (exit %d): %s\n%s"
                 % (p.returncode, shown, p.stderr.strip()))
    res = json.loads(p.stdout)
    progress.say("    %.1f s wall; lookups %d, failed %d, mean hops %.3f"
                 % (wall, res["lookups"], res["failed_lookups"],
                    res["mean_hops"]))
    progress.step()
    log.append({"command": shown, "wall_s": round(wall, 2)})
    return res, wall


def write_csv(path, rows, fields):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow(r)
    print("wrote " + os.path.relpath(path), flush=True)


# ---- a small SVG line chart ------------------------------------------------

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#555555"]


def esc(s):
    return (str(s).replace("&", "&amp;").replace("<", "&lt;")
            .replace(">", "&gt;"))


def nice_ticks(lo, hi, n=6):
    """About n round tick values covering [lo, hi]."""
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw),
               default=10 * mag)
    ticks = [round(math.floor(lo / step) * step, 10)]
    while ticks[-1] < hi - step * 1e-9:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def fmt_tick(v):
    return ("%d" % v) if abs(v - round(v)) < 1e-9 else ("%g" % v)


def svg_chart(title, xlabel, ylabel, series, width=640, height=400,
              xticks=None, xfmt=fmt_tick, ox=None):
    """An SVG document, or with `ox` an <svg> element placed at x = ox for
    svg_panels(). series: dicts with name, points [(x, y)], and optional
    lo/hi lists (error bars), dash, marker ('o', 's', 'none'), line
    (False: markers only), color."""
    ml, mr, mt, mb = 70, 20, 40, 110
    pw, ph = width - ml - mr, height - mt - mb
    xs = [x for s in series for x, _ in s["points"]]
    ys = [y for s in series for _, y in s["points"]]
    ys += [v for s in series for v in s.get("lo", []) + s.get("hi", [])]
    x0, x1 = min(xs), max(xs)
    if x1 == x0:
        x1 = x0 + 1
    yt = nice_ticks(min(0.0, min(ys)), max(ys) * 1.05 if max(ys) > 0 else 1)
    y0, y1 = yt[0], yt[-1]
    xt = xticks if xticks is not None else nice_ticks(x0, x1)

    def px(x):
        return ml + (x - x0) / (x1 - x0) * pw

    def py(y):
        return mt + ph - (y - y0) / (y1 - y0) * ph

    head = ('<svg x="%d" y="0" ' % ox if ox is not None else
            '<svg xmlns="http://www.w3.org/2000/svg" ')
    out = [head + 'width="%d" height="%d" viewBox="0 0 %d %d" '
           'font-family="sans-serif" font-size="12">'
           % (width, height, width, height),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="22" font-size="15" text-anchor="middle">%s</text>'
           % (width // 2, esc(title))]
    for t in yt:
        out.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" '
                   'stroke="#e5e5e5"/>' % (ml, py(t), ml + pw, py(t)))
        out.append('<text x="%.1f" y="%.1f" text-anchor="end">%s</text>'
                   % (ml - 6, py(t) + 4, fmt_tick(t)))
    for t in xt:
        if x0 - 1e-9 <= t <= x1 + 1e-9:
            out.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" '
                       'stroke="#e5e5e5"/>' % (px(t), mt, px(t), mt + ph))
            out.append('<text x="%.1f" y="%.1f" text-anchor="middle">%s'
                       '</text>' % (px(t), mt + ph + 16, esc(xfmt(t))))
    out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" '
               'stroke="black"/>' % (ml, mt, pw, ph))
    out.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>'
               % (ml + pw / 2, mt + ph + 36, esc(xlabel)))
    out.append('<text transform="translate(16,%.1f) rotate(-90)" '
               'text-anchor="middle">%s</text>' % (mt + ph / 2, esc(ylabel)))
    for k, s in enumerate(series):
        color = s.get("color", COLORS[k % len(COLORS)])
        pts = s["points"]
        dash = ' stroke-dasharray="6,4"' if s.get("dash") else ""
        if len(pts) > 1 and s.get("line", True):
            out.append('<polyline fill="none" stroke="%s" stroke-width="2"%s '
                       'points="%s"/>' % (color, dash, " ".join(
                           "%.1f,%.1f" % (px(x), py(y)) for x, y in pts)))
        for j, (x, y) in enumerate(pts):
            if "lo" in s:
                lo, hi = s["lo"][j], s["hi"][j]
                out.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" '
                           'stroke="%s"/>' % (px(x), py(lo), px(x), py(hi),
                                              color))
                for v in (lo, hi):
                    out.append('<line x1="%.1f" y1="%.1f" x2="%.1f" '
                               'y2="%.1f" stroke="%s"/>'
                               % (px(x) - 4, py(v), px(x) + 4, py(v), color))
            m = s.get("marker", "o")
            if m == "o":
                out.append('<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"/>'
                           % (px(x), py(y), color))
            elif m == "s":
                out.append('<rect x="%.1f" y="%.1f" width="9" height="9" '
                           'fill="none" stroke="%s" stroke-width="2"/>'
                           % (px(x) - 4.5, py(y) - 4.5, color))
        ly = mt + ph + 56 + 16 * (k // 2)
        lx = ml + (k % 2) * (pw // 2)
        out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" '
                   'stroke-width="2"%s/>' % (lx, ly - 4, lx + 24, ly - 4,
                                             color, dash))
        out.append('<text x="%d" y="%d">%s</text>' % (lx + 30, ly,
                                                      esc(s["name"])))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def svg_panels(panels, width=640, height=400):
    """One SVG document with the charts side by side; each panel is a
    dict of svg_chart() keyword arguments."""
    inner = [svg_chart(width=width, height=height, ox=k * width, **p)
             for k, p in enumerate(panels)]
    return ('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
            'viewBox="0 0 %d %d">\n' % (width * len(panels), height,
                                          width * len(panels), height)
            + "".join(inner) + "</svg>\n")


def write_svg(path, doc):
    with open(path, "w") as f:
        f.write(doc)
    print("wrote " + os.path.relpath(path), flush=True)


# ---- the experiments -------------------------------------------------------

def exp_pathlen(binary, out, seed, quick, log):
    print("pathlen: path length against N (static ring)", flush=True)
    top = 9 if quick else 14
    lookups = 2000 if quick else 10000
    rows = []
    progress = Progress("pathlen", top - 2)
    for k in range(3, top + 1):
        n = 2 ** k
        res, wall = run_sim(binary, ["--nodes", n, "--lookups", lookups,
                                     "--duration", 1, "--seed", seed + k],
                            log, progress)
        rows.append(dict(res, log2_nodes=k, half_log2_nodes=k / 2.0,
                         p1_pred_hops=max(res["p1_hops"] - 1, 0),
                         p99_pred_hops=max(res["p99_hops"] - 1, 0),
                         wall_s=round(wall, 1)))
    progress.finish()
    write_csv(os.path.join(out, "pathlen.csv"), rows,
              ["nodes", "log2_nodes", "half_log2_nodes", "lookups",
               "failed_lookups", "mean_hops", "p1_hops", "p50_hops",
               "p99_hops", "mean_pred_hops", "p1_pred_hops", "p99_pred_hops",
               "mean_latency_ms", "p99_latency_ms", "msgs_per_node_per_s",
               "build_ms", "events", "seed", "wall_s"])
    x = [r["log2_nodes"] for r in rows]
    series = [
        {"name": "hops (ours: len(path) - 1), 1st-99th pct",
         "points": list(zip(x, [r["mean_hops"] for r in rows])),
         "lo": [r["p1_hops"] for r in rows],
         "hi": [r["p99_hops"] for r in rows]},
        {"name": "hops to the predecessor (paper's count)",
         "points": list(zip(x, [r["mean_pred_hops"] for r in rows])),
         "marker": "s"},
        {"name": "paper: 1/2 log2 N",
         "points": [(k, k / 2.0) for k in x], "dash": True,
         "marker": "none", "color": "#555555"},
    ]
    write_svg(os.path.join(out, "pathlen.svg"),
              svg_chart("Path length vs ring size (dht-sim)",
                        "number of nodes N", "path length (hops)", series,
                        xticks=x, xfmt=lambda v: "2^%d" % v))
    return rows


def exp_fail(binary, out, seed, quick, log):
    print("fail: lookups after a fraction of the nodes crashed at once",
          flush=True)
    n = 200 if quick else 1000
    r = min(32, round(2 * math.log2(n)))
    lookups = 500 if quick else 2000
    fracs = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]
    # "at once": every lookup is sent the instant after the crash, before
    # any repair; "over 10 s": spread evenly over the 10 s that follow.
    timings = [("at_once", 0, 100), ("over_10s", 10, 150)]
    rows = []
    progress = Progress("fail", len(timings) * len(fracs))
    for timing, duration, off in timings:
        for i, frac in enumerate(fracs):
            res, wall = run_sim(binary, [
                "--nodes", n, "--successors", r, "--replicas", 3,
                "--fail", frac, "--lookups", lookups, "--duration", duration,
                "--seed", seed + off + i], log, progress)
            rows.append(dict(res, timing=timing, failed_fraction=(
                res["failed_lookups"] / res["lookups"]
                if res["lookups"] else 0),
                paper_mean_path=PAPER_PATH_FAIL.get(frac, ""),
                wall_s=round(wall, 1)))
    progress.finish()
    write_csv(os.path.join(out, "fail.csv"), rows,
              ["timing", "fail_fraction", "nodes", "successors",
               "failed_nodes", "lookups", "failed_lookups", "failed_fraction",
               "failed_timeouts", "failed_unavailable", "failed_wrong_owner",
               "failed_owner_down", "mean_hops", "p1_hops", "p99_hops",
               "mean_pred_hops", "paper_mean_path", "timeouts_per_lookup",
               "mean_latency_ms", "p99_latency_ms", "replicas", "keys_stored",
               "keys_lost", "seed", "wall_s"])
    now = [r_ for r_ in rows if r_["timing"] == "at_once"]
    later = [r_ for r_ in rows if r_["timing"] == "over_10s"]
    x = [r_["fail_fraction"] for r_ in now]
    paths = [
        {"name": "mean hops (ours), at once; 1st-99th pct",
         "points": list(zip(x, [r_["mean_hops"] for r_ in now])),
         "lo": [r_["p1_hops"] for r_ in now],
         "hi": [r_["p99_hops"] for r_ in now]},
        {"name": "mean hops to the predecessor, at once",
         "points": list(zip(x, [r_["mean_pred_hops"] for r_ in now])),
         "marker": "s"},
        {"name": "mean hops to the predecessor, over 10 s",
         "points": list(zip(x, [r_["mean_pred_hops"] for r_ in later])),
         "marker": "s", "dash": True},
        {"name": "paper: mean path length",
         "points": sorted(PAPER_PATH_FAIL.items()), "marker": "s",
         "line": False, "color": "#555555"},
    ]
    fails = [
        {"name": "failed lookups (%), at once",
         "points": list(zip(x, [100 * r_["failed_fraction"]
                                for r_ in now]))},
        {"name": "failed lookups (%), over 10 s",
         "points": list(zip(x, [100 * r_["failed_fraction"]
                                for r_ in later])), "dash": True},
        {"name": "timeouts per lookup, at once",
         "points": list(zip(x, [r_["timeouts_per_lookup"] for r_ in now])),
         "color": COLORS[2]},
        {"name": "keys lost (%), 3 replicas",
         "points": list(zip(x, [100 * r_["keys_lost"] /
                                max(1, r_["keys_stored"]) for r_ in now])),
         "color": COLORS[3]},
    ]
    write_svg(os.path.join(out, "fail.svg"), svg_panels([
        dict(title="Path length, N = %d, r = %d, crash at once" % (n, r),
             xlabel="fraction of nodes crashed at once",
             ylabel="path length (hops)", series=paths),
        dict(title="Failures (paper: essentially none)",
             xlabel="fraction of nodes crashed at once",
             ylabel="% of lookups / timeouts per lookup", series=fails)]))
    return rows


def exp_churn(binary, out, seed, quick, log):
    print("churn: lookups under Poisson joins and crashes", flush=True)
    n = 200 if quick else 500
    duration = 20 if quick else 60
    lookups = 500 if quick else 3000
    period = STABILIZE_MS / 1000.0
    paper_rates = [0.05, 0.10, 0.15, 0.20, 0.25, 0.30, 0.35, 0.40]
    if quick:
        paper_rates = [0.10, 0.20, 0.40]
    rows = []
    progress = Progress("churn", 2 * len(paper_rates))
    for series_name in ("scaled", "literal"):
        for i, pr in enumerate(paper_rates):
            f = pr / 2 * PAPER_STABILIZE_S     # crashes per stab. period
            rate = 2 * f / period if series_name == "scaled" else pr
            res, wall = run_sim(binary, [
                "--nodes", n, "--churn", "%g" % rate, "--lookups", lookups,
                "--duration", duration,
                "--seed", seed + (200 if series_name == "scaled" else 300)
                + i], log, progress)
            ours_f = rate / 2 * period
            rows.append(dict(
                res, series=series_name, paper_rate_per_s=pr,
                crashes_per_stab_period=round(ours_f, 4),
                failed_fraction=(res["failed_lookups"] / res["lookups"]
                                 if res["lookups"] else 0),
                wall_s=round(wall, 1)))
    progress.finish()
    write_csv(os.path.join(out, "churn.csv"), rows,
              ["series", "paper_rate_per_s", "churn_per_s",
               "crashes_per_stab_period", "nodes", "duration_s", "joins",
               "crashes", "lookups", "failed_lookups", "failed_fraction",
               "failed_timeouts", "failed_unavailable", "failed_wrong_owner",
               "failed_owner_down", "aborted_lookups", "mean_hops",
               "p1_hops", "p99_hops", "mean_pred_hops",
               "timeouts_per_lookup", "mean_latency_ms", "p99_latency_ms",
               "msgs_per_node_per_s", "seed", "wall_s"])
    sc = [r for r in rows if r["series"] == "scaled"]
    lit = [r for r in rows if r["series"] == "literal"]
    fails = [
        {"name": "failed lookups (%), scaled rates",
         "points": [(r["crashes_per_stab_period"],
                     100 * r["failed_fraction"]) for r in sc]},
        {"name": "failed lookups (%), the paper's rates as is",
         "points": [(r["crashes_per_stab_period"],
                     100 * r["failed_fraction"]) for r in lit],
         "marker": "s"},
        {"name": "paper: about 3% at 3 crashes per period",
         "points": [PAPER_CHURN_POINT], "marker": "s", "line": False,
         "color": "#555555"},
    ]
    costs = [
        {"name": "timeouts per lookup (scaled)",
         "points": [(r["crashes_per_stab_period"],
                     r["timeouts_per_lookup"]) for r in sc]},
        {"name": "mean hops (scaled)",
         "points": [(r["crashes_per_stab_period"], r["mean_hops"])
                    for r in sc], "marker": "s"},
    ]
    xl = "crashes per stabilisation period, (R/2) x period"
    write_svg(os.path.join(out, "churn.svg"), svg_panels([
        dict(title="Lookups under churn, %d nodes, stabilize %d ms"
             % (n, STABILIZE_MS), xlabel=xl, ylabel="% of lookups failed",
             series=fails),
        dict(title="Cost under churn", xlabel=xl,
             ylabel="timeouts per lookup / hops", series=costs)]))
    return rows


def exp_pns(binary, out, seed, quick, log):
    print("pns: lookup latency with and without proximity routing, on the "
          "geo model (five continents)", flush=True)
    sizes = [128, 256] if quick else [256, 1024, 4096]
    lookups = 1000 if quick else 5000
    rows = []
    progress = Progress("pns", 2 * len(sizes))
    for k, n in enumerate(sizes):
        for pns in (False, True):
            # Lookups cross continents: some take over the 1 s default
            # request timeout, which also bounds a whole lookup.
            args = ["--nodes", n, "--latency", "geo", "--lookups", lookups,
                    "--duration", 10, "--rpc-timeout-ms", 3000,
                    "--seed", seed + 300 + k]
            if pns:
                args.append("--pns")
            res, wall = run_sim(binary, args, log, progress)
            rows.append(dict(res, pns=int(pns), wall_s=round(wall, 1)))
    progress.finish()
    write_csv(os.path.join(out, "pns.csv"), rows,
              ["nodes", "pns", "lookups", "failed_lookups", "mean_hops",
               "p99_hops", "mean_latency_ms", "p99_latency_ms",
               "msgs_per_node_per_s", "seed", "wall_s"])
    series = []
    for pns, name in ((0, "plain Chord"), (1, "proximity routing")):
        pts = [r for r in rows if r["pns"] == pns]
        series.append({"name": name + ": mean (bars: to p99)",
                       "points": [(math.log2(r["nodes"]),
                                   r["mean_latency_ms"]) for r in pts],
                       "lo": [r["mean_latency_ms"] for r in pts],
                       "hi": [r["p99_latency_ms"] for r in pts],
                       "marker": "o" if pns == 0 else "s"})
    write_svg(os.path.join(out, "pns.svg"),
              svg_chart("Lookup latency, geo model (dht-sim)",
                        "number of nodes N", "lookup latency (ms)", series,
                        xticks=[math.log2(n) for n in sizes],
                        xfmt=lambda v: "2^%d" % round(v)))
    return rows


def machine_info(out, binary, seed, log):
    lines = ["nproc: %s" % os.cpu_count()]
    if shutil.which("lscpu"):
        p = subprocess.run(["lscpu"], stdout=subprocess.PIPE, text=True)
        lines += p.stdout.splitlines()[:16]
    lines.append("binary: %s" % binary)
    lines.append("base seed: %d" % seed)
    lines.append("")
    lines += ["%7.1f s  %s" % (e["wall_s"], e["command"]) for e in log]
    path = os.path.join(out, "machine.txt")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote " + os.path.relpath(path), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", required=True,
                    help="build directory holding dht-sim (a Release build)")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--only", default="pathlen,fail,churn,pns")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    binary = find_bin(args.bin)
    todo = [x for x in args.only.split(",") if x]
    known = {"pathlen": exp_pathlen, "fail": exp_fail, "churn": exp_churn,
             "pns": exp_pns}
    for x in todo:
        if x not in known:
            ap.error("unknown experiment %r (want pathlen, fail, churn, pns)"
                     % x)
    os.makedirs(args.out, exist_ok=True)
    log = []
    t0 = time.monotonic()
    for x in todo:
        known[x](binary, args.out, args.seed, args.quick, log)
    machine_info(args.out, binary, args.seed, log)
    print("all done in %.0f s" % (time.monotonic() - t0), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
