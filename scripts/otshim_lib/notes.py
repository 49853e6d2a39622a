"""otshim_lib/notes.py: how the report tools talk on stderr: one "otshim: " line per
note, and the Skipped list of files and index lines left out, which the text, JSON and
HTML outputs repeat. What gets skipped, and why, is decided in index.py and analysis.py."""
import sys

PROG = "otshim"


def note(msg):
    print("%s: %s" % (PROG, msg), file=sys.stderr)


class Skipped:
    """Everything left out of a report, in order; each one is also a note right away."""

    def __init__(self):
        self.items = []

    def add(self, what, reason):
        self.items.append({"file": what, "reason": reason})
        note("skipped %s: %s" % (what, reason))
