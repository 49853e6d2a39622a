#!/bin/bash
# tls.sh: HTTPS through a shared libssl. The shim sees the plaintext of SSL_read and
# SSL_write (and their _ex forms), never parses the ciphertext on the socket, and
# counts and profiles HTTPS requests as it does plain ones:
#   1. Python's http.server wrapped by the ssl module (libssl dlopen'ed by _ssl): the
#      count equals its log, a CPU-bound request with a traceparent gets its CPU
#      profile of the interpreter, and the spans say url.scheme https;
#   2. nginx with `listen ssl http2`, two workers, under wrk (HTTP/1.1) and curl (h2 by
#      ALPN): the count equals its access log, and a slow request (proxied to a slow
#      upstream) gets its trace-named files;
#   3. a service with no libssl at all: a TLS handshake on it is counted in
#      tls_unseen_connections and dropped, and its plain requests count as before;
#   4. node, whose TLS is never seen (OpenSSL linked in, or fed from memory): every
#      HTTPS connection is counted unseen, and otshim doctor, on the command or the
#      running pid, says so;
#   5. a library bundling its own OpenSSL beside the system's keeps reaching its own
#      (the shim's unversioned SSL_read must not hand its objects to the other).
# Both TLS servers also meet hostile clients: a record cut in half, garbage after the
# handshake, half a ClientHello, every request byte in its own record, ciphertext
# trickling in 7-byte pieces (SSL_read returns partial data, then WANT_READ); and nginx
# gets plaintext that is not HTTP, a non-HTTP connection as on a plain socket.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
NGINX=/usr/sbin/nginx
SAN_NO_PREFORK="TSan does not support threads started after a multi-threaded fork: nginx runs as one process"
command -v openssl >/dev/null || { echo "1..0 # SKIP openssl not installed"; exit 77; }
[ -x "$PY" ] || { echo "1..0 # SKIP no /usr/bin/python3"; exit 77; }
TLSC="$PY $TOOLS/tls_client.py"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/key.pem" -out "$WORK/cert.pem" \
	-days 2 -subj /CN=localhost 2>/dev/null ||
	{ echo "Bail out! openssl req could not make a certificate"; exit 1; }
