#!/bin/bash
# wall.sh: where a slow request waited. tests/servers/srv_wait.c answers each request
# after waiting ~300 ms in one known call -- recv on an upstream socket with
# SO_RCVTIMEO, poll, nanosleep, pthread_mutex_lock held by another thread, connect to
# a Unix listener whose backlog is full, read of a pipe -- and aborts if any of them
# fails with EINTR. With a 100 ms threshold each request gets a wall profile that
# `go tool pprof` reads: its total is the request's duration, >= 250 ms of it off CPU,
# >= 80 % in samples under the waiting function labelled state=off-cpu, the call's
# name (wait) and the descriptor's peer, with the request's trace and span ids; the
# index line carries files.wall, wall_off_cpu_ms and top_wait. A mixed request (CPU,
# a wait, CPU) splits on and off CPU as it went. Then 20 such waits in
# recv with fast requests alongside: the server never sees an EINTR, every request is
# answered 200 and logged, and fast requests write no profile. Last, whole-process wall
# profiles, from /debug/pprof/wall and in continuous mode, over threads asleep, waiting
# for a mutex and burning CPU.
. "$(dirname "$0")/lib.sh"

SRV=$BUILD/tests/servers/srv_wait
PARENT=00f067aa0ba902b7
dir=$WORK/prof
PP=$(free_port)
start_demo "$dir" OTSHIM_SLOW_MS=100 OTSHIM_PPROF_ADDR=127.0.0.1:$PP

# index_line TRACE: that trace's index line (waits until it is there).
index_line() {
	wait_for 5 grep -qs "\"trace_id\":\"$1\"" "$dir/index.jsonl"
	grep "\"trace_id\":\"$1\"" "$dir/index.jsonl" | head -1
}
field() { python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); print(eval("d"+sys.argv[1]))' "$1" 2>/dev/null; }

