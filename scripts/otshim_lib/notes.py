"""otshim_lib/notes.py: how otshim talks on stderr: one "otshim: " line per note, die()
for a note that ends the command, and the Skipped list of files and index lines a
report leaves out, which its text, JSON and HTML outputs repeat. What gets skipped, and
why, is decided in index.py and analysis.py."""
import sys

PROG = "otshim"


def note(msg):
    # flushed at once: `otshim run` says what it does before the command's own output
    print("%s: %s" % (PROG, msg), file=sys.stderr, flush=True)


def die(msg, code=2):
    note(msg)
    sys.exit(code)


class Skipped:
    """Everything left out of a report, in order; each one is also a note right away."""

    def __init__(self):
        self.items = []

    def add(self, what, reason):
        self.items.append({"file": what, "reason": reason})
        note("skipped %s: %s" % (what, reason))
