#!/usr/bin/env python3
"""test_limits.py - a node keeps serving under connection floods, and its
peer connections come from its own address.

What a user would notice, checked in order:
  1. a ring of three dhtd processes on 127.0.0.1 forms;
  2. flood: 100 connections to one node each announce a 2 MiB frame and
     send it slowly (16 KiB every 100 ms, for 8 s, then hold 2 s). The
     node's RSS (VmRSS in /proc/PID/status) stays under 64 MB while they
     are held; within 10 s after they close it is back under twice what it
     was before; its two peers never suspect it (no "suspecting ADDR" line
     in their logs, false_suspicions 0 in their `dht status --json`); and
     it still answers puts and gets;
  3. 1100 idle connections to that node (more than its 1024 connection
     slots for not-yet-identified connections): `dht put/get` through it
     still work, and a fourth node still joins the ring through it;
  4. two nodes on 127.0.0.2 and 127.0.0.3 form a ring; each one's log
     shows the other's connections coming from the other's own IP (not
     127.0.0.1, which every outbound connection came from before);
  5. fast reconnect: one of the two is frozen (SIGSTOP) until the other
     suspects it, then resumed: the other drops its old connection to it
     ("reconnecting to ADDR" in its debug log) and serves through it again.

RSS checks are skipped (and say so) in a sanitizer build: ASan's shadow
memory and quarantine make RSS mean something else there. Every loop is
bounded; every socket the test opens is closed in a finally block, every
daemon stopped by PID by the harness.

Usage: test_limits.py --bin BUILD_DIR [--seed N]. Exits non-zero on
failure.
"""

import os
import re
import resource
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import (FRAME_MAX, Cluster, Node, Runner, TestFailure,  # noqa: E402
                    check, encode_frame, parse_args)

FLOOD_CONNS = 100
FLOOD_SECONDS = 8.0
FLOOD_HOLD = 2.0
FLOOD_STEP = 16 << 10     # bytes each connection sends per tick
FLOOD_TICK = 0.1          # seconds between ticks
RSS_HELD_MAX_KB = 64 * 1000   # "under 64 MB"
RSS_BACK_WITHIN = 10.0    # seconds after the flood closes
IDLE_CONNS = 1100
SUSPECT_WITHIN = 10.0     # seconds a frozen node takes to be suspected
RECONNECT_WITHIN = 10.0   # seconds from the resume to the reconnect
MSG_C_PUT = 64
MSG_TRANSFER = 14


def rss_kb(pid):
    """VmRSS of a process in kB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise TestFailure("no VmRSS for pid %d" % pid)


def sanitized(path):
    """Is this binary built with AddressSanitizer?"""
    with open(path, "rb") as f:
        return b"__asan_init" in f.read()


def raise_fd_limit(need):
    """Enough descriptors for the test's own sockets (up to the hard
    limit); False when there cannot be."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= need:
        return True
    if hard != resource.RLIM_INFINITY and hard < need:
        return False
    resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    return True


def close_all(socks):
    for s in socks:
        try:
            s.close()
        except OSError:
            pass
    del socks[:]


