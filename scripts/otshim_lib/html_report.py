"""otshim_lib/html_report.py: report.html as one string: the request table, then per
request its details, how its time split on and off CPU, top waits and top lists,
notes, and its CPU and wall flame graphs inlined as SVG (flame.py).
Static and self-contained: no external URL, works offline. Writing the file is
cmd_report.py's job. (Not named html.py: that would shadow the standard library's html
for anything run from this directory.)"""
import datetime as dt
import html
import json
import os

from .flame import flame_svg
from .fmt import fmt_ms, slow_requests
from .table import (COLUMNS, alloc_scope_label, cpu_total_label, downstream_rows, row_cells,
                    time_split, top_alloc_rows, top_cpu_rows, top_wait_rows)

HTML_FLAMES_MAX = 50  # the slowest requests that get flame graphs in report.html
e = html.escape

CSS = """
body{font-family:"DejaVu Sans",Verdana,sans-serif;margin:24px;color:#222;background:#fff}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 6px;border-top:1px solid #ccc;padding-top:14px}
p.meta{color:#555;margin:2px 0 14px}
table{border-collapse:collapse;font-size:13px}
th,td{padding:4px 10px;border-bottom:1px solid #e4e4e4;text-align:left;vertical-align:top;white-space:nowrap}
th{background:#f0f0ec} td.n{text-align:right;font-variant-numeric:tabular-nums}
td.id,code{font-family:"DejaVu Sans Mono",monospace;font-size:12px}
.tops{display:flex;gap:40px;margin:8px 0}
.tops table{font-size:12px;min-width:300px}
caption{text-align:left;font-weight:bold;padding:2px 0 4px}
.notes{color:#a33}
.empty{color:#666;font-style:italic}
"""

def html_report(reqs, directory, filters, skipped, n_all):
    """The page for REQS (slowest first) out of N_ALL index lines read from DIRECTORY."""
    out = [html_head(reqs, directory, filters, n_all)]
    if skipped.items:
        out.append('<ul class="notes">%s</ul>\n' % "".join(
            "<li>skipped %s: %s</li>" % (e(s["file"]), e(s["reason"])) for s in skipped.items))
    if not reqs:
        out.append('<p class="empty">No slow requests to show.</p>\n</body></html>\n')
        return "".join(out)
    out.append(html_table(reqs))
    for i, r in enumerate(reqs, 1):
        out.append(html_section(i, r, directory))
    out.append("</body></html>\n")
    return "".join(out)


def html_head(reqs, directory, filters, n_all):
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    n = len(reqs)
    after = " (%d of %d after filters: %s)" % (n, n_all, e(json.dumps(filters))) if filters else ""
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<title>otshim report: %d slow requests</title><style>%s</style></head><body>\n' % (n, CSS)
            + '<h1>otshim report</h1>\n<p class="meta">%s in <code>%s</code>%s, slowest first; '
            'written %s.</p>\n' % (slow_requests(n), e(directory), after, now))


def html_table(reqs):
    out = ['<table id="requests"><thead><tr><th>#</th>%s<th>top CPU function</th><th>top wait</th>'
           '</tr></thead><tbody>\n' % "".join("<th>%s</th>" % e(h.lower()) for h, _, _ in COLUMNS)]
    for i, r in enumerate(reqs, 1):
        c = row_cells(r)
        tc = r["top_cpu"][0] if r["top_cpu"] else None
        tw = top_wait_rows(r)[0] if r["top_waits"] else None
        out.append('<tr class="req" data-trace="%s"><td><a href="#r%d">%d</a></td>%s<td>%s</td><td>%s</td></tr>\n' % (
            e(str(r.get("trace_id", ""))), i, i,
            "".join('<td class="%s">%s</td>' % ("id" if k == "trace_id" else "n" if al == ">" else "", e(c[k]))
                    for _, k, al in COLUMNS),
            "%s (%.1f%%)" % (e(tc["function"]), 100 * tc["share"]) if tc else "-",
            "%s %s (%.1f%%)" % (e(tw[0]), e(tw[1]), 100 * tw[4]) if tw else "-"))
    out.append("</tbody></table>\n")
    return "".join(out)


