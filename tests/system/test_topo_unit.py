#!/usr/bin/env python3
"""test_topo_unit.py - the pure parts of tools/dht-topo (the package
tools/topo/), without starting any process but the tool itself for its
usage error:

  (a) topology: `dht-viz --dump-topology` records are read into nodes and
      steps; a NODE argument resolves as an index (leading zeros allowed)
      or as an address, a number never as an address;
  (b) ring: a `dht ring --json` listing is judged correct only when ids
      ascend once around and each predecessor is the node before; the
      table row, status and jq-style readings of absent members;
  (c) events: node log lines become the same records the bash original's
      awk made (subjects, 0-key transfers left out, WARN, midnight wrap);
  (d) report: the per-step summary and a load step's summary, character
      for character as the original's awk printed them for the same input;
  (e) state and load helpers: `mapfile` line splitting, file stems, acked
      lines, one-line error messages, seconds with one decimal;
  (f) the entry point: too few arguments print the usage, exit 2;
  (g) a topology naming addresses outside loopback is refused by `up`
      with a message naming them (dht-viz parses it; nothing starts).

The expected texts were produced by the awk programs of the bash dht-topo
on the same input. Usage: test_topo_unit.py --bin BUILD_DIR (for dht-viz,
which parses the topology of (g)) [--seed N].
"""

import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import Runner, check, parse_args  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tools"))

from topo import clock, events, load, report, ring, state  # noqa: E402
from topo import topology  # noqa: E402

DUMP = """\
ring 4 200 3 0 0
node 0 127.0.0.1:7000 - - listed 5
node 1 127.0.0.1:7001 00000000000000000000000000000000000000ff n01 listed 6
node 2 127.0.0.1:7002 - - joined 9
step 1 8 0 load-put - 40 20
step 2 9 2500 join 2 0 0
step 3 10 6000 check - 0 0
"""


def check_topology():
    t = topology.parse_dump(DUMP)
    check(t.ring == topology.Ring(4, 200, 3, 0, 0), "ring: %r" % (t.ring,))
    check(t.addrs == ["127.0.0.1:%d" % p for p in (7000, 7001, 7002)],
          "addresses: %r" % t.addrs)
    check(t.n_listed == 2, "listed: %d" % t.n_listed)
    check(t.nodes[1].data == "n01" and t.nodes[1].id.endswith("ff"),
          "node 1: %r" % (t.nodes[1],))
    s = t.steps
    check([x.action for x in s] == ["load-put", "join", "check"],
          "actions: %r" % [x.action for x in s])
    check(s[0].node is None and s[0].count == 40 and s[0].rate == 20,
          "load step: %r" % (s[0],))
    check(s[1].node == 2 and s[1].at_ms == 2500 and s[1].line == 9,
          "join step: %r" % (s[1],))
    for ref, want in (("0", 0), ("002", 2), ("127.0.0.1:7001", 1),
                      ("3", None), ("1234567", None), ("7001", None),
                      ("127.0.0.1:7009", None), ("", None)):
        got = topology.resolve(t, ref)
        check(got == want, "resolve(%r) = %r, expected %r" % (ref, got, want))


def _node(addr, ident, pred):
    return {"addr": addr, "id": ident, "keys": 2,
            "predecessor": {"addr": pred} if pred else None,
            "successors": [{"addr": "x"}]}


def check_ring():
    a, b, c = "127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"
    good = [_node(b, "80", a), _node(c, "c0", b), _node(a, "10", c)]
    check(ring.ring_is_correct(good), "a correct ring was refused")
    check(ring.ring_is_correct(good[:1]), "a single node is a ring")
    wrong_pred = [_node(b, "80", c), _node(c, "c0", b), _node(a, "10", c)]
    check(not ring.ring_is_correct(wrong_pred), "a wrong predecessor passed")
    unsorted = [_node(b, "80", a), _node(a, "10", b), _node(c, "c0", a)]
    check(not ring.ring_is_correct(unsorted), "ids out of order passed")
    check(not ring.ring_is_correct({"addr": a}), "an object is no ring")
    check(ring.ring_addrs(good) == [b, c, a], "addrs: %r"
          % ring.ring_addrs(good))
    check(ring.ring_addrs(ring.parse_json("garbage")) == [],
          "garbage lists no address")
    row = ring.table_row({"addr": a, "id": "0123456789abcdef", "keys": None,
                          "predecessor": None, "successors": []})
    check(row == (a, "0123456789ab", "0", "-", "-"), "row: %r" % (row,))
    check(ring.is_active('{"state":"active"}') and ring.is_active("{}"),
          "an active node (or one without state) is active")
    check(not ring.is_active('{"state":"joining"}')
          and not ring.is_active("no json"), "a joining node is not active")
    check(ring.keys_text('{"keys":0}') == "0"
          and ring.keys_text('{"keys":null}') == "-"
          and ring.keys_text("[]") == "-", "keys_text")
    check(ring.seed_args([a, b, c], 4) == ["--node", b, "--node", c,
                                           "--node", a], "seed_args")


