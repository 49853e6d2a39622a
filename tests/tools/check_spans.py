#!/usr/bin/env python3
"""check_spans.py SPANS DIR PORT PID T0 T1 TRACE PARENT SLOWTRACE SLOWPARENT UNSAMPLED HOST:
otlp.sh's first case, judged from what tests/tools/otlp_receiver.js decoded (SPANS, one
JSON span a line) and the demo server's profile directory DIR (its index.jsonl): the
server on PORT with pid PID between the clock times T0 and T1 (ns), a request continuing
TRACE from PARENT, a slow one continuing SLOWTRACE from SLOWPARENT, one whose parent
UNSAMPLED had the sampled flag clear, on host HOST. Prints "ok: ..." or "FAIL: ..." per
expectation; exits 1 if any failed."""
import json
import os
import sys

out, d, port, pid, t0, t1, trace, parent, strace, sparent, unsampled, host = sys.argv[1:]
spans = [json.loads(l) for l in open(out)]
index = [json.loads(l) for l in open(os.path.join(d, "index.jsonl"))]
fails = []


def expect(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        fails.append(what)


expect(all(s["kind"] == 2 for s in spans), "every span is SPAN_KIND_SERVER")
expect(len({s["span_id"] for s in spans}) == len(spans), "span ids are unique")
expect(all(len(s["trace_id"]) == 32 and len(s["span_id"]) == 16 for s in spans), "ids are 16 and 8 bytes")
expect(all(int(t0) <= int(s["start_ns"]) <= int(s["end_ns"]) <= int(t1) for s in spans),
       "start <= end, both inside the test's own clock window")
expect(not [s for s in spans if s["trace_id"] == unsampled], "a parent with the sampled flag clear exports nothing")
a = lambda s, k: s["attributes"].get(k)
expect(all(a(s, "server.port") == int(port) and a(s, "url.scheme") == "http" and
           a(s, "network.peer.address") == "127.0.0.1" and a(s, "network.protocol.version") == "1.1" and
           isinstance(a(s, "network.peer.port"), int) for s in spans),
       "server.port, url.scheme, network.peer.address/port, network.protocol.version on every span")
expect(all(s["name"] == a(s, "http.request.method") + " " + a(s, "url.path") for s in spans),
       'names are "<METHOD> <path>"')
res = spans[0]["resource"]
expect(all(s["resource"] == res for s in spans), "one resource for all")
expect(res.get("service.name") == "otlp-test" and res.get("deployment.environment") == "test" and
       res.get("service.version") == "1.2,3" and res.get("process.pid") == int(pid) and
       res.get("process.executable.name") == "srv_demo" and res.get("host.name") == host and
       res.get("telemetry.sdk.name") == "otshim", "resource: %s" % res)
h = spans[0]["headers"]
expect(h.get("x-tenant") == "t1" and h.get("authorization") == "Bearer tok" and
       h.get("content-type") == "application/x-protobuf", "OTEL_EXPORTER_OTLP_HEADERS were sent")
root = [s for s in spans if a(s, "url.path") == "/" and a(s, "http.request.method") == "GET"]
expect(len(root) == 40 + 1, "41 GET / spans (keep-alive + traceparent), got %d" % len(root))
cont = [s for s in spans if s["trace_id"] == trace]
expect(len(cont) == 1 and cont[0]["parent_span_id"] == parent and cont[0]["flags"] == 0x301,
       "traceparent continued: trace id, parent span id, flags 0x301 (sampled, remote parent)")
fresh = [s for s in spans if s["trace_id"] != trace and s["trace_id"] != strace]
expect(all(s["parent_span_id"] == "" and s["flags"] == 0x101 for s in fresh), "no traceparent: a root span")
nf = [s for s in spans if a(s, "url.path") == "/nothing-here"]
expect(len(nf) == 10 and all(a(s, "http.response.status_code") == 404 and s["status_code"] == 0 for s in nf),
       "10 keep-alive 404s, status unset (4xx is not a server error)")
e = [s for s in spans if a(s, "url.path") == "/status"]
expect(len(e) == 1 and a(e[0], "http.response.status_code") == 503 and e[0]["status_code"] == 2 and
       a(e[0], "error.type") == "503", "the 503 has status ERROR and error.type")
expect(len([s for s in spans if a(s, "http.request.method") == "HEAD"]) == 1, "the HEAD request")
expect(len([s for s in spans if a(s, "http.request.method") == "PUT" and a(s, "http.response.status_code") == 200]) == 1,
       "the PUT with a body")
slow = [s for s in spans if s["trace_id"] == strace]
expect(len(slow) == 1, "the slow request has one span")
if slow:
    s = slow[0]
    idx = [i for i in index if i["trace_id"] == strace]
    expect(len(idx) == 1 and idx[0]["span_id"] == s["span_id"], "its span id is the index line's")
    expect(s["parent_span_id"] == sparent and s["name"] == "GET /cpu" and
           a(s, "user_agent.original") == "otlp-test-agent/1.0", "its parent, name and user agent")
    dur_ms = (int(s["end_ns"]) - int(s["start_ns"])) / 1e6
    expect(idx and abs(dur_ms - idx[0]["duration_ms"]) < 1.0 and dur_ms >= 250,
           "its duration %.1f ms matches the index's %s" % (dur_ms, idx and idx[0]["duration_ms"]))
    expect(a(s, "profile.triggered") is True, "profile.triggered=true")
    for k in ("cpu", "heap", "threads"):
        p = a(s, "profile.%s.path" % k) or ""
        name = os.path.basename(p)
        expect(os.path.isfile(p) and name.startswith("%s-%s-%s-" % (k, strace, s["span_id"])) and
               idx and idx[0]["files"][k] == name, "profile.%s.path names the file: %s" % (k, p))
    expect(idx and a(s, "profile.heap.alloc_bytes") == idx[0]["alloc_bytes"] and
           a(s, "process.thread.count") == idx[0]["threads"], "alloc_bytes and thread count match the index")
fast = [s for s in spans if s["trace_id"] != strace]
expect(not [s for s in fast if any(k.startswith("profile.") for k in s["attributes"])],
       "fast spans carry no profile attributes")
sys.exit(1 if fails else 0)