#!/bin/bash
# node.sh: a Node.js service under the shim. Request counts equal its own log, and a
# slow request's CPU profile, run with --perf-basic-prof, names the JavaScript
# function that burned the time (JIT code symbolised from /tmp/perf-<pid>.map).
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
done_testing