LOG = """\
2026-12-04T10:00:01.500Z INFO 127.0.0.1:7000 suspecting 127.0.0.1:7003: no heartbeat for 600 ms
2026-12-04T10:00:01.600Z INFO 127.0.0.1:7000 sending 0 keys to 127.0.0.1:7001 (x)
2026-12-04T10:00:01.700Z INFO 127.0.0.1:7000 sending 5 keys to 127.0.0.1:7001 (no longer a replica)
2026-12-04T10:00:01.800Z WARN 127.0.0.1:7000 something odd
2026-12-04T10:00:01.900Z INFO 127.0.0.1:7000 nothing to see
2026-12-04T09:59:59.000Z INFO 127.0.0.1:7000 joined the ring
not a log line at all
2026-12-04T10:00:02.000Z INFO 127.0.0.1:7000 127.0.0.1:7003 (bb) is leaving
2026-12-04T10:00:02.100Z INFO 127.0.0.1:7000 predecessor 127.0.0.1:7003 (bb) did not answer 3 pings
2026-12-05T00:00:00.250Z INFO 127.0.0.1:7000 successor is now 127.0.0.1:7002 (cc)
"""
EVENTS_AT_10 = """\
1500	suspect	127.0.0.1:7000	127.0.0.1:7003	suspecting 127.0.0.1:7003: no heartbeat for 600 ms
1700	transfer	127.0.0.1:7000	127.0.0.1:7001	sending 5 keys to 127.0.0.1:7001 (no longer a replica)
1800	warning	127.0.0.1:7000	-	something odd
2000	leave-notice	127.0.0.1:7000	127.0.0.1:7003	127.0.0.1:7003 (bb) is leaving
2100	drop	127.0.0.1:7000	127.0.0.1:7003	predecessor 127.0.0.1:7003 (bb) did not answer 3 pings
"""
EVENTS_LATE = """\
36401500	suspect	127.0.0.1:7000	127.0.0.1:7003	suspecting 127.0.0.1:7003: no heartbeat for 600 ms
36401700	transfer	127.0.0.1:7000	127.0.0.1:7001	sending 5 keys to 127.0.0.1:7001 (no longer a replica)
36401800	warning	127.0.0.1:7000	-	something odd
36399000	joined	127.0.0.1:7000	-	joined the ring
36402000	leave-notice	127.0.0.1:7000	127.0.0.1:7003	127.0.0.1:7003 (bb) is leaving
36402100	drop	127.0.0.1:7000	127.0.0.1:7003	predecessor 127.0.0.1:7003 (bb) did not answer 3 pings
400250	successor	127.0.0.1:7000	127.0.0.1:7002	successor is now 127.0.0.1:7002 (cc)
"""


def check_events():
    for t0, want in ((36000000, EVENTS_AT_10), (86000000, EVENTS_LATE)):
        got = [r for r in (events.event_of(line, t0)
                           for line in state.lines(LOG)) if r is not None]
        check(got == state.lines(want), "events from T0 %d:\n%s"
              % (t0, "\n".join(got)))
    got = events.sort_by_time(["20\tb", "3\ta", "20\ta", "x\tz"])
    check(got == ["x\tz", "3\ta", "20\tb", "20\ta"], "sort_by_time: %r"
          % got)


SCENARIO = """\
2000	killed 127.0.0.1:7003 (node 3, pid 11)
5000	check: ring correct (4 nodes); 3 of 3 acknowledged keys readable
"""
EVENTS = """\
100	successor	127.0.0.1:7001	127.0.0.1:7002	successor is now 127.0.0.1:7002 (aa)
2300	suspect	127.0.0.1:7000	127.0.0.1:7003	suspecting 127.0.0.1:7003: no heartbeat
2350	suspect	127.0.0.1:7002	127.0.0.1:7003	suspecting 127.0.0.1:7003: no heartbeat
2360	suspect	127.0.0.1:7002	127.0.0.1:7003	suspecting 127.0.0.1:7003: again
2400	suspect	127.0.0.1:7000	127.0.0.1:7004	suspecting 127.0.0.1:7004: x
2410	suspect	127.0.0.1:7000	127.0.0.1:7005	suspecting 127.0.0.1:7005: x
2420	suspect	127.0.0.1:7000	127.0.0.1:7006	suspecting 127.0.0.1:7006: x
2900	dead	127.0.0.1:7000	127.0.0.1:7003	127.0.0.1:7003 is dead: routing around it
3000	drop	127.0.0.1:7002	127.0.0.1:7003	successor 127.0.0.1:7003 (bb) did not answer
3100	predecessor	127.0.0.1:7000	127.0.0.1:7002	predecessor is now 127.0.0.1:7002 (cc)
3200	transfer	127.0.0.1:7000	127.0.0.1:7001	sending 3 keys to 127.0.0.1:7001 (x)
3300	joined	127.0.0.1:7007	-	joined the ring
3400	join-failed	127.0.0.1:7008	-	join attempt 1 failed
3500	error	127.0.0.1:7008	-	disk on fire
5100	false-suspicion	127.0.0.1:7000	127.0.0.1:7004	127.0.0.1:7004 is alive after all: false suspicion
"""
OPS = """\
50	put	k-0	ok	-
2100	put	k-1	failed	timed out
2200	get	k-0	notfound	key not found
2250	get	-	skipped	nothing acknowledged yet
5200	get	k-1	wrong	got zz
"""
REPORT = """\
           1 successor/predecessor change; 0 of 1 operations failed
[   2.0s] killed 127.0.0.1:7003 (node 3, pid 11)
           suspected: 127.0.0.1:7003 by 2 nodes, 127.0.0.1:7004 by 1 node, \
127.0.0.1:7005 by 1 node, ... (+0.3s); declared dead: 127.0.0.1:7003 by 1 \
node (+0.9s); 1 silent neighbour(s) dropped (+1.0s); 1 successor/predecessor \
change; 1 key transfer; 1 join(s) completed (+1.3s); 1 failed join \
attempt(s); 1 error line(s); 2 of 3 operations failed (first: put k-1: timed \
out)
[   5.0s] check: ring correct (4 nodes); 3 of 3 acknowledged keys readable
           false suspicion of 127.0.0.1:7004 by 1 node (+0.1s); 1 of 1 \
operations failed (first: get k-1: got zz)

totals: 6 suspicions, 1 declared dead, 1 false suspicions, 2 ring repairs \
(successor/predecessor changes), 1 key transfers, 3 of 5 operations failed
"""
LOAD = """\
5 done: 1 ok, 1 failed, 1 not found, 1 wrong value, 1 skipped
      1 x timed out
      1 x key not found
      1 x got zz
      first failure at 2.1s k-1: timed out
"""


