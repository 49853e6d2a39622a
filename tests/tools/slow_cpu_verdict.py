#!/usr/bin/env python3
"""slow_cpu_verdict.py CPU_NS DURATION_MS SLOW_MS PROFILE_NS INDEX_CPU_MS: a request
that burned CPU_NS of CPU from its start to its end (DURATION_MS) spent the fraction
after the slow threshold SLOW_MS, CPU_NS * (DURATION_MS - SLOW_MS) / DURATION_MS, after
crossing it: is its profile's CPU total PROFILE_NS that, and the index line's cpu_ms
INDEX_CPU_MS, each within 10 %? Prints the numbers, then "1|0 1|0" (the two answers).
Empty arguments count as 0."""
import sys

cpu_ns, dur, slow, prof, idx = (float(x or 0) for x in sys.argv[1:6])
expect = cpu_ns * (dur - slow) / dur if dur else 0
print("expected %.1f ms, profile %.1f ms, index cpu_ms %.1f" % (expect / 1e6, prof / 1e6, idx))
print(int(expect > 0 and abs(prof - expect) <= 0.1 * expect), int(idx > 0 and abs(prof / 1e6 - idx) <= 0.1 * idx))
