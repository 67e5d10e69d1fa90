#!/usr/bin/env python3
"""test_systemd.py - dhtd under a service manager (issue 16): the
sd_notify protocol as systemd speaks it, played by this test, and the
unit file contrib/systemd/dhtd@.service.

What a user (systemd) would notice, checked in order:
  1. a node joining a ring whose seed is frozen (SIGSTOP) for a moment:
     with NOTIFY_SOCKET set to a datagram socket this test owns and
     WATCHDOG_USEC=400000, it sends WATCHDOG=1 pings (about every 200
     ms) but no READY=1 while it joins; once the seed thaws, READY=1
     comes, and `dht status` then says active; on SIGTERM, STOPPING=1
     comes and the process exits 0;
  2. an abstract socket name ("@name") works the same (READY=1 from a
     node that creates a ring); WATCHDOG_PID naming another process
     means no pings;
  3. `systemd-analyze verify` accepts the unit without a warning (with
     ExecStart pointed at the dhtd under test, which is not installed);
     skipped, with the reason printed, where systemd-analyze is missing.

Usage: test_systemd.py --bin BUILD_DIR [--seed N]. Every daemon is
stopped by PID on every way out (see common.py).
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import Cluster, check, parse_args, run_steps  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
UNIT = os.path.join(REPO, "contrib", "systemd", "dhtd@.service")
WATCHDOG_USEC = 400000
FREEZE_S = 1.5
READY_TIMEOUT = 15.0
STOP_TIMEOUT = 20.0


class Notify:
    """A datagram socket standing in for systemd's notification socket."""

    def __init__(self, tmp, abstract=False):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = "dht-test-%d-%d" % (os.getpid(), time.monotonic_ns())
            self.sock.bind("\0" + name)
            self.env = "@" + name
        else:
            path = os.path.join(tmp, "notify-%d.sock" % time.monotonic_ns())
            self.sock.bind(path)
            self.env = path
        self.msgs = []   # (monotonic time, {VAR: VALUE})

    def poll(self, seconds):
        """Collect datagrams for `seconds`."""
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                return
            fields = dict(line.split("=", 1)
                          for line in data.decode().splitlines() if "=" in line)
            self.msgs.append((time.monotonic(), fields))

    def wait_for(self, var, timeout):
        """Collect until a datagram sets `var`; its time, or None."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for t, f in self.msgs:
                if var in f:
                    return t
            self.poll(0.1)
        return None

    def count(self, var):
        return sum(1 for _, f in self.msgs if var in f)

    def close(self):
        self.sock.close()


class SystemdTest:
    def __init__(self, args):
        self.c = Cluster(args.bin, name="systemd", seed=args.seed)
        self.bin = args.bin

    def spawn(self, notify, join=None, env=None):
        """Start a node with NOTIFY_SOCKET (and `env`) set for it only."""
        saved = dict(os.environ)
        os.environ["NOTIFY_SOCKET"] = notify.env
        os.environ.update(env or {})
        try:
            return self.c.start_node(join=join, wait=False)
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def step_join_ready_stop(self):
        seed = self.c.start_node()
        n = Notify(self.c.tmp)
        try:
            self.c.signal_node(seed, signal.SIGSTOP)
            try:
                node = self.spawn(n, join=seed,
                                  env={"WATCHDOG_USEC": str(WATCHDOG_USEC)})
                n.poll(FREEZE_S)
            finally:
                self.c.signal_node(seed, signal.SIGCONT)
            check(n.count("READY") == 0,
                  "READY=1 while the seed was frozen (the node had not "
                  "joined): %s" % n.msgs)
            check(n.count("WATCHDOG") >= 3,
                  "%d WATCHDOG=1 in %.1f s with WATCHDOG_USEC=%d"
                  % (n.count("WATCHDOG"), FREEZE_S, WATCHDOG_USEC))
            t = n.wait_for("READY", READY_TIMEOUT)
            check(t is not None, "no READY=1 within %.0f s of the thaw; log:"
                  "\n%s" % (READY_TIMEOUT, node.log_tail()))
            r = self.c.dht_json(node, "status", "--json")
            check(r.get("state", "active") == "active",
                  "READY=1 sent, yet status says %s" % r.get("state"))
            node.proc.send_signal(signal.SIGTERM)
            t_stop = n.wait_for("STOPPING", STOP_TIMEOUT)
            check(t_stop is not None and t_stop > t,
                  "no STOPPING=1 after SIGTERM: %s" % n.msgs[-5:])
            code = self.c.stop_node(node)
            check(code == 0, "dhtd exited %s after SIGTERM; log:\n%s"
                  % (code, node.log_tail()))
        finally:
            n.close()

    def step_abstract(self):
        n = Notify(self.c.tmp, abstract=True)
        try:
            node = self.spawn(n, env={"WATCHDOG_USEC": str(WATCHDOG_USEC),
                                      "WATCHDOG_PID": "1"})
            t = n.wait_for("READY", READY_TIMEOUT)
            check(t is not None, "no READY=1 on the abstract socket %s; "
                  "log:\n%s" % (n.env, node.log_tail()))
            n.poll(0.5)
            check(n.count("WATCHDOG") == 0,
                  "WATCHDOG=1 although WATCHDOG_PID names another process")
            self.c.stop_node(node)
            check(n.wait_for("STOPPING", 2.0) is not None,
                  "no STOPPING=1 on the abstract socket")
        finally:
            n.close()

    def step_verify(self):
        tool = shutil.which("systemd-analyze")
        if not tool:
            print("SKIP systemd-analyze verify: systemd-analyze is not "
                  "installed here")
            return
        d = tempfile.mkdtemp(dir=self.c.tmp)
        dhtd = os.path.abspath(os.path.join(self.bin, "dhtd"))
        with open(UNIT) as f:
            text = f.read()
        check("ExecStart=/usr/local/bin/dhtd --config /etc/dht/%i.conf"
              in text, "the unit's ExecStart changed; update this test")
        with open(os.path.join(d, "dhtd@.service"), "w") as f:
            f.write(text.replace("/usr/local/bin/dhtd", dhtd))
        p = subprocess.run([tool, "verify", "--man=no",
                            os.path.join(d, "dhtd@node1.service")],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=60)
        out = p.stdout.decode(errors="replace").strip()
        check(p.returncode == 0 and not out,
              "systemd-analyze verify: exit %d: %s" % (p.returncode, out))

    def run(self):
        return run_steps("test_systemd", self.c, [
            ("READY=1 after the join, watchdog pings, STOPPING=1 on SIGTERM",
             self.step_join_ready_stop),
            ("abstract socket; WATCHDOG_PID of another process",
             self.step_abstract),
            ("systemd-analyze verify dhtd@.service", self.step_verify),
        ])

if __name__ == "__main__":
    sys.exit(SystemdTest(parse_args(__doc__.splitlines()[0])).run())
