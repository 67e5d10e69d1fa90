#!/usr/bin/env python3
"""test_install.py - what `cmake --install` gives an operator and a C
programmer, checked from a temporary prefix.

What a user would notice, in order:
  1. `cmake --install BUILD --prefix TMP` puts the five programs in bin/,
     the library and include/chord/*.h, chord.pc, the CMake package, the
     manual pages (which `man` then finds through MANPATH) and the bash
     completion of dht; every installed program answers --version with
     the version;
  2. a tiny C program built with `pkg-config --cflags --libs chord`
     (PKG_CONFIG_PATH into the prefix) puts a key through a live dhtd
     started from the prefix and reads it back; the installed `dht` reads
     the same value;
  3. the same program built by CMake with find_package(chord) does too;
     and a program that embeds a whole node (chord/host.h), built with
     pkg-config, joins the live ring, serves a key, and leaves on SIGTERM
     with exit 0 (it links every part of the library, so a dependency
     missing from chord.pc fails here);
  4. the installed dht-topo finds its package and the installed binaries
     (not the source tree): it reads a topology file through the
     installed dht-viz.

Usage: test_install.py --bin BUILD_DIR. Exit 77 (skipped, saying why)
when cmake, pkg-config or a C compiler is missing. A sanitizer build
(CHORD_SANITIZE in the cache) compiles the programs with the same
sanitizers, or they would not link.
"""

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

from common import (Cluster, Runner, TestFailure, check,  # noqa: E402
                    parse_args)

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TIMEOUT = 300  # an install or a build, sanitizers on 2 cores
PROGRAMS = ("dhtd", "dht", "dht-viz", "dht-sim", "dht-topo")

KV_C = r"""
/* kv.c - put a key through a node, read it back, print it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <chord/client.h>

int main(int argc, char **argv)
{
    struct chord_client *c = NULL;
    if (argc != 4 || chord_client_connect(argv[1], 10000, &c) != 0)
        return 3;
    int rc = chord_client_put(c, argv[2], strlen(argv[2]), argv[3],
                              strlen(argv[3]));
    uint8_t *v = NULL;
    size_t n = 0;
    if (rc == 0)
        rc = chord_client_get(c, argv[2], strlen(argv[2]), &v, &n);
    if (rc == 0)
        printf("%.*s\n", (int)n, (const char *)v);
    free(v);
    chord_client_close(c);
    return rc ? 1 : 0;
}
"""

NODE_C = r"""
/* node.c - embed a node: join the ring through argv[1], print the
 * address it advertises, serve until SIGTERM, leave. <uv.h> (through
 * chord/host.h) needs POSIX declarations under -std=c11. */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>

#include <chord/host.h>

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct chord_host_options opt;
    chord_host_options_default(&opt);
    opt.listen = "127.0.0.1:0";
    opt.join = argv[1];
    char err[CHORD_HOST_ERR_MAX];
    struct chord_host *h;
    if (chord_host_new(&loop, &opt, err, &h) != 0) {
        fprintf(stderr, "node: %s\n", err);
        return 1;
    }
    printf("%s\n", chord_host_addr(h));
    fflush(stdout);
    enum chord_host_outcome o = chord_host_run(h, err);
    if (o != CHORD_HOST_LEFT)
        fprintf(stderr, "node: %s\n", err);
    return uv_loop_close(&loop) == 0 && o == CHORD_HOST_LEFT ? 0 : 1;
}
"""

CMAKELISTS = """
cmake_minimum_required(VERSION 3.16)
project(kv C)
find_package(chord 0.1 REQUIRED)
add_executable(kv kv.c)
target_link_libraries(kv PRIVATE chord::chord)
"""


def run(argv, env=None, cwd=None, timeout=TIMEOUT):
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=env, cwd=cwd,
                       timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace"), \
        p.stderr.decode(errors="replace")


def sanitizer_flags(bin_dir):
    try:
        cache = open(os.path.join(bin_dir, "CMakeCache.txt")).read()
    except OSError:
        return []
    if re.search(r"^CHORD_SANITIZE:BOOL=(ON|1|TRUE)$", cache, re.M):
        return ["-fsanitize=address,undefined"]
    return []


