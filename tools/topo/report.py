"""report.py - what `run` prints after the scenario: per step, what the
logs and the load said until the next step (suspicions, nodes declared
dead, false suspicions, dropped neighbours, ring repairs, key transfers,
joins, errors, failed operations), the totals, and one summary per load
step.

Invariants: pure functions of the recorded lines (scenario.tsv, events.tsv,
ops.tsv, load-<step>.tsv; tab-separated); an event or operation belongs to
the last step that started at or before its time (-1: before the first
one). The text is that of the bash original's awk programs, character for
character; where awk's order was unspecified (the reasons of failed
operations), first appearance is used.

What it does not do: read files or print (scenario.py does).
"""

import collections

from . import events

INDENT = "           "
SUBJECTS_SHOWN = 3
REASONS_SHOWN = 4
OK_STATES = ("ok", "skipped")
NAMED = (("suspect", "suspected:"), ("dead", "declared dead:"),
         ("false-suspicion", "false suspicion of"))


def _fields(line, n):
    """The first n tab-separated fields, "" for missing ones."""
    parts = line.split("\t")
    return parts + [""] * (n - len(parts))


def _plural(n, word):
    return "%d %s%s" % (n, word, "" if n == 1 else "s")


class Window:
    """What happened between one step and the next."""

    def __init__(self, start_ms):
        self.start_ms = start_ms
        self.count = collections.Counter()
        self.first = {}
        self.subjects = collections.defaultdict(dict)  # cat -> subj -> set
        self.ops = 0
        self.fails = 0
        self.first_fail = None

    def add_event(self, t, category, reporter, subject):
        self.count[category] += 1
        self.first.setdefault(category, t)
        if category in ("suspect", "dead", "false-suspicion"):
            self.subjects[category].setdefault(subject, set()).add(reporter)

    def add_op(self, op, key, status, detail):
        self.ops += 1
        if status not in OK_STATES:
            self.fails += 1
            if self.first_fail is None:
                self.first_fail = "%s %s: %s" % (op, key, detail)

    def _since(self, category):
        return "+%.1fs" % ((self.first[category] - self.start_ms) / 1000)

    def _who(self, category, label):
        subjects = list(self.subjects[category].items())
        shown = ", ".join("%s by %s" % (s, _plural(len(r), "node"))
                          for s, r in subjects[:SUBJECTS_SHOWN])
        more = ", ..." if len(subjects) > SUBJECTS_SHOWN else ""
        return "%s %s%s (%s)" % (label, shown, more, self._since(category))

    def parts(self):
        """The pieces of this window's line, in the original's order."""
        c, out = self.count, []
        out += [self._who(cat, label) for cat, label in NAMED if c[cat]]
        if c["drop"]:
            out.append("%d silent neighbour(s) dropped (%s)"
                       % (c["drop"], self._since("drop")))
        repairs = c["successor"] + c["predecessor"]
        if repairs:
            out.append(_plural(repairs, "successor/predecessor change"))
        if c["transfer"]:
            out.append(_plural(c["transfer"], "key transfer"))
        if c["joined"]:
            out.append("%d join(s) completed (%s)"
                       % (c["joined"], self._since("joined")))
        if c["join-failed"]:
            out.append("%d failed join attempt(s)" % c["join-failed"])
        if c["error"]:
            out.append("%d error line(s)" % c["error"])
        if self.ops:
            text = "%d of %d operations failed" % (self.fails, self.ops)
            if self.first_fail is not None:
                text += " (first: %s)" % self.first_fail
            out.append(text)
        return out


def _window_of(starts, t):
    for k in range(len(starts) - 1, -1, -1):
        if t >= starts[k]:
            return k
    return -1


def _totals(total, failed, ops):
    return ("totals: %d suspicions, %d declared dead, %d false suspicions, "
            "%d ring repairs (successor/predecessor changes), %d key "
            "transfers, %d of %d operations failed"
            % (total["suspect"], total["dead"], total["false-suspicion"],
               total["successor"] + total["predecessor"], total["transfer"],
               failed, ops))


def summarise(scenario, event_records, op_records):
    """The per-step report and the totals, as text ending in a newline."""
    steps = [_fields(line, 2)[:2] for line in scenario]
    starts = [events.awk_number(t) for t, _ in steps]
    windows = {w: Window(starts[w] if w >= 0 else 0)
               for w in range(-1, len(steps))}
    total = collections.Counter()
    for record in event_records:
        t, category, reporter, subject = _fields(record, 4)[:4]
        t = events.awk_number(t)
        windows[_window_of(starts, t)].add_event(t, category, reporter,
                                                 subject)
        total[category] += 1
    failed = 0
    for record in op_records:
        t, op, key, status, detail = _fields(record, 5)[:5]
        windows[_window_of(starts, events.awk_number(t))].add_op(
            op, key, status, detail)
        failed += status not in OK_STATES
    out = []
    for w in range(-1, len(steps)):
        if w >= 0:
            out.append("[%6.1fs] %s" % (starts[w] / 1000, steps[w][1]))
        parts = windows[w].parts()
        if parts:
            out.append(INDENT + "; ".join(parts))
    out += ["", _totals(total, failed, len(op_records))]
    return "\n".join(out) + "\n"


def load_summary(records):
    """How the operations of one load step went (text ending in a newline)."""
    status = collections.Counter()
    reasons = {}
    first = None
    for record in records:
        t, _, key, state, detail = _fields(record, 5)[:5]
        status[state] += 1
        if state in OK_STATES:
            continue
        reasons[detail] = reasons.get(detail, 0) + 1
        if first is None:
            first = "%.1fs %s: %s" % (events.awk_number(t) / 1000, key,
                                      detail)
    text = "%d done: %d ok" % (len(records), status["ok"])
    for state, label in (("failed", "failed"), ("notfound", "not found"),
                         ("wrong", "wrong value"), ("skipped", "skipped")):
        if status[state]:
            text += ", %d %s" % (status[state], label)
    out = [text]
    out += ["      %d x %s" % (n, why)
            for why, n in list(reasons.items())[:REASONS_SHOWN]]
    if first is not None:
        out.append("      first failure at %s" % first)
    return "\n".join(out) + "\n"
