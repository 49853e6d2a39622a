"""otshim_lib/table.py: what the request table shows and how each cell reads, shared by
the text report (report.py) and report.html (html_report.py) so the two never drift:
the columns, a request's cells, its top lists as (function, value, share) rows and the
allocation scope's label. Layout (padding, markup) stays with each output."""
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


def top_alloc_rows(r):
    return [(t["function"], fmt_bytes(t["bytes"]), t["share"]) for t in r["top_alloc"]]


def alloc_scope_label(r):
    return "this request" if r["alloc_scope"] == "request" else "whole process"


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
