#!/bin/bash
# nonhttp.sh: connections that do not speak HTTP/1.x (Redis, random bytes, a header
# block too large to track) are dropped from tracking and counted, the HTTP/2 preface
# is taken as HTTP/2 (counted as such), and the server still answers everyone
# normally. A TLS handshake on this server, which loads no libssl, is counted apart
# (tls_unseen_connections: its plaintext cannot be seen).
. "$(dirname "$0")/lib.sh"

dir=$WORK/prof
start_demo "$dir" OTSHIM_SLOW_MS=1000
CLIENT_HELLO=16030100a5010000a10303$(printf "%064x" 0)00000413011302010000090000000a00080006001d0017
good=0
try() { local d=$1; shift; if $HTTPC raw --port "$PORT" "$@" >/dev/null; then good=$((good + 1)); ok 0 "$d"; else ok 1 "$d"; fi; }
try "TLS ClientHello: dropped, server still answers" --hex "$CLIENT_HELLO"
try "HTTP/2 preface to an HTTP/1.x server: server still answers" --text 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'
try "Redis PING: dropped, server still answers" --text '*1\r\n$4\r\nPING\r\n'
for seed in 1 2 3; do
	try "random bytes (seed $seed): dropped, server still answers" --random 512 --seed "$seed"
done
stop_demo
non_http=$(stats_field "$dir" non_http_connections)
tls_unseen=$(stats_field "$dir" tls_unseen_connections)
requests=$(stats_field "$dir" requests)
diag "non_http_connections=$non_http tls_unseen_connections=$tls_unseen requests=$requests good=$good"
# Random bytes that happen to start with an uppercase letter and a space are not HTTP
# either, but are found out a few bytes later: they still count as non-HTTP.
check "every non-HTTP connection was counted" [ "$non_http" -ge 4 ]
check "the TLS one as a TLS connection whose plaintext is unseen" [ "$tls_unseen" = 1 ]
check "the preface was taken as HTTP/2" [ "$(stats_field "$dir" h2_connections)" = 1 ]
check "only the real requests were counted" [ "$requests" = "$good" ]
done_testing
