#!/bin/sh
# tests/fuzz/mkcorpus.sh: writes the checked-in seed corpora, tests/fuzz/corpus/<target>/,
# from the literals below, so each seed's bytes can be read and reviewed here. Rerun
# after editing; the fuzzers only read these files (what they find goes to build-fuzz/).
# Input layouts are those described at the top of each tests/fuzz/fuzz_<target>.c.
set -eu
cd "$(dirname "$0")"
rm -rf corpus
mkdir -p corpus/http corpus/traceparent corpus/cfg corpus/h2

# seed DIR NAME PRINTF-FORMAT: one file, its bytes given as a printf format.
# shellcheck disable=SC2059 # the format is the point: it spells the bytes
seed() { printf "$3" >"corpus/$1/$2"; }

# ---- http: 2 control bytes (cut pattern, seed), requests, \0RESPONSE\0, responses ----
R='\000RESPONSE\000'
seed http get '\000\000GET /a/b?x=1 HTTP/1.1\r\nHost: x\r\n\r\n'"$R"'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi'
seed http get-bytewise '\001\000GET / HTTP/1.1\r\nUser-Agent: curl/8\r\nConnection: keep-alive\r\n\r\n'"$R"'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'
seed http pipelined '\003\052GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nHEAD /3 HTTP/1.1\r\n\r\n'"$R"'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\noneHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n'
seed http post-body '\006\000POST /u HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET /g HTTP/1.0\r\n\r\n'"$R"'HTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nxHTTP/1.0 200 OK\r\n\r\nuntil close'
seed http chunked '\003\007POST /c HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5;e=1\r\nhello\r\n10\r\n0123456789abcdef\r\n0\r\nX-T: 1\r\n\r\n'"$R"'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n'
seed http head '\002\000HEAD /h HTTP/1.1\r\n\r\n'"$R"'HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nTransfer-Encoding: chunked\r\n\r\n'
seed http upgrade '\003\200GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'"$R"'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\201\005hello'
seed http continue '\000\000POST /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok'"$R"'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'
seed http bodiless '\005\000GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n'"$R"'HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\nHTTP/1.1 304 Not Modified\r\n\r\n'
seed http sendfile '\003\377GET /f HTTP/1.1\r\n\r\n'"$R"'HTTP/1.1 200 OK\r\nContent-Length: 4096\r\n\r\n'
seed http traceparent '\000\000GET /t HTTP/1.1\r\ntraceparent:  00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 \r\nTraceParent: x\r\n\r\n'
seed http bare-lf '\001\000\r\nGET /lf HTTP/1.1\nHost: x\n\n'"$R"'HTTP/1.1 200\nContent-Length: 0\n\n'
seed http conflict '\000\000POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab'
seed http folding '\000\000GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n'
seed http tls '\000\000\026\003\001\000\245\001\000\000\241\003\003'
# regression: a control byte or CR first in an unread value was refused only when a read
# split the line just before it (fixed in track/http.c's header_byte)
seed http regress-ctl-unread-value '\001\000GET / HTTP/1.1\r\nX: \001b\r\nY: \rb\r\n\r\n'"$R"'HTTP/1.1 200 OK\r\nZ:\001\r\nContent-Length: 0\r\n\r\n'
seed http h2 '\000\000PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'
# a head just under the 8 KiB limit, and one just over
big=$(head -c 8150 /dev/zero | tr '\0' a)
seed http head-8k "\\002\\000GET / HTTP/1.1\\r\\nX: $big\\r\\n\\r\\n"
# a request line longer than the limit, taken whole by the fast path: refused at the next line
seed http long-request-line "\\000\\000GET /${big}aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\\r\\n\\r\\n"
seed http head-over "\\003\\001GET / HTTP/1.1\\r\\nX: ${big}aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\\r\\n\\r\\n"

# ---- traceparent: the header value as is ----
seed traceparent valid '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
seed traceparent unsampled '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00'
seed traceparent zero-trace '00-00000000000000000000000000000000-00f067aa0ba902b7-01'
seed traceparent zero-parent '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01'
seed traceparent uppercase '00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01'
seed traceparent version-ff 'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
seed traceparent version-01 '01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra'
seed traceparent traversal '00-../../../../../../../etc/passwd.-00f067aa0ba902b7-01'
seed traceparent slash '00-4bf92f3577b34da6a3ce929d0e0e47/6-00f067aa0ba902b7-01'
seed traceparent nul '00-4bf92f3577b34da6\000a3ce929d0e0e4736-00f067aa0ba902b7-01'
seed traceparent non-hex '00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01'
seed traceparent short '00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01'
seed traceparent overlong '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'
seed traceparent blanks ' 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\t'
seed traceparent dashes '00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01'
seed traceparent empty ''

