#!/usr/bin/env python3
"""test_multihost.py - a ring across three hosts: three network namespaces
on a bridge, each node reached at another kind of address.

  host a  192.0.2.11, 2001:db8::11   dhtd --listen 0.0.0.0:7000
                                          --advertise 192.0.2.11:7000
  host b  192.0.2.12, 2001:db8::12   dhtd --listen [2001:db8::12]:7000
  host c  192.0.2.13, 2001:db8::13   dhtd --listen node3.example:7000
                                     (the name is in every namespace's
                                     /etc/netns/NS/hosts, which
                                     `ip netns exec` shows as /etc/hosts)

Checks: (a) the ring forms and lists exactly the three advertised
addresses; (b) keys written through one host's node by a client on
another host are read back through a third, every node addressed by its
own form (IPv4, [IPv6], name); (c) a node started without --insecure (and
without TLS) refuses a client from another host, and the client says why
in one line, while a client on the node's own host is served; the node
counts the refusal in its summary line. With --tls: (d) a plaintext
client gets a one-line error naming TLS, and nodes with a certificate of
another CA or one naming another address do not get into the ring, which
keeps serving.

The bridge lives in a fourth namespace, so the host's own network is not
touched; only documentation addresses (192.0.2.0/24, 2001:db8::/32) are
used, inside the namespaces; IPv6 addresses are added with `nodad`.

Security: plaintext with --insecure. TLS is one switch: --tls (or
CHORD_MULTIHOST_TLS=1) adds the options of security_args() to every dhtd
and dht command, with certificates from tools/dht-certs (see make_certs);
the refusal check (c) always runs a plaintext node.

Skips (exit 77, reason printed) unless it runs as root with `ip` and can
create a network namespace. Every process is stopped by PID and every
namespace and /etc/netns entry removed on every way out (finally, atexit,
SIGTERM/SIGINT/SIGHUP); namespaces left by an earlier run that was
killed (their PID gone) are removed first. Every wait is bounded.

Usage: test_multihost.py --bin BUILD_DIR [--seed N] [--tls]
"""

import atexit
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402
from common import Runner, TestFailure, check  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SKIP = 77
PORT = 7000
PLAIN_PORT = 7001          # the protected-mode node of check (c)
CMD_TIMEOUT = 15.0         # one `ip` command
DHT_TIMEOUT = 20.0         # one `dht` command
READY_TIMEOUT = 30.0       # a node answers `dht status`
RING_TIMEOUT = 40.0        # the ring lists the three nodes
NOTE_TIMEOUT = 5.0         # the refusal shows in the summary line
POLL_S = 0.2
ROGUE_WAIT_S = 3.0         # rogue nodes get this long to try to join
KEYS = 24
PREFIX = "chmh"            # namespace names: chmh<PID><a|b|c|sw>
NETNS_ETC = "/etc/netns"

# name, IPv4, IPv6, host name: only documentation addresses.
HOSTS = (("a", "192.0.2.11", "2001:db8::11", "node1.example"),
         ("b", "192.0.2.12", "2001:db8::12", "node2.example"),
         ("c", "192.0.2.13", "2001:db8::13", "node3.example"))
# Where each node listens, what it advertises, how clients address it.
LISTEN = ("0.0.0.0:%d" % PORT, "[2001:db8::12]:%d" % PORT,
          "node3.example:%d" % PORT)
ADVERTISED = ("192.0.2.11:%d" % PORT, "[2001:db8::12]:%d" % PORT,
              "node3.example:%d" % PORT)
HOSTS_FILE = ("127.0.0.1 localhost\n::1 localhost\n"
              "192.0.2.11 node1.example\n2001:db8::12 node2.example\n"
              "192.0.2.13 node3.example\n")


class Skip(Exception):
    """The test cannot run here; the message says why."""


def run(argv, timeout=CMD_TIMEOUT):
    """Run a short command; (exit code, combined output)."""
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return -1, "timed out after %.0f s" % timeout
    except OSError as e:
        return -1, str(e)
    return p.returncode, p.stdout.decode(errors="replace")


