#!/bin/bash
# tests/bench/run.sh BUILD_DIR: overhead of otshim measured against the same service
# without it, in one run. Configurations alternate round by round (A B A B ...) so
# machine drift cancels; the server is pinned to CPU 0 and the load client to CPU 1.
# Prints medians and ratios and writes tests/bench/RESULTS.md.
#   ROUNDS (default 5), SECONDS_PER_RUN (default 4), CONNS (default 16)
#   JEMALLOC (default /usr/lib/x86_64-linux-gnu/libjemalloc.so.2): bare-jemalloc baseline
#   for the allocator table (column n/a if the file is missing)
set -u
BUILD=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=$(cd "$ROOT" && cd "$BUILD" && pwd)
LIB=$BUILD/libotshim.so
SRV=$BUILD/tests/servers/srv_demo
ROUNDS=${ROUNDS:-5}
SECS=${SECONDS_PER_RUN:-4}
CONNS=${CONNS:-16}
JEMALLOC=${JEMALLOC:-/usr/lib/x86_64-linux-gnu/libjemalloc.so.2}
WORK=$(mktemp -d /tmp/otshim-bench.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$WORK"; }
trap cleanup EXIT

for f in "$LIB" "$SRV"; do [ -e "$f" ] || { echo "missing $f (run make)" >&2; exit 1; }; done
command -v wrk >/dev/null || { echo "wrk missing (make deps)" >&2; exit 1; }

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
spread() { sort -g | awk 'NR==1{lo=$1} {hi=$1} END {printf "%s..%s", lo, hi}'; }

# ---- 1. interposed read/write on a regular file ----
gcc -O2 -o "$WORK/bench_io" "$HERE/bench_io.c" || exit 1
for r in $(seq "$ROUNDS"); do
	"$WORK/bench_io" "/dev/shm/otshim-bench-$$" 2000000 > "$WORK/io.base.$r"
	LD_PRELOAD=$LIB OTSHIM_PROFILE_DIR=$WORK/p "$WORK/bench_io" "/dev/shm/otshim-bench-$$" 2000000 > "$WORK/io.shim.$r"
done
io() { cat "$WORK"/io."$1".* | awk -v k="$2" '$1==k{print $2}' | median; }
# Exact instructions per call (callgrind, start-up excluded): 2 calls per iteration.
io_instr() { # preload
	local a b
	a=$(LD_PRELOAD=$1 valgrind --tool=callgrind --callgrind-out-file=/dev/null "$WORK/bench_io" "/dev/shm/otshim-cg-$$" 100000 2>&1 | awk '/Collected/{print $4}')
	b=$(LD_PRELOAD=$1 valgrind --tool=callgrind --callgrind-out-file=/dev/null "$WORK/bench_io" "/dev/shm/otshim-cg-$$" 200000 2>&1 | awk '/Collected/{print $4}')
	awk -v a="$a" -v b="$b" 'BEGIN{ if (a && b) printf "%.1f", (b-a)/200000; else print "n/a" }'
}
IO_I_BASE=n/a IO_I_SHIM=n/a
if command -v valgrind >/dev/null; then IO_I_BASE=$(io_instr ""); IO_I_SHIM=$(io_instr "$LIB"); fi
WB=$(io base write_ns); WS=$(io shim write_ns); RB=$(io base read_ns); RS=$(io shim read_ns)

# ---- 1a. threads: create+join cost; capture time of a threads profile of 1,000 threads ----
gcc -O2 -pthread -o "$WORK/bench_threads" "$HERE/bench_threads.c" || exit 1
for r in $(seq "$ROUNDS"); do
	taskset -c 1 "$WORK/bench_threads" 20000 > "$WORK/thr.base.$r"
	LD_PRELOAD=$LIB OTSHIM_PROFILE_DIR=$WORK/p taskset -c 1 "$WORK/bench_threads" 20000 > "$WORK/thr.shim.$r"
done
thr() { cat "$WORK"/thr."$1".* | awk '{ print $2 }' | median; }
# The capture time is the threads profile's capture_ms comment.
capture_ms() {
	local d=$WORK/cap.$1 port
	port=$(free_port)
	LD_PRELOAD=$LIB OTSHIM_PROFILE_DIR=$d OTSHIM_SLOW_MS=100 "$SRV" --port "$port" >/dev/null 2>&1 &
	local spid=$!
	for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.05; done
	curl -s -o /dev/null "http://127.0.0.1:$port/spawn?n=1000&ms=60000"
	curl -s -o /dev/null "http://127.0.0.1:$port/sleep?ms=150"
	for _ in $(seq 100); do ls "$d"/threads-*.pb.gz >/dev/null 2>&1 && break; sleep 0.05; done
	HOME=$WORK GOCACHE=$WORK/gocache go tool pprof -comments "$d"/threads-*.pb.gz 2>/dev/null |
		awk -F= '/^capture_ms=/ { print $2 }'
	kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null
}
for r in $(seq "$ROUNDS"); do capture_ms "$r" > "$WORK/capms.$r"; done
CAPMS=$(cat "$WORK"/capms.* | median)

# ---- 1b. malloc+free: glibc, bare jemalloc, otshim (sampling on), otshim (sampling off) ----
# bench_malloc prints ns per malloc+free pair (per thread) for two shapes; see its header.
# 1-thread runs are pinned to CPU 1, 2-thread runs to CPUs 0,1; ~0.3 s per measurement.
gcc -O2 -fno-builtin -pthread -o "$WORK/bench_malloc" "$HERE/bench_malloc.c" || exit 1
MCFGS="glibc jemalloc otshim nosample"
mcfg_ok() { [ "$1" != jemalloc ] || [ -e "$JEMALLOC" ]; }
mrun() { # cfg command... : run the command under that configuration's allocator
	local cfg=$1; shift
	case $cfg in
	glibc) "$@" ;;
	jemalloc) LD_PRELOAD=$JEMALLOC "$@" ;;
	otshim) LD_PRELOAD=$LIB OTSHIM_PROFILE_DIR=$WORK/p "$@" ;;
	nosample) LD_PRELOAD=$LIB OTSHIM_PROFILE_DIR=$WORK/p OTSHIM_HEAP_SAMPLE_BYTES=0 "$@" ;;
	esac
}
for r in $(seq "$ROUNDS"); do
	for cfg in $MCFGS; do
		mcfg_ok "$cfg" || continue
		mrun "$cfg" taskset -c 1 "$WORK/bench_malloc" -t 1 > "$WORK/mal.$cfg.1t.$r"
		mrun "$cfg" taskset -c 0,1 "$WORK/bench_malloc" -t 2 > "$WORK/mal.$cfg.2t.$r"
	done
