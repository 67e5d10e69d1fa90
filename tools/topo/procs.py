"""procs.py - the processes dht-topo deals with, by PID: is it alive, does
it run dhtd, is it stopped; send it a signal; wait (bounded) until it is
gone; start a dhtd in the background; is a port taken.

Invariants: a PID is only ever a positive integer read back from a pid file
or returned by spawn(); a zombie counts as gone (the daemons outlive the
tool that started them, so init may reap them late); every wait is bounded
by a count of short sleeps. spawn() starts dhtd the way `nohup ... &` did in
a non-interactive shell: stdin from /dev/null, stdout and stderr appended to
its log, SIGHUP, SIGINT and SIGQUIT ignored (dhtd installs its own SIGINT
and SIGTERM handlers), in the tool's process group.

What it does not do: decide whether a PID is one of ours (callers pass only
recorded PIDs and check runs_dhtd() first), or signal anything by name.
"""

import os
import re
import signal
import socket
import subprocess
import time

POLL_S = 0.05            # between two looks at a dying process
CONNECT_BOUND_S = 2.0    # listening(): one connect on loopback


def parse_pid(text):
    """The PID in a pid file's text, or None."""
    text = (text or "").strip()
    if not re.fullmatch(r"[0-9]{1,10}", text) or int(text) <= 0:
        return None
    return int(text)


def proc_state(pid):
    """The state letter of PID in /proc (R, S, T, Z...), or "" if gone."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            stat = f.read().decode(errors="replace")
    except OSError:
        return ""
    rest = stat.rsplit(") ", 1)[-1].split()
    return rest[0] if rest else ""


def alive(pid):
    """Is PID a live process we may signal (not a zombie)?"""
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return proc_state(pid) != "Z"


def runs_dhtd(pid):
    """Is PID alive and running a dhtd? Guards against a recycled PID."""
    if not alive(pid):
        return False
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return b"dhtd" in f.read()
    except OSError:
        return True


def is_paused(pid):
    """Is the process stopped (SIGSTOP)?"""
    return proc_state(pid) in ("T", "t")


def send(pid, sig):
    """Send `sig` to PID; False if it could not be delivered."""
    try:
        os.kill(pid, sig)
    except OSError:
        return False
    return True


def wait_gone(pid, tries):
    """Wait up to `tries` x 50 ms until PID is gone; True if it is."""
    for _ in range(max(tries, 0)):
        if not alive(pid):
            return True
        time.sleep(POLL_S)
    return not alive(pid)


def listening(addr):
    """Does something accept TCP connections on HOST:PORT?"""
    host, _, port = addr.rpartition(":")
    host = host[1:-1] if host.startswith("[") else host  # [IPv6]
    try:
        with socket.create_connection((host, int(port)),
                                      timeout=CONNECT_BOUND_S):
            return True
    except (OSError, ValueError):
        return False


def _as_background_job():
    for s in (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT):
        signal.signal(s, signal.SIG_IGN)


def spawn(argv, log_path):
    """Start argv in the background, appending its output to log_path.
    Returns the Popen (keep it: it lets the tool reap the child)."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT,
                                preexec_fn=_as_background_job)
