"""ring.py - talking to the nodes through the `dht` CLI (status, ring, put,
get), and reading what it answers the way the bash original read it with jq.

Invariants: every `dht` run has stdin from /dev/null and is bounded
(CALL_BOUND_S, on top of dht's own --timeout-ms); a run that does not finish
is killed and reported as exit 124. A process killed by a signal reports
128+N, as a shell would. The readers below (jq_text, ring_addrs,
ring_is_correct, table_row, is_active, keys_text) are pure and mirror the
jq expressions they replace: `//` treats null and false as absent.

What it does not do: decide what a failure means for the scenario (check.py
and load.py do) or print anything (stderr of `dht` passes through only
where the caller asks).
"""

import dataclasses
import json
import subprocess

CALL_BOUND_S = 120       # one `dht` run, whatever its --timeout-ms
EXIT_NO_ANSWER = 124
ENCODING = "utf-8"
ERRORS = "surrogateescape"


@dataclasses.dataclass(frozen=True)
class Result:
    """One run of `dht`: exit status, stdout and stderr as text."""
    code: int
    out: str
    err: str


def _text(data):
    return (data or b"").decode(ENCODING, ERRORS)


def seed_args(addrs, first):
    """--node A --node B ...: every address once, starting at index
    `first` (mod len) so that consecutive operations spread over nodes."""
    n = len(addrs)
    args = []
    for k in range(n):
        args += ["--node", addrs[(first + k) % n]]
    return args


class Dht:
    """The `dht` client program at `path`."""

    def __init__(self, path):
        self.path = path

    def call(self, args, stderr=subprocess.DEVNULL):
        """Run dht with `args`; stderr is dropped unless the caller passes
        subprocess.PIPE (captured) or None (passed through)."""
        try:
            p = subprocess.run([self.path] + args, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=stderr,
                               timeout=CALL_BOUND_S)
        except subprocess.TimeoutExpired:
            return Result(EXIT_NO_ANSWER, "", "dht: no answer within %d s"
                          % CALL_BOUND_S)
        except OSError as e:
            return Result(126, "", "dht: %s" % e)
        code = p.returncode if p.returncode >= 0 else 128 - p.returncode
        return Result(code, _text(p.stdout), _text(p.stderr))

    def status(self, addr, timeout_ms):
        """`dht status --json` of one node: its stdout, or None."""
        r = self.call(["--node", addr, "--timeout-ms", str(timeout_ms),
                       "status", "--json"])
        return r.out if r.code == 0 else None

    def answers(self, addr, timeout_ms):
        """Does the node answer `dht status`?"""
        r = self.call(["--node", addr, "--timeout-ms", str(timeout_ms),
                       "status"])
        return r.code == 0

    def ring(self, addr, timeout_ms=None, show_errors=False):
        """`dht ring --json` walked from one node (a Result)."""
        args = ["--node", addr]
        if timeout_ms is not None:
            args += ["--timeout-ms", str(timeout_ms)]
        return self.call(args + ["ring", "--json"],
                         stderr=None if show_errors else subprocess.DEVNULL)

    def put(self, seeds, timeout_ms, key, value):
        """Store key=value through the seed nodes; Result with stderr."""
        return self.call(seeds + ["--timeout-ms", str(timeout_ms), "put",
                                  key, value], stderr=subprocess.PIPE)

    def get(self, seeds, timeout_ms, key, errors=True):
        """Read a key through the seed nodes; Result (stderr captured when
        `errors`)."""
        return self.call(seeds + ["--timeout-ms", str(timeout_ms), "get",
                                  key],
                         stderr=subprocess.PIPE if errors
                         else subprocess.DEVNULL)


# ---- reading the answers ----------------------------------------------------

NOT_JSON = object()


def parse_json(text):
    """The JSON value of `text`, or NOT_JSON."""
    try:
        return json.loads(text)
    except ValueError:
        return NOT_JSON


def present(value, default):
    """jq's `value // default`."""
    return default if value is None or value is False else value


def jq_text(value):
    """A value as `jq -r` prints it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e17:
        return str(int(value))
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(value, separators=(",", ":"))


def member(obj, *path):
    """obj.a.b... with jq's leniency: a missing member, or a member of null,
    is null (None)."""
    for step in path:
        if isinstance(obj, dict):
            obj = obj.get(step)
        elif isinstance(obj, list) and isinstance(step, int):
            obj = obj[step] if -len(obj) <= step < len(obj) else None
        else:
            return None
    return obj


def ring_addrs(ring):
    """The addresses of a ring listing (`jq -r '.[].addr'`)."""
    if not isinstance(ring, list):
        return []
    return [jq_text(member(node, "addr")) for node in ring
            if isinstance(node, dict)]


def ring_is_correct(ring):
    """Is the listing one correct ring? Ids ascend from the smallest one
    (once around) and each node's predecessor is the node before it."""
    if not isinstance(ring, list):
        return False
    n = len(ring)
    if n <= 1:
        return True
    ids = [member(node, "id") for node in ring]
    if not all(isinstance(i, str) for i in ids):
        return False
    k = ids.index(min(ids))
    if ids[k:] + ids[:k] != sorted(ids):
        return False
    for i in range(n):
        pred = present(member(ring[i], "predecessor", "addr"), "")
        if pred != member(ring[(i - 1) % n], "addr"):
            return False
    return True


def table_row(node):
    """(address, id prefix, keys, predecessor, successor) of one node of a
    ring listing, as the table of `up` shows them."""
    return (jq_text(member(node, "addr")),
            jq_text(present(member(node, "id"), "-"))[:12],
            jq_text(present(member(node, "keys"), 0)),
            jq_text(present(member(node, "predecessor", "addr"), "-")),
            jq_text(present(member(node, "successors", 0, "addr"), "-")))


def is_active(status_text):
    """Does `dht status --json` say the node is active (no state = yes)?"""
    status = parse_json(status_text)
    if not isinstance(status, dict):
        return False
    return jq_text(present(status.get("state"), "active")) == "active"


def keys_text(status_text):
    """The key count of `dht status --json`, or "-"."""
    status = parse_json(status_text)
    if not isinstance(status, dict):
        return "-"
    return jq_text(present(status.get("keys"), "-"))
