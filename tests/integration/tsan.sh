#!/bin/bash
# tsan.sh: the shim itself under ThreadSanitizer. The TSan-instrumented library
# (make SANITIZER=thread) is preloaded after TSan's runtime into the demo server;
# keep-alive, pipelined and concurrent slow requests must produce no TSan report, and
# the counts stay exact.
. "$(dirname "$0")/lib.sh"
san_skip_all "make test's own TSan check; make test-tsan runs every test under TSan"
TLIB=$ROOT/build-thread/libotshim.so
TSAN_RT=$(gcc -print-file-name=libtsan.so.2)
[ -f "$TLIB" ] && [ -f "$TSAN_RT" ] || { echo "1..0 # SKIP no TSan build (make SANITIZER=thread)"; exit 77; }
LIB="$TSAN_RT $TLIB"
dir=$WORK/prof
start_demo "$dir" OTSHIM_SLOW_MS=50 TSAN_OPTIONS="halt_on_error=0 report_signal_unsafe=1"
sent=0
n=$($HTTPC keepalive --port "$PORT" --n 300) && sent=$((sent + n))
n=$($HTTPC pipeline --port "$PORT" --n 50) && sent=$((sent + n))
cpids=()
for i in 1 2 3; do curl -s -o /dev/null "http://127.0.0.1:$PORT/cpu?ms=150" & cpids+=($!); done
wait "${cpids[@]}"
sent=$((sent + 3))
$HTTPC raw --port "$PORT" --random 256 --seed 7 >/dev/null && sent=$((sent + 1))
sleep 0.3
stop_demo
reports=$(grep -c "WARNING: ThreadSanitizer" "$dir.err")
[ "$reports" -eq 0 ] || diag "$(grep -A8 'WARNING: ThreadSanitizer' "$dir.err" | head -40)"
check "no ThreadSanitizer report" [ "$reports" -eq 0 ]
check "requests counted exactly under TSan" [ "$(stats_field "$dir" requests)" = "$sent" ]
check "three slow requests profiled" [ "$(stats_field "$dir" profiles_written)" = 3 ]
done_testing
