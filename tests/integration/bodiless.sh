#!/bin/bash
# bodiless.sh: a response that ends with its head (the answer to HEAD, a 204, a 304,
# Content-Length: 0) ends its request at once, not when the connection next speaks.
# Each such request is followed by 400 ms of silence on its keep-alive connection; with
# a 100 ms threshold, any of them counted as still running would turn slow.
. "$(dirname "$0")/lib.sh"

# Instrumented code can take a real 100 ms for a request on a loaded machine: under a
# sanitizer the threshold is 250 ms, still well under the silence.
slow_ms=100
[ -n "$SAN" ] && slow_ms=250
dir=$WORK/prof
start_demo "$dir" OTSHIM_SLOW_MS=$slow_ms
n=$($HTTPC idle --port "$PORT" --pause-ms 400 --req 'HEAD /' --req 'GET /status?code=204' \
	--req 'GET /status?code=304' --req 'GET /status?code=200' --req 'HEAD /chunked' \
	--req 'GET /')
check "six bodiless-or-small answers on one connection" [ "$n" = 6 ]
# The same through HTTP/1.0 clients, which close after each answer.
curl -s -0 -I -o /dev/null "http://127.0.0.1:$PORT/" && n=$((n + 1))
# The server logs after it answers: let it log the last before it is stopped.
wait_for 5 bash -c "[ \$(wc -l <'$dir.access') -ge $n ]"
stop_demo

logged=$(wc -l <"$dir.access")
counted=$(stats_field "$dir" requests)
diag "access log $logged, shim counted $counted, slow $(stats_field "$dir" slow)"
check "the shim counted every request the server logged" [ "$counted" = "$logged" ] 
check "and the server logged every request sent" [ "$logged" = "$n" ]
check "none of them was taken for slow" [ "$(stats_field "$dir" slow)" = 0 ]
check "no index line was written" [ ! -s "$dir/index.jsonl" ]
check "no tracking errors" [ "$(stats_field "$dir" errors)" = 0 ]
done_testing