def check_report():
    got = report.summarise(state.lines(SCENARIO), state.lines(EVENTS),
                           state.lines(OPS))
    check(got == REPORT, "report:\n%s\nexpected:\n%s" % (got, REPORT))
    got = report.load_summary(state.lines(OPS))
    check(got == LOAD, "load summary:\n%s" % got)
    check(report.load_summary([]) == "0 done: 0 ok\n", "empty load summary")


def check_helpers():
    check(state.lines("") == [] and state.lines("a\nb\n") == ["a", "b"]
          and state.lines("a\n\nb") == ["a", "", "b"], "lines()")
    check(state.stem("127.0.0.1:7000") == "127.0.0.1_7000", "stem()")
    check(state.split_acked("k\tv\tw") == ("k", "v\tw")
          and state.split_acked("k") == ("k", "k"), "split_acked()")
    check(load.one_line("dht: no answer\nfrom x\n\n") == "no answer from x",
          "one_line(): %r" % load.one_line("dht: no answer\nfrom x\n\n"))
    check(len(load.one_line("e" * 500)) == load.ERROR_CHARS, "one_line cap")
    check(clock.secs(0) == "0.0" and clock.secs(12345) == "12.3"
          and clock.secs(999) == "0.9", "secs()")


def check_usage():
    tool = os.path.join(REPO, "tools", "dht-topo")
    p = subprocess.run([tool, "up"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    err = p.stderr.decode(errors="replace")
    check(p.returncode == 2 and err.startswith("usage: dht-topo up|down|")
          and p.stdout == b"", "usage: exit %d, %r" % (p.returncode, err))


def check_loopback_only(bin_dir):
    for addr, want in (("127.0.0.1:7000", True), ("127.9.0.1:1", True),
                       ("[::1]:7000", True), ("localhost:7000", True),
                       ("192.0.2.1:7000", False), ("[2001:db8::1]:7000", False),
                       ("node1.example:7000", False), ("128.0.0.1:1", False)):
        check(topology.is_loopback(addr) == want, "is_loopback(%s)" % addr)
    tool = os.path.join(REPO, "tools", "dht-topo")
    with tempfile.TemporaryDirectory(prefix="dht-topo-remote-") as tmp:
        path = os.path.join(tmp, "remote.topo")
        with open(path, "w") as f:
            f.write("node 127.0.0.1:7000\nnode [2001:db8::2]:7000\n"
                    "node node3.example:7000\n")
        env = dict(os.environ, DHT_BIN=os.path.abspath(bin_dir),
                   DHT_TOPO_RUN=tmp)
        p = subprocess.run([tool, "up", path], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=60, env=env)
        err = p.stderr.decode(errors="replace")
        check(p.returncode == 1 and "outside loopback" in err
              and "[2001:db8::2]:7000" in err
              and "node3.example:7000" in err and "dht-viz" in err
              and not os.path.exists(os.path.join(tmp, "remote.topo.d")),
              "launching a remote topology: exit %d, %r"
              % (p.returncode, err))


def main():
    args = parse_args(__doc__.splitlines()[0])
    runner = Runner("test_topo_unit")
    runner.run("topology records and NODE arguments", check_topology)
    runner.run("ring listings read as jq read them", check_ring)
    runner.run("log lines to events", check_events)
    runner.run("the per-step report and load summaries", check_report)
    runner.run("state and load helpers", check_helpers)
    runner.run("usage error", check_usage)
    runner.run("only loopback topologies are launched", check_loopback_only,
               args.bin)
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
