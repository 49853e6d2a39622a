#!/usr/bin/env python3
"""cpu_matches_index.py INDEX: for every line of INDEX (a profile directory's
index.jsonl), is the CPU total of its CPU profile (read by `go tool pprof -raw`, as
pprof_raw.py does) its cpu_ms, within 10 % and 4 ms? Prints the number of lines and
how many are off by more."""
import json
import os
import sys

from pprof_raw import summarize

index = sys.argv[1]
lines = [json.loads(l) for l in open(index)]
bad = 0
for d in lines:
    s = summarize(os.path.join(os.path.dirname(index), d["files"]["cpu"]))
    cpu_ns = s["totals"][1]  # sample types: samples/count, cpu/nanoseconds
    if abs(cpu_ns / 1e6 - d["cpu_ms"]) > 0.1 * d["cpu_ms"] + 4:
        bad += 1
print(len(lines), bad)
