"""otshim_lib/table.py: what the request table shows and how each cell reads, shared by
the text report (report.py) and report.html (html_report.py) so the two never drift:
the columns, a request's cells, its top lists as (function, value, share) rows, its
top waits, how its time split on and off CPU, and the allocation scope's label. Layout
(padding, markup) stays with each output."""
from .fmt import fmt_bytes, fmt_ms, printable
from .index import number

# (heading, cell key, alignment)
COLUMNS = [("TIME", "time", "<"), ("TRACE ID", "trace_id", "<"), ("METHOD", "method", "<"),
           ("PATH", "path", "<"), ("STATUS", "status", ">"), ("DURATION", "duration", ">"),
           ("CPU", "cpu", ">"), ("ALLOC", "alloc", ">"), ("THREADS", "threads", ">")]


def row_cells(r):
    """The request's cells by key, each a printable string ("-" when the index lacks it)."""
    return {"time": printable(r.get("time", "-")), "trace_id": printable(r.get("trace_id", "-")),
            "method": printable(r.get("method", "-"), 10), "path": printable(r.get("path", "-"), 48),
            "status": str(r.get("status", "-")),
            "duration": fmt_ms(number(r.get("duration_ms"))), "cpu": fmt_ms(number(r.get("cpu_ms"))),
            "alloc": fmt_bytes(number(r.get("alloc_bytes"))),
            "threads": str(r.get("threads", "-"))}


def top_cpu_rows(r):
    return [(t["function"], fmt_ms(t["cpu_ms"]), t["share"]) for t in r["top_cpu"]]


UNSAMPLED = "[on CPU, not sampled]"


def cpu_total_label(r):
    """The CPU profile's total as the top CPU list's heading says it: "399.0 ms sampled",
    or, when part of it was measured but not sampled (a thread's first request before its
    ring was made), "399.0 ms, 28.3 ms of it not sampled"."""
    unsampled = sum(t["cpu_ms"] for t in r["top_cpu"] if t["function"] == UNSAMPLED)
    if unsampled > 0:
        return "%s, %s of it not sampled" % (fmt_ms(r["cpu_sampled_ms"]), fmt_ms(unsampled))
    return "%s sampled" % fmt_ms(r["cpu_sampled_ms"])


def top_alloc_rows(r):
    return [(t["function"], fmt_bytes(t["bytes"]), t["share"]) for t in r["top_alloc"]]


def alloc_scope_label(r):
    return "this request" if r["alloc_scope"] == "request" else "whole process"


def top_wait_rows(r):
    """(wait, peer or "-", function, ms, share) per top wait."""
    return [(printable(t["wait"]), printable(t["peer"] or "-"), printable(t["function"]),
             fmt_ms(t["ms"]), t["share"]) for t in r["top_waits"]]


def time_split(r):
    """How the request's time split, from its wall profile; None without one."""
    if r["wall_ms"] is None:
        return None
    total = r["wall_ms"] or 1
    text = "%s on CPU (%.1f%%), %s off CPU (%.1f%%)" % (
        fmt_ms(r["on_cpu_ms"]), 100 * r["on_cpu_ms"] / total,
        fmt_ms(r["off_cpu_ms"]), 100 * r["off_cpu_share"])
    if r["off_cpu_ms"] > 0:
        text += ", %s of it in timed waits" % fmt_ms(r["waited_ms"])
    return text


def no_cpu_samples(r):
    """Why a request's CPU profile has no samples."""
    if r["wall_ms"] is None:
        return "the request waited rather than computed"
    return "off CPU %.1f%% of its %s; where it waited is above" % (
        100 * r["off_cpu_share"], fmt_ms(r["wall_ms"]))


def downstream_rows(r):
    """The index line's downstream calls, slowest first, as (peer, ms, share of the
    request's duration, calls); [] when it made none or the line is malformed."""
    total = number(r.get("duration_ms")) or 0
    rows = []
    for d in r.get("downstream") or []:
        if not isinstance(d, dict):
            continue
        ms = number(d.get("ms")) or 0
        rows.append((str(d.get("peer", "?")), ms, ms / total if total else 0, int(number(d.get("calls")) or 0)))
    return sorted(rows, key=lambda x: -x[1])
