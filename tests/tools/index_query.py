#!/usr/bin/env python3
"""index_query.py: questions about a profile directory's index.jsonl (one JSON line per
slow request). A missing INDEX has no lines.

  values INDEX FIELD [--path P] [--max KEY]
        FIELD (dotted: files.cpu) of each line, in order, space-separated; with --path
        only the lines of that path; with --max only the line with the largest KEY
  below INDEX FIELD LIMIT
        how many lines have FIELD (0 if absent) below LIMIT
  slowest INDEX [min_ms=N] [path=PREFIX] [since=ISO8601]
        the trace ids of the lines that last at least N ms, whose path starts with
        PREFIX and that started at or after the time given, slowest first"""
import argparse
import datetime
import json
import os
import sys


def lines(index):
    return [json.loads(l) for l in open(index)] if os.path.exists(index) else []


def field(line, dotted):
    for k in dotted.split("."):
        line = line[k]
    return line


def values(a):
    ls = [l for l in lines(a.index) if not a.path or l["path"] == a.path]
    if a.max and ls:
        ls = [max(ls, key=lambda l: l[a.max])]
    print(" ".join(str(field(l, a.field)) for l in ls))


def below(a):
    print(sum(1 for l in lines(a.index) if l.get(a.field, 0) < a.limit))


def slowest(a):
    f = dict(x.split("=", 1) for x in a.filters)
    t = lambda s: datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
    ls = [l for l in lines(a.index)
          if l["duration_ms"] >= float(f.get("min_ms", 0)) and l["path"].startswith(f.get("path", ""))
          and ("since" not in f or t(l["time"]) >= t(f["since"]))]
    print(" ".join(l["trace_id"] for l in sorted(ls, key=lambda l: -l["duration_ms"])))


p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
sub = p.add_subparsers(dest="cmd", required=True)
v = sub.add_parser("values")
v.add_argument("index")
v.add_argument("field")
v.add_argument("--path", default="")
v.add_argument("--max")
v.set_defaults(run=values)
b = sub.add_parser("below")
b.add_argument("index")
b.add_argument("field")
b.add_argument("limit", type=float)
b.set_defaults(run=below)
s = sub.add_parser("slowest")
s.add_argument("index")
s.add_argument("filters", nargs="*")
s.set_defaults(run=slowest)
args = p.parse_args()
args.run(args)
