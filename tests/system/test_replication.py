#!/usr/bin/env python3
"""test_replication.py - the acceptance test of replication and failure
detection (issue 3): real dhtd processes on 127.0.0.1, r = 3.

What a user would notice, checked in order (each step needs the previous):
  1. eight `dhtd --replicas 3` join one by one and the ring converges to
     the order of their SHA-1 ids;
  2. after 20 s of idling, every node reports every peer it monitors
     "alive" with false_suspicions 0, and no log has a "suspecting" line;
  3. 500 puts through random nodes all succeed;
  4. every node then holds exactly the keys whose replica set (the owner
     and its next 2 successors, computed here from the sorted ids)
     contains it: `keys` and `primary_keys` in `dht status --json`;
  5. two nodes adjacent on the ring are killed with SIGKILL: all 500 keys
     are readable through the survivors within 5 s of the kill (timed with
     gets over persistent TCP connections, so that the figure is the ring's
     and not 500 process start-ups of an ASan-built CLI);
  6. within 30 s of the kill every survivor holds exactly its share for
     the 6-node ring again (3 live copies of every key), and the ring is
     correct;
  7. every value reads right through the `dht get` CLI;
  8. one node is frozen with SIGSTOP: its predecessor reports it
     "suspected" (or "dead") within 3 s; after SIGCONT the predecessor
     reports it "alive" again, with false_suspicions >= 1 and a timeout
     larger than before the freeze.

Usage: test_replication.py --bin BUILD_DIR [--seed N]. Prints one line per
step and a closing "N passed, M failed"; exits non-zero on failure. With
DHT_KEEP_LOGS=1 the daemons' logs are kept (their directory is printed).
Every daemon is stopped by PID on every way out (see common.py).
"""

import json
import os
import random
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import (MSG_C_RESULT, Cluster, Runner, TestFailure,  # noqa: E402
                    check, connect, decode_c_result, encode_c_get, key_id,
                    node_id, parallel, parse_args, put_all, read_frame,
                    ring_order)

N_NODES = 8
REPLICAS = 3
N_KEYS = 500
N_KILL = 2
WORKERS = 3             # dht processes at a time (2 cores)
IDLE_S = 20.0           # quiet period that must not raise a suspicion
PLACE_TIMEOUT = 30.0    # keys in place after the puts
READABLE_BUDGET = 5.0   # all keys readable this long after the kill
READ_GIVE_UP = 15.0     # keep measuring this long to report the real time
READ_THREADS = 4        # concurrent readers over TCP
READ_TIMEOUT = 2.0      # one get over TCP
REPAIR_TIMEOUT = 30.0   # 3 live copies again after the kill
SUSPECT_BOUND = 3.0     # the predecessor suspects a frozen node
SUSPECT_GIVE_UP = 6.0   # keep polling this long to report the real time
RECOVER_TIMEOUT = 15.0  # the frozen node is alive again after SIGCONT
STATUS_POLL = 0.1
NODE_FLAGS = ["--replicas", str(REPLICAS)]


def value_matches(out, value):
    """`dht get` prints the value; a trailing newline is allowed."""
    return out == value or out == value + "\n"


def replica_sets(keys, addrs, r):
    """For each address, how many of `keys` it should hold (owner and its
    next r-1 successors in sorted-id order) and how many it owns."""
    order = ring_order(addrs)
    ids = [node_id(a) for a in order]
    n = len(order)
    held = {a: 0 for a in order}
    owned = {a: 0 for a in order}
    for k in keys:
        kid = key_id(k)
        i = next((j for j, nid in enumerate(ids) if nid >= kid), 0)
        owned[order[i]] += 1
        for d in range(min(r, n)):
            held[order[(i + d) % n]] += 1
    return held, owned


