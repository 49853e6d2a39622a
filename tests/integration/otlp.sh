#!/bin/bash
# otlp.sh: span export against a receiver that decodes with OpenTelemetry's own
# generated protobuf code (tests/tools/otlp_receiver.js), never with ours. Checks one
# span per request (the server's access log is the truth), ids and parents from
# traceparent, names, kinds, attributes, timestamps, the resource and the configured
# headers; slow spans naming profile files that exist; an unsampled parent exporting
# nothing; the counts at saturation; and a collector that is down, slow, or answering
# 503/429: the service keeps serving, one warning, spans arrive once it is back, drops
# counted, memory bounded.
. "$(dirname "$0")/lib.sh"
RECV="$TOOLS/otlp_receiver.js"
[ -d "$TOOLS/node_modules/@opentelemetry/otlp-transformer" ] ||
	{ echo "Bail out! tests/tools/node_modules missing (make deps installs it)"; exit 1; }

# start_receiver OUT [ARGS...]: the receiver writing OUT; sets RPORT and RPID.
start_receiver() {
	local out=$1 pf=$WORK/rport.$RANDOM$RANDOM
	shift
	node "$RECV" --port-file "$pf" --out "$out" "$@" 2>"$out.err" &
	RPID=$!
	PIDS+=("$RPID")
	wait_for 10 test -s "$pf"
	RPORT=$(cat "$pf" 2>/dev/null)
	[ -n "$RPORT" ] || { echo "Bail out! receiver did not start"; sed 's/^/# /' "$out.err"; exit 1; }
}
stop_receiver() { kill -TERM "$RPID" 2>/dev/null; wait "$RPID" 2>/dev/null; }
lines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }
# received OUT: spans the receiver decoded, from its request log
received() {
	python3 -c 'import json,sys; print(sum(json.loads(l)["spans"] for l in open(sys.argv[1])))' "$1.requests"
}
# counts DIR OUT: sets logged (the server's access log), exported and dropped (the
# shim's stats files) and got (what the receiver writing OUT decoded).
counts() {
	logged=$(lines "$1.access")
	exported=$(stats_field "$1" spans_exported)
	dropped=$(stats_field "$1" spans_dropped)
	got=$(received "$2")
}
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
# export_requests DIR N [VAR=VALUE...]: the demo exporting to the receiver at $RPORT every
# 100 ms (a later VAR=VALUE wins), N keep-alive requests, then (at most 15 s) until $out
# holds N spans, then the demo stops.
export_requests() {
	local d=$1 n=$2
	shift 2
	start_demo "$d" OTEL_TRACES_EXPORTER=otlp OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$RPORT" \
		OTEL_BSP_SCHEDULE_DELAY=100 "$@"
	$HTTPC keepalive --port "$PORT" --n "$n" >/dev/null
	wait_for 15 bash -c "[ \$(wc -l <'$out') -ge $n ]"
	stop_demo
}

# ---- 1. every request becomes one right span ----
out=$WORK/spans.jsonl
start_receiver "$out"
d=$WORK/p1
T0=$(date +%s%N)
start_demo "$d" OTEL_TRACES_EXPORTER=otlp OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$RPORT/" \
	OTEL_BSP_SCHEDULE_DELAY=100 OTEL_SERVICE_NAME=otlp-test \
	OTEL_RESOURCE_ATTRIBUTES="deployment.environment=test,service.version=1.2%2C3" \
	OTEL_EXPORTER_OTLP_HEADERS="x-tenant=t1,authorization=Bearer%20tok" \
	OTSHIM_SLOW_MS=100 OTSHIM_HEAP_SAMPLE_BYTES=4096
