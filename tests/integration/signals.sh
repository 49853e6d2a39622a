#!/bin/bash
# signals.sh: signals under the shim, against tests/servers/sig_srv. A service's own
# signal handling must work as it does without the shim:
#   - a service with its own SIGPROF (a handler installed before main, in main, or late
#     while slow requests are being sampled and a continuous profile runs; signal() or
#     sigaction; SIG_IGN, set or inherited; SIG_DFL) and its own ITIMER_PROF: its handler
#     gets what its itimer owes it (signals vs its CPU at its rate), none of ours
#     (si_code other than SI_KERNEL), it is shown SIG_DFL as the old action, the shim
#     profiles no CPU from then on and says so exactly once; SIG_DFL alone changes nothing.
#   - EINTR: a service that aborts on any EINTR (accept, poll, read, write, nanosleep,
#     epoll_wait, select, recv with SO_RCVTIMEO) serves slow requests sampled at the
#     default OTSHIM_CPU_HZ on both sampler routes; thread-stack captures interrupt no
#     call at all and show the thread asleep in poll by its whole stack; a
#     whole-process profile interrupts no sleeping call, not even with threads that
#     compute with SIGPROF blocked, and the continuous CPU profile shows the shim's
#     own threads.
#   - stress (30 s, in the background meanwhile): three threads allocating, a
#     dlopen/dlclose loop, a thread create/join loop, slow requests doing all of that
#     sampled at 1 kHz, allocation stacks every 4 KiB, and a whole-process profile over
#     it; the process must exit on its own, cleanly, within a watchdog, with profiles
#     go tool pprof reads.
. "$(dirname "$0")/lib.sh"
S=$BUILD/tests/servers/sig_srv
[ -x "$S" ] || { echo "1..0 # SKIP $S not built"; exit 77; }
command -v curl >/dev/null || { echo "1..0 # SKIP no curl"; exit 77; }
t_start=$SECONDS
nlines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }
get() { curl -s --max-time 30 "$@"; }
# The "samples" of each index line (of path $2 only, if given), in order, space-separated.
index_samples() { python3 "$TOOLS/index_query.py" values "$1/index.jsonl" samples --path "${2:-}" 2>/dev/null; }
# The CPU profile of the slow request with the most samples in DIR.
richest_cpu() { python3 "$TOOLS/index_query.py" values "$1/index.jsonl" files.cpu --max samples 2>/dev/null; }
warnings() { grep -c 'stays out of CPU profiling' "$1" 2>/dev/null; }
field() { tr ' ' '\n' <<<"$1" | awk -F= -v k="$2" '$1 == k { print $2 }'; } # field "a=1 b=2" b

# start_sig NAME MODE [VAR=VALUE ...]: sig_srv MODE under the shim in $WORK/NAME (log/,
# prof/, out, err); sets SP (pid) and SPORT.
start_sig() {
	local name=$1 mode=$2 d=$WORK/$1
	shift 2
	mkdir -p "$d/log"
	env LD_PRELOAD="$LIB" OTSHIM_PROFILE_DIR="$d/prof" OTSHIM_SLOW_MS=50 "$@" \
		"$S" "$mode" "$d/log" "$d/port" >"$d/out" 2>"$d/err" &
	SP=$!
	PIDS+=("$SP")
	wait_for 10 test -s "$d/port"
	SPORT=$(cat "$d/port" 2>/dev/null)
	[ -n "$SPORT" ] || { diag "sig_srv $mode did not start: $(cat "$d/err")"; SPORT=1; }
}
# stop_sig: SIGTERM and a bounded wait; RC = its status (137: had to be killed).
stop_sig() {
	kill -TERM "$SP" 2>/dev/null
	wait_for 10 pid_gone "$SP" || kill -KILL "$SP" 2>/dev/null
	wait "$SP" 2>/dev/null
	RC=$?
}

