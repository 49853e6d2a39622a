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
LIB=$BUILD/libotshim.so
SRV=$BUILD/tests/servers/srv_demo
HTTPC="python3 $ROOT/tests/tools/httpc.py"
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
diag() { printf '%s\n' "$*" | sed 's/^/# /'; } # every line of a message is a TAP comment
done_testing() {
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

for f in "$LIB" "$SRV"; do
	[ -e "$f" ] || { echo "1..0 # SKIP $f not built"; exit 77; }
done

# go tool pprof wants a writable HOME and build cache; give it private ones.
export HOME=$WORK/home GOCACHE=$WORK/gocache GOFLAGS=-mod=mod
mkdir -p "$HOME"
pprof() { go tool pprof "$@" 2>/dev/null; }

# ---- the demo server ----

pid_gone() { ! kill -0 "$1" 2>/dev/null; }

# start_demo DIR [VAR=VALUE ...]: the demo server under the shim, profiles into DIR
# (created by the shim), stdout/stderr/access log in DIR.out/.err/.access.
# Sets SPID and PORT.
start_demo() {
	local dir=$1 pf
	shift
	pf=$WORK/port.$RANDOM$RANDOM
	env LD_PRELOAD="$LIB" OTSHIM_PROFILE_DIR="$dir" "$@" \
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
stats_field() {
	python3 - "$1" "$2" <<'PY' 2>/dev/null
import glob, json, os, sys
d, field = sys.argv[1], sys.argv[2]
print(sum(json.load(open(f))[field] for f in glob.glob(os.path.join(d, "otshim-stats-*.json"))))
PY
}