TRACE=4bf92f3577b34da6a3ce929d0e0e4736 PARENT=00f067aa0ba902b7
SLOWTRACE=0af7651916cd43dd8448eb211c80319c SLOWPARENT=b7ad6b7169203331
UNSAMPLED=11111111111111111111111111111111
$HTTPC keepalive --port "$PORT" --n 40 >/dev/null
# ten 404s on one keep-alive connection
curl -s $(for _ in $(seq 10); do printf -- '-o /dev/null http://127.0.0.1:%s/nothing-here ' "$PORT"; done)
curl -s -o /dev/null -H "traceparent: 00-$TRACE-$PARENT-01" "http://127.0.0.1:$PORT/"
curl -s -o /dev/null -H "traceparent: 00-$UNSAMPLED-$PARENT-00" "http://127.0.0.1:$PORT/"
curl -s -o /dev/null "http://127.0.0.1:$PORT/status?code=503"
curl -s -o /dev/null -I "http://127.0.0.1:$PORT/"
curl -s -o /dev/null -X PUT --data-binary "hello" "http://127.0.0.1:$PORT/"
curl -s -o /dev/null -H "traceparent: 00-$SLOWTRACE-$SLOWPARENT-01" -A "otlp-test-agent/1.0" \
	"http://127.0.0.1:$PORT/cpu?ms=250"
wait_for 10 test -s "$d/index.jsonl"
stop_demo
T1=$(date +%s%N)
logged=$(lines "$d.access")
spans=$(lines "$out")
diag "access log $logged lines, receiver decoded $spans spans"
check "one span per request except the unsampled one ($logged - 1)" [ "$spans" = $((logged - 1)) ]
check "the stats file agrees: spans_exported = $spans" [ "$(stats_field "$d" spans_exported)" = "$spans" ]
python3 "$TOOLS/check_spans.py" "$out" "$d" "$PORT" "$SPID" "$T0" "$T1" "$TRACE" "$PARENT" \
	"$SLOWTRACE" "$SLOWPARENT" "$UNSAMPLED" "$(hostname)" >"$WORK/verdict" 2>&1
rc=$?
diag "$(grep -v '^ok' "$WORK/verdict")"
check "every span is right (decoded by OpenTelemetry's own protobuf code)" [ "$rc" = 0 ]
heap=$(ls "$d"/heap-"$SLOWTRACE"-*.pb.gz 2>/dev/null | head -1)
pprof -top -nodecount=200 -sample_index=alloc_space "$heap" >"$WORK/heap.top"
check "the heap profile is readable" grep -q "flat" "$WORK/heap.top"
check "the exporter's allocations are never sampled (no curl frames in the heap profile)" \
	bash -c "! grep -qi 'curl' '$WORK/heap.top'"
check "no warning from a healthy export" bash -c "! grep -qi 'collector' '$d.err'"
stop_receiver

# ---- 2. at saturation, every request is exported or counted as dropped ----
# Twice: with the default queue (2,048), where how many are dropped depends on how fast
# this receiver decodes on the same two cores, but the accounting must be exact; and
# with a queue big enough for the backlog, drained before the service stops, where
# the receiver must get exactly what the server logged.
saturate() { # label [VAR=VALUE...]
	local label=$1
	shift
	out=$WORK/load.$label.jsonl
	start_receiver "$out" --count-only
	d=$WORK/p2.$label
	start_demo "$d" OTEL_TRACES_EXPORTER=otlp OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$RPORT" "$@"
	wrk -t1 -c16 -d10s "http://127.0.0.1:$PORT/" >"$WORK/wrk.$label" 2>&1
	local prev=-1 now
	for _ in $(seq 120); do # until the receiver's count stops growing (at most 60 s)
		now=$(received "$out")
		[ "$now" = "$prev" ] && break
		prev=$now
		sleep 0.5
	done
	stop_demo
	counts "$d" "$out"
	diag "saturation ($label): $logged requests logged, $exported exported + $dropped dropped, receiver $got"
	check "10 s at saturation ($label): exported + dropped = the server's count" [ $((exported + dropped)) = "$logged" ]
	check "the receiver's count equals what the shim exported" [ "$got" = "$exported" ]
	stop_receiver
}
saturate default-queue
saturate big-queue OTEL_BSP_MAX_QUEUE_SIZE=1000000
check "with room for the backlog, nothing was dropped: the receiver got all $logged" [ "$got" = "$logged" ]

# ---- 3. collector down, then up ----
rport=$(free_port)
d=$WORK/p3
start_demo "$d" OTEL_TRACES_EXPORTER=otlp OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$rport" \
	OTEL_BSP_SCHEDULE_DELAY=100 OTEL_BSP_MAX_QUEUE_SIZE=300 OTEL_BSP_MAX_EXPORT_BATCH_SIZE=100
