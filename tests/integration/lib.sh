# tests/integration/lib.sh: shared helpers for the integration tests (sourced, with
# the build directory as $1). Provides TAP output, a fresh scratch directory, the
# demo server started under the shim and stopped with SIGTERM, a polling helper, a
# stats-file reader and a `go tool pprof` wrapper. Everything started is stopped and
# the scratch directory removed on exit, however the test ends.
# shellcheck shell=bash disable=SC2034 # variables here are used by the sourcing test
set -u
BUILD=${1:-build}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$(cd "$ROOT" && cd "$BUILD" 2>/dev/null && pwd) || { echo "1..0 # SKIP no build directory $1"; exit 77; }
SHIM_SO=$BUILD/libotshim.so # the library file itself; LIB is what LD_PRELOAD gets
LIB=$SHIM_SO
SRV=$BUILD/tests/servers/srv_demo
TOOLS=$ROOT/tests/tools # the tests' helper programs
HTTPC="python3 $TOOLS/httpc.py"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/otshim-test.XXXXXX")
PIDS=()
T_N=0
T_FAILED=0

# Stops whatever is still running (politely, then not), then removes the scratch dir.
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for _ in $(seq 40); do
		local alive=0
		for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ "$alive" = 0 ] && break
		sleep 0.05
	done
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	[ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- TAP ----

ok() { # ok STATUS DESCRIPTION: STATUS 0 = pass
	T_N=$((T_N + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $T_N - $2"
	else
		echo "not ok $T_N - $2"
		T_FAILED=$((T_FAILED + 1))
	fi
}
check() { # check DESCRIPTION COMMAND...: passes if COMMAND succeeds
	local d=$1
	shift
	if "$@"; then ok 0 "$d"; else ok 1 "$d"; fi
}
# skip DESCRIPTION REASON: the check DESCRIPTION is not run, because REASON: a TAP
# skip ("ok N - DESCRIPTION # SKIP REASON", on one line), which no harness counts as a
# pass.
skip() {
	T_N=$((T_N + 1))
	echo "ok $T_N - $1 # SKIP ${2//$'\n'/ }"
}
diag() { printf '%s\n' "$*" | sed 's/^/# /'; } # every line of a message is a TAP comment
done_testing() {
	san_reports
	echo "1..$T_N"
	[ "$T_FAILED" -eq 0 ]
	exit $?
}

# wait_for SECONDS COMMAND...: polls COMMAND every 50 ms until it succeeds or time is up.
wait_for() {
	local tries=$(($1 * 20))
	shift
	while [ "$tries" -gt 0 ]; do
		"$@" && return 0
		sleep 0.05
		tries=$((tries - 1))
	done
	"$@"
}

for f in "$SHIM_SO" "$SRV"; do
	[ -e "$f" ] || { echo "1..0 # SKIP $f not built"; exit 77; }
done

# ---- sanitizers (make test-asan / make test-tsan) ----
# OTSHIM_TEST_SANITIZER=address|thread: $BUILD is an instrumented build (build-asan:
# ASan+UBSan, build-thread: TSan). Wherever a test preloads the shim ($LIB) the
# sanitizer's runtime comes first, as it must; nothing else gets it (LD_PRELOAD is never
# exported here: curl, python3 helpers and go tool pprof run as they are). Every report
# goes to a file under $WORK/san, and done_testing fails the test if one exists.
# Leak checking is off: the shim's memory comes from jemalloc and mmap, which LSan does
# not see, so it would only judge the host programs (python3 leaks at exit by design).
# A failed allocation returns NULL, as glibc's does, rather than aborting the service.
# TSan's lock-order checker is off: jemalloc's fork handler takes every arena's lock at
# once, more than the 64 per thread it can track (a CHECK failure kills the process).
# And it judges only calls made from instrumented code: the hosts (python3, node,
# nginx, ld.so, libcrypto) synchronize in code it cannot see, so their own accesses
# would show as races that are not.
SAN=${OTSHIM_TEST_SANITIZER:-}
export -n OTSHIM_TEST_SANITIZER OTSHIM_TEST_BUDGET OTSHIM_TEST_TIMEOUT # the shim warns of unknown OTSHIM_*
SAN_RT=""
if [ -n "$SAN" ]; then
	case $SAN in
	address) SAN_RT=$(gcc -print-file-name=libasan.so) ;;
	thread) SAN_RT=$(gcc -print-file-name=libtsan.so.2) ;;
	*) echo "Bail out! OTSHIM_TEST_SANITIZER must be address or thread, not '$SAN'"; exit 1 ;;
	esac
	[ -f "$SAN_RT" ] || { echo "1..0 # SKIP no $SAN sanitizer runtime ($SAN_RT)"; exit 77; }
	LIB="$SAN_RT $SHIM_SO"
	mkdir -p "$WORK/san"
	export ASAN_OPTIONS="log_path=$WORK/san/asan:detect_leaks=0:allocator_may_return_null=1:halt_on_error=1:abort_on_error=0"
	export UBSAN_OPTIONS="log_path=$WORK/san/ubsan:print_stacktrace=1:halt_on_error=1"
	export TSAN_OPTIONS="log_path=$WORK/san/tsan:allocator_may_return_null=1:detect_deadlocks=0:ignore_noninstrumented_modules=1:halt_on_error=0:report_signal_unsafe=1:second_deadlock_stack=1"
