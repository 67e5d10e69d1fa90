#!/usr/bin/env python3
"""durability.py - what durability costs: durable put throughput and
latency of one dhtd for --fsync always / batch / never, beside Redis with
appendonly and appendfsync always / everysec, on this machine in one run;
the time a checkpoint holds the event loop; and the recovery time of a node
holding 1 million keys (snapshot + log). It prints figures (and writes them
as JSON with --json); it is not a test.

What it does:
  1. builds a release dht/dhtd in /tmp/build-durrel (no sanitizers) unless
     --bin names a directory that holds them; installs redis-server and
     redis-tools with apt-get when missing;
  2. runs --rounds rounds (default 3); in each, in an order that rotates
     from round to round, every contender with 1 and with 50 clients:
        dhtd --listen 127.0.0.1:P --data FRESH_DIR --fsync MODE
          then: dht --node 127.0.0.1:P bench -c C -n N -t put -d 16 --json
        redis-server --bind 127.0.0.1 --port P --appendonly yes
                     --appendfsync always|everysec --dir FRESH_DIR --save ""
          then: redis-benchmark -h 127.0.0.1 -p P -t set -c C -n N -d 16
                                -r 10000 --csv
     (N = --n1 with one client, --n50 with fifty); a fresh process and
     directory for every run; prints the median of each figure;
  3. checkpoint stall: 40 000 puts by one client with --fsync always and
     --checkpoint-mb 1 (a checkpoint every ~13 000 puts): put p50/p99/max
     beside the same run without checkpoints, and what dhtd logged for
     each checkpoint (the microseconds the loop spent rotating the log,
     and how long the snapshot took on the thread pool);
  4. recovery: one dhtd --fsync never --checkpoint-mb 32 is loaded with
     --recovery-keys distinct keys (16-byte values) over a pipelined TCP
     connection, killed with SIGKILL, and restarted on its directory; the
     figure is what dhtd logs ("recovered N keys from snapshot S and M log
     records (K dropped) in X ms") and the time from exec to the first
     answered `dht status`.

Every process it starts is stopped by PID on every way out (the handlers
of tests/system/common.py; PDEATHSIG if this script dies).

Usage: bench/durability.py [--bin DIR] [--rounds 3] [--n1 3000]
         [--n50 50000] [--recovery-keys 1000000] [--skip-recovery]
         [--seed S] [--json FILE]
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "system"))

from common import (HOST, Cluster, _set_pdeathsig, encode_frame,  # noqa: E402
                    read_frame)

EXTRA = []  # redis-server processes, stopped by PID


def log(msg):
    print(msg, flush=True)


def stop_extra():
    for p in EXTRA:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)
    EXTRA.clear()


def ensure_redis():
    if shutil.which("redis-server") and shutil.which("redis-benchmark"):
        return
    log("installing redis-server and redis-tools with apt-get")
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq",
                    "--no-install-recommends", "redis-server",
                    "redis-tools"], check=True,
                   env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))


def ensure_build(bin_dir):
    if bin_dir:
        return os.path.abspath(bin_dir)
    out = "/tmp/build-durrel"
    log("building release dhtd and dht in %s" % out)
    subprocess.run(["cmake", "-S", ROOT, "-B", out,
                    "-DCMAKE_BUILD_TYPE=Release", "-DCHORD_TESTS=OFF"],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", out, "-j2", "--target", "dhtd",
                    "dht"], check=True, stdout=subprocess.DEVNULL)
    return out


def free_port(cluster):
    return cluster.free_port()


# --- contenders -------------------------------------------------------------

def run_ours(cluster, mode, clients, n, extra=()):
    """One fresh dhtd, one `dht bench` run; returns its put figures and the
    node's log text."""
    data = tempfile.mkdtemp(prefix="bench-%s-" % mode, dir=cluster.tmp)
    node = cluster.start_node(extra=["--data", data, "--fsync", mode,
                                     "--log-level", "info"] + list(extra))
    try:
        r = cluster.dht(node, "bench", "-c", clients, "-n", n, "-t", "put",
                        "-d", "16", "--keyspace", "10000", "--json",
                        timeout=600)
        if r.code != 0:
            raise SystemExit("dht bench failed: " + r.describe())
        put = json.loads(r.out)["put"]
        if put["errors"]:
            raise SystemExit("dht bench saw errors: %s" % put)
        return {"ops": put["ops_per_sec"], "p50": put["p50_ms"],
                "p99": put["p99_ms"], "max": put["max_ms"]}, node.log_text()
    finally:
        cluster.stop_node(node)
        shutil.rmtree(data, ignore_errors=True)