$HTTPC keepalive --port "$PORT" --n 2000 >/dev/null
rss1=$(rss_kb "$SPID")
$HTTPC keepalive --port "$PORT" --n 20000 >/dev/null
rss2=$(rss_kb "$SPID")
diag "collector down: RSS $rss1 kB after 2,000 requests, $rss2 kB after 22,000"
check "collector down: the service kept serving (22,000 logged)" [ "$(lines "$d.access")" = 22000 ]
san_check "$SAN_NO_RSS" "memory stays bounded while spans cannot leave (+$((rss2 - rss1)) kB)" [ $((rss2 - rss1)) -lt 2048 ]
warnings=$(grep -c "OTLP collector" "$d.err")
check "one warning for the outage ($warnings)" [ "$warnings" = 1 ]
start_receiver "$WORK/back.jsonl" --port "$rport"
out=$WORK/back.jsonl
wait_for 30 bash -c "[ \$(python3 -c 'import json,sys; print(sum(json.loads(l)[\"spans\"] for l in open(sys.argv[1])))' '$out.requests') -gt 0 ]"
$HTTPC keepalive --port "$PORT" --n 100 >/dev/null
sleep 0.5
stop_demo
counts "$d" "$out"
diag "collector back: $logged logged, $exported exported + $dropped dropped, receiver $got"
check "spans queued during the outage arrived once it was back (> 300)" [ "$got" -gt 300 ]
check "and everything is accounted for: exported + dropped = logged" [ $((exported + dropped)) = "$logged" ]
check "the receiver's count equals what the shim exported" [ "$got" = "$exported" ]
check "no span arrived twice" [ "$(python3 -c 'import json,sys; l=[json.loads(x)["span_id"] for x in open(sys.argv[1])]; print(len(l)-len(set(l)))' "$out")" = 0 ]
stop_receiver

# ---- 4. 503 twice, then 200: retried, arrives once, one warning ----
out=$WORK/r503.jsonl
start_receiver "$out" --mode 503 --fail-first 2
d=$WORK/p4
export_requests "$d" 50
statuses=$(python3 -c 'import json,sys; print(" ".join(str(json.loads(l)["status"]) for l in open(sys.argv[1])))' "$out.requests")
diag "503 receiver answered: $statuses"
check "503, 503, then 200" [ "${statuses:0:11}" = "503 503 200" ]
check "all 50 spans arrived, once each" [ "$(python3 -c 'import json,sys; print(len({json.loads(x)["span_id"] for x in open(sys.argv[1])}))' "$out")" = 50 ]
check "exactly 50 lines (no duplicates)" [ "$(lines "$out")" = 50 ]
check "one warning" [ "$(grep -c 'OTLP collector' "$d.err")" = 1 ]
stop_receiver

# ---- 5. 429 with Retry-After: 2 is honoured ----
out=$WORK/r429.jsonl
start_receiver "$out" --mode 429 --fail-first 1 --retry-after 2
d=$WORK/p5
export_requests "$d" 10
gap=$(python3 -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1])]; print(r[1]["time_ms"]-r[0]["time_ms"] if len(r)>1 and r[0]["status"]==429 else -1)' "$out.requests")
diag "429 then retry after $gap ms"
check "the retry waited for Retry-After (>= 2000 ms)" [ "$gap" -ge 2000 ]
check "the 10 spans arrived" [ "$(lines "$out")" = 10 ]
stop_receiver

# ---- 6. a collector that never answers in time: the service and its exit are unharmed ----
out=$WORK/slow.jsonl
start_receiver "$out" --mode slow --slow-ms 5000
d=$WORK/p6
start_demo "$d" OTEL_TRACES_EXPORTER=otlp OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$RPORT" \
	OTEL_BSP_SCHEDULE_DELAY=100 OTEL_EXPORTER_OTLP_TIMEOUT=1000
$HTTPC keepalive --port "$PORT" --n 5000 >/dev/null
sleep 1.5
t=$(date +%s%N)
stop_demo
stop_ms=$((($(date +%s%N) - t) / 1000000))
diag "stopping with a collector that answers after 5 s took $stop_ms ms"
check "slow collector: the service kept serving (5,000 logged)" [ "$(lines "$d.access")" = 5000 ]
check "its exit waited a bounded time (< 5 s)" [ "$stop_ms" -lt 5000 ]
check "it exited cleanly" [ "$DEMO_STATUS" = 0 ]
check "the timeout got one warning" [ "$(grep -c 'OTLP collector' "$d.err")" = 1 ]
stop_receiver

