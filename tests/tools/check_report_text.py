#!/usr/bin/env python3
"""check_report_text.py TEXT INDEX [--no-heap]: `otshim report`'s text (TEXT) against the
index.jsonl it read (INDEX), for report.sh's four slow requests: one block per request,
each row with the index's time, trace id, GET, path, status, duration and thread
count; burn_cpu the top CPU function (>= 80 % of the sampled CPU: a thread's first
request's CPU before its ring was made, [on CPU, not sampled], apart and under half) of
the /cpu requests; hold_site_three
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
        # The rows under "top CPU": share, ms, function. A thread's first request may
        # start before its ring was made: that CPU is the row [on CPU, not sampled],
        # left out of burn_cpu's share (it must stay under half of the total).
        m = re.search(r"top CPU \(flat, ([\d.]+) ms(?: sampled|, [\d.]+ ms of it not sampled)\):\n"
                      r"((?:\s+[\d.]+%\s+[\d.]+ ms\s+.*\n)+)", b)
        rows = [re.match(r"\s+[\d.]+%\s+([\d.]+) ms\s+(.*)$", r).groups() for r in m.group(2).splitlines()] if m else []
        unsampled = sum(float(ms) for ms, f in rows if f == "[on CPU, not sampled]")
        real = [(float(ms), f) for ms, f in rows if f != "[on CPU, not sampled]"]
        total = float(m.group(1)) if m else 0
        if not (real and real[0][1] == "burn_cpu" and unsampled < total / 2 and
                real[0][0] >= 0.8 * (total - unsampled)):
            bad.append("%s: burn_cpu is not >= 80%% of the sampled CPU: %r" % (head[1], b))
    if l.get("path") == "/hold" and not a.no_heap:
        m = re.search(r"top allocation \(alloc_space, this request, .*\):\n\s+([\d.]+)%\s+\S+ \S+\s+(\S+)", b)
        if not (m and m.group(2) == "hold_site_three"):
            bad.append("%s: top allocation is not hold_site_three: %r" % (head[1], b))
print("ok" if len(blocks) == 4 and not bad else "bad: %d blocks; %s" % (len(blocks), "; ".join(bad)))
