#!/bin/bash
# threads.sh: thread tracking. A slow request's set includes a threads profile (one
# sample per live thread, its stack, thread_name/thread_id labels) and a threadcreate
# profile (creation stacks); the index line's thread count matches /proc; threads
# asleep in a system call (read, accept, nanosleep) are never signalled: their stacks
# are walked whole while they sleep; so is a thread with every signal blocked, and one
# stopped by a tracer, at no cost in waiting; 100,000
# create/join cycles and threads ending every other way (detached, pthread_exit,
# cancellation) leave the registry as it was; and a
# failing pthread_create returns exactly what it returns without the shim.
. "$(dirname "$0")/lib.sh"

tasks() { ls "/proc/$SPID/task" | wc -l; }
# slow TRACE: a slow request with that trace id, then its index line's files.
slow() {
	curl -s -o /dev/null -H "traceparent: 00-$1-b7ad6b7169203331-01" "http://127.0.0.1:$PORT/sleep?ms=150"
	wait_for 10 grep -qs "$1" "$dir/index.jsonl"
}
field() { grep "$1" "$dir/index.jsonl" | tail -1 | python3 -c "import json, sys; d = json.load(sys.stdin); print(eval('d' + sys.argv[1]))" "$2"; }
total() { pprof -top "$1" | awk '/^Showing nodes/ { for (i = 1; i <= NF; i++) if ($i == "total") print $(i - 1) }'; }

dir=$WORK/prof
start_demo "$dir" OTSHIM_SLOW_MS=100
before=$(tasks)
started=$(curl -s -D - -o /dev/null "http://127.0.0.1:$PORT/spawn?n=50&ms=30000&how=read" | tr -d '\r' | awk '/^X-Started:/ { print $2 }')
napping=$(curl -s -D - -o /dev/null "http://127.0.0.1:$PORT/spawn?n=10&ms=30000" | tr -d '\r' | awk '/^X-Started:/ { print $2 }')
check "50 threads waiting in read(2) and 10 in nanosleep started" [ "$started/$napping" = 50/10 ]
T1=11111111111111111111111111111111
# On a connection kept open a while, so the thread that served it is still there.
$HTTPC idle --port "$PORT" --req 'GET /sleep?ms=150' --pause-ms 1500 \
	--header "traceparent: 00-$T1-b7ad6b7169203331-01" >/dev/null &
wait_for 10 grep -qs "$T1" "$dir/index.jsonl"
after=$(tasks)
n=$(field $T1 '["threads"]')
f="$dir/$(field $T1 '["files"]["threads"]')"
diag "tasks before $before, after $after; index threads $n"
check "the index line's thread count is /proc's, give or take the connection's own thread" \
	python3 -c "import sys; n, a, b = map(int, sys.argv[1:]); sys.exit(0 if min(abs(n - a), abs(n - b - 62)) <= 2 else 1)" "$n" "$after" "$before"
check "the set has a threads profile" [ -s "$f" ]
pprof -traces "$f" >"$WORK/traces"
sleepy=$(awk '/^-----/ { if (s) c++; s = 0 } /sleepy_thread/ { s = 1 } END { if (s) c++; print c + 0 }' "$WORK/traces")
diag "samples whose stack holds sleepy_thread: $sleepy; total samples $(total "$f")"
check "all 60 sleeping threads have sleepy_thread on their stack" [ "$sleepy" = 60 ]
# The threads asleep in nanosleep: walked while they slept, not signalled.
walked=$(awk '/^-----/ { if (s && f && n && !l) c++; s = f = n = l = 0 } /thread_name:  sleepy/ { s = 1 } / sleepy_thread$/ { f = 1 } /nanosleep/ { n = 1 } /stack:  / { l = 1 } END { if (s && f && n && !l) c++; print c + 0 }' "$WORK/traces")
check "the 10 in nanosleep: whole stacks (nanosleep under sleepy_thread), no stack label ($walked)" [ "$walked" = 10 ]
whole=$(awk '/^-----/ { if (s && f && !l) c++; s = f = l = 0 } /thread_name:  sleepy/ { s = 1 } / sleepy_thread$/ { f = 1 } /stack:  / { l = 1 } END { if (s && f && !l) c++; print c + 0 }' "$WORK/traces")
check "  and the 50 in read(2): sleepy_thread in each stack, no stack label ($((whole - walked)))" [ "$((whole - walked))" = 50 ]
check "  the main thread, asleep in accept4: main on its stack" \
	bash -c "awk '/^-----/ { if (s && m) c++; s = 0; m = 0 } /thread_name:  srv_demo/ { s = 1 } / main\$/ { m = 1 } END { if (s && m) c++; print c + 0 }' '$WORK/traces' | grep -qx 1"
check "one sample per thread" [ "$(total "$f")" = "$n" ]
check "thread_name labels name the sleeping threads" bash -c "grep -c 'thread_name:  sleepy' '$WORK/traces' | grep -qx 60"
check "every sample has a thread_id label" [ "$(grep -c 'thread_id:' "$WORK/traces")" = "$n" ]
check "the thread that served the request carries its trace_id" grep -q "trace_id:  $T1" "$WORK/traces"
fc="$dir/$(field $T1 '["files"]["threadcreate"]')"
san_check "$SAN_NO_THREADREG" "the set has a threadcreate profile whose stacks show the creator (start_detached)" \
	bash -c "HOME=$HOME go tool pprof -traces '$fc' 2>/dev/null | grep -q start_detached"
