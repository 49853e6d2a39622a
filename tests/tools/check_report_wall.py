#!/usr/bin/env python3
"""check_report_wall.py text|json OUT INDEX RECV SLEEP UP: what `otshim report` (its text,
or its --json: OUT) says of report.sh's two srv_wait requests, against the index.jsonl
it read (INDEX) and their wall files as `go tool pprof -raw` reads them (wall_check.py's
reader, not otshim's). RECV and SLEEP are the trace ids of the /recv?ms=300 and the
/sleep?ms=300 request; UP is the port of the upstream /recv waited on.
  text: each block has its time split with the index's wall_off_cpu_ms (>= 250 ms off
        CPU) and, first in its top waits, the index's top_wait: recv on
        127.0.0.1:UP in wait_in_recv, nanosleep (no peer) in wait_in_sleep; and no
        "waited rather than computed" dead end.
  json: wall_ms, on_cpu_ms and off_cpu_ms are the file's totals (all, state=on-cpu,
        state=off-cpu); wall_ms is the duration, off_cpu_ms the index's
        wall_off_cpu_ms; top_waits are the file's (wait, peer) pairs by time with the
        innermost real frame most of each was waited in, the first one the index's
        top_wait and the wait above.
Prints "ok", or "bad: ..." saying what differs."""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wall_check import samples  # noqa: E402 (go tool pprof -raw, parsed)


def expected(recv, sleep, up):
    """trace -> (wait, peer, function) its top wait must be."""
    return {recv: ("recv", "127.0.0.1:%s" % up, "wait_in_recv"),
            sleep: ("nanosleep", "", "wait_in_sleep")}


def close(a, b, tol):
    return a is not None and b is not None and abs(a - b) <= tol


def oracle(path):
    """The wall file's totals and top waits, from go tool pprof -raw."""
    types, rows = samples(path)
    w = types.index("wall/nanoseconds")
    total = sum(r["values"][w] for r in rows)
    state = {"on-cpu": 0, "off-cpu": 0}
    pairs = {}
    for r in rows:
        v, lab = r["values"][w], r["labels"]
        if lab.get("state") in state:
            state[lab["state"]] += v
        if lab.get("state") == "off-cpu" and "wait" in lab:
            # the innermost frame that is neither a pseudo-frame nor a sanitizer's
            # interceptor (under ASan or TSan, theirs calls the wait)
            real = [f for f in r["funcs"] if not f.startswith("[") and "interceptor_" not in f]
            funcs = pairs.setdefault((lab["wait"], lab.get("peer", "")), {})
            name = real[0] if real else "?"
            funcs[name] = funcs.get(name, 0) + v
    tops = sorted(((sum(f.values()), k, max(f.items(), key=lambda kv: kv[1])[0])
                   for k, f in pairs.items()), key=lambda t: -t[0])
    return {"wall_ms": total / 1e6, "on_cpu_ms": state["on-cpu"] / 1e6,
            "off_cpu_ms": state["off-cpu"] / 1e6,
            "top_waits": [(k[0], k[1], fn, ns / 1e6) for ns, k, fn in tops]}


def check_json(doc, idx, directory, want, bad):
    for r in doc["requests"]:
        t, l = r["trace_id"], idx[r["trace_id"]]
        o = oracle(os.path.join(directory, l["files"]["wall"]))
        for k in ("wall_ms", "on_cpu_ms", "off_cpu_ms"):
            if not close(r.get(k), o[k], 1e-6):
                bad.append("%s %s %r, the file says %r" % (t, k, r.get(k), o[k]))
        if not close(r.get("wall_ms"), l["duration_ms"], 1.0):
            bad.append("%s wall_ms %r vs duration_ms %r" % (t, r.get("wall_ms"), l["duration_ms"]))
        if not close(r.get("off_cpu_ms"), l["wall_off_cpu_ms"], 0.051):
            bad.append("%s off_cpu_ms %r vs index %r" % (t, r.get("off_cpu_ms"), l["wall_off_cpu_ms"]))
        got = [(w["wait"], w["peer"], w["function"], w["ms"]) for w in r["top_waits"]]
        if len(got) != min(5, len(o["top_waits"])) or any(
                g[:3] != e[:3] or not close(g[3], e[3], 1e-6) for g, e in zip(got, o["top_waits"])):
            bad.append("%s top_waits %r, the file says %r" % (t, got, o["top_waits"]))
        if not got:
            continue
        tw = l["top_wait"]
        if got[0][:2] != (tw["wait"], tw["peer"]) or not close(got[0][3], tw["ms"], 0.051):
            bad.append("%s first top wait %r vs index top_wait %r" % (t, got[0], tw))
        if t in want and (got[0][:3] != want[t] or got[0][3] < 250):
            bad.append("%s first top wait %r, wanted %r >= 250 ms" % (t, got[0], want[t]))


def check_text(text, idx, want, bad):
    blocks = {b.split()[1]: b for b in re.split(r"\n(?=\d{4}-\d\d-\d\dT)", text)[1:]}
    for t, (wait, peer, func) in want.items():
        b, l = blocks.get(t), idx.get(t, {})
        if b is None:
            bad.append("no block for %s" % t)
            continue
        m = re.search(r"time \(wall profile\): [\d.]+ ms on CPU \([\d.]+%\), ([\d.]+) ms off CPU", b)
        if not (m and close(float(m.group(1)), l.get("wall_off_cpu_ms"), 0.11) and float(m.group(1)) >= 250):
            bad.append("%s: no time split with %r ms off CPU: %r" % (t, l.get("wall_off_cpu_ms"), b))
        m = re.search(r"top waits \(.*\):\n\s+[\d.]+%\s+([\d.]+) ms\s+(\S+)\s+(\S+)\s+in (\S+)\n", b)
        got = m and (m.group(2), m.group(3), m.group(4))
        if got != (wait, peer or "-", func) or not close(float(m.group(1)), l["top_wait"]["ms"], 0.11):
            bad.append("%s: first top wait %r, wanted %r at %r ms: %r"
                       % (t, got, (wait, peer or "-", func), l.get("top_wait"), b))
        if "waited rather than computed" in b:
            bad.append("%s: still the dead end: %r" % (t, b))


def main():
    mode, out, index, recv, sleep, up = sys.argv[1:7]
    idx = {l["trace_id"]: l for l in map(json.loads, open(index))}
    want, bad = expected(recv, sleep, up), []
    if mode == "json":
        doc = json.load(open(out))
        if sorted(r["trace_id"] for r in doc["requests"]) != sorted(want):
            bad.append("requests %r" % [r["trace_id"] for r in doc["requests"]])
        check_json(doc, idx, os.path.dirname(index), want, bad)
    else:
        check_text(open(out).read(), idx, want, bad)
    print("ok" if not bad else "bad: " + "; ".join(bad))


if __name__ == "__main__":
    main()