def must(argv):
    code, out = run(argv)
    if code != 0:
        raise TestFailure("`%s` -> %s: %s" % (" ".join(argv), code,
                                              out.strip()))


# --- security: the one switch -------------------------------------------

def make_certs(tmp):
    """TLS: a CA and one certificate per node address plus a client one,
    made by tools/dht-certs. Returns the directory."""
    tool = os.path.join(REPO, "tools", "dht-certs")
    if not os.access(tool, os.X_OK):
        raise Skip("--tls asked, but tools/dht-certs is not there yet")
    d = os.path.join(tmp, "certs")
    must([tool, d] + list(ADVERTISED) + ["192.0.2.13:%d" % PLAIN_PORT])
    return d


def security_args(sec, role, addr=None):
    """Options every dhtd (role "node", advertising addr) or dht (role
    "client") gets: --insecure for plaintext nodes, or the TLS files.
    The TLS file names follow tools/dht-certs (adjust here if it names
    them otherwise)."""
    if sec is None:
        return ["--insecure"] if role == "node" else []
    stem = (addr.replace("[", "").replace("]", "").replace(":", "_")
            if addr else "client")
    return ["--tls-ca", os.path.join(sec, "ca.crt"),
            "--tls-cert", os.path.join(sec, stem + ".crt"),
            "--tls-key", os.path.join(sec, stem + ".key")]


# --- the network ----------------------------------------------------------

class Net:
    """Three host namespaces and a switch namespace with a bridge."""

    def __init__(self):
        tag = "%s%d" % (PREFIX, os.getpid())
        self.ns = [tag + h[0] for h in HOSTS]
        self.switch = tag + "sw"
        self.made = []      # namespaces created, to delete
        self.etc = []       # /etc/netns/NS directories created
        self.closed = False

    def add_ns(self, name):
        must(["ip", "netns", "add", name])
        self.made.append(name)
        must(["ip", "-n", name, "link", "set", "lo", "up"])

    def setup(self):
        self.add_ns(self.switch)
        sw = ["ip", "-n", self.switch]
        must(sw + ["link", "add", "br0", "type", "bridge"])
        # Flood multicast (neighbour discovery) without a querier.
        must(sw + ["link", "set", "br0", "type", "bridge",
                   "mcast_snooping", "0"])
        must(sw + ["link", "set", "br0", "up"])
        for i, (_, v4, v6, _) in enumerate(HOSTS):
            ns = self.ns[i]
            d = os.path.join(NETNS_ETC, ns)
            os.makedirs(d, exist_ok=True)
            self.etc.append(d)
            with open(os.path.join(d, "hosts"), "w") as f:
                f.write(HOSTS_FILE)
            self.add_ns(ns)
            port = "p%d" % i
            must(sw + ["link", "add", port, "type", "veth", "peer", "name",
                       "eth0", "netns", ns])
            must(sw + ["link", "set", port, "master", "br0", "up"])
            must(["ip", "-n", ns, "addr", "add", v4 + "/24", "dev", "eth0"])
            must(["ip", "-n", ns, "addr", "add", v6 + "/64", "dev", "eth0",
                  "nodad"])
            must(["ip", "-n", ns, "link", "set", "eth0", "up"])
        self.wait_up()

    def wait_up(self):
        """Every eth0 up, no IPv6 address tentative (bounded)."""
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            busy = False
            for ns in self.ns:
                _, out = run(["ip", "-n", ns, "-6", "addr", "show", "dev",
                              "eth0", "tentative"])
                _, link = run(["ip", "-n", ns, "link", "show", "eth0"])
                busy = busy or bool(out.strip()) or "LOWER_UP" not in link
            if not busy:
                return
            time.sleep(POLL_S)
        raise TestFailure("the namespaces' links did not come up in 10 s")

    def cleanup(self):
        if self.closed:
            return
        self.closed = True
        for name in reversed(self.made):
            run(["ip", "netns", "del", name])
        for d in self.etc:
            shutil.rmtree(d, ignore_errors=True)


