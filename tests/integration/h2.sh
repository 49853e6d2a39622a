#!/bin/bash
# h2.sh: HTTP/2 without TLS (h2c, prior knowledge) under the shim. A Node.js http2
# service driven by h2load and nghttp: every stream is counted as a request (the
# service's own log is the truth), a traceparent sent on a stream is continued, a slow
# stream is profiled (multiplexed, readable by go tool pprof). A gRPC service (grpc-js):
# the slow method's index line names the method, a failing method's span has an error
# status (decoded by the OTLP test receiver). Hostile clients (bad frame lengths, an
# HPACK bomb, garbage, 10,000 streams at once) leave the service serving, are counted,
# and leave no memory behind.
. "$(dirname "$0")/lib.sh"
NODE=$(command -v node || command -v nodejs) || { echo "1..0 # SKIP no node"; exit 77; }
for t in h2load nghttp; do
	command -v "$t" >/dev/null || { echo "1..0 # SKIP no $t (make deps installs nghttp2-client)"; exit 77; }
done
[ -d "$TOOLS/node_modules/@grpc/grpc-js" ] ||
	{ echo "Bail out! tests/tools/node_modules missing (make deps installs it)"; exit 1; }

# start_node DIR SCRIPT [VAR=VALUE...]: SCRIPT under the shim, profiles into DIR, its log
# DIR.log; sets NPID and NPORT. Heap sampling is off: writing a fresh node process's
# first heap profile (symbolising its allocation stacks) takes many seconds, and heap
# profiles are not what this file tests.
start_node() {
	local dir=$1 script=$2
	shift 2
	NPORT=$(free_port)
	(cd "$WORK" && exec env LD_PRELOAD="$LIB" OTSHIM_PROFILE_DIR="$dir" OTSHIM_SLOW_MS=100 \
		OTSHIM_HEAP_SAMPLE_BYTES=0 "$@" \
		"$NODE" --perf-basic-prof "$ROOT/tests/servers/$script" "$NPORT" "$dir.log" 2>"$dir.err") &
	NPID=$!
	PIDS+=("$NPID")
	touch "$dir.log"
	wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$NPORT" 2>/dev/null
}
stop_node() {
	kill -TERM "$NPID" 2>/dev/null
	wait_for 20 pid_gone "$NPID"
	wait "$NPID" 2>/dev/null
	rm -f "/tmp/perf-$NPID.map"
}
index_field() { # index_field DIR TRACE FIELD: FIELD of the index line of TRACE
	python3 -c 'import json,sys
for l in open(sys.argv[1]):
    j = json.loads(l)
    if j["trace_id"] == sys.argv[2]: print(json.dumps(j.get(sys.argv[3]))); break' "$1/index.jsonl" "$2" "$3" 2>/dev/null
}

# ---- HTTP/2: counts, traceparent, a slow stream ----
prof=$WORK/h2
start_node "$prof" h2_demo.js
h2load -n 300 -c 3 -m 10 "http://127.0.0.1:$NPORT/fast" >"$WORK/h2load.out" 2>&1
diag "$(grep -E '^requests:' "$WORK/h2load.out")"
check "h2load: 300 streams on 3 connections all succeeded" grep -q "300 succeeded" "$WORK/h2load.out"
nghttp "http://127.0.0.1:$NPORT/missing" "http://127.0.0.1:$NPORT/a" "http://127.0.0.1:$NPORT/b" >/dev/null
TRACE=5bf92f3577b34da6a3ce929d0e0e4736
nghttp -H "traceparent: 00-$TRACE-00f067aa0ba902b7-01" "http://127.0.0.1:$NPORT/slow?x=1" >/dev/null
wait_for 40 grep -qs "$TRACE" "$prof/index.jsonl"
stop_node
logged=$(wc -l <"$prof.log")
counted=$(stats_field "$prof" requests)
diag "service log $logged streams, shim counted $counted"
check "the shim counted every stream the service answered" [ "$counted" = "$logged" ]
check "5 connections were HTTP/2, none dropped" \
	[ "$(stats_field "$prof" h2_connections)/$(stats_field "$prof" h2_connections_dropped)" = 5/0 ]
check "the slow stream's index line continues its traceparent" grep -qs "\"trace_id\":\"$TRACE\"" "$prof/index.jsonl"
check "... with its parent span id" [ "$(index_field "$prof" "$TRACE" parent_span_id)" = '"00f067aa0ba902b7"' ]
check "... path /slow, method GET, status 200" \
	[ "$(index_field "$prof" "$TRACE" path)$(index_field "$prof" "$TRACE" method)$(index_field "$prof" "$TRACE" status)" = '"/slow""GET"200' ]
