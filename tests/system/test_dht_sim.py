#!/usr/bin/env python3
"""test_dht_sim.py - the simulator on the command line (dht-sim) does what
its users rely on.

  (a) Replays: the same --seed gives byte-identical output (text and
      --json), a different seed gives a different run (digest); the seed
      is the first line printed.
  (b) A small ring under churn (N = 64, joins and crashes) finishes in
      seconds with Zave's invariant checked after every event and never
      broken (exit 0, one check per event), and reports its churn.
  (c) Without churn every lookup succeeds: 0 failed lookups, and the hop
      counts are those of a ring with correct fingers (p99 <= log2 N + 2).
  (d) Keys: with 3 replicas and no failure every stored key is read back
      (keys_lost 0); with 1 replica, crashing a quarter of the nodes loses
      about a quarter of the keys (so keys_lost can see a loss).
  (e) A broken invariant stops the run: with one successor per node and
      half the nodes crashed, dht-sim exits 3 and names the seed and the
      event number on stderr.
  (f) Usage errors exit 2 with one line on stderr.
  (g) Latency models: --latency geo and --latency matrix:FILE (a tiny
      generated file) print JSON naming the model, give the same bytes
      twice for one seed, and a static ring still answers every lookup
      with no timeout counted; the delays show (geo lookups take tens of
      ms, not a few) and another matrix gives another run.
  (h) A malformed matrix file or script exits 2 with one line on stderr
      naming FILE:LINE:.
  (i) A script with crash, join, leave, partition and heal completes with
      Zave's invariant checked after every event and never broken, drops
      frames at the cut, and is replayed byte for byte.
  (j) Joins stalled by 3% loss, and crashes, never leave a member without
      a live successor (a joiner that gives up used to leave its
      predecessor with a one-entry successor list naming it: these seeds
      broke the invariant before adopt_successors padded short lists).
  (k) Partitions heal: the ring split into halves for 20 s, then healed,
      at 20 seeds: every time the successor lists are exact again within
      3 s of the heal (before ring unification the halves never merged),
      no stored key is lost, and no lookup circles to the hop limit.

Every run is simulated: no process but dht-sim is started and no socket
is opened. Sizes are small so the whole test stays fast under ASan.

Usage: test_dht_sim.py --bin BUILD_DIR [--seed N].
"""

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import Runner, TestFailure, check, parse_args  # noqa: E402

RUN_TIMEOUT = 120.0  # seconds one dht-sim run may take (ASan, 2 cores)
N = 64


