#!/bin/bash
# root.sh: services started as root that hand their work to processes of another
# user: nginx (its default `user nobody;`, two workers), Apache with the prefork and
# the event MPM (User www-data) and gunicorn (--user nobody, two workers). Nobody
# makes the profile directory beforehand. Each serves fast requests and slow ones (nginx and Apache
# proxy /sleep to the demo server, gunicorn's app sleeps), until two workers have
# served slow ones; then it stops. Checked for each: the workers ran as that user;
# the directory is that user's, 0700, and every file in it that user's, 0600; at
# least two workers wrote their stats file and index lines naming profiles that
# exist, and the slow requests were all profiled; the stats files' request count
# equals the access log; a third user (daemon) can neither list the directory nor
# read a file in it; the service logged no fault of ours. A CPU profile a worker
# wrote reads with go tool pprof. otshim doctor, given nginx's command, names the user
# and says the library will make the directory for it; it fails a directory of root's
# made beforehand, and passes the one the workers got.
# Skipped unless run as root; a service that is not installed skips its checks.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP not root: needs services started as root that switch their workers to another user"; exit 77; }
# TSan's runtime thread makes every master multi-threaded: its workers die when they
# start the shim's threads (nginx.sh).
[ "$SAN" = thread ] && san_skip_all "TSan does not support threads started after a multi-threaded fork"
# The workers, another user now, write their sanitizer reports there too.
[ -n "$SAN" ] && chmod 1777 "$WORK/san"
command -v runuser >/dev/null || { echo "1..0 # SKIP runuser not installed"; exit 77; }

chmod 0711 "$WORK" # the workers' users reach their files below, and list nothing
THIRD=daemon       # a user who must see nothing
SLOW_MS=100
SLEEP_MS=300

# The upstream for the proxies: the demo server, without the shim.
UP_PF=$WORK/up.port
"$SRV" --port 0 --port-file "$UP_PF" >/dev/null 2>&1 &
PIDS+=("$!")
wait_for 10 test -s "$UP_PF"
UP=$(cat "$UP_PF")

# get PORT PATH: one request on a new connection; prints the status code.
get() { curl -s -o /dev/null -m 10 -w '%{http_code}' "http://127.0.0.1:$1$2"; }

# load NAME PORT LOG: 20 fast requests, then slow ones two at a time until two pids
# (the first word of LOG's lines) have served one, at most 10 pairs. Sets CODES
# (every status, space-separated) and NSLOW (slow requests sent).
load() {
	local name=$1 port=$2 log=$3 i a b
	CODES="" NSLOW=0
	for i in $(seq 20); do CODES="$CODES $(get "$port" "/index.html?n=$i")"; done
	for i in $(seq 10); do
		a=$(mktemp "$WORK/code.XXXXXX") b=$(mktemp "$WORK/code.XXXXXX")
		get "$port" "/sleep?ms=$SLEEP_MS" >"$a" &
		get "$port" "/sleep?ms=$SLEEP_MS" >"$b" &
		wait %- %+ 2>/dev/null
		CODES="$CODES $(cat "$a") $(cat "$b")"
		NSLOW=$((NSLOW + 2))
		[ "$(grep '/sleep' "$log" 2>/dev/null | awk '{print $1}' | sort -u | wc -l)" -ge 2 ] && break
	done
	diag "$name: $NSLOW slow requests, served by $(grep '/sleep' "$log" | awk '{print $1}' | sort -u | tr '\n' ' ')"
}

# workers PID: the pids of PID's children, and their users in WUSERS (while they run).
workers() {
	WPIDS=$(pgrep -P "$1" | tr '\n' ' ')
	WUSERS=$(for w in $WPIDS; do ps -o user= -p "$w"; done | sort -u | tr '\n' ' ')
}