# ---- stress, started first: it runs 30 s while the rest goes on ----
STRESS_SECS=${SIGNALS_STRESS_SECS:-30}
stress_start() {
	D3=$WORK/stress
	mkdir -p "$D3/log"
	DSO=$WORK/libprocdso.so
	gcc -shared -fPIC -O1 -g -fno-omit-frame-pointer -pthread -D_GNU_SOURCE -DPROC_DSO_LIB \
		-o "$DSO" "$ROOT/tests/servers/proc_dso.c" 2>"$D3/dso.err" || diag "$(cat "$D3/dso.err")"
	PP=$(free_port)
	st_t0=$SECONDS
	# The watchdog: a deadlock fails the checks below instead of hanging the run.
	(timeout -k 2 $((STRESS_SECS + 25)) env LD_PRELOAD="$LIB" OTSHIM_PROFILE_DIR="$D3/prof" \
		OTSHIM_SLOW_MS=50 OTSHIM_CPU_HZ=1000 OTSHIM_HEAP_SAMPLE_BYTES=4096 \
		OTSHIM_MAX_PROFILES_PER_MIN=1000 OTSHIM_PPROF_ADDR=127.0.0.1:$PP \
		"$S" stress "$D3/log" "$D3/port" "$STRESS_SECS" "$DSO" >"$D3/out" 2>"$D3/err"
	 echo $? >"$D3/rc"; echo $((SECONDS - st_t0)) >"$D3/wall") &
	wait_for 10 test -s "$D3/port"
	local port
	port=$(cat "$D3/port" 2>/dev/null)
	get -o "$D3/whole.pb.gz" "http://127.0.0.1:$PP/debug/pprof/profile?seconds=$((STRESS_SECS - 5))" &
	for c in 1 2; do
		(while [ ! -e "$D3/rc" ]; do
			curl -s --max-time 20 -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:$port/work?ms=800" >>"$D3/client$c" || break
		done) &
	done
}
stress_start

# shim_sigprof PID: "OPEN/ALL": how many of the shim's threads (otshim-*) leave
# SIGPROF (bit 26 of SigBlk) unblocked.
shim_sigprof() {
	local open=0 all=0 t blk
	for t in /proc/"$1"/task/*; do
		case "$(cat "$t/comm" 2>/dev/null)" in otshim-*) ;; *) continue ;; esac
		blk=$(awk '/^SigBlk:/ { print $2 }' "$t/status" 2>/dev/null)
		[ -n "$blk" ] || continue
		all=$((all + 1))
		(((0x$blk >> 26 & 1) == 0)) && open=$((open + 1))
	done
	echo "$open/$all"
}

# ---- 1. the service's own SIGPROF ----
# own_case NAME WHEN DISP HZ [VAR=VALUE ...]: two slow requests (/cpu 200 ms), then its
# /stats. With WHEN=late the handler goes in while the first of three is being sampled.
own_case() {
	local name=$1 when=$2 disp=$3 hz=$4
	shift 4
	start_sig "$name" own SIGSRV_WHEN="$when" SIGSRV_DISP="$disp" SIGSRV_HZ="$hz" "$@"
	local u=http://127.0.0.1:$SPORT
	if [ "$when" = late ]; then
		get "$u/cpu?ms=500" >/dev/null &
		local c=$!
		sleep 0.3
		MASK_BEFORE=$(shim_sigprof "$SP")
		get "$u/install" >/dev/null
		MASK_AFTER=$(shim_sigprof "$SP")
		wait "$c"
		ENDPOINT=$(get -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PPORT/debug/pprof/profile?seconds=1")
	fi
	get "$u/cpu?ms=200" >/dev/null
	get "$u/cpu?ms=200" >/dev/null
	STATS=$(get "$u/stats")
	MASK_END=$(shim_sigprof "$SP")
	stop_sig
	D=$WORK/$name
	SAMPLES=$(index_samples "$D/prof" /cpu)
	diag "$name: $STATS; samples per slow /cpu request: $SAMPLES; warnings: $(warnings "$D/err")"
}
# The signals its handler got against what its itimer owes it (generous: the kernel's
# ITIMER_PROF ticks at CONFIG_HZ), and none of them ours.
own_signals_ok() {
	local got exp
	got=$(field "$STATS" signals)
	exp=$(field "$STATS" expected)
	[ -n "$got" ] && [ -n "$exp" ] && [ "$exp" -ge 20 ] &&
		[ "$((got * 2))" -ge "$exp" ] && [ "$got" -le "$((exp * 2))" ]
}
all_zero() { [ -n "$1" ] && ! tr ' ' '\n' <<<"$1" | grep -q '^[1-9]'; }
# Under a sanitizer the shim's sigaction/signal interposers are compiled out (its runtime
# calls the next library's sigaction while it starts up: shim/shim_signal.c), so what
# only they can do is skipped there: hiding our handler, absorbing SIG_DFL, stepping
# out before the service's handler is installed. The arm-time check remains.
SAN_NO_SIGACTION="the shim's sigaction interposers are compiled out under a sanitizer: only the arm-time check remains"
PPORT=0

own_case ctor ctor handler 100
check "constructor + sigaction + ITIMER_PROF 100 Hz: its handler gets its ticks ($(field "$STATS" signals) of $(field "$STATS" expected) owed)" own_signals_ok
check "  none of them from our timers (si_code != SI_KERNEL: $(field "$STATS" foreign))" [ "$(field "$STATS" foreign)" = 0 ]
san_check "$SAN_NO_SIGACTION" "  it was shown SIG_DFL as the old action, as without the shim" [ "$(field "$STATS" saw_dfl)" = 1 ]
check "  the shim profiles no CPU (every slow request: 0 samples) and says so once" \
	bash -c "[ '$(echo "$SAMPLES" | wc -w)' = 2 ] && [ '$(warnings "$WORK/ctor/err")' = 1 ]" && all_zero "$SAMPLES"
[ "$(nlines "$WORK/ctor/log/access.log")" = 3 ] || diag "ctor access log: $(cat "$WORK/ctor/log/access.log")"
san_check "$SAN_NO_SIGACTION" "  the shim's threads block SIGPROF, as the service's handler must not run on them (open/all: $MASK_END)" \
	bash -c "[ '${MASK_END%/*}' = 0 ] && [ '${MASK_END#*/}' -ge 2 ]"

