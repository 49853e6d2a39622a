#!/usr/bin/env python3
"""check_chain.py SPANS TRACE PARENT SERVICES: one user request through a chain of
services under otshim, judged from what tests/tools/otlp_receiver.js decoded (SPANS, one
JSON span a line). The request entered with traceparent TRACE/PARENT; SERVICES is the
chain's service.name values, comma-separated, first to last. Expects every span of the
trace to carry TRACE; each service's server span, and each but the last's client span
(SPAN_KIND_CLIENT, a child of its server span, with http.request.method,
server.address, server.port, url.full and http.response.status_code); each server span
after the first a child of the caller's client span, which covers it in time: it
begins before the callee's span begins (its start is taken before the request's first
write; the callee's after the read of it), and ends no more than SLACK_MS after the
callee's span ends. The slack is the callee's: it takes its end time once its last
write has returned, and on a busy machine its thread may be descheduled between the
system call and that clock read while the caller, woken by the byte, already read it.
Prints "ok: ..." or "FAIL: ..." per expectation; exits 1 if any failed."""
import json
import sys

out, trace, parent, services = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split(",")
spans = [json.loads(l) for l in open(out)]
mine = [s for s in spans if s["trace_id"] == trace]
fails = []


def expect(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        fails.append(what)


def of(svc, kind):
    return [s for s in mine if s["resource"].get("service.name") == svc and s["kind"] == kind]


SERVER, CLIENT = 2, 3
SLACK_NS = 20 * 1000000
expect(len(mine) == 2 * len(services) - 1,
       "%d spans in trace %s (got %d: %s)" % (2 * len(services) - 1, trace, len(mine),
                                               [(s["resource"].get("service.name"), s["kind"], s["name"]) for s in mine]))
caller_client = None
for i, svc in enumerate(services):
    srv = of(svc, SERVER)
    expect(len(srv) == 1, "%s: one server span" % svc)
    if len(srv) != 1:
        continue
    srv = srv[0]
    if i == 0:
        expect(srv["parent_span_id"] == parent, "%s: its server span continues the caller's traceparent" % svc)
    elif caller_client:
        expect(srv["parent_span_id"] == caller_client["span_id"],
               "%s: its server span is a child of %s's client span" % (svc, services[i - 1]))
        late = int(srv["end_ns"]) - int(caller_client["end_ns"])
        expect(int(caller_client["start_ns"]) <= int(srv["start_ns"]) and late <= SLACK_NS,
               "%s's client span [%s, %s] covers %s's server span [%s, %s] (its end %+.3f ms after)" % (
                   services[i - 1], caller_client["start_ns"], caller_client["end_ns"], svc,
                   srv["start_ns"], srv["end_ns"], late / 1e6))
    caller_client = None
    if i == len(services) - 1:
        continue
    cl = of(svc, CLIENT)
    expect(len(cl) == 1, "%s: one client span" % svc)
    if len(cl) != 1:
        continue
    cl = cl[0]
    a = cl["attributes"]
    expect(cl["parent_span_id"] == srv["span_id"], "%s: the client span is a child of its server span" % svc)
    expect(a.get("http.request.method") == "GET" and a.get("server.address") == "127.0.0.1" and
           isinstance(a.get("server.port"), int) and
           str(a.get("url.full", "")).startswith("http://127.0.0.1:%d/" % a.get("server.port", 0)) and
           "?" not in str(a.get("url.full")) and a.get("http.response.status_code") == 200 and
           cl["name"] == "GET" and cl["status_code"] == 0,
           "%s: client attributes %s" % (svc, {k: v for k, v in a.items()}))
    expect(int(srv["start_ns"]) <= int(cl["start_ns"]) <= int(cl["end_ns"]) <= int(srv["end_ns"]),
           "%s: the client span lies within its server span" % svc)
    caller_client = cl
sys.exit(1 if fails else 0)
