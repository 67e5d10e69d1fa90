"""settings.py - what the environment decides: the bound of every wait
(DHT_TOPO_READY_WAIT, _STOP_WAIT, _OP_TIMEOUT_MS, _SETTLE_WAIT,
_LOAD_GRACE), where run state lives (DHT_TOPO_RUN, default run/ under the
repository) and which dhtd, dht and dht-viz run (DHT_BIN, else build/, else
build-asan/: the three from the same directory).

Invariants: read once at start and frozen; an unset or empty variable takes
its default, as ${VAR:-default} did; paths are joined with "/" exactly as
the bash original joined them, so the messages name the same paths.

What it does not do: check that a binary works (dht-viz reads the topology
right after, and fails loudly if it cannot).
"""

import dataclasses
import os
import re
import subprocess

from . import errors

# Variable name -> default, in seconds unless the name says ms.
WAIT_DEFAULTS = {
    "DHT_TOPO_READY_WAIT": 30,      # for one node to answer
    "DHT_TOPO_STOP_WAIT": 10,       # for one node to leave
    "DHT_TOPO_OP_TIMEOUT_MS": 2000,  # one load operation
    "DHT_TOPO_SETTLE_WAIT": 30,     # a check waits for the ring
    "DHT_TOPO_LOAD_GRACE": 60,      # past its schedule a load may take
}
HELP_BOUND_S = 30  # `dhtd --help`


@dataclasses.dataclass(frozen=True)
class Settings:
    """The bounds and the run root."""
    ready_wait: int
    stop_wait: int
    op_timeout_ms: int
    settle_wait: int
    load_grace: int
    run_root: str


@dataclasses.dataclass(frozen=True)
class Binaries:
    """The programs the tool runs, and what `dhtd --help` says."""
    dhtd: str
    dht: str
    viz: str
    dhtd_help: str

    def dhtd_has(self, option):
        """Does dhtd take `option` (as its --help lists it)?"""
        rx = r"(^|\s)" + re.escape(option) + r"([\s=]|$)"
        return re.search(rx, self.dhtd_help, re.M) is not None


def _whole(environ, name):
    value = environ.get(name) or str(WAIT_DEFAULTS[name])
    try:
        return int(value, 10)
    except ValueError:
        raise errors.die("%s must be a whole number, not '%s'"
                         % (name, value)) from None


def from_env(environ, repo):
    """The Settings of this environment (raises Exit on a bad number)."""
    return Settings(
        ready_wait=_whole(environ, "DHT_TOPO_READY_WAIT"),
        stop_wait=_whole(environ, "DHT_TOPO_STOP_WAIT"),
        op_timeout_ms=_whole(environ, "DHT_TOPO_OP_TIMEOUT_MS"),
        settle_wait=_whole(environ, "DHT_TOPO_SETTLE_WAIT"),
        load_grace=_whole(environ, "DHT_TOPO_LOAD_GRACE"),
        run_root=environ.get("DHT_TOPO_RUN") or repo + "/run")


def _executable(path):
    return os.access(path, os.X_OK)


def _help_text(dhtd):
    try:
        p = subprocess.run([dhtd, "--help"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=HELP_BOUND_S)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return p.stdout.decode(errors="replace")


def find_binaries(environ, repo):
    """dhtd, dht and dht-viz from $DHT_BIN, else build/, else build-asan/
    (raises Exit when none of them holds dhtd and dht)."""
    if environ.get("DHT_BIN"):
        dirs = [environ["DHT_BIN"]]
    else:
        dirs = [repo + "/build", repo + "/build-asan"]
    for d in dirs:
        if not (_executable(d + "/dhtd") and _executable(d + "/dht")):
            continue
        if not _executable(d + "/dht-viz"):
            raise errors.die(
                "%s/dht-viz is missing: it reads the topology files; build "
                "it: cmake --build %s --target dht-viz" % (d, d))
        return Binaries(dhtd=d + "/dhtd", dht=d + "/dht", viz=d + "/dht-viz",
                        dhtd_help=_help_text(d + "/dhtd"))
    raise errors.die("dhtd and dht not found in %s (build first: "
                     "tools/demo.sh, or cmake -S . -B build && cmake --build "
                     "build)" % " ".join(dirs))
