#!/usr/bin/env python3
"""leaf_only_sleepers.py TRACES: in the output of `go tool pprof -traces` for a threads
profile, how many samples are threads named "sleepy" labelled "stack: leaf only"
whose every frame is nanosleep (threads asleep in a call SA_RESTART does not restart
are not signalled: the capture shows their leaf frame only)."""
import re
import sys

recs = open(sys.argv[1]).read().split("-----------+-------------------------------------------------------")
n = 0
for r in recs:
    if "thread_name:  sleepy" not in r or "stack:  leaf only" not in r:
        continue
    frames = [l.split()[-1] for l in r.splitlines() if re.match(r"^\s+\d+\s+\S", l) or re.match(r"^\s{10,}\S", l) and ":" not in l]
    if frames and all("nanosleep" in f for f in frames):
        n += 1
print(n)
