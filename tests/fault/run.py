#!/usr/bin/env python3
"""run.py - the fault suite (issue 19): a Jepsen-style harness that runs an
8-node ring (--replicas 3, --fsync always, --data) in a private network
namespace, injects faults (kill -9, SIGSTOP, isolation, halves split,
flapping, kill-all and restart without --join), drives concurrent writers
through the `dht` CLI, and after each heal checks that every acknowledged
write reads back with its value through random nodes.

Usage:
  tests/fault/run.py --bin BUILD_DIR [--scenario NAME]... [--seed N]
  tests/fault/run.py --bin BUILD_DIR --full      (every scenario; bench)
  tests/fault/run.py --list

Without --scenario it runs the short profile (halves, isolate,
restart_all); ctest runs each of those as fault.<name>. It re-executes
itself inside a new network namespace (`unshare --net`, or with
--map-root-user when not root); where none can be created it prints one
line starting "SKIP:" and exits 77. Inside, every node has its own
127.0.0.x address; partitions are iptables DROP rules there (netns.py).
It prints one report per scenario (figures and checks, see
scenarios.py) and ends with "fault: N passed, M failed"; the exit code is
0 only when every scenario passed.

Cleanup: each scenario's ring (processes by PID, data in a temp dir) and
firewall rules are removed in a finally; the namespace goes away with the
last process in it. DHT_KEEP_LOGS=1 keeps the temp dirs (logs, data).
"""

import argparse
import os
import random
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import netns  # noqa: E402
import scenarios  # noqa: E402
from ring import FaultRing  # noqa: E402


def parse():
    ap = argparse.ArgumentParser(description="the fault suite (issue 19)")
    ap.add_argument("--bin", help="directory holding dhtd and dht")
    ap.add_argument("--scenario", action="append", default=[],
                    choices=sorted(scenarios.ALL),
                    help="run this scenario (repeatable)")
    ap.add_argument("--full", action="store_true",
                    help="every scenario, with the full profile's bounds")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--list", action="store_true",
                    help="list the scenarios and exit")
    args = ap.parse_args()
    if not args.list and not args.bin:
        ap.error("--bin is required")
    return args


def run_one(name, bin_dir, seed, profile, owner):
    rep = scenarios.Report(name)
    rng = random.Random(seed)
    ring = FaultRing(bin_dir, owner_uids=owner, seed=seed,
                     name="fault-" + name)
    fw = None
    try:
        fw = netns.Firewall(ring.hosts, ring.uids)
        fw.install()
        t0 = time.monotonic()
        ring.start_all()
        took, problem = ring.wait_one_ring(t0, 60.0)
        if took is None:
            rep.check("the ring forms before the fault", False, problem)
            return rep
        rep.figure("start", "8 nodes one ring in %.1f s (partitions by %s)"
                   % (took, fw.mode))
        ctx = scenarios.Ctx(ring, fw, rng, profile, rep)
        try:
            scenarios.ALL[name](ctx)
        finally:
            if ctx.writers is not None:
                ctx.writers.stop()
    except Exception as e:  # noqa: BLE001 - reported as the scenario's
        rep.error = "%s: %s\n%s" % (type(e).__name__, e,
                                    traceback.format_exc(limit=4))
    finally:
        if not rep.passed:
            rep.figure("logs", "tails follow\n" + ring.log_tails(8))
        # No graceful leave: SIGKILL (SIGCONT first for frozen ones),
        # then the Cluster's own cleanup removes the temp dir.
        for i in range(ring.n):
            if ring.slots[i] is not None and ring.slots[i].alive():
                ring.thaw(i)
                ring.kill(i)
        if fw is not None:
            fw.cleanup()
        ring.cleanup()
    return rep


def main():
    if not netns.inside():
        return netns.enter([os.path.abspath(__file__)] + sys.argv[1:])
    args = parse()
    if args.list:
        for name in scenarios.FULL_SET:
            print(name)
        return 0
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1 << 31)
    netns.check_inside()
    netns.lo_up()
    owner = netns.owner_mode_possible()
    names = args.scenario or (scenarios.FULL_SET if args.full
                              else scenarios.SHORT_SET)
    profile = scenarios.FULL if args.full else scenarios.SHORT
    print("fault suite: profile %s, scenarios %s, seed %d (rerun with "
          "--seed %d); nodes %s" % (
              profile.name, ",".join(names), args.seed, args.seed,
              "under a uid each (partitions by connection owner and "
              "address)" if owner else
              "under one uid (partitions by address only: they need dhtd "
              "to bind its outbound connections)"), flush=True)
    passed = failed = 0
    for k, name in enumerate(names):
        t0 = time.monotonic()
        rep = run_one(name, args.bin, args.seed + k, profile, owner)
        print(rep.render(), flush=True)
        print("  (%.0f s)" % (time.monotonic() - t0), flush=True)
        if rep.passed:
            passed += 1
        else:
            failed += 1
    print("fault: %d passed, %d failed" % (passed, failed), flush=True)
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
