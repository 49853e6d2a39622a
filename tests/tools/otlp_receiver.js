#!/usr/bin/env node
// otlp_receiver.js: a minimal OTLP/HTTP (protobuf) receiver for otshim's tests.
//
// Why: otshim encodes spans itself from its own copy of the OTLP .proto. A receiver
// built from that same copy would agree with any mistake in it (a wrong field number,
// a wrong wire type). This one decodes with the OpenTelemetry project's own generated
// protobufjs code, shipped in @opentelemetry/otlp-transformer (pinned in package.json
// to 0.216.0, the last release that still ships the generated trace decoder), so a
// field otshim puts in the wrong place shows up here as missing or wrong.
//
//   node otlp_receiver.js --port-file F --out OUT.jsonl [--mode ok|503|slow|429]
//        [--slow-ms N] [--fail-first N] [--retry-after S] [--count-only] [--port N]
//        [--tls-cert CERT.pem --tls-key KEY.pem]
//
// Listens on 127.0.0.1, on port N or one the kernel picks, and writes the port to F.
// POST /v1/traces: spans go to OUT, one JSON line per span:
//   trace_id, span_id, parent_span_id   lowercase hex ("" when absent)
//   name, kind, status_code, status_message
//   start_ns, end_ns                    decimal strings, exact to the nanosecond
//   flags                               number, or null when not on the wire
//   attributes, resource                key -> value (see anyValue below)
//   scope_name, scope_version, headers  headers: the request's, lowercase names
// Every HTTP request adds a line to OUT.requests: time_ms, path, status, spans,
// bytes (body as received, before gunzip), and error (why) on a 4xx answer.
// POST /v1development/profiles is only recorded in OUT.requests and answered 200:
// no official OpenTelemetry npm package ships a profiles decoder.
//
// Modes: ok answers 200 with an empty ExportTraceServiceResponse. 503 / 429 answer
// every request (or, with --fail-first N, the first N) with that status, decode and
// record nothing, and send Retry-After: S when --retry-after is given. slow decodes
// and records at once, then answers 200 after --slow-ms (default 2000).
// With --tls-cert and --tls-key it speaks HTTPS (to test the exporter's TLS).
// --count-only decodes every span but writes only OUT.requests (for load tests, where
// a line per span would be hundreds of megabytes).
"use strict";
const fs = require("fs");
const http = require("http");
const https = require("https");
const zlib = require("zlib");
const { parseArgs } = require("util");
const protobuf = require("protobufjs/minimal");
const otlp = require("@opentelemetry/otlp-transformer/build/src/generated/root").opentelemetry.proto;

function usage() {
	process.stderr.write("usage: otlp_receiver.js --port-file F --out OUT.jsonl [--mode ok|503|slow|429]" +
		" [--slow-ms N] [--fail-first N] [--retry-after S]\n");
	process.exit(2);
}
const options = {
	"port-file": { type: "string" },
	out: { type: "string" },
	mode: { type: "string", default: "ok" },
	"slow-ms": { type: "string", default: "2000" },
	"fail-first": { type: "string" },
	"retry-after": { type: "string" },
	"count-only": { type: "boolean", default: false },
	port: { type: "string", default: "0" },
	"tls-cert": { type: "string" },
	"tls-key": { type: "string" },
};
let opt;
try {
	opt = parseArgs({ options }).values;
} catch (e) {
	usage();
}
const isCount = (s) => s === undefined || /^[0-9]+$/.test(s);
if (!opt["port-file"] || !opt.out || !["ok", "503", "slow", "429"].includes(opt.mode) ||
    !isCount(opt["slow-ms"]) || !isCount(opt["fail-first"]) || !isCount(opt["retry-after"]) || !isCount(opt.port))
	usage();
// Without the long package protobufjs hands back 64-bit fields as lossy doubles.
if (!protobuf.util.Long) {
	process.stderr.write("otlp_receiver: protobufjs has no Long support; 64-bit values would be inexact\n");
	process.exit(2);
}
const failFirst = opt["fail-first"] === undefined ? Infinity : Number(opt["fail-first"]);
const slowMs = Number(opt["slow-ms"]);

const hex = (b) => (b ? Buffer.from(b).toString("hex") : "");

// A 64-bit protobuf value as a BigInt. protobufjs gives a Long (or a plain number for
// small values on some paths); high/low are read as raw bits so the Long's own
// signedness flag does not matter: the caller says which one the field is.
function u64(v) {
	if (v === null || v === undefined) return 0n;
	if (typeof v === "number") {
		if (!Number.isSafeInteger(v)) throw new Error("inexact 64-bit value " + v);
		return BigInt.asUintN(64, BigInt(v));
	}
	return (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0);
}
const i64 = (v) => BigInt.asIntN(64, u64(v));

