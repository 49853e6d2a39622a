#!/usr/bin/env python3
"""slow_cpu_verdict.py CPU_NS DURATION_MS SLOW_MS PROFILE_NS INDEX_CPU_MS [COVERS]: a
request burned CPU_NS of CPU from its start to its end (DURATION_MS). With COVERS
"request" (the default) its profile covers it whole, so the profile's CPU total
PROFILE_NS should be CPU_NS; with COVERS "after" it covers the part after the slow
threshold SLOW_MS only, CPU_NS * (DURATION_MS - SLOW_MS) / DURATION_MS (the server burned
CPU from start to end). Is PROFILE_NS that, and the index line's cpu_ms INDEX_CPU_MS
the profile's total, each within 10 %? Prints the numbers, then "1|0 1|0" (the two
answers). Empty arguments count as 0."""
import sys

cpu_ns, dur, slow, prof, idx = (float(x or 0) for x in sys.argv[1:6])
covers = sys.argv[6] if len(sys.argv) > 6 else "request"
if covers == "request":
    expect = cpu_ns
else:
    expect = cpu_ns * (dur - slow) / dur if dur else 0
print("expected %.1f ms (%s), profile %.1f ms, index cpu_ms %.1f" % (expect / 1e6, covers, prof / 1e6, idx))
print(int(expect > 0 and abs(prof - expect) <= 0.1 * expect), int(idx > 0 and abs(prof / 1e6 - idx) <= 0.1 * idx))