CURL=(curl -sk --max-time 10)
holds() { grep -q -e "$1" <<<"$2"; } # holds PATTERN TEXT
# counts DIR: sets counted, non_http, unseen and errors from DIR's stats files, in one
# Python start (each is a second on a loaded machine); empty if a file lacks a field.
counts() {
	read -r counted non_http unseen errors < <(python3 -c '
import glob, json, os, sys
s = [json.load(open(f)) for f in glob.glob(os.path.join(sys.argv[1], "otshim-stats-*.json"))]
print(*(sum(x[k] for x in s) for k in
        ("requests", "non_http_connections", "tls_unseen_connections", "errors")))' "$1" 2>/dev/null)
}

# hostile PORT: the clients that end badly; each must leave the server serving.
hostile() {
	$TLSC midrecord --port "$1"
	$TLSC garbage --port "$1"
	$TLSC hello --port "$1"
}

# ---- 1. Python ----
RECV="$TOOLS/otlp_receiver.js"
spans=""
if [ -d "$TOOLS/node_modules/@opentelemetry/otlp-transformer" ]; then
	spans=$WORK/spans
	pf=$WORK/rport
	node "$RECV" --port-file "$pf" --out "$spans" 2>"$spans.err" &
	RPID=$!
	PIDS+=("$RPID")
	wait_for 10 test -s "$pf"
	OTLP=(OTEL_TRACES_EXPORTER=otlp OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$(cat "$pf")"
		OTEL_BSP_SCHEDULE_DELAY=100)
else
	OTLP=()
fi
port=$(free_port)
prof=$WORK/pyprof
log=$WORK/py.log
env LD_PRELOAD="$LIB" OTSHIM_PROFILE_DIR="$prof" OTSHIM_SLOW_MS=100 "${OTLP[@]}" \
	"$PY" "$ROOT/tests/servers/py_demo.py" "$port" "$log" --tls "$WORK/cert.pem" "$WORK/key.pem" \
	2>"$WORK/py.err" &
PYPID=$!
PIDS+=("$PYPID")
for _ in $(seq 100); do "${CURL[@]}" -o /dev/null "https://127.0.0.1:$port/" && break; sleep 0.1; done
$TLSC requests --port "$port" --n 30 >/dev/null
check "python: a request split into one-byte records is answered" $TLSC requests --port "$port" --n 2 --split
check "python: ciphertext trickling in 7-byte pieces is answered" \
	$TLSC requests --port "$port" --n 2 --chunk 7 --delay 0.002
hostile "$port"
for _ in $(seq 5); do "${CURL[@]}" -o /dev/null "https://127.0.0.1:$port/"; done
TRACE=4bf92f3577b34da6a3ce929d0e0e4736
"${CURL[@]}" -o /dev/null -H "traceparent: 00-$TRACE-00f067aa0ba902b7-01" "https://127.0.0.1:$port/cpu"
check "python: still serving after the hostile clients" "${CURL[@]}" -o /dev/null "https://127.0.0.1:$port/"
doctor_pid=$(python3 "$ROOT/scripts/otshim" doctor --pid "$PYPID" 2>/dev/null | grep -E '^ *(ok|info|warn) +(tls|process) ')
diag "$doctor_pid"
check "python: otshim doctor --pid finds the shim in it" holds "with libotshim.so loaded" "$doctor_pid"
check "  and the libssl it loaded at run time" holds "ok .*tls .*libssl" "$doctor_pid"
wait_for 5 test -s "$prof/index.jsonl"
[ -n "$spans" ] && wait_for 5 bash -c "[ \$(cat '$spans' 2>/dev/null | wc -l) -ge \$(wc -l <'$log') ]"
kill -TERM "$PYPID"
wait_for 5 pid_gone "$PYPID" || kill -KILL "$PYPID"
wait "$PYPID" 2>/dev/null

logged=$(wc -l <"$log")
counts "$prof"
diag "python log $logged lines, shim counted $counted; non-HTTP $non_http, TLS unseen $unseen"
check "python: requests were served over TLS" [ "$logged" -ge 40 ]
check "python: the shim counted exactly what the server logged" [ "$counted" = "$logged" ]
check "python: no TLS connection went unseen (libssl was found)" [ "$unseen" = 0 ]
check "python: no connection was taken for non-HTTP (the ciphertext was never parsed)" \
	[ "$non_http" = 0 ]
check "python: no tracking errors" [ "$errors" = 0 ]
f=$(ls "$prof"/cpu-"$TRACE"-*.pb.gz 2>/dev/null | head -1)
check "python: the slow HTTPS request has its trace-named CPU profile" [ -n "$f" ]
python3 "$TOOLS/pprof_raw.py" "$f" >"$WORK/sum" 2>/dev/null
RAW_CHECK=(python3 "$TOOLS/pprof_raw_check.py" "$WORK/sum")
diag "$("${RAW_CHECK[@]}" 2>/dev/null)"
check "python: at least 100 samples, labelled with the trace id" \
	"${RAW_CHECK[@]}" --min-samples 100 --labels trace_id="$TRACE"
check "python: the profile names interpreter functions" bash -c "pprof() { go tool pprof \"\$@\" 2>/dev/null; }; pprof -top '$f' | grep -q -E '_PyEval_EvalFrameDefault|PyObject|time_process_time'"
if [ -n "$spans" ]; then
	scheme_https() {
		python3 - "$spans" "$logged" "$TRACE" <<'EOF'
import json, sys
spans = [json.loads(l) for l in open(sys.argv[1])]
schemes = {s["attributes"].get("url.scheme") for s in spans}
print("# %d spans, url.scheme %s" % (len(spans), sorted(map(str, schemes))))
sys.exit(not (len(spans) == int(sys.argv[2]) and schemes == {"https"} and
              any(s["trace_id"] == sys.argv[3] for s in spans)))
EOF
	}
	check "python: one span per request, each with url.scheme https" scheme_https
	kill -TERM "$RPID" 2>/dev/null
else
	skip "python: spans carry url.scheme https" "tests/tools/node_modules missing (make deps)"
fi

# ---- 2. nginx ----
if [ ! -x "$NGINX" ]; then
	skip "nginx over HTTPS" "nginx not installed"
else
	MASTER=on
	[ "$SAN" = thread ] && MASTER=off
	# The slow upstream: Python's demo server without the shim, plain HTTP.
	uport=$(free_port)
	"$PY" "$ROOT/tests/servers/py_demo.py" "$uport" "$WORK/upstream.log" 2>/dev/null &
	PIDS+=("$!")
	port=$(free_port)
	n=$WORK/nginx
	mkdir -p "$n/html" "$n/logs" "$n/tmp"
	head -c 1024 /dev/urandom | base64 | head -c 1024 >"$n/html/index.html"
	head -c 2097152 /dev/urandom >"$n/html/big.bin"
	cat >"$n/nginx.conf" <<EOF
worker_processes 2;
user root root;  # workers write their stats into our temporary directory
pid $n/nginx.pid;
error_log $n/logs/error.log;
events { worker_connections 512; }
http {
  access_log $n/logs/access.log;
  client_body_temp_path $n/tmp;
  proxy_temp_path $n/tmp;
  fastcgi_temp_path $n/tmp;
  uwsgi_temp_path $n/tmp;
  scgi_temp_path $n/tmp;
  keepalive_requests 100000;
  server {
    listen 127.0.0.1:$port ssl http2;
    ssl_certificate $WORK/cert.pem;
    ssl_certificate_key $WORK/key.pem;
    root $n/html;
    location /slow { proxy_pass http://127.0.0.1:$uport/cpu; }
  }
}
EOF
	prof=$WORK/ngprof
	LD_PRELOAD=$LIB OTSHIM_PROFILE_DIR=$prof OTSHIM_SLOW_MS=100 \
		"$NGINX" -p "$n" -c "$n/nginx.conf" -g "daemon off; master_process $MASTER;" 2>"$n/stderr" &
	NPID=$!
	PIDS+=("$NPID")
	for _ in $(seq 100); do "${CURL[@]}" -o /dev/null "https://127.0.0.1:$port/" && break; sleep 0.05; done
	tsan_check "$SAN_NO_PREFORK" "nginx runs with two workers under the shim" \
		[ "$(pgrep -P "$NPID" | grep -c .)" -eq 2 ]
	if command -v wrk >/dev/null; then
		wrk -t1 -c8 -d2s "https://127.0.0.1:$port/" >"$WORK/wrk.out" 2>&1
		diag "$(grep -E 'requests in|Requests/sec|Non-2xx' "$WORK/wrk.out" | tr -s ' ')"
	else
		diag "wrk not installed: curl only"
	fi
	# curl asks for h2 by ALPN when it can (HTTP/2 over TLS); wrk and tls_client.py do not.
	for i in $(seq 20); do "${CURL[@]}" -o /dev/null "https://127.0.0.1:$port/?n=$i"; done
	for i in $(seq 5); do "${CURL[@]}" --http1.1 -o /dev/null "https://127.0.0.1:$port/?h1=$i"; done
	for i in $(seq 5); do "${CURL[@]}" -o /dev/null "https://127.0.0.1:$port/missing-$i"; done
	$TLSC requests --port "$port" --n 30 >/dev/null
	check "nginx: a request split into one-byte records is answered" $TLSC requests --port "$port" --n 2 --split
	check "nginx: ciphertext trickling in 7-byte pieces is answered" \
		$TLSC requests --port "$port" --n 2 --chunk 7 --delay 0.002
	check "nginx: a 2 MiB answer read slowly (SSL_write wants to write) arrives whole" \
		$TLSC requests --port "$port" --n 1 --path /big.bin --slow-read
	hostile "$port"
	# Plaintext that is not HTTP: nginx answers 400 and logs it; the shim drops it as a
	# non-HTTP connection, as it would on a plain socket.
	$TLSC plaintext --port "$port" --hex 00010203ff0d0a0d0a
	TRACE=0af7651916cd43dd8448eb211c80319c
	"${CURL[@]}" -o /dev/null -H "traceparent: 00-$TRACE-b7ad6b7169203331-01" "https://127.0.0.1:$port/slow"
	check "nginx: still serving after the hostile clients" "${CURL[@]}" -o /dev/null "https://127.0.0.1:$port/"
	wait_for 5 test -s "$prof/index.jsonl"
	kill -QUIT "$NPID"
	wait_for 10 pid_gone "$NPID" || { diag "nginx did not quit within 10 s"; kill -KILL "$NPID"; }
	wait "$NPID" 2>/dev/null

	garbage=$(grep -c '" 400 ' "$n/logs/access.log")
	logged=$(($(wc -l <"$n/logs/access.log") - garbage))
	counts "$prof"
	diag "nginx access log $logged lines and $garbage of garbage, shim counted $counted; non-HTTP $non_http, TLS unseen $unseen"
	check "nginx: requests were served over TLS" [ "$logged" -gt 60 ]
	check "nginx: the plaintext that is not HTTP is in the access log (400)" [ "$garbage" = 1 ]
	check "nginx: the shim counted exactly the HTTP requests the access log holds" [ "$counted" = "$logged" ]
	check "nginx: no TLS connection went unseen" [ "$unseen" = 0 ]
	if curl -V | grep -q HTTP2; then
		h2=$(stats_field "$prof" h2_connections)
		diag "HTTP/2 connections over TLS: $h2"
		check "nginx: curl's connections were HTTP/2 over TLS (h2 by ALPN), their streams counted" \
			[ "$h2" -ge 20 ]
	else
		skip "nginx: HTTP/2 over TLS" "curl without HTTP/2"
	fi
	check "nginx: one connection was non-HTTP, the one whose plaintext was not HTTP" \
		[ "$non_http" = 1 ]
	check "nginx: no tracking errors" [ "$errors" = 0 ]
	line=$(grep "\"trace_id\":\"$TRACE\"" "$prof/index.jsonl" 2>/dev/null)
	diag "$(echo "$line" | cut -c1-300)"
	check "nginx: the slow HTTPS request has its index line, path /slow" holds '"path":"/slow"' "$line"
	readable() {
		local kind ok=0
		for kind in cpu heap threads; do
			f=$(ls "$prof/$kind-$TRACE"-*.pb.gz 2>/dev/null | head -1)
			[ -n "$f" ] && go tool pprof -raw "$f" >/dev/null 2>&1 && ok=$((ok + 1))
		done
		[ "$ok" = 3 ]
	}
	check "nginx: its cpu, heap and threads files are named by the trace id and read by go tool pprof" readable
	check "nginx logged no crash" bash -c "! grep -q -E 'signal [0-9]+|core dumped' '$n/logs/error.log'"
fi

# ---- 3. a service with no libssl ----
d=$WORK/plain
start_demo "$d"
"${CURL[@]}" -o /dev/null "https://127.0.0.1:$PORT/" 2>/dev/null
for _ in $(seq 5); do curl -s -o /dev/null "http://127.0.0.1:$PORT/"; done
check "no libssl: the plain service still serves after a TLS handshake" curl -sf -o /dev/null "http://127.0.0.1:$PORT/"
stop_demo
counts "$d"
logged=$(wc -l <"$d.access")
diag "plain service: access log $logged, counted $counted, TLS unseen $unseen"
check "no libssl: the TLS connection is counted as unseen, once" [ "$unseen" = 1 ]
check "no libssl: and not as non-HTTP" [ "$non_http" = 0 ]
check "no libssl: plain requests counted as the access log" [ "$counted" = "$logged" ]
# ---- 4. Node.js: OpenSSL linked in (official builds), or fed from memory (any build) ----
NODE=$(command -v node || command -v nodejs)
if [ -z "$NODE" ]; then
	skip "node over HTTPS" "node not installed"
else
	port=$(free_port)
	prof=$WORK/nodeprof
	cat >"$WORK/https.js" <<'JS'
const fs = require("fs"), https = require("https");
const [port, key, cert] = process.argv.slice(2);
https.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) },
  (req, res) => res.end("ok\n")).listen(+port, "127.0.0.1");