class LimitsTest:
    def __init__(self, args):
        self.c = Cluster(args.bin, name="limits", seed=args.seed)
        self.asan = sanitized(self.c.dhtd)
        self.nodes = []
        self.socks = []
        self.flood_started = None
        self.pair = []

    def target(self):
        return self.nodes[1]

    def step_ring(self):
        first = self.c.start_node()
        self.nodes = [first]
        for _ in range(2):
            self.nodes.append(self.c.start_node(join=first))
        self.c.wait_ring(self.nodes)

    def put_get(self, node, key, value):
        r = self.c.dht(node, "put", key, value, timeout=20)
        check(r.code == 0, "put through %s: %s" % (node.addr, r.describe()))
        r = self.c.dht(node, "get", key, timeout=20)
        check(r.code == 0 and r.out.strip() == value,
              "get through %s: %s" % (node.addr, r.describe()))

    def suspicions_of(self, victim):
        """Lines of the other nodes' logs suspecting `victim` since the
        flood began, and their false_suspicions counts for it."""
        lines, counts = [], []
        pat = re.compile(r"suspecting %s\b" % re.escape(victim.addr))
        for n in self.nodes:
            if n is victim:
                continue
            lines += [l for l in n.log_text().splitlines() if pat.search(l)]
            st = self.c.dht_json(n, "status", "--json", timeout=20)
            for p in st.get("peers", []):
                if p.get("addr") == victim.addr:
                    counts.append((n.addr, p.get("false_suspicions")))
        return lines, counts

    def step_flood(self):
        victim = self.target()
        base = rss_kb(victim.pid)
        print("  %s RSS before: %d kB%s" % (victim.addr, base,
              " (sanitizer build: RSS not checked)" if self.asan else ""))
        filler = b"a" * FLOOD_STEP
        live = []
        for i in range(FLOOD_CONNS):
            s = socket.create_connection(("127.0.0.1", victim.port), timeout=5)
            self.socks.append(s)
            mtype = MSG_C_PUT if i % 2 == 0 else MSG_TRANSFER
            # A header announcing a 2 MiB frame; the body never completes.
            head = encode_frame(mtype, i + 1)[:16]
            head = (FRAME_MAX - 4).to_bytes(4, "big") + head[4:]
            s.sendall(head)
            s.setblocking(False)
            live.append(s)
        self.flood_started = time.monotonic()
        peak = 0
        end = time.monotonic() + FLOOD_SECONDS
        sent = 0
        while time.monotonic() < end:
            for s in list(live):
                try:
                    sent += s.send(filler)
                except BlockingIOError:
                    pass
                except OSError:
                    live.remove(s)   # the node closed it
            peak = max(peak, rss_kb(victim.pid))
            time.sleep(FLOOD_TICK)
        hold_end = time.monotonic() + FLOOD_HOLD
        while time.monotonic() < hold_end:
            peak = max(peak, rss_kb(victim.pid))
            time.sleep(0.1)
        print("  sent %d MB over %d connections, %d still open; RSS peak "
              "%d kB" % (sent >> 20, FLOOD_CONNS, len(live), peak))
        close_all(self.socks)
        t0 = time.monotonic()
        now = rss_kb(victim.pid)
        while (not self.asan and now >= 2 * base
               and time.monotonic() - t0 < RSS_BACK_WITHIN):
            time.sleep(0.2)
            now = rss_kb(victim.pid)
        print("  RSS %.1f s after the close: %d kB"
              % (time.monotonic() - t0, now))
        check(victim.alive(), "the flooded node died:\n" + victim.log_tail())
        if not self.asan:
            check(peak < RSS_HELD_MAX_KB,
                  "RSS reached %d kB while the flood was held (limit %d kB)"
                  % (peak, RSS_HELD_MAX_KB))
            check(now < 2 * base,
                  "RSS still %d kB %.0f s after the flood closed (before: "
                  "%d kB)" % (now, RSS_BACK_WITHIN, base))
        text = victim.log_text()
        check("over budget" in text or "too slowly" in text,
              "the flooded node never cut a connection off:\n"
              + victim.log_tail())
        self.put_get(victim, "after-flood", "still-serving")
        lines, counts = self.suspicions_of(victim)
        check(not lines, "peers suspected the flooded node:\n  "
              + "\n  ".join(lines[:5]))
        check(counts and all(c == 0 for _, c in counts),
              "false_suspicions of %s: %s" % (victim.addr, counts))

    def step_idle(self):
        victim = self.target()
        check(raise_fd_limit(IDLE_CONNS + 256),
              "cannot open %d sockets (RLIMIT_NOFILE)" % IDLE_CONNS)
        try:
            for _ in range(IDLE_CONNS):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                self.socks.append(s)
                s.setblocking(False)
                s.connect_ex(("127.0.0.1", victim.port))
            # Long enough for them to count as idle for a newcomer.
            time.sleep(1.5)
            self.put_get(victim, "idle-flood", "served")
            joiner = self.c.start_node(join=victim)
            self.nodes.append(joiner)
            self.c.wait_ring(self.nodes, timeout=30)
            self.put_get(victim, "idle-flood-2", "served-2")
        finally:
            close_all(self.socks)
        text = victim.log_text()
        print("  %s" % ([l.split(" ", 3)[3] for l in text.splitlines()
                         if "connections in the last" in l][-1:] or
                        ["(no summary line)"])[0])

    def step_source_address(self):
        """Two nodes on 127.0.0.2 and 127.0.0.3 with debug logs: each
        sees the other's connections come from the other's own IP."""
        nodes = []
        for ip in ("127.0.0.2", "127.0.0.3"):
            port = self.c.free_port()
            addr = "%s:%d" % (ip, port)
            args = ["--listen", addr, "--log-level", "debug"]
            if nodes:
                args += ["--join", nodes[0].addr]
            proc, log = self.c.spawn_dhtd(args, "dhtd-%s.log" % addr)
            node = Node(addr, proc, log)
            self.c.nodes.append(node)
            self.c.wait_ready(node)
            nodes.append(node)
        self.c.wait_ring(nodes)
        self.put_get(nodes[0], "bound", "source")
        for me, other in ((nodes[0], nodes[1]), (nodes[1], nodes[0])):
            froms = set(re.findall(r"connection from (127\.0\.0\.\d+):\d+",
                                   me.log_text()))
            other_ip = other.addr.split(":")[0]
            check(other_ip in froms,
                  "%s saw connections only from %s, none from its peer's "
                  "IP %s" % (me.addr, sorted(froms), other_ip))
        self.pair = nodes

    def step_reconnect(self):
        watcher, frozen = self.pair
        pat = re.compile(r"suspecting %s\b" % re.escape(frozen.addr))
        # A connection younger than 1 s is kept (it is fresh, not stuck:
        # CHORD_GATE_RECONNECT_FRESH_MS), so let the ring's age past that.
        time.sleep(1.5)
        self.c.signal_node(frozen, signal.SIGSTOP)
        try:
            deadline = time.monotonic() + SUSPECT_WITHIN
            while (not pat.search(watcher.log_text())
                   and time.monotonic() < deadline):
                time.sleep(0.1)
            time.sleep(1.0)  # suspected for a while, as after a partition
        finally:
            self.c.signal_node(frozen, signal.SIGCONT)
        check(pat.search(watcher.log_text()),
              "%s never suspected the frozen %s" % (watcher.addr,
                                                    frozen.addr))
        want = "reconnecting to %s" % frozen.addr
        deadline = time.monotonic() + RECONNECT_WITHIN
        while (want not in watcher.log_text()
               and time.monotonic() < deadline):
            time.sleep(0.1)
        check(want in watcher.log_text(),
              "no \"%s\" in %s's log after the resume:\n%s"
              % (want, watcher.addr, watcher.log_tail()))
        self.put_get(watcher, "after-reconnect", "fresh")


def main():
    args = parse_args(__doc__.splitlines()[0])
    runner = Runner("test_limits")
    t = LimitsTest(args)
    steps = [
        ("a ring of 3 forms", t.step_ring),
        ("100 slow 2 MiB frames: RSS bounded and returned, no suspicion",
         t.step_flood),
        ("1100 idle connections: clients served, a node joins",
         t.step_idle),
        ("peer connections come from the node's own IP",
         t.step_source_address),
        ("a suspected peer that speaks again gets a fresh connection",
         t.step_reconnect),
    ]
    t0 = time.monotonic()
    try:
        for name, fn in steps:
            if not runner.run(name, fn):
                print("later steps skipped; logs:\n" + t.c.dump_logs(),
                      flush=True)
                break
    finally:
        close_all(t.socks)
        t.c.cleanup()
    print("total %.1f s" % (time.monotonic() - t0))
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
