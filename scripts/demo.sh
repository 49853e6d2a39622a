#!/bin/bash
# demo.sh BUILD_DIR: what `make demo` runs. Starts the demo service under the shim
# (through scripts/otshim, threshold 100 ms, profiles into demo-profiles/, emptied
# first), sends 20 fast requests, one slow CPU-bound request carrying a traceparent we
# choose, and one slow sleeping request; stops the service, then shows index.jsonl,
# the stats file and `go tool pprof -top` of the slow request's CPU profile, found by
# its trace id, and last `scripts/otshim report demo-profiles` (a failing report is
# said, not fatal: the demo has shown the profiles by then). Whatever happens, it stops
# what it started.
set -u
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || { echo "demo: no build directory '$1' (run make)" >&2; exit 1; }
OUT=$ROOT/demo-profiles
SRV=$BUILD/tests/servers/srv_demo
for f in "$BUILD/libotshim.so" "$SRV"; do
	[ -x "$f" ] || [ -f "$f" ] || { echo "demo: $f is not built (run make)" >&2; exit 1; }
done

# Our own trace context, as an upstream service would send it.
TRACE=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
PARENT=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
TRACEPARENT="00-$TRACE-$PARENT-01"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/otshim-demo.XXXXXX")
SPID=""
finish() {
	if [ -n "$SPID" ] && kill -0 "$SPID" 2>/dev/null; then
		kill -TERM "$SPID" 2>/dev/null
		sleep 1
		kill -KILL "$SPID" 2>/dev/null
	fi
	rm -rf "$TMP"
}
trap finish EXIT
trap 'exit 130' INT TERM
fail() {
	echo "demo: $*" >&2
	exit 1
}
wait_for() { # SECONDS COMMAND...
	local i
	for ((i = 0; i < $1 * 20; i++)); do "${@:2}" && return 0; sleep 0.05; done
	"${@:2}"
}
gone() { ! kill -0 "$SPID" 2>/dev/null; }

rm -rf "$OUT"
echo "== starting the demo service under otshim"
OTSHIM_LIB=$BUILD/libotshim.so scripts/otshim run --slow-ms 100 --dir "$OUT" -- \
	"$SRV" --port 0 --port-file "$TMP/port" >"$TMP/stdout" &
SPID=$!
wait_for 10 test -s "$TMP/port" || fail "the demo service did not start"
PORT=$(cat "$TMP/port")
URL=http://127.0.0.1:$PORT

echo "== 20 fast requests to $URL/"
for _ in $(seq 20); do curl -sf -o /dev/null "$URL/" || fail "a fast request failed"; done
echo "== the service keeps 16 MiB allocated in hold_site_one: GET /hold?site=1&kb=16384"
curl -sf -o /dev/null "$URL/hold?site=1&kb=16384&min=1048576&max=4194304" || fail "the hold request failed"
echo "== one slow CPU-bound request: GET /cpu?ms=400"
echo "   traceparent: $TRACEPARENT"
curl -sf -o /dev/null -H "traceparent: $TRACEPARENT" "$URL/cpu?ms=400" || fail "the slow request failed"
echo "== one slow sleeping request: GET /sleep?ms=200"
curl -sf -o /dev/null "$URL/sleep?ms=200" || fail "the sleeping request failed"
# Profiles are written off the request's thread; give the writer a moment.
wait_for 5 test "$(wc -l <"$OUT/index.jsonl" 2>/dev/null || echo 0)" -ge 2
echo "== stopping the service (SIGTERM; the shim writes its stats at exit)"
kill -TERM "$SPID"
wait_for 10 gone || fail "the service did not stop"
wait "$SPID" 2>/dev/null
SPID=""

echo
echo "== $OUT/index.jsonl"
cat "$OUT/index.jsonl" 2>/dev/null || fail "no index.jsonl in $OUT"
for s in "$OUT"/otshim-stats-*.json; do
	[ -f "$s" ] || continue
	echo
	echo "== $s"
	cat "$s"
done

CPU=""
for f in "$OUT"/cpu-"$TRACE"-*.pb.gz; do [ -f "$f" ] && CPU=$f; done
[ -n "$CPU" ] || fail "no CPU profile for trace $TRACE in $OUT"
# go tool pprof needs a writable HOME and build cache; use private ones.
export HOME=$TMP/home GOCACHE=$TMP/gocache
mkdir -p "$HOME"
echo
echo "== go tool pprof -top $CPU"
go tool pprof -top "$CPU" 2>/dev/null | head -25
echo
echo "== go tool pprof -tags (every sample carries the request's trace and span ids)"
go tool pprof -tags "$CPU" 2>/dev/null
HEAP=""
for f in "$OUT"/heap-"$TRACE"-*.pb.gz; do [ -f "$f" ] && HEAP=$f; done
if [ -n "$HEAP" ]; then
	echo
	echo "== go tool pprof -top $HEAP (whole-process heap when the request ended; inuse_space)"
	go tool pprof -top -nodecount=8 "$HEAP" 2>/dev/null | sed -n '/flat%/,$p'
fi
echo
echo "The slow request's trace id was $TRACE."
echo "Its files are in $OUT/ (named cpu-$TRACE-<span id>-<unix time>.pb.gz, and heap-… alike)."
echo "Explore them with, for example:"
echo "    go tool pprof -list burn_cpu $CPU"
echo "    go tool pprof -http=127.0.0.1:8080 $CPU"
echo "    scripts/otshim flame $CPU > flame.svg"
echo "    scripts/otshim report --html demo-profiles    # writes demo-profiles/report.html"

echo
echo "== scripts/otshim report demo-profiles (every slow request, slowest first)"
# Bounded, so a report that hangs cannot hang the demo; its failure is reported only.
timeout 120 scripts/otshim report "$OUT"
rc=$?
if [ "$rc" -ne 0 ]; then
	echo "demo: 'scripts/otshim report demo-profiles' failed (exit status $rc); the profiles above are" >&2
	echo "      still in $OUT/ for go tool pprof" >&2
fi
exit 0
