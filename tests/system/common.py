"""common.py - the harness of the system tests: real dhtd processes on
127.0.0.1, driven through the real `dht` CLI.

Role: start N daemons on free loopback ports (each logging to its own file
in a private temporary directory), wait until they answer, run `dht` and
parse its JSON, compute where a key belongs from the sorted SHA-1 ids,
freeze, resume or kill one daemon by its PID (signal_node), and stop
everything again.

Invariants:
  * Every process the harness starts is recorded by PID before anything
    else can fail, and is stopped by that PID (SIGTERM, then SIGKILL after
    a bound) on every way out: normal return (try/finally in the tests),
    interpreter exit (atexit), SIGTERM/SIGINT/SIGHUP to the test, and, as a
    last resort, the death of the harness itself (PR_SET_PDEATHSIG).
    Nothing is ever stopped by name.
  * Only 127.0.0.1 is used. Every wait is bounded in time and every loop
    that talks to the ring is bounded in count.
  * Python 3 standard library only.

What it does not do: it asserts nothing about the protocol by itself; the
test scripts decide what is correct. It never edits or builds the programs.
"""

import argparse
import atexit
import ctypes
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

HOST = "127.0.0.1"
ID_SPACE = 1 << 160

# Bounds of every wait, in seconds. Sanitizer builds on 2 cores are slow:
# these are generous ceilings, not expected durations.
START_TIMEOUT = 20.0   # a daemon answers `dht status` after it starts
STOP_TIMEOUT = 20.0    # a daemon exits after SIGTERM (graceful leave)
KILL_TIMEOUT = 5.0     # a daemon is gone after SIGKILL
DHT_TIMEOUT = 30.0     # one `dht` invocation
POLL_INTERVAL = 0.1    # between two polls of a condition


class TestFailure(Exception):
    """A check failed; the message says what was expected and what came."""


def check(cond, message):
    """Raise TestFailure(message) unless cond holds."""
    if not cond:
        raise TestFailure(message)


def key_id(key):
    """The ring position of a key: SHA-1 of its bytes, as an integer."""
    if isinstance(key, str):
        key = key.encode()
    return int.from_bytes(hashlib.sha1(key).digest(), "big")


def node_id(addr):
    """The ring position of a node: SHA-1 of its "host:port" string."""
    return key_id(addr.encode())


def id_hex(value):
    """40 lower-case hex digits for an integer id."""
    return "%040x" % value


def ring_order(addrs):
    """The addresses sorted by node id: the order of a correct ring."""
    return sorted(addrs, key=node_id)


def true_successor(key, addrs):
    """The address that owns `key` among `addrs`: the first node whose id
    is equal to or follows the key's id, wrapping around the ring."""
    kid = key_id(key)
    order = ring_order(addrs)
    for addr in order:
        if node_id(addr) >= kid:
            return addr
    return order[0]


def is_rotation(seq, expected):
    """True when seq is expected, possibly starting elsewhere."""
    if len(seq) != len(expected):
        return False
    if not expected:
        return True
    if seq[0] not in expected:
        return False
    i = expected.index(seq[0])
    return list(seq) == list(expected[i:]) + list(expected[:i])


def port_is_free(port):
    """Can a listener bind 127.0.0.1:port now? Binds with SO_REUSEADDR like
    libuv does, so a port in TIME_WAIT counts as free (dhtd can take it)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((HOST, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def _set_pdeathsig():
    """In the child before exec: die with SIGKILL if the harness dies, so
    a harness killed by a CTest timeout leaves no daemon behind. Linux
    only; silently skipped elsewhere."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except Exception:  # noqa: BLE001 - best effort only
        pass


class Node:
    """One dhtd process: its address, its Popen and its log file."""

    def __init__(self, addr, proc, log_path):
        self.addr = addr
        self.port = int(addr.rsplit(":", 1)[1])
        self.id = node_id(addr)
        self.proc = proc
        self.log_path = log_path
        self.exit_code = None

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def log_text(self):
        try:
            with open(self.log_path, "r", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def log_tail(self, lines=15):
        text = self.log_text().splitlines()
        return "\n".join("    | " + l for l in text[-lines:])

    def __repr__(self):
        return "Node(%s id=%s.. pid=%d)" % (self.addr, id_hex(self.id)[:8],
                                            self.pid)


# All live clusters, so atexit and signal handlers can stop their daemons.
_CLUSTERS = []
_HANDLERS_INSTALLED = [False]


def _cleanup_all():
    for c in list(_CLUSTERS):
        c.cleanup()


def _on_signal(signum, _frame):
    # Stop the daemons first, then leave through SystemExit so finally
    # blocks run (they find nothing more to stop).
    _cleanup_all()
    sys.stderr.write("interrupted by signal %d; all daemons stopped\n" % signum)
    sys.exit(128 + signum)


def _install_handlers():
    if _HANDLERS_INSTALLED[0]:
        return
    _HANDLERS_INSTALLED[0] = True
    atexit.register(_cleanup_all)
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, _on_signal)


