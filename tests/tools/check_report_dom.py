#!/usr/bin/env python3
"""check_report_dom.py DOM EXPECT --cpu-flames N --wall-flames N [--frame NAME]...
[--wall-frame TRACE=NAME]...: the DOM Chromium rendered from report.html (DOM, its
--dump-dom) lists the requests EXPECT names (trace ids, space-separated) as rows in
that order, names each at least three times (its row, its section, its flame graph or
file names), and holds N CPU flame graphs and N wall flame graphs (each titled with a
trace id EXPECT names); some flame graph has a frame for each NAME, and TRACE's wall
flame graph a frame NAME for each TRACE=NAME. Prints "ok", or "bad: ..."."""
import argparse
import re

p = argparse.ArgumentParser()
p.add_argument("dom")
p.add_argument("expect")
p.add_argument("--cpu-flames", type=int, required=True)
p.add_argument("--wall-flames", type=int, required=True)
p.add_argument("--frame", action="append", default=[])
p.add_argument("--wall-frame", action="append", default=[])
a = p.parse_args()
dom = open(a.dom).read()
expect = a.expect.split()
rows = re.findall(r'<tr class="req" data-trace="([0-9a-f]{32})">', dom)
bad = []
if rows != expect:
    bad.append("rows %r" % rows)
for t in expect:
    if dom.count(t) < 3:
        bad.append("%s appears %d times" % (t, dom.count(t)))
svgs = re.findall(r'<svg id="(w?fg)\d+".*?</svg>', dom, re.S)
if len(svgs) != a.cpu_flames + a.wall_flames or svgs.count("fg") != a.cpu_flames:
    bad.append("%d CPU and %d wall flame graphs" % (svgs.count("fg"), svgs.count("wfg")))
walls = {}  # trace -> its wall flame graph's frame names
for m in re.finditer(r'<svg id="wfg\d+".*?</svg>', dom, re.S):
    head = re.search(r"Wall flame graph, trace ([0-9a-f]{32})", m.group())
    if not head or head.group(1) not in expect:
        bad.append("a wall flame graph titled %r" % (head and head.group()))
        continue
    walls[head.group(1)] = set(re.findall(r'data-n="([^"]*)"', m.group()))
for name in a.frame:
    if 'data-n="%s"' % name not in dom:
        bad.append("no %s frame" % name)
for tf in a.wall_frame:
    trace, name = tf.split("=", 1)
    if name not in walls.get(trace, ()):
        bad.append("%s's wall flame graph has no %s frame (it has %s)"
                   % (trace, name, sorted(walls.get(trace, ()))[:12]))
print("ok" if not bad else "bad: " + "; ".join(bad))
