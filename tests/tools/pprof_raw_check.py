#!/usr/bin/env python3
"""pprof_raw_check.py SUMMARY [--min-samples N] [--cpu-ms LO HI] [--labels KEY=VALUE ...]:
judges a CPU profile from its summary by pprof_raw.py (SUMMARY, a JSON file). Exits 0
if it has at least N samples, a CPU total between LO and HI ms, and samples that all
carry each label KEY with that one VALUE; without a condition it prints
"samples N cpu_ms X" instead."""
import argparse
import json
import sys

p = argparse.ArgumentParser()
p.add_argument("summary")
p.add_argument("--min-samples", type=int)
p.add_argument("--cpu-ms", type=float, nargs=2, metavar=("LO", "HI"))
p.add_argument("--labels", nargs="+", default=[], metavar="KEY=VALUE")
a = p.parse_args()
s = json.load(open(a.summary))
samples, cpu_ns = s["totals"][0], s["totals"][1]  # sample types: samples/count, cpu/nanoseconds
if a.min_samples is None and a.cpu_ms is None and not a.labels:
    print("samples", samples, "cpu_ms", cpu_ns / 1e6)
    sys.exit(0)
ok = True
if a.min_samples is not None:
    ok &= samples >= a.min_samples
if a.cpu_ms:
    ok &= a.cpu_ms[0] * 1e6 <= cpu_ns <= a.cpu_ms[1] * 1e6
for kv in a.labels:
    k, v = kv.split("=", 1)
    ok &= s["rows"] > 0 and s["labels"].get(k) == [v] and s["unlabelled"].get(k) == 0
sys.exit(0 if ok else 1)
