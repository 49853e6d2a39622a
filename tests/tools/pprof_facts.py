#!/usr/bin/env python3
"""pprof_facts.py TRACE SPAN: reads, on stdin, what `go tool pprof` shows of one CPU
profile -- "@samples" then its -top -sample_index=samples, "@cpu" then its -top
-sample_index=cpu, "@tags" then its -tags -sample_index=samples -- and prints one fact a
line: the samples total, burn_cpu's flat share of the samples, the CPU total in ns, and
1 if every sample carries trace_id TRACE and span_id SPAN (else 0). The tags it read
go to stderr."""
import re
import sys

trace, span = sys.argv[1], sys.argv[2]
part, out = None, {}
units = {"ns": 1, "us": 1e3, "\u00b5s": 1e3, "ms": 1e6, "s": 1e9, "mins": 60e9, "hrs": 3600e9}
tags, key = {}, None
for line in sys.stdin:
    line = line.rstrip("\n")
    if line.startswith("@"):
        part = line[1:]
        continue
    m = re.search(r"Total samples = ([\d.]+)(\S*)", line)
    if m and part == "samples":
        out["samples"] = float(m.group(1))
    elif m and part == "cpu":
        out["cpu_ns"] = float(m.group(1)) * units.get(m.group(2), 1)
    m = re.match(r"\s*\S+\s+([\d.]+)%\s+[\d.]+%\s+\S+\s+[\d.]+%\s+burn_cpu$", line)
    if m and part == "samples":
        out["burn_share"] = float(m.group(1)) / 100
    if part == "tags":
        m = re.match(r"\s*(\w+): Total", line)
        if m:
            key = m.group(1)
            tags[key] = []
            continue
        m = re.match(r"\s*\S+ \(\s*([\d.]+)%\): (\S+)", line)
        if m and key:
            tags[key].append((m.group(2), float(m.group(1))))
print(out.get("samples", 0))
print(out.get("burn_share", 0))
print(int(out.get("cpu_ns", 0)))
print(int(tags.get("trace_id") == [(trace, 100.0)] and tags.get("span_id") == [(span, 100.0)]))
print("tags %r" % tags, file=sys.stderr)
