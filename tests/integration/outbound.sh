#!/bin/bash
# outbound.sh: calls a service makes (connections it opens) as client spans,
# traceparent propagation and downstream time. What the upstream receives is what the
# service wrote, byte for byte, over 10,000 requests written in odd pieces with every
# write call (OTSHIM_PROPAGATE=0), and the same plus one line per head (=1); chains of
# three services under the shim (srv_caller, a Python or Node hop, nginx) make one
# trace whose server spans are children of their callers' client spans, which cover
# them, with Python's urllib and http.client, Node's http.request and fetch and libcurl
# as callers; a request slow because of a 300 ms upstream names it in its index line;
# hostile answers and a refused connect make failed client spans and leave the service
# serving. Spans are decoded by tests/tools/otlp_receiver.js (OpenTelemetry's code).
. "$(dirname "$0")/lib.sh"
RECV="$TOOLS/otlp_receiver.js"
CALLER=$BUILD/tests/servers/srv_caller
NGINX=/usr/sbin/nginx
[ -d "$TOOLS/node_modules/@opentelemetry/otlp-transformer" ] ||
	{ echo "Bail out! tests/tools/node_modules missing (make deps installs it)"; exit 1; }
[ -x "$CALLER" ] || { echo "1..0 # SKIP $CALLER not built"; exit 77; }
SRV=$CALLER # start_demo starts the caller

# start_bg PORTVAR LOG CMD...: a helper process writing its port to a file; sets PORTVAR
# and BGPID.
start_bg() {
	local var=$1 log=$2 pf=$WORK/port.$RANDOM$RANDOM
	shift 2
	"$@" "$pf" >"$log" 2>&1 &
	BGPID=$!
	PIDS+=("$BGPID")
	wait_for 15 test -s "$pf"
	printf -v "$var" '%s' "$(cat "$pf" 2>/dev/null)"
	[ -n "${!var}" ] || { echo "Bail out! $* did not start"; sed 's/^/# /' "$log"; exit 1; }
}
# up ARGS... PORTFILE: tests/tools/upstream.py (exec'ed: its pid is the one stopped)
up() { exec python3 "$TOOLS/upstream.py" "${@:1:$#-1}" --port-file "${!#}"; }
stop_pid() { kill -TERM "$1" 2>/dev/null; wait_for 10 pid_gone "$1"; wait "$1" 2>/dev/null; }
# call PORT TARGET [CURL ARGS]: GET through the caller; prints its X-Failed header.
call() {
	local p=$1 t=$2
	shift 2
	curl -s -D - -o /dev/null "$@" "http://127.0.0.1:$p$t" | tr -d '\r' | awk -F': ' '/^X-Failed/ {print $2}'
}

T0=4bf92f3577b34da6a3ce929d0e0e4736 P0=00f067aa0ba902b7

