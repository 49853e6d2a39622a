"""otshim_lib/cmd_report.py: `otshim report [DIR] [--json] [--since WHEN] [--path PREFIX]
[--min-ms N] [--html]`: which requests were slow and what they were doing, from the
files libotshim.so writes, with nothing but Python's standard library.

Reads DIR/index.jsonl (DIR defaults to $OTSHIM_PROFILE_DIR, else ./profiles) and the
profiles its lines name. Prints every slow request, slowest first: start time, trace
id, method, path, status, duration, CPU ms, allocated bytes, threads; then, from its
wall file, how its time split on and off CPU and its top 5 waits (off-CPU time per
call and peer, with the innermost function of the service that waited there); its top
5 functions by CPU (flat cpu/nanoseconds of the leaf function, from the cpu file) and
its top 5 allocation sites by alloc_space (the leaf-most frame that is not an
allocator, from the heap file). An index line without a wall file (written before
there were any) gets no split and no waits. The heap file is a whole-process snapshot: when some of its
samples carry the request's span_id, those are used ("this request"), else the whole
snapshot ("whole process"), and the heading says which.
  --json          the same as one JSON document on stdout:
                  {"dir", "filters", "requests": [{<index line fields>, "files": {kind:
                  absolute path}, "cpu_sampled_ms", "top_cpu": [{"function", "cpu_ms",
                  "share"}], "alloc_scope": "request"|"process", "alloc_sampled_bytes",
                  "top_alloc": [{"function", "bytes", "share"}], "wall_ms",
                  "on_cpu_ms", "off_cpu_ms", "off_cpu_share", "waited_ms" (off CPU
                  inside the timed calls), "top_waits": [{"wait", "peer", "function",
                  "ms", "share"}], "notes": [...]}], "skipped": [{"file", "reason"}]}
                  (share is 0..1, of the duration for waits; wall numbers null and
                  top_waits [] without a wall file)
  --since WHEN    only requests that started at or after WHEN: ISO 8601
                  (2026-11-24T07:30:00Z, 2026-11-24; no zone means UTC) or relative
                  to now: -30s, -15m, -2h, -1d
  --path PREFIX   only requests whose path starts with PREFIX
  --min-ms N      only requests that took at least N ms
  --html          also write DIR/report.html: the table and, per request, its CPU
                  and wall flame graphs inlined as SVG; static, no external URL,
                  works offline
A line of index.jsonl that is not a JSON object, and a profile that is missing or not a
readable pprof file, is skipped with one line on stderr naming it; the rest is still
reported.

Exit status: 0 at least one request reported (skipped-file notes may accompany it);
1 nothing to report: DIR does not exist, has no index.jsonl or an empty one, or no line
passed the filters (with --html, a page saying so is still written); 2 usage (unknown
option, bad value); 3 --html: DIR/report.html could not be written."""
import json
import os
import sys

from .analysis import analyse
from .fmt import slow_requests
from .html_report import html_report
from .index import parse_when, read_index, select
from .notes import Skipped, note
from .report import json_doc, print_text


def add_parser(sub):
    rep = sub.add_parser("report", help="list slow requests and what they were doing")
    rep.add_argument("dir", nargs="?", metavar="DIR",
                     help="profile directory (default $OTSHIM_PROFILE_DIR, else ./profiles)")
    rep.add_argument("--json", action="store_true", help="one JSON document on stdout")
    rep.add_argument("--since", metavar="WHEN", help="ISO 8601 time, or -Ns/-Nm/-Nh/-Nd before now")
    rep.add_argument("--path", metavar="PREFIX", help="only paths starting with PREFIX")
    rep.add_argument("--min-ms", type=float, metavar="N", help="only requests of at least N ms")
    rep.add_argument("--html", action="store_true", help="also write DIR/report.html")
    rep.set_defaults(func=report, parser=rep)


def report(args):
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