done
mal() { # cfg key (pair_1t_ns ...) -> median, or n/a
	local v
	v=$(cat "$WORK"/mal."$1".*.* 2>/dev/null | awk -v k="$2" '$1==k{print $2}')
	if [ -n "$v" ]; then echo "$v" | median; else echo n/a; fi
}
# Exact user-space instructions per pair (callgrind, 1 thread): the difference of two
# pair counts cancels start-up (and the preloaded library's initialisation). With
# sampling on, the average includes the occasional sampled allocation's stack walk.
MAL_N1=200000 MAL_N2=1000000
mal_instr() { # cfg shape
	local a b
	mcfg_ok "$1" || { echo n/a; return; }
	a=$(mrun "$1" valgrind --tool=callgrind --callgrind-out-file=/dev/null "$WORK/bench_malloc" -t 1 -s "$2" $MAL_N1 2>&1 | awk '/Collected/{print $4}')
	b=$(mrun "$1" valgrind --tool=callgrind --callgrind-out-file=/dev/null "$WORK/bench_malloc" -t 1 -s "$2" $MAL_N2 2>&1 | awk '/Collected/{print $4}')
	awk -v a="$a" -v b="$b" -v n=$((MAL_N2 - MAL_N1)) 'BEGIN{ if (a && b) printf "%.1f", (b-a)/n; else print "n/a" }'
}
if command -v valgrind >/dev/null; then
	for cfg in $MCFGS; do
		for shape in pair window; do eval "MI_${cfg}_${shape}=\$(mal_instr $cfg $shape)"; done
	done
fi

# ---- 2. HTTP throughput ----

# Span export goes to a sink on the load client's CPU (a collector is elsewhere in real
# life; here it must at least not share the server's CPU).
SINK_PORT=$(free_port)
taskset -c 1 python3 "$HERE/otlp_sink.py" "$SINK_PORT" & PIDS+=("$!")
OTLP_ENV="OTEL_TRACES_EXPORTER=otlp OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$SINK_PORT"

