#!/bin/bash
# nginx.sh: a real pre-fork, event-loop server. Debian's nginx with two worker
# processes runs under the shim from its own temporary prefix; after a few thousand
# requests from wrk and curl (keep-alive, new connections, 404s, HEAD), the requests
# the shim counted across the workers equal the lines in nginx's access log, and no
# slow request is invented. In continuous mode (1 s periods) each worker that served
# the load profiles itself: its own continuous-cpu-<pid>-<unix> files, valid for pprof,
# holding its own CPU; the master keeps continuous-cpu-<unix>.
# Under TSan nginx runs as one process (master_process off): TSan kills the child of a
# multi-threaded fork that starts a thread, and each worker starts the shim's. The same
# counts are checked there; what only workers have is skipped with that reason.
. "$(dirname "$0")/lib.sh"
SAN_NO_PREFORK="TSan does not support threads started after a multi-threaded fork: nginx runs as one process"
MASTER=on
[ "$SAN" = thread ] && MASTER=off

NGINX=/usr/sbin/nginx
[ -x "$NGINX" ] || { echo "1..0 # SKIP nginx not installed"; exit 77; }
command -v wrk >/dev/null || { echo "1..0 # SKIP wrk not installed"; exit 77; }

port=$(free_port)
n=$WORK/nginx
mkdir -p "$n/html" "$n/logs" "$n/tmp"
head -c 1024 /dev/urandom | base64 | head -c 1024 >"$n/html/index.html"
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
    listen 127.0.0.1:$port;
    root $n/html;
  }
}
EOF
prof=$WORK/prof
LD_PRELOAD=$LIB OTSHIM_PROFILE_DIR=$prof OTSHIM_SLOW_MS=100 OTSHIM_CONTINUOUS_SEC=1 \
	"$NGINX" -p "$n" -c "$n/nginx.conf" -g "daemon off; master_process $MASTER;" 2>"$n/stderr" &
NPID=$!
PIDS+=("$NPID")
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.05; done
wpids=$(pgrep -P "$NPID")
workers=$(echo "$wpids" | grep -c .)
san_check "$SAN_NO_PREFORK" "nginx runs with two workers under the shim" [ "$workers" -eq 2 ]

wrk -t1 -c8 -d3s "http://127.0.0.1:$port/" >"$WORK/wrk.out" 2>&1
diag "$(grep -E 'requests in|Requests/sec' "$WORK/wrk.out" | tr -s ' ')"
for i in $(seq 20); do curl -s -o /dev/null "http://127.0.0.1:$port/?n=$i"; done
for i in $(seq 10); do curl -s -o /dev/null "http://127.0.0.1:$port/missing-$i"; done
for i in $(seq 5); do curl -s -I -o /dev/null "http://127.0.0.1:$port/"; done
$HTTPC pipeline --port "$port" --n 30 >/dev/null

# Graceful stop (what `nginx -s quit` sends): workers finish and exit normally,
# writing their stats at exit.
kill -QUIT "$NPID"
if ! wait_for 10 pid_gone "$NPID"; then
	diag "nginx did not quit within 10 s; killing it"
	kill -KILL "$NPID"
fi
wait "$NPID" 2>/dev/null

logged=$(wc -l <"$n/logs/access.log")
counted=$(stats_field "$prof" requests)
files=$(ls "$prof"/otshim-stats-*.json 2>/dev/null | wc -l)
diag "access log $logged lines, shim counted $counted in $files stats files"
check "requests were served" [ "$logged" -gt 1000 ]
check "the 404s are in the access log (and so in the count)" \
	[ "$(grep -c '"GET /missing-[0-9]* HTTP/1.1" 404 ' "$n/logs/access.log")" -eq 10 ]
