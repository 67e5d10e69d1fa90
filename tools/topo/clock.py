"""clock.py - the scenario's time: wall-clock milliseconds since the moment
the scenario started (T0), and the shell's whole-second clock for bounds.

Invariants: scenario times are wall-clock (the node logs are stamped with
the wall clock, UTC, and events.py compares the two); bounds use
whole_seconds(), a monotonic count like bash's $SECONDS; times are never
negative in practice, so integer division matches the shell's.

What it does not do: schedule anything (scenario.py sleeps through it).
"""

import time

DAY_MS = 86400000


def now_us():
    """Microseconds since the epoch."""
    return time.time_ns() // 1000


def whole_seconds():
    """A monotonic whole-second count (like bash's $SECONDS)."""
    return int(time.monotonic())


def secs(ms):
    """Seconds with one decimal (truncated) from milliseconds: 1234 -> 1.2."""
    return "%d.%d" % (ms // 1000, (ms % 1000) // 100)


class Clock:
    """Time since T0, fixed when the Clock is made."""

    def __init__(self, t0_us=None):
        self.t0_us = now_us() if t0_us is None else t0_us

    @property
    def run_id(self):
        """T0 in ms since the epoch: tags the values a run writes."""
        return self.t0_us // 1000

    @property
    def t0_day_ms(self):
        """T0 as milliseconds since midnight UTC."""
        return (self.t0_us // 1000) % DAY_MS

    def rel_ms(self):
        return (now_us() - self.t0_us) // 1000

    def sleep_until_ms(self, ms):
        """Sleep until T0 + ms, if that is still ahead."""
        delta = self.t0_us + ms * 1000 - now_us()
        if delta > 0:
            time.sleep(delta / 1e6)