fast_ms=$(pprof -comments "$f" | awk -F= '/^capture_ms=/ { print $2 }')
diag "capture took $fast_ms ms"

# A thread that blocks every signal, asleep: walked like the others, at once.
curl -s -o /dev/null "http://127.0.0.1:$PORT/blocked?ms=30000"
T2=22222222222222222222222222222222
slow $T2
f2="$dir/$(field $T2 '["files"]["threads"]')"
ms=$(pprof -comments "$f2" | awk -F= '/^capture_ms=/ { print $2 }')
diag "capture with a thread that blocks all signals: $ms ms"
check "a thread blocking every signal costs the capture no wait for it (${ms} ms, under the 100 ms bound)" \
	python3 -c "import sys; sys.exit(0 if 0 < float(sys.argv[1]) < 95 else 1)" "${ms:-0}"
check "the blocked thread is in the profile by name, its stack walked (blocked_thread)" \
	bash -c "HOME=$HOME go tool pprof -traces '$f2' 2>/dev/null | grep -A8 'thread_name:  blocked-all' | grep -q ' blocked_thread\$'"

# A thread stopped by a tracer in read(2) (one of the 50) is walked like any sleeper:
# the capture does not wait for it; it resumes its read after.
stopped=""
for t in /proc/$SPID/task/*; do
	[ "$(cat "$t/comm" 2>/dev/null)" = sleepy ] && [ "$(cut -d' ' -f1 "$t/syscall" 2>/dev/null)" = 0 ] &&
		stopped=${t##*/} && break
done
python3 "$TOOLS/ptrace_stop.py" "$stopped" "$WORK/traced" "$WORK/untrace" >"$WORK/tracer.out" 2>&1 &
TRACER=$!
if [ -n "$stopped" ] && wait_for 5 test -e "$WORK/traced"; then
	T4=44444444444444444444444444444444
	slow $T4
	touch "$WORK/untrace"
	ms=$(pprof -comments "$dir/$(field $T4 '["files"]["threads"]')" | awk -F= '/^capture_ms=/ { print $2 }')
	diag "capture with a stopped thread ($stopped): $ms ms"
	check "the capture did not wait out its 100 ms bound for it ($ms ms)" \
		python3 -c "import sys; sys.exit(0 if 0 < float(sys.argv[1]) < 95 else 1)" "${ms:-0}"
	check "  and shows it in gate_wait under sleepy_thread" \
		bash -c "HOME=$HOME go tool pprof -traces '$dir/$(field $T4 '["files"]["threads"]')' 2>/dev/null | grep -A8 'thread_id:  $stopped\$' | grep -q ' gate_wait\$'"
else
	skip "the capture did not wait for a stopped thread" "no thread could be stopped: $(cat "$WORK/tracer.out")"
	skip "  and shows it in gate_wait" "no thread could be stopped"
fi
wait "$TRACER"
check "the server still answers" curl -sf -o /dev/null "http://127.0.0.1:$PORT/"

# 100,000 create/join cycles and 1,000 each of detached, pthread_exit'ed and cancelled
# threads leave the registry as it was.
# (Under TSan a cycle costs about 0.9 ms, so a tenth of them.)
CYCLES=100000
[ "$SAN" = thread ] && CYCLES=10000
c1=$(total "$dir/$(field $T2 '["files"]["threadcreate"]')")
failed=$(curl -s -D - -o /dev/null --max-time 120 "http://127.0.0.1:$PORT/cycles?n=$CYCLES" | tr -d '\r' | awk '/^X-Failed:/ { print $2 }')
check "$CYCLES create/join cycles, and $((CYCLES / 100)) each of detached, pthread_exit and cancelled threads ran" [ "$failed" = 0 ]
T3=33333333333333333333333333333333
slow $T3
c2=$(total "$dir/$(field $T3 '["files"]["threadcreate"]')")
diag "registered live threads: $c1 before the cycles, $c2 after"
check "the registry is back to its size (within the connection's own thread)" \
	python3 -c "import sys; a, b = map(int, sys.argv[1:]); sys.exit(0 if abs(a - b) <= 1 else 1)" "${c1:-0}" "${c2:-99999}"
stop_demo
check "the server exited cleanly" [ "$DEMO_STATUS" = 0 ]

# pthread_create failures pass through unchanged (not under a sanitizer: it reserves
# terabytes of address space for its shadow, so the RLIMIT_AS case kills it).
SAN_AS="the RLIMIT_AS case kills the sanitizer's runtime itself"
FAIL=$BUILD/tests/servers/thread_fail
if [ -z "$SAN" ]; then
	"$FAIL" >"$WORK/fail.none" 2>&1
	LD_PRELOAD=$LIB "$FAIL" >"$WORK/fail.shim" 2>&1
	diag "$(cat "$WORK/fail.shim")"
fi
san_check "$SAN_AS" "failing pthread_create calls really fail" [ "$(grep -c 'rc=[1-9]' "$WORK/fail.none" 2>/dev/null)" -ge 3 ]
san_check "$SAN_AS" "and return the same codes and errno under the shim" cmp -s "$WORK/fail.none" "$WORK/fail.shim"
done_testing
