#!/bin/bash
# demo.sh BUILD_DIR: the README's `make demo`. Starts the demo service under the shim,
# sends fast requests, one slow CPU-bound request with a traceparent we choose and one
# slow sleeping request, stops the service, and shows index.jsonl and
# `go tool pprof -top` of the slow request's CPU profile.
set -u
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
OUT=$ROOT/demo-profiles
TRACE=4bf92f3577b34da6a3ce929d0e0e4736
PARENT=00f067aa0ba902b7
rm -rf "$OUT"
PORTFILE=$(mktemp)
trap 'kill "$SPID" 2>/dev/null; rm -f "$PORTFILE"' EXIT

echo "== starting the demo service under otshim (slow threshold 100 ms)"
OTSHIM_LIB=$BUILD/libotshim.so scripts/otshim run --slow-ms 100 --dir "$OUT" -- \
	"$BUILD/tests/servers/srv_demo" --port 0 --port-file "$PORTFILE" >/dev/null &
SPID=$!
for _ in $(seq 100); do [ -s "$PORTFILE" ] && break; sleep 0.05; done
PORT=$(cat "$PORTFILE")
[ -n "$PORT" ] || { echo "demo service did not start" >&2; exit 1; }

echo "== 20 fast requests"
for _ in $(seq 20); do curl -s -o /dev/null "http://127.0.0.1:$PORT/"; done
echo "== one slow CPU-bound request: GET /cpu?ms=400, traceparent 00-$TRACE-$PARENT-01"
curl -s -o /dev/null -H "traceparent: 00-$TRACE-$PARENT-01" "http://127.0.0.1:$PORT/cpu?ms=400"
echo "== one slow sleeping request: GET /sleep?ms=300"
curl -s -o /dev/null "http://127.0.0.1:$PORT/sleep?ms=300"
sleep 0.3
kill -TERM "$SPID"
wait "$SPID" 2>/dev/null

echo
echo "== $OUT/index.jsonl"
cat "$OUT/index.jsonl"
echo
echo "== $OUT/$(ls "$OUT" | grep otshim-stats)"
cat "$OUT"/otshim-stats-*.json
CPU=$(ls "$OUT"/cpu-"$TRACE"-*.pb.gz 2>/dev/null | head -1)
[ -n "$CPU" ] || { echo "no profile for trace $TRACE" >&2; exit 1; }
echo
echo "== go tool pprof -top $CPU"
export HOME=${HOME:-/tmp} GOCACHE=${GOCACHE:-/tmp/otshim-gocache}
go tool pprof -top "$CPU" 2>/dev/null | head -20
echo
echo "== go tool pprof -tags (every sample carries the request's ids)"
go tool pprof -tags "$CPU" 2>/dev/null
echo "Profiles are in $OUT. Try: go tool pprof -list burn_cpu $CPU"
