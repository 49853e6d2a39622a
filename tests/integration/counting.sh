#!/bin/bash
# counting.sh: request boundaries are found exactly. 1,000 keep-alive requests on one
# connection, a pipelined batch, curl requests (new connections, HTTP/1.0 and HEAD),
# bodies in both directions: the shim's request count must equal what was sent and
# the server's own access log.
. "$(dirname "$0")/lib.sh"

dir=$WORK/prof
start_demo "$dir" OTSHIM_SLOW_MS=1000
sent=0
n=$($HTTPC keepalive --port "$PORT" --n 1000) && sent=$((sent + n))
check "1000 keep-alive requests answered" [ "$n" = 1000 ]
n=$($HTTPC pipeline --port "$PORT" --n 50) && sent=$((sent + n))
check "50 pipelined requests answered" [ "$n" = 50 ]
n=$($HTTPC pipeline --port "$PORT" --n 20 --path '/big?kb=100') && sent=$((sent + n))
check "20 pipelined 100 KiB responses answered" [ "$n" = 20 ]
for i in $(seq 10); do curl -s -o /dev/null "http://127.0.0.1:$PORT/?i=$i" && sent=$((sent + 1)); done
for i in $(seq 5); do curl -s -0 -o /dev/null "http://127.0.0.1:$PORT/" && sent=$((sent + 1)); done
for i in $(seq 5); do curl -s -I -o /dev/null "http://127.0.0.1:$PORT/" && sent=$((sent + 1)); done
for i in $(seq 5); do curl -s -o /dev/null "http://127.0.0.1:$PORT/chunked" && sent=$((sent + 1)); done
for i in $(seq 5); do curl -s -o /dev/null -d "name=value&i=$i" "http://127.0.0.1:$PORT/" && sent=$((sent + 1)); done
curl -s -o /dev/null "http://127.0.0.1:$PORT/missing" && sent=$((sent + 1))
stop_demo

logged=$(wc -l <"$dir.access")
counted=$(stats_field "$dir" requests)
diag "sent $sent, access log $logged, shim counted $counted"
check "the access log has every request" [ "$logged" -eq "$sent" ]
check "the shim counted exactly the requests sent" [ "$counted" = "$sent" ]
check "no connection was taken for non-HTTP" [ "$(stats_field "$dir" non_http_connections)" = 0 ]
check "no tracking errors" [ "$(stats_field "$dir" errors)" = 0 ]
check "nothing was slow" [ "$(stats_field "$dir" slow)" = 0 ]
done_testing