def run_redis(cluster, fsync, clients, n):
    data = tempfile.mkdtemp(prefix="redis-%s-" % fsync, dir=cluster.tmp)
    port = free_port(cluster)
    p = subprocess.Popen(["redis-server", "--bind", HOST, "--port",
                          str(port), "--appendonly", "yes", "--appendfsync",
                          fsync, "--dir", data, "--save", "",
                          "--daemonize", "no", "--logfile", ""],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL,
                         preexec_fn=_set_pdeathsig)
    EXTRA.append(p)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                s = socket.create_connection((HOST, port), timeout=1)
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    s.close()
                    break
                s.close()
            except OSError:
                pass
            if time.monotonic() > deadline or p.poll() is not None:
                raise SystemExit("redis-server did not start")
            time.sleep(0.05)
        out = subprocess.run(["redis-benchmark", "-h", HOST, "-p", str(port),
                              "-t", "set", "-c", str(clients), "-n", str(n),
                              "-d", "16", "-r", "10000", "--csv"],
                             stdout=subprocess.PIPE, check=True,
                             timeout=600).stdout.decode()
        rows = [l.replace('"', "").split(",") for l in out.splitlines()]
        head, row = rows[0], rows[1]
        f = dict(zip(head, row))
        return {"ops": float(f["rps"]), "p50": float(f["p50_latency_ms"]),
                "p99": float(f["p99_latency_ms"]),
                "max": float(f["max_latency_ms"])}
    finally:
        p.terminate()
        p.wait(timeout=10)
        EXTRA.remove(p)
        shutil.rmtree(data, ignore_errors=True)


# --- recovery ---------------------------------------------------------------

def load_keys(addr, count, batch=2000):
    """Put keys rk:0000000.. with 16-byte values over one pipelined TCP
    connection; every reply must be ok. Returns seconds taken."""
    host, port = addr.rsplit(":", 1)
    s = socket.create_connection((host, int(port)))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    value = b"v" * 16
    t0 = time.monotonic()
    sent = 0
    while sent < count:
        k = min(batch, count - sent)
        frames = []
        for i in range(sent, sent + k):
            key = b"rk:%07d" % i
            body = (struct.pack(">I", len(key)) + key +
                    struct.pack(">I", len(value)) + value + b"\0")
            frames.append(encode_frame(64, i + 1, body))
        s.sendall(b"".join(frames))
        for _ in range(k):
            mtype, _rid, body = read_frame(s)
            if mtype != 69 or body[0] != 0:
                raise SystemExit("a load put failed (status %d)" % body[0])
        sent += k
    s.close()
    return time.monotonic() - t0


def recovery(cluster, keys):
    data = os.path.join(cluster.tmp, "recovery")
    flags = ["--data", data, "--fsync", "never", "--checkpoint-mb", "32",
             "--log-level", "info"]
    node = cluster.start_node(extra=flags)
    took = load_keys(node.addr, keys)
    log("  loaded %d keys in %.1f s (%.0f puts/s, pipelined, fsync never)"
        % (keys, took, keys / took))
    time.sleep(2)  # let a checkpoint in progress finish, as in real life
    cluster.signal_node(node, signal.SIGKILL)
    node.proc.wait(timeout=10)
    files = sorted(os.listdir(data))
    sizes = {f: os.path.getsize(os.path.join(data, f)) for f in files}
    t0 = time.monotonic()
    again = cluster.start_node(port=node.port, extra=flags)
    ready = time.monotonic() - t0
    text = again.log_text()
    m = re.findall(r"recovered (\d+) keys from snapshot (\S+) and (\d+) log "
                   r"records \((\d+) dropped\) in (\d+) ms", text)
    if not m:
        raise SystemExit("no recovery line in the log:\n" + text[-2000:])
    n, snap, recs, dropped, ms = m[-1]
    st = json.loads(cluster.dht(again, "status", "--json").out)
    cluster.stop_node(again)
    return {"keys": int(n), "snapshot": snap, "log_records": int(recs),
            "dropped": int(dropped), "recover_ms": int(ms),
            "exec_to_serving_s": round(ready, 3), "status_keys": st["keys"],
            "files": sizes, "load_s": round(took, 1)}