# verify NAME USER PROF ACCESS_LOG ERRLOG STDERR: the checks every service gets, after
# it stopped (WPIDS and WUSERS from workers, CODES and NSLOW from load).
verify() {
	local name=$1 user=$2 prof=$3 log=$4 errlog=$5 errlog2=$6 uid
	uid=$(id -u "$user")
	local bad_codes
	bad_codes=$(echo "$CODES" | tr ' ' '\n' | grep -v -e '^$' -e '^200$' | sort | uniq -c | tr '\n' ' ')
	check "$name: every request answered 200 ($(echo "$CODES" | wc -w) requests)" [ -z "$bad_codes" ]
	[ -z "$bad_codes" ] || diag "other answers: $bad_codes"
	check "$name: its workers ($WPIDS) ran as $user" [ -n "$WPIDS" -a "$WUSERS" = "$user " ]
	check "$name: the profile directory was made, $user's, 0700" \
		[ "$(stat -c '%u %a' "$prof" 2>/dev/null)" = "$uid 700" ]
	local nfiles not_theirs
	nfiles=$(find "$prof" -type f | wc -l)
	not_theirs=$(find "$prof" -mindepth 1 \( ! -uid "$uid" -o ! -type f -o ! -perm 0600 \) -printf '%u %m %p\n' | head -3)
	check "$name: every file in it ($nfiles) is $user's, 0600" [ "$nfiles" -gt 0 -a -z "$not_theirs" ]
	[ -z "$not_theirs" ] || diag "not $user's or not 0600: $not_theirs"
	local stats_pids index_pids
	stats_pids=$(find "$prof" -name 'otshim-stats-*.json' -printf '%f\n' | tr -dc '0-9\n' | sort -n | tr '\n' ' ')
	index_pids=$(python3 "$TOOLS/index_query.py" values "$prof/index.jsonl" pid | tr ' ' '\n' | sort -un | tr '\n' ' ')
	diag "$name: stats files of $stats_pids; index lines of $index_pids"
	check "$name: two workers or more wrote their stats file" [ "$(echo "$stats_pids" | wc -w)" -ge 2 ]
	check "$name: two workers or more wrote index lines" [ "$(echo "$index_pids" | wc -w)" -ge 2 ]
	# (On a loaded machine a fast request may turn slow too: it is profiled rightly.)
	local nlines nslow
	nlines=$(python3 "$TOOLS/index_query.py" values "$prof/index.jsonl" pid --path /sleep | wc -w)
	nslow=$(stats_field "$prof" slow)
	check "$name: every slow request was profiled ($NSLOW sent, $nlines index lines for them, $nslow slow counted)" \
		[ "$nlines" = "$NSLOW" -a "$nslow" -ge "$NSLOW" ]
	check "$name: every index line names profiles that exist" python3 "$TOOLS/check_profile_dir.py" "$prof"
	local logged counted
	logged=$(grep -c . "$log")
	counted=$(stats_field "$prof" requests)
	check "$name: the shim counted the access log's requests ($counted of $logged)" [ "$counted" = "$logged" ]
	local a_file
	a_file=$(find "$prof" -name 'cpu-*.pb.gz' | head -1)
	check "$name: $THIRD cannot list the directory" bash -c "! runuser -u $THIRD -- ls '$prof' >/dev/null 2>&1"
	check "$name: $THIRD cannot read a file in it" \
		bash -c "[ -n '$a_file' ] && ! runuser -u $THIRD -- cat '$a_file' >/dev/null 2>&1"
	local ours
	ours=$(cat "$errlog" "$errlog2" 2>/dev/null | grep 'otshim\[' | head -3)
	check "$name: no fault of ours in its log" [ -z "$ours" ]
	[ -z "$ours" ] || diag "$ours"
}

# stop_pid PID SIGNAL: SIGNAL, then wait (10 s, then SIGKILL) so workers write stats.
stop_pid() {
	kill "-$2" "$1" 2>/dev/null
	if ! wait_for 10 pid_gone "$1"; then
		diag "$1 did not stop within 10 s; killing it"
		kill -KILL "$1" 2>/dev/null
	fi
	wait "$1" 2>/dev/null
}

