#!/usr/bin/env python3
"""test_tls.py - a ring of dhtd speaking mutual TLS 1.3 on 127.0.0.1.

Certificates are made at test time by tools/dht-certs (the openssl
command), in the cluster's temporary directory: a CA with a node
certificate for 127.0.0.1, one for 127.0.0.5 (another address) and a
client certificate; and a second, unrelated CA with its own 127.0.0.1.

  (a) three TLS nodes form a ring; `dht` with the client certificate
      ($DHT_TLS_*) puts and gets through it;
  (b) a node with a certificate from the other CA cannot join (it exits
      non-zero, the seed logs the failed handshake) and the ring keeps
      serving;
  (c) a node whose certificate names 127.0.0.5 while it listens on
      127.0.0.1 is refused (a node logs that its certificate does not
      name it) and never enters the ring;
  (d) `dht` without TLS against a TLS node fails at once (exit 3, one
      line that says TLS), and `dht` with TLS against a plaintext node
      too;
  (e) garbage bytes, and a ClientHello cut short, on a node's port: that
      connection is closed (the truncated one after the handshake
      deadline), one log line says why, and the ring keeps serving;
      a client without a certificate is refused.

Usage: test_tls.py --bin BUILD_DIR [--seed N].
"""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import (Cluster, Runner, check, connect,  # noqa: E402
                    expect_closed, one_line_error, parse_args)

CERTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                     "tools", "dht-certs")
JOIN_FAIL_TIMEOUT = 30.0  # a node that cannot join gives up
QUICK_ERROR_S = 3.0       # a mismatched client hears about it this fast
HANDSHAKE_CLOSE_S = 15.0  # the node's handshake deadline (10 s) + slack
TLS_ENV = ("DHT_TLS_CA", "DHT_TLS_CERT", "DHT_TLS_KEY")