# ---- 1. bytes: unchanged without propagation, one line more per head with it ----
# compare PROP LOG RECEIVED: the upstream got the service's bytes (PROP 1: plus one
# line per head, carrying the trace id, right before its blank line).
compare() {
	python3 - "$@" <<'EOF'
import hashlib, re, sys
prop, log, got, trace = sys.argv[1], open(sys.argv[2], "rb").read(), open(sys.argv[3], "rb").read(), sys.argv[4]
heads = log.count(b" HTTP/1.1\r\n")
line = re.compile(rb"traceparent: 00-" + trace.encode() + rb"-[0-9a-f]{16}-01\r\n(?=\r\n)")
found = len(line.findall(got))
stripped = line.sub(b"", got)
h = lambda b: hashlib.sha256(b).hexdigest()[:16]
if prop == "0":
    print("heads %d, sha256 sent %s received %s, lines %d" % (heads, h(log), h(got), found))
    sys.exit(0 if got == log and found == 0 else 1)
print("heads %d, lines %d, sha256 sent %s received-minus-lines %s" % (heads, found, h(log), h(stripped)))
sys.exit(0 if stripped == log and found == heads and heads > 0 else 1)
EOF
}
for prop in 0 1; do
	start_bg UPORT "$WORK/up$prop.err" up --out "$WORK/up$prop.bytes"
	UPID=$BGPID
	d=$WORK/bytes$prop
	start_demo "$d" OTSHIM_PROPAGATE=$prop OTSHIM_SLOW_MS=60000
	failed=$(call "$PORT" "/call?port=$UPORT&n=10000&keep=1&split=1&body=1&log=$WORK/sent$prop" \
		-H "traceparent: 00-$T0-$P0-01")
	failed2=$(call "$PORT" "/call?port=$UPORT&n=300&nb=1&split=1&log=$WORK/sent$prop" \
		-H "traceparent: 00-$T0-$P0-01")
	stop_demo
	stop_pid "$UPID"
	check "PROPAGATE=$prop: 10,000 keep-alive requests in odd pieces (write, send, writev, sendmsg, sendto, bodies) and 300 on new non-blocking connections answered (failed: '$failed' '$failed2')" \
		[ "$failed" = 0 ] && [ "$failed2" = 0 ]
	res=$(compare "$prop" "$WORK/sent$prop" "$WORK/up$prop.bytes" "$T0")
	st=$?
	if [ "$prop" = 0 ]; then
		ok $st "PROPAGATE=0: the upstream received exactly the service's bytes ($res)"
	else
		ok $st "PROPAGATE=1: the service's bytes plus one traceparent line per head, before its blank line ($res)"
	fi
	calls=$(stats_field "$d" outbound_calls) conns=$(stats_field "$d" outbound_connections)
	inj=$(stats_field "$d" traceparent_injected) skip=$(stats_field "$d" traceparent_skipped)
	check "PROPAGATE=$prop: stats count 10,300 calls on 301 connections, $((prop * 10300)) injected, 0 skipped ($calls, $conns, $inj, $skip)" \
		[ "$calls" = 10300 ] && [ "$conns" = 301 ] && [ "$inj" = $((prop * 10300)) ] && [ "$skip" = 0 ]
done

# ---- 2. chains of three services, one trace ----
out=$WORK/spans.jsonl
pf=$WORK/rport
node "$RECV" --port-file "$pf" --out "$out" 2>"$out.err" &
RPID=$!
PIDS+=("$RPID")
wait_for 10 test -s "$pf"
RPORT=$(cat "$pf")
# No request is slow here (Node's first fetch loads undici): a slow request's span
# follows its profile files, which a service stopped right after may never finish.
OTEL=(OTEL_TRACES_EXPORTER=otlp OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$RPORT"
	OTEL_BSP_SCHEDULE_DELAY=100 OTSHIM_PROPAGATE=1 OTSHIM_SLOW_MS=60000)

n=$WORK/nginx
NPORT=$(free_port)
mkdir -p "$n/html" "$n/logs" "$n/tmp"
echo leaf >"$n/html/leaf"
cat >"$n/nginx.conf" <<EOF
worker_processes 1;
pid $n/nginx.pid;
error_log $n/logs/error.log;
events { worker_connections 64; }
http {
  access_log $n/logs/access.log;
  client_body_temp_path $n/tmp;
  proxy_temp_path $n/tmp;
  fastcgi_temp_path $n/tmp;
  uwsgi_temp_path $n/tmp;
  scgi_temp_path $n/tmp;
  server { listen 127.0.0.1:$NPORT; root $n/html; }
}
EOF
env LD_PRELOAD="$LIB" OTSHIM_PROFILE_DIR="$WORK/pn" "${OTEL[@]}" OTEL_SERVICE_NAME=leaf-nginx \
	"$NGINX" -p "$n" -c "$n/nginx.conf" -g "daemon off; master_process off;" 2>"$n/stderr" &
NGPID=$!
PIDS+=("$NGPID")
wait_for 10 curl -s -o /dev/null "http://127.0.0.1:$NPORT/leaf"
start_bg PYPORT "$WORK/py.err" env LD_PRELOAD="$LIB" OTSHIM_PROFILE_DIR="$WORK/pp" "${OTEL[@]}" \
	OTEL_SERVICE_NAME=hop-python python3 "$TOOLS/py_hop.py"