check "... and says it was multiplexed" [ "$(index_field "$prof" "$TRACE" multiplexed)" = true ]
f=$(ls "$prof"/cpu-"$TRACE"-*.pb.gz 2>/dev/null | head -1)
check "the slow stream has its trace-named CPU profile" [ -n "$f" ]
pprof -top "$f" >"$WORK/top"
diag "$(sed -n '/flat%/,+3p' "$WORK/top")"
check "go tool pprof reads it, and h2SlowBurn is in it" grep -q h2SlowBurn "$WORK/top"
for kind in threads; do
	g=$(ls "$prof"/"$kind"-"$TRACE"-*.pb.gz 2>/dev/null | head -1)
	check "its $kind profile reads with go tool pprof" bash -c "[ -n '$g' ] && go tool pprof -raw '$g' >/dev/null 2>&1"
done

# ---- gRPC ----
gprof=$WORK/grpc
out=$WORK/spans.jsonl
pf=$WORK/rport
node "$TOOLS/otlp_receiver.js" --port-file "$pf" --out "$out" 2>"$out.err" &
RPID=$!
PIDS+=("$RPID")
wait_for 10 test -s "$pf"
start_node "$gprof" grpc_demo.js OTEL_TRACES_EXPORTER=otlp \
	OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$(cat "$pf")" OTEL_SERVICE_NAME=grpc-demo
GTRACE=6cf92f3577b34da6a3ce929d0e0e4736
calls=$(node "$TOOLS/grpc_call.js" "$NPORT" "00-$GTRACE-00f067aa0ba902b7-01" Fast:20 Fail:2 Slow:1)
diag "$calls"
check "grpc calls: 20 + 1 ok, 2 failed" \
	[ "$(echo "$calls" | tr '\n' ' ')" = "Fast ok 20 failed 0 Fail ok 0 failed 2 Slow ok 1 failed 0 " ]
# The first profile set of a fresh node process takes seconds (symbolising node itself).
wait_for 40 grep -qs "$GTRACE" "$gprof/index.jsonl"
stop_node
check "the shim counted every call" [ "$(stats_field "$gprof" requests)" = 23 ]
check "the slow call's index line path is its method" \
	[ "$(index_field "$gprof" "$GTRACE" path)" = '"/otshim.Demo/Slow"' ]
check "... with grpc_status 0, multiplexed" \
	[ "$(index_field "$gprof" "$GTRACE" grpc_status)$(index_field "$gprof" "$GTRACE" multiplexed)" = 0true ]
wait_for 10 python3 -c 'import json,sys; sys.exit(0 if sum(1 for l in open(sys.argv[1])) >= 23 else 1)' "$out"
span_check() { # span_check NAME: "status_code grpc-status" of the spans named NAME, sorted, unique
	python3 -c 'import json,sys
seen = set()
for l in open(sys.argv[1]):
    s = json.loads(l)
    if s["name"] == sys.argv[2]:
        seen.add("%s %s" % (s["status_code"], s["attributes"].get("rpc.grpc.status_code")))
print(",".join(sorted(seen)))' "$out" "$1"
}
diag "Fail spans: $(span_check "POST /otshim.Demo/Fail"); Fast spans: $(span_check "POST /otshim.Demo/Fast")"
check "a failing method's spans have an error status and grpc status 13" \
	[ "$(span_check "POST /otshim.Demo/Fail")" = "2 13" ]
check "a succeeding method's spans are not errors" [ "$(span_check "POST /otshim.Demo/Fast")" = "0 0" ]
kill -TERM "$RPID"; wait "$RPID" 2>/dev/null

# ---- hostile clients ----
hprof=$WORK/hostile
start_node "$hprof" h2_demo.js
for c in badlen bomb garbage streams; do
	timeout 60 python3 "$TOOLS/h2_hostile.py" "$NPORT" "$c" >/dev/null 2>&1
done
h2load -n 200 -c 2 -m 10 "http://127.0.0.1:$NPORT/fast" >"$WORK/h2load2.out" 2>&1
check "afterwards the service still answers every stream" grep -q "200 succeeded" "$WORK/h2load2.out"
stop_node
served=$(wc -l <"$hprof.log")
counted=$(stats_field "$hprof" requests)
untracked=$(stats_field "$hprof" h2_streams_untracked)
dropped=$(stats_field "$hprof" h2_connections_dropped)
bytes=$(stats_field "$hprof" tracked_connection_bytes)
diag "served $served streams; counted $counted, untracked $untracked; dropped connections $dropped; $bytes bytes of connection state left"
check "the service lived through it (exit status of SIGTERM's handler)" pid_gone "$NPID"
check "every stream served was counted, or counted as untracked" [ $((counted + untracked)) -ge "$served" ]
check "no more than one table of unanswered streams counted (128)" [ "$counted" -le $((served + 128)) ]
check "the 10,000-stream connection overflowed the 128-stream table" [ "$untracked" -ge 1000 ]
check "bad lengths and the HPACK bomb each stopped tracking their connection" \
	bash -c "[ $dropped -ge 2 ] && [ $dropped -le 3 ]"
check "connection state left is bounded (${bytes} bytes < 256 KiB)" [ "$bytes" -lt 262144 ]
check "no tracking errors" [ "$(stats_field "$hprof" errors)" = 0 ]
done_testing
