"""otshim_lib/flame.py: an SVG flame graph of one pprof profile's sample type: one rect
per frame, width = cumulative value, root at the bottom, colour from a hash of the
function name in a palette per kind (CPU, memory, threads; in a wall profile, blue for
frames mostly off CPU and warm for the rest, with each wait and its peer as a frame on
top of the function that waited, wall.py); frames narrower than 0.5 px are left out. Hover shows a frame's name and share, click zooms (the script below).
Standalone for `otshim flame`, or inline in report.html (html_report.py)."""
import html
import re

from .fmt import fmt_value
from .wall import flame_samples, is_wall, off_cpu

WIDTH, FRAME_H, FONT, CHAR_W, PAD = 1200, 17, 12, 7.0, 10
MIN_PX = 0.5
IDLE = "hover a frame for its name and share; click to zoom, click the bottom frame to zoom out"


def xml_text(s):
    s = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "?", str(s))
    return html.escape(s, quote=True)


def palette_for(stype, unit, wall=False):
    if wall:
        return "wall"
    if unit == "bytes" or stype.endswith("_objects"):
        return "mem"
    return "threads" if stype in ("threads", "threadcreate", "goroutine") else "cpu"


def colour(name, palette, off=False):
    """A stable colour per function name (FNV-1a), in the profile kind's palette; in
    the wall palette, blue when the frame was mostly OFF CPU."""
    h = 2166136261
    for b in name.encode("utf-8", "replace"):
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    v1, v2, v3 = (h & 0xFF) / 255, ((h >> 8) & 0xFF) / 255, ((h >> 16) & 0xFF) / 255
    if palette == "wall" and off:
        r, g, b = 70 + 50 * v3, 120 + 60 * v1, 200 + 55 * v2
    elif palette == "mem":
        r, g, b = 40 * v3, 160 + 60 * v1, 40 + 100 * v2
    elif palette == "threads":
        r, g, b = 60 + 60 * v3, 150 + 60 * v1, 190 + 50 * v2
    else:  # cpu: the classic warm palette
        r, g, b = 205 + 50 * v3, 230 * v1, 55 * v2
    return "rgb(%d,%d,%d)" % (r, g, b)