# ---- cfg: NAME=VALUE lines (the environment); "@cwd=DIR" sets the working directory ----
seed cfg defaults 'OTSHIM_ENABLED=1\nOTSHIM_SLOW_MS=100\nOTSHIM_CPU_HZ=1000\n'
seed cfg all 'OTSHIM_ENABLED=true\nOTSHIM_PROFILE_DIR=prof\nOTSHIM_SLOW_MS=86400000\nOTSHIM_CPU_HZ=10000\nOTSHIM_HEAP_SAMPLE_BYTES=0\nOTSHIM_ALLOCATOR=system\nOTSHIM_MAX_PROFILES_PER_MIN=1000000\nOTSHIM_MAX_DISK_MB=1073741824\nOTSHIM_PPROF_ADDR=[::1]:6060\nOTSHIM_PPROF_ALLOW_REMOTE=off\nOTSHIM_THREADS_SIGNAL=41\nOTSHIM_CONTINUOUS_SEC=86400\nOTSHIM_LOG=Debug\nOTSHIM_RECORD_QUERY=yes\nOTSHIM_CPU_ROUTE=timer\n'
seed cfg bad 'OTSHIM_ENABLED=maybe\nOTSHIM_SLOW_MS=0\nOTSHIM_CPU_HZ=10001\nOTSHIM_HEAP_SAMPLE_BYTES=99999999999999999999999\nOTSHIM_ALLOCATOR=tcmalloc\nOTSHIM_MAX_DISK_MB=-1\nOTSHIM_PPROF_ADDR=:6060\nOTSHIM_THREADS_SIGNAL=65\nOTSHIM_LOG=loud\nOTSHIM_CPU_ROUTE=perf\nOTSHIM_SLOWMS=5\nOTSHIM_WHATEVER=1\n'
seed cfg otel 'OTEL_TRACES_EXPORTER=otlp\nOTEL_PROFILES_EXPORTER=otlp\nOTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318///\nOTEL_EXPORTER_OTLP_TRACES_ENDPOINT=https://x/v1/traces\nOTEL_EXPORTER_OTLP_PROFILES_ENDPOINT=ftp://x\nOTEL_EXPORTER_OTLP_HEADERS=api-key=s%%20cret, x = y ,,\nOTEL_EXPORTER_OTLP_TRACES_HEADERS==bad\nOTEL_EXPORTER_OTLP_TIMEOUT=3600000\nOTEL_EXPORTER_OTLP_COMPRESSION=gzip\nOTEL_EXPORTER_OTLP_PROTOCOL=grpc\nOTEL_BSP_SCHEDULE_DELAY=1\nOTEL_BSP_EXPORT_TIMEOUT=0\nOTEL_BSP_MAX_QUEUE_SIZE=10\nOTEL_BSP_MAX_EXPORT_BATCH_SIZE=20\nOTEL_SERVICE_NAME=svc\nOTEL_RESOURCE_ATTRIBUTES=service.version=1%%2C2,k=%%zz\nOTEL_SDK_DISABLED=TRUE\n'
seed cfg tls 'OTEL_EXPORTER_OTLP_CERTIFICATE=ca.pem\nOTEL_EXPORTER_OTLP_TRACES_CERTIFICATE=/etc/ssl/ca.pem\nOTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE=\nOTEL_EXPORTER_OTLP_CLIENT_KEY=../key.pem\nOTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY=k\n'
seed cfg cwd '@cwd=/\nOTSHIM_PROFILE_DIR=../../tmp\nOTSHIM_LIB=/x.so\nOTEL_SERVICE_NAME=\n'
# regression: a URL without a host ("https:///x") was accepted (fixed in base/cfg.c's parse_url)
seed cfg regress-url-no-host 'OTEL_EXPORTER_OTLP_ENDPOINT=http:///\nOTEL_EXPORTER_OTLP_TRACES_ENDPOINT=https:///xv1/traces\n'
long=$(head -c 4100 /dev/zero | tr '\0' d)
seed cfg long-dir "@cwd=/$long\\nOTSHIM_PROFILE_DIR=p\\nOTEL_EXPORTER_OTLP_CERTIFICATE=c\\n"
seed cfg long-url "OTEL_EXPORTER_OTLP_ENDPOINT=http://$(head -c 1000 /dev/zero | tr '\0' h)\\n"

# ---- h2: 2 control bytes (cut pattern, seed), client frames, \0SERVER\0, server frames ----
P='PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'
S='\000SERVER\000'
SET='\000\000\000\004\000\000\000\000\000'                   # empty SETTINGS
# GET / on stream 1 (static :method GET, :path /, :scheme http), answered 200 + DATA
seed h2 get '\000\000'"$P$SET"'\000\000\003\001\005\000\000\000\001\202\204\206'"$S$SET"'\000\000\001\001\004\000\000\000\001\210\000\000\002\000\001\000\000\000\001ok'
# a literal :path with a traceparent, indexed into the table, then reused on stream 3
seed h2 table '\001\000'"$P"'\000\000\006\004\000\000\000\000\000\000\001\000\000\040\000\000\000\044\001\005\000\000\000\001\202\104\004/api\100\013traceparent\0247bf92f3577b34da6a3ce\000\000\003\001\005\000\000\000\003\202\277\276'"$S"'\000\000\001\001\005\000\000\000\001\210\000\000\001\001\005\000\000\000\003\210'
# PADDED + PRIORITY HEADERS, a CONTINUATION; gRPC trailers; RST_STREAM; GOAWAY
seed h2 continuation '\002\007'"$P"'\000\000\011\001\050\000\000\000\001\002\000\000\000\000\017\203\000\000\000\000\000\001\011\004\000\000\000\001\204\000\000\004\003\000\000\000\000\003\000\000\000\010'"$S"'\000\000\001\001\004\000\000\000\001\210\000\000\016\001\005\000\000\000\001\000\013grpc-status\00213\000\000\010\007\000\000\000\000\000\000\000\000\001\000\000\000\000'
# bad frame lengths
seed h2 badlen '\000\000'"$P"'\000\000\005\004\000\000\000\000\000\000\001\000\000\000'