own_case main main signal 100
check "main + signal() + ITIMER_PROF 100 Hz: its handler gets its ticks ($(field "$STATS" signals) of $(field "$STATS" expected) owed)" own_signals_ok
san_check "$SAN_NO_SIGACTION" "  signal() returned SIG_DFL; no CPU samples; one warning" \
	bash -c "[ '$(field "$STATS" saw_dfl)' = 1 ] && [ '$(warnings "$WORK/main/err")' = 1 ]" && all_zero "$SAMPLES"

PPORT=$(free_port)
own_case late late handler 250 SIGSRV_GAP_MS=100 OTSHIM_CONTINUOUS_SEC=1 OTSHIM_PPROF_ADDR=127.0.0.1:$PPORT
check "late sigaction, 100 ms of CPU, then ITIMER_PROF 250 Hz, while a slow request is sampled and a continuous profile runs: its ticks ($(field "$STATS" signals) of $(field "$STATS" expected) owed)" own_signals_ok
san_check "$SAN_NO_SIGACTION" "  not one tick of ours (per-thread 1 kHz sampler, whole-process timer) reached it: foreign=$(field "$STATS" foreign)" [ "$(field "$STATS" foreign)" = 0 ]
first=${SAMPLES%% *}
rest=${SAMPLES#* }
check "  the request in flight was sampled before ($first samples), none after ($rest)" \
	bash -c "[ '${first:-0}' -gt 0 ] && [ '$(echo "$rest" | wc -w)' = 2 ]" && all_zero "$rest"
check "  the shim's threads took SIGPROF while ours held it ($MASK_BEFORE open)" \
	bash -c "[ '${MASK_BEFORE%/*}' = '${MASK_BEFORE#*/}' ] && [ '${MASK_BEFORE#*/}' -ge 3 ]"
san_check "$SAN_NO_SIGACTION" "  ...once the service's handler is in, every one blocks it again ($MASK_AFTER open)" \
	bash -c "[ '${MASK_AFTER%/*}' = 0 ] && [ '${MASK_AFTER#*/}' -ge 3 ]"
check "  one warning in stderr (continuous mode adds none), /debug/pprof/profile now 503" \
	bash -c "[ '$(warnings "$WORK/late/err")' = 1 ] && [ '$ENDPOINT' = 503 ]"
PPORT=0

own_case ign main ign 0
check "SIG_IGN in main: no CPU samples, one warning, the service serves on" \
	bash -c "[ '$(warnings "$WORK/ign/err")' = 1 ] && [ '$(nlines "$WORK/ign/log/access.log")' = 3 ] && [ '$RC' = 0 ]" && all_zero "$SAMPLES"

# SIG_IGN inherited through exec: seen at start-up, before any interposer runs.
mkdir -p "$WORK/inh/log"
bash -c 'trap "" PROF; exec "$@"' sh env LD_PRELOAD="$LIB" OTSHIM_PROFILE_DIR="$WORK/inh/prof" OTSHIM_SLOW_MS=50 \
	"$S" own "$WORK/inh/log" "$WORK/inh/port" >"$WORK/inh/out" 2>"$WORK/inh/err" &
SP=$!
PIDS+=("$SP")
wait_for 10 test -s "$WORK/inh/port"
get "http://127.0.0.1:$(cat "$WORK/inh/port" 2>/dev/null)/cpu?ms=200" >/dev/null
stop_sig
SAMPLES=$(index_samples "$WORK/inh/prof")
check "SIG_IGN inherited from the parent: noticed at start-up, one warning, no CPU samples ($SAMPLES)" \
	bash -c "grep -q 'ignores SIGPROF' '$WORK/inh/err' && [ '$(warnings "$WORK/inh/err")' = 1 ]" && all_zero "$SAMPLES"

own_case dfl main dfl 0
san_check "$SAN_NO_SIGACTION" "SIG_DFL in main (a service resetting its signals): no warning, slow requests still sampled ($SAMPLES)" \
	bash -c "[ '$(warnings "$WORK/dfl/err")' = 0 ] && [ '$(echo "$SAMPLES" | wc -w)' = 2 ] && ! echo '$SAMPLES' | grep -qw 0"

# ---- 2. EINTR ----
# eintr_run NAME CLIENTS N [VAR=VALUE ...]: CLIENTS clients each send N /mix?ms=300
# (2 ms of CPU, then poll, nanosleep, epoll_wait, select, recv and write/read, over
# and over); sets SENT (answered) and EINTR (its /eintr answer; abort mode: none).
eintr_run() {
	local name=$1 clients=$2 n=$3 c
	shift 3
	start_sig "$name" eintr "$@"
	for c in $(seq "$clients"); do
		(for _ in $(seq "$n"); do get -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:$SPORT${EINTR_PATH:-/mix?ms=300}"; done >"$WORK/$name/client$c") &
	done
	wait_for 60 bash -c "[ \$(cat $WORK/$name/client* | wc -l) -ge $((clients * n)) ]"
	# (EINTR_WAIT_FOR: a file the run must have written before it ends)
	[ -z "${EINTR_WAIT_FOR:-}" ] || wait_for 10 bash -c "ls $WORK/$name/prof/$EINTR_WAIT_FOR >/dev/null 2>&1"
	SENT=$(cat "$WORK/$name"/client* | grep -c '^200$')
	EINTR=$(get "http://127.0.0.1:$SPORT/eintr")
	# (its access-log line follows the answer: let it land before the SIGTERM)
	wait_for 5 bash -c "[ \$(wc -l <$WORK/$name/log/access.log) -ge $((clients * n + 1)) ]" 2>/dev/null
	ALIVE=0
	kill -0 "$SP" 2>/dev/null && ALIVE=1
	stop_sig
	D=$WORK/$name
	SAMPLES=$(index_samples "$D/prof")
	diag "$name: $SENT answered, access log $(nlines "$D/log/access.log"), stats requests $(stats_field "$D/prof" requests), samples: $SAMPLES; $EINTR; $(grep -c EINTR "$D/err") EINTR lines in stderr"
}
served_all() { # NAME WANT: alive at the end, every request answered, counted alike
	local d=$WORK/$1 all=$(($2 + 1)) # and the /eintr question
	[ "$ALIVE" = 1 ] && [ "$SENT" = "$2" ] && [ "$(nlines "$d/log/access.log")" = "$all" ] &&
		[ "$(stats_field "$d/prof" requests)" = "$all" ] && ! grep -q EINTR "$d/err"
}
sampled() { [ "$(echo "$SAMPLES" | wc -w)" -ge 1 ] && echo "$SAMPLES" | grep -q '[1-9]'; }

for route in auto timer; do
	eintr_run "eintr-$route" 2 3 OTSHIM_CPU_ROUTE=$route OTSHIM_THREADS_SIGNAL=0
	check "EINTR-fatal service, 6 slow requests sampled at the default rate (route $route): all served, none aborted" served_all "eintr-$route" 6
	check "  and they were sampled" sampled
done

# Thread-stack captures (one per slow request) never make a call fail with EINTR: a
# thread asleep in a system call is not signalled, its stack is walked while it
# sleeps; a running one is signalled by a one-shot perf event that fires only in user
# code (runtime/sample/thread_capture.c). The /mix threads here sleep 1 ms at a time in
# calls SA_RESTART does not restart, the worst case; the main thread sleeps in poll
# (50 ms). Before: 0-3 EINTRs in all (the eintr_safe probe's window), and 8-13 with
# every thread signalled.
eintr_run eintr-threads 2 3 SIGSRV_EINTR=count
n_eintr=$(field "$EINTR" eintr) n_main=$(field "$EINTR" main)
check "thread-stack captures: the main thread, asleep in poll at each of 6 captures, never interrupted ($n_main)" \
	bash -c "[ '$n_main' = 0 ] && [ '$SENT' = 6 ]"
check "  all threads, the /mix ones in 1 ms sleeps too: no EINTR at all ($n_eintr)" \
	bash -c "[ '$n_eintr' = 0 ]"
# Each slow request's threads profile has the main thread (thread_id = its pid) with
# its whole stack, down to main; in poll nearly always (it leaves poll only to accept
# the test's own connections and start their threads, and a capture may find it there).
main_whole=0 main_poll=0 n_threads=0
for f in "$WORK"/eintr-threads/prof/threads-*.pb.gz; do
	[ -e "$f" ] || continue
	n_threads=$((n_threads + 1))
	where=$(pprof -traces "$f" | awk -v id="$SP" '
		/^-----/ { if (m && mn && !l) hit = p ? "poll" : "main"; m = l = p = mn = 0; next }
		$1 == "thread_id:" && $2 == id { m = 1 }
		/stack:  / { l = 1 }
		/^ +[0-9]+ +[^ ]/ || /^             [^ ]/ { if ($NF ~ /poll$/) p = 1; if ($NF == "main") mn = 1 }
		END { if (m && mn && !l) hit = p ? "poll" : "main"; print hit }')
	[ -n "$where" ] && main_whole=$((main_whole + 1))
	[ "$where" = poll ] && main_poll=$((main_poll + 1))
done
diag "threads profiles with the main thread's whole stack: $main_whole of $n_threads, in poll: $main_poll"
check "  the threads profiles hold the main thread's whole stack ($main_whole of $n_threads), in poll in most ($main_poll)" \
	bash -c "[ $n_threads -ge 4 ] && [ $main_whole = $n_threads ] && [ $((main_poll * 2)) -gt $n_threads ]"

# A whole-process profile (continuous mode, 1 s periods): each thread's own CPU-clock
# timer signals that thread only, on its way back to user code, so no sleeping call is
# interrupted. With one timer on the process's CPU clock (OTSHIM_PROCESS_CPU_TIMER=process)
# a tick on a thread that cannot take the signal (exiting, or blocking SIGPROF) went to
# another: 0-3 EINTRs here, all the main thread's, and ~470 with /masked below.
EINTR_WAIT_FOR='continuous-cpu-*' eintr_run eintr-whole 2 3 SIGSRV_EINTR=count OTSHIM_THREADS_SIGNAL=0 OTSHIM_CONTINUOUS_SEC=1
n_eintr=$(field "$EINTR" eintr)
check "a whole-process profile interrupts no sleeping call: $n_eintr EINTR" \
	bash -c "[ '$n_eintr' = 0 ] && [ '$SENT' = 6 ]"
shim_cpu=$(for f in "$WORK"/eintr-whole/prof/continuous-cpu-*.pb.gz; do [ -e "$f" ] && pprof -traces "$f"; done |
	grep -c '\[otshim thread: otshim-')
diag "continuous CPU profiles: $(ls "$WORK"/eintr-whole/prof/continuous-cpu-*.pb.gz 2>/dev/null | wc -l), records of the shim's own threads: $shim_cpu"
check "  the continuous CPU profile shows the shim's own threads' CPU ([otshim thread: otshim-...] records: $shim_cpu)" \
	[ "$shim_cpu" -ge 1 ]
# Threads that compute with SIGPROF blocked (GET /masked: 300 ms each) while the main
# thread sleeps in poll: each takes its tick when it unblocks the signal, at the end of
# its request, so samples land in eintr_handler (weighing the process's CPU since the
# last sample: some of the masked CPU goes to whichever thread was sampled before).
# The process route's run is the control: its ticks went to the main thread.
masked_run() { # NAME [VAR=VALUE ...]: sets n_eintr, n_main, masked_cpu
	local name=$1 f
	shift
	EINTR_PATH='/masked?ms=300' EINTR_WAIT_FOR='continuous-cpu-*' eintr_run "$name" 2 3 \
		SIGSRV_EINTR=count OTSHIM_THREADS_SIGNAL=0 OTSHIM_CONTINUOUS_SEC=1 "$@"
	n_eintr=$(field "$EINTR" eintr) n_main=$(field "$EINTR" main)
	masked_cpu=$(for f in "$WORK/$name"/prof/continuous-cpu-*.pb.gz; do [ -e "$f" ] && pprof -traces "$f"; done |
		awk '/^-----/ { if (v != "" && h) t += v; v = ""; h = 0; next }
		     v == "" && $1 ~ /^[0-9.]+m?s$/ { v = $1; sub(/ms$/, "", v); if ($1 !~ /ms$/) { sub(/s$/, "", v); v *= 1000 } }
		     /eintr_handler/ { h = 1 }
		     END { if (v != "" && h) t += v; printf "%.0f", t }')
}
masked_run eintr-masked
check "  nor while threads compute with SIGPROF blocked: $n_eintr EINTR; the samples are theirs (eintr_handler: $masked_cpu ms of their 1,800)" \
	bash -c "[ '$n_eintr' = 0 ] && [ '$SENT' = 6 ] && [ '${masked_cpu:-0}' -gt 0 ]"
masked_run eintr-masked-process OTSHIM_PROCESS_CPU_TIMER=process
diag "the same on the process route (control): $n_eintr EINTR, $n_main of them in the main thread's poll; eintr_handler: $masked_cpu ms"

# ---- 3. the stress run ends ----
wait_for $((STRESS_SECS + 30)) test -s "$D3/rc"
wait
RC3=$(cat "$D3/rc" 2>/dev/null)
diag "stress: exit $RC3 after $(cat "$D3/wall" 2>/dev/null) s; $(tr '\n' ' ' <"$D3/out"); requests: $(cat "$D3"/client* | grep -c '^200$') answered, access log $(nlines "$D3/log/access.log"), index $(nlines "$D3/prof/index.jsonl")"
check "stress ($STRESS_SECS s of malloc, dlopen, threads and the unwinder under 1 kHz sampling): exited 0 on its own, inside the watchdog" \
	bash -c "[ '$RC3' = 0 ] && grep -qx 'stress ok' '$D3/out'"
check "  stderr has nothing but shim lines" bash -c "! grep -v '^otshim\[' '$D3/err' | grep -q ."
n_ok=$(cat "$D3"/client* | grep -c '^200$')
# (the last few may still be in the writer's queue when the process exits)
check "  the answered slow requests ($n_ok) have index lines ($(nlines "$D3/prof/index.jsonl"))" \
	bash -c "[ $n_ok -ge 4 ] && [ $(($(nlines "$D3/prof/index.jsonl") * 4)) -ge $((n_ok * 3)) ]"
st_samples=$(index_samples "$D3/prof")
check "  they were sampled (samples: $st_samples)" bash -c "echo '$st_samples' | grep -q '[1-9]'"
f=$(richest_cpu "$D3/prof")
check "  a slow request's CPU profile reads in go tool pprof" \
	bash -c "[ -n '$f' ] && go tool pprof -top '$D3/prof/$f' 2>/dev/null | grep -q '^Type: cpu'"
tsan_check "$TSAN_STALE" "  with alloc_some in it" \
	bash -c "[ -n '$f' ] && go tool pprof -top '$D3/prof/$f' 2>/dev/null | grep -q alloc_some"
whole_n=$(pprof -raw "$D3/whole.pb.gz" | sed -n '/^Samples:/,/^Locations/p' | grep -c '^ *[0-9]')
check "  the whole-process profile over the run reads in go tool pprof ($whole_n samples), stress frames in it" \
	bash -c "[ '$whole_n' -ge 50 ] && go tool pprof -top '$D3/whole.pb.gz' 2>/dev/null | grep -q -E 'alloc_some|dl_some'"
diag "signals.sh: $((SECONDS - t_start)) s"
done_testing
