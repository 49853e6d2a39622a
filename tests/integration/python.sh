#!/bin/bash
# python.sh: a Python service (the standard library's ThreadingHTTPServer) under the
# shim: request counts equal its own log, and a slow request's profile shows the
# interpreter burning the CPU, labelled with the request's trace id.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || { echo "1..0 # SKIP no /usr/bin/python3"; exit 77; }

port=$(free_port)
prof=$WORK/prof
log=$WORK/py.log
LD_PRELOAD=$LIB OTSHIM_PROFILE_DIR=$prof OTSHIM_SLOW_MS=100 "$PY" "$ROOT/tests/servers/py_demo.py" "$port" "$log" 2>"$WORK/py.err" &
PPID_=$!
PIDS+=("$PPID_")
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
$HTTPC keepalive --port "$port" --n 200 >/dev/null
$HTTPC pipeline --port "$port" --n 20 >/dev/null
for _ in $(seq 10); do curl -s -o /dev/null "http://127.0.0.1:$port/"; done
TRACE=0af7651916cd43dd8448eb211c80319c
curl -s -o /dev/null -H "traceparent: 00-$TRACE-b7ad6b7169203331-01" "http://127.0.0.1:$port/cpu"
for _ in $(seq 100); do [ -s "$prof/index.jsonl" ] && break; sleep 0.05; done
# A request that waits 300 ms on an upstream (http.client; the upstream answers late).
python3 "$TOOLS/upstream.py" --port-file "$WORK/up.port" --delay-ms 300 2>"$WORK/up.err" &
PIDS+=("$!")
wait_for 10 test -s "$WORK/up.port"
WTRACE=0af7651916cd43dd8448eb211c803200
curl -s -o /dev/null -H "traceparent: 00-$WTRACE-b7ad6b7169203331-01" \
	"http://127.0.0.1:$port/upstream?port=$(cat "$WORK/up.port")"
wait_for 5 grep -q "$WTRACE" "$prof/index.jsonl"
kill -TERM "$PPID_"
wait_for 5 bash -c "! kill -0 $PPID_ 2>/dev/null"
stopped=$?
kill -KILL "$PPID_" 2>/dev/null
wait "$PPID_" 2>/dev/null
check "the Python server stopped on SIGTERM" [ "$stopped" = 0 ]

logged=$(wc -l <"$log")
counted=$(stats_field "$prof" requests)
diag "python log $logged lines, shim counted $counted"
check "the shim counted exactly what the Python server logged" [ "$counted" = "$logged" ]
f=$(ls "$prof"/cpu-"$TRACE"-*.pb.gz 2>/dev/null | head -1)
check "the slow request has its CPU profile" [ -n "$f" ]
python3 "$TOOLS/pprof_raw.py" "$f" >"$WORK/sum" 2>/dev/null
RAW_CHECK=(python3 "$TOOLS/pprof_raw_check.py" "$WORK/sum")
diag "$("${RAW_CHECK[@]}" 2>/dev/null)"
diag "$(tail -1 "$prof/index.jsonl")"
check "at least 100 samples of the interpreter" "${RAW_CHECK[@]}" --min-samples 100
check "every sample labelled with the trace id" "${RAW_CHECK[@]}" --labels trace_id="$TRACE"
# The profile covers the request from its first byte: the thread's ring kept what it
# did before the threshold.
check "cpu total about the 300 ms the request burned, from its first byte" "${RAW_CHECK[@]}" --cpu-ms 255 345
opened=$(stats_field "$prof" cpu_pre_rings_opened)
incomplete=$(stats_field "$prof" cpu_pre_incomplete)
check "its thread got a ring before the threshold ($opened), read whole ($incomplete incomplete)" \
	[ "${opened:-0}" -ge 1 -a "$incomplete" = 0 ]
python3 "$TOOLS/pprof_raw.py" "$f" phase=before_threshold >"$WORK/before" 2>/dev/null
read -r b_samples b_ms b_share < <(python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
print(s["totals"][0], s["totals"][1] // 1000000, s["stack_share"].get("_PyEval_EvalFrameDefault", [0])[0])' "$WORK/before")
diag "before the threshold: $b_samples samples, $b_ms ms, $b_share of them in the interpreter"
check "samples kept before the threshold (phase=before_threshold): ${b_samples:-0}" [ "${b_samples:-0}" -ge 10 ]
check "and >= 90 % of them under _PyEval_EvalFrameDefault (unwound from the ring)" \
	python3 -c "import sys; sys.exit(not float('${b_share:-0}') >= 0.9)"
check "the profile names interpreter functions" bash -c "HOME=$HOME go tool pprof -top '$f' 2>/dev/null | grep -q -E '_PyEval_EvalFrameDefault|PyObject|time_process_time'"
# The upstream wait: a socket with a timeout waits in poll on it before it reads. The
# wall profile holds >= 250 ms off CPU in that poll, its peer the upstream, >= 80 % of
# it under the interpreter's frames (the Python code that made the call).
wline=$(grep "$WTRACE" "$prof/index.jsonl" | head -1)
wfile=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["files"]["wall"])' "$wline" 2>/dev/null)
python3 "$TOOLS/pprof_raw.py" "$prof/$wfile" wait=poll >"$WORK/wall.recv" 2>/dev/null
read -r w_ms w_share w_peer < <(python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
peer = s["labels"].get("peer", [])
print(s["totals"][1] // 1000000, s["stack_share"].get("_PyEval_EvalFrameDefault", [0, 0])[1], ",".join(peer) or "-")' "$WORK/wall.recv" 2>/dev/null)
UPPORT=$(cat "$WORK/up.port")
diag "upstream wait: ${w_ms:-?} ms in poll, ${w_share:-?} of it under _PyEval_EvalFrameDefault, peer ${w_peer:-?}"
check "a 300 ms upstream call: its wall profile has >= 250 ms off CPU in poll on 127.0.0.1:$UPPORT, >= 80 % under the interpreter's frames" \
	python3 -c "import sys; sys.exit(not (int('${w_ms:-0}') >= 250 and float('${w_share:-0}') >= 0.8 and '${w_peer:-}' == '127.0.0.1:$UPPORT'))"
done_testing
