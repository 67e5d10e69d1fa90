#!/usr/bin/env python3
"""vs_redis.py - `dht bench` against redis-benchmark, side by side, in one
run on this machine. It prints figures; it is not a test.

What it does:
  1. installs redis-server and redis-tools with apt-get when
     redis-server or redis-benchmark is missing;
  2. builds a release dht/dhtd (no sanitizers) in /tmp/build-benchrel,
     unless --bin names a directory that already holds them;
  3. starts a ring of --nodes dhtd (default 16) on free 127.0.0.1 ports and
     waits until `dht ring` shows the correct ring, and one redis-server on
     127.0.0.1 on a free port with persistence off (no RDB, no AOF);
  4. runs --rounds rounds (default 5); in each, in an order that rotates
     from round to round, the three contenders:
        redis-benchmark -h 127.0.0.1 -p PORT -c C -n N -t get,set -d D
                        -r K --csv
        dht --node RANDOM bench -c C -n N -d D -t put,get --keyspace K
        dht --node RANDOM bench -c C -n N -d D -t put,get --keyspace K
                        --direct
     and, with --with-one, the last again with --consistency one (a put
     waits for one copy instead of a quorum)
     (RANDOM: a node drawn afresh for each run; -r K makes redis use the
     same K random keys as ours; --csv gives the same figures as -q with
     the latency percentiles);
  5. prints the median over the rounds of each figure, and the ratios
     ours / redis for get ops/s and put ops/s (put against SET) and for the
     get p50 latency; the replication factor the ring reports in `dht
     status --json` ("replicas"), or "replicas: 1" when it reports none;
  6. measures unloaded latency: one client (-c 1), median get p50 of
     --latency-rounds runs (default 3) of each contender;
  7. with --profile, records dhtd with `perf record` (DWARF call graphs)
     during a get benchmark (routed: the contacted node; --direct: all
     nodes), and prints the share of each binary, the inclusive share of
     the functions on the request path, and the top self costs.

Every process it starts (daemons, redis-server, perf) is stopped by PID on
every way out: normal end, exception, SIGINT/SIGTERM/SIGHUP (the handlers
of tests/system/common.py), and the death of this script (PDEATHSIG).

With --with-etcd, etcd 3 joins the same rounds: one member on 127.0.0.1
(data on tmpfs), loaded by bench/etcd_load (etcd's Go client, one gRPC
connection per client; see bench/etcd_peer.py), and the ratios ours/etcd
are printed too.

Usage: bench/vs_redis.py [--bin DIR] [--nodes 16] [--rounds 5]
         [-n 100000] [-c 50] [-d 16] [--keyspace 10000] [--seed S]
         [--with-one] [--with-etcd] [--profile] [--profile-seconds 8] [--json FILE]
         [--dhtd-arg ARG ...]
--dhtd-arg passes ARG to every dhtd (repeat it; e.g. --dhtd-arg=--owner-reads
--dhtd-arg=0 compares quorum reads that always ask a replica).
"""

import argparse
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "system"))

from common import (HOST, Cluster, TestFailure, _set_pdeathsig,  # noqa: E402
                    run_cmd)
import etcd_peer  # noqa: E402

DEFAULT_BUILD = "/tmp/build-benchrel"
REDIS_START_TIMEOUT = 10.0
BENCH_TIMEOUT = 600.0   # one benchmark run, seconds
PERF_TIMEOUT = 120.0

# Processes started here besides the ring (redis-server, etcd, perf), by
# PID; and the etcd member, whose tmpfs data directory goes after it.
_EXTRA = []
_ETCD = []


def log(msg):
    print(msg, flush=True)


def stop_extra():
    """Stop redis-server / perf by PID: SIGTERM, then SIGKILL."""
    for p in list(_EXTRA):
        if p.poll() is None:
            try:
                p.terminate()
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)
            except ProcessLookupError:
                pass
        _EXTRA.remove(p)


def apt_install(programs, packages):
    """Install `packages` with apt-get unless every one of `programs` is
    on the PATH already; exit when one is still missing after."""
    if all(shutil.which(p) for p in programs):
        return
    log("installing %s with apt-get" % " and ".join(packages))
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(sudo + ["apt-get", "update", "-q"], check=True, env=env,
                   stdin=subprocess.DEVNULL)
    subprocess.run(sudo + ["apt-get", "install", "-y", "-q",
                           "--no-install-recommends"] + list(packages),
                   check=True, env=env, stdin=subprocess.DEVNULL)
    missing = [p for p in programs if not shutil.which(p)]
    if missing:
        raise SystemExit("%s still missing" % "/".join(missing))


