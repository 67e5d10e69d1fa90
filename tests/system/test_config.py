#!/usr/bin/env python3
"""test_config.py - dhtd --config FILE and --log-format json (issue 16).

What a user would notice, checked in order:
  1. contrib/dhtd.conf.example, with only its addresses and data
     directory changed to this test's, starts a node (-c FILE): it is
     active, keeps its write-ahead log in the directory the file names,
     serves /healthz on the file's metrics-listen, and logs one JSON
     object per line with time, level, node and message (log-format =
     json in the file);
  2. an option given after --config overrides the file (--log-format text
     after it: plain text lines);
  3. a bad line is a usage error: exit 2, one line on stderr naming
     FILE:LINE (unknown option, bad value, a value for a flag, no value,
     --config inside a file, no name before '='); a file that cannot be
     read is named too; nothing is started (no port bound).

Usage: test_config.py --bin BUILD_DIR [--seed N]. Every daemon is stopped
by PID on every way out (see common.py).
"""

import json
import os
import re
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import (HOST, Cluster, Node, TestFailure, check,  # noqa: E402
                    one_line_error, parse_args, port_is_free, run_cmd,
                    run_steps)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
EXAMPLE = os.path.join(REPO, "contrib", "dhtd.conf.example")


class ConfigTest:
    def __init__(self, args):
        self.c = Cluster(args.bin, name="config", seed=args.seed)
        self.dhtd = self.c.dhtd

    def example(self, port, mport, data):
        """The example file with this test's addresses and directory."""
        with open(EXAMPLE) as f:
            text = f.read()
        for key, val in (("listen", "%s:%d" % (HOST, port)),
                         ("metrics-listen", "%s:%d" % (HOST, mport)),
                         ("data", data)):
            text, n = re.subn(r"(?m)^%s = .*$" % re.escape(key),
                              "%s = %s" % (key, val), text)
            check(n == 1, "the example has no single '%s = ' line" % key)
        path = os.path.join(self.c.tmp, "node-%d.conf" % port)
        with open(path, "w") as f:
            f.write(text)
        return path

    def start(self, args, port):
        proc, log = self.c.spawn_dhtd(args, "dhtd-%d.log" % port)
        node = Node("%s:%d" % (HOST, port), proc, log)
        self.c.nodes.append(node)
        self.c.wait_ready(node)
        return node

    def step_example(self):
        port, mport = self.c.free_port(), self.c.free_port()
        data = os.path.join(self.c.tmp, "data-example")
        conf = self.example(port, mport, data)
        node = self.start(["-c", conf], port)
        check(os.path.isdir(data) and os.listdir(data),
              "no log in %s, the file's data directory" % data)
        with urllib.request.urlopen("http://%s:%d/healthz" % (HOST, mport),
                                    timeout=5) as r:
            check(r.status == 200, "/healthz: %s" % r.status)
        time.sleep(0.2)
        lines = [l for l in node.log_text().splitlines() if l.strip()]
        check(lines, "no log lines")
        for line in lines:
            try:
                obj = json.loads(line)
            except ValueError:
                raise TestFailure("log line is not JSON: %r" % line)
            check(set(obj) == {"time", "level", "node", "message"},
                  "log object keys %s" % sorted(obj))
            check(obj["node"] == node.addr and obj["level"] in
                  ("error", "warn", "info", "debug"),
                  "log object %r" % obj)
            check(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$",
                           obj["time"]), "time %r" % obj["time"])
        self.c.stop_node(node)

    def step_override(self):
        port, mport = self.c.free_port(), self.c.free_port()
        conf = self.example(port, mport,
                            os.path.join(self.c.tmp, "data-override"))
        node = self.start(["--config", conf, "--log-format", "text"], port)
        first = node.log_text().splitlines()[0]
        check(not first.startswith("{") and (" INFO %s " % node.addr) in first,
              "--log-format text after --config: first line %r" % first)
        self.c.stop_node(node)

    def step_bad_lines(self):
        port = self.c.free_port()
        cases = [
            ("bogus = 1\n", 1, "unknown option 'bogus'"),
            ("listen = %s:%d\n\n# c\nreplicas = x\n" % (HOST, port), 4,
             "--replicas must be a number"),
            ("repair = yes\n", 1, "takes no value"),
            ("listen\n", 1, "needs a value"),
            ("config = other.conf\n", 1, "unknown option 'config'"),
            ("= 5\n", 1, "no option name"),
        ]
        for i, (text, line, words) in enumerate(cases):
            path = os.path.join(self.c.tmp, "bad-%d.conf" % i)
            with open(path, "w") as f:
                f.write(text)
            r = run_cmd([self.dhtd, "--listen", "%s:%d" % (HOST, port),
                         "--config", path], timeout=10)
            check(r.code == 2, "bad file %r: %s" % (text, r.describe()))
            check(one_line_error(r) and "%s:%d:" % (path, line) in r.err
                  and words in r.err,
                  "bad file %r: wanted one line naming %s:%d and saying "
                  "%r: %r" % (text, path, line, words, r.err))
        missing = os.path.join(self.c.tmp, "no-such.conf")
        r = run_cmd([self.dhtd, "--config", missing], timeout=10)
        check(r.code == 2 and one_line_error(r) and missing in r.err,
              "missing file: %s" % r.describe())
        check(port_is_free(port), "a refused config left port %d bound"
              % port)

    def run(self):
        return run_steps("test_config", self.c, [
            ("the example file starts a node; JSON log lines",
             self.step_example),
            ("options after --config override it", self.step_override),
            ("a bad line is a usage error naming FILE:LINE",
             self.step_bad_lines),
        ])

if __name__ == "__main__":
    sys.exit(ConfigTest(parse_args(__doc__.splitlines()[0])).run())
