"""lock_clients.py - three lock clients that each keep one connection open,
for bench/locks.py's in-process figures: the same acquire / append /
release cycle against Redis (SET NX PX over RESP), etcd (its v3 lock API
through the JSON gateway, over one keep-alive HTTP connection) and the
ring (C_LOCK frames of src/core/wire.c over one TCP connection, with a
request id on each, as the client library sends them).

Each client raises ClientError when the server answers something else than
the cycle expects; none retries (a benchmark wants to see failures).
Python 3 standard library only. No process is started here.
"""

import base64
import http.client
import json
import os
import socket
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "system"))

from common import (STATUS_REDIRECT, decode_c_result_hint,  # noqa: E402
                    encode_frame, read_frame)

HOST = "127.0.0.1"


class ClientError(Exception):
    """The server's answer was not what the cycle expects."""


# --- Redis: SET NX PX, APPEND, compare-and-delete --------------------------

RELEASE_LUA = ("if redis.call('get', KEYS[1]) == ARGV[1] then "
               "return redis.call('del', KEYS[1]) else return 0 end")


class RedisClient:
    def __init__(self, port, timeout=10.0):
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.f = self.sock.makefile("rb")

    def close(self):
        self.f.close()
        self.sock.close()

    def cmd(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))
        return self._reply()

    def _reply(self):
        line = self.f.readline()
        if not line:
            raise ClientError("redis closed the connection")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise ClientError("redis: " + rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.f.read(n + 2)
            return data[:-2]
        if kind == b"*":
            return [self._reply() for _ in range(int(rest))]
        raise ClientError("redis: unexpected reply %r" % line)

    def try_acquire(self, name, token, lease_ms):
        return self.cmd("SET", name, token, "NX", "PX", lease_ms) == "OK"

    def acquire(self, name, token, lease_ms, poll_s, wait_s):
        """Spin on SET NX PX every poll_s (Redis has no queue)."""
        deadline = time.monotonic() + wait_s
        while not self.try_acquire(name, token, lease_ms):
            if time.monotonic() >= deadline:
                raise ClientError("redis: lock %s not acquired in %.1f s"
                                  % (name, wait_s))
            time.sleep(poll_s)

    def append(self, key, value):
        self.cmd("APPEND", key, value)

    def release(self, name, token):
        if self.cmd("EVAL", RELEASE_LUA, 1, name, token) != 1:
            raise ClientError("redis: release of %s found another token"
                              % name)


# --- etcd: v3 lock API through the gateway ----------------------------------

def b64(s):
    if isinstance(s, str):
        s = s.encode()
    return base64.b64encode(s).decode()


class EtcdClient:
    """One keep-alive HTTP connection; a session lease (like etcdctl's
    concurrency session) granted once and revoked on close. The lease is
    not kept alive: its TTL (300 s) outlasts one phase of the benchmark,
    which makes a new client for each phase."""

    def __init__(self, port, ttl_s=300, timeout=30.0):
        self.conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
        self.lease = self.post("/v3/lease/grant", {"TTL": ttl_s})["ID"]

    def post(self, path, body):
        self.conn.request("POST", path, json.dumps(body),
                          {"Content-Type": "application/json"})
        resp = self.conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            raise ClientError("etcd %s: HTTP %d %s" % (
                path, resp.status, data[:200].decode(errors="replace")))
        try:
            return json.loads(data)
        except ValueError:
            raise ClientError("etcd %s: not JSON: %r" % (path, data[:200]))

    def close(self):
        try:
            self.post("/v3/lease/revoke", {"ID": self.lease})
        except (ClientError, OSError):
            pass
        self.conn.close()

    def lock(self, name):
        """Blocks (server side) until granted; returns the lock's key
        (base64, as the gateway gives it)."""
        key = self.post("/v3/lock/lock", {"name": b64(name),
                                          "lease": self.lease}).get("key")
        if not key:
            raise ClientError("etcd lock %s: no key in the answer" % name)
        return key

    def put(self, key, value):
        self.post("/v3/kv/put", {"key": b64(key), "value": b64(value)})

    def unlock(self, lock_key):
        self.post("/v3/lock/unlock", {"key": lock_key})

    def count_prefix(self, prefix):
        """How many keys start with prefix (a lock's holder and waiters:
        etcd's lock keys are "NAME/<lease>")."""
        p = prefix.encode()
        end = p[:-1] + bytes([p[-1] + 1])
        r = self.post("/v3/kv/range", {"key": b64(p), "range_end": b64(end),
                                       "count_only": True})
        return int(r.get("count", 0))


# --- the ring: C_LOCK frames -------------------------------------------------

MSG_C_LOCK = 76
MSG_C_RESULT = 69
FRAME_MUTATION = 0x0001
MUT_RID = 0x01
LOCK_ACQUIRE, LOCK_RENEW, LOCK_APPEND, LOCK_RELEASE = 1, 2, 3, 4
LOCK_CANCEL, LOCK_STATUS = 5, 6
ST_OK, ST_QUEUED = 0, 9


def encode_c_lock(req_id, client, seq, name, op, lock_client, fence,
                  lease_ms=0, key=b"", value=b""):
    """A C_LOCK frame with a request-id trailer (src/core/wire.c):
    bytes name, u8 op, 16 lock_client, u64 lock_fence, u32 lease_ms,
    bytes key2, bytes value, u8 consistency; then u8 bits, 16 client,
    u64 seq."""
    name = name.encode() if isinstance(name, str) else name
    key = key.encode() if isinstance(key, str) else key
    value = value.encode() if isinstance(value, str) else value
    body = (struct.pack(">I", len(name)) + name
            + struct.pack(">B", op) + lock_client
            + struct.pack(">QI", fence, lease_ms)
            + struct.pack(">I", len(key)) + key
            + struct.pack(">I", len(value)) + value
            + struct.pack(">B", 0)
            + struct.pack(">B", MUT_RID) + client + struct.pack(">Q", seq))
    return encode_frame(MSG_C_LOCK, req_id, body, flags=FRAME_MUTATION)


class DhtWireClient:
    """One TCP connection to a node; a random 16-byte client id and a
    sequence number per request, as chord/session.h describes. A waiter
    asks again every poll_s (the library's CHORD_LOCK_POLL_MS is 10 ms)."""

    def __init__(self, addr, timeout=10.0):
        self.client = os.urandom(16)
        self.seq = 0
        self.req_id = 0
        self.timeout = timeout
        self.sock = None
        self._connect(addr)

    def _connect(self, addr):
        if self.sock is not None:
            self.sock.close()
        host, port = addr.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)),
                                             timeout=self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.addr = addr

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def request(self, name, op, fence=0, lease_ms=0, key=b"", value=b""):
        """One C_LOCK request (a redirect is followed with the same request
        id): (status, error text, value bytes)."""
        self.seq += 1
        for _ in range(4):
            self.req_id += 1
            self.sock.sendall(encode_c_lock(self.req_id, self.client,
                                            self.seq, name, op, self.client,
                                            fence, lease_ms, key, value))
            mtype, rid, body = read_frame(self.sock)
            if mtype != MSG_C_RESULT or rid != self.req_id:
                raise ClientError("dht %s: reply type %d id %d to request %d"
                                  % (self.addr, mtype, rid, self.req_id))
            try:
                status, err, val, hint = decode_c_result_hint(body)
            except ValueError as e:
                raise ClientError("dht %s: bad C_RESULT: %s" % (self.addr, e))
            if status != STATUS_REDIRECT:
                return status, err, val
            self._connect(hint)
        raise ClientError("dht: redirected 4 times")

    @staticmethod
    def fence_of(state):
        """The fence of an encoded lock state (chord/lock.h: u8 format,
        u64 fence, ...)."""
        if len(state) < 9:
            raise ClientError("dht: lock state of %d bytes" % len(state))
        return struct.unpack(">Q", state[1:9])[0]

    def acquire(self, name, lease_ms, poll_s, wait_s):
        """Ask until granted (the fence), polling while queued."""
        deadline = time.monotonic() + wait_s
        while True:
            st, err, val = self.request(name, LOCK_ACQUIRE,
                                        lease_ms=lease_ms)
            if st == ST_OK:
                return self.fence_of(val)
            if st != ST_QUEUED:
                raise ClientError("dht acquire %s: status %d %s"
                                  % (name, st, err))
            if time.monotonic() >= deadline:
                self.request(name, LOCK_CANCEL)
                raise ClientError("dht: lock %s not acquired in %.1f s"
                                  % (name, wait_s))
            time.sleep(poll_s)

    def _holder_op(self, what, name, op, fence, key=b"", value=b""):
        st, err, _ = self.request(name, op, fence=fence, key=key, value=value)
        if st != ST_OK:
            raise ClientError("dht %s %s: status %d %s"
                              % (what, name, st, err))

    def append(self, name, fence, key, value):
        self._holder_op("lock append", name, LOCK_APPEND, fence, key, value)

    def release(self, name, fence):
        self._holder_op("release", name, LOCK_RELEASE, fence)

    def waiters(self, name):
        """How many wait for the lock (decoded from its state)."""
        st, err, val = self.request(name, LOCK_STATUS)
        if st != ST_OK:
            raise ClientError("dht status %s: status %d %s" % (name, st, err))
        return lock_state_waiters(val)


def lock_state_waiters(state):
    """n_waiters of an encoded lock state (chord/lock.h)."""
    try:
        pos = 1 + 8
        flags = state[pos]
        pos += 1
        if flags & 1:
            pos += 16
        pos += 4 + 8 + 4        # lease_ms, released, lease_left_ms
        return struct.unpack(">I", state[pos:pos + 4])[0]
    except (IndexError, struct.error):
        raise ClientError("dht: lock state of %d bytes is too short"
                          % len(state))