start_demo() { # $1 = preload (empty or lib); CONT = OTSHIM_CONTINUOUS_SEC (default 0); EXPORT=1: spans
	local port; port=$(free_port)
	local otlp=""; [ "${EXPORT:-0}" = 1 ] && otlp=$OTLP_ENV
	# shellcheck disable=SC2086 # $otlp is a list of assignments on purpose
	env LD_PRELOAD="$1" OTSHIM_PROFILE_DIR="$WORK/p" OTSHIM_CONTINUOUS_SEC="${CONT:-0}" $otlp \
		taskset -c 0 "$SRV" --port "$port" >/dev/null 2>&1 &
	SPID=$!; PIDS+=("$SPID")
	for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.05; done
	PORT=$port
}
stop_demo() { kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; }

start_nginx() { # $1 = preload
	local port; port=$(free_port)
	local d=$WORK/nginx; mkdir -p "$d/html" "$d/logs"
	head -c 1024 /dev/zero | tr '\0' x > "$d/html/index.html"
	cat > "$d/nginx.conf" <<EOF
worker_processes 1;
pid $d/nginx.pid;
error_log $d/logs/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  server { listen 127.0.0.1:$port; root $d/html; }
}
EOF
	LD_PRELOAD=$1 OTSHIM_PROFILE_DIR=$WORK/p taskset -c 0 /usr/sbin/nginx -p "$d" -c "$d/nginx.conf" -g 'daemon off;' 2>/dev/null &
	SPID=$!; PIDS+=("$SPID")
	for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.05; done
	PORT=$port
}
stop_nginx() { kill -QUIT "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; }

load() { # prints requests/s
	taskset -c 1 wrk -t1 -c"$CONNS" -d"${SECS}s" "http://127.0.0.1:$PORT/" 2>/dev/null |
		awk '/Requests\/sec/{print $2}'
}

rss_of() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
# nginx answers from its worker, the master's only child.
serving_pid() { if [ "$1" = nginx ]; then pgrep -P "$SPID" | head -1; else echo "$SPID"; fi; }
# Fixed memory cost: resident set of an idle process (sleep), with and without the shim.
for r in $(seq "$ROUNDS"); do
	for cfg in base shim; do
		pre=""; [ "$cfg" = shim ] && pre=$LIB
		LD_PRELOAD=$pre OTSHIM_PROFILE_DIR=$WORK/p sleep 2 & spid=$!
		sleep 0.3
		rss_of "$spid" > "$WORK/rss.idle.$cfg.$r"
		kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null
	done
done

for svc in demo nginx; do
	for r in $(seq "$ROUNDS"); do
		cfgs="base shim"
		# continuous mode (2 s periods at 100 Hz); span export (OTLP, spec defaults)
		[ "$svc" = demo ] && cfgs="base shim cont otlp"
		for cfg in $cfgs; do
			pre=""; [ "$cfg" != base ] && pre=$LIB
			CONT=0; [ "$cfg" = cont ] && CONT=2
			EXPORT=0; [ "$cfg" = otlp ] && EXPORT=1
			rm -f "$WORK"/p/otshim-stats-*.json
			"start_$svc" "$pre"
			load > "$WORK/rps.$svc.$cfg.$r"
			rss_of "$(serving_pid "$svc")" > "$WORK/rss.$svc.$cfg.$r"
			"stop_$svc"
			if [ "$cfg" = otlp ]; then # share of the requests whose spans were exported
				python3 -c 'import glob,json,sys; s=[json.load(open(f)) for f in glob.glob(sys.argv[1]+"/otshim-stats-*.json")]; r=sum(x["requests"] for x in s); print(sum(x["spans_exported"] for x in s)/r if r else 0)' \
					"$WORK/p" > "$WORK/exported.$r"
			fi
		done
	done
done
# ---- 3. user-space instructions per request (callgrind: exact, immune to noise) ----
# The service answers N1 then N2 keep-alive requests under callgrind; the difference
# of the two totals over N2-N1 is the cost of one request, start-up excluded.
HTTPC="python3 $ROOT/tests/tools/httpc.py"
instr_run() { # svc preload n -> total instructions (EXPORT=1: with span export)
	local svc=$1 pre=$2 n=$3 out=$WORK/cg.$RANDOM port
	local otlp=""; [ "${EXPORT:-0}" = 1 ] && otlp=$OTLP_ENV
	port=$(free_port)
	if [ "$svc" = demo ]; then
		# shellcheck disable=SC2086 # $otlp is a list of assignments on purpose
		env LD_PRELOAD="$pre" OTSHIM_PROFILE_DIR="$WORK/p" $otlp valgrind --tool=callgrind --callgrind-out-file=/dev/null \
			"$SRV" --port "$port" >/dev/null 2>"$out" &
	else
		local d=$WORK/nginx-cg; mkdir -p "$d/html" "$d/logs"
		head -c 1024 /dev/zero | tr '\0' x > "$d/html/index.html"
		printf 'master_process off; daemon off; user root root; pid %s/pid; error_log %s/logs/e.log;\nevents { worker_connections 64; }\nhttp { access_log off; keepalive_requests 1000000; server { listen 127.0.0.1:%s; root %s/html; } }\n' \
			"$d" "$d" "$port" "$d" > "$d/nginx.conf"
		LD_PRELOAD=$pre OTSHIM_PROFILE_DIR=$WORK/p valgrind --tool=callgrind --callgrind-out-file=/dev/null \
			/usr/sbin/nginx -p "$d" -c "$d/nginx.conf" >/dev/null 2>"$out" &
	fi
	local vpid=$!
	for _ in $(seq 200); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
	$HTTPC keepalive --port "$port" --n "$n" >/dev/null
	kill -QUIT "$vpid" 2>/dev/null; kill -TERM "$vpid" 2>/dev/null; wait "$vpid" 2>/dev/null
	awk '/Collected/{print $4}' "$out"
}
instr_per_req() { # svc preload
	local a b
	a=$(instr_run "$1" "$2" 1000); b=$(instr_run "$1" "$2" 3000)
	awk -v a="$a" -v b="$b" 'BEGIN{ if (a && b) printf "%.0f", (b-a)/2000; else print "n/a" }'
}
if command -v valgrind >/dev/null; then
	for svc in demo nginx; do
		eval "IPR_${svc}_base=\$(instr_per_req $svc '')"
		eval "IPR_${svc}_shim=\$(instr_per_req $svc '$LIB')"
	done
	IPR_demo_otlp=$(EXPORT=1 instr_per_req demo "$LIB")
fi

rps() { cat "$WORK"/rps."$1"."$2".* | median; }
rsp() { cat "$WORK"/rps."$1"."$2".* | spread; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b>0) printf "%.3f", a/b; else print "n/a" }'; }