# ---- nginx: `user nobody;` by default, two workers ----
NGINX=/usr/sbin/nginx
if [ -x "$NGINX" ]; then
	n=$WORK/nginx prof=$WORK/nginx-prof port=$(free_port)
	mkdir -p "$n/html" "$n/logs" "$n/tmp"
	echo hello >"$n/html/index.html"
	chmod -R a+rX "$n"
	# reuseport: each worker its own socket, connections spread by the kernel, so that
	# both get slow requests; $pid first in the access log says which served each.
	cat >"$n/nginx.conf" <<EOF
worker_processes 2;
pid $n/nginx.pid;
error_log $n/logs/error.log;
events { worker_connections 64; }
http {
  log_format withpid '\$pid \$remote_addr "\$request" \$status';
  access_log $n/logs/access.log withpid;
  client_body_temp_path $n/tmp;
  proxy_temp_path $n/tmp;
  fastcgi_temp_path $n/tmp;
  uwsgi_temp_path $n/tmp;
  scgi_temp_path $n/tmp;
  server {
    listen 127.0.0.1:$port reuseport;
    root $n/html;
    location /sleep { proxy_pass http://127.0.0.1:$UP; }
  }
}
EOF
	# What otshim doctor says, before (nothing there) and with a directory of root's.
	doctor() { OTSHIM_LIB=$SHIM_SO "$ROOT/scripts/otshim" doctor --dir "$prof" -- "$NGINX" -p "$n" -c "$n/nginx.conf" 2>&1; }
	doctor >"$WORK/doctor1.out"
	check "nginx: otshim doctor says its workers run as nobody, for whom the library makes the directory" \
		grep -q "ok .*started as root, its workers run as nobody (nginx's default, .*: $prof does not exist, and the library makes it for nobody" "$WORK/doctor1.out"
	check "  and makes no directory itself" test ! -e "$prof"
	mkdir -m 0700 "$prof"
	doctor >"$WORK/doctor2.out"
	check "  with the directory made by root beforehand, it fails saying what to do" \
		grep -q "FAIL .*$prof is root's, so they cannot write there.*remove it" "$WORK/doctor2.out"
	rmdir "$prof"
	LD_PRELOAD=$LIB OTSHIM_PROFILE_DIR=$prof OTSHIM_SLOW_MS=$SLOW_MS \
		"$NGINX" -p "$n" -c "$n/nginx.conf" -g "daemon off;" 2>"$n/stderr" &
	NPID=$!
	PIDS+=("$NPID")
	wait_for 10 bash -c "[ \"\$(pgrep -c -P $NPID)\" = 2 ]"
	for _ in $(seq 100); do [ "$(get "$port" /)" = 200 ] && break; sleep 0.05; done
	load nginx "$port" "$n/logs/access.log"
	workers "$NPID"
	stop_pid "$NPID" QUIT
	verify nginx nobody "$prof" "$n/logs/access.log" "$n/logs/error.log" "$n/stderr"
	f=$(find "$prof" -name 'cpu-*.pb.gz' | head -1)
	pprof -raw "$f" >"$WORK/nginx.raw"
	check "nginx: go tool pprof reads a worker's CPU profile" grep -q '^PeriodType: cpu' "$WORK/nginx.raw"
	doctor >"$WORK/doctor3.out"
	check "nginx: afterwards otshim doctor finds the directory nobody's, as it should be" \
		grep -q "ok .*$prof is that user's, and they write there" "$WORK/doctor3.out"
else
	skip "nginx: the checks" "nginx is not installed"
fi

# ---- Apache, prefork and event MPMs: User www-data ----
APACHE=/usr/sbin/apache2
MODS=/usr/lib/apache2/modules
# apache MPM: Apache with that MPM (prefork: a process per connection; event: threads
# in processes), started as root with two children, loaded, stopped and verified.
apache() {
	local mpm=$1 a=$WORK/apache-$1 prof=$WORK/apache-$1-prof port
	port=$(free_port)
	mkdir -p "$a/htdocs" "$a/logs" "$a/run"
	echo hello >"$a/htdocs/index.html"
	chmod -R a+rX "$a"
	cat >"$a/apache2.conf" <<EOF
ServerRoot $a
ServerName localhost
Listen 127.0.0.1:$port
PidFile $a/run/apache2.pid
DefaultRuntimeDir $a/run
LoadModule mpm_${mpm}_module $MODS/mod_mpm_${mpm}.so
LoadModule authz_core_module $MODS/mod_authz_core.so
LoadModule proxy_module $MODS/mod_proxy.so
LoadModule proxy_http_module $MODS/mod_proxy_http.so
User www-data
Group www-data
StartServers 2
GracefulShutdownTimeout 5
DocumentRoot $a/htdocs
ErrorLog $a/logs/error.log
LogFormat "%P %h \"%r\" %>s" withpid
CustomLog $a/logs/access.log withpid
ProxyPass /sleep http://127.0.0.1:$UP/sleep
EOF
	if [ "$mpm" = prefork ]; then
		printf 'MinSpareServers 2\nMaxSpareServers 4\nMaxRequestWorkers 4\n' >>"$a/apache2.conf"
	else # two processes of two threads: slow requests spread over both
		printf 'ServerLimit 2\nThreadsPerChild 2\nMinSpareThreads 2\nMaxSpareThreads 4\nMaxRequestWorkers 4\n' >>"$a/apache2.conf"
	fi
	# Its own process group: the parent signals its whole group when it stops.
	LD_PRELOAD=$LIB OTSHIM_PROFILE_DIR=$prof OTSHIM_SLOW_MS=$SLOW_MS \
		setsid "$APACHE" -f "$a/apache2.conf" -DFOREGROUND 2>"$a/stderr" &
	APID=$!
	PIDS+=("$APID")
	for _ in $(seq 100); do [ "$(get "$port" /)" = 200 ] && break; sleep 0.05; done
	load "apache $mpm" "$port" "$a/logs/access.log"
	workers "$APID"
	stop_pid "$APID" WINCH # graceful-stop: children finish and exit normally
	verify "apache $mpm" www-data "$prof" "$a/logs/access.log" "$a/logs/error.log" "$a/stderr"
}
for mpm in prefork event; do
	if [ -x "$APACHE" ] && [ -f "$MODS/mod_mpm_$mpm.so" ] && [ -f "$MODS/mod_proxy_http.so" ]; then
		apache "$mpm"
	else
		skip "apache $mpm: the checks" "apache2 with mod_mpm_$mpm and mod_proxy_http is not installed"
	fi
done

# ---- gunicorn: --user nobody, two sync workers ----
GUNICORN=$(command -v gunicorn)
if [ -n "$GUNICORN" ]; then
	g=$WORK/gunicorn prof=$WORK/gunicorn-prof port=$(free_port)
	mkdir -p "$g"
	cat >"$g/app.py" <<'EOF'
import time
from urllib.parse import parse_qs


def app(environ, start_response):
    if environ["PATH_INFO"] == "/sleep":
        ms = int(parse_qs(environ.get("QUERY_STRING", "")).get("ms", ["100"])[0])
        time.sleep(ms / 1000)
    body = b"hello\n"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
EOF
	chmod -R a+rX "$g"
	LD_PRELOAD=$LIB OTSHIM_PROFILE_DIR=$prof OTSHIM_SLOW_MS=$SLOW_MS \
		"$GUNICORN" --chdir "$g" --user nobody --group nogroup --workers 2 \
		--bind "127.0.0.1:$port" --graceful-timeout 5 --access-logfile "$g/access.log" \
		--access-logformat '%(p)s %(h)s "%(r)s" %(s)s' --error-logfile "$g/error.log" \
		app:app 2>"$g/stderr" &
	GPID=$!
	PIDS+=("$GPID")
	wait_for 15 bash -c "[ \"\$(pgrep -c -P $GPID)\" = 2 ]"
	for _ in $(seq 200); do [ "$(get "$port" /)" = 200 ] && break; sleep 0.05; done
	load gunicorn "$port" "$g/access.log"
	workers "$GPID"
	stop_pid "$GPID" TERM # graceful: workers finish and exit normally
	verify gunicorn nobody "$prof" "$g/access.log" "$g/error.log" "$g/stderr"
else
	skip "gunicorn: the checks" "gunicorn is not installed"
fi
done_testing