san_check "$SAN_NO_PREFORK" "each worker wrote its own stats file" [ "$files" -ge 2 ]
check "shim request count equals nginx's access log" [ "$counted" = "$logged" ]
# A static 1 KiB file never takes 100 ms on an idle machine, so nothing should be slow.
# On an overloaded one a worker can be descheduled that long: then a request really is
# slow, and is profiled rightly. What must never happen is a request *invented* slow,
# i.e. an index line whose own duration is under the threshold.
slow=$(stats_field "$prof" slow)
invented=$(python3 "$TOOLS/index_query.py" below "$prof/index.jsonl" duration_ms 100)
check "no request was invented as slow (every index line lasted >= 100 ms)" [ "$invented" = 0 ]
[ "$slow" = 0 ] || diag "slow requests: $(cut -c1-300 "$prof/index.jsonl" 2>/dev/null)"
load=$(cut -d' ' -f1 /proc/loadavg)
if [ "$slow" != 0 ] && [ "$invented" = 0 ] &&
	python3 -c "import os,sys; sys.exit(not float('$load') > os.cpu_count())"; then
	skip "no request was slow and no profile was written" "machine overloaded (load $load): $slow request(s) really took >= 100 ms"
else
	nothing_slow() { [ "$slow" = 0 ] && [ -z "$(find "$prof" -name 'cpu-*' 2>/dev/null)" ]; }
	check "no request was slow and no profile was written" nothing_slow
fi
# ---- continuous mode in a pre-fork server ----
# A worker starts its continuous thread at its first request: one that got only the
# last few (after wrk) may quit before a period ends. Those that served the load must
# have theirs.
busy=0 busy_files=0 busy_cpu=0
for w in $wpids; do
	fs=$(ls "$prof"/continuous-cpu-"$w"-*.pb.gz 2>/dev/null)
	# shellcheck disable=SC2086 # several files: pprof merges them
	[ -n "$fs" ] && pprof -top $fs >"$WORK/cont-$w.top" 2>/dev/null
	total=$(sed -n 's/.*Total samples = \([0-9.]*[mun]*s\).*/\1/p' "$WORK/cont-$w.top" 2>/dev/null)
	reqs=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["requests"])' \
		"$prof/otshim-stats-$w.json" 2>/dev/null)
	diag "worker $w: ${reqs:-?} requests, $(echo "$fs" | grep -c .) continuous CPU files, samples: ${total:-none}"
	[ "${reqs:-0}" -gt 1000 ] || continue
	busy=$((busy + 1))
	[ -n "$fs" ] && busy_files=$((busy_files + 1))
	grep -q '^Type: cpu' "$WORK/cont-$w.top" 2>/dev/null && [ -n "$total" ] && busy_cpu=$((busy_cpu + 1))
done
busy_have_files() { [ "$busy" -ge 1 ] && [ "$busy_files" = "$busy" ]; }
san_check "$SAN_NO_PREFORK" "each worker that served the load ($busy) writes its own continuous CPU files, its pid in their names" busy_have_files
san_check "$SAN_NO_PREFORK" "go tool pprof reads them as CPU profiles holding that worker's CPU" [ "$busy_cpu" = "$busy" ]
master_files=$(ls "$prof" | grep -c -E '^continuous-cpu-[0-9]+\.pb\.gz$')
check "the master keeps its own continuous files, named as in a single process ($master_files)" \
	[ "$master_files" -ge 1 ]
if [ "$MASTER" = off ]; then
	# shellcheck disable=SC2046 # several files: pprof merges them
	pprof -top $(ls "$prof"/continuous-cpu-*.pb.gz) >"$WORK/cont-one.top" 2>/dev/null
	diag "one process: $(grep 'Total samples' "$WORK/cont-one.top")"
	check "  and, serving the load itself, they hold its CPU" bash -c "grep -q '^Type: cpu' '$WORK/cont-one.top' && grep -q 'Total samples = [0-9.]*[mun]*s' '$WORK/cont-one.top'"
fi
check "no tracking errors" [ "$(stats_field "$prof" errors)" = 0 ]
check "nginx logged no crash" bash -c "! grep -q -E 'signal [0-9]+|core dumped' '$n/logs/error.log'"
done_testing