# ---- 7. https: verified against OTEL_EXPORTER_OTLP_CERTIFICATE, refused without it ----
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
	-addext "subjectAltName=IP:127.0.0.1" -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
out=$WORK/tls.jsonl
start_receiver "$out" --tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem"
d=$WORK/p7
export_requests "$d" 20 OTEL_EXPORTER_OTLP_ENDPOINT="https://127.0.0.1:$RPORT" \
	OTEL_EXPORTER_OTLP_CERTIFICATE="$WORK/cert.pem"
check "https with the collector's certificate: the 20 spans arrived" [ "$(lines "$out")" = 20 ]
# Spans still queued at exit leave in the exit flush, after the service's atexit
# handlers, OpenSSL's cleanup among them, have run.
d=$WORK/p7x
start_demo "$d" OTEL_TRACES_EXPORTER=otlp OTEL_EXPORTER_OTLP_ENDPOINT="https://127.0.0.1:$RPORT" \
	OTEL_EXPORTER_OTLP_CERTIFICATE="$WORK/cert.pem" OTEL_BSP_SCHEDULE_DELAY=600000
$HTTPC keepalive --port "$PORT" --n 10 >/dev/null
sleep 0.3
queued=$(lines "$out")
stop_demo
wait_for 5 bash -c "[ \$(wc -l <'$out') -ge 30 ]"
diag "https, exit flush: $queued spans before the exit, $(lines "$out") after; exit status $DEMO_STATUS; $(grep -c . "$d.err") stderr lines"
check "https: the 10 spans queued at exit arrive in its flush, and it exits cleanly" \
	[ "$queued $(lines "$out") $DEMO_STATUS" = "20 30 0" ]
# A service that set OpenSSL up itself, before the shim's exporter did (python's ssl
# module): its cleanup is in atexit already, and still runs after our flush.
pyport=$(free_port)
env LD_PRELOAD="$LIB" OTSHIM_PROFILE_DIR="$WORK/p7py" OTEL_TRACES_EXPORTER=otlp \
	OTEL_EXPORTER_OTLP_ENDPOINT="https://127.0.0.1:$RPORT" OTEL_EXPORTER_OTLP_CERTIFICATE="$WORK/cert.pem" \
	OTEL_BSP_SCHEDULE_DELAY=600000 python3 "$TOOLS/ssl_first_server.py" "$pyport" \
	>"$WORK/p7py.out" 2>"$WORK/p7py.err" &
PY=$!
PIDS+=("$PY")
wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$pyport/"
for _ in 1 2 3 4; do curl -sf -o /dev/null "http://127.0.0.1:$pyport/"; done
kill -TERM "$PY"
(sleep 10; kill -KILL "$PY" 2>/dev/null) &
guard=$!
wait "$PY"
pyrc=$?
kill "$guard" 2>/dev/null
wait_for 5 bash -c "[ \$(wc -l <'$out') -ge 35 ]"
diag "python with OpenSSL set up first: exit status $pyrc, $(($(lines "$out") - 30)) of 5 spans at exit; $(grep -c . "$WORK/p7py.err") stderr lines"
check "https, OpenSSL set up by the service first: its 5 spans arrive in the exit flush, exit 0" \
	[ "$pyrc $(lines "$out")" = "0 35" ]
d=$WORK/p8
start_demo "$d" OTEL_TRACES_EXPORTER=otlp OTEL_EXPORTER_OTLP_ENDPOINT="https://127.0.0.1:$RPORT" \
	OTEL_BSP_SCHEDULE_DELAY=100
$HTTPC keepalive --port "$PORT" --n 5 >/dev/null
wait_for 5 grep -q "OTLP collector" "$d.err"
stop_demo
diag "$(grep 'OTLP collector' "$d.err")"
check "https to an unknown certificate: refused, with one warning saying so" \
	grep -qi "certificate" "$d.err"
check "and nothing reached the receiver" [ "$(lines "$out")" = 35 ]
stop_receiver

done_testing