{
	echo "## otshim overhead ($(date -u +%Y-%m-%d), $(nproc) cores, kernel $(uname -r))"
	echo
	echo "Medians of $ROUNDS alternating rounds; server on CPU 0, wrk -t1 -c$CONNS on CPU 1, ${SECS}s per run."
	echo
	echo "| measurement | without shim | with shim | ratio / delta |"
	echo "|---|---|---|---|"
	printf "| write(2) 64 B to tmpfs, ns/call | %s | %s | %s ns |\n" "$WB" "$WS" "$(awk -v a="$WS" -v b="$WB" 'BEGIN{printf "%+.1f", a-b}')"
	printf "| read(2) 64 B from tmpfs, ns/call | %s | %s | %s ns |\n" "$RB" "$RS" "$(awk -v a="$RS" -v b="$RB" 'BEGIN{printf "%+.1f", a-b}')"
	printf "| read/write user-space instructions per call (callgrind) | %s | %s | +%s |\n" "$IO_I_BASE" "$IO_I_SHIM" \
		"$(awk -v a="$IO_I_SHIM" -v b="$IO_I_BASE" 'BEGIN{ if (a+0 && b+0) printf "%.1f", a-b; else print "n/a" }')"
	for svc in demo nginx; do
		b=$(eval echo "\${IPR_${svc}_base:-n/a}"); w=$(eval echo "\${IPR_${svc}_shim:-n/a}")
		printf "| %s user-space instructions per keep-alive request (callgrind) | %s | %s | +%s |\n" "$svc" \
			"$b" "$w" "$(awk -v a="$w" -v b="$b" 'BEGIN{ if (a+0 && b+0) print a-b; else print "n/a" }')"
	done
	for svc in demo nginx; do
		printf "| %s req/s, no slow requests (spread) | %s (%s) | %s (%s) | %s |\n" "$svc" \
			"$(rps $svc base)" "$(rsp $svc base)" "$(rps $svc shim)" "$(rsp $svc shim)" \
			"$(ratio "$(rps $svc shim)" "$(rps $svc base)")"
	done
	printf "| demo req/s, continuous mode (2 s periods, 100 Hz; spread) | %s (%s) | %s (%s) | %s |\n" \
		"$(rps demo base)" "$(rsp demo base)" "$(rps demo cont)" "$(rsp demo cont)" \
		"$(ratio "$(rps demo cont)" "$(rps demo base)")"
	printf "| demo req/s, every request exported as an OTLP span (spread) | %s (%s) | %s (%s) | %s |\n" \
		"$(rps demo base)" "$(rsp demo base)" "$(rps demo otlp)" "$(rsp demo otlp)" \
		"$(ratio "$(rps demo otlp)" "$(rps demo base)")"
	printf "| demo req/s, span export on vs the shim without it | %s | %s | %s |\n" \
		"$(rps demo shim)" "$(rps demo otlp)" "$(ratio "$(rps demo otlp)" "$(rps demo shim)")"
	printf "| share of requests whose spans were exported at saturation (rest dropped, counted) | n/a | %s (%s) | |\n" \
		"$(cat "$WORK"/exported.* | median)" "$(cat "$WORK"/exported.* | spread)"
	printf "| demo user-space instructions per keep-alive request, span export on (callgrind) | %s | %s | +%s |\n" \
		"${IPR_demo_base:-n/a}" "${IPR_demo_otlp:-n/a}" \
		"$(awk -v a="${IPR_demo_otlp:-}" -v b="${IPR_demo_base:-}" 'BEGIN{ if (a+0 && b+0) print a-b; else print "n/a" }')"
	printf "| pthread_create+join, us per thread | %s | %s | %s |\n" "$(thr base)" "$(thr shim)" "$(ratio "$(thr shim)" "$(thr base)")"
	printf "| threads profile of 1,000 threads: capture time, ms | n/a | %s | |\n" "${CAPMS:-n/a}"
	for svc in idle demo nginx; do
		case $svc in
		idle) label="resident set of an idle process (sleep), kB" ;;
		*) label="$svc resident set after its load run, kB" ;;
		esac
		b=$(cat "$WORK"/rss.$svc.base.* | median); w=$(cat "$WORK"/rss.$svc.shim.* | median)
		printf "| %s | %s | %s | +%s kB |\n" "$label" "$b" "$w" "$(awk -v a="$w" -v b="$b" 'BEGIN{ print a-b }')"
	done
	echo
	echo "## Allocator: malloc+free cost"
	echo
	echo "Medians of $ROUNDS alternating rounds of tests/bench/bench_malloc.c; 1 thread pinned to CPU 1, 2 threads to CPUs 0,1."
	echo "Sizes 16 B..4 KiB, a fixed log-uniform pseudo-random sequence. *pair*: malloc, touch, free at once;"
	echo "*window*: 64 live blocks, free the oldest then malloc. 2 threads: each runs its own loop; ns per pair per"
	echo "thread = wall time / pairs per thread (= 1-thread figure if scaling is perfect). jemalloc: bare"
	echo "LD_PRELOAD of $(basename "$JEMALLOC"); otshim: default settings (heap sampling on); sampling off:"
	echo "OTSHIM_HEAP_SAMPLE_BYTES=0. Ratios use the sampling-on otshim column."
	echo
	echo "| measurement | glibc | jemalloc | otshim | otshim, sampling off | otshim / jemalloc | otshim / glibc |"
	echo "|---|---|---|---|---|---|---|"
	mratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a+0 > 0 && b+0 > 0) printf "%.3f", a/b; else print "n/a" }'; }
	mrow() { # label glibc jemalloc otshim nosample
		printf "| %s | %s | %s | %s | %s | %s | %s |\n" "$1" "$2" "$3" "$4" "$5" "$(mratio "$4" "$3")" "$(mratio "$4" "$2")"
	}
	for k in pair_1t pair_2t window_1t window_2t; do
		case $k in
		pair_1t) label="malloc+free pair, 1 thread, ns" ;;
		pair_2t) label="malloc+free pair, 2 threads, ns per pair per thread" ;;
		window_1t) label="malloc+free window of 64 live blocks, 1 thread, ns" ;;
		window_2t) label="malloc+free window of 64 live blocks, 2 threads, ns per pair per thread" ;;
		esac
		mrow "$label" "$(mal glibc ${k}_ns)" "$(mal jemalloc ${k}_ns)" "$(mal otshim ${k}_ns)" "$(mal nosample ${k}_ns)"
	done
	for shape in pair window; do
		mrow "malloc+free $shape user-space instructions per pair (callgrind, 1 thread)" \
			"$(eval echo "\${MI_glibc_${shape}:-n/a}")" "$(eval echo "\${MI_jemalloc_${shape}:-n/a}")" \
			"$(eval echo "\${MI_otshim_${shape}:-n/a}")" "$(eval echo "\${MI_nosample_${shape}:-n/a}")"
	done
} | tee "$HERE/RESULTS.md"