fi
# san_reports: one failing check per file of $WORK with a sanitizer report in it: the
# log files under $WORK/san, and any other (UBSan, a runtime of its own beside ASan's,
# writes to stderr whatever log_path says).
san_reports() {
	local f
	[ -n "$SAN" ] || return 0
	# (Not "WARNING: AddressSanitizer failed to allocate": that is malloc returning NULL.)
	for f in $(grep -rlE --exclude-dir=home --exclude-dir=gocache \
		'runtime error: |ERROR: [A-Za-z]*Sanitizer|WARNING: ThreadSanitizer|Sanitizer: CHECK failed|ThreadSanitizer: starting new threads' "$WORK"); do
		[ -e "$f" ] || continue
		diag "$(grep -m1 -A40 -E '(runtime error: |Sanitizer)' "$f")"
		ok 1 "no $SAN sanitizer report (${f#"$WORK"/})"
	done
}
# san_skip WHY DESCRIPTION: under a sanitizer, reports the check DESCRIPTION as skipped
# because WHY and succeeds (so `san_skip ... || check ...`); without one, fails.
san_skip() {
	[ -n "$SAN" ] || return 1
	skip "$2" "under $SAN: $1"
}
# san_skip_all WHY: under a sanitizer, skips the whole test file because WHY.
san_skip_all() {
	[ -n "$SAN" ] || return 0
	echo "1..0 # SKIP under $SAN: $1"
	exit 77
}
# san_check WHY DESCRIPTION COMMAND...: check, except under a sanitizer (skipped: WHY).
san_check() {
	local why=$1
	shift
	san_skip "$why" "$1" || check "$@"
}
# tsan_check WHY DESCRIPTION COMMAND...: check, except under TSan (skipped: WHY).
tsan_check() {
	if [ "$SAN" = thread ]; then san_check "$@"; else shift; check "$@"; fi
}
# Why a CPU sample's callers may be wrong under TSan (runtime/sample/sigprof_owner.c:
# its sigaction).
TSAN_STALE="TSan runs our SIGPROF handler deferred, at its next safe point: a sample's frames above the leaf may be stale"
# Why a thread asleep in read or accept cannot answer the capture under TSan.
TSAN_DEFERS="TSan (gcc 12's runtime) holds a signal arriving in read or accept until the thread's next intercepted call: a thread asleep there does not answer the capture"
# Why heap checks cannot hold under a sanitizer: its runtime, preloaded first, owns
# malloc, so our interposers never see an allocation.
SAN_NO_HEAP="the sanitizer's runtime owns malloc: our interposers are shadowed, no heap samples"
# And thread creation: its pthread_create wrapper must be the first code a new thread
# runs, so the runtime registers no thread under one (runtime/sample/thread_registry.c):
# no creation stacks.
# And resident memory: the sanitizer's allocator quarantines freed blocks, pads live ones
# with redzones and keeps shadow memory, so RSS bounds measure it, not us.
SAN_NO_RSS="the sanitizer's allocator (quarantine, redzones, shadow) decides RSS, not the shim"
SAN_NO_THREADREG="the sanitizer wraps pthread_create and must start each thread itself: no creation stacks"

# go tool pprof wants a writable HOME and build cache; give it private ones.
export HOME=$WORK/home GOCACHE=$WORK/gocache GOFLAGS=-mod=mod
mkdir -p "$HOME"
pprof() { go tool pprof "$@" 2>/dev/null; }

# ---- the demo server ----

pid_gone() { ! kill -0 "$1" 2>/dev/null; }
# free_port: a TCP port on 127.0.0.1 that nothing listens on now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_demo DIR [VAR=VALUE ...]: the demo server under the shim, profiles into DIR
# (created by the shim), stdout/stderr/access log in DIR.out/.err/.access; run through
# the program DEMO_WRAP when set (e.g. tests/servers/no_perf). Sets SPID and PORT.
start_demo() {
	local dir=$1 pf
	shift
	pf=$WORK/port.$RANDOM$RANDOM
	env LD_PRELOAD="$LIB" OTSHIM_PROFILE_DIR="$dir" "$@" ${DEMO_WRAP:+"$DEMO_WRAP"} \
		"$SRV" --port 0 --port-file "$pf" --access-log "$dir.access" \
		>"$dir.out" 2>"$dir.err" &
	SPID=$!
	PIDS+=("$SPID")
	wait_for 10 test -s "$pf"
	PORT=$(cat "$pf" 2>/dev/null)
	if [ -z "$PORT" ]; then
		echo "Bail out! demo server did not start"
		sed 's/^/# /' "$dir.err"
		exit 1
	fi
}

# stop_demo: SIGTERM, then wait (bounded) so the exit-time stats file is written.
# Sets DEMO_STATUS to the exit status (137 if it had to be killed).
stop_demo() {
	kill -TERM "$SPID" 2>/dev/null
	if ! wait_for 10 pid_gone "$SPID"; then
		diag "demo server $SPID ignored SIGTERM for 10 s; killing it"
		kill -KILL "$SPID" 2>/dev/null
	fi
	wait "$SPID" 2>/dev/null
	DEMO_STATUS=$?
}

# stats_field DIR FIELD: sum of FIELD over every otshim-stats-*.json in DIR; 0 if there
# is no stats file, empty output (so any comparison fails) if a file lacks FIELD.
stats_field() { python3 "$TOOLS/stats_field.py" "$1" "$2" 2>/dev/null; }