class ReplicationTest:
    def __init__(self, args):
        self.args = args
        self.c = Cluster(args.bin, name="repl", seed=args.seed)
        self.rng = self.c.rng
        self.kv = {}
        self.killed = []

    def status(self, node):
        return self.c.dht_json(node, "--timeout-ms", "3000", "status",
                               "--json", timeout=10)

    def try_status(self, node):
        """status --json, or None when it fails (a poll tries again)."""
        r = self.c.dht(node, "--timeout-ms", "2000", "status", "--json",
                       timeout=8)
        if r.code != 0:
            return None
        try:
            return json.loads(r.out)
        except ValueError:
            return None

    # --- 1 -------------------------------------------------------------

    def step_join(self):
        self.c.start_node(extra=NODE_FLAGS)
        for i in range(1, N_NODES):
            via = self.rng.choice(self.c.nodes)
            n = self.c.start_node(join=via, extra=NODE_FLAGS)
            print("  node %d/%d %s joined via %s" % (i + 1, N_NODES, n.addr,
                                                   via.addr), flush=True)
        took = self.c.wait_ring(timeout=30.0)
        print("  ring correct after %.1f s" % took)

    # --- 2 -------------------------------------------------------------

    def step_idle(self):
        print("  idling %.0f s" % IDLE_S, flush=True)
        time.sleep(IDLE_S)
        problems = []
        for n in self.c.live_nodes():
            st = self.status(n)
            peers = st.get("peers")
            check(isinstance(peers, list) and peers,
                  "status of %s lists no monitored peers: %r"
                  % (n.addr, peers))
            for p in peers:
                if p.get("state") != "alive" or p.get("false_suspicions") != 0:
                    problems.append("%s sees %s" % (n.addr, json.dumps(p)))
            for line in n.log_text().splitlines():
                if "suspecting" in line or "false suspicion" in line:
                    problems.append("log of %s: %s" % (n.addr, line))
        check(not problems, "after %.0f s idle, %d problem(s):\n    %s"
              % (IDLE_S, len(problems), "\n    ".join(problems[:20])))
        print("  every monitored peer alive, 0 false suspicions, "
              "no 'suspecting' line")

    # --- 3 -------------------------------------------------------------

    def put_one(self, item):
        key, value, via = item
        return self.c.dht(via, "put", key, value)

    def step_put(self):
        nodes = self.c.live_nodes()
        items = []
        for i in range(N_KEYS):
            key = "repl-%d-%04d-%x" % (self.args.seed, i,
                                       self.rng.getrandbits(32))
            value = "v%d-%s" % (i, "x" * self.rng.randrange(0, 40))
            self.kv[key] = value
            items.append((key, value, self.rng.choice(nodes)))
        took = put_all(self.put_one, items, WORKERS)
        print("  %d puts, all exit 0, in %.1f s" % (N_KEYS, took))

    # --- 4 and 6 ----------------------------------------------------------

    def placement_problem(self, nodes):
        """None when every node in `nodes` holds exactly its share of the
        keys (and owns exactly its primary share), else what differs."""
        held, owned = replica_sets(self.kv, [n.addr for n in nodes],
                                   REPLICAS)
        wrong = []
        for n in nodes:
            st = self.try_status(n)
            if st is None:
                wrong.append("%s: status failed" % n.addr)
                continue
            got, got_p = st.get("keys"), st.get("primary_keys")
            if got != held[n.addr] or got_p != owned[n.addr]:
                wrong.append("%s keys %s primary_keys %s (expected %d, %d)"
                             % (n.addr, got, got_p, held[n.addr],
                                owned[n.addr]))
        return "; ".join(wrong) if wrong else None

    def wait_placement(self, nodes, t0, timeout, what):
        deadline = t0 + timeout
        problem = "not checked"
        while time.monotonic() < deadline:
            problem = self.placement_problem(nodes)
            if problem is None:
                took = time.monotonic() - t0
                print("  %s: exactly %d copies of each of the %d keys in "
                      "place %.1f s after %s" % ("ok", REPLICAS, N_KEYS,
                                                 took, what))
                return took
            time.sleep(0.5)
        raise TestFailure("%.0f s after %s, copies are not in place: %s\n%s"
                          % (timeout, what, problem, self.c.dump_logs(30)))

    def step_placed(self):
        self.wait_placement(self.c.live_nodes(), time.monotonic(),
                            PLACE_TIMEOUT, "the last put")

    # --- 5 -------------------------------------------------------------

    def reader(self, keys, nodes, seed, state, stop_at):
        """Read `keys` over one persistent connection per node, random
        node per attempt, until each reads with its value or `stop_at`.
        Records in state[key] the monotonic time it first read right."""
        rng = random.Random(seed)
        conns = {}
        req = 0
        pending = list(keys)
        last_err = {}
        while pending and time.monotonic() < stop_at:
            retry = []
            for key in pending:
                if time.monotonic() >= stop_at:
                    retry.append(key)
                    continue
                node = rng.choice(nodes)
                req += 1
                try:
                    s = conns.get(node.addr)
                    if s is None:
                        s = connect(node.addr, timeout=READ_TIMEOUT)
                        conns[node.addr] = s
                    s.sendall(encode_c_get(req, key))
                    while True:
                        mtype, rid, body = read_frame(s)
                        if rid == req:
                            break
                    if mtype != MSG_C_RESULT:
                        raise ValueError("reply type %d" % mtype)
                    st, err, value = decode_c_result(body)
                    if st == 0 and value.decode(errors="replace") == \
                            self.kv[key]:
                        state[key] = time.monotonic()
                        continue
                    last_err[key] = "via %s: status %d %s value %r" % (
                        node.addr, st, err, value[:40])
                except (OSError, ConnectionError, ValueError,
                        socket.timeout) as e:
                    last_err[key] = "via %s: %s" % (node.addr, e)
                    s = conns.pop(node.addr, None)
                    if s is not None:
                        s.close()
                retry.append(key)
            pending = retry
            if pending:
                time.sleep(0.05)
        for s in conns.values():
            s.close()
        state.setdefault("_errors", {}).update(
            {k: last_err.get(k, "?") for k in pending})

    def step_kill(self):
        order = ring_order([n.addr for n in self.c.live_nodes()])
        by_addr = {n.addr: n for n in self.c.live_nodes()}
        i = self.rng.randrange(len(order))
        victims = [by_addr[order[(i + d) % len(order)]] for d in range(N_KILL)]
        t0 = time.monotonic()
        for v in victims:
            self.c.signal_node(v, signal.SIGKILL)
        for v in victims:
            code = self.c.stop_node(v, signal.SIGKILL, timeout=5.0)
            check(code == -signal.SIGKILL, "%s did not die of SIGKILL: %s"
                  % (v.addr, code))
        self.killed = victims
        self.kill_t0 = t0
        print("  killed %s (adjacent in id order)"
              % ", ".join(v.addr for v in victims), flush=True)

        survivors = self.c.live_nodes()
        keys = sorted(self.kv)
        self.rng.shuffle(keys)
        state = {}
        stop_at = t0 + READ_GIVE_UP
        threads = []
        for k in range(READ_THREADS):
            th = threading.Thread(
                target=self.reader,
                args=(keys[k::READ_THREADS], survivors,
                      self.rng.getrandbits(32), state, stop_at))
            th.daemon = True
            threads.append(th)
            th.start()
        for th in threads:
            th.join(READ_GIVE_UP + 2 * READ_TIMEOUT + 5)
        errors = state.pop("_errors", {})
        done = list(state.values())
        check(len(done) == N_KEYS,
              "%.0f s after the kill, %d of %d keys readable; e.g. %s\n%s"
              % (READ_GIVE_UP, len(done), N_KEYS,
                 "; ".join("%s %s" % kv for kv in list(errors.items())[:5]),
                 self.c.dump_logs(30)))
        took = max(done) - t0
        print("  all %d keys readable %.2f s after the kill"
              % (N_KEYS, took), flush=True)
        check(took <= READABLE_BUDGET,
              "all %d keys readable only %.2f s after the kill, expected "
              "within %.0f s\n%s" % (N_KEYS, took, READABLE_BUDGET,
                                     self.c.dump_logs(30)))

    # --- 6 and 7 ---------------------------------------------------------

    def step_repair(self):
        survivors = self.c.live_nodes()
        self.wait_placement(survivors, self.kill_t0, REPAIR_TIMEOUT,
                            "the kill")
        took = self.c.wait_ring(timeout=20.0)
        print("  ring of %d correct (checked %.1f s later)"
              % (len(survivors), took))

    def step_cli_reads(self):
        """The user's path: every value once more through `dht get`."""
        survivors = self.c.live_nodes()
        reads = [(k, v, self.rng.choice(survivors))
                 for k, v in self.kv.items()]
        t0 = time.monotonic()
        results = parallel(lambda it: self.c.dht(it[2], "get", it[0]),
                           reads, WORKERS)
        bad = [(it, r) for it, r in zip(reads, results)
               if r.code != 0 or not value_matches(r.out, it[1])]
        check(not bad, "%d of %d `dht get` wrong after the kill; first: %s"
              % (len(bad), N_KEYS, bad[0][1].describe() if bad else ""))
        print("  all %d right through `dht get` in %.1f s"
              % (N_KEYS, time.monotonic() - t0))

    # --- 8 -------------------------------------------------------------

    @staticmethod
    def peer_entry(st, addr):
        for p in (st or {}).get("peers") or []:
            if p.get("addr") == addr:
                return p
        return None

    def step_freeze(self):
        live = self.c.live_nodes()
        order = ring_order([n.addr for n in live])
        by_addr = {n.addr: n for n in live}
        i = self.rng.randrange(len(order))
        frozen = by_addr[order[i]]
        pred = by_addr[order[i - 1]]
        before = self.peer_entry(self.status(pred), frozen.addr)
        check(before is not None and before.get("state") == "alive",
              "before the freeze, %s does not monitor %s as alive: %r"
              % (pred.addr, frozen.addr, before))
        t_before = before["timeout_ms"]
        fs_before = before["false_suspicions"]
        print("  freezing %s; its predecessor %s has it alive, timeout "
              "%d ms" % (frozen.addr, pred.addr, t_before), flush=True)

        t0 = time.monotonic()
        self.c.signal_node(frozen, signal.SIGSTOP)
        try:
            seen = None
            while time.monotonic() < t0 + SUSPECT_GIVE_UP:
                e = self.peer_entry(self.try_status(pred), frozen.addr)
                if e is not None and e.get("state") in ("suspected", "dead"):
                    seen = e
                    break
                time.sleep(STATUS_POLL)
            took = time.monotonic() - t0
        finally:
            self.c.signal_node(frozen, signal.SIGCONT)
        t_cont = time.monotonic()
        check(seen is not None,
              "%s never reported the frozen %s suspected within %.0f s\n%s"
              % (pred.addr, frozen.addr, SUSPECT_GIVE_UP,
                 self.c.dump_logs(30)))
        print("  %s reports it %s %.2f s after SIGSTOP"
              % (pred.addr, seen["state"], took), flush=True)
        check(took <= SUSPECT_BOUND,
              "%s reported the frozen %s %s only %.2f s after SIGSTOP, "
              "expected within %.0f s" % (pred.addr, frozen.addr,
                                          seen["state"], took, SUSPECT_BOUND))

        last = None
        while time.monotonic() < t_cont + RECOVER_TIMEOUT:
            e = self.peer_entry(self.try_status(pred), frozen.addr)
            last = e
            if (e is not None and e.get("state") == "alive"
                    and e.get("false_suspicions", 0) >= max(1, fs_before + 1)
                    and e.get("timeout_ms", 0) > t_before):
                print("  after SIGCONT: alive again in %.2f s, "
                      "false_suspicions %d, timeout %d ms (was %d)"
                      % (time.monotonic() - t_cont, e["false_suspicions"],
                         e["timeout_ms"], t_before))
                return
            time.sleep(STATUS_POLL)
        raise TestFailure(
            "%.0f s after SIGCONT, %s reports %s as %r; expected alive, "
            "false_suspicions >= %d, timeout_ms > %d\n%s"
            % (RECOVER_TIMEOUT, pred.addr, frozen.addr, last,
               max(1, fs_before + 1), t_before, self.c.dump_logs(30)))


def main():
    args = parse_args(__doc__.splitlines()[0])
    runner = Runner("test_replication")
    t = ReplicationTest(args)
    steps = [
        ("8 nodes with --replicas 3 join, ring converges", t.step_join),
        ("20 s idle: every peer alive, 0 false suspicions", t.step_idle),
        ("500 puts through random nodes", t.step_put),
        ("exactly 3 copies of every key in place", t.step_placed),
        ("kill -9 of two adjacent nodes: 500/500 readable within 5 s",
         t.step_kill),
        ("3 live copies of every key again within 30 s", t.step_repair),
        ("every value right through `dht get` after the kill",
         t.step_cli_reads),
        ("SIGSTOP: suspected within 3 s; SIGCONT: alive, longer timeout",
         t.step_freeze),
    ]
    t0 = time.monotonic()
    try:
        for name, fn in steps:
            if not runner.run(name, fn):
                print("later steps skipped", flush=True)
                break
    finally:
        t.c.cleanup()
    print("total %.1f s" % (time.monotonic() - t0))
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
