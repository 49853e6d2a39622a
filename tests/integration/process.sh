#!/bin/bash
# process.sh: process life under the shim, which must leave a process behaving as it
# does without it: each case against the same program without the shim where that
# means something (exit status, stdout bytes), every process bounded in time so a
# hang fails a check instead of hanging the run.
#   - fork in a multithreaded server (tests/servers/proc_life prefork): the forks happen
#     while a slow request is being sampled on another thread and the request asking
#     for them is unanswered; each worker runs its own watchdog and worker threads,
#     profiles its own slow requests (index lines with its pid, valid CPU profiles),
#     counts exactly its own requests (= its access log) in its own stats file.
#   - fork+exec, vfork+exec, posix_spawn of /bin/true, of a missing program and of a
#     program that serves itself under the inherited LD_PRELOAD: same statuses and
#     output, no descriptor inherited that would not be without the shim.
#   - daemon(0, 0) with OTSHIM_PROFILE_DIR relative: the files land where it pointed
#     at start, with the daemon's pid.
#   - threads started by constructors before main (the program's own, and a
#     library's running before the shim's constructor): named in the threads profile.
#   - a dlopen/dlclose storm while a whole-process CPU profile runs and slow requests
#     are sampled at 1 kHz.
#   - exit(), _exit(), return from main, SIGSEGV, SIGTERM and abort() while a slow
#     request is being sampled: same status, prompt; stats right where exit handlers run.
#   - a daemon-style close of every fd (a loop, close_range) while the shim writes
#     profiles, then with its symboliser reopened: the shim must not touch the fds
#     opened next, and it keeps its own.
# PROCESS_ASAN=1 preloads the ASan build's library (build-address) after ASan's runtime.
. "$(dirname "$0")/lib.sh"
P=$BUILD/tests/servers/proc_life
PD=$BUILD/tests/servers/proc_dso
for f in "$P" "$PD"; do
	[ -x "$f" ] || { echo "1..0 # SKIP $f not built"; exit 77; }
done
SHIM=$SHIM_SO RT=$SAN_RT # RT: a sanitizer runtime that must be preloaded first (lib.sh)
if [ -n "${PROCESS_ASAN:-}" ]; then
	RT=$(gcc -print-file-name=libasan.so)
	SHIM=$ROOT/build-address/libotshim.so
	[ -f "$SHIM" ] && [ -f "$RT" ] || { echo "1..0 # SKIP no ASan build (make SANITIZER=address)"; exit 77; }
	LIB="$RT $SHIM"
	export ASAN_OPTIONS=detect_leaks=0
