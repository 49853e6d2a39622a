"""otshim_lib/commands.py: the `report` and `flame` commands, from parsed options to
output and exit status: 0 something reported / the SVG written; 1 nothing to report, or
FILE unreadable; 2 a bad option value; 3 report.html could not be written. Option
parsing is the entry point's (scripts/otshim_report.py)."""
import json
import os
import sys

from .analysis import analyse
from .flame import flame_svg
from .fmt import slow_requests
from .html_report import html_report
from .index import parse_when, read_index, select
from .notes import Skipped, note
from .pprof import ProfileError, load_profile
from .report import json_doc, print_text


def cmd_report(args):
    directory = os.path.abspath(args.dir or os.environ.get("OTSHIM_PROFILE_DIR") or "profiles")
    try:
        since = None if args.since is None else parse_when(args.since)
    except ValueError:
        note("report: --since %r is neither ISO 8601 (2026-11-24T07:30:00Z) nor -N[smhd]" % args.since)
        return 2
    if not os.path.isdir(directory):
        what = "is not a directory" if os.path.exists(directory) else "does not exist"
        note("no profile directory: %s %s (pass DIR, or set OTSHIM_PROFILE_DIR)" % (directory, what))
        return 1
    skipped = Skipped()
    records = read_index(directory, skipped)
    filters = {k: v for k, v in (("since", args.since), ("path", args.path), ("min_ms", args.min_ms))
               if v is not None}
    reqs, empty_msg = gather(records, directory, since, args, filters, skipped)
    status = 0
    if args.html:
        status = write_html(reqs, directory, filters, skipped, len(records) if records else 0)
    if args.json:
        json.dump(json_doc(reqs, directory, filters, skipped), sys.stdout, indent=1)
        sys.stdout.write("\n")
    if empty_msg:
        note(empty_msg)
        return status or 1
    if not args.json and not args.html:
        print_text(reqs, directory, bool(filters))
    return status


def gather(records, directory, since, args, filters, skipped):
    """(the requests that pass the filters, analysed, slowest first; None, or why there
    are none)."""
    if records is None:
        return [], "no slow requests recorded in %s (no index.jsonl)" % directory
    if not records:
        if skipped.items:
            return [], "no readable slow request in %s (every line of index.jsonl was skipped)" % directory
        return [], "no slow requests recorded in %s (index.jsonl is empty)" % directory
    chosen = select(records, since, args.path, args.min_ms, skipped)
    if not chosen:
        return [], "no slow request in %s matches %s (%d recorded)" % (
            directory, " ".join("--%s %s" % (k.replace("_", "-"), v) for k, v in filters.items()),
            len(records))
    return [analyse(r, directory, skipped) for r in chosen], None


def write_html(reqs, directory, filters, skipped, n_all):
    """Writes DIRECTORY/report.html; the exit status, 0 or 3."""
    out = os.path.join(directory, "report.html")
    try:
        write_atomic(out, html_report(reqs, directory, filters, skipped, n_all))
        note("wrote %s (%s)" % (out, slow_requests(len(reqs))))
    except OSError as e:
        note("cannot write %s: %s" % (out, e.strerror or e))
        return 3
    return 0


def write_atomic(path, text):
    """A reader sees the old report.html or the new one, never half of one."""
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def cmd_flame(args):
    try:
        prof = load_profile(args.file)
    except ProfileError as e:
        note("flame: cannot read %s: %s" % (args.file, e))
        return 1
    try:
        idx = prof.sample_index(args.sample_index)
    except KeyError:
        note("flame: %s has no sample type %r; it has: %s" % (
            args.file, args.sample_index, ", ".join(t for t, _ in prof.sample_types)))
        return 2
    sys.stdout.write(flame_svg(prof, idx))
    return 0
