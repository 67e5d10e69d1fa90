#!/usr/bin/env python3
"""sim_scale.py - how long dht-sim takes and how much memory it needs per
node as the ring grows. It prints figures; it is not a test.

For each N (1000, 3000, 10000, 30000, 100000 by default) it runs, under
/usr/bin/time -v, one

    dht-sim --nodes N --static --churn N/1000 --duration D --lookups L
            --seed S --json

(a static ring of N nodes, then D simulated seconds with L lookups spread
over them and N/1000 joins+crashes per second; at least 1) and prints the
wall time, the peak RSS, RSS per node (KB = 1024 bytes, peak RSS / N), the
events simulated and the lookup results. The table also goes to
bench/results/sim_scale.csv (--csv to change), with the load average at
the start and end of each run: the machine is shared, say how busy it was.

Usage: bench/sim_scale.py [--bin DIR] [--sizes 1000,3000,...]
                          [--duration D] [--lookups L] [--seed S]
                          [--csv FILE]
--bin is the directory holding dht-sim (a Release build; default
build/). One run at a time; nothing runs in parallel.
"""

import argparse
import csv
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

FIELDS = ["nodes", "churn_per_s", "duration_s", "lookups", "wall_s",
          "peak_rss_kb", "kb_per_node", "events", "events_per_s",
          "failed_lookups", "mean_hops", "p99_hops", "joins", "crashes",
          "msgs_per_node_per_s", "load_start", "load_end", "seed", "digest"]


def load1():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def run_one(binary, n, duration, lookups, seed):
    churn = max(1, n // 1000)
    cmd = ["/usr/bin/time", "-v", binary, "--nodes", str(n), "--static",
           "--churn", str(churn), "--duration", str(duration),
           "--lookups", str(lookups), "--seed", str(seed), "--json"]
    l0 = load1()
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.monotonic() - t0
    l1 = load1()
    if p.returncode != 0:
        sys.stderr.write(p.stderr)
        raise SystemExit(f"sim_scale: dht-sim --nodes {n} failed "
                         f"(exit {p.returncode})")
    res = json.loads(p.stdout)
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    rss = int(m.group(1))
    return {
        "nodes": n, "churn_per_s": churn, "duration_s": duration,
        "lookups": lookups, "wall_s": round(wall, 1), "peak_rss_kb": rss,
        "kb_per_node": round(rss / n, 1), "events": res["events"],
        "events_per_s": round(res["events"] / wall),
        "failed_lookups": res["failed_lookups"],
        "mean_hops": res["mean_hops"], "p99_hops": res["p99_hops"],
        "joins": res["joins"], "crashes": res["crashes"],
        "msgs_per_node_per_s": res["msgs_per_node_per_s"],
        "load_start": l0, "load_end": l1, "seed": seed,
        "digest": res["digest"],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(REPO, "build"))
    ap.add_argument("--sizes", default="1000,3000,10000,30000,100000")
    ap.add_argument("--duration", type=int, default=3)
    ap.add_argument("--lookups", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--csv", default=os.path.join(HERE, "results",
                                                  "sim_scale.csv"))
    a = ap.parse_args()
    binary = os.path.join(a.bin, "dht-sim")
    if not os.access(binary, os.X_OK):
        raise SystemExit(f"sim_scale: no {binary}: build it first")
    rows = []
    print(f"{'N':>7} {'wall s':>8} {'peak RSS MB':>12} {'KB/node':>8} "
          f"{'events':>11} {'ev/s':>8} {'failed':>6} {'hops':>6} "
          f"{'load':>9}", flush=True)
    for n in [int(x) for x in a.sizes.split(",")]:
        r = run_one(binary, n, a.duration, a.lookups, a.seed)
        rows.append(r)
        print(f"{n:>7} {r['wall_s']:>8.1f} {r['peak_rss_kb'] / 1024:>12.1f} "
              f"{r['kb_per_node']:>8.1f} {r['events']:>11} "
              f"{r['events_per_s']:>8} {r['failed_lookups']:>6} "
              f"{r['mean_hops']:>6.2f} "
              f"{r['load_start']:>4.1f}-{r['load_end']:<4.1f}", flush=True)
    os.makedirs(os.path.dirname(os.path.abspath(a.csv)), exist_ok=True)
    with open(a.csv, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {a.csv}")


if __name__ == "__main__":
    main()
