#!/usr/bin/env python3
"""same_requests.py DIR LOG [all|count|index]: does the shim's view of a run (DIR: its
stats files and index.jsonl) match the service's access log LOG (lines "PATH TRACE_ID
slow|fast", tests/servers/fd_reuse)?
  count  the stats files' request count is the log's line count;
  index  every slow request logged has an index line (trace_id, path), no line twice,
         and no line for anything not logged (a half request, a glued one, bytes from a
         file); a line for a logged fast request is fine (queued behind a slow one in a
         pipeline, it is slow too by the shim's clock);
  all    both (the default).
Prints what differs, or a summary; exits 1 if anything does."""
import glob
import json
import os
import sys

d, log = sys.argv[1], sys.argv[2]
what = sys.argv[3] if len(sys.argv) > 3 else "all"
lines = [l.split() for l in open(log)] if os.path.exists(log) else []
want = set((t, p) for p, t, kind in lines if kind == "slow")
logged = set((t, p) for p, t, kind in lines)
got = []
if os.path.exists(os.path.join(d, "index.jsonl")):
    got = [(j["trace_id"], j["path"]) for j in map(json.loads, open(os.path.join(d, "index.jsonl")))]
req = sum(json.load(open(f))["requests"] for f in glob.glob(os.path.join(d, "otshim-stats-*.json")))
bad = []
if req != len(lines) and what in ("all", "count"):
    bad.append("shim counted %d requests, the access log has %d" % (req, len(lines)))
if what == "count":
    got, want = [], set()
if len(got) != len(set(got)):
    bad.append("index lines twice: %s" % sorted(x for x in got if got.count(x) > 1))
if want - set(got):
    bad.append("slow requests without an index line: %s" % sorted(want - set(got)))
if set(got) - logged:
    bad.append("index lines for requests never answered: %s" % sorted(set(got) - logged))
print("; ".join(bad) if bad else "%d requests, %d index lines, as logged" % (req, len(got)))
sys.exit(1 if bad else 0)
