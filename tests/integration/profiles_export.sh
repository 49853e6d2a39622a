#!/bin/bash
# profiles_export.sh: profiles leave the host. What otshim sends as OTLP profiles is
# decoded by protoc with the upstream .proto files (tests/tools/otlp_profiles_decode.py;
# ../shared/otlp-proto/, or $OTSHIM_OTLP_PROTO_DIR; skipped with the reason when absent),
# never with otshim's own schema, and compared with the pprof file it was made from
# through `go tool pprof`: sample types, totals, top functions, every sample of a slow
# request linked to its trace and span, the resource equal to the spans' (which
# OpenTelemetry's own decoder reads in tests/tools/otlp_receiver.js). What Pyroscope's
# /ingest gets is the pprof file itself, byte for byte, with the right query. Then the
# receiver down, answering 503, and slow: the service keeps serving, one warning per
# destination, memory bounded, drops counted, and what was queued arrives once after.
. "$(dirname "$0")/lib.sh"
RECV="$TOOLS/profiles_receiver.py"
DECODE="$TOOLS/otlp_profiles_decode.py"
SPANS_RECV="$TOOLS/otlp_receiver.js"
[ -d "$TOOLS/node_modules/@opentelemetry/otlp-transformer" ] ||
	{ echo "Bail out! tests/tools/node_modules missing (make deps installs it)"; exit 1; }

# The oracle: the upstream .proto copy and protoc; without either, the OTLP checks skip.
PROTO_DIR=${OTSHIM_OTLP_PROTO_DIR:-$ROOT/../shared/otlp-proto}
ORACLE=""
if [ ! -d "$PROTO_DIR/opentelemetry/proto/profiles" ]; then
	ORACLE="the upstream OTLP .proto copy is absent ($PROTO_DIR)"
elif ! command -v protoc >/dev/null; then
	ORACLE="protoc is not installed (Debian's protobuf-compiler)"
fi
export OTSHIM_OTLP_PROTO_DIR=$PROTO_DIR