class Install:
    def __init__(self, bin_dir, tmp):
        self.bin_dir = bin_dir
        self.tmp = tmp
        self.prefix = os.path.join(tmp, "prefix")
        self.san = sanitizer_flags(bin_dir)
        with open(os.path.join(tmp, "kv.c"), "w") as f:
            f.write(KV_C)
        with open(os.path.join(tmp, "node.c"), "w") as f:
            f.write(NODE_C)

    def install(self):
        code, out, err = run(["cmake", "--install", self.bin_dir, "--prefix",
                              self.prefix])
        check(code == 0, "cmake --install: exit %d: %s" % (code, err[-500:]))
        p = self.prefix
        want = ["bin/" + b for b in PROGRAMS] + [
            "lib/libchord.a", "include/chord/client.h",
            "include/chord/host.h", "lib/pkgconfig/chord.pc",
            "lib/cmake/chord/chordConfig.cmake",
            "lib/cmake/chord/chordConfigVersion.cmake",
            "share/man/man1/dht.1", "share/man/man1/dht-viz.1",
            "share/man/man1/dht-sim.1", "share/man/man1/dht-topo.1",
            "share/man/man5/dht-topology.5", "share/man/man8/dhtd.8",
            "share/bash-completion/completions/dht",
            "share/chord/python/topo/cli.py"]
        missing = [w for w in want if not os.path.exists(os.path.join(p, w))]
        check(not missing, "not installed: %s" % " ".join(missing))
        for b in PROGRAMS:
            code, out, err = run([os.path.join(p, "bin", b), "--version"])
            check(code == 0 and re.match(r"^%s \d+\.\d+\.\d+" % b, out),
                  "installed %s --version: exit %d, %r %r"
                  % (b, code, out, err[:200]))
        if shutil.which("man"):
            env = dict(os.environ, MANPATH=os.path.join(p, "share", "man"))
            for page in ("dht", "dhtd", "dht-topology"):
                code, out, _ = run(["man", "-w", page], env=env)
                check(code == 0 and out.startswith(p),
                      "man -w %s with MANPATH into the prefix: %r"
                      % (page, out))

    def pkg_config_build(self, name="kv"):
        env = dict(os.environ,
                   PKG_CONFIG_PATH=os.path.join(self.prefix, "lib",
                                                "pkgconfig"))
        code, flags, err = run(["pkg-config", "--cflags", "--libs", "chord"],
                               env=env)
        check(code == 0, "pkg-config --cflags --libs chord: %s" % err)
        exe = os.path.join(self.tmp, name + "-pc")
        argv = ["cc", "-std=c11", "-Wall", "-Werror"] + self.san + [
            "-o", exe, os.path.join(self.tmp, name + ".c")] + flags.split()
        code, _, err = run(argv)
        check(code == 0, "%s: exit %d: %s" % (" ".join(argv), code,
                                              err[-800:]))
        return exe

    def find_package_build(self):
        src = os.path.join(self.tmp, "fp")
        os.makedirs(src)
        shutil.copy(os.path.join(self.tmp, "kv.c"), src)
        with open(os.path.join(src, "CMakeLists.txt"), "w") as f:
            f.write(CMAKELISTS)
        build = os.path.join(self.tmp, "fp-build")
        flags = " ".join(self.san)
        code, _, err = run(["cmake", "-S", src, "-B", build,
                            "-DCMAKE_PREFIX_PATH=" + self.prefix,
                            "-DCMAKE_C_FLAGS=" + flags,
                            "-DCMAKE_EXE_LINKER_FLAGS=" + flags])
        check(code == 0, "cmake with find_package(chord): %s" % err[-800:])
        code, out, err = run(["cmake", "--build", build])
        check(code == 0, "building with chord::chord: %s %s"
              % (out[-400:], err[-400:]))
        return os.path.join(build, "kv")


