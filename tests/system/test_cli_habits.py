#!/usr/bin/env python3
"""test_cli_habits.py - the habits of `dht` a new user relies on, against
one live dhtd, and the progress line of `dht bench` and `dht-sim`.

What a user would notice:
  1. `put KEY --file F` stores the file's bytes exactly (binary included),
     `--file -` and a VALUE of `-` read stdin; `put f @x` still stores the
     literal text; --file with another command, or with a VALUE too, is a
     usage error (exit 2);
  2. `get --json` of a value that is not ASCII gives base64 with
     "encoding": "base64" (decoding to the stored bytes), an ASCII value
     comes as a plain string without "encoding"; put/del --json print
     {"key", "ok": true};
  3. with --json every error is one JSON object on stderr with "error"
     and the exit code in "exit", and nothing on stdout: not found (1),
     a bad option (2, even when --json comes after it), an unknown command
     (2), an unreachable ring (3);
  4. `put ""` (an empty key) exits 2, as any usage error, not 3;
  5. $DHT_NODE takes a comma-separated seed list: a dead seed first, the
     live one second, and the command still succeeds; a bad entry is a
     usage error naming $DHT_NODE;
  6. -N, -j, -f, -h and -V work as --node, --json, --file, --help and
     --version;
  7. progress: on a terminal (a pty), `dht bench` and `dht-sim` draw a
     progress line on stderr (count/total, percent, rate, ETA, ending at
     100%); with stderr a pipe, or with --json, stderr stays empty.

Usage: test_cli_habits.py --bin BUILD_DIR [--seed N].
"""

import base64
import json
import os
import pty
import select
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import Cluster, Runner, check, parse_args, run_cmd  # noqa: E402

PTY_BOUND_S = 120.0  # one program on a pty, sanitizers on 2 cores


def on_pty(argv, env=None):
    """Run argv with stderr on a new pty (stdout a pipe). Returns (exit
    code, stdout bytes, what the terminal received)."""
    master, slave = pty.openpty()
    try:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=slave, env=env)
    finally:
        os.close(slave)
    seen = b""
    deadline = time.monotonic() + PTY_BOUND_S
    out = []
    open_fds = [master, p.stdout.fileno()]
    try:
        while open_fds and time.monotonic() < deadline:
            ready, _, _ = select.select(open_fds, [], [], 0.2)
            for fd in ready:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:  # EIO: every writer closed the pty
                    chunk = b""
                if not chunk:
                    open_fds.remove(fd)
                elif fd == master:
                    seen += chunk
                else:
                    out.append(chunk)
        if open_fds:
            p.kill()
        code = p.wait(timeout=10)
        out.append(p.stdout.read())
    finally:
        os.close(master)
        p.stdout.close()
    return code, b"".join(out), seen