def make_certs(dirpath, *addrs):
    r = subprocess.run([CERTS, dirpath] + list(addrs), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    check(r.returncode == 0, "dht-certs failed: %s" % r.stderr.decode())


def wait_exit(node, timeout):
    """Wait (bounded) for a daemon to exit; its exit code, or None."""
    try:
        return node.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return None


class TlsTest:
    def __init__(self, args):
        self.c = Cluster(args.bin, name="tls", seed=args.seed)
        self.good = os.path.join(self.c.tmp, "good")
        self.other = os.path.join(self.c.tmp, "other")
        self.saved_env = {k: os.environ.get(k) for k in TLS_ENV}

    def flags(self, d, host="127.0.0.1"):
        return ["--tls-ca", os.path.join(d, "ca.crt"),
                "--tls-cert", os.path.join(d, "%s_1.crt" % host),
                "--tls-key", os.path.join(d, "%s_1.key" % host)]

    def client_env(self, on):
        """Give every `dht` this process runs the client certificate (or
        none)."""
        for k in TLS_ENV:
            os.environ.pop(k, None)
        if on:
            os.environ["DHT_TLS_CA"] = os.path.join(self.good, "ca.crt")
            os.environ["DHT_TLS_CERT"] = os.path.join(self.good, "client.crt")
            os.environ["DHT_TLS_KEY"] = os.path.join(self.good, "client.key")

    def restore_env(self):
        for k, v in self.saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

    def logs(self):
        return "\n".join(n.log_text() for n in self.c.nodes[:3])

    def serving(self):
        """put then get a fresh key through two different nodes."""
        key = "serving-%d" % time.monotonic_ns()
        r = self.c.dht(self.c.nodes[0], "put", key, "yes")
        check(r.code == 0, "put: " + r.describe())
        r = self.c.dht(self.c.nodes[2], "get", key)
        check(r.code == 0 and r.out == "yes", "get: " + r.describe())

    # (a)
    def start_ring(self):
        make_certs(self.good, "127.0.0.1:1", "127.0.0.5:1")
        make_certs(self.other, "127.0.0.1:1")
        self.client_env(True)
        seed = self.c.start_node(extra=self.flags(self.good))
        for _ in range(2):
            self.c.start_node(join=seed, extra=self.flags(self.good))
        self.c.wait_ring(self.c.nodes[:3])
        for i in range(20):
            r = self.c.dht(self.c.nodes[i % 3], "put", "k%d" % i, "v%d" % i)
            check(r.code == 0, "put: " + r.describe())
        for i in range(20):
            r = self.c.dht(self.c.nodes[(i + 1) % 3], "get", "k%d" % i)
            check(r.code == 0 and r.out == "v%d" % i, "get: " + r.describe())
        check("TLS 1.3 on every connection" in self.c.nodes[0].log_text(),
              "the node does not say it runs TLS")

    # (b)
    def test_other_ca(self):
        n = self.c.start_node(join=self.c.nodes[0], wait=False,
                              extra=self.flags(self.other))
        code = wait_exit(n, JOIN_FAIL_TIMEOUT)
        check(code not in (None, 0),
              "a node of another CA: exit %s, expected a failed join; log:\n%s"
              % (code, n.log_tail()))
        check("TLS handshake failed" in n.log_text(),
              "the refused node does not say why:\n%s" % n.log_tail())
        check("TLS handshake failed" in self.c.nodes[0].log_text(),
              "the seed does not log the refused handshake")
        self.c.wait_ring(self.c.nodes[:3])
        self.serving()

    # (c)
    def test_wrong_name(self):
        n = self.c.start_node(join=self.c.nodes[1], wait=False,
                              extra=self.flags(self.good, "127.0.0.5"))
        code = wait_exit(n, JOIN_FAIL_TIMEOUT)
        check(code not in (None, 0),
              "a node with another address's certificate: exit %s, "
              "expected a failed join; log:\n%s" % (code, n.log_tail()))
        check("does not name" in self.logs(),
              "no node says the certificate does not name the address")
        self.c.wait_ring(self.c.nodes[:3])
        self.serving()

    # (d)
    def test_mismatch_clients(self):
        self.client_env(False)
        try:
            t0 = time.monotonic()
            r = self.c.dht(self.c.nodes[0], "get", "k1")
            took = time.monotonic() - t0
            check(r.code == 3 and one_line_error(r) and "TLS" in r.err,
                  "plaintext dht against a TLS node: " + r.describe())
            check(took < QUICK_ERROR_S, "plaintext dht took %.1f s" % took)
        finally:
            self.client_env(True)
        plain = self.c.start_node(wait=False)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # wait until it listens
            try:
                connect(plain.addr, timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        t0 = time.monotonic()
        r = self.c.dht(plain, "get", "k1")
        took = time.monotonic() - t0
        check(r.code == 3 and one_line_error(r) and "TLS" in r.err,
              "TLS dht against a plaintext node: " + r.describe())
        check(took < QUICK_ERROR_S, "TLS dht took %.1f s" % took)
        check("this node does not use TLS" in plain.log_text(),
              "the plaintext node does not say it got a TLS handshake")
        self.c.stop_node(plain)

    # (e)
    def test_bad_bytes(self):
        target = self.c.nodes[2]
        before = target.log_text().count("TLS handshake failed")
        s = connect(target.addr)
        s.sendall(b"\x00\x00\x00\x10garbage that is not TLS at all\r\n")
        expect_closed(s, "garbage", 5.0)
        s.close()
        # A ClientHello record that announces 512 bytes and stops after 40.
        hello = (b"\x16\x03\x01\x02\x00" + b"\x01\x00\x01\xfc\x03\x03" +
                 bytes(range(29)))
        t = connect(target.addr)
        t.sendall(hello)
        t0 = time.monotonic()
        self.serving()  # the ring serves while the handshake hangs
        expect_closed(t, "truncated handshake", HANDSHAKE_CLOSE_S)
        t.close()
        took = time.monotonic() - t0
        check(took > 5.0, "the truncated handshake was closed after %.1f s, "
              "before its deadline" % took)
        log = target.log_text()
        check(log.count("TLS handshake failed") >= before + 2,
              "expected a log line for each bad connection:\n%s"
              % target.log_tail())
        check("not finished within" in log, "no handshake-deadline line")
        # A client without a certificate: refused, one clear line.
        saved = os.environ.pop("DHT_TLS_CERT"), os.environ.pop("DHT_TLS_KEY")
        try:
            r = self.c.dht(target, "get", "k1")
            check(r.code == 3 and one_line_error(r) and "certificate" in r.err,
                  "a client without a certificate: " + r.describe())
        finally:
            os.environ["DHT_TLS_CERT"], os.environ["DHT_TLS_KEY"] = saved
        self.serving()
        self.c.wait_ring(self.c.nodes[:3])


def main():
    args = parse_args(__doc__.splitlines()[0])
    runner = Runner("test_tls")
    t = TlsTest(args)
    try:
        if runner.run("(a) a TLS ring of 3, put/get", t.start_ring):
            runner.run("(b) a node of another CA cannot join",
                       t.test_other_ca)
            runner.run("(c) a certificate naming another address",
                       t.test_wrong_name)
            runner.run("(d) plaintext/TLS mismatch: quick clear error",
                       t.test_mismatch_clients)
            runner.run("(e) garbage, truncated handshake, no certificate",
                       t.test_bad_bytes)
            for n in t.c.nodes[:3]:
                if not n.alive():
                    runner.failed += 1
                    print("FAIL node %s died:\n%s" % (n.addr, n.log_tail()))
        else:
            print(t.c.dump_logs())
    finally:
        t.c.cleanup()
        t.restore_env()
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