// AnyValue -> JSON: string, bool and double as themselves (a non-finite double as the
// string "NaN"/"Infinity"/"-Infinity"); int as a Number when it is a safe integer,
// else as its decimal string; bytes as {"bytes": hex}; array as a JSON array; kvlist
// as an object; an AnyValue with nothing set as null.
function anyValue(v) {
	switch (v && v.value) {
	case "stringValue": return v.stringValue;
	case "boolValue": return v.boolValue;
	case "intValue": {
		const n = i64(v.intValue);
		return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n.toString();
	}
	case "doubleValue": return Number.isFinite(v.doubleValue) ? v.doubleValue : String(v.doubleValue);
	case "bytesValue": return { bytes: hex(v.bytesValue) };
	case "arrayValue": return (v.arrayValue.values || []).map(anyValue);
	case "kvlistValue": return keyValues(v.kvlistValue.values);
	default: return null;
	}
}
function keyValues(list) {
	const o = {};
	for (const kv of list || []) o[kv.key || ""] = anyValue(kv.value);
	return o;
}

// ExportTraceServiceRequest bytes -> one flat object per span.
function spansOf(body, headers) {
	const req = otlp.collector.trace.v1.ExportTraceServiceRequest.decode(body);
	const out = [];
	for (const rs of req.resourceSpans || []) {
		const resource = keyValues(rs.resource && rs.resource.attributes);
		for (const ss of rs.scopeSpans || []) {
			const scope = ss.scope || {};
			for (const s of ss.spans || []) {
				out.push({
					trace_id: hex(s.traceId),
					span_id: hex(s.spanId),
					parent_span_id: hex(s.parentSpanId),
					name: s.name || "",
					kind: s.kind || 0,
					start_ns: u64(s.startTimeUnixNano).toString(),
					end_ns: u64(s.endTimeUnixNano).toString(),
					status_code: (s.status && s.status.code) || 0,
					status_message: (s.status && s.status.message) || "",
					flags: s.flags === null || s.flags === undefined ? null : s.flags,
					attributes: keyValues(s.attributes),
					resource,
					scope_name: scope.name || "",
					scope_version: scope.version || "",
					headers,
				});
			}
		}
	}
	return out;
}

const jsonl = (rows) => rows.map((r) => JSON.stringify(r) + "\n").join("");
const okBody = Buffer.from(otlp.collector.trace.v1.ExportTraceServiceResponse.encode({}).finish());
let otlpRequests = 0;

function handle(req, body) {
	const path = req.url.split("?")[0];
	const known = path === "/v1/traces" || path === "/v1development/profiles";
	if (!known) return { status: 404, error: "unknown path" };
	if (req.method !== "POST") return { status: 405, error: "not POST" };
	const type = (req.headers["content-type"] || "").split(";")[0].trim().toLowerCase();
	if (type !== "application/x-protobuf") return { status: 415, error: "content-type " + type };
	otlpRequests++;
	if ((opt.mode === "503" || opt.mode === "429") && otlpRequests <= failFirst)
		return { status: Number(opt.mode) };
	const enc = (req.headers["content-encoding"] || "identity").toLowerCase();
	let raw = body;
	try {
		if (enc === "gzip") raw = zlib.gunzipSync(body);
		else if (enc !== "identity") return { status: 415, error: "content-encoding " + enc };
		if (path === "/v1development/profiles") return { status: 200, body: Buffer.alloc(0) };
		const spans = spansOf(raw, req.headers);
		if (spans.length && !opt["count-only"]) fs.appendFileSync(opt.out, jsonl(spans));
		return { status: 200, body: okBody, spans: spans.length };
	} catch (e) {
		return { status: 400, error: String(e.message || e) };
	}
}

const tls = opt["tls-cert"] && opt["tls-key"]
	? { cert: fs.readFileSync(opt["tls-cert"]), key: fs.readFileSync(opt["tls-key"]) } : null;
const onRequest = (req, res) => {
	const chunks = [];
	req.on("data", (c) => chunks.push(c));
	req.on("end", () => {
		const body = Buffer.concat(chunks);
		const r = handle(req, body);
		const line = { time_ms: Date.now(), path: req.url, status: r.status, spans: r.spans || 0, bytes: body.length };
		if (r.error) line.error = r.error;
		fs.appendFileSync(opt.out + ".requests", JSON.stringify(line) + "\n");
		const headers = { "Content-Type": "application/x-protobuf", "Content-Length": r.body ? r.body.length : 0 };
		if ((r.status === 503 || r.status === 429) && opt["retry-after"] !== undefined)
			headers["Retry-After"] = opt["retry-after"];
		const answer = () => { res.writeHead(r.status, headers); res.end(r.body); };
		if (opt.mode === "slow" && r.status === 200) setTimeout(answer, slowMs);
		else answer();
	});
};
const server = tls ? https.createServer(tls, onRequest) : http.createServer(onRequest);

server.listen(Number(opt.port), "127.0.0.1", () => {
	// The output files exist (maybe empty) by the time the port file does.
	for (const f of [opt.out, opt.out + ".requests"]) fs.closeSync(fs.openSync(f, "a"));
	const tmp = opt["port-file"] + ".tmp" + process.pid;
	fs.writeFileSync(tmp, server.address().port + "\n");
	fs.renameSync(tmp, opt["port-file"]);
});
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => { server.close(); process.exit(0); });
