#!/usr/bin/env python3
"""check_report_json.py JSON INDEX EXPECT [--no-heap]: `otshim report --json`'s output
(JSON) against the index.jsonl it read (INDEX): the requests in the order EXPECT gives
(trace ids, space-separated), each with the index line's fields and its CPU file's
path; for /cpu requests burn_cpu on top (>= 80 % of the sampled part; the unsampled
start of a thread's first request apart, under half) and a CPU total within 10 %
of the index's cpu_ms; for the /hold request hold_site_three on top, scoped to the
request (not checked with --no-heap); nothing skipped. Prints "ok", or "bad: ..."."""
import argparse
import json
import os

p = argparse.ArgumentParser()
p.add_argument("json")
p.add_argument("index")
p.add_argument("expect")
p.add_argument("--no-heap", action="store_true")
a = p.parse_args()
doc = json.load(open(a.json))
idx = {l["trace_id"]: l for l in map(json.loads, open(a.index))}
reqs, bad = doc["requests"], []
if [r["trace_id"] for r in reqs] != a.expect.split():
    bad.append("order %r" % [r["trace_id"] for r in reqs])
for r in reqs:
    l = idx[r["trace_id"]]
    for k in ("time", "span_id", "method", "path", "status", "duration_ms", "cpu_ms", "alloc_bytes", "threads"):
        if r.get(k) != l.get(k):
            bad.append("%s %s: %r != %r" % (r["trace_id"], k, r.get(k), l.get(k)))
    if r["files"].get("cpu") != os.path.join(os.path.dirname(a.index), l["files"]["cpu"]):
        bad.append("cpu file %r" % r["files"].get("cpu"))
    if l["path"] == "/cpu":
        # [on CPU, not sampled]: a thread's first request's CPU before its ring was
        # made; burn_cpu's share is of the rest, and that part stays under half.
        unsampled = sum(t["cpu_ms"] for t in r["top_cpu"] if t["function"] == "[on CPU, not sampled]")
        real = [t for t in r["top_cpu"] if t["function"] != "[on CPU, not sampled]"]
        total = r["cpu_sampled_ms"]
        if not (real and real[0]["function"] == "burn_cpu" and unsampled < total / 2 and
                real[0]["cpu_ms"] >= 0.8 * (total - unsampled)):
            bad.append("%s top_cpu %r" % (r["trace_id"], r["top_cpu"]))
        # the profile's CPU total is the index's cpu_ms up to the last sampling period
        if abs(r["cpu_sampled_ms"] - l["cpu_ms"]) > 0.1 * l["cpu_ms"]:
            bad.append("%s cpu_sampled_ms %r vs cpu_ms %r" % (r["trace_id"], r["cpu_sampled_ms"], l["cpu_ms"]))
    elif not a.no_heap:
        t = r["top_alloc"][0] if r["top_alloc"] else {}
        if t.get("function") != "hold_site_three" or r["alloc_scope"] != "request":
            bad.append("%s top_alloc %r scope %r" % (r["trace_id"], r["top_alloc"], r["alloc_scope"]))
if doc["skipped"]:
    bad.append("skipped %r" % doc["skipped"])
print("ok" if not bad else "bad: " + "; ".join(bad))
