"""otshim_lib/report.py: the text report (an aligned table, slowest first, each request
followed by how its time split on and off CPU, its top waits, its top CPU functions and
its allocation sites) and the --json document. Both take analysis.py's request dicts;
the cells come from table.py."""
from .fmt import fmt_bytes, fmt_ms, printable, slow_requests
from .table import (COLUMNS, alloc_scope_label, cpu_total_label, downstream_rows, no_cpu_samples,
                    row_cells, time_split, top_alloc_rows, top_cpu_rows, top_wait_rows)


def print_text(reqs, directory, filtered):
    cells = [row_cells(r) for r in reqs]
    width = {key: max([len(head)] + [len(c[key]) for c in cells]) for head, key, _ in COLUMNS}

    def line(values):
        return "  ".join(("%-*s" if al == "<" else "%*s") % (width[key], values[key])
                         for _, key, al in COLUMNS).rstrip()

    print("%s in %s%s, slowest first" % (slow_requests(len(reqs)), directory,
                                         " (filtered)" if filtered else ""))
    print()
    print(line({key: head for head, key, _ in COLUMNS}))
    for r, c in zip(reqs, cells):
        print(line(c))
        print_request(r)
        print()


def print_request(r):
    """The lines under a request's row: its time split, top lists and notes."""
    split = time_split(r)
    if split:
        print("    time (wall profile): %s" % split)
    if r["top_waits"]:
        print("    top waits (off CPU; call, peer, the function that waited):")
        print_waits(top_wait_rows(r))
    if r["cpu_sampled_ms"] is not None:
        if r["top_cpu"]:
            print("    top CPU (flat, %s):" % cpu_total_label(r))
            print_top(top_cpu_rows(r))
        else:
            print("    top CPU: no samples (%s)" % no_cpu_samples(r))
    if r["alloc_sampled_bytes"] is not None:
        scope = alloc_scope_label(r)
        if r["top_alloc"]:
            print("    top allocation (alloc_space, %s, %s sampled):" % (scope, fmt_bytes(r["alloc_sampled_bytes"])))
            print_top(top_alloc_rows(r))
        else:
            print("    top allocation (alloc_space, %s): no samples" % scope)
    ds = downstream_rows(r)
    if ds:
        print("    downstream (time in calls it made, slowest first):")
        for peer, ms, share, calls in ds:
            print("      %5.1f%%  %10s  %s (%d call%s)" % (100 * share, fmt_ms(ms), printable(peer),
                                                      calls, "" if calls == 1 else "s"))
    for msg in r["notes"]:
        print("    note: %s" % msg)


def print_top(rows):
    for function, value, share in rows:
        print("      %5.1f%%  %10s  %s" % (100 * share, value, printable(function)))


def print_waits(rows):
    ww = max(len(w) for w, _, _, _, _ in rows)
    pw = max(len(p) for _, p, _, _, _ in rows)
    for wait, peer, function, ms, share in rows:
        print("      %5.1f%%  %10s  %-*s  %-*s  in %s" % (100 * share, ms, ww, wait, pw, peer, function))


def json_doc(reqs, directory, filters, skipped):
    """The --json document: the requests without their "_" (internal) keys."""
    clean = [{k: v for k, v in r.items() if not k.startswith("_")} for r in reqs]
    return {"dir": directory, "filters": filters, "requests": clean, "skipped": skipped.items}