def remove_stale():
    """Namespaces (and /etc/netns entries) of earlier runs whose process is
    gone: a run killed by SIGKILL could not clean up."""
    _, out = run(["ip", "netns", "list"])
    names = set(re.findall(r"^(%s\d+(?:a|b|c|sw))\b" % PREFIX, out, re.M))
    if os.path.isdir(NETNS_ETC):
        names |= {n for n in os.listdir(NETNS_ETC)
                  if re.fullmatch(r"%s\d+(?:a|b|c|sw)" % PREFIX, n)}
    for name in names:
        pid = int(re.match(r"%s(\d+)" % PREFIX, name).group(1))
        if pid == os.getpid() or os.path.exists("/proc/%d" % pid):
            continue
        run(["ip", "netns", "del", name])
        shutil.rmtree(os.path.join(NETNS_ETC, name), ignore_errors=True)


def can_run():
    """None, or why the test cannot run here."""
    if os.geteuid() != 0:
        return "not root: `ip netns add` needs CAP_SYS_ADMIN"
    if not shutil.which("ip"):
        return "no `ip` command (iproute2)"
    probe = "%s%dprobe" % (PREFIX, os.getpid())
    code, out = run(["ip", "netns", "add", probe])
    if code != 0:
        return "cannot create a network namespace: %s" % out.strip()
    run(["ip", "netns", "del", probe])
    return None


# --- the nodes ------------------------------------------------------------

class Hosts:
    """The dhtd processes, each in its namespace, and the dht client."""

    def __init__(self, bin_dir, net, sec, tmp):
        self.dhtd = os.path.join(bin_dir, "dhtd")
        self.dht_bin = os.path.join(bin_dir, "dht")
        for b in (self.dhtd, self.dht_bin):
            if not os.access(b, os.X_OK):
                raise TestFailure("%s is missing (build dhtd and dht)" % b)
        self.net = net
        self.sec = sec
        self.tmp = tmp
        self.procs = []     # (Popen, log path, label)
        self.closed = False

    def start(self, host, args, label):
        log = os.path.join(self.tmp, "%s.log" % label)
        logf = open(log, "ab")
        try:
            p = subprocess.Popen(["ip", "netns", "exec", self.net.ns[host],
                                  self.dhtd] + args,
                                 stdin=subprocess.DEVNULL, stdout=logf,
                                 stderr=subprocess.STDOUT,
                                 preexec_fn=common._set_pdeathsig)
        finally:
            logf.close()
        self.procs.append((p, log, label))
        return p

    def dht(self, host, node, *args, secure=True):
        """`dht --node NODE args` run on `host` (an index)."""
        argv = ["ip", "netns", "exec", self.net.ns[host], self.dht_bin,
                "--timeout-ms", "3000", "--node", node]
        if secure:
            argv += security_args(self.sec, "client")
        return common.run_cmd(argv + [str(a) for a in args],
                              timeout=DHT_TIMEOUT)

    def wait_ready(self, host, node, secure=True):
        deadline = time.monotonic() + READY_TIMEOUT
        last = None
        while time.monotonic() < deadline:
            self.check_alive()
            last = self.dht(host, node, "status", "--json", secure=secure)
            if last.code == 0 and '"state":"active"' in last.out.replace(
                    " ", ""):
                return
            time.sleep(POLL_S)
        raise TestFailure("%s did not answer within %.0f s: %s\n%s"
                          % (node, READY_TIMEOUT, last.describe(),
                             self.logs()))

    def check_alive(self):
        for p, _, label in self.procs:
            if p.poll() is not None and not label.startswith("rogue"):
                raise TestFailure("dhtd %s exited with %s\n%s"
                                  % (label, p.returncode, self.logs()))

    def log_of(self, label):
        for _, log, lab in self.procs:
            if lab == label:
                with open(log, errors="replace") as f:
                    return f.read()
        return ""

    def logs(self, lines=12):
        out = []
        for p, log, label in self.procs:
            out.append("--- %s (pid %d) ---" % (label, p.pid))
            try:
                with open(log, errors="replace") as f:
                    out += ["    | " + l for l in
                            f.read().splitlines()[-lines:]]
            except OSError:
                pass
        return "\n".join(out)

    def cleanup(self):
        if self.closed:
            return
        self.closed = True
        for p, _, _ in self.procs:
            if p.poll() is None:
                p.terminate()
        deadline = time.monotonic() + 10.0
        for p, _, _ in self.procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5.0)


