#!/usr/bin/env python3
"""otshim_report.py: answers "which requests were slow and what were they doing" from
the files libotshim.so writes, with nothing but Python 3's standard library (no Go,
no pprof, no protobuf package: a small protobuf reader decodes pprof). This file is the
entry point, options and dispatch only; the work is done by the otshim_lib package
next to it (otshim_lib/__init__.py lists its modules).

    otshim_report.py report [DIR] [--json] [--since WHEN] [--path PREFIX] [--min-ms N] [--html]
    otshim_report.py flame FILE.pb.gz [--sample-index NAME] > out.svg

(`otshim report ...` and `otshim flame ...` run exactly these.)

report
    Reads DIR/index.jsonl (DIR defaults to $OTSHIM_PROFILE_DIR, else ./profiles) and
    the profiles its lines name. Prints every slow request, slowest first: start time,
    trace id, method, path, status, duration, CPU ms, allocated bytes, threads; then
    its top 5 functions by CPU (flat cpu/nanoseconds of the leaf function, from the cpu
    file) and its top 5 allocation sites by alloc_space (the leaf-most frame that is
    not an allocator, from the heap file). The heap file is a whole-process snapshot:
    when some of its samples carry the request's span_id, those are used ("this
    request"), else the whole snapshot ("whole process"), and the heading says which.
      --json          the same as one JSON document on stdout:
                      {"dir", "filters", "requests": [{<index line fields>, "files": {kind:
                      absolute path}, "cpu_sampled_ms", "top_cpu": [{"function", "cpu_ms",
                      "share"}], "alloc_scope": "request"|"process", "alloc_sampled_bytes",
                      "top_alloc": [{"function", "bytes", "share"}], "notes": [...]}],
                      "skipped": [{"file", "reason"}]}   (share is 0..1)
      --since WHEN    only requests that started at or after WHEN: ISO 8601
                      (2026-11-24T07:30:00Z, 2026-11-24; no zone means UTC) or relative
                      to now: -30s, -15m, -2h, -1d
      --path PREFIX   only requests whose path starts with PREFIX
      --min-ms N      only requests that took at least N ms
      --html          also write DIR/report.html: the table and, per request, its CPU
                      flame graph inlined as SVG; static, no external URL, works offline
    A line of index.jsonl that is not a JSON object, and a profile that is missing or
    not a readable pprof file, is skipped with one line on stderr naming it; the rest
    is still reported.

flame
    Writes to stdout a self-contained SVG flame graph of FILE (gzipped or plain pprof):
    one rect per frame, width = cumulative value, root at the bottom, colour from a
    hash of the function name; hover shows name, value and share (native tooltips and a
    details line), click zooms into a frame, click the bottom frame to zoom out.
    Frames narrower than 0.5 px are left out. The sample type is the profile's default
    (cpu/nanoseconds for cpu files, inuse_space for heap files, threads/count), or
    --sample-index NAME (e.g. alloc_space, samples) or a 0-based number.

Exit status
    0  report: at least one request reported (skipped-file notes may accompany it);
       flame: the SVG was written
    1  nothing to report: DIR does not exist, has no index.jsonl or an empty one, or no
       line passed the filters (with --html, a page saying so is still written);
       flame: FILE is missing or not a pprof profile
    2  usage: unknown option, bad value, unknown --sample-index
    3  report --html: DIR/report.html could not be written
"""
import argparse
import os
import sys

# The package lives next to this file, in a checkout (scripts/) and when installed
# ($PREFIX/lib/otshim/); realpath, so that a symlink to this file finds it too. No
# __pycache__ is written, neither into the checkout nor into an installed tree.
sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
sys.dont_write_bytecode = True

from otshim_lib.commands import cmd_flame, cmd_report  # noqa: E402 (needs the path above)
from otshim_lib.notes import PROG  # noqa: E402


def glue_since(argv):
    """"--since -15m" would look like an option to argparse; glue it to its flag."""
    fixed, i = [], 0
    while i < len(argv):
        if argv[i] == "--since" and i + 1 < len(argv):
            fixed.append("--since=" + argv[i + 1])
            i += 2
            continue
        fixed.append(argv[i])
        i += 1
    return fixed


def make_parser():
    parser = argparse.ArgumentParser(prog=PROG, description="slow-request reports and flame graphs "
                                     "from otshim's profiles (see the header of %s)" % os.path.basename(__file__))
    sub = parser.add_subparsers(dest="command", metavar="{report,flame}")
    rep = sub.add_parser("report", help="list slow requests and what they were doing")
    rep.add_argument("dir", nargs="?", metavar="DIR",
                     help="profile directory (default $OTSHIM_PROFILE_DIR, else ./profiles)")
    rep.add_argument("--json", action="store_true", help="one JSON document on stdout")
    rep.add_argument("--since", metavar="WHEN", help="ISO 8601 time, or -Ns/-Nm/-Nh/-Nd before now")
    rep.add_argument("--path", metavar="PREFIX", help="only paths starting with PREFIX")
    rep.add_argument("--min-ms", type=float, metavar="N", help="only requests of at least N ms")
    rep.add_argument("--html", action="store_true", help="also write DIR/report.html")
    fl = sub.add_parser("flame", help="SVG flame graph of one profile, to stdout")
    fl.add_argument("file", metavar="FILE.pb.gz")
    fl.add_argument("--sample-index", metavar="NAME", help="sample type (default: the profile's default)")
    return parser


def main(argv):
    parser = make_parser()
    args = parser.parse_args(glue_since(argv))
    if args.command == "report":
        return cmd_report(args)
    if args.command == "flame":
        return cmd_flame(args)
    parser.print_usage(sys.stderr)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BrokenPipeError:
        sys.exit(0)