def put_get(cluster, node, exe, key):
    value = "value-of-" + key
    code, out, err = run([exe, node.addr, key, value], timeout=60)
    check(code == 0 and out == value + "\n",
          "%s: exit %d, out %r, err %r" % (os.path.basename(exe), code, out,
                                           err[:300]))
    r = cluster.dht(node, "get", key)
    check(r.code == 0 and r.out == value,
          "the installed dht reads %r back: %s" % (key, r.describe()))


def embedded_node(cluster, seed, exe):
    """Run the embedded node beside the dhtd; it must join, serve a key
    and leave cleanly on SIGTERM."""
    p = subprocess.Popen([exe, seed.addr], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        addr = p.stdout.readline().decode().strip()
        check(addr.startswith("127.0.0.1:"), "embedded node said %r" % addr)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            r = cluster.dht(addr, "ring", "--json")
            if r.code == 0 and len(json.loads(r.out)) == 2:
                break
            time.sleep(0.2)
        else:
            raise TestFailure("the embedded node never joined: %s"
                              % r.describe())
        r = cluster.dht(addr, "put", "via-embedded", "yes")
        check(r.code == 0, "put through the embedded node: %s"
              % r.describe())
        r = cluster.dht(seed, "get", "via-embedded")
        check(r.code == 0 and r.out == "yes", r.describe())
        p.send_signal(signal.SIGTERM)
        code = p.wait(timeout=30)
        err = p.stderr.read().decode(errors="replace")
        check(code == 0, "embedded node after SIGTERM: exit %d, %s"
              % (code, err[-400:]))
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=10)
        p.stdout.close()
        p.stderr.close()


def topo_installed(inst):
    bin_dir = os.path.join(inst.prefix, "bin")
    topo_file = os.path.join(inst.prefix, "share", "chord", "topologies",
                             "ring5")
    env = {k: v for k, v in os.environ.items()
           if k not in ("DHT_BIN", "DHT_TOPO_RUN")}
    env["XDG_STATE_HOME"] = os.path.join(inst.tmp, "state")
    code, out, err = run([os.path.join(bin_dir, "dht-topo"), "status",
                          topo_file], env=env, cwd=inst.tmp, timeout=60)
    # Nothing was started: status says so for each node and exits 1; what
    # matters is that it ran with the installed package and binaries.
    check("not found in" not in err and "Traceback" not in err,
          "installed dht-topo: %r" % err[-400:])
    check(out.count("127.0.0.1:700") == 5,
          "installed dht-topo status lists the 5 nodes: %r %r"
          % (out[-400:], err[-200:]))
    code, out, err = run([os.path.join(bin_dir, "dht-topo")], env=env)
    check(code == 2 and err.startswith("usage: dht-topo"),
          "installed dht-topo without arguments: %d %r" % (code, err))


def main():
    args = parse_args(__doc__.splitlines()[0])
    for tool in ("cmake", "pkg-config", "cc"):
        if not shutil.which(tool):
            print("SKIP: %s is not installed" % tool)
            return 77
    r = Runner("test_install")
    with tempfile.TemporaryDirectory(prefix="dht-install-") as tmp:
        inst = Install(os.path.abspath(args.bin), tmp)
        if not r.run("cmake --install into a temporary prefix", inst.install):
            return r.finish()
        with Cluster(os.path.join(inst.prefix, "bin"), name="install",
                     seed=args.seed) as c:
            node = c.start_node()
            exe = []
            if r.run("pkg-config build", lambda: exe.append(
                    inst.pkg_config_build())):
                r.run("pkg-config program puts and gets", put_get, c, node,
                      exe[0], "embedded-pc")
            exe = []
            if r.run("find_package build", lambda: exe.append(
                    inst.find_package_build())):
                r.run("find_package program puts and gets", put_get, c,
                      node, exe[0], "embedded-cmake")
            exe = []
            if r.run("embedded node build (pkg-config)", lambda: exe.append(
                    inst.pkg_config_build("node"))):
                r.run("embedded node joins, serves, leaves", embedded_node,
                      c, node, exe[0])
        r.run("installed dht-topo", topo_installed, inst)
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
