"""netns.py - the private network the fault suite runs in: a network
namespace of its own (the harness re-executes itself inside it), its
loopback brought up, and iptables DROP rules that cut groups of nodes
apart and heal them.

Role: enter() runs the harness again under `unshare --net` (as root) or
`unshare --net --map-root-user` (as anyone, where user namespaces are
allowed) and returns its exit code; when neither can create a namespace it
prints one line saying why and returns SKIP (77, ctest's
SKIP_RETURN_CODE). Inside, check_inside() refuses to go on unless the
namespace really differs from the one the harness was started in, and
lo_up() brings the loopback up. Firewall installs and removes the rules.

How a partition is made. Every node listens on its own 127.0.0.x address.
Two kinds of rules, both in a chain of our own (chord-fault) jumped to
from OUTPUT (on loopback every packet passes OUTPUT once, sent by one of
the two ends):
  * by owner (when the harness is real root, so each node runs under a
    uid of its own): the mangle table marks each new connection with the
    index of the node that opened it (CONNMARK from the socket's uid);
    cutting a from b drops every packet of a connection opened by a to
    b's address, and of one opened by b to a's address, in both
    directions. This does not depend on where a node binds its outbound
    sockets (unbound, they all leave from 127.0.0.1).
  * by address (always): -s a -d b and -s b -d a. Alone (in a user
    namespace, where every process has the same uid) they cut nodes apart
    only when dhtd binds its outbound connections to its own address.
Clients (the `dht` CLI, run as the harness's uid with no mark) reach every
node at all times: the faults are between nodes.

Invariants: nothing here touches the host's network: enter() always
passes --net, and check_inside() compares the namespace inodes. Every
partition replaces the whole chain in one iptables-restore (atomic);
heal() empties it; cleanup() removes the chain, the jump and the marks,
and is safe to call twice. Every command is bounded in time.

What it does not do: it starts no daemon and judges nothing about the
ring; the namespace itself disappears with the last process in it.
"""

import fcntl
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile

SKIP = 77
ENV_INSIDE = "CHORD_FAULT_NETNS"      # set in the re-executed harness
ENV_OUTER_NS = "CHORD_FAULT_OUTER_NS"  # inode of the starting namespace
CHAIN = "chord-fault"
CMD_TIMEOUT = 15.0


def _netns_inode():
    return str(os.stat("/proc/self/ns/net").st_ino)


def _unshare_argv():
    """The unshare prefixes worth trying, most capable first."""
    cands = []
    if os.geteuid() == 0:
        cands.append(["unshare", "--net", "--"])
    cands.append(["unshare", "--net", "--map-root-user", "--"])
    return cands


def _set_pdeathsig():
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort only
        pass


def enter(argv):
    """Run `python3 argv...` again inside a new network namespace and
    return its exit code, or SKIP (with one printed reason) when no
    namespace can be created here."""
    if shutil.which("unshare") is None:
        print("SKIP: network namespaces cannot be created here: the "
              "unshare program (util-linux) is missing", flush=True)
        return SKIP
    reason = "unknown"
    prefix = None
    for cand in _unshare_argv():
        try:
            p = subprocess.run(cand + ["true"], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=CMD_TIMEOUT)
        except (OSError, subprocess.TimeoutExpired) as e:
            reason = "%s: %s" % (" ".join(cand[:-1]), e)
            continue
        if p.returncode == 0:
            prefix = cand
            break
        reason = "%s: %s" % (" ".join(cand[:-1]),
                             p.stderr.decode(errors="replace").strip()
                             or "exit %d" % p.returncode)
    if prefix is None:
        print("SKIP: network namespaces cannot be created here (%s)"
              % reason, flush=True)
        return SKIP
    # The harness's temp dirs go under one of ours, removed here even
    # when the harness inside was killed.
    base = tempfile.mkdtemp(prefix="dht-fault-")
    os.chmod(base, 0o755)       # the nodes' uids reach their data dirs
    env = dict(os.environ)
    env[ENV_INSIDE] = "1"
    env[ENV_OUTER_NS] = _netns_inode()
    env["TMPDIR"] = base
    try:
        child = subprocess.Popen(prefix + [sys.executable] + list(argv),
                                 env=env, stdin=subprocess.DEVNULL,
                                 preexec_fn=_set_pdeathsig)

        def forward(signum, _frame):
            try:
                child.send_signal(signum)
            except ProcessLookupError:
                pass
        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(s, forward)
        code = child.wait()
        if code < 0:
            print("fault suite: the harness in the namespace was ended by "
                  "signal %d" % -code, flush=True)
            return 128 - code
        return code
    finally:
        if os.environ.get("DHT_KEEP_LOGS"):
            sys.stderr.write("fault suite: logs kept in %s\n" % base)
        else:
            shutil.rmtree(base, ignore_errors=True)


def inside():
    """True in the re-executed harness (inside the namespace)."""
    return os.environ.get(ENV_INSIDE) == "1"


def check_inside():
    """Raise RuntimeError unless this process runs in another network
    namespace than the one the harness was started in."""
    outer = os.environ.get(ENV_OUTER_NS)
    if not outer or outer == _netns_inode():
        raise RuntimeError("not inside a private network namespace; "
                           "refusing to touch the host's network")


def lo_up():
    """Bring the namespace's loopback up (SIOCGIFFLAGS/SIOCSIFFLAGS)."""
    SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        req = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(s, SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sh", b"lo",
                                                 flags | IFF_UP))
    finally:
        s.close()


