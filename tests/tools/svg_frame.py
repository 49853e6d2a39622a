#!/usr/bin/env python3
"""svg_frame.py SVG FUNCTION: the widest frame of FUNCTION in a flame graph written by
`otshim flame`: prints "SHARE WIDTH", its share in % (from its title) and its rect's
width as a fraction of the drawable width, or "absent"."""
import re
import sys
import xml.etree.ElementTree as ET

ns = {"s": "http://www.w3.org/2000/svg"}
root = ET.parse(sys.argv[1]).getroot()
best = None
for g in root.iter("{http://www.w3.org/2000/svg}g"):
    t = g.find("s:title", ns)
    if t is not None and t.text.startswith(sys.argv[2] + " \u2014 "):
        share = float(re.search(r"([\d.]+)% of", t.text).group(1))
        w = float(g.find("s:rect", ns).get("width")) / (float(root.get("width")) - 20)
        best = max(best or (0, 0), (share, w))
print("%s %.3f" % best if best else "absent")
