#!/usr/bin/env python3
"""check_report_dom.py DOM EXPECT: the DOM Chromium rendered from report.html (DOM, its
--dump-dom) lists the requests EXPECT names (trace ids, space-separated) as rows in
that order, names each at least three times (its row, its section, its flame graph or
file names), and holds three flame graphs (report.sh's three /cpu requests; /hold
burnt no CPU after the threshold) with a burn_cpu frame. Prints "ok", or "bad: ..."."""
import re
import sys

dom = open(sys.argv[1]).read()
expect = sys.argv[2].split()
rows = re.findall(r'<tr class="req" data-trace="([0-9a-f]{32})">', dom)
bad = []
if rows != expect:
    bad.append("rows %r" % rows)
for t in expect:
    if dom.count(t) < 3:
        bad.append("%s appears %d times" % (t, dom.count(t)))
svgs = len(re.findall(r"<svg ", dom))
if svgs != 3:
    bad.append("%d flame graphs" % svgs)
if 'data-n="burn_cpu"' not in dom:
    bad.append("no burn_cpu frame")
print("ok" if not bad else "bad: " + "; ".join(bad))