def html_section(i, r, directory):
    """Request number I's heading, details, top lists, notes and flame graph."""
    c = row_cells(r)
    files = ", ".join('<a href="%s">%s</a>' % (e(os.path.relpath(p, directory)), e(k))
                      for k, p in sorted(r["files"].items()))
    out = ['<h2 id="r%d">%d. %s %s &mdash; %s, status %s</h2>\n' % (
        i, i, e(c["method"]), e(str(r.get("path", "-"))), e(c["duration"]), e(c["status"])),
        '<p class="meta">started %s &middot; trace <code>%s</code> span <code>%s</code> &middot; '
        'CPU %s &middot; allocated %s &middot; %s threads &middot; files: %s</p>\n' % (
            e(c["time"]), e(c["trace_id"]), e(str(r.get("span_id", "-"))), e(c["cpu"]), e(c["alloc"]),
            e(c["threads"]), files)]
    split = time_split(r)
    if split:
        out.append('<p class="meta split">time (wall profile): %s</p>\n' % e(split))
    out.append('<div class="tops">')
    if r["top_waits"]:
        out.append(wait_table(top_wait_rows(r)))
    if r["cpu_sampled_ms"] is not None:
        out.append(top_table("top CPU (%s)" % cpu_total_label(r), top_cpu_rows(r)))
    if r["alloc_sampled_bytes"] is not None:
        out.append(top_table("top allocation (alloc_space, %s)" % alloc_scope_label(r), top_alloc_rows(r)))
    ds = downstream_rows(r)
    if ds:
        out.append(top_table("downstream (time in calls it made)",
                             [("%s (%d call%s)" % (p, n, "" if n == 1 else "s"), fmt_ms(ms), sh)
                              for p, ms, sh, n in ds]))
    out.append("</div>\n")
    out.extend('<p class="notes">%s</p>\n' % e(msg) for msg in r["notes"])
    out.append(html_flame(i, r))
    out.append(html_wall_flame(i, r))
    return "".join(out)


def left_out(r, kind):
    return ('<p class="empty">%s flame graph left out (only the %d slowest get them here); '
            'run <code>otshim flame %s</code></p>\n'
            % (kind, HTML_FLAMES_MAX, e(os.path.basename(r["files"][kind]))))


def html_flame(i, r):
    """Request number I's CPU flame graph, or a line saying why there is none."""
    prof = r["_cpu_profile"]
    if prof is None:
        return '<p class="empty">no CPU profile to draw</p>\n'
    if i > HTML_FLAMES_MAX:
        return left_out(r, "cpu")
    if not r["top_cpu"]:
        why = "the request waited rather than computed" if r["_wall_profile"] is None else \
            "the request waited rather than computed (the wall flame graph below shows where)"
        return '<p class="empty">no CPU samples: %s</p>\n' % why
    return flame_svg(prof, prof.sample_index_or_default("cpu"), svg_id="fg%d" % i, standalone=False,
                     heading="CPU flame graph, trace %s" % r.get("trace_id", "?"))


def html_wall_flame(i, r):
    """Request number I's wall flame graph (on and off CPU); nothing without a wall file."""
    prof = r["_wall_profile"]
    if prof is None:
        return ""
    if i > HTML_FLAMES_MAX:
        return left_out(r, "wall")
    return flame_svg(prof, prof.sample_index_or_default("wall"), svg_id="wfg%d" % i, standalone=False,
                     heading="Wall flame graph, trace %s" % r.get("trace_id", "?"))


def wait_table(rows):
    """The top waits: share, time, call, peer, the function that waited."""
    return '<table class="waits"><caption>top waits (off CPU)</caption>%s</table>' % "".join(
        '<tr><td class="n">%.1f%%</td><td class="n">%s</td><td><code>%s</code></td><td><code>%s</code></td>'
        '<td>in <code>%s</code></td></tr>' % (100 * s, e(ms), e(w), e(p), e(f))
        for w, p, f, ms, s in rows)


def top_table(caption, rows):
    """A top list, rows (function, value, share), as a small captioned table."""
    if not rows:
        return '<table><caption>%s</caption><tr><td class="empty">no samples</td></tr></table>' % e(caption)
    return '<table><caption>%s</caption>%s</table>' % (e(caption), "".join(
        '<tr><td class="n">%.1f%%</td><td class="n">%s</td><td><code>%s</code></td></tr>' % (100 * s, e(v), e(f))
        for f, v, s in rows))