class Habits:
    def __init__(self, cluster, node, bin_dir, tmp):
        self.c = cluster
        self.node = node
        self.bin = bin_dir
        self.tmp = tmp
        self.dht_bin = os.path.join(bin_dir, "dht")

    def dht(self, *args, env=None, stdin=None):
        argv = [self.dht_bin] + [str(a) for a in args]
        if env is None:
            return run_cmd(argv, stdin=stdin)
        p = subprocess.run(argv, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=env, timeout=60)
        return p

    def json_error(self, r, code):
        check(r.code == code, "want exit %d: %s" % (code, r.describe()))
        check(r.out == "", "stdout must stay empty: %s" % r.describe())
        lines = r.err.strip().split("\n")
        check(len(lines) == 1, "one line on stderr: %s" % r.describe())
        try:
            obj = json.loads(lines[0])
        except ValueError:
            raise AssertionError("stderr is not JSON: %s" % r.describe())
        check(obj.get("exit") == code and isinstance(obj.get("error"), str)
              and obj["error"], "error object: %r" % obj)
        return obj

    def file_values(self):
        blob = bytes(range(256)) * 4 + b"\xff\x00end"
        path = os.path.join(self.tmp, "blob.bin")
        with open(path, "wb") as f:
            f.write(blob)
        n = self.node.addr
        r = self.c.dht(self.node, "put", "blob", "--file", path)
        check(r.code == 0, r.describe())
        got = subprocess.run([self.dht_bin, "--node", n, "get", "blob"],
                             stdout=subprocess.PIPE, timeout=60).stdout
        check(got == blob, "--file: %d bytes back, want %d"
              % (len(got), len(blob)))
        r = self.c.dht(self.node, "put", "fromstdin", "-f", "-",
                       stdin=b"piped\x00bytes")
        check(r.code == 0, r.describe())
        got = subprocess.run([self.dht_bin, "-N", n, "get", "fromstdin"],
                             stdout=subprocess.PIPE, timeout=60).stdout
        check(got == b"piped\x00bytes", "--file -: %r" % got)
        r = self.c.dht(self.node, "put", "literal", "@ok.bin")
        check(r.code == 0, r.describe())
        r = self.c.dht(self.node, "get", "literal")
        check(r.out == "@ok.bin", "a VALUE is its text: %r" % r.out)
        r = self.c.dht(self.node, "get", "blob", "--file", path)
        check(r.code == 2 and "--file" in r.err, "get --file: %s"
              % r.describe())
        r = self.c.dht(self.node, "put", "k", "v", "--file", path)
        check(r.code == 2, "put KEY VALUE --file: %s" % r.describe())
        r = self.c.dht(self.node, "put", "k", "--file",
                       os.path.join(self.tmp, "missing"))
        check(r.code == 2 and "missing" in r.err,
              "a file that does not exist: %s" % r.describe())

    def json_values(self):
        obj = self.c.dht_json(self.node, "get", "blob", "--json")
        vals = obj.get("values") or [{}]
        check(len(vals) == 1 and vals[0].get("encoding") == "base64",
              "encoding: %r" % obj)
        blob = bytes(range(256)) * 4 + b"\xff\x00end"
        check(base64.b64decode(vals[0]["value"]) == blob,
              "base64 decodes back")
        obj = self.c.dht_json(self.node, "get", "literal", "-j")
        check(obj.get("key") == "literal" and obj.get("values") ==
              [{"value": "@ok.bin", "ttl_s": None}] and obj.get("context"),
              "ascii: %r" % obj)
        obj = self.c.dht_json(self.node, "put", "j", "1", "--json")
        check(obj == {"key": "j", "ok": True}, "put --json: %r" % obj)
        obj = self.c.dht_json(self.node, "del", "j", "--json")
        check(obj == {"key": "j", "ok": True}, "del --json: %r" % obj)
        # (Python passes the argument as UTF-8: the key is c3 bf "key")
        obj = self.c.dht_json(self.node, "lookup", "\u00ffkey", "--json")
        check(obj.get("key_encoding") == "base64" and
              base64.b64decode(obj["key"]) == "\u00ffkey".encode(),
              "a key that is not ASCII: %r" % obj)

    def json_errors(self):
        # Not found: the document (no values, a context to write with) on
        # stdout, the error object on stderr.
        r = self.c.dht(self.node, "get", "absent", "--json")
        check(r.code == 1, "want exit 1: %s" % r.describe())
        doc = json.loads(r.out)
        check(doc.get("key") == "absent" and doc.get("values") == [] and
              isinstance(doc.get("context"), str), "document: %r" % doc)
        lines = r.err.strip().split("\n")
        check(len(lines) == 1, "one line on stderr: %s" % r.describe())
        obj = json.loads(lines[0])
        check(obj.get("exit") == 1 and obj.get("key") == "absent",
              "not found names the key: %r" % obj)
        self.json_error(self.c.dht(self.node, "--bogus", "get", "k",
                                   "--json"), 2)
        self.json_error(self.c.dht(self.node, "frobnicate", "-j"), 2)
        self.json_error(self.c.dht(self.node, "--timeout-ms", "x", "status",
                                   "--json"), 2)
        dead = "127.0.0.1:%d" % self.c.free_port()
        r = run_cmd([self.dht_bin, "--node", dead, "--timeout-ms", "1000",
                     "--json", "status"])
        obj = self.json_error(r, 3)
        check(dead in obj["error"], "names the node tried: %r" % obj)
        r = self.c.dht(self.node, "get", "absent")
        check(r.code == 1 and r.err == "dht: absent: not found\n",
              "text errors unchanged: %s" % r.describe())

    def empty_key(self):
        for cmd in (["put", "", "x"], ["get", ""], ["del", ""],
                    ["lookup", ""]):
            r = self.c.dht(self.node, *cmd)
            check(r.code == 2 and "empty" in r.err,
                  "%s with an empty key: %s" % (cmd[0], r.describe()))

    def env_seeds(self):
        dead = "127.0.0.1:%d" % self.c.free_port()
        env = dict(os.environ, DHT_NODE="%s, %s" % (dead, self.node.addr))
        p = self.dht("--timeout-ms", "4000", "put", "envkey", "via-env",
                     env=env)
        check(p.returncode == 0, "put through $DHT_NODE list: %d %r"
              % (p.returncode, p.stderr))
        p = self.dht("get", "envkey", env=env)
        check(p.returncode == 0 and p.stdout == b"via-env",
              "get through $DHT_NODE list: %r" % p.stdout)
        env["DHT_NODE"] = self.node.addr + ",nonsense"
        p = self.dht("get", "envkey", env=env)
        check(p.returncode == 2 and b"$DHT_NODE" in p.stderr
              and b"nonsense" in p.stderr, "bad entry: %r" % p.stderr)

    def short_options(self):
        r = run_cmd([self.dht_bin, "-h"])
        r2 = run_cmd([self.dht_bin, "--help"])
        check(r.code == 0 and r.out == r2.out and "--file" in r.out,
              "-h: %s" % r.describe())
        r = run_cmd([self.dht_bin, "-V"])
        check(r.code == 0 and r.out.startswith("dht "), r.describe())
        r = run_cmd([self.dht_bin, "-N", self.node.addr, "-j", "status"])
        check(r.code == 0 and json.loads(r.out)["addr"] == self.node.addr,
              "-N -j status: %s" % r.describe())

    def bench_progress(self):
        argv = [self.dht_bin, "-N", self.node.addr, "bench", "-n", "3000",
                "-c", "4", "-t", "put,get"]
        code, out, tty = on_pty(argv)
        check(code == 0, "bench on a pty: exit %d, %r" % (code, tty[-300:]))
        check(b"bench: 6000/6000 100%" in tty and b"ETA" in tty
              and b"/s" in tty and b"\r" in tty,
              "progress line on the terminal: %r" % tty[-300:])
        check(b"bench" not in out or b"\r" not in out,
              "no progress on stdout")
        code, out, tty = on_pty(argv[:3] + ["--json"] + argv[3:])
        check(code == 0 and tty == b"", "--json on a pty: %d %r"
              % (code, tty[-200:]))
        json.loads(out)
        r = run_cmd(argv)
        check(r.code == 0 and r.err == "", "stderr a pipe: %s"
              % r.describe())

    def sim_progress(self):
        sim = os.path.join(self.bin, "dht-sim")
        argv = [sim, "-n", "32", "--lookups", "300", "-s", "7"]
        code, out, tty = on_pty(argv)
        check(code == 0, "dht-sim on a pty: exit %d" % code)
        check(b"dht-sim: joins: 32/32 100%" in tty and
              b"dht-sim: lookups: 300/300 100%" in tty,
              "dht-sim progress line: %r" % tty[-300:])
        r = run_cmd(argv)
        check(r.code == 0 and r.err == "", "dht-sim, stderr a pipe: %s"
              % r.describe())
        check(r.out.encode() == out, "stdout is the same either way")
        code, out, tty = on_pty(argv + ["-j"])
        check(code == 0 and b"lookups:" not in tty and b"joins:" not in tty,
              "dht-sim --json on a pty: %r" % tty[-200:])


def main():
    args = parse_args(__doc__.splitlines()[0])
    r = Runner("test_cli_habits")
    with tempfile.TemporaryDirectory(prefix="dht-habits-") as tmp, \
            Cluster(args.bin, name="habits", seed=args.seed) as c:
        node = c.start_node()
        h = Habits(c, node, os.path.abspath(args.bin), tmp)
        r.run("values from a file and stdin", h.file_values)
        r.run("JSON values: base64 when not ASCII", h.json_values)
        r.run("JSON errors on stderr", h.json_errors)
        r.run("an empty key is a usage error", h.empty_key)
        r.run("$DHT_NODE seed list", h.env_seeds)
        r.run("short options", h.short_options)
        r.run("dht bench progress", h.bench_progress)
        r.run("dht-sim progress", h.sim_progress)
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