def fit(name, px):
    """NAME cut to what fits in PX (the script's fit() is the same, for zooming)."""
    n = int((px - 6) // CHAR_W)
    if n < 3:
        return ""
    return name if len(name) <= n else name[:n - 2] + ".."


# ---- layout ----

def build_tree(samples, idx):
    """The call tree of value idx: {"name", "value", "off", "kids": {name: node}}, root
    "all"; "off" is the part of the value whose samples are labelled off CPU."""
    root = {"name": "all", "value": 0, "off": 0, "kids": {}}
    for frames, values, labels in samples:
        v = values[idx]
        if v <= 0:
            continue
        off = v if off_cpu(labels) else 0
        root["value"] += v
        root["off"] += off
        node = root
        for name in reversed(frames):
            kid = node["kids"].get(name)
            if kid is None:
                kid = node["kids"][name] = {"name": name, "value": 0, "off": 0, "kids": {}}
            kid["value"] += v
            kid["off"] += off
            node = kid
    return root


def layout(root):
    """[(depth, x fraction, w fraction, name, value, mostly off CPU)], parents before
    their children, siblings by name; subtrees narrower than MIN_PX are left out."""
    total, span, rects = root["value"], WIDTH - 2 * PAD, []

    def walk(node, depth, x):
        rects.append((depth, x, node["value"] / total, node["name"], node["value"],
                      2 * node["off"] > node["value"]))
        for kid in sorted(node["kids"].values(), key=lambda k: k["name"]):
            w = kid["value"] / total
            if w * span >= MIN_PX:
                walk(kid, depth + 1, x)
            x += w

    if total > 0:
        walk(root, 0, 0.0)
    return rects


# ---- SVG ----

# The browser side: zoom and the details line. Its fit() and place() mirror fit() and
# svg_frame() above; keep them in step.
FLAME_JS = r"""
(function () {
  var svg = document.getElementById('%(id)s');
  if (!svg) return;
  var W = %(w)d, PAD = %(pad)d, CW = %(cw)s, EPS = 1e-9;
  var det = svg.querySelector('.fg-details');
  var frames = Array.prototype.slice.call(svg.querySelectorAll('g.fg-f'));
  function num(g, k) { return parseFloat(g.getAttribute('data-' + k)); }
  function fit(name, px) {
    var n = Math.floor((px - 6) / CW);
    if (n < 3) return '';
    return name.length <= n ? name : name.slice(0, n - 2) + '..';
  }
  function place(g, x, w) {
    var r = g.querySelector('rect'), t = g.querySelector('text'), px = w * (W - 2 * PAD);
    r.setAttribute('x', (PAD + x * (W - 2 * PAD)).toFixed(2));
    r.setAttribute('width', Math.max(px - 0.5, 0.1).toFixed(2));
    t.setAttribute('x', (PAD + x * (W - 2 * PAD) + 3).toFixed(2));
    t.textContent = fit(g.getAttribute('data-n'), px);
    g.style.display = '';
  }
  function zoom(target) {
    var x0 = num(target, 'x'), w0 = num(target, 'w'), d0 = num(target, 'd');
    frames.forEach(function (g) {
      var x = num(g, 'x'), w = num(g, 'w'), d = num(g, 'd');
      if (d < d0 && x <= x0 + EPS && x + w >= x0 + w0 - EPS) {
        place(g, 0, 1); g.classList.add('fg-anc');
      } else if (d >= d0 && x >= x0 - EPS && x + w <= x0 + w0 + EPS) {
        place(g, (x - x0) / w0, w / w0); g.classList.remove('fg-anc');
      } else {
        g.style.display = 'none';
      }
    });
  }
  frames.forEach(function (g) {
    g.addEventListener('mouseover', function () {
      g.classList.add('fg-hl');
      if (det) det.textContent = g.querySelector('title').textContent;
    });
    g.addEventListener('mouseout', function () {
      g.classList.remove('fg-hl');
      if (det) det.textContent = det.getAttribute('data-idle');
    });
    g.addEventListener('click', function () { zoom(g); });
  });
})();
"""

def flame_svg(prof, idx, svg_id="fg", standalone=True, heading=None):
    """An SVG flame graph of sample type idx. Standalone: an SVG document with its own
    title line and the profile's comments; else an <svg> element to inline in HTML,
    titled HEADING."""
    stype, unit = prof.sample_types[idx]
    wall = is_wall(prof)
    root = build_tree(flame_samples(prof) if wall else prof.samples, idx)
    total, rects = root["value"], layout(root)
    depth = max((r[0] for r in rects), default=0)
    top = 48 if heading is None else 36
    height = top + (depth + 1) * FRAME_H + 30
    title = "%s (%s), total %s" % (stype, unit, fmt_value(total, unit))
    if wall:
        title += "; blue: off CPU, warm: on CPU"
    out = [svg_open(svg_id, height, standalone)]
    out.append('<rect x="0" y="0" width="%d" height="%d" fill="#f8f8f4"/>\n' % (WIDTH, height))
    out.append(svg_heading(prof, title, heading))
    if total <= 0:
        out.append('<text x="%d" y="%d">no samples with a positive %s value</text>\n'
                   % (PAD, top + FRAME_H - 4, xml_text(stype)))
    palette = palette_for(stype, unit, wall)
    out.extend(svg_frame(rect, top + depth * FRAME_H, unit, stype, palette) for rect in rects)
    out.append('<text class="fg-details" x="%d" y="%d" data-idle="%s">%s</text>\n'
               % (PAD, height - 10, xml_text(IDLE), xml_text(IDLE)))
    out.append("<script><![CDATA[%s]]></script>\n"
               % (FLAME_JS % {"id": svg_id, "w": WIDTH, "pad": PAD, "cw": repr(CHAR_W)}))
    out.append("</svg>\n")
    return "".join(out)


def svg_open(svg_id, height, standalone):
    """The opening <svg> tag (after the XML declaration when standalone) and its style."""
    if standalone:
        head = ('<?xml version="1.0" encoding="UTF-8"?>\n'
                '<svg xmlns="http://www.w3.org/2000/svg" id="%s" width="%d" height="%d" '
                'viewBox="0 0 %d %d" class="otshim-flame">\n' % (svg_id, WIDTH, height, WIDTH, height))
    else:
        head = ('<svg id="%s" width="100%%" viewBox="0 0 %d %d" class="otshim-flame" '
                'role="img">\n' % (svg_id, WIDTH, height))
    return head + ('<style>#%(id)s text{font-family:Verdana,"DejaVu Sans",sans-serif;font-size:%(f)dpx;fill:#000}'
                   '#%(id)s .fg-f{cursor:pointer}#%(id)s .fg-f text{pointer-events:none}'
                   '#%(id)s .fg-hl rect{stroke:#000;stroke-width:1.2}#%(id)s .fg-anc rect{opacity:.6}'
                   '#%(id)s .fg-head{font-size:%(h)dpx}</style>\n'
                   % {"id": svg_id, "f": FONT, "h": FONT + 3})


def svg_heading(prof, title, heading):
    if heading is not None:
        return '<text class="fg-head" x="%d" y="22">%s</text>\n' % (PAD, xml_text(heading + " \u2014 " + title))
    sub = "; ".join(prof.comments)
    return ('<text class="fg-head" x="%d" y="22">Flame graph: %s</text>\n' % (PAD, xml_text(title))
            + '<text x="%d" y="40">%s</text>\n' % (PAD, xml_text(fit(sub, (WIDTH - 2 * PAD) * 1.0))))


def svg_frame(rect, root_y, unit, stype, palette):
    """One frame: a <g> with its tooltip, rect and label; ROOT_Y is the root's row."""
    d, x, w, name, value, off = rect
    span = WIDTH - 2 * PAD
    px = w * span
    y = root_y - d * FRAME_H
    tip = "%s \u2014 %s, %.2f%% of %s" % (name, fmt_value(value, unit), 100 * w, stype)
    return ('<g class="fg-f" data-n="%s" data-x="%.9f" data-w="%.9f" data-d="%d"><title>%s</title>'
            '<rect x="%.2f" y="%d" width="%.2f" height="%d" rx="2" fill="%s"/>'
            '<text x="%.2f" y="%d">%s</text></g>\n'
            % (xml_text(name), x, w, d, xml_text(tip),
               PAD + x * span, y, max(px - 0.5, 0.1), FRAME_H - 1,
               "rgb(200,200,200)" if d == 0 else colour(name, palette, off),
               PAD + x * span + 3, y + FRAME_H - 5, xml_text(fit(name, px))))