# --- main -------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--n1", type=int, default=3000)
    ap.add_argument("--n50", type=int, default=50000)
    ap.add_argument("--recovery-keys", type=int, default=1000000)
    ap.add_argument("--skip-recovery", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json")
    a = ap.parse_args()

    ensure_redis()
    bin_dir = ensure_build(a.bin)
    log("dhtd: %s; %s" % (os.path.join(bin_dir, "dhtd"),
                          subprocess.run(["redis-server", "--version"],
                                         stdout=subprocess.PIPE).stdout
                          .decode().strip()))
    results = {"machine": machine(), "runs": {}}
    c = Cluster(bin_dir, name="bench-durability", seed=a.seed,
                log_level="warn")
    try:
        contenders = [("dhtd", m) for m in ("always", "batch", "never")] + \
                     [("redis", m) for m in ("always", "everysec")]
        runs = {}
        for rnd in range(a.rounds):
            order = contenders[rnd % len(contenders):] + \
                contenders[:rnd % len(contenders)]
            for who, mode in order:
                for clients in (1, 50):
                    n = a.n1 if clients == 1 else a.n50
                    if who == "dhtd":
                        f, _ = run_ours(c, mode, clients, n)
                    else:
                        f = run_redis(c, mode, clients, n)
                    key = "%s %s c=%d" % (who, mode, clients)
                    runs.setdefault(key, []).append(f)
                    log("  round %d %-24s %9.0f ops/s  p50 %6.3f ms  "
                        "p99 %6.3f ms" % (rnd + 1, key, f["ops"], f["p50"],
                                          f["p99"]))
        log("\nmedian of %d rounds (puts of 16-byte values, 10000 keys):"
            % a.rounds)
        log("%-26s %10s %9s %9s" % ("", "ops/s", "p50 ms", "p99 ms"))
        for who, mode in contenders:
            for clients in (1, 50):
                key = "%s %s c=%d" % (who, mode, clients)
                med = {f: statistics.median(r[f] for r in runs[key])
                       for f in ("ops", "p50", "p99", "max")}
                results["runs"][key] = med
                log("%-26s %10.0f %9.3f %9.3f" % (key, med["ops"],
                                                  med["p50"], med["p99"]))

        log("\ncheckpoint stall (1 client, --fsync always):")
        base, _ = run_ours(c, "always", 1, 40000)
        cp, text = run_ours(c, "always", 1, 40000, ["--checkpoint-mb", "1"])
        paused = [int(x) for x in re.findall(r"paused (\d+) us", text)]
        took = [int(x) for x in re.findall(r"records in (\d+) ms", text)]
        results["checkpoint"] = {"without": base, "with": cp,
                                 "rotate_us": paused, "snapshot_ms": took}
        log("  without checkpoints: p50 %.3f p99 %.3f max %.3f ms"
            % (base["p50"], base["p99"], base["max"]))
        log("  --checkpoint-mb 1:   p50 %.3f p99 %.3f max %.3f ms, %d "
            "checkpoints, loop paused %s us to rotate, snapshots took %s ms"
            % (cp["p50"], cp["p99"], cp["max"], len(paused), paused, took))

        if not a.skip_recovery:
            log("\nrecovery of %d keys:" % a.recovery_keys)
            rec = recovery(c, a.recovery_keys)
            results["recovery"] = rec
            log("  recovered %d keys from snapshot %s and %d log records "
                "(%d dropped) in %d ms; exec to serving %.2f s; files %s"
                % (rec["keys"], rec["snapshot"], rec["log_records"],
                   rec["dropped"], rec["recover_ms"],
                   rec["exec_to_serving_s"], rec["files"]))
    finally:
        stop_extra()
        c.cleanup()
    results["machine"]["loadavg_at_end"] = os.getloadavg()
    log("\nload average at start %s, at end %s (other work on the machine "
        "shows up here)" % (results["machine"]["loadavg_at_start"],
                           results["machine"]["loadavg_at_end"]))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(),
            "kernel": os.uname().release,
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "loadavg_at_start": os.getloadavg()}


if __name__ == "__main__":
    sys.exit(main())
