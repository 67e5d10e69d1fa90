"""state.py - the run directory of one topology, $DHT_TOPO_RUN/<name>/:
one <host>_<port>.pid and .log per node, `order` (the addresses in start
order), the nodes' data= directories, and what `run` records (scenario.tsv,
load-<step>.tsv, acked, events.tsv, ops.tsv).

Invariants: the layout and the file formats are those of the bash original
(a pid file holds the PID and a newline; `order` one address a line; the
.tsv files tab-separated lines), so a ring started by one version can be
inspected or stopped by the other. Appends use O_APPEND with one write per
record, so the load generators (separate processes) can share `acked`.
Paths are joined with "/" as the original did. Text is UTF-8 with
surrogateescape: bytes that are not UTF-8 survive a round trip.

What it does not do: start, signal or ask any process.
"""

import glob
import os

ENCODING = "utf-8"
ERRORS = "surrogateescape"
TAIL_BYTES = 1 << 20     # log_tail() reads at most this much of a log


def lines(text):
    """The lines of `text` as `mapfile -t` reads them (a last line without
    a newline counts; no empty line after the final newline)."""
    if not text:
        return []
    parts = text.split("\n")
    return parts[:-1] if text.endswith("\n") else parts


def stem(addr):
    """File name stem of an address: 127.0.0.1:7000 -> 127.0.0.1_7000."""
    return addr.replace(":", "_", 1)


def split_acked(line):
    """(key, value) of an `acked` line: KEY <TAB> VALUE."""
    if "\t" not in line:
        return line, line
    key, _, value = line.partition("\t")
    return key, value



class RunDir:
    """The files of one topology's run directory."""

    def __init__(self, root, name):
        self.path = root + "/" + name

    def file(self, name):
        return self.path + "/" + name

    def ensure(self):
        os.makedirs(self.path, exist_ok=True)

    # ---- any file --------------------------------------------------------

    def read_text(self, name):
        """The text of a file, "" when it cannot be read."""
        try:
            with open(self.file(name), encoding=ENCODING,
                      errors=ERRORS) as f:
                return f.read()
        except OSError:
            return ""

    def read_lines(self, name):
        return lines(self.read_text(name))

    def write_text(self, name, text):
        with open(self.file(name), "w", encoding=ENCODING,
                  errors=ERRORS) as f:
            f.write(text)

    def append(self, name, text):
        """Append `text` with a single write (O_APPEND)."""
        fd = os.open(self.file(name), os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                     0o666)
        try:
            os.write(fd, text.encode(ENCODING, ERRORS))
        finally:
            os.close(fd)

    def remove(self, name):
        try:
            os.remove(self.file(name))
        except FileNotFoundError:
            pass

    def exists(self, name):
        return os.path.isfile(self.file(name))

    def matching(self, pattern):
        """Names of the files matching a glob pattern, sorted."""
        found = glob.glob(glob.escape(self.path) + "/" + pattern)
        return sorted(os.path.basename(p) for p in found)

    def data_dir(self, name):
        """The path of a node's data= directory, created."""
        path = self.file(name)
        os.makedirs(path, exist_ok=True)
        return path

    # ---- pid files ---------------------------------------------------------

    def pid_name(self, addr):
        return stem(addr) + ".pid"

    def read_pid(self, addr):
        """The recorded PID text of a node ("" when there is none)."""
        return self.read_text(self.pid_name(addr)).rstrip("\n")

    def has_pid(self, addr):
        return self.exists(self.pid_name(addr))

    def write_pid(self, addr, pid):
        self.write_text(self.pid_name(addr), "%d\n" % pid)

    def remove_pid(self, addr):
        self.remove(self.pid_name(addr))

    # ---- logs --------------------------------------------------------------

    def log_name(self, addr):
        return stem(addr) + ".log"

    def logfile(self, addr):
        return self.file(self.log_name(addr))

    def log_size(self, addr):
        try:
            return os.path.getsize(self.logfile(addr))
        except OSError:
            return 0

    def log_from(self, addr, offset):
        """The lines of a node's log from byte `offset` on."""
        try:
            with open(self.logfile(addr), "rb") as f:
                f.seek(offset)
                data = f.read()
        except OSError:
            return []
        return lines(data.decode(ENCODING, ERRORS))

    def log_tail(self, addr, n):
        """The last n lines of a node's log (as `tail -n`)."""
        size = self.log_size(addr)
        return self.log_from(addr, max(0, size - TAIL_BYTES))[-n:]

    # ---- order -------------------------------------------------------------

    def read_order(self):
        return self.read_lines("order")

    def reset_order(self):
        self.write_text("order", "")

    def add_to_order(self, addr):
        if addr not in self.read_order():
            self.append("order", addr + "\n")

    def remove_order(self):
        self.remove("order")
