"""etcd_peer.py - etcd 3 as a peer in bench/vs_redis.py (--with-etcd):
install it, build its load generator, start one member, run the load.

etcd runs as a single member on 127.0.0.1 with its data directory on
tmpfs (/dev/shm): Debian's etcd 3.4 cannot turn its fsyncs off, and the
dhtd ring it is compared with keeps its keys in memory, so on tmpfs an
fsync costs nothing and both sides skip the disk. Its reads are etcd's
default, linearizable (a quorum read, like a quorum get of the ring).
The load comes from bench/etcd_load (Go, etcd's own clientv3 over native
gRPC, one connection per client), built with Debian's golang-go and
golang-etcd-server-dev: the counterpart of redis-benchmark.
"""

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
LOAD_SRC = os.path.join(HERE, "etcd_load")
ETCD_START_TIMEOUT = 20.0
PACKAGES = ("etcd-server", "golang-go", "golang-etcd-server-dev")


def ensure_etcd(apt_install):
    """Install etcd-server and what building the load generator needs
    (apt_install: vs_redis.py's, given programs and packages)."""
    apt_install(("etcd", "go"), PACKAGES)
    if not os.path.isdir("/usr/share/gocode/src/go.etcd.io/etcd/clientv3"):
        raise SystemExit("etcd's Go client is missing: apt-get install "
                         "golang-etcd-server-dev")


def build_load(workdir):
    """Build bench/etcd_load into workdir: the binary's path."""
    out = os.path.join(workdir, "etcd_load")
    env = dict(os.environ, GO111MODULE="off", GOPATH="/usr/share/gocode",
               GOCACHE=os.path.join(workdir, "gocache"), GOFLAGS="")
    subprocess.run(["go", "build", "-o", out, "."], cwd=LOAD_SRC, env=env,
                   check=True, stdin=subprocess.DEVNULL)
    return out


def start_etcd(host, port, peer_port, extra, pdeathsig, data_dir=None,
               log_path=None):
    """One etcd member serving clients on host:port, its data in data_dir
    (default: a new directory on tmpfs, removed by remove_data), its log
    appended to log_path (default: none). Returns the Popen; `extra` gets
    it (the caller's list of processes to stop by PID)."""
    data = data_dir or tempfile.mkdtemp(prefix="etcd-", dir="/dev/shm")
    client_url = "http://%s:%d" % (host, port)
    peer_url = "http://%s:%d" % (host, peer_port)
    argv = ["etcd", "--name", "bench", "--data-dir", data,
            "--listen-client-urls", client_url,
            "--advertise-client-urls", client_url,
            "--listen-peer-urls", peer_url,
            "--initial-advertise-peer-urls", peer_url,
            "--initial-cluster", "bench=" + peer_url,
            "--log-level", "error"]
    logf = open(log_path, "ab") if log_path else subprocess.DEVNULL
    try:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf,
                             stderr=subprocess.STDOUT, preexec_fn=pdeathsig)
    finally:
        if log_path:
            logf.close()
    p.data_dir = None if data_dir else data
    extra.append(p)
    deadline = time.monotonic() + ETCD_START_TIMEOUT
    while time.monotonic() < deadline:
        if p.poll() is not None:
            raise SystemExit("etcd exited with %s%s" % (
                p.returncode, " (log: %s)" % log_path if log_path else ""))
        try:
            with urllib.request.urlopen(client_url + "/health",
                                        timeout=1) as r:
                if json.loads(r.read()).get("health") == "true":
                    return p
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
    raise SystemExit("etcd did not become healthy on %s" % client_url)


def remove_data(p):
    """The member's tmpfs directory, once it has stopped."""
    if getattr(p, "data_dir", None):
        shutil.rmtree(p.data_dir, ignore_errors=True)


def run_load(load_bin, host, port, a, run_cmd, timeout):
    """One etcd_load run: {"put": {...}, "get": {...}} as `dht bench
    --json` reports them."""
    argv = [load_bin, "-endpoint", "%s:%d" % (host, port), "-c",
            str(a.clients), "-n", str(a.requests), "-d", str(a.value),
            "-keyspace", str(a.keyspace)]
    r = run_cmd(argv, timeout=timeout)
    if r.code != 0:
        raise SystemExit("etcd_load failed: " + r.describe())
    return json.loads(r.out)