# --- the checks -----------------------------------------------------------

def start_ring(h):
    """Node a alone, b joining a, c joining b."""
    joins = (None, ADVERTISED[0], ADVERTISED[1])
    for i in range(3):
        args = ["--listen", LISTEN[i]]
        if i == 0:
            args += ["--advertise", ADVERTISED[0]]
        if joins[i]:
            args += ["--join", joins[i]]
        args += security_args(h.sec, "node", ADVERTISED[i])
        h.start(i, args, "node-" + HOSTS[i][0])
        h.wait_ready(i, ADVERTISED[i])


def check_ring(h):
    want = sorted(ADVERTISED)
    deadline = time.monotonic() + RING_TIMEOUT
    got = None
    while time.monotonic() < deadline:
        h.check_alive()
        r = h.dht(1, ADVERTISED[2], "ring", "--json")
        if r.code == 0:
            try:
                got = sorted(n["addr"] for n in json.loads(r.out))
            except (ValueError, KeyError, TypeError):
                got = None
            if got == want:
                return
        time.sleep(POLL_S * 2)
    raise TestFailure("the ring lists %r, not %r after %.0f s\n%s"
                      % (got, want, RING_TIMEOUT, h.logs()))


def check_keys(h):
    """Key k: written on host k%3 through node (k+1)%3, read on host
    (k+1)%3 through node (k+2)%3."""
    for k in range(KEYS):
        key, value = "mh-%d" % k, "value-%d-%s" % (k, "x" * (k % 7))
        r = h.dht(k % 3, ADVERTISED[(k + 1) % 3], "put", key, value)
        check(r.code == 0, "put %s: %s" % (key, r.describe()))
    for k in range(KEYS):
        key, value = "mh-%d" % k, "value-%d-%s" % (k, "x" * (k % 7))
        r = h.dht((k + 1) % 3, ADVERTISED[(k + 2) % 3], "get", key)
        check(r.code == 0 and r.out.rstrip("\n") == value,
              "get %s: %s" % (key, r.describe()))


def check_protected(h):
    """A node without --insecure or TLS serves its own host only."""
    addr = "%s:%d" % (HOSTS[2][1], PLAIN_PORT)
    h.start(2, ["--listen", "0.0.0.0:%d" % PLAIN_PORT, "--advertise", addr],
            "plain-c")
    h.wait_ready(2, "127.0.0.1:%d" % PLAIN_PORT, secure=False)
    # Its own host, through its own non-loopback address: served.
    r = h.dht(2, addr, "put", "local", "yes", secure=False)
    check(r.code == 0, "a client on the node's own host: %s" % r.describe())
    # Another host: refused at accept, and the client says why.
    r = h.dht(0, addr, "put", "remote", "no", secure=False)
    check(r.code == 3 and common.one_line_error(r)
          and "accepts only clients on its own host" in r.err,
          "a client from another host: %s" % r.describe())
    deadline = time.monotonic() + NOTE_TIMEOUT
    while time.monotonic() < deadline:
        if re.search(r"\b[1-9][0-9]* refused from other hosts",
                     h.log_of("plain-c")):
            return
        time.sleep(POLL_S)
    raise TestFailure("the node did not count the refusal:\n%s" % h.logs())


def ring_addrs(h):
    r = h.dht(1, ADVERTISED[2], "ring", "--json")
    check(r.code == 0, "dht ring: %s" % r.describe())
    return sorted(n["addr"] for n in json.loads(r.out))