# start_recv DIR [ARGS...]: the profiles receiver writing into DIR; sets RPORT, RPID.
start_recv() {
	local out=$1 pf=$WORK/rport.$RANDOM$RANDOM
	shift
	mkdir -p "$out"
	python3 "$RECV" --port-file "$pf" --out "$out" "$@" 2>"$out.err" &
	RPID=$!
	PIDS+=("$RPID")
	wait_for 10 test -s "$pf"
	RPORT=$(cat "$pf" 2>/dev/null)
	[ -n "$RPORT" ] || { echo "Bail out! profiles receiver did not start"; sed 's/^/# /' "$out.err"; exit 1; }
}
stop_recv() { kill -TERM "$RPID" 2>/dev/null; wait "$RPID" 2>/dev/null; }
# count DIR GLOB: how many files DIR holds that match GLOB
count() { find "$1" -maxdepth 1 -name "$2" 2>/dev/null | wc -l; }
profile_files() { count "$1" '*.pb.gz'; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
# the value of attribute KEY of the first profile in an OTLP body (decoded)
otlp_attr() { python3 "$DECODE" "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["profiles"][0]["attributes"].get(sys.argv[1], ""))' "$2"; }
# verdict NAME DESCRIPTION COMMAND...: runs COMMAND (its standard input is the
# caller's: a heredoc script), shows what it printed, and passes when it exits 0.
verdict() {
	local out=$WORK/$1.verdict desc=$2 rc
	shift 2
	"$@" >"$out" 2>&1
	rc=$?
	diag "$(cat "$out")"
	check "$desc" [ "$rc" = 0 ]
}

TRACE=0af7651916cd43dd8448eb211c80319c PARENT=b7ad6b7169203331

# ---- 1. a slow request's set: to the collector as OTLP, to Pyroscope as pprof ----
r=$WORK/recv1
start_recv "$r"
spans=$WORK/spans.jsonl
node "$SPANS_RECV" --port-file "$WORK/sport" --out "$spans" 2>"$spans.err" &
PIDS+=($!)
SRPID=$!
wait_for 10 test -s "$WORK/sport"
d=$WORK/p1
start_demo "$d" OTEL_PROFILES_EXPORTER=otlp OTEL_TRACES_EXPORTER=otlp \
	OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="http://127.0.0.1:$(cat "$WORK/sport")/v1/traces" \
	OTEL_EXPORTER_OTLP_PROFILES_ENDPOINT="http://127.0.0.1:$RPORT/v1development/profiles" \
	OTSHIM_PYROSCOPE_URL="http://127.0.0.1:$RPORT" \
	OTSHIM_PYROSCOPE_HEADERS="X-Scope-OrgID=tenant-1,Authorization=Bearer%20secret" \
	OTEL_BSP_SCHEDULE_DELAY=100 OTEL_SERVICE_NAME=profiles-test OTSHIM_HEAP_SAMPLE_BYTES=4096 \
	OTEL_RESOURCE_ATTRIBUTES="deployment.environment=test" \
	OTEL_EXPORTER_OTLP_HEADERS="x-tenant=t1" OTEL_EXPORTER_OTLP_TRACES_HEADERS="x-traces-only=1" \
	OTEL_EXPORTER_OTLP_COMPRESSION=gzip
curl -s -o /dev/null -H "traceparent: 00-$TRACE-$PARENT-01" "http://127.0.0.1:$PORT/hold?site=1&kb=4096"
curl -s -o /dev/null -H "traceparent: 00-$TRACE-$PARENT-01" "http://127.0.0.1:$PORT/cpu?ms=300"
wait_for 10 test -s "$d/index.jsonl"
files=$(profile_files "$d")
wait_for 10 bash -c "[ \$(find '$r' -name 'otlp-*.bin' | wc -l) -ge $files ] && [ \$(find '$r' -name 'pyro-*.pb.gz' | wc -l) -ge $files ]"
wait_for 10 test -s "$spans"
stop_demo
otlp=$(count "$r" 'otlp-*.bin')
pyro=$(count "$r" 'pyro-*.pb.gz')
check "one OTLP request per profile file, none twice ($otlp requests, $files files)" [ "$otlp" = "$files" ]
check "one Pyroscope push per profile file, none twice ($pyro pushes)" [ "$pyro" = "$files" ]
check "profiles_exported counts both destinations ($(stats_field "$d" profiles_exported))" \
	[ "$(stats_field "$d" profiles_exported)" = $((2 * files)) ]
check "nothing was dropped" [ "$(stats_field "$d" profiles_export_dropped)" = 0 ]
verdict headers "OTLP requests: protobuf, gzip, the development-version header, the generic headers and not the traces-only ones" \
	python3 - "$r/requests.jsonl" <<'EOF'
import json, sys
bad = []
for line in open(sys.argv[1]):
    e = json.loads(line)
    h = e["headers"]
    if e["path"] != "/v1development/profiles":
        continue
    want = {"content-type": "application/x-protobuf", "content-encoding": "gzip",
            "otlp-profiles-development-version": "1", "x-tenant": "t1"}
    bad += ["%s=%r" % (k, h.get(k)) for k in want if h.get(k) != want[k]]
    if "x-traces-only" in h:
        bad.append("a traces-only header on a profiles request")
print("bad:", bad)
sys.exit(1 if bad else 0)
EOF
cpu=$(ls "$d"/cpu-"$TRACE"-*.pb.gz | head -1)
span=$(basename "$cpu" | cut -d- -f3)

# Pyroscope: each body is one of the files, byte for byte, readable by go tool pprof.
sha_files=$(sha256sum "$d"/*.pb.gz | cut -d' ' -f1 | sort)
sha_pushed=$(sha256sum "$r"/pyro-*.pb.gz | cut -d' ' -f1 | sort)
check "every Pyroscope body is a profile file, byte for byte, each once" [ "$sha_files" = "$sha_pushed" ]
cpu_sha=$(sha256sum "$cpu" | cut -d' ' -f1)
cpu_push=""
for f in "$r"/pyro-*.pb.gz; do
	[ "$(sha256sum "$f" | cut -d' ' -f1)" = "$cpu_sha" ] && cpu_push=$f
done
python3 "$TOOLS/pprof_raw.py" "$cpu_push" >"$WORK/pushed.raw" 2>&1
rc=$?
diag "$(cat "$WORK/pushed.raw")"
check "the pushed CPU profile reads in go tool pprof, with its trace labels" \
	test "$rc" = 0 -a "$(grep -c "$TRACE" "$WORK/pushed.raw")" -ge 1
verdict pyro "the /ingest query names the service, the trace and span, the kind and the time; auth headers sent" \
	python3 - "${cpu_push%.pb.gz}.json" "$TRACE" "$span" <<'EOF'
import json, re, sys
q = json.load(open(sys.argv[1]))
query, headers = q["query"], q["headers"]
name = query.get("name", "")
m = re.fullmatch(r"([^{}]+)\{(.*)\}", name)
labels = dict(kv.split("=", 1) for kv in m.group(2).split(",")) if m else {}
checks = [
    ("name is <service>{labels}", m is not None and m.group(1) == "profiles-test"),
    ("service_name label", labels.get("service_name") == "profiles-test"),
    ("trace_id label", labels.get("trace_id") == sys.argv[2]),
    ("span_id label", labels.get("span_id") == sys.argv[3]),
    ("kind label", labels.get("otshim_kind") == "cpu"),
    ("format=pprof", query.get("format") == "pprof"),
    ("from <= until, both unix seconds",
     query.get("from", "").isdigit() and query.get("until", "").isdigit()
     and 1.6e9 < int(query["from"]) <= int(query["until"])),
    ("X-Scope-OrgID header", headers.get("x-scope-orgid") == "tenant-1"),
    ("Authorization header", headers.get("authorization") == "Bearer secret"),
]
bad = [c for c, good in checks if not good]
print("query", json.dumps(query), "bad:", bad)
sys.exit(1 if bad else 0)
EOF

# OTLP: decoded by protoc with the upstream schema, compared with the files.
if [ -n "$ORACLE" ]; then
	skip "OTLP profiles decode with the upstream schema and match the pprof files" "$ORACLE"
else
	undecoded=0
	for b in "$r"/otlp-*.bin; do python3 "$DECODE" "$b" >/dev/null 2>"$b.err" || undecoded=$((undecoded + 1)); done
	check "every OTLP request decodes with the upstream schema, its dictionary consistent ($undecoded not)" \
		[ "$undecoded" = 0 ]
	cpu_body="" heap_body="" threads_body=""
	for b in "$r"/otlp-*.bin; do
		case $(otlp_attr "$b" otshim.profile.kind) in
		cpu) cpu_body=$b ;;
		heap) heap_body=$b ;;
		threads) threads_body=$b ;;
		esac
	done
	verdict cpu "the CPU profile as OTLP: same sample types, totals and top functions as its pprof file; every sample linked to the trace and span" \
		python3 "$TOOLS/otlp_vs_pprof.py" "$cpu_body" "$cpu" --trace "$TRACE" --span "$span"
	heap=$(ls "$d"/heap-"$TRACE"-*.pb.gz | head -1)
	verdict heap "the heap profile as OTLP: same sample types, totals and top functions as its pprof file" \
		python3 "$TOOLS/otlp_vs_pprof.py" "$heap_body" "$heap"
	threads=$(ls "$d"/threads-"$TRACE"-*.pb.gz | head -1)
	verdict threads "the threads profile as OTLP: the same as its pprof file" \
		python3 "$TOOLS/otlp_vs_pprof.py" "$threads_body" "$threads"
	verdict res "the profiles' resource is the spans'; kind, source, thread.name and thread.id attributes" \
		python3 - "$WORK" "$spans" "$cpu_body" "$DECODE" <<'EOF'
import json, subprocess, sys
work, spans, cpu_body, decode = sys.argv[1:5]
def decoded(path):
    return json.loads(subprocess.run([sys.executable, decode, path], capture_output=True,
                                     text=True, check=True).stdout)
span_res = json.loads(open(spans).readline())["resource"]
d = decoded(cpu_body)
bad = []
if d["resource"] != span_res:
    bad.append("resource differs: profiles %s spans %s" % (d["resource"], span_res))
for p in d["profiles"]:
    a = p["attributes"]
    if a.get("otshim.profile.kind") != "cpu" or a.get("otshim.profile.source") != "slow_request":
        bad.append("kind/source attributes: %s" % a)
    if not isinstance(a.get("thread.id"), int) or not a.get("thread.name"):
        bad.append("thread.id/thread.name attributes: %s" % a)
print("bad:", bad)
sys.exit(1 if bad else 0)
EOF
fi
stop_recv
kill -TERM "$SRPID" 2>/dev/null

# ---- 2. continuous mode and the endpoint: exported too, marked by source ----
r=$WORK/recv2
start_recv "$r"
d=$WORK/p2
pport=$(free_port)
start_demo "$d" OTEL_PROFILES_EXPORTER=otlp OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$RPORT" \
	OTSHIM_CONTINUOUS_SEC=1 OTSHIM_PPROF_ADDR="127.0.0.1:$pport"
$HTTPC keepalive --port "$PORT" --n 50 >/dev/null
curl -s -o "$WORK/endpoint.heap" "http://127.0.0.1:$pport/debug/pprof/heap"
wait_for 10 bash -c "[ \$(find '$r' -name 'otlp-*.bin' | wc -l) -ge 3 ]"
stop_demo
sources=""
for b in "$r"/otlp-*.bin; do
	[ -n "$ORACLE" ] && break
	sources="$sources $(otlp_attr "$b" otshim.profile.source)"
done
if [ -n "$ORACLE" ]; then
	skip "continuous periods and endpoint answers are exported" "$ORACLE"
else
	diag "sources:$sources"
	check "continuous periods are exported (source continuous)" grep -qw continuous <<<"$sources"
	check "an endpoint answer is exported (source endpoint)" grep -qw endpoint <<<"$sources"
fi
stop_recv

# ---- 3. receiver down, then up: the service serves on, one warning each, all arrive once ----
rport=$(free_port)
d=$WORK/p3
start_demo "$d" OTEL_PROFILES_EXPORTER=otlp OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$rport" \
	OTSHIM_PYROSCOPE_URL="http://127.0.0.1:$rport/" OTSHIM_THREADS_SIGNAL=0 OTSHIM_HEAP_SAMPLE_BYTES=0
for _ in 1 2 3; do curl -s -o /dev/null "http://127.0.0.1:$PORT/cpu?ms=120"; done
$HTTPC keepalive --port "$PORT" --n 500 >"$WORK/keepalive.out"
check "the service answered every request while the receiver was down" [ "$(cat "$WORK/keepalive.out")" = 500 ]
wait_for 10 bash -c "[ \$(grep -c 'retrying with backoff' '$d.err') -ge 2 ]"
check "one warning per destination for the outage" [ "$(grep -c 'retrying with backoff' "$d.err")" = 2 ]
start_recv "$WORK/recv3" --port "$rport"
files=$(profile_files "$d")
wait_for 40 bash -c "[ \$(find '$WORK/recv3' -name 'otlp-*.bin' | wc -l) -ge $files ] && [ \$(find '$WORK/recv3' -name 'pyro-*.pb.gz' | wc -l) -ge $files ]"
sleep 1
check "after the outage every profile arrived at the collector, once ($(count "$WORK/recv3" 'otlp-*.bin') of $files)" \
	[ "$(count "$WORK/recv3" 'otlp-*.bin')" = "$files" ]
check "and at Pyroscope, once ($(count "$WORK/recv3" 'pyro-*.pb.gz') of $files)" \
	[ "$(count "$WORK/recv3" 'pyro-*.pb.gz')" = "$files" ]
check "recovery is said once per destination" [ "$(grep -c 'answers again' "$d.err")" -le 2 ]
stop_demo
check "the stats agree: every file delivered to both, none dropped" \
	test "$(stats_field "$d" profiles_exported)" = $((2 * files)) -a "$(stats_field "$d" profiles_export_dropped)" = 0
stop_recv

# ---- 4. a long outage: the queue is bounded, memory stays flat, drops are counted ----
rport=$(free_port)
d=$WORK/p4
start_demo "$d" OTEL_PROFILES_EXPORTER=otlp OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$rport" \
	OTSHIM_MAX_PROFILES_PER_MIN=100000 OTSHIM_SLOW_MS=20 OTSHIM_THREADS_SIGNAL=0
for _ in $(seq 10); do curl -s -o /dev/null "http://127.0.0.1:$PORT/cpu?ms=25"; done
rss0=$(rss_kb "$SPID")
for _ in $(seq 60); do curl -s -o /dev/null "http://127.0.0.1:$PORT/cpu?ms=25"; done
rss1=$(rss_kb "$SPID")
diag "RSS after 10 slow requests ${rss0} kB, after 60 more ${rss1} kB, receiver down"
san_check "$SAN_NO_RSS" "memory stays flat during the outage (+$((rss1 - rss0)) kB < 8 MiB)" [ $((rss1 - rss0)) -lt 8192 ]
stop_demo
check "profiles beyond the queue are dropped and counted ($(stats_field "$d" profiles_export_dropped))" \
	[ "$(stats_field "$d" profiles_export_dropped)" -gt 0 ]
check "one warning for the whole outage" [ "$(grep -c 'retrying with backoff' "$d.err")" = 1 ]

# ---- 5. 503 twice, then 200; and a slow receiver: retried, once each, service unharmed ----
r=$WORK/recv5
start_recv "$r" --mode 503 --fail-first 2
d=$WORK/p5
start_demo "$d" OTEL_PROFILES_EXPORTER=otlp OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$RPORT" \
	OTSHIM_THREADS_SIGNAL=0 OTSHIM_HEAP_SAMPLE_BYTES=0
curl -s -o /dev/null "http://127.0.0.1:$PORT/cpu?ms=120"
wait_for 20 test -s "$d/index.jsonl"
n5=$(profile_files "$d") # the slow request's files: CPU and wall-clock
wait_for 20 bash -c "[ \$(find '$r' -name 'otlp-*.bin' | wc -l) -ge $n5 ]"
stop_demo
check "503, 503, then 200: each of the slow request's $n5 profiles arrives once" \
	bash -c "[ $n5 -ge 2 ] && [ $(count "$r" 'otlp-*.bin') = $n5 ]"
check "the 503s got one warning" [ "$(grep -c 'retrying with backoff' "$d.err")" = 1 ]
stop_recv
r=$WORK/recv6
start_recv "$r" --mode slow --slow-ms 3000
d=$WORK/p6
start_demo "$d" OTEL_PROFILES_EXPORTER=otlp OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$RPORT" \
	OTSHIM_THREADS_SIGNAL=0 OTSHIM_HEAP_SAMPLE_BYTES=0
curl -s -o /dev/null "http://127.0.0.1:$PORT/cpu?ms=120"
curl -s -o /dev/null "http://127.0.0.1:$PORT/cpu?ms=120"
$HTTPC keepalive --port "$PORT" --n 500 >"$WORK/keepalive6.out"
check "a slow receiver: the service answered every request" [ "$(cat "$WORK/keepalive6.out")" = 500 ]
n6=$(profile_files "$d")
wait_for 30 bash -c "[ \$(find '$r' -name 'otlp-*.bin' | wc -l) -ge $n6 ]"
stop_demo
check "a slow receiver still gets each profile once ($n6 files of 2 slow requests)" \
	bash -c "[ $n6 -ge 4 ] && [ $(count "$r" 'otlp-*.bin') = $n6 ]"
check "the demo exited cleanly with a slow receiver" [ "$DEMO_STATUS" = 0 ]
stop_recv

done_testing