class SimTest:
    def __init__(self, args):
        self.bin = os.path.join(args.bin, "dht-sim")
        self.seed = args.seed
        self.cache = {}  # argv -> parsed JSON, so one run serves two checks
        self.tmp = tempfile.mkdtemp(prefix="dht-sim-test-")

    def close(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def write(self, name, text):
        """Write a file in the private temporary directory; its path."""
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def sim(self, *argv, expect=0):
        """Run dht-sim; return (stdout, stderr). Fail unless the exit code
        is `expect`."""
        cmd = [self.bin] + [str(a) for a in argv]
        try:
            p = subprocess.run(cmd, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True,
                               timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise TestFailure("dht-sim did not finish in %.0f s: %s"
                              % (RUN_TIMEOUT, " ".join(cmd[1:])))
        if p.returncode != expect:
            raise TestFailure("dht-sim %s: exit %d, expected %d; stderr: %s"
                              % (" ".join(cmd[1:]), p.returncode, expect,
                                 p.stderr.strip()[-500:]))
        return p.stdout, p.stderr

    def sim_json(self, *argv):
        key = tuple(str(a) for a in argv)
        if key not in self.cache:
            out, _ = self.sim(*argv, "--json")
            try:
                self.cache[key] = json.loads(out)
            except ValueError:
                raise TestFailure("--json printed no JSON object: %r"
                                  % out[:300])
        return self.cache[key]

    def churn_args(self, seed):
        return ["--nodes", N, "--churn", 4, "--lookups", 300,
                "--duration", 10, "--seed", seed, "--check-every", 1]

    def test_replay(self):
        a, _ = self.sim(*self.churn_args(self.seed))
        b, _ = self.sim(*self.churn_args(self.seed))
        check(a.splitlines()[0] == "seed %d" % self.seed,
              "the first line is not the seed: %r" % a.splitlines()[0])
        check(a == b, "same seed, different output:\n%s\n---\n%s" % (a, b))
        ja = self.sim_json(*self.churn_args(self.seed))
        check(ja["seed"] == self.seed, "JSON seed %r" % ja["seed"])
        check(("digest %s" % ja["digest"]) in a,
              "--json ran another simulation than the text run: digest %s "
              "not in:\n%s" % (ja["digest"], a))
        jc = self.sim_json(*self.churn_args(self.seed + 1))
        check(jc["digest"] != ja["digest"],
              "seeds %d and %d gave the same run (digest %s)"
              % (self.seed, self.seed + 1, ja["digest"]))

    def test_churn_invariant(self):
        j = self.sim_json(*self.churn_args(self.seed))
        for key in ("lookups", "failed_lookups", "mean_hops", "p50_hops",
                    "p99_hops", "mean_latency_ms", "p99_latency_ms",
                    "timeouts_per_lookup", "msgs_per_node_per_s",
                    "keys_lost"):
            check(key in j, "JSON lacks %r: %s" % (key, sorted(j)))
        check(j["joins"] + j["crashes"] > 10,
              "churn 4/s for 10 s made only %d joins and %d crashes"
              % (j["joins"], j["crashes"]))
        check(j["invariant_checks"] >= j["events"] > 0,
              "checked %d times for %d events; expected every event"
              % (j["invariant_checks"], j["events"]))
        check(j["lookups"] + j["aborted_lookups"] == 300,
              "lookups %d + aborted %d != 300"
              % (j["lookups"], j["aborted_lookups"]))
        check(j["failed_lookups"] <= j["lookups"] // 10,
              "%d of %d lookups failed under mild churn: %s"
              % (j["failed_lookups"], j["lookups"], json.dumps(j)))
        check(j["msgs_per_node_per_s"] > 0, "no traffic counted")

    def test_no_churn_no_failure(self):
        j = self.sim_json("--nodes", N, "--lookups", 1000, "--duration", 5,
                          "--seed", self.seed + 2)
        check(j["lookups"] == 1000, "lookups %d" % j["lookups"])
        check(j["failed_lookups"] == 0,
              "%d lookups failed on a static ring: %s"
              % (j["failed_lookups"], json.dumps(j)))
        limit = math.log2(N) + 2
        check(j["p99_hops"] <= limit and 1.0 <= j["mean_hops"] <= limit,
              "hops mean %.2f p99 %d on %d nodes; expected at most %.0f"
              % (j["mean_hops"], j["p99_hops"], N, limit))
        check(j["timeouts_per_lookup"] == 0,
              "timeouts on a static ring: %s" % j["timeouts_per_lookup"])

    def test_keys(self):
        j = self.sim_json("--nodes", N, "--replicas", 3, "--keys", 300,
                          "--lookups", 50, "--duration", 1,
                          "--seed", self.seed + 3)
        check(j["keys_stored"] == 300 and j["keys_lost"] == 0,
              "3 replicas, no failure: stored %d lost %d"
              % (j["keys_stored"], j["keys_lost"]))
        j = self.sim_json("--nodes", N, "--replicas", 1,
                          "--keys", 400, "--fail", 0.25, "--lookups", 50,
                          "--duration", 1, "--seed", self.seed + 4)
        lost = j["keys_lost"] / max(1, j["keys_stored"])
        check(j["failed_nodes"] == 16, "crashed %d" % j["failed_nodes"])
        check(0.05 <= lost <= 0.5,
              "1 replica, 16 of 64 nodes crashed: lost %d of %d keys "
              "(expected about a quarter)"
              % (j["keys_lost"], j["keys_stored"]))

    def test_violation_stops(self):
        out, err = self.sim("--nodes", 32, "--successors", 1, "--replicas", 1,
                            "--fail", 0.5, "--lookups", 10, "--duration", 1,
                            "--seed", self.seed + 5, "--check-every", 1,
                            expect=3)
        check("invariant violated at event" in err and
              "seed %d" % (self.seed + 5) in err,
              "no seed and event number on stderr: %r" % err)
        check(out.startswith("seed %d\n" % (self.seed + 5)),
              "stdout does not start with the seed: %r" % out[:100])

    def test_usage(self):
        for argv in (["--nodes", 0], ["--nodes", 8, "--latency", "const:0"],
                     ["--nodes", 8, "--fail", 1.5], ["--nodes", 8, "--bogus"],
                     ["--lookups", 5], ["--nodes", 8, "--static", "--joins"]):
            _, err = self.sim(*argv, expect=2)
            lines = err.strip().splitlines()
            check(len(lines) == 1 and lines[0].startswith("dht-sim: "),
                  "%s: expected one line on stderr, got %r" % (argv, err))

    def test_latency_models(self):
        base = ["--nodes", 32, "--lookups", 300, "--duration", 3,
                "--seed", self.seed + 6]
        # Two hosts 10 and 25 ms apart (asymmetric), 1 ms within a host.
        m1 = self.write("m1.txt", "# two hosts\n0 10\n25 0  # row 2\n")
        m2 = self.write("m2.txt", "0 10\n26 0\n")
        runs = {}
        for model in ("geo", "geo:3", "matrix:" + m1, "matrix:" + m2):
            argv = base + ["--latency", model, "--json"]
            a, _ = self.sim(*argv)
            b, _ = self.sim(*argv)
            check(a == b, "--latency %s: same seed, different output:\n%s\n"
                  "---\n%s" % (model, a, b))
            try:
                j = json.loads(a)
            except ValueError:
                raise TestFailure("--latency %s printed no JSON: %r"
                                  % (model, a[:300]))
            want = "geo:5" if model == "geo" else model
            check(j["latency"] == want,
                  "latency %r, expected %r" % (j["latency"], want))
            check(j["lookups"] == 300 and j["failed_lookups"] == 0,
                  "--latency %s: %d of %d lookups failed on a static ring: "
                  "%s" % (model, j["failed_lookups"], j["lookups"], a))
            check(j["timeouts_per_lookup"] == 0,
                  "--latency %s: %s timeouts per lookup on a static ring"
                  % (model, j["timeouts_per_lookup"]))
            runs[model] = j
        # Geo: most messages cross continents (40-147 ms one way).
        check(runs["geo"]["mean_latency_ms"] > 40,
              "geo lookups take %.1f ms on average: not continents apart"
              % runs["geo"]["mean_latency_ms"])
        check(runs["geo"]["digest"] != runs["geo:3"]["digest"],
              "geo with 5 and 3 continents gave the same run")
        m = runs["matrix:" + m1]
        check(m["mean_latency_ms"] >= 10,
              "matrix 10/25 ms: lookups take %.1f ms on average"
              % m["mean_latency_ms"])
        check(m["digest"] != runs["matrix:" + m2]["digest"],
              "two different matrices gave the same run (digest %s)"
              % m["digest"])
        # Text output names the model too.
        out, _ = self.sim(*(base + ["--latency", "matrix:" + m1]))
        check(("latency matrix:%s " % m1) in out,
              "text output does not name the matrix: %r" % out[:300])

    def expect_file_error(self, path, argv, line):
        _, err = self.sim(*argv, expect=2)
        lines = err.strip().splitlines()
        check(len(lines) == 1 and
              lines[0].startswith("dht-sim: %s:%d: " % (path, line)),
              "%s: expected one line 'dht-sim: %s:%d: ...' on stderr, got "
              "%r" % (" ".join(str(a) for a in argv), path, line, err))

    def test_bad_files(self):
        matrices = [
            ("0 1\n1\n", 2),             # short row
            ("0 1\n# c\n1 x\n", 3),      # not a number
            ("0 1\n1 0\n2 2\n", 3),      # too many rows
            ("0 1 2\n1 0 2\n", 2),        # too few rows (at the end)
            ("0 -1\n1 0\n", 1),           # negative
            ("0 99999999\n1 0\n", 1),     # too large
            ("# only a comment\n", 1),     # empty
        ]
        for k, (text, line) in enumerate(matrices):
            path = self.write("bad-m%d.txt" % k, text)
            self.expect_file_error(
                path, ["--nodes", 4, "--latency", "matrix:" + path], line)
        scripts = [
            ("1 crash 2\n0.5 heal\n", 2),        # time goes back
            ("# c\n\n1 explode 3\n", 3),        # unknown action
            ("1 crash\n", 1),                    # no count
            ("1 heal now\n", 1),                 # extra argument
            ("1 partition 1.5\n", 1),            # fraction out of range
            ("1 loss 1\n", 1),                   # probability out of range
            ("x crash 1\n", 1),                  # bad time
            ("99 crash 1\n", 1),                 # after --duration
            ("1 join 0\n", 1),                   # zero count
        ]
        for k, (text, line) in enumerate(scripts):
            path = self.write("bad-s%d.txt" % k, text)
            self.expect_file_error(
                path, ["--nodes", 4, "--duration", 10, "--script", path],
                line)
        missing = os.path.join(self.tmp, "no-such-file")
        _, err = self.sim("--nodes", 4, "--script", missing, expect=2)
        check(len(err.strip().splitlines()) == 1 and missing in err,
              "a missing script: %r" % err)

    def test_script(self):
        # The cut lasts 1 s: shorter than the failure detector takes to
        # convict (about 2 s), so no node loses its whole successor list
        # to it (a longer one can; see tools/sim/script.c). Loss comes last here;
        # joins stalled by loss are (j)'s subject.
        path = self.write("script.txt", "\n".join([
            "# scripted faults",
            "1 join 4",
            "2 crash 6",
            "3 partition 0.3",
            "4 heal",
            "5 leave 2",
            "6 loss 0.01",
            ""]))
        argv = ["--nodes", N, "--lookups", 300, "--duration", 8,
                "--seed", self.seed + 7, "--check-every", 1,
                "--script", path]
        a, _ = self.sim(*argv)
        b, _ = self.sim(*argv)
        check(a == b, "script: same seed, different output:\n%s\n---\n%s"
              % (a, b))
        check(("script %s: 6 events applied" % path) in a,
              "no script line in the text output: %r" % a)
        j = self.sim_json(*argv)
        check(j["script"] == path and j["script_events"] == 6,
              "script %r, %d events" % (j["script"], j["script_events"]))
        check(j["script_crashes"] == 6 and j["script_leaves"] == 2 and
              j["script_joins"] + j["script_joins_failed"] == 4,
              "crashes %d (6), leaves %d (2), joins %d + %d failed (4)"
              % (j["script_crashes"], j["script_leaves"], j["script_joins"],
                 j["script_joins_failed"]))
        check(j["partitioned_frames"] > 0,
              "a 1 s cut of 30%% of the nodes dropped no frame")
        check(j["invariant_checks"] >= j["events"] > 0,
              "checked %d times for %d events; expected every event"
              % (j["invariant_checks"], j["events"]))
        check(j["lookups"] + j["aborted_lookups"] == 300,
              "lookups %d + aborted %d != 300"
              % (j["lookups"], j["aborted_lookups"]))


class StalledJoins:
    SEEDS = (101, 130, 137)  # each broke the invariant before the fix

    def __init__(self, t):
        self.t = t

    def test(self):
        path = self.t.write("stalled-joins.txt", "\n".join([
            "0.5 loss 0.03", "1 crash 6", "2 join 6", "3 join 4",
            "5 leave 2", "6 loss 0", ""]))
        for seed in self.SEEDS:
            j = self.t.sim_json("--nodes", 64, "--lookups", 300,
                                "--duration", 8, "--seed", seed,
                                "--check-every", 1, "--script", path)
            check(j["invariant_checks"] >= j["events"] > 0,
                  "seed %d: checked %d times for %d events"
                  % (seed, j["invariant_checks"], j["events"]))


class SplitHeal:
    SEEDS = range(1, 21)
    NODES = 32
    HEAL_S = 22  # the cut lasts from 2 s to 22 s
    WITHIN_MS = 3000  # the ring is exact again this soon after the heal

    def __init__(self, t):
        self.t = t

    def test(self):
        path = self.t.write("split-heal.txt", "\n".join([
            "2 partition 0.5", "%d heal" % self.HEAL_S, ""]))
        for seed in self.SEEDS:
            argv = ["--nodes", self.NODES, "--replicas", 3, "--keys", 200,
                    "--lookups", 200, "--duration", self.HEAL_S + 1,
                    "--seed", seed, "--script", path, "--json",
                    "--log", 1]
            out, err = self.t.sim(*argv)
            j = json.loads(out)
            # repair_ms counts from the end of the measurement, 1 s after
            # the heal; it is capped at 60 s when the ring never mends.
            check(j["partitioned_frames"] > 0,
                  "seed %d: the cut dropped no frame" % seed)
            check(1000 + j["repair_ms"] <= self.WITHIN_MS,
                  "seed %d: successor lists exact %d ms after the heal "
                  "(want <= %d)" % (seed, 1000 + j["repair_ms"],
                                    self.WITHIN_MS))
            check(j["keys_lost"] == 0 and j["keys_put_failed"] == 0,
                  "seed %d: %d keys lost, %d puts failed"
                  % (seed, j["keys_lost"], j["keys_put_failed"]))
            loops = err.count("exceeded")
            check(loops == 0, "seed %d: %d lookups hit the hop limit"
                  % (seed, loops))


def main():
    args = parse_args(__doc__.splitlines()[0])
    runner = Runner("test_dht_sim")
    t = SimTest(args)
    if not os.access(t.bin, os.X_OK):
        print("FAIL: no dht-sim in %s" % args.bin)
        return 1
    runner.run("(a) same seed, same output", t.test_replay)
    runner.run("(b) churn: invariant held at every event",
               t.test_churn_invariant)
    runner.run("(c) no churn: no failed lookup", t.test_no_churn_no_failure)
    runner.run("(d) keys lost, with and without replicas", t.test_keys)
    runner.run("(e) a broken invariant stops the run",
               t.test_violation_stops)
    runner.run("(f) usage errors", t.test_usage)
    try:
        runner.run("(g) latency models: geo and matrix", t.test_latency_models)
        runner.run("(h) bad matrix and script files", t.test_bad_files)
        runner.run("(i) scripted crash, join, partition, heal", t.test_script)
        runner.run("(j) joins stalled by loss keep the invariant",
                   StalledJoins(t).test)
        runner.run("(k) a ring split in halves merges after the heal",
                   SplitHeal(t).test)
    finally:
        t.close()
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