PYPID=$BGPID
start_bg NODEPORT "$WORK/node.err" env LD_PRELOAD="$LIB" OTSHIM_PROFILE_DIR="$WORK/pj" "${OTEL[@]}" \
	OTEL_SERVICE_NAME=hop-node node "$TOOLS/node_hop.js"
NODEPID=$BGPID
start_demo "$WORK/pc" "${OTEL[@]}" OTEL_SERVICE_NAME=caller
declare -A CHAIN=(
	[11111111111111111111111111111111]="port=$PYPORT&via=urllib|hop-python"
	[22222222222222222222222222222222]="port=$PYPORT&via=httpclient|hop-python"
	[33333333333333333333333333333333]="port=$NODEPORT&via=request|hop-node"
	[44444444444444444444444444444444]="port=$NODEPORT&via=fetch|hop-node"
	[55555555555555555555555555555555]="port=$PYPORT&via=urllib&curl=1|hop-python"
)
for t in "${!CHAIN[@]}"; do
	f=$(call "$PORT" "/call?hop=$NPORT&${CHAIN[$t]%%|*}" -H "traceparent: 00-$t-$P0-01")
	[ "$f" = 0 ] || diag "chain $t: the caller's call failed ($f)"
done
# A server span is queued just after its last write returns, when its client may
# already have moved on: the services are stopped once the receiver has them all.
wait_for 15 bash -c "[ \$(grep -c '\"kind\":2' '$out' 2>/dev/null) -ge 15 ]"
stop_demo
stop_pid "$PYPID"
stop_pid "$NODEPID"
# nginx: the graceful stop, so its exit flush runs
kill -QUIT "$NGPID" 2>/dev/null
wait_for 10 pid_gone "$NGPID"
wait_for 10 bash -c "[ \$(grep -c '\"kind\":2' '$out' 2>/dev/null) -ge 15 ]"
name() {
	case $1 in
	11*) echo "srv_caller -> Python urllib" ;; 22*) echo "srv_caller -> Python http.client" ;;
	33*) echo "srv_caller -> Node http.request" ;; 44*) echo "srv_caller -> Node fetch" ;;
	55*) echo "srv_caller (libcurl) -> Python urllib" ;;
	esac
}
for t in $(printf '%s\n' "${!CHAIN[@]}" | sort); do
	res=$(python3 "$TOOLS/check_chain.py" "$out" "$t" "$P0" "caller,${CHAIN[$t]##*|},leaf-nginx")
	st=$?
	ok $st "$(name "$t") -> nginx: one trace, server spans children of their callers' client spans, covered by them"
	[ $st = 0 ] || diag "$res"
done

# ---- 3. a request slow because of its upstream names it ----
# Under TSan a thread that ran a CPU-sampled request crashes TSan itself as it exits
# (libunwind's thread-specific-data destructor unlocking its mutex), whether or not
# calls are tracked: that case is left to the plain and ASan runs.
TSAN_WHY="a sampled thread's exit crashes TSan in libunwind's destructor"
if [ "$SAN" = thread ]; then
	skip "the slow request's index line names its 300 ms upstream" "under thread: $TSAN_WHY"
	skip "its span carries the same list (otshim.downstream)" "under thread: $TSAN_WHY"
	skip "otshim report shows its downstream time" "under thread: $TSAN_WHY"
