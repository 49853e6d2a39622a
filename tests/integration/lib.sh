# tests/integration/lib.sh: shared helpers for the integration tests (sourced).
# Provides TAP output, a scratch directory, starting/stopping the demo server under
# the shim, and a `go tool pprof` wrapper. Everything started is stopped on exit.
set -u
BUILD=${1:-build}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$(cd "$ROOT" && cd "$BUILD" && pwd)
LIB=$BUILD/libotshim.so
SRV=$BUILD/tests/servers/srv_demo
HTTPC="python3 $ROOT/tests/tools/httpc.py"
WORK=$(mktemp -d /tmp/otshim-test.XXXXXX)
PIDS=()
T_N=0
T_FAILED=0

cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	rm -rf "$WORK"
}
trap cleanup EXIT

ok() { # ok COND-EXIT-STATUS DESCRIPTION  (use: check && ok 0 desc || ok 1 desc)
	T_N=$((T_N + 1))
	if [ "$1" -eq 0 ]; then echo "ok $T_N - $2"; else echo "not ok $T_N - $2"; T_FAILED=$((T_FAILED + 1)); fi
}
check() { # check DESCRIPTION COMMAND...
	local d=$1; shift
	if "$@"; then ok 0 "$d"; else ok 1 "$d"; fi
}
diag() { echo "# $*"; }
done_testing() { echo "1..$T_N"; [ "$T_FAILED" -eq 0 ]; exit $?; }

for f in "$LIB" "$SRV"; do
	[ -e "$f" ] || { echo "1..0 # SKIP $f not built"; exit 77; }
done

export HOME=$WORK/home GOCACHE=$WORK/gocache GOFLAGS=-mod=mod
mkdir -p "$HOME"
pprof() { go tool pprof "$@" 2>/dev/null; }

# start_demo DIR [VAR=VALUE ...]: the demo server under the shim, profiles into DIR.
# Sets SPID and PORT.
start_demo() {
	local dir=$1; shift
	local pf=$WORK/port.$RANDOM
	env LD_PRELOAD="$LIB" OTSHIM_PROFILE_DIR="$dir" "$@" \
		"$SRV" --port 0 --port-file "$pf" --access-log "$dir.access" \
		>"$dir.out" 2>"$dir.err" &
	SPID=$!
	PIDS+=("$SPID")
	for _ in $(seq 200); do [ -s "$pf" ] && break; sleep 0.05; done
	PORT=$(cat "$pf" 2>/dev/null)
	[ -n "$PORT" ] || { echo "Bail out! demo server did not start"; cat "$dir.err"; exit 1; }
}
stop_demo() {
	kill -TERM "$SPID" 2>/dev/null
	# The accept loop wakes on the shutdown; give exit handlers time to write stats.
	for _ in $(seq 100); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.05; done
	wait "$SPID" 2>/dev/null
	DEMO_STATUS=$?
}
# stats_field DIR FIELD: sum of FIELD over every otshim-stats-*.json in DIR
stats_field() {
	cat "$1"/otshim-stats-*.json 2>/dev/null |
		python3 -c 'import json,sys; print(sum(json.loads(l)[sys.argv[1]] for l in sys.stdin if l.strip()))' "$2"
}