process.on("SIGTERM", () => process.exit(0));
JS
	(cd "$WORK" && exec env LD_PRELOAD="$LIB" OTSHIM_PROFILE_DIR="$prof" \
		"$NODE" "$WORK/https.js" "$port" "$WORK/key.pem" "$WORK/cert.pem" 2>"$WORK/node.err") &
	NPID=$!
	PIDS+=("$NPID")
	served=0
	for _ in $(seq 100); do "${CURL[@]}" -o /dev/null "https://127.0.0.1:$port/" && break; sleep 0.1; done && served=1
	for _ in $(seq 3); do "${CURL[@]}" -o /dev/null "https://127.0.0.1:$port/" && served=$((served + 1)); done
	doctor_pid=$(python3 "$ROOT/scripts/otshim" doctor --pid "$NPID" 2>/dev/null | grep -E '^ *(ok|info|warn) +tls ')
	kill -TERM "$NPID"
	wait_for 5 pid_gone "$NPID" || kill -KILL "$NPID"
	wait "$NPID" 2>/dev/null
	counts "$prof"
	doctor=$(python3 "$ROOT/scripts/otshim" doctor -- "$NODE" 2>/dev/null | grep -E '^ *(ok|info|warn) +tls ')
	diag "node ($NODE): $served served, counted $counted, TLS unseen $unseen; doctor: $doctor"
	check "node served HTTPS under the shim" [ "$served" = 4 ]
	# The official builds have OpenSSL linked in; one using the system's libssl (Debian's)
	# feeds it from memory, never from the socket: neither ties a session to a socket.
	check "node: every HTTPS connection counted as TLS unseen" [ "$unseen" = "$served" ]
	check "  and no request invented from its ciphertext" [ "$counted" = 0 ]
	check "  otshim doctor warns that its HTTPS cannot be seen" holds 'warn .*tls_unseen' "$doctor"
	check "  and so does otshim doctor --pid on the running node" holds 'warn .*tls_unseen' "$doctor_pid"