def check_tls_refusals(h):
    """TLS: a plaintext client gets a clear error; a node with a
    certificate of another CA, and a node whose certificate names another
    address than the one it claims, do not get into the ring, which keeps
    serving."""
    r = h.dht(0, ADVERTISED[1], "put", "plain", "no", secure=False)
    check(r.code == 3 and common.one_line_error(r) and "TLS" in r.err,
          "a plaintext client against a TLS node: %s" % r.describe())
    other = os.path.join(h.tmp, "other-ca")
    rogue_a = "%s:%d" % (HOSTS[2][1], PLAIN_PORT + 1)
    must([os.path.join(REPO, "tools", "dht-certs"), other, rogue_a])
    stem = rogue_a.replace(":", "_")
    h.start(2, ["--listen", rogue_a, "--join", ADVERTISED[0],
                "--tls-ca", os.path.join(other, "ca.crt"),
                "--tls-cert", os.path.join(other, stem + ".crt"),
                "--tls-key", os.path.join(other, stem + ".key")],
            "rogue-other-ca")
    # Host a's own certificate, claiming host c's address.
    rogue_b = "%s:%d" % (HOSTS[2][1], PLAIN_PORT + 2)
    stem_a = ADVERTISED[0].replace(":", "_")
    h.start(2, ["--listen", "0.0.0.0:%d" % (PLAIN_PORT + 2), "--advertise",
                rogue_b, "--join", ADVERTISED[0],
                "--tls-ca", os.path.join(h.sec, "ca.crt"),
                "--tls-cert", os.path.join(h.sec, stem_a + ".crt"),
                "--tls-key", os.path.join(h.sec, stem_a + ".key")],
            "rogue-wrong-name")
    time.sleep(ROGUE_WAIT_S)
    got = ring_addrs(h)
    check(got == sorted(ADVERTISED),
          "with two rogue nodes about, the ring lists %r" % got)
    log = h.log_of("node-a")
    check("TLS handshake failed" in log,
          "node a did not log the other CA's refused handshake:\n%s"
          % h.logs())
    check(any("does not name" in h.log_of(n) or "does not vouch" in
              h.log_of(n) for n in ("node-a", "node-b", "node-c")),
          "no node logged refusing the certificate with the wrong name:\n%s"
          % h.logs())
    r = h.dht(1, ADVERTISED[2], "get", "mh-1")
    check(r.code == 0, "the ring stopped serving: %s" % r.describe())


def main():
    ap_tls = "--tls" in sys.argv
    if ap_tls:
        sys.argv.remove("--tls")
    tls = ap_tls or os.environ.get("CHORD_MULTIHOST_TLS") == "1"
    args = common.parse_args(__doc__.splitlines()[0])
    why = can_run()
    if why:
        print("SKIP test_multihost: %s" % why, flush=True)
        return SKIP
    remove_stale()
    tmp = tempfile.mkdtemp(prefix="dht-multihost-")
    net = Net()
    hosts = None

    def cleanup():
        if not os.path.isdir(tmp):
            return
        if hosts:
            hosts.cleanup()
        net.cleanup()
        if os.environ.get("DHT_KEEP_LOGS"):
            sys.stderr.write("logs kept in %s\n" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    def on_signal(signum, _frame):
        cleanup()
        sys.exit(128 + signum)

    atexit.register(cleanup)
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, on_signal)
    runner = Runner("test_multihost")
    try:
        try:
            sec = make_certs(tmp) if tls else None
        except Skip as e:
            print("SKIP test_multihost: %s" % e, flush=True)
            return SKIP
        print("security: %s" % ("TLS" if sec else "plaintext, --insecure"),
              flush=True)
        hosts = Hosts(args.bin, net, sec, tmp)
        net_ok = runner.run("three namespaces on a bridge", net.setup)
        ok = net_ok and runner.run("nodes start on 0.0.0.0 + --advertise, "
                               "[IPv6] and a host name", start_ring, hosts)
        ok = ok and runner.run("the ring lists the three advertised "
                               "addresses", check_ring, hosts)
        ok = ok and runner.run("keys written on one host are read on "
                               "another", check_keys, hosts)
        if ok and sec:
            runner.run("TLS: plaintext client, another CA and a stolen "
                       "name are refused", check_tls_refusals, hosts)
        if net_ok:
            runner.run("without --insecure a node serves its own host only",
                       check_protected, hosts)
        return runner.finish()
    finally:
        if runner.failed and hosts:
            print(hosts.logs(), flush=True)
        cleanup()


if __name__ == "__main__":
    sys.exit(main())
