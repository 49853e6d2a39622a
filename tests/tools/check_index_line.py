#!/usr/bin/env python3
"""check_index_line.py: the index.jsonl line of one slow request, as slow_request.sh
expects it. Prints "ok" (or "bad" and the lines found), then a second line of facts.

  cpu INDEX TRACE SPAN PARENT FILE MS
        exactly one line for TRACE: span SPAN, parent PARENT, GET /cpu 200, lasting at
        least MS ms, its CPU profile FILE; then "cpu_ms duration_ms cpu_route
        profiled_after_ms"
  sleep INDEX
        the only line: GET /sleep 200, at least 300 ms, no parent, a fresh random trace
        id (32 hex digits, not zero, not the cpu case's) and span id (16); then its CPU
        profile's file name"""
import json
import re
import sys


def cpu(path, trace, span, parent, fname, ms):
    m = [l for l in map(json.loads, open(path)) if l.get("trace_id") == trace]
    ok = (len(m) == 1 and m[0].get("span_id") == span and m[0].get("parent_span_id") == parent
          and m[0].get("method") == "GET" and m[0].get("path") == "/cpu" and m[0].get("status") == 200
          and m[0].get("duration_ms", 0) >= float(ms) and m[0].get("files", {}).get("cpu") == fname)
    print("ok" if ok else "bad %r" % m)
    l = m[0] if m else {}
    print(l.get("cpu_ms", 0), l.get("duration_ms", 0), l.get("cpu_route", ""), l.get("profiled_after_ms", ""))


def sleep(path):
    l = [json.loads(x) for x in open(path)]
    ok = (len(l) == 1 and l[0].get("path") == "/sleep" and l[0].get("status") == 200
          and l[0].get("duration_ms", 0) >= 300 and l[0].get("parent_span_id") in (None, "")
          and re.fullmatch(r"[0-9a-f]{32}", l[0].get("trace_id", "")) is not None
          and l[0]["trace_id"] != "0" * 32 and not l[0]["trace_id"].startswith("4bf92f3577b34da6a3ce929d0e0e")
          and re.fullmatch(r"[0-9a-f]{16}", l[0].get("span_id", "")) is not None)
    print("ok" if ok else "bad %r" % l)
    print(l[0].get("files", {}).get("cpu", "") if l else "")


{"cpu": cpu, "sleep": sleep}[sys.argv[1]](*sys.argv[2:])
