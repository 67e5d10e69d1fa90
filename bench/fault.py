#!/usr/bin/env python3
"""fault.py - the fault suite's full profile (issue 19): every scenario of
tests/fault/ on a fresh 8-node ring (--replicas 3, --fsync always, --data)
in a private network namespace: kill -9 of one node and of two adjacent
ones (restarted on their data dirs), SIGSTOP 8 s, one node isolated 20 s,
the ring split into halves 20 s, a node flapping every 2 s for 10 s, and
kill -9 of all eight restarted without --join in random order. For each:
writes acknowledged, readable, lost, and the time to one ring after the
heal (see tests/fault/scenarios.py). ctest runs only the short profile
(halves, isolate, restart_all) as fault.<name>.

It is tests/fault/run.py --full: every argument is passed on (--bin DIR
is required; --scenario NAME runs one; --seed N repeats a run). It needs
root or user namespaces, and iptables (tools/run-tests.sh --deps-only
installs it); about 3 minutes.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RUN = os.path.join(os.path.dirname(HERE), "tests", "fault", "run.py")

if __name__ == "__main__":
    args = sys.argv[1:]
    if "--full" not in args:
        args = ["--full"] + args
    os.execv(sys.executable, [sys.executable, RUN] + args)