fi

# ---- 5. a library that bundles its own OpenSSL (tests/tools/bundled_ssl.c) ----
b=$WORK/bundled
mkdir -p "$b"
src=$TOOLS/bundled_ssl.c
printf 'OPENSSL_1_1_0 { global: SSL_read; SSL_write; SSL_free; fake_ssl_new; local: *; };\n' >"$b/v.map"
if cc -O1 -fPIC -shared -DFAKE_SSL -Wl,--version-script="$b/v.map" -Wl,-soname,libssl-fake.so.1.1 \
	-o "$b/libssl-fake.so.1.1" "$src" &&
	cc -O1 -fPIC -shared -DFAKE_CLIENT -o "$b/libfakeclient.so" "$src" "$b/libssl-fake.so.1.1" \
		-Wl,-rpath,'$ORIGIN' &&
	cc -O1 -o "$b/prog" "$src" -ldl; then
	plain=$("$b/prog" "$b/libfakeclient.so")
	shimmed=$(env LD_PRELOAD="$LIB" OTSHIM_PROFILE_DIR="$WORK/bprof" "$b/prog" "$b/libfakeclient.so" 2>"$b/err")
	rc=$?
	diag "without the shim: '$plain'; with it: '$shimmed' (exit $rc)"
	check "bundled OpenSSL: without the shim, the symbol versions send its calls to it" [ "$plain" = bundled ]
	check "  with the shim its SSL_read, SSL_write and SSL_free still reach it (no crash)" \
		[ "$rc:$shimmed" = 0:bundled ]
else
	skip "a library that bundles its own OpenSSL" "no C compiler to build tests/tools/bundled_ssl.c"
fi

san_reports
done_testing