else
start_bg UPORT "$WORK/slowup.err" up --delay-ms 300
SUPID=$BGPID
d=$WORK/slow
start_demo "$d" "${OTEL[@]}" OTSHIM_SLOW_MS=100 OTEL_SERVICE_NAME=caller
call "$PORT" "/call?port=$UPORT&n=1" >/dev/null
wait_for 10 test -s "$d/index.jsonl"
stop_demo
stop_pid "$SUPID"
ds=$(python3 -c '
import json, sys
l = json.loads(open(sys.argv[1]).readline())
d = l.get("downstream", [])
print(json.dumps(d))
sys.exit(0 if d and d[0]["peer"] == "127.0.0.1:" + sys.argv[2] and d[0]["calls"] == 1 and d[0]["ms"] >= 290 else 1)
' "$d/index.jsonl" "$UPORT")
ok $? "the slow request's index line names its 300 ms upstream first, >= 290 ms: $ds"
wait_for 10 bash -c "grep -q 'otshim.downstream' '$out'"
check "its span carries the same list (otshim.downstream)" python3 -c '
import json, sys
l = json.loads(open(sys.argv[1]).readline())
s = [json.loads(x) for x in open(sys.argv[2])]
s = [x for x in s if x["span_id"] == l["span_id"]]
sys.exit(0 if s and json.loads(s[0]["attributes"]["otshim.downstream"]) == l["downstream"] else 1)
' "$d/index.jsonl" "$out"
report=$("$ROOT/scripts/otshim" report "$d" 2>&1)
check "otshim report shows its downstream time" grep -q "127.0.0.1:$UPORT" <<<"$report"
fi

# ---- 4. hostile answers, a refused connect, another protocol ----
d=$WORK/hostile
start_demo "$d" "${OTEL[@]}" OTEL_SERVICE_NAME=hostile
for mode in garbage truncated bighead shortbody; do
	start_bg UPORT "$WORK/h$mode.err" up --answer "$mode"
	f=$(call "$PORT" "/call?port=$UPORT&n=1")
	stop_pid "$BGPID"
	check "a '$mode' answer: the service answers its caller, the call failed ($f)" [ "$f" = 1 ]
done
closed=$(free_port)
curl -s -o /dev/null "http://127.0.0.1:$PORT/connect?port=$closed"
curl -s -o /dev/null "http://127.0.0.1:$PORT/connect?port=$closed&nb=1"
start_bg UPORT "$WORK/redis.err" up --answer redis
ok_n=$(curl -s -D - -o /dev/null "http://127.0.0.1:$PORT/redis?port=$UPORT&n=3" | tr -d '\r' | awk -F': ' '/^X-Ok/ {print $2}')
stop_pid "$BGPID"
check "the service still serves" curl -sf -o /dev/null "http://127.0.0.1:$PORT/"
stop_demo
check "it exited normally" [ "$DEMO_STATUS" = 0 ]
wait_for 10 bash -c "grep -q '\"hostile\"' '$out'"
res=$(python3 - "$out" "$UPORT" "$closed" <<'EOF'
import json, sys
spans = [json.loads(l) for l in open(sys.argv[1])]
mine = [s for s in spans if s["resource"].get("service.name") == "hostile"]
cl = [s for s in mine if s["kind"] == 3]
servers = {s["span_id"] for s in mine if s["kind"] == 2}
http = [s for s in cl if s["name"] == "GET"]
bad = [s for s in http if "http.response.status_code" in s["attributes"] or s["status_code"] != 2
       or s["attributes"].get("error.type") != "connection_error"]
refused = [s for s in cl if s["attributes"].get("network.peer.port") == int(sys.argv[3])]
peer = [s for s in cl if s["name"] == "127.0.0.1:" + sys.argv[2]]
fails = []
if len(http) != 4 or bad:
    fails.append("4 failed HTTP client spans without a status (%d, bad: %s)" % (len(http), bad))
if len(refused) != 2 or any(s["status_code"] != 2 for s in refused):
    fails.append("2 refused connects, status ERROR (%s)" % refused)
if len(peer) != 3:
    fails.append("3 exchanges with the line-protocol peer, named by it (%d)" % len(peer))
if any(s["parent_span_id"] not in servers for s in cl):
    fails.append("every client span a child of a server span")
print("; ".join(fails) or "%d client spans" % len(cl))
sys.exit(1 if fails else 0)
EOF
)
ok $? "hostile answers: failed client spans, no status; refused connects: errors; other protocol: spans named by the peer ($res)"
check "three exchanges answered by the line-protocol peer" [ "$ok_n" = 3 ]

stop_pid "$RPID"
done_testing