def owner_mode_possible():
    """Real root: nodes can run under uids of their own."""
    return os.geteuid() == 0 and os.getuid() == 0 and _real_root()


def _real_root():
    # In a user namespace uid_map maps 0 to some other outer uid.
    try:
        with open("/proc/self/uid_map") as f:
            for line in f:
                inner, outer, count = line.split()
                if inner == "0" and outer == "0":
                    return True
    except OSError:
        pass
    return False


def find_iptables():
    """(iptables, iptables-restore) that work here, or None."""
    for name in ("iptables", "iptables-nft", "iptables-legacy"):
        path = shutil.which(name)
        restore = shutil.which(name + "-restore") if path else None
        if not path or not restore:
            continue
        try:
            p = subprocess.run([path, "-w", "5", "-S"],
                               stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=CMD_TIMEOUT)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if p.returncode == 0:
            return path, restore
    return None


class FirewallError(Exception):
    pass


class Firewall:
    """The DROP rules between nodes. `hosts[i]` is node i's IP and
    `uids[i]` the uid it runs under (None in address-only mode)."""

    def __init__(self, hosts, uids=None):
        found = find_iptables()
        if found is None:
            raise FirewallError(
                "no working iptables here (install the iptables package: "
                "tools/run-tests.sh --deps-only does)")
        self.ipt, self.restore = found
        self.hosts = list(hosts)
        self.uids = list(uids) if uids else None
        self.installed = False
        self.cut = []           # the (a, b) pairs cut now

    @property
    def mode(self):
        return "owner+address" if self.uids else "address"

    def _run(self, *args, stdin=None, check=True):
        p = subprocess.run([self.ipt, "-w", "5"] + list(args),
                           input=stdin, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=CMD_TIMEOUT)
        if check and p.returncode != 0:
            raise FirewallError("%s %s: %s" % (
                os.path.basename(self.ipt), " ".join(args),
                p.stderr.decode(errors="replace").strip()))
        return p.returncode

    def _restore(self, text):
        p = subprocess.run([self.restore, "-w", "5", "--noflush"],
                           input=text.encode(), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=CMD_TIMEOUT)
        if p.returncode != 0:
            raise FirewallError("%s: %s\n%s" % (
                os.path.basename(self.restore),
                p.stderr.decode(errors="replace").strip(), text))

    def install(self):
        """Create the empty chain, its jump, and the connection marks.
        Call before any node starts (a connection is marked when it
        opens)."""
        check_inside()
        lines = ["*filter", ":%s - [0:0]" % CHAIN,
                 "-I OUTPUT 1 -j %s" % CHAIN, "COMMIT"]
        if self.uids:
            lines += ["*mangle"]
            for i, uid in enumerate(self.uids):
                lines.append("-A OUTPUT -m conntrack --ctstate NEW -m owner "
                             "--uid-owner %d -j CONNMARK --set-mark %d"
                             % (uid, i + 1))
            lines.append("COMMIT")
        self.installed = True
        self._restore("\n".join(lines) + "\n")

    def _pair_rules(self, a, b):
        out = ["-A %s -s %s -d %s -j DROP" % (CHAIN, self.hosts[a],
                                              self.hosts[b]),
               "-A %s -s %s -d %s -j DROP" % (CHAIN, self.hosts[b],
                                              self.hosts[a])]
        if self.uids:
            out += ["-A %s -m connmark --mark %d -m conntrack --ctorigdst "
                    "%s -j DROP" % (CHAIN, a + 1, self.hosts[b]),
                    "-A %s -m connmark --mark %d -m conntrack --ctorigdst "
                    "%s -j DROP" % (CHAIN, b + 1, self.hosts[a])]
        return out

    def partition(self, groups):
        """Cut every node of each group from every node of the others
        (indices into hosts); nodes in no group keep every link. Replaces
        the previous partition at once."""
        check_inside()
        pairs = []
        for gi, g in enumerate(groups):
            for h in groups[gi + 1:]:
                pairs += [(a, b) for a in g for b in h]
        lines = ["*filter", ":%s - [0:0]" % CHAIN]
        for a, b in pairs:
            lines += self._pair_rules(a, b)
        lines.append("COMMIT")
        self._restore("\n".join(lines) + "\n")
        self.cut = pairs

    def isolate(self, i):
        """Cut node i from all the others."""
        self.partition([[i], [j for j in range(len(self.hosts)) if j != i]])

    def heal(self):
        """Remove every cut."""
        self.partition([])

    def rule_count(self):
        """How many rules the chain holds now (-1 when unreadable)."""
        p = subprocess.run([self.ipt, "-w", "5", "-S", CHAIN],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=CMD_TIMEOUT)
        if p.returncode != 0:
            return -1
        return sum(1 for l in p.stdout.decode().splitlines()
                   if l.startswith("-A "))

    def cleanup(self):
        """Remove the chain, its jump and the marks (idempotent)."""
        if not self.installed:
            return
        self.installed = False
        try:
            check_inside()
        except RuntimeError:
            return
        self._run("-F", CHAIN, check=False)
        self._run("-D", "OUTPUT", "-j", CHAIN, check=False)
        self._run("-X", CHAIN, check=False)
        if self.uids:
            self._run("-t", "mangle", "-F", "OUTPUT", check=False)
        self.cut = []