fi
ulimit -c 0 # the fatal-signal cases must not write cores
# X-Pid of a GET (empty if it failed); the request is bounded.
get_pid() { curl -s -D - -o /dev/null --max-time 15 "$1" | tr -d '\r' | awk '/^X-Pid:/ { print $2 }'; }
nlines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }
stat_of() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2" 2>/dev/null; }
index_count() { local n; n=$(grep -c "\"pid\":$2," "$1/index.jsonl" 2>/dev/null); echo "${n:-0}"; }
# A CPU profile of pid $2's in $1 that go tool pprof reads, with burn_cpu on top.
pid_cpu_valid() {
	local f
	f=$(grep "\"pid\":$2," "$1/index.jsonl" | head -1 | python3 -c 'import json, sys; print(json.load(sys.stdin)["files"]["cpu"])' 2>/dev/null)
	[ -n "$f" ] && pprof -top "$1/$f" | awk '$NF == "burn_cpu" { f = 1 } END { exit !f }'
}
# pid_has_before DIR PID: some CPU profile of process PID holds samples its thread's
# ring kept before the threshold (label phase=before_threshold).
pid_has_before() {
	local f
	for f in $(grep "\"pid\":$2," "$1/index.jsonl" | python3 -c '
import json, sys
for l in sys.stdin: print(json.loads(l)["files"]["cpu"])' 2>/dev/null); do
		python3 "$TOOLS/pprof_raw.py" "$1/$f" phase=before_threshold 2>/dev/null |
			python3 -c 'import json, sys; sys.exit(not json.load(sys.stdin)["rows"])' && return 0
	done
	return 1
}
# run_bounded SECONDS OUT ERR CMD...: RC and MS (wall time) of CMD; 124 if it timed out.
run_bounded() {
	local s=$1 out=$2 err=$3 t0
	shift 3
	t0=$(date +%s%N)
	(timeout -k 2 "$s" "$@" >"$out" 2>"$err"; echo $? >"$out.rc") 2>/dev/null
	RC=$(cat "$out.rc")
	MS=$((($(date +%s%N) - t0) / 1000000))
}
t_start=$SECONDS

# ---- fork: a pre-fork server forked from a running threaded one ----
prefork_case() {
	dir=$WORK/pf
	logs=$WORK/pf-logs
	mkdir -p "$logs"
	env LD_PRELOAD="$LIB" OTSHIM_PROFILE_DIR="$dir" OTSHIM_SLOW_MS=100 \
		"$P" prefork "$logs" "$WORK/pf.port" >"$WORK/pf.out" 2>"$WORK/pf.err" &
	ppid=$!
	PIDS+=("$ppid")
	wait_for 10 test -s "$WORK/pf.port"
	port=$(cat "$WORK/pf.port" 2>/dev/null)
	U=http://127.0.0.1:$port
	: >"$WORK/pf.pids"
	: >"$WORK/pf.slow"
	for _ in 1 2 3; do get_pid "$U/" >>"$WORK/pf.pids"; done
	spid=$ppid
	get_pid "$U/cpu?ms=150" | tee -a "$WORK/pf.slow" >>"$WORK/pf.pids"
	(get_pid "$U/cpu?ms=400" | tee -a "$WORK/pf.slow" >>"$WORK/pf.pids") &
	inflight=$!
	sleep 0.25 # that request is slow now: its thread is being sampled at 1 kHz
	workers=$(curl -s --max-time 10 "$U/fork?n=3")
	echo "$spid" >>"$WORK/pf.pids" # the /fork request itself
	wait "$inflight"
	# shellcheck disable=SC2086 # the pids, one word each
	set -- $workers
	PIDS+=("$@")
	check "fork: 3 workers forked while a slow request was sampled and the asking one unanswered" [ $# = 3 ]
	# Slow and fast requests until every worker has served slow ones (bounded).
	for _ in $(seq 10); do
		cp=()
		for _ in $(seq 6); do
			(get_pid "$U/cpu?ms=150" >"$WORK/pf.one.$BASHPID") &
			cp+=($!)
		done
		wait "${cp[@]}"
		cat "$WORK"/pf.one.* >>"$WORK/pf.slow" && cat "$WORK"/pf.one.* >>"$WORK/pf.pids"
		rm -f "$WORK"/pf.one.*
		for _ in $(seq 10); do get_pid "$U/" >>"$WORK/pf.pids"; done
		all=1
		for w in $workers; do grep -qx "$w" "$WORK/pf.slow" || all=0; done
		[ "$all" = 1 ] && break
	done
	check "every worker answered slow requests" [ "$all" = 1 ]
	own=0
	for w in $workers; do
		comm=$(cat /proc/"$w"/task/*/comm 2>/dev/null)
		grep -qx otshim-watch <<<"$comm" && grep -qx otshim-worker <<<"$comm" && own=$((own + 1))
	done
	check "each worker runs its own otshim-watch and otshim-worker threads" [ "$own" = 3 ]
	kill -TERM "$ppid"
	wait_for 20 pid_gone "$ppid" || kill -KILL "$ppid"
	wait "$ppid"
	pf_status=$?
	check "SIGTERM: the parent stopped its workers, and all exited 0 (status $pf_status)" \
		bash -c "[ $pf_status = 0 ] && grep -qx 'workers: 3, stopped cleanly: 3' '$WORK/pf.out'"
	sent=$(grep -c . "$WORK/pf.pids")
	stats_ok=0 counts_ok=0 index_ok=0 cpu_ok=0 pre_ok=0 summary=""
	for p in "$spid" $workers; do
		f=$dir/otshim-stats-$p.json
		[ "$(stat_of "$f" pid)" = "$p" ] && stats_ok=$((stats_ok + 1))
		r=$(stat_of "$f" requests)
		l=$(nlines "$logs/access-$p.log")
		[ -n "$r" ] && [ "$r" = "$l" ] && counts_ok=$((counts_ok + 1))
		s=$(grep -cx "$p" "$WORK/pf.slow")
		i=$(index_count "$dir" "$p")
		[ "$i" = "$s" ] && [ "$(stat_of "$f" slow)" = "$s" ] && index_ok=$((index_ok + 1))
		[ "$p" != "$spid" ] && pid_cpu_valid "$dir" "$p" && cpu_ok=$((cpu_ok + 1))
		[ "$p" != "$spid" ] && [ "$(stat_of "$f" cpu_pre_rings_opened)" -ge 1 ] 2>/dev/null &&
			pid_has_before "$dir" "$p" && pre_ok=$((pre_ok + 1))
		summary="$summary $p: requests $r, log $l, slow answered $s, index lines $i;"
	done
	diag "requests answered: $sent;$summary"
	check "parent and each worker wrote otshim-stats-<its pid>.json with its pid" [ "$stats_ok" = 4 ]
	check "each process's request count is its own access log's (none counted twice)" [ "$counts_ok" = 4 ]
	check "the counts add up to the requests answered ($sent)" [ "$(stats_field "$dir" requests)" = "$sent" ]
	check "each process has one index line (its pid) per slow request it answered, none for others'" \
		[ "$index_ok" = 4 ]
	check "each worker's CPU profiles are valid for go tool pprof, burn_cpu on top" [ "$cpu_ok" = 3 ]
	check "each worker made its own CPU rings (the parent's are not inherited) and its profiles have samples from before the threshold" \
		[ "$pre_ok" = 3 ]
}

# ---- exec: fork+exec, vfork+exec, posix_spawn, from a busy multithreaded process ----
exec_case() {
	mkdir -p "$WORK/sp-none" "$WORK/sp"
	run_bounded 30 "$WORK/sp.none" "$WORK/sp.none.err" "$P" spawn "$WORK/sp-none" "$P"
	none_rc=$RC
	run_bounded 30 "$WORK/sp.shim" "$WORK/sp.shim.err" env LD_PRELOAD="$LIB" \
		OTSHIM_PROFILE_DIR="$WORK/sp/prof" OTSHIM_PPROF_ADDR="127.0.0.1:$(free_port)" \
		"$P" spawn "$WORK/sp" "$P"
	diag "spawn: $MS ms under the shim; $(grep -c ': exit 0' "$WORK/sp.shim") children exited 0"
	check "spawn: exits $none_rc as without the shim" [ "$RC" = "$none_rc" ]
	if ! cmp -s "$WORK/sp.none" "$WORK/sp.shim"; then
		diag "$(diff "$WORK/sp.none" "$WORK/sp.shim" | head -20)"
		diag "$(sort -u "$WORK/sp.shim.err" | head -20)"
	fi
	check "fork+exec, vfork+exec, posix_spawn (/bin/true x10, a missing program, a program under the inherited LD_PRELOAD): output byte-identical" \
		cmp -s "$WORK/sp.none" "$WORK/sp.shim"
	check "the children inherit exactly the fds they inherit without the shim" \
		bash -c "[ \"\$(grep 'child fds' '$WORK/sp.none')\" = \"\$(grep 'child fds' '$WORK/sp.shim')\" ] && [ \$(grep -c 'child fds' '$WORK/sp.shim') = 3 ]"
	n_ok=0 n_files=0
	for f in "$WORK"/sp/access-*.log; do
		p=${f##*access-}
		p=${p%.log}
		n_files=$((n_files + 1))
		[ "$(stat_of "$WORK/sp/prof/otshim-stats-$p.json" requests)" = "$(nlines "$f")" ] && n_ok=$((n_ok + 1))
	done
	check "the spawner and its 3 exec'd children each counted their own requests (= their logs)" \
		bash -c "[ $n_files = 4 ] && [ $n_ok = 4 ]"
	kids_cpu=0
	for f in "$WORK"/sp/access-*.log; do
		p=${f##*access-}
		p=${p%.log}
		[ "$(nlines "$f")" = 3 ] && pid_cpu_valid "$WORK/sp/prof" "$p" && kids_cpu=$((kids_cpu + 1))
	done
	check "each exec'd child profiled its own slow request (its pid, valid CPU profile)" [ "$kids_cpu" = 3 ]
}

# ---- daemon(0, 0) with a relative profile directory ----
daemon_case() {
	mkdir -p "$WORK/dwork" "$WORK/dlogs"
	run_bounded 10 "$WORK/d.out" "$WORK/d.err" \
		bash -c "cd '$WORK/dwork' && exec env LD_PRELOAD='$LIB' OTSHIM_PROFILE_DIR=prof OTSHIM_SLOW_MS=100 '$P' daemon '$WORK/dlogs' '$WORK/dlogs/port'"
	check "daemon(0, 0): the launching process exits 0 at once ($MS ms)" [ "$RC" = 0 ]
	wait_for 10 test -s "$WORK/dlogs/daemon.pid" && wait_for 10 test -s "$WORK/dlogs/port"
	dpid=$(cat "$WORK/dlogs/daemon.pid" 2>/dev/null)
	[ -n "$dpid" ] && PIDS+=("$dpid")
	dport=$(cat "$WORK/dlogs/port" 2>/dev/null)
	curl -s -o /dev/null --max-time 10 "http://127.0.0.1:$dport/cpu?ms=150"
	curl -s -o /dev/null --max-time 10 "http://127.0.0.1:$dport/"
	check "the daemon runs in / (it chdir'ed)" [ "$(readlink "/proc/${dpid:-0}/cwd")" = / ]
	wait_for 5 grep -qs "\"pid\":$dpid," "$WORK/dwork/prof/index.jsonl"
	check "its slow request is profiled in the directory given relative to the start directory" \
		pid_cpu_valid "$WORK/dwork/prof" "$dpid"
	kill -TERM "$dpid" 2>/dev/null
	wait_for 10 pid_gone "$dpid"
	check "SIGTERM: it returns from main; its stats file has its pid and its 2 requests" \
		bash -c "[ \"\$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d[\"pid\"], d[\"requests\"])' '$WORK/dwork/prof/otshim-stats-$dpid.json' 2>/dev/null)\" = '$dpid 2' ]"
	check "nothing was written relative to its new working directory" [ ! -e /prof/otshim-stats-"$dpid".json ]
}

# ---- threads started before main ----
ctor_case() {
	DSO=$WORK/libprocdso.so
	gcc -shared -fPIC -O1 -g -fno-omit-frame-pointer -pthread -D_GNU_SOURCE -DPROC_DSO_LIB \
		-o "$DSO" "$ROOT/tests/servers/proc_dso.c" 2>"$WORK/dso.err" || diag "$(cat "$WORK/dso.err")"
	ctor_run() { # ctor_run NAME PRELOAD [VAR=VALUE...]: proc_dso with threads made before main
		local name=$1 pre=$2 p
		shift 2
		timeout -k 10 20 env PROC_DSO_THREAD=1 LD_PRELOAD="$pre" "$@" "$PD" >"$WORK/$name.out" 2>"$WORK/$name.err" &
		p=$!
		wait_for 10 grep -qs 'threads started before main' "$WORK/$name.out"
		[ -n "${PP:-}" ] && pprof -traces "http://127.0.0.1:$PP/debug/pprof/threads" >"$WORK/$name.threads" &&
			pprof -traces "http://127.0.0.1:$PP/debug/pprof/threadcreate" >"$WORK/$name.tc"
		kill -TERM "$p"
		wait "$p"
		echo $? >"$WORK/$name.rc"
	}
	PP='' ctor_run ctor-none "${RT:+$RT }$DSO"
	for order in first last; do
		if [ $order = first ]; then pre="$RT $SHIM $DSO"; else pre="$RT $DSO $SHIM"; fi
		PP=$(free_port)
		ctor_run "ctor-$order" "$pre" OTSHIM_PPROF_ADDR="127.0.0.1:$PP" OTSHIM_PROFILE_DIR="$WORK/ctor"
		[ $order = first ] && what="a library's constructor running before the shim's" ||
			what="a library's constructor running after the shim's"
		check "threads made by the program's constructor and $what: same output and status" \
			bash -c "cmp -s '$WORK/ctor-none.out' '$WORK/ctor-$order.out' && [ \"\$(cat '$WORK/ctor-$order.rc')\" = \"\$(cat '$WORK/ctor-none.rc')\" ]"
		# (each is in ctor_thread_main, or, caught asleep in its nanosleep, not signalled
		# and shown by its leaf frame: threads.sh)
		check "  both threads are in the threads profile by name" \
			bash -c "grep -q 'thread_name:  ctor-exe' '$WORK/ctor-$order.threads' && grep -q 'thread_name:  ctor-dso' '$WORK/ctor-$order.threads'"
		[ "$SAN" = address ] && san_skip "a thread asleep inside ASan's nanosleep interceptor is walked from a frame pointer guessed on its stack, where that interceptor's frame holds stale frame records of the thread's earlier calls: its stack can repeat a frame" \
			"  each in ctor_thread_main once, or held back asleep" ||
		check "  each in ctor_thread_main once, or held back asleep" \
			bash -c "[ \$((\$(grep -c ctor_thread_main '$WORK/ctor-$order.threads') + \$(grep -B2 'thread_name:  ctor-' '$WORK/ctor-$order.threads' | grep -c 'stack:  leaf only'))) = 2 ]"
		[ -n "$RT" ] && continue # under a sanitizer, threads are not registered (no threadcreate)
		check "  and in threadcreate, made by proc_dso_ctor (no shim frame on top)" \
			bash -c "[ \$(grep -c proc_dso_ctor '$WORK/ctor-$order.tc') = 2 ] && ! grep -q rt_treg_prepare '$WORK/ctor-$order.tc'"
	done
	diag "$(cat "$WORK/ctor-none.out")"
}

# ---- a dlopen/dlclose storm while profiles run ----
storm_case() {
	run_bounded 20 "$WORK/ds.none" "$WORK/ds.none.err" "$P" dlstorm "$WORK" "$WORK/ds-none.port" 1 "$DSO"
	ds_none=$RC
	PP=$(free_port)
	mkdir -p "$WORK/ds"
	timeout -k 2 30 env LD_PRELOAD="$LIB" OTSHIM_PROFILE_DIR="$WORK/ds/prof" \
		OTSHIM_PPROF_ADDR="127.0.0.1:$PP" OTSHIM_SLOW_MS=100 OTSHIM_CPU_HZ=1000 \
		"$P" dlstorm "$WORK/ds" "$WORK/ds.port" 4 "$DSO" >"$WORK/ds.out" 2>"$WORK/ds.err" &
	dsp=$!
	PIDS+=("$dsp")
	t0=$SECONDS
	wait_for 10 test -s "$WORK/ds.port"
	dport=$(cat "$WORK/ds.port" 2>/dev/null)
	curl -s -o "$WORK/ds.cpu.pb.gz" --max-time 10 "http://127.0.0.1:$PP/debug/pprof/profile?seconds=2" &
	cpuc=$!
	slow_sent=0
	for _ in $(seq 8); do
		dspid=$(get_pid "http://127.0.0.1:$dport/cpu?ms=150")
		[ -n "$dspid" ] && slow_sent=$((slow_sent + 1))
	done
	wait "$cpuc"
	wait "$dsp"
	ds_rc=$?
	diag "dlopen storm: $(cat "$WORK/ds.err"); without the shim: $(cat "$WORK/ds.none.err")"
	check "dlopen/dlclose storm (libm, libz, libresolv, a library that makes a thread in its constructor) under a whole-process profile and 1 kHz sampling: ends in time, every cycle worked" \
		bash -c "[ $ds_rc = 0 ] && [ $ds_none = 0 ] && grep -qx 'storm ok' '$WORK/ds.out' && [ $((SECONDS - t0)) -le 12 ]"
	pprof -top "$WORK/ds.cpu.pb.gz" >"$WORK/ds.top"
	# Instrumented, dlopen's time is the sanitizer's interceptor's (__sanitizer::*), not _dl_*.
	loader=' _dl_'
	[ -n "$RT" ] && loader=' (_dl_|__sanitizer::)'
	check "the whole-process profile is valid and shows the loader (_dl_*) and burn_cpu" \
		bash -c "grep -q 'Type: cpu' '$WORK/ds.top' && grep -Eq '$loader' '$WORK/ds.top' && grep -q burn_cpu '$WORK/ds.top'"
	# Instrumented, the storm's few seconds may not fit all 8, and it may end before its
	# writer has written the last one: those sent, but the last, must be there.
	want=8 least=8
	[ -n "$RT" ] && [ "$slow_sent" -ge 1 ] && want=$slow_sent least=$((slow_sent > 1 ? slow_sent - 1 : 1))
	storm_slow() { [ "$slow_sent" = "$want" ] && [ "$(index_count "$WORK/ds/prof" "${dspid:-0}")" -ge "$least" ] && pid_cpu_valid "$WORK/ds/prof" "$dspid"; }
	check "all $slow_sent slow requests meanwhile have index lines and valid CPU profiles" storm_slow
}

# ---- the ways a process ends ----
exit_case() {
	for how in exit _exit return segv term abort; do
		mkdir -p "$WORK/ex-$how/none" "$WORK/ex-$how/shim"
		run_bounded 10 "$WORK/ex-$how/none.out" "$WORK/ex-$how/none.err" "$P" exit "$how" "$WORK/ex-$how/none"
		rc_none=$RC ms_none=$MS
		run_bounded 10 "$WORK/ex-$how/shim.out" "$WORK/ex-$how/shim.err" \
			env LD_PRELOAD="$LIB" OTSHIM_PROFILE_DIR="$WORK/ex-$how/prof" OTSHIM_SLOW_MS=100 \
			"$P" exit "$how" "$WORK/ex-$how/shim"
		check "end by $how while a slow request is sampled: status $RC as without the shim ($rc_none), same output, in $MS ms (without: $ms_none)" \
			bash -c "[ $RC = $rc_none ] && [ $MS -le $((ms_none + 2500)) ] && cmp -s '$WORK/ex-$how/none.out' '$WORK/ex-$how/shim.out'"
		f=$(compgen -G "$WORK/ex-$how/prof/otshim-stats-*.json" | head -1)
		p=${f##*otshim-stats-}
		p=${p%.json}
		case $how in
		exit | return)
			check "  exit handlers ran: its stats file says 3 requests (its log: $(nlines "$WORK/ex-$how/shim/access-$p.log")), 1 profile written" \
				bash -c "[ '$(stat_of "$f" requests)' = 3 ] && [ '$(nlines "$WORK/ex-$how/shim/access-$p.log")' = 3 ] && [ '$(stat_of "$f" profiles_written)' = 1 ]" ;;
		*)
			check "  the stats file written earlier is there, with its pid" [ "$(stat_of "$f" pid)" = "${p:-none}" ] ;;
		esac
	done
}

# ---- a daemon-style close of every fd, then new ones ----
# proc_life closefrom: four rounds of four slow requests at once, then every descriptor
# closed (a close() loop, or close_range around the listener) and the log and 8 pipes
# opened again (a byte in each), over and over while the shim writes their profiles,
# then two more requests. With dl, each round also dlopens a library, so the shim's symboliser is
# opened afresh for the next profile (dwfl_end on the old one).
closefrom_case() {
	local mode want
	mkdir -p "$WORK/cf-none"
	run_bounded 20 "$WORK/cf.none" "$WORK/cf.none.err" "$P" closefrom "$WORK/cf-none"
	want=$(tail -1 "$WORK/cf.none")
	diag "closefrom without the shim: $want"
	for mode in plain dl; do
		mkdir -p "$WORK/cf-$mode"
		run_bounded 20 "$WORK/cf.$mode" "$WORK/cf.$mode.err" \
			env LD_PRELOAD="$LIB" OTSHIM_PROFILE_DIR="$WORK/cf-$mode/prof" "$P" closefrom "$WORK/cf-$mode" \
			"$([ $mode = dl ] && echo dl)"
		diag "closefrom ($mode) with the shim (exit $RC): $(tail -1 "$WORK/cf.$mode"); $(grep -v INFO "$WORK/cf.$mode.err" | tr '\n' ' ')"
	done
	check "closing every fd, without the shim: 24 requests served, the log and every pipe intact" \
		[ "$want" = "served 24; log fd still the log: yes; every pipe intact: yes" ]
	check "closing every fd while the shim writes profiles: every request served, the service's reopened log and pipes intact" \
		[ "$(tail -1 "$WORK/cf.plain")" = "$want" ]
	check "and when the shim reopens its symboliser afterwards (dlopen): the same" \
		[ "$(tail -1 "$WORK/cf.dl")" = "$want" ]
	check "and the shim wrote every slow request's profiles (24 and 24)" \
		[ "$(index_count "$WORK/cf-plain/prof" "$(stat_of "$WORK"/cf-plain/prof/otshim-stats-*.json pid)") $(index_count "$WORK/cf-dl/prof" "$(stat_of "$WORK"/cf-dl/prof/otshim-stats-*.json pid)")" = "24 24" ]
}

if [ -n "$RT" ]; then
	# gcc 12's ASan runtime leaves its allocator locked in a child forked while another
	# thread allocates (the same hang with only libasan preloaded, without the shim);
	# TSan kills the child of a multi-threaded fork that starts a thread (die_after_fork):
	# each worker starts its watchdog.
	case $RT in
	*tsan*) skip "pre-fork workers" "under TSan: it does not support threads started after a multi-threaded fork" ;;
	*) skip "pre-fork workers" "under ASan: its allocator is not fork-safe" ;;
	esac
else
	prefork_case
fi
exec_case
daemon_case
ctor_case
storm_case
exit_case
closefrom_case
diag "process.sh took $((SECONDS - t_start)) s"
done_testing