def ensure_redis():
    """Install redis-server and redis-tools with apt-get if missing."""
    apt_install(("redis-server", "redis-benchmark", "redis-cli"),
                ("redis-server", "redis-tools"))


def ensure_build(bin_dir, progs=("dht", "dhtd")):
    """A release build of `progs` in bin_dir (built from this repository
    when bin_dir is the default and one is missing)."""
    if all(os.access(os.path.join(bin_dir, b), os.X_OK) for b in progs):
        return bin_dir
    if bin_dir != DEFAULT_BUILD:
        raise SystemExit("%s lacks one of %s" % (bin_dir, ", ".join(progs)))
    log("building %s (Release, no sanitizers) in %s"
        % (", ".join(progs), bin_dir))
    subprocess.run(["cmake", "-S", REPO, "-B", bin_dir,
                    "-DCMAKE_BUILD_TYPE=Release", "-DCHORD_TESTS=OFF",
                    "-DCHORD_SANITIZE=OFF"], check=True,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", bin_dir, "-j2", "--target"] +
                   list(progs), check=True, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL)
    return bin_dir


def start_redis(port, workdir):
    """redis-server on 127.0.0.1:port, no persistence; waits for PONG."""
    argv = ["redis-server", "--bind", HOST, "--port", str(port),
            "--save", "", "--appendonly", "no", "--dir", workdir,
            "--daemonize", "no", "--logfile", os.path.join(workdir,
                                                           "redis.log")]
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         preexec_fn=_set_pdeathsig)
    _EXTRA.append(p)
    deadline = time.monotonic() + REDIS_START_TIMEOUT
    while time.monotonic() < deadline:
        if p.poll() is not None:
            raise SystemExit("redis-server exited with %s" % p.returncode)
        try:
            with socket.create_connection((HOST, port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(64).startswith(b"+PONG"):
                    return p
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("redis-server did not answer on %s:%d" % (HOST, port))


def run_redis_benchmark(port, a):
    """One redis-benchmark run: {"set": {...}, "get": {...}} with
    ops_per_sec and p50_ms / p99_ms."""
    argv = ["redis-benchmark", "-h", HOST, "-p", str(port), "-c",
            str(a.clients), "-n", str(a.requests), "-t", "get,set", "-d",
            str(a.value), "-r", str(a.keyspace), "--csv"]
    r = run_cmd(argv, timeout=BENCH_TIMEOUT)
    if r.code != 0:
        raise TestFailure("redis-benchmark failed: " + r.describe())
    out = {}
    lines = [l for l in r.out.splitlines() if l.strip()]
    header = [h.strip('"') for h in lines[0].split(",")]
    for line in lines[1:]:
        row = dict(zip(header, [f.strip('"') for f in line.split(",")]))
        name = row["test"].lower()
        out[name] = {"ops_per_sec": float(row["rps"]),
                     "p50_ms": float(row["p50_latency_ms"]),
                     "p99_ms": float(row["p99_latency_ms"])}
    return out


def run_dht_bench(cluster, node, a, direct, consistency=None):
    """One `dht bench` run through `node`: its parsed --json report."""
    args = ["bench", "-c", str(a.clients), "-n", str(a.requests), "-d",
            str(a.value), "-t", "put,get", "--keyspace", str(a.keyspace),
            "--key-seed", str(random.getrandbits(32)), "--json"]
    if direct:
        args.append("--direct")
    if consistency:
        args += ["--consistency", consistency]
    r = cluster.dht(node, *args, timeout=BENCH_TIMEOUT)
    try:
        rep = json.loads(r.out)
    except ValueError:
        raise TestFailure("dht bench output is not JSON: " + r.describe())
    for op in ("put", "get"):
        if rep[op]["errors"]:
            log("  warning: %s had %d errors: %s" % (op, rep[op]["errors"],
                                                    r.err.strip()))
    return rep


def machine_line():
    """nproc, the CPU model, and the load average (other work on the
    machine skews every figure: say how busy it was)."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    load = " ".join("%.2f" % x for x in os.getloadavg())
    return "%s, %d CPUs (%s), load average %s" % (
        time.strftime("%Y-%m-%d %H:%M %Z"), os.cpu_count(), model, load)


def median(values):
    return statistics.median(values) if values else float("nan")


def replicas_line(cluster, node):
    r = cluster.dht(node, "status", "--json")
    try:
        st = json.loads(r.out)
    except ValueError:
        return "replicas: unknown (status --json failed)"
    for key in ("replicas", "replication", "r"):
        if isinstance(st.get(key), int):
            return "replicas: %d (as `dht status --json` reports)" % st[key]
    return "replicas: 1"


# Functions whose inclusive share of dhtd's samples the profile prints: the
# request path through libuv, the transport (src/io) and the core.
PROFILE_FUNCS = ("on_read", "on_frame", "chord_node_receive", "op_start",
                 "lookup_step", "chord_routing_closest_preceding",
                 "op_send_store", "store_execute", "chord__replica_read",
                 "chord__replica_handle_get", "chord__rpc", "chord__msg",
                 "op_reply", "conn_write",
                 "uv_write2", "__GI___libc_write", "__GI___libc_read",
                 "epoll_wait", "chord_msg_decode", "chord_msg_encode",
                 "chord_msg_init", "SHA1", "chord_store_find",
                 "chord_transport_send", "chord_transport_reply")


def perf_report(data, *args):
    """Lines of `perf report --stdio` without comments and blanks."""
    r = run_cmd(["perf", "report", "-i", data, "--stdio"] + list(args),
                timeout=PERF_TIMEOUT)
    return [l.rstrip() for l in r.out.splitlines()
            if l.strip() and not l.startswith("#")]


def perf_record(pids, data, seconds, freq=299):
    """Start `perf record` (DWARF call graphs) of the processes `pids`
    into `data` for `seconds`; stopped by stop_extra() on any way out."""
    perf = subprocess.Popen(["perf", "record", "--call-graph", "dwarf,8192",
                             "-F", str(freq), "-o", data, "-p",
                             ",".join(str(p) for p in pids), "--", "sleep",
                             str(seconds)],
                            stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE,
                            preexec_fn=_set_pdeathsig)
    _EXTRA.append(perf)
    return perf


def perf_finish(perf, data):
    """Wait for perf_record()'s process: None when `data` holds the
    recording, else why not."""
    try:
        _, err = perf.communicate(timeout=PERF_TIMEOUT)
    except subprocess.TimeoutExpired:
        perf.kill()
        _, err = perf.communicate()
    _EXTRA.remove(perf)
    if perf.returncode != 0 or not os.path.exists(data):
        return "perf record failed (%s): %s" % (perf.returncode,
                                                err.decode(errors="replace"))
    return None


def perf_summary(data, funcs, title, top=14):
    """Lines of a recording's summary: the share of samples by binary,
    the inclusive share of the functions `funcs` (under `title`), and the
    `top` self costs."""
    out = ["  share of samples by binary (self):"]
    out += ["    " + l.strip() for l in perf_report(
        data, "--no-children", "--sort", "dso", "-g", "none")[:6]]
    out.append("  inclusive share of %s (children):" % title)
    incl = perf_report(data, "--children", "--sort", "symbol", "-g", "none")
    seen = set()
    for l in incl:
        f = l.split()  # children%, self%, [.] or [k], symbol, ...
        name = f[3] if len(f) >= 4 and f[2] in ("[.]", "[k]") else ""
        if name in funcs and name not in seen:
            seen.add(name)
            out.append("    %8s  %s" % (f[0], name))
    out.append("  top self costs:")
    out += ["    " + " ".join(l.split()[:3]) for l in perf_report(
        data, "--no-children", "--sort", "symbol", "-g", "none")[:top]]
    return out


def profile_gets(cluster, a, direct, seconds, outdir):
    """perf record (DWARF call graphs) dhtd while a get benchmark runs:
    routed, the contacted node (it serves every client); --direct, every
    node (the load is spread). Returns a text summary: the share of each
    binary, the inclusive share of the functions of the request path, and
    the top self costs."""
    node = random.choice(cluster.nodes)
    pids = [node.pid] if not direct else [n.pid for n in cluster.nodes]
    data = os.path.join(outdir, "perf-%s.data" % ("direct" if direct
                                                 else "routed"))
    perf = perf_record(pids, data, seconds)
    time.sleep(0.5)
    # Enough gets to outlast the recording; the time limit bounds it.
    args = ["bench", "-c", str(a.clients), "-n", str(a.requests * 50), "-t",
            "get", "--keyspace", str(a.keyspace), "--time-limit",
            str(int(seconds + 1)), "--json"]
    if direct:
        args.append("--direct")
    r = cluster.dht(node, *args, timeout=BENCH_TIMEOUT)
    failed = perf_finish(perf, data)
    if failed:
        return failed
    try:
        ops = "%.0f gets/s" % json.loads(r.out)["get"]["ops_per_sec"]
    except (ValueError, KeyError):
        ops = "bench output unreadable"
    out = ["perf: %s, %d s of gets %s (%s)" % (
        "dhtd %s, the contacted node" % node.addr if not direct
        else "all %d dhtd" % len(pids), seconds,
        "with --direct" if direct else "routed through it", ops)]
    out += perf_summary(data, PROFILE_FUNCS, "the request path")
    return "\n".join(out)


def latency_pass(cluster, rport, a):
    """Latency without queueing: one client (-c 1), 10000 requests (or
    fewer), --latency-rounds times each; prints and returns the median get
    p50 per contender. With 50 clients the p50 is mostly waiting in line
    (Little's law: 50 / throughput); this shows the cost of one get."""
    one = argparse.Namespace(**vars(a))
    one.clients = 1
    one.requests = min(a.requests, 10000)
    p50 = {"redis": [], "routed": [], "direct": []}
    for _ in range(a.latency_rounds):
        for who in p50:
            if who == "redis":
                res = run_redis_benchmark(rport, one)
            else:
                res = run_dht_bench(cluster, random.choice(cluster.nodes),
                                    one, who == "direct")
            p50[who].append(res["get"]["p50_ms"])
    med = {who: median(v) for who, v in p50.items()}
    log("unloaded get p50 (-c 1, n=%d, median of %d): redis %.3f ms, dht "
        "via random node %.3f ms, dht --direct %.3f ms"
        % (one.requests, a.latency_rounds, med["redis"], med["routed"],
           med["direct"]))
    return med


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default=DEFAULT_BUILD)
    ap.add_argument("--nodes", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("-n", "--requests", type=int, default=100000)
    ap.add_argument("-c", "--clients", type=int, default=50)
    ap.add_argument("-d", "--value", type=int, default=16)
    ap.add_argument("--keyspace", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--with-one", action="store_true",
                    help="also run --direct --consistency one")
    ap.add_argument("--with-etcd", action="store_true",
                    help="also run etcd 3 (one member) with etcd_load")
    ap.add_argument("--latency-rounds", type=int, default=3,
                    help="rounds of the unloaded pass (-c 1); 0: skip it")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--profile-seconds", type=int, default=8)
    ap.add_argument("--json", help="also write the medians to this file")
    ap.add_argument("--dhtd-arg", action="append", default=[],
                    help="pass this argument to every dhtd (repeatable)")
    a = ap.parse_args()
    if a.seed is None:
        a.seed = random.SystemRandom().randrange(1 << 31)
    random.seed(a.seed)
    log("seed %d" % a.seed)
    log("machine: " + machine_line())

    ensure_redis()
    if a.with_etcd:
        etcd_peer.ensure_etcd(apt_install)
    bin_dir = ensure_build(a.bin)
    tmp = tempfile.mkdtemp(prefix="vs-redis-")
    etcd_load = etcd_peer.build_load(tmp) if a.with_etcd else None
    cluster = Cluster(bin_dir, name="vsredis", seed=a.seed, log_level="warn")
    try:
        log("starting a ring of %d dhtd" % a.nodes)
        if a.dhtd_arg:
            log("dhtd arguments: %s" % " ".join(a.dhtd_arg))
        first = cluster.start_node(extra=a.dhtd_arg)
        for _ in range(1, a.nodes):
            cluster.start_node(join=random.choice(cluster.nodes),
                               extra=a.dhtd_arg)
        took = cluster.wait_ring(timeout=120.0)
        log("ring correct after %.1f s" % took)
        rport = cluster.free_port()
        start_redis(rport, tmp)
        log("redis-server on %s:%d (no persistence)" % (HOST, rport))
        repl = replicas_line(cluster, first)
        log(repl)
        if a.with_etcd:
            eport, epeer = cluster.free_port(), cluster.free_port()
            _ETCD.append(etcd_peer.start_etcd(HOST, eport, epeer, _EXTRA,
                                              _set_pdeathsig))
            log("etcd on %s:%d (one member, data on tmpfs)" % (HOST, eport))

        runs = {"redis": [], "routed": [], "direct": []}
        if a.with_one:
            runs["one"] = []
        if a.with_etcd:
            runs["etcd"] = []
        order = list(runs)
        for rnd in range(a.rounds):
            for who in order:
                if who == "redis":
                    res = run_redis_benchmark(rport, a)
                    res = {"put": res["set"], "get": res["get"]}
                elif who == "etcd":
                    res = etcd_peer.run_load(etcd_load, HOST, eport, a,
                                             run_cmd, BENCH_TIMEOUT)
                else:
                    node = random.choice(cluster.nodes)
                    res = run_dht_bench(cluster, node, a, who != "routed",
                                        "one" if who == "one" else None)
                runs[who].append(res)
                log("round %d %-6s put %9.0f ops/s p50 %.3f ms | get %9.0f "
                    "ops/s p50 %.3f ms p99 %.3f ms"
                    % (rnd + 1, who, res["put"]["ops_per_sec"],
                       res["put"]["p50_ms"], res["get"]["ops_per_sec"],
                       res["get"]["p50_ms"], res["get"]["p99_ms"]))
            order = order[1:] + order[:1]

        med = {}
        for who, rs in runs.items():
            med[who] = {op: {f: median([r[op][f] for r in rs])
                             for f in ("ops_per_sec", "p50_ms", "p99_ms")}
                        for op in ("put", "get")}
        log("")
        log("medians over %d rounds (n=%d, c=%d, d=%d, keyspace %d, %d "
            "nodes, %s)" % (a.rounds, a.requests, a.clients, a.value,
                            a.keyspace, a.nodes, repl))
        log("%-22s %12s %9s %9s %12s %9s %9s" % ("", "put ops/s", "p50 ms",
                                                 "p99 ms", "get ops/s",
                                                 "p50 ms", "p99 ms"))
        names = {"redis": "redis (SET / GET)", "routed": "dht via random node",
                 "direct": "dht --direct", "one": "dht --direct, one copy",
                 "etcd": "etcd (put / get)"}
        for who in runs:
            m = med[who]
            log("%-22s %12.0f %9.3f %9.3f %12.0f %9.3f %9.3f"
                % (names[who], m["put"]["ops_per_sec"], m["put"]["p50_ms"],
                   m["put"]["p99_ms"], m["get"]["ops_per_sec"],
                   m["get"]["p50_ms"], m["get"]["p99_ms"]))
        ratios = {}
        for who in [w for w in runs if w not in ("redis", "etcd")]:
            ratios[who] = {
                "get_ops": med[who]["get"]["ops_per_sec"]
                / med["redis"]["get"]["ops_per_sec"],
                "put_ops": med[who]["put"]["ops_per_sec"]
                / med["redis"]["put"]["ops_per_sec"],
                "get_p50": med[who]["get"]["p50_ms"]
                / med["redis"]["get"]["p50_ms"]}
            log("ratio ours/redis, %-20s get ops/s %.2f  put ops/s %.2f  "
                "get p50 %.2f (ours %.3f ms)"
                % (names[who] + ":", ratios[who]["get_ops"],
                   ratios[who]["put_ops"], ratios[who]["get_p50"],
                   med[who]["get"]["p50_ms"]))
        if a.with_etcd:
            ratios["vs_etcd"] = {}
            for who in [w for w in runs if w not in ("redis", "etcd")]:
                r = {op: med[who][op]["ops_per_sec"]
                     / med["etcd"][op]["ops_per_sec"] for op in ("get", "put")}
                ratios["vs_etcd"][who] = r
                log("ratio ours/etcd,  %-20s get ops/s %.2f  put ops/s %.2f"
                    % (names[who] + ":", r["get"], r["put"]))
        lat = latency_pass(cluster, rport, a) if a.latency_rounds else {}
        log("machine: " + machine_line())
        if a.json:
            with open(a.json, "w") as f:
                json.dump({"args": vars(a), "replicas": repl, "runs": runs,
                           "medians": med, "ratios": ratios,
                           "unloaded_get_p50_ms": lat}, f, indent=1)

        if a.profile:
            stop_extra()  # redis is done; keep the CPUs for the ring
            for direct in (False, True):
                log("")
                log(profile_gets(cluster, a, direct, a.profile_seconds, tmp))
    finally:
        stop_extra()
        for p in list(_ETCD):
            etcd_peer.remove_data(p)
        cluster.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
