"""otshim_lib: the code behind `otshim report` and `otshim flame`, Python 3 standard
library only. scripts/otshim_report.py is the entry point (options and dispatch) and
finds this package next to itself, in a checkout and in $PREFIX/lib/otshim/ alike.

Data flows one way, and a module imports only modules before it in this list:
    notes, fmt       stderr notes and the skipped-file list; number and byte formatting
    pprof            gzip + protobuf -> Profile (sample types, samples, labels)
    index            DIR/index.jsonl -> dicts; the --since/--path/--min-ms filters
    analysis         one index line + its cpu and heap files -> top functions, top sites
    table            the request table's columns and cells, shared by text and HTML
    report, flame    text and JSON; SVG flame graph
    html_report      report.html (table, per-request sections, inlined flame graphs)
    commands         `report` and `flame`: options -> output and exit status
"""
