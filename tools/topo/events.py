"""events.py - what the node logs say happened during a scenario, as
timed records (events.tsv):
    t_ms <TAB> category <TAB> reporter <TAB> subject <TAB> message
categories: suspect, false-suspicion, dead, drop, successor, predecessor,
transfer, joined, created, leave-notice, left, join-failed, warning, error.

Invariants: a log line is "YYYY-MM-DDTHH:MM:SS.mmmZ LEVEL ADDR message"
(dhtd stamps it in UTC); its time of day minus the scenario's T0 (also a
UTC time of day) is t_ms, wrapped once across midnight; lines before T0,
lines not in that shape, and transfers of 0 keys are left out. Fields and
numbers are read the way awk read them (whitespace-split fields, numeric
prefix or 0), so the records are those of the bash original.

What it does not do: read files (scenario.py hands it the lines) or
summarise (report.py).
"""

import re

HALF_DAY_MS = 43200000
DAY_MS = 86400000
NUMBER = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
HEAD = re.compile(r"[^ ]+ [^ ]+ [^ ]+ ")
BLANKS = re.compile(r"[ \t\n]+")
SORT_KEY = re.compile(r"\s*(-?\d*\.?\d*)")

# (pattern on the message, anchored?, category, subject field (1-based) or 0)
RULES = (
    (re.compile(r"suspecting "), True, "suspect", 5),
    (re.compile(r" is alive after all: false suspicion"), False,
     "false-suspicion", 4),
    (re.compile(r" is dead: routing around it"), False, "dead", 4),
    (re.compile(r"(successor|predecessor) [^ ]+ [^ ]+ did not answer"), True,
     "drop", 5),
    (re.compile(r"successor is now "), True, "successor", 7),
    (re.compile(r"predecessor is now "), True, "predecessor", 7),
    (re.compile(r"sending [0-9]+ keys to "), True, "transfer", 8),
    (re.compile(r"joined the ring"), True, "joined", 0),
    (re.compile(r"created a new ring"), True, "created", 0),
    (re.compile(r" is leaving$"), False, "leave-notice", 4),
    (re.compile(r"leaving: handing"), True, "left", 0),
    (re.compile(r"join attempt [0-9]+ failed"), True, "join-failed", 0),
)
LEVELS = {"ERROR": "error", "WARN": "warning"}


def awk_number(text):
    """The numeric value awk gives a string: its numeric prefix, or 0."""
    m = NUMBER.match(text)
    return float(m.group(0)) if m else 0.0


def _field(fields, n):
    return fields[n - 1] if 0 < n <= len(fields) else ""


def _time_ms(stamp, t0_day_ms):
    """Milliseconds from T0 of a log stamp, or None if it is not one."""
    if stamp[4:5] != "-" or stamp[10:11] != "T":
        return None
    t = ((awk_number(stamp[11:13]) * 60 + awk_number(stamp[14:16])) * 60
         + awk_number(stamp[17:19])) * 1000 + awk_number(stamp[20:23])
    t -= t0_day_ms
    if t < -HALF_DAY_MS:
        t += DAY_MS
    return None if t < 0 else t


def classify(msg, fields):
    """(category, subject) of a message, or None when it does not count."""
    for rx, anchored, category, subject_field in RULES:
        if (rx.match(msg) if anchored else rx.search(msg)) is None:
            continue
        if category == "transfer" and awk_number(_field(fields, 5)) == 0:
            return None
        subject = _field(fields, subject_field) if subject_field else "-"
        if category == "suspect":
            subject = subject[:-1] if subject.endswith(":") else subject
        return category, subject
    category = LEVELS.get(_field(fields, 2))
    return (category, "-") if category else None


def event_of(line, t0_day_ms):
    """The events.tsv record (without newline) of one log line, or None."""
    fields = [f for f in BLANKS.split(line) if f]
    t = _time_ms(_field(fields, 1), t0_day_ms)
    if t is None:
        return None
    head = HEAD.match(line)
    msg = line[head.end():] if head else line
    found = classify(msg, fields)
    if found is None:
        return None
    category, subject = found
    return "%d\t%s\t%s\t%s\t%s" % (int(t), category, _field(fields, 3),
                                   subject, msg)


def sort_by_time(records):
    """Records stably sorted by their leading number (`sort -n -s -k1,1`)."""
    def key(record):
        m = SORT_KEY.match(record)
        try:
            return float(m.group(1))
        except ValueError:
            return 0.0
    return sorted(records, key=key)


def collect(run, addrs, offsets, t0_day_ms):
    """The events of every node's log from its offset on, sorted by time."""
    records = []
    for addr, offset in zip(addrs, offsets):
        for line in run.log_from(addr, offset):
            record = event_of(line, t0_day_ms)
            if record is not None:
                records.append(record)
    return sort_by_time(records)
