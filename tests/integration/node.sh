#!/bin/bash
# node.sh: a Node.js service under the shim. Request counts equal its own log, and a
# slow request's CPU profile, run with --perf-basic-prof, names the JavaScript
# function that burned the time (JIT code symbolised from /tmp/perf-<pid>.map). A
# request that awaits a 300 ms upstream call (http.get) has a wall profile whose
# off-CPU time is in node's event loop (uv_run: while JavaScript awaits, no JavaScript
# frame is on the stack), in epoll_wait, and an index line whose downstream names the
# upstream.
. "$(dirname "$0")/lib.sh"
NODE=$(command -v node || command -v nodejs) || { echo "1..0 # SKIP no node"; exit 77; }

port=$(free_port)
prof=$WORK/prof
log=$WORK/node.log
# From the scratch directory: V8 may leave log files in its working directory.
(cd "$WORK" && exec env LD_PRELOAD="$LIB" OTSHIM_PROFILE_DIR="$prof" OTSHIM_SLOW_MS=100 \
	"$NODE" --perf-basic-prof "$ROOT/tests/servers/node_demo.js" "$port" "$log" 2>"$WORK/node.err") &
NPID=$!
PIDS+=("$NPID")
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
$HTTPC keepalive --port "$port" --n 300 >/dev/null
$HTTPC pipeline --port "$port" --n 20 >/dev/null
for _ in $(seq 10); do curl -s -o /dev/null "http://127.0.0.1:$port/"; done
TRACE=0af7651916cd43dd8448eb211c80319c
curl -s -o /dev/null -H "traceparent: 00-$TRACE-b7ad6b7169203331-01" "http://127.0.0.1:$port/cpu"
wait_for 10 grep -qs "$TRACE" "$prof/index.jsonl"
python3 "$TOOLS/upstream.py" --port-file "$WORK/up.port" --delay-ms 300 2>"$WORK/up.err" &
PIDS+=("$!")
wait_for 10 test -s "$WORK/up.port"
UPPORT=$(cat "$WORK/up.port")
WTRACE=0af7651916cd43dd8448eb211c803201
curl -s -o /dev/null -H "traceparent: 00-$WTRACE-b7ad6b7169203331-01" \
	"http://127.0.0.1:$port/upstream?port=$UPPORT"
wait_for 10 grep -qs "$WTRACE" "$prof/index.jsonl"
kill -TERM "$NPID"
wait_for 5 bash -c "! kill -0 $NPID 2>/dev/null"
check "node stopped on SIGTERM" bash -c "! kill -0 $NPID 2>/dev/null"
wait "$NPID" 2>/dev/null
rm -f "/tmp/perf-$NPID.map"

logged=$(wc -l <"$log")
counted=$(stats_field "$prof" requests)
diag "node log $logged lines, shim counted $counted"
check "the shim counted exactly what node logged" [ "$counted" = "$logged" ]
f=$(ls "$prof"/cpu-"$TRACE"-*.pb.gz 2>/dev/null | head -1)
check "the slow request has its CPU profile" [ -n "$f" ]
pprof -top "$f" >"$WORK/top"
diag "$(sed -n '/flat%/,+4p' "$WORK/top")"
share=$(awk '/burnCpu/ { v = $2; sub(/%/, "", v); s += v } END { print s + 0 }' "$WORK/top")
check "JavaScript burnCpu holds most of the samples (${share}%)" \
	python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) >= 80 else 1)" "$share"
check "every sample labelled with the trace id" \
	bash -c "HOME=$HOME go tool pprof -tags '$f' 2>/dev/null | grep -q '100%.*$TRACE'"

# The upstream wait.
wline=$(grep "$WTRACE" "$prof/index.jsonl" | head -1)
wfile=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["files"]["wall"])' "$wline" 2>/dev/null)
python3 "$TOOLS/pprof_raw.py" "$prof/$wfile" state=off-cpu >"$WORK/wall.off" 2>/dev/null
read -r w_ms w_share < <(python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
print(s["totals"][1] // 1000000, s["stack_share"].get("uv_run", [0, 0])[1])' "$WORK/wall.off" 2>/dev/null)
diag "upstream wait: ${w_ms:-?} ms off CPU, ${w_share:-?} of it under uv_run; index: $(echo "$wline" | python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); print(d.get("top_wait"), d.get("downstream"))' 2>/dev/null)"
check "a 300 ms upstream call: its wall profile has >= 250 ms off CPU, >= 80 % of it under node's event loop (uv_run)" \
	python3 -c "import sys; sys.exit(not (int('${w_ms:-0}') >= 250 and float('${w_share:-0}') >= 0.8))"
check "its index line: top wait epoll_wait or epoll_pwait >= 250 ms, downstream 127.0.0.1:$UPPORT first with >= 250 ms" \
	python3 -c 'import json,sys; d=json.loads(sys.argv[1]); t=d["top_wait"]; ds=d["downstream"][0]
sys.exit(not (t["wait"] in ("epoll_wait", "epoll_pwait") and t["ms"] >= 250 and
              ds["peer"] == sys.argv[2] and ds["ms"] >= 250))' "$wline" "127.0.0.1:$UPPORT"
done_testing