class Result:
    """What one `dht` run gave: exit code, stdout, stderr, argv."""

    def __init__(self, argv, code, out, err):
        self.argv = argv
        self.code = code
        self.out = out
        self.err = err

    def describe(self):
        return "`%s` -> exit %s, stdout %r, stderr %r" % (
            " ".join(_short(a) for a in self.argv), self.code,
            _short(self.out, 300), _short(self.err, 500))


def _short(s, n=80):
    if isinstance(s, bytes):
        s = s.decode(errors="replace")
    return s if len(s) <= n else s[:n] + "...(%d chars)" % len(s)


class Cluster:
    """A set of dhtd processes started by this harness.

    Use as a context manager, or call cleanup() in a finally block; atexit
    and the signal handlers call it too. cleanup() is idempotent.
    """

    def __init__(self, bin_dir, name="ring", seed=None, log_level=None):
        self.bin_dir = os.path.abspath(bin_dir)
        self.dhtd = os.path.join(self.bin_dir, "dhtd")
        self.dht_bin = os.path.join(self.bin_dir, "dht")
        for b in (self.dhtd, self.dht_bin):
            if not os.access(b, os.X_OK):
                raise TestFailure("%s is missing or not executable "
                                  "(build the dhtd and dht targets)" % b)
        self.rng = random.Random(seed)
        self.log_level = log_level or os.environ.get("DHT_TEST_LOG_LEVEL")
        self.tmp = tempfile.mkdtemp(prefix="dht-%s-" % name)
        self.nodes = []        # every node ever started, in start order
        self.procs = []        # every dhtd process ever started
        self._ports = []       # ports handed out, in order
        self._next_port = None
        self._closed = False
        _install_handlers()
        _CLUSTERS.append(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()
        return False

    # --- ports ---------------------------------------------------------

    def free_port(self):
        """A port on 127.0.0.1 that nobody listens on now. Starts at a
        random base in 20000-60000 and walks up, checking each by binding."""
        if self._next_port is None:
            self._next_port = self.rng.randrange(20000, 59000)
        for _ in range(2000):
            p = self._next_port
            self._next_port += 1
            if self._next_port > 60999:
                self._next_port = 20000
            if p not in self._ports and port_is_free(p):
                self._ports.append(p)
                return p
        raise TestFailure("no free port found on %s" % HOST)

    # --- processes -----------------------------------------------------

    def spawn_dhtd(self, args, log_name):
        """Start dhtd with `args`, output to log_name in the temp dir.
        Returns (Popen, log path). The process is recorded at once, so
        cleanup() stops it whatever happens next."""
        log_path = os.path.join(self.tmp, log_name)
        logf = open(log_path, "ab")
        try:
            proc = subprocess.Popen([self.dhtd] + list(args),
                                    stdin=subprocess.DEVNULL, stdout=logf,
                                    stderr=subprocess.STDOUT,
                                    preexec_fn=_set_pdeathsig)
        finally:
            logf.close()
        self.procs.append(proc)
        return proc, log_path

    def start_node(self, join=None, extra=(), wait=True, port=None):
        """Start one dhtd on a free port; join it through the node `join`
        (a Node or an address) unless None. With wait, return only once it
        answers `dht status` and reports itself active."""
        if port is None:
            port = self.free_port()
        addr = "%s:%d" % (HOST, port)
        args = ["--listen", addr]
        if join is not None:
            args += ["--join", join.addr if isinstance(join, Node) else join]
        if self.log_level:
            args += ["--log-level", self.log_level]
        args += list(extra)
        proc, log_path = self.spawn_dhtd(args, "dhtd-%d.log" % port)
        node = Node(addr, proc, log_path)
        self.nodes.append(node)
        if wait:
            self.wait_ready(node)
        return node

    def count_deaths(self):
        """How many daemons died on their own (printing each one's log):
        a test adds this to its failures."""
        dead = 0
        for n in self.nodes:
            if not n.alive():
                print("dhtd %s died during the test; log:\n%s"
                      % (n.addr, n.log_tail()))
                dead += 1
        return dead

    def live_nodes(self):
        return [n for n in self.nodes if n.alive()]

    def wait_ready(self, node, timeout=START_TIMEOUT):
        """Wait until `node` answers `dht status --json` with state active
        (when the report has a state). Fails with its log if it exits."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if not node.alive():
                raise TestFailure(
                    "dhtd %s exited with code %s before answering; log:\n%s"
                    % (node.addr, node.proc.returncode, node.log_tail()))
            r = self.dht(node, "--timeout-ms", "3000", "status", "--json",
                         timeout=10)
            last = r
            if r.code == 0:
                try:
                    st = json.loads(r.out)
                except ValueError:
                    raise TestFailure("status --json is not JSON: "
                                      + r.describe())
                if st.get("state", "active") == "active":
                    return st
            time.sleep(POLL_INTERVAL)
        raise TestFailure("dhtd %s not active after %.0f s; last: %s; log:\n%s"
                          % (node.addr, timeout,
                             last.describe() if last else "-",
                             node.log_tail()))

    def stop_node(self, node, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Send `sig` to the node's PID and wait for it to exit; SIGKILL
        after `timeout`. Returns its exit code (negative: killed)."""
        if node.alive():
            try:
                node.proc.send_signal(sig)
            except ProcessLookupError:
                pass
            try:
                node.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                node.proc.kill()
                try:
                    node.proc.wait(timeout=KILL_TIMEOUT)
                except subprocess.TimeoutExpired:
                    pass
        node.exit_code = node.proc.returncode
        return node.exit_code

    def signal_node(self, node, sig):
        """Send `sig` (SIGSTOP, SIGCONT, SIGKILL...) to the node's PID if
        it still runs; do not wait. Returns True when it was sent."""
        if not node.alive():
            return False
        try:
            os.kill(node.pid, sig)
        except ProcessLookupError:
            return False
        return True

    def cleanup(self):
        """Stop every process this cluster started (by PID), remove the
        temp dir. Keeps the logs when DHT_KEEP_LOGS is set. A process a
        test froze with SIGSTOP gets SIGCONT first, so that it can act on
        SIGTERM."""
        if self._closed:
            return
        self._closed = True
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.kill(p.pid, signal.SIGCONT)
                    p.terminate()
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + STOP_TIMEOUT / 2
        for p in self.procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
        for p in self.procs:
            try:
                p.wait(timeout=KILL_TIMEOUT)
            except subprocess.TimeoutExpired:
                sys.stderr.write("warning: dhtd pid %d did not die\n" % p.pid)
        if os.environ.get("DHT_KEEP_LOGS"):
            sys.stderr.write("logs kept in %s\n" % self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
        if self in _CLUSTERS:
            _CLUSTERS.remove(self)

    def dump_logs(self, lines=20):
        """The tail of every node's log, for a failure report."""
        out = []
        for n in self.nodes:
            out.append("--- %s (pid %d, %s) ---" % (
                n.addr, n.pid,
                "running" if n.alive() else "exit %s" % n.proc.returncode))
            out.append(n.log_tail(lines))
        return "\n".join(out)

    # --- the CLI -------------------------------------------------------

    def dht(self, node, *args, stdin=None, timeout=DHT_TIMEOUT, nodes=None):
        """Run `dht --node ADDR args...`. `node` is a Node, an address, or
        None (then `nodes` lists the seeds, each given as --node)."""
        argv = [self.dht_bin]
        seeds = [node] if node is not None else list(nodes or [])
        for s in seeds:
            argv += ["--node", s.addr if isinstance(s, Node) else s]
        argv += [str(a) for a in args]
        return run_cmd(argv, stdin=stdin, timeout=timeout)

    def dht_json(self, node, *args, timeout=DHT_TIMEOUT):
        """Run a `dht ... --json` command; return its parsed output.
        Fails unless it exits 0 with valid JSON."""
        r = self.dht(node, *args, timeout=timeout)
        check(r.code == 0, "expected exit 0: " + r.describe())
        try:
            return json.loads(r.out)
        except ValueError as e:
            raise TestFailure("not JSON (%s): %s" % (e, r.describe()))

    def ring_addrs(self, node):
        """The addresses `dht ring --json` lists from `node`, in order."""
        ring = self.dht_json(node, "ring", "--json")
        check(isinstance(ring, list), "ring --json is not an array: %r"
              % (ring,))
        return [e.get("addr") for e in ring], ring

    def ring_problem(self, nodes=None):
        """None when the ring of `nodes` (default: the live ones) is
        correct seen from each of them, else a sentence saying what is
        wrong. Correct: `dht ring --json` from a node lists exactly these
        nodes in sorted-id order (a rotation of it), and each listed
        node's predecessor is the one before it."""
        nodes = nodes if nodes is not None else self.live_nodes()
        expected = ring_order([n.addr for n in nodes])
        for n in nodes:
            r = self.dht(n, "ring", "--json", timeout=10)
            if r.code != 0:
                return "ring from %s failed: %s" % (n.addr, r.describe())
            try:
                ring = json.loads(r.out)
                addrs = [e["addr"] for e in ring]
            except (ValueError, KeyError, TypeError) as e:
                return "ring from %s unreadable (%s): %s" % (n.addr, e,
                                                           r.describe())
            if not is_rotation(addrs, expected):
                return ("ring from %s lists %s, expected a rotation of %s"
                        % (n.addr, addrs, expected))
            if len(ring) > 1:
                for i, e in enumerate(ring):
                    pred = e.get("predecessor")
                    want = ring[i - 1]["addr"]
                    got = pred.get("addr") if isinstance(pred, dict) else None
                    if got != want:
                        return ("ring from %s: predecessor of %s is %s, "
                                "expected %s" % (n.addr, e["addr"], got, want))
        return None

    def wait_ring(self, nodes=None, timeout=20.0):
        """Wait (bounded) until ring_problem() is None; fail with the last
        problem and the logs otherwise. Returns the seconds it took."""
        t0 = time.monotonic()
        deadline = t0 + timeout
        problem = "not checked"
        while time.monotonic() < deadline:
            problem = self.ring_problem(nodes)
            if problem is None:
                return time.monotonic() - t0
            time.sleep(0.25)
        raise TestFailure("ring not correct after %.0f s: %s\n%s"
                          % (timeout, problem, self.dump_logs()))


def run_cmd(argv, stdin=None, timeout=DHT_TIMEOUT):
    """Run a short-lived command (never a daemon), bounded in time."""
    if isinstance(stdin, str):
        stdin = stdin.encode()
    try:
        p = subprocess.run(argv, input=stdin,
                           stdin=None if stdin is not None
                           else subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return Result(argv, "timeout after %.0f s" % timeout, "", "")
    return Result(argv, p.returncode, p.stdout.decode(errors="replace"),
                  p.stderr.decode(errors="replace"))


def parallel(fn, items, workers=4):
    """Map fn over items with a few threads (each runs one `dht` process
    at a time). The pool is gone when this returns, so no thread is alive
    while the harness forks a daemon. Returns the results in order."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, items))


def put_all(put_one, items, workers=4):
    """Run put_one over items in parallel (see parallel()); fail unless
    every put exited 0. Returns the seconds it took."""
    t0 = time.monotonic()
    results = parallel(put_one, items, workers)
    bad = [r for r in results if r.code != 0]
    check(not bad, "%d of %d puts failed; first: %s"
          % (len(bad), len(items), bad[0].describe() if bad else ""))
    return time.monotonic() - t0


def one_line_error(r):
    """True when stderr is exactly one non-empty line."""
    lines = [l for l in r.err.splitlines() if l.strip()]
    return len(lines) == 1


# --- the wire protocol, for tests that speak it directly -----------------
# Frame: u32 length of the rest, u8 version, u8 type, u16 flags, u64 req_id,
# body; all big-endian (src/core/wire.h).
PROTOCOL_VERSION = 1
MSG_C_GET = 65
MSG_C_STATUS = 68
MSG_C_RESULT = 69
FRAME_MAX = 2 << 20


def encode_frame(msg_type, req_id, body=b"", version=PROTOCOL_VERSION,
                 flags=0):
    """One frame as bytes."""
    rest = struct.pack(">BBHQ", version, msg_type, flags, req_id) + body
    return struct.pack(">I", len(rest)) + rest


STATUS_REDIRECT = 2


def decode_c_result(body):
    """The body of a C_RESULT frame: (status, error text, value bytes);
    status 0 is ok, 1 not found, 2 redirect (enum chord_status_code).
    Raises ValueError when the body is not what decode_c_result_hint
    reads."""
    return decode_c_result_hint(body)[:3]


def decode_c_result_hint(body):
    """The body of a C_RESULT frame: (status, error text, value bytes,
    hint address or None). Raises ValueError when the body is not u8
    status, u16-length error, u32-length value, then (only with status 2,
    redirect) a peer hint = 20-byte id + u16-length address, with nothing
    after it."""
    if len(body) < 3:
        raise ValueError("C_RESULT body of %d bytes" % len(body))
    status = body[0]
    (elen,) = struct.unpack(">H", body[1:3])
    pos = 3 + elen
    if len(body) < pos + 4:
        raise ValueError("C_RESULT body truncated")
    error = body[3:pos].decode(errors="replace")
    (vlen,) = struct.unpack(">I", body[pos:pos + 4])
    value = body[pos + 4:pos + 4 + vlen]
    rest = body[pos + 4 + vlen:]
    if len(value) != vlen:
        raise ValueError("C_RESULT value of %d bytes, length says %d"
                         % (len(value), vlen))
    hint = None
    if status == STATUS_REDIRECT:
        if len(rest) < 22:
            raise ValueError("C_RESULT redirect without its hint")
        (hlen,) = struct.unpack(">H", rest[20:22])
        raw = rest[22:22 + hlen]
        if len(raw) != hlen:
            raise ValueError("C_RESULT hint truncated")
        hint = raw.decode(errors="replace")
        rest = rest[22 + hlen:]
    if rest:
        raise ValueError("C_RESULT has %d bytes after its body" % len(rest))
    return status, error, value, hint


def encode_c_get(req_id, key, consistency=0):
    """A C_GET frame: body = u32 key length, key bytes, u8 consistency
    (0 = the node's default; see src/core/wire.c for the layouts)."""
    if isinstance(key, str):
        key = key.encode()
    return encode_frame(MSG_C_GET, req_id, struct.pack(">I", len(key)) + key
                        + struct.pack(">B", consistency))


def _recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed after %d of %d bytes"
                                  % (len(buf), n))
        buf += chunk
    return bytes(buf)


def read_frame(sock):
    """Read one whole frame by its length. Returns (type, req_id, body)."""
    (length,) = struct.unpack(">I", _recv_exact(sock, 4))
    if length < 12 or length > FRAME_MAX:
        raise ConnectionError("reply frame claims %d bytes" % length)
    rest = _recv_exact(sock, length)
    version, mtype, _flags, req_id = struct.unpack(">BBHQ", rest[:12])
    if version != PROTOCOL_VERSION:
        raise ConnectionError("reply has protocol version %d" % version)
    return mtype, req_id, rest[12:]


def expect_closed(sock, what, timeout):
    """Read (and drop) whatever comes until the peer closes; fail if it
    does not close within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    sock.settimeout(0.5)
    while time.monotonic() < deadline:
        try:
            data = sock.recv(65536)
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return
        if not data:
            return
    raise TestFailure("%s: the node kept the connection open for %.0f s"
                      % (what, timeout))


def connect(addr, timeout=5.0):
    """A TCP connection to "127.0.0.1:port" with a receive timeout."""
    host, port = addr.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


class Runner:
    """Runs named checks, counts them, prints "N passed, M failed"."""

    def __init__(self, title):
        self.title = title
        self.passed = 0
        self.failed = 0

    def run(self, name, fn, *args):
        t0 = time.monotonic()
        try:
            fn(*args)
        except TestFailure as e:
            self.failed += 1
            print("FAIL %s (%.1f s): %s" % (name, time.monotonic() - t0, e),
                  flush=True)
            return False
        except Exception as e:  # noqa: BLE001 - report, count, go on
            self.failed += 1
            print("FAIL %s: unexpected %s: %s" % (name, type(e).__name__, e),
                  flush=True)
            return False
        self.passed += 1
        print("ok   %s (%.1f s)" % (name, time.monotonic() - t0), flush=True)
        return True

    def finish(self):
        print("%s: %d passed, %d failed" % (self.title, self.passed,
                                            self.failed), flush=True)
        return 0 if self.failed == 0 and self.passed > 0 else 1


def parse_args(description):
    """The options every system test takes: --bin DIR (where dhtd and dht
    are; CMake passes the build directory) and --seed N."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--bin", required=True,
                    help="directory holding the dhtd and dht binaries")
    ap.add_argument("--seed", type=int, default=None,
                    help="PRNG seed (default: random, printed)")
    args = ap.parse_args()
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1 << 31)
    print("seed %d (rerun with --seed %d)" % (args.seed, args.seed),
          flush=True)
    return args


def run_steps(title, cluster, steps):
    """Run (name, fn) steps in order with a Runner, stopping at the first
    failure when a step's name ends in "!" (the later ones need it), then
    stop the cluster's daemons whatever happened. Returns the exit status
    (Runner.finish)."""
    r = Runner(title)
    try:
        for name, fn in steps:
            needed = name.endswith("!")
            if not r.run(name.rstrip("!"), fn) and needed:
                break
    except TestFailure as e:
        r.failed += 1
        print("FAIL %s" % e)
    finally:
        cluster.cleanup()
    return r.finish()
