"""errors.py - how dht-topo stops: Exit carries an exit status and the text
for stderr; Interrupted is SIGINT or SIGTERM turned into an exception while a
command has something to undo.

Invariants: every message of the tool's own starts with "dht-topo: "
(die()); the exit statuses are those of the bash original: 1 for a failure,
2 for a usage error, 130 for a `run` interrupted once the ring is up.
Handlers that raise Interrupted are installed only inside trapped(), which
restores the previous ones on the way out (so a second Ctrl-C during the
clean-up stops the tool, as `trap - INT TERM` did).

What it does not do: print anything, or decide what to undo (the callers
catch Interrupted and clean up).
"""

import contextlib
import signal

PROG = "dht-topo"

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class Exit(Exception):
    """Stop the tool with status `code`; `text` (if any) goes to stderr."""

    def __init__(self, code, text=None):
        super().__init__(text or "exit %d" % code)
        self.code = code
        self.text = text


class Interrupted(Exception):
    """SIGINT or SIGTERM arrived inside trapped()."""


def die(message):
    """The Exit of a failure: "dht-topo: MESSAGE", status 1."""
    return Exit(EXIT_FAILURE, "%s: %s" % (PROG, message))


def _raise_interrupted(signum, _frame):
    raise Interrupted(signum)


@contextlib.contextmanager
def trapped():
    """Within the block, SIGINT and SIGTERM raise Interrupted."""
    old = {s: signal.signal(s, _raise_interrupted)
           for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
