#!/usr/bin/env python3
"""check_report_text.py TEXT INDEX [--no-heap]: `otshim report`'s text (TEXT) against the
index.jsonl it read (INDEX), for report.sh's four slow requests: one block per request,
each row with the index's time, trace id, GET, path, status, duration and thread
count; burn_cpu the top CPU function (>= 80 %) of the /cpu requests; hold_site_three
the top allocation site of the /hold request (not checked with --no-heap: under a
sanitizer there are no heap samples). Prints "ok", or "bad: ..." saying what differs."""
import argparse
import json
import re

p = argparse.ArgumentParser()
p.add_argument("text")
p.add_argument("index")
p.add_argument("--no-heap", action="store_true")
a = p.parse_args()
text = open(a.text).read()
idx = {l["trace_id"]: l for l in map(json.loads, open(a.index))}
bad = []
blocks = re.split(r"\n(?=\d{4}-\d\d-\d\dT)", text)[1:]
for b in blocks:
    head = b.split("\n")[0].split()
    l = idx.get(head[1], {})
    # time, trace, method, path, status, duration "ms", cpu "ms", alloc unit, threads
    if head[:5] != [l.get("time"), l.get("trace_id"), "GET", l.get("path"), str(l.get("status"))]:
        bad.append("row %r vs index %r" % (head, l))
    if head[5] != "%.1f" % l.get("duration_ms", -1) or head[-1] != str(l.get("threads")):
        bad.append("duration/threads %r vs %r" % (head, l))
    if l.get("path") == "/cpu":
        m = re.search(r"top CPU \(flat, [\d.]+ ms sampled\):\n\s+([\d.]+)%\s+[\d.]+ ms\s+(\S+)", b)
        if not (m and m.group(2) == "burn_cpu" and float(m.group(1)) >= 80):
            bad.append("%s: top CPU is not burn_cpu >= 80%%: %r" % (head[1], b))
    if l.get("path") == "/hold" and not a.no_heap:
        m = re.search(r"top allocation \(alloc_space, this request, .*\):\n\s+([\d.]+)%\s+\S+ \S+\s+(\S+)", b)
        if not (m and m.group(2) == "hold_site_three"):
            bad.append("%s: top allocation is not hold_site_three: %r" % (head[1], b))
print("ok" if len(blocks) == 4 and not bad else "bad: %d blocks; %s" % (len(blocks), "; ".join(bad)))