# one_wait KIND WAIT PEER_RE: a /KIND?ms=300 request, its wall profile checked.
one_wait() {
	local kind=$1 wait=$2 peer=$3 trace line file up
	trace=4bf92f3577b34da6a3ce929d0e0e$(printf '%04x' "$RANDOM")
	$HTTPC get --port "$PORT" --path "/$kind?ms=300" \
		--header "traceparent: 00-$trace-$PARENT-01" >"$WORK/resp.$kind"
	up=$(awk -F': ' '/^x-upstream-port/{print $2}' "$WORK/resp.$kind" | tr -d '\r')
	peer=${peer//UP/$up}
	line=$(index_line "$trace")
	file=$(echo "$line" | field '["files"]["wall"]')
	check "$kind: answered 200" grep -qx 'status 200' "$WORK/resp.$kind"
	check "$kind: index line names a wall file that exists, mode 0600" \
		[ -n "$file" -a "$(stat -c %a "$dir/$file" 2>/dev/null)" = 600 ]
	local verdict func=wait_in_$kind
	# Under TSan a wait keeps its call site only (runtime/track/waits.c says why), which
	# is in TSan's interceptor: the waiting function is not checked there.
	[ "$SAN" = thread ] && func=-
	verdict=$(python3 "$TOOLS/wall_check.py" "$dir/$file" "$func" "$wait" "$peer" \
		"$(echo "$line" | field '["duration_ms"]')" "$trace" \
		"$(echo "$line" | field '["span_id"]')" 2>&1)
	[ -n "$verdict" ] && diag "$verdict"
	check "$kind: wall total = duration, >= 250 ms off CPU, >= 80 % under $func as $wait${3:+ (peer $peer)}, ids on every sample" \
		[ -z "$verdict" ]
	check "$kind: index says wall_off_cpu_ms >= 250 and top_wait $wait >= 250 ms" \
		python3 -c 'import json,sys,re; d=json.loads(sys.argv[1]); t=d["top_wait"]
sys.exit(not (d["wall_off_cpu_ms"] >= 250 and t["wait"] == sys.argv[2] and t["ms"] >= 250
              and (sys.argv[3] == "-" or re.fullmatch(sys.argv[3], t["peer"]))))' "$line" "$wait" "$peer"
}

one_wait recv recv '127\.0\.0\.1:UP'
one_wait poll poll 'pipe:\[[0-9]+\]'
one_wait sleep nanosleep -
one_wait mutex pthread_mutex_lock -
one_wait connect connect 'unix:@srv_wait\.[0-9]+'
one_wait pipe read 'pipe:\[[0-9]+\]'

# A mixed request: 150 ms of CPU, 300 ms in recv on the upstream, 150 ms of CPU. Its
# wall profile adds up to its duration (within 5 %) and splits it on and off CPU as it
# went: on CPU the 300 ms of thread CPU time the server burned (within 10 %), off CPU
# the rest, of which recv holds at least 90 % of its 300 ms (a busy machine stretches
# the request: the thread then also waits, runnable, for a CPU, which is off CPU too).
# Its CPU profile, from its first byte, holds the 300 ms it burned (within 15 %).
trace=4bf92f3577b34da6a3ce929d0e0e$(printf '%04x' "$RANDOM")
$HTTPC get --port "$PORT" --path "/mixed?ms=300" --header "traceparent: 00-$trace-$PARENT-01" \
	>"$WORK/resp.mixed"
line=$(index_line "$trace")
mixed=$(python3 - "$dir/$(echo "$line" | field '["files"]["wall"]')" \
	"$dir/$(echo "$line" | field '["files"]["cpu"]')" "$(echo "$line" | field '["duration_ms"]')" \
	"$TOOLS/pprof_raw.py" <<'PY'
import json, subprocess, sys
wall, cpu, dur, tool = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
def total(path, *focus):
    d = json.loads(subprocess.run([sys.executable, tool, path, *focus], capture_output=True,
                                  text=True, check=True).stdout)
    return d["totals"][1] / 1e6 if d["totals"] else 0.0
w, on, off, c = total(wall), total(wall, "state=on-cpu"), total(wall, "state=off-cpu"), total(cpu)
recv = total(wall, "wait=recv")
ok = (abs(w - dur) <= 0.05 * dur and abs(on - 300) <= 30 and abs(off - (dur - 300)) <= 30 and
      270 <= recv <= off + 1 and 255 <= c <= 345)
print("%s wall %.1f ms of %.1f, on CPU %.1f, off CPU %.1f (recv %.1f); CPU profile %.1f ms" %
      ("ok" if ok else "bad", w, dur, on, off, recv, c))
PY
)
diag "mixed: $mixed"
check "mixed (150 ms CPU, 300 ms recv, 150 ms CPU): wall = duration within 5 %, on CPU 300 ms within 10 %, off CPU the rest, recv >= 270 ms of it, CPU profile 300 ms within 15 %" \
	[ "${mixed%% *}" = ok ]

# 20 waits in recv (SO_RCVTIMEO set) in 4 parallel streams, fast requests alongside.
before=$(grep -c . "$dir/index.jsonl")
streams=()
for s in 1 2 3 4; do
	(for i in 1 2 3 4 5; do
		$HTTPC get --port "$PORT" --path "/recv?ms=300"
	done >"$WORK/slow.$s" 2>&1) &
	streams+=($!)
done
$HTTPC keepalive --port "$PORT" --n 400 --path /fast >"$WORK/fast.out" 2>&1
wait "${streams[@]}"
check "20 slow waits in recv under load: all answered 200" \
	[ "$(cat "$WORK"/slow.? | grep -cx 'status 200')" = 20 ]
check "400 fast requests on one connection meanwhile: all answered" grep -qx 400 "$WORK/fast.out"
wait_for 5 test "$(grep -c . "$dir/index.jsonl")" -ge $((before + 20))
check "each of the 20 got its index line with a wall file; the 400 fast ones none" \
	[ "$(grep -c . "$dir/index.jsonl")" = $((before + 20)) ]
# The whole process from the endpoint (like fgprof): a thread asleep in nanosleep, one
# waiting for a held mutex and one burning CPU, for 2 s.
# in_call NR: how many of the server's own threads are asleep in system call NR.
in_call() {
	local t n=0
	for t in /proc/$SPID/task/*; do
		[ "$(cat "$t/comm" 2>/dev/null)" = srv_wait ] &&
			[ "$(cut -d' ' -f1 "$t/syscall" 2>/dev/null)" = "$1" ] && n=$((n + 1))
	done
	echo $n
}
jobs=()
for p in "/sleep?ms=4000" "/mutex?ms=4000" "/burn?ms=4000"; do
	curl -s -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:$PORT$p" >"$WORK/whole.${p:1:4}" &
	jobs+=($!)
done
# The sleeper and the mutex holder in clock_nanosleep (230), the other in futex
# (202): then the 2 s begin.
wait_for 10 bash -c "[ \$($(declare -f in_call); SPID=$SPID in_call 230) -ge 2 ] && [ \$($(declare -f in_call); SPID=$SPID in_call 202) -ge 1 ]"
curl -s -o "$WORK/wall.pb.gz" "http://127.0.0.1:$PP/debug/pprof/wall?seconds=2"
wait "${jobs[@]}"
check "the three requests were answered 200 meanwhile" \
	[ "$(cat "$WORK"/whole.* | grep -cx 200)" = 3 ]
verdict=$(python3 "$TOOLS/wall_whole_check.py" "$WORK/wall.pb.gz" 2 2>&1)
[ -n "$verdict" ] && diag "$verdict"
TSAN_WALL="TSan holds a running thread's capture signal until its next intercepted call, and a sleeping thread's walk stops in TSan's interceptor frames"
tsan_check "$TSAN_WALL" "/debug/pprof/wall?seconds=2: go tool pprof reads it; each service thread ~2 s; wait_in_sleep off CPU in clock_nanosleep, wait_in_mutex off CPU in futex, burn_cpu on CPU" \
	[ -z "$verdict" ]
check "the server is alive and never saw an EINTR" \
	bash -c "kill -0 $SPID && ! grep -q EINTR '$dir.err'"
stop_demo
check "its access log holds every request (6 + 1 + 20 + 400 + 3)" \
	[ "$(grep -c . "$dir.access")" = 430 ]
check "every wall file is one the index names" \
	[ "$(ls "$dir" | grep -c '^wall-')" = "$(grep -c '"wall":"wall-' "$dir/index.jsonl")" ]

# Continuous mode writes a wall file per period. (Its whole-process CPU profile can,
# in a narrow race, interrupt a sleeping call: this server only logs an EINTR.)
dir=$WORK/cont
start_demo "$dir" OTSHIM_CONTINUOUS_SEC=1 SRV_WAIT_EINTR=log
wait_for 10 compgen -G "$dir/continuous-wall-*.pb.gz" >/dev/null
f=$(ls "$dir"/continuous-wall-*.pb.gz 2>/dev/null | tail -1)
check "continuous mode writes continuous-wall-<unix>.pb.gz: go tool pprof reads it, the main thread off CPU in accept" \
	bash -c "[ -n '$f' ] && HOME=$HOME go tool pprof -tags '$f' 2>/dev/null | grep -A3 ' wait:' | grep -q ': accept'"
stop_demo

san_reports
done_testing
