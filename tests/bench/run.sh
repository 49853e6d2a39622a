#!/bin/bash
# tests/bench/run.sh BUILD_DIR: overhead of otshim measured against the same service
# without it and against the LD_PRELOAD profilers a user would pick instead (jemalloc
# alone, gperftools' CPU profiler, tcmalloc's heap profiler, heaptrack), in one run.
# Configurations alternate round by round (A B C ... A B C ...) so machine drift
# cancels; the server is pinned to CPU 0 and the load client to CPU 1. Also: the
# allocator microbenchmark under each allocator/profiler, and truth.sh (are the
# profiles true?). Prints medians and ratios and writes tests/bench/RESULTS.md.
#   BENCH_ROUNDS (default 5), BENCH_SECONDS per load run (default 4), CONNS (default 16),
#   BENCH_WARMUP seconds of unmeasured load before each run (default 1)
#   BENCH_ONLY: comma list of sections to run (io,threads,malloc,http,instr,rss,https,truth,
#     h2,outbound);
#     default all. A full run writes tests/bench/RESULTS.md (the README keeps a short
#     summary of it, by hand); a partial run only prints, unless BENCH_OUT names a file
#     for the tables.
#   BENCH_CONFIGS: the throughput configurations to run (default all; see section 2)
#   KEEP=1: keep the scratch directory (/tmp/otshim-bench.*) to look at the raw runs
#   JEMALLOC, TCMALLOC, PROFILER: the libraries (default Debian's, multiarch path); a
#   missing one gives n/a in its column
set -u
BUILD=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=$(cd "$ROOT" && cd "$BUILD" && pwd)
LIB=$BUILD/libotshim.so
SRV=$BUILD/tests/servers/srv_demo
ROUNDS=${BENCH_ROUNDS:-${ROUNDS:-5}}
SECS=${BENCH_SECONDS:-${SECONDS_PER_RUN:-4}}
CONNS=${CONNS:-16}
WARMUP=${BENCH_WARMUP:-1}
ONLY=${BENCH_ONLY:-all}
MA=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
JEMALLOC=${JEMALLOC:-/usr/lib/$MA/libjemalloc.so.2}
TCMALLOC=${TCMALLOC:-/usr/lib/$MA/libtcmalloc.so.4}
PROFILER=${PROFILER:-/usr/lib/$MA/libprofiler.so.0}
export JEMALLOC TCMALLOC PROFILER BENCH_ROUNDS=$ROUNDS
WORK=$(mktemp -d /tmp/otshim-bench.XXXXXX)
# nginx's workers run as nobody: they must reach the profile directories below
chmod 711 "$WORK"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; [ -n "${KEEP:-}" ] || rm -rf "$WORK"; }
trap cleanup EXIT
want() { [ "$ONLY" = all ] || case ",$ONLY," in *",$1,"*) ;; *) false ;; esac; }
T0=$SECONDS
took() { echo "bench: $1 done after $((SECONDS - T0)) s" >&2; }

for f in "$LIB" "$SRV"; do [ -e "$f" ] || { echo "missing $f (run make)" >&2; exit 1; }; done
for c in wrk heaptrack gdb jeprof go; do command -v $c >/dev/null || { echo "$c missing (make deps)" >&2; exit 1; }; done

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
spread() { sort -g | awk 'NR==1{lo=$1} {hi=$1} END {printf "%s..%s", lo, hi}'; }
rss_of() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
# CPU time (clock ticks, all threads) of the given processes; the name field can hold spaces
cpu_ticks() { local p t=0; for p in "$@"; do t=$((t + $(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}' || echo 0))); done; echo "$t"; }
now_ms() { date +%s%3N; }

# Span export goes to a sink on the load client's CPU (a collector is elsewhere in real
# life; here it must at least not share the server's CPU).
SINK_PORT=$(free_port)
if want http || want instr; then taskset -c 1 python3 "$HERE/otlp_sink.py" "$SINK_PORT" & PIDS+=("$!"); fi
OTLP_ENV="OTEL_TRACES_EXPORTER=otlp OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$SINK_PORT"

# ---- 1. interposed read/write on a regular file ----
if want io; then
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
	took io
fi

# ---- 1a. threads: create+join cost; capture time of a threads profile of 1,000 threads ----
if want threads; then
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
	took threads
fi

# ---- 1b. malloc+free: glibc, bare jemalloc, tcmalloc, tcmalloc's heap profiler,
# heaptrack, otshim (sampling on), otshim (sampling off) ----
# bench_malloc prints ns per malloc+free pair (per thread) for two shapes; see its header.
# 1-thread runs are pinned to CPU 1, 2-thread runs to CPUs 0,1; ~0.3 s per measurement
# (bench_malloc calibrates under the configuration itself). heaptrack's own pipeline
# (its interpreter and compressor, fed through a pipe) is pinned with the program: what
# it costs lands on the CPUs measured, as it would on a busy host.
if want malloc; then
	MCFGS="glibc jemalloc tcmalloc tcheap heaptrack otshim nosample"
	mcfg_ok() {
		case $1 in
		jemalloc) [ -e "$JEMALLOC" ] ;;
		tcmalloc | tcheap) [ -e "$TCMALLOC" ] ;;
		*) true ;;
		esac
	}
	mrun() { # cfg cpus command... : the command under that configuration, pinned to cpus if given
		local cfg=$1 cpus=$2 pin=()
		shift 2
		[ -n "$cpus" ] && pin=(taskset -c "$cpus")
		# taskset before env: a preload given to taskset itself would profile taskset too
		case $cfg in
		glibc) "${pin[@]}" "$@" ;;
		jemalloc) "${pin[@]}" env LD_PRELOAD="$JEMALLOC" "$@" ;;
		tcmalloc) "${pin[@]}" env LD_PRELOAD="$TCMALLOC" "$@" ;;
		tcheap) rm -rf "$WORK/hpm"; mkdir -p "$WORK/hpm"
			"${pin[@]}" env LD_PRELOAD="$TCMALLOC" HEAPPROFILE="$WORK/hpm/m" "$@" 2>/dev/null ;;
		heaptrack) "${pin[@]}" heaptrack -o "$WORK/ht-malloc" "$@" 2>/dev/null ;;
		otshim) "${pin[@]}" env LD_PRELOAD="$LIB" OTSHIM_PROFILE_DIR="$WORK/p" "$@" ;;
		nosample) "${pin[@]}" env LD_PRELOAD="$LIB" OTSHIM_PROFILE_DIR="$WORK/p" OTSHIM_HEAP_SAMPLE_BYTES=0 "$@" ;;
		esac
	}
	gcc -O2 -fno-builtin -pthread -o "$WORK/bench_malloc" "$HERE/bench_malloc.c" || exit 1
	for r in $(seq "$ROUNDS"); do
		for cfg in $MCFGS; do
			mcfg_ok "$cfg" || continue
			mrun "$cfg" 1 "$WORK/bench_malloc" -t 1 > "$WORK/mal.$cfg.1t.$r"
			mrun "$cfg" 0,1 "$WORK/bench_malloc" -t 2 > "$WORK/mal.$cfg.2t.$r"
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
	# Not for the two profilers that record every allocation (minutes under callgrind).
	MAL_N1=200000 MAL_N2=1000000
	mal_instr() { # cfg shape
		local a b
		mcfg_ok "$1" || { echo n/a; return; }
		case $1 in tcheap | heaptrack) echo n/a; return ;; esac
		a=$(mrun "$1" "" valgrind --tool=callgrind --callgrind-out-file=/dev/null "$WORK/bench_malloc" -t 1 -s "$2" $MAL_N1 2>&1 | awk '/Collected/{print $4}')
		b=$(mrun "$1" "" valgrind --tool=callgrind --callgrind-out-file=/dev/null "$WORK/bench_malloc" -t 1 -s "$2" $MAL_N2 2>&1 | awk '/Collected/{print $4}')
		awk -v a="$a" -v b="$b" -v n=$((MAL_N2 - MAL_N1)) 'BEGIN{ if (a && b) printf "%.1f", (b-a)/n; else print "n/a" }'
	}
	if command -v valgrind >/dev/null; then
		for cfg in $MCFGS; do
			for shape in pair window; do eval "MI_${cfg}_${shape}=\$(mal_instr $cfg $shape)"; done
		done
	fi
	took malloc
fi

# ---- 2. HTTP throughput: otshim against the other LD_PRELOAD profilers ----
# ---- HTTP/2: h2load against nghttpd --no-tls and a Node.js http2 service, without and
# with the shim ----
# Same run, alternated rounds, server on CPU 0 and load on CPU 1; every response is
# checked (h2load's succeeded count must equal the requests sent). nghttpd is about the
# lightest HTTP/2 server there is (some 13,000 instructions a stream), so the two HPACK
# decoders the shim runs weigh most there; the Node.js service (tests/servers/h2_demo.js,
# which logs a line per stream) stands for an application.
if want h2; then
	H2_N=${H2_N:-200000}
	H2_NODE_N=${H2_NODE_N:-150000}
	mkdir -p "$WORK/h2www"
	head -c 1024 /dev/zero | tr '\0' x >"$WORK/h2www/k1"
	h2round() { # h2round SERVER CFG ROUND: one h2load run against a fresh server (nghttpd, node)
		local port pid pre="" n=$H2_N
		port=$(free_port)
		[ "$2" = shim ] && pre=$LIB
		[ "$2" = jemalloc ] && pre=$JEMALLOC
		if [ "$1" = node ]; then
			n=$H2_NODE_N
			env ${pre:+LD_PRELOAD=$pre} OTSHIM_PROFILE_DIR="$WORK/p.h2" \
				taskset -c 0 node "$ROOT/tests/servers/h2_demo.js" "$port" /dev/null >/dev/null 2>&1 &
		else
			env ${pre:+LD_PRELOAD=$pre} OTSHIM_PROFILE_DIR="$WORK/p.h2" \
				taskset -c 0 nghttpd --no-tls -d "$WORK/h2www" "$port" >/dev/null 2>&1 &
		fi
		pid=$!
		# (nghttp exits 0 even when it cannot connect: curl says whether a 200 came)
		h2up() { curl -sf -o /dev/null --http2-prior-knowledge "http://127.0.0.1:$port/k1"; }
		for _ in $(seq 200); do h2up && break; sleep 0.05; done
		h2up || { echo "h2 bench: $1 $2 round $3: the server did not start" >&2; exit 1; }
		taskset -c 1 h2load -n "$n" -c 8 -m 16 "http://127.0.0.1:$port/k1" >"$WORK/h2.$1.$2.$3" 2>&1
		kill -TERM "$pid"; wait "$pid" 2>/dev/null
		grep -q " $n succeeded" "$WORK/h2.$1.$2.$3" ||
			{ echo "h2 bench: $1 $2 round $3: not every response succeeded:" >&2; grep -E '^(requests|status|error)' "$WORK/h2.$1.$2.$3" | tail -5 >&2; exit 1; }
	}
	H2_SERVERS="nghttpd"
	command -v node >/dev/null && H2_SERVERS="nghttpd node"
	for srv in $H2_SERVERS; do
		for r in $(seq "$ROUNDS"); do
			h2round "$srv" base "$r"; h2round "$srv" shim "$r"
			[ -e "$JEMALLOC" ] && h2round "$srv" jemalloc "$r"
		done
	done
	h2rps() { for f in "$WORK"/h2."$1"."$2".*; do awk '/^finished in/ { gsub(/,/, ""); print $4 }' "$f"; done | median; }
	# Instructions per stream under callgrind (exact where the rates above swing): the
	# server's total after 2,000 and after 8,000 streams, the difference over 6,000.
	# nghttpd only: a Node.js service's own count per stream varies by some 4 % from run
	# to run (its JIT and collector), more than the shim adds.
	h2instr_run() { # PRELOAD N -> nghttpd's instructions
		local port pid out=$WORK/h2cg.$RANDOM
		port=$(free_port)
		env ${1:+LD_PRELOAD=$1} OTSHIM_PROFILE_DIR="$WORK/p.h2" OTSHIM_SLOW_MS=86400000 \
			valgrind --tool=callgrind --callgrind-out-file=/dev/null \
			nghttpd --no-tls -d "$WORK/h2www" "$port" >/dev/null 2>"$out" &
		pid=$!
		for _ in $(seq 600); do curl -sf -o /dev/null --http2-prior-knowledge "http://127.0.0.1:$port/k1" && break; sleep 0.1; done
		h2load -n "$2" -c 8 -m 16 "http://127.0.0.1:$port/k1" 2>&1 | grep -q " $2 succeeded" || echo "h2 bench: nghttpd under callgrind: not every response succeeded" >&2
		kill -TERM "$pid"; wait "$pid" 2>/dev/null
		awk '/Collected/{print $4}' "$out"
	}
	h2instr() { # PRELOAD -> nghttpd's instructions per stream
		local a b
		a=$(h2instr_run "$1" 2000); b=$(h2instr_run "$1" 8000)
		awk -v a="$a" -v b="$b" 'BEGIN { if (a && b) printf "%.0f", (b - a) / 6000; else print "n/a" }'
	}
	{
		echo "HTTP/2 (h2c, h2load -c 8 -m 16 on CPU 1, the server on CPU 0, $ROUNDS rounds alternated, median req/s):"
		echo
		echo "| server | base | jemalloc alone | otshim | otshim / base | otshim / jemalloc alone |"
		echo "|---|---|---|---|---|---|"
		for srv in $H2_SERVERS; do
			label="nghttpd --no-tls, a 1 KiB file"
			[ "$srv" = node ] && label="Node.js http2 service (3-byte answer, a log line per stream)"
			awk -v l="$label" -v b="$(h2rps "$srv" base)" -v s="$(h2rps "$srv" shim)" -v j="$(h2rps "$srv" jemalloc)" \
				'BEGIN { printf "| %s | %.0f | %s | %.0f | %.3f | %s |\n", l, b, j ? sprintf("%.0f", j) : "n/a", s, s / b, j ? sprintf("%.3f", s / j) : "n/a" }'
		done
		if command -v valgrind >/dev/null; then
			echo
			echo "| server: user-space instructions per stream (callgrind) | base | otshim | delta |"
			echo "|---|---|---|---|"
			b=$(h2instr ""); w=$(h2instr "$LIB")
			awk -v b="$b" -v w="$w" 'BEGIN { printf "| nghttpd | %s | %s | %s |\n", b, w, (b + 0 && w + 0) ? sprintf("%+d", w - b) : "n/a" }'
		fi
	} >"$WORK/h2.md"
	took h2
fi

if want http; then


	# Configurations (each service runs every one that applies, alternating, each round):
	#   base       no preload
	#   jemalloc   LD_PRELOAD=libjemalloc.so.2 alone (otshim's allocator, without otshim)
	#   gperf      gperftools' CPU profiler, libprofiler.so at CPUPROFILE_FREQUENCY=100
	#   tcheap     tcmalloc with its heap profiler (HEAPPROFILE): every allocation recorded
	#   heaptrack  heaptrack, every allocation traced through a pipe to its interpreter
	#   shim       otshim, defaults (no request is slow)
	#   shimsys    otshim with OTSHIM_ALLOCATOR=system (glibc's malloc behind the shim)
	#   noring     otshim without the CPU ring kept before the threshold (OTSHIM_CPU_ROUTE=timer,
	#              which has no ring; no request is slow, so its timers never run): the ring's
	#              cost is shim against noring (the kernel's sampling of each busy serving thread)
	#   cont       otshim, continuous mode (OTSHIM_CONTINUOUS_SEC=2: whole-process CPU at
	#              100 Hz and a heap snapshot written every 2 s)
	#   contproc   the same with one timer on the process's CPU clock
	#              (OTSHIM_PROCESS_CPU_TIMER=process) rather than one per thread
	#   otlp       otshim, every request exported as an OTLP span (demo only)
	#   base1 / slow1   demo only: no preload / otshim, on a load where every 100th request
	#              is /cpu?ms=2 and OTSHIM_SLOW_MS=1, so 1 % of requests are slow and are
	#              CPU-profiled (files written up to OTSHIM_MAX_PROFILES_PER_MIN, the rest
	#              counted as dropped). A slow request must really run past the threshold,
	#              and a traceparent header does not make a request slow; the baseline gets
	#              the same mix, so the ratio is what profiling the slow ones costs.
	#              nginx serving a static file has no request that lasts 1 ms: not run.
	# A profiler that writes files gets a directory nginx's workers (nobody) can write.
	DEMO_CFGS="base jemalloc gperf tcheap heaptrack shim shimsys noring cont contproc otlp base1 slow1"
	NGINX_CFGS="base jemalloc gperf tcheap heaptrack shim shimsys noring cont contproc"
	if [ -n "${BENCH_CONFIGS:-}" ]; then # a subset, e.g. "base shim" (in the lists' order)
		only_cfgs() { local c; for c in $1; do case " $BENCH_CONFIGS " in *" $c "*) printf '%s ' "$c" ;; esac; done; }
		DEMO_CFGS=$(only_cfgs "$DEMO_CFGS") NGINX_CFGS=$(only_cfgs "$NGINX_CFGS")
	fi
	MIX_LUA=$WORK/mix.lua
	cat > "$MIX_LUA" <<-'LUA'
	-- every 100th request is /cpu?ms=2 (2 ms of the serving thread's CPU), the rest /
	local n, fast, slow = 0, nil, nil
	init = function() fast = wrk.format("GET", "/"); slow = wrk.format("GET", "/cpu?ms=2") end
	request = function() n = n + 1; if n % 100 == 0 then return slow end; return fast end
	LUA
	GPSIG=44 # CPUPROFILESIGNAL for nginx's workers (a real-time signal nginx leaves alone)

	cfg_env() { # cfg svc round: the environment assignments of that configuration
		local d=$WORK/out.$2.$1.$3
		mkdir -p "$d" && chmod 777 "$d"
		case $1 in
		base | base1 | heaptrack) ;;
		jemalloc) echo "LD_PRELOAD=$JEMALLOC" ;;
		gperf)
			echo "LD_PRELOAD=$PROFILER CPUPROFILE_FREQUENCY=100"
			if [ "$2" = nginx ]; then
				# The profiler starts in the process whose constructor sees CPUPROFILE: in
				# nginx that is the master, and setitimer does not survive fork. So each
				# worker is switched on by signal (the handler does survive fork), reads
				# CPUPROFILE then (nginx.conf's `env CPUPROFILE;` lets it through), and with
				# the value's first byte's high bit set, as gperftools marks it for
				# children, names its file CPUPROFILE_<pid>.
				printf 'CPUPROFILESIGNAL=%s CPUPROFILE=%b%s\n' $GPSIG '\xaf' "${d#/}/cpu"
			else
				echo "CPUPROFILE=$d/cpu"
			fi ;;
		tcheap) echo "LD_PRELOAD=$TCMALLOC HEAPPROFILE=$d/heap" ;;
		shim) echo "LD_PRELOAD=$LIB OTSHIM_PROFILE_DIR=$d" ;;
		shimsys) echo "LD_PRELOAD=$LIB OTSHIM_PROFILE_DIR=$d OTSHIM_ALLOCATOR=system" ;;
		noring) echo "LD_PRELOAD=$LIB OTSHIM_PROFILE_DIR=$d OTSHIM_CPU_ROUTE=timer" ;;
		cont) echo "LD_PRELOAD=$LIB OTSHIM_PROFILE_DIR=$d OTSHIM_CONTINUOUS_SEC=2" ;;
		contproc) echo "LD_PRELOAD=$LIB OTSHIM_PROFILE_DIR=$d OTSHIM_CONTINUOUS_SEC=2 OTSHIM_PROCESS_CPU_TIMER=process" ;;
		otlp) echo "LD_PRELOAD=$LIB OTSHIM_PROFILE_DIR=$d $OTLP_ENV" ;;
		slow1) echo "LD_PRELOAD=$LIB OTSHIM_PROFILE_DIR=$d OTSHIM_SLOW_MS=1" ;;
		esac
	}
	wait_http() { for _ in $(seq 200); do curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0; sleep 0.05; done; return 1; }
	# heaptrack attaches to each running worker (gdb injection): heaptrack as a wrapper
	# follows no fork, so under it only nginx's master would be traced.
	attach_heaptrack() { # pids...: attach, wait until every injection is done
		local w n=0
		HT_PIDS=()
		for w in "$@"; do
			taskset -c 0 heaptrack -o "$WORK/ht.$w" -p "$w" > "$WORK/ht.$w.log" 2>&1 &
			HT_PIDS+=("$!"); PIDS+=("$!"); n=$((n + 1))
		done
		for _ in $(seq 600); do
			local done=0
			for w in "$@"; do grep -q 'injection finished' "$WORK/ht.$w.log" 2>/dev/null && done=$((done + 1)); done
			[ "$done" -ge "$n" ] && return 0
			sleep 0.05
		done
		echo "bench: heaptrack did not attach" >&2
	}

	start_demo() { # cfg round
		local port; port=$(free_port)
		local envs; envs=$(cfg_env "$1" demo "$2")
		HT_PIDS=()
		if [ "$1" = heaptrack ]; then
			taskset -c 0 heaptrack -o "$WORK/ht.demo.$2" "$SRV" --port "$port" >/dev/null 2>&1 &
			HT_PIDS=("$!"); PIDS+=("$!")
			wait_http "$port"
			SPID=$(pgrep -P "${HT_PIDS[0]}" -x srv_demo)
		else
			# shellcheck disable=SC2086 # $envs is a list of assignments on purpose
			taskset -c 0 env $envs "$SRV" --port "$port" >/dev/null 2>&1 &
			SPID=$!; PIDS+=("$SPID")
			wait_http "$port"
		fi
		PORT=$port
	}
	stop_demo() {
		kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null
		for p in "${HT_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	}

	start_nginx() { # cfg round
		local port; port=$(free_port)
		local d=$WORK/nginx; mkdir -p "$d/html" "$d/logs"
		local envs; envs=$(cfg_env "$1" nginx "$2")
		head -c 1024 /dev/zero | tr '\0' x > "$d/html/index.html"
		cat > "$d/nginx.conf" <<-NGX
	worker_processes 2;
	env CPUPROFILE;
	env CPUPROFILE_FREQUENCY;
	pid $d/nginx.pid;
	error_log $d/logs/error.log;
	events { worker_connections 1024; }
	http {
	  access_log off;
	  server { listen 127.0.0.1:$port; root $d/html; }
	}
	NGX
		# shellcheck disable=SC2086 # $envs is a list of assignments on purpose
		taskset -c 0 env $envs /usr/sbin/nginx -p "$d" -c "$d/nginx.conf" -g 'daemon off;' 2>/dev/null &
		SPID=$!; PIDS+=("$SPID")
		wait_http "$port"
		local workers; workers=$(pgrep -P "$SPID")
		HT_PIDS=()
		# shellcheck disable=SC2086 # $workers: one pid a word
		case $1 in
		gperf) for w in $workers; do kill -$GPSIG "$w"; done ;;
		heaptrack) attach_heaptrack $workers ;; # one pid a word
		esac
		PORT=$port
	}
	stop_nginx() {
		kill -QUIT "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null
		for p in "${HT_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	}

	load() { # seconds [lua script] -> requests/s
		local script=()
		[ -n "${2:-}" ] && script=(-s "$2")
		taskset -c 1 wrk -t1 -c"$CONNS" -d"${1}s" "${script[@]}" "http://127.0.0.1:$PORT/" 2>/dev/null |
			awk '/Requests\/sec/{print $2}'
	}

	# nginx answers from its workers, the master's children.
	serving_pid() { if [ "$1" = nginx ]; then pgrep -P "$SPID" | head -1; else echo "$SPID"; fi; }
	serving_pids() { if [ "$1" = nginx ]; then pgrep -P "$SPID"; else echo "$SPID"; fi; }
	# CPU time the server got over the run's wall time: on a loaded machine a run can get
	# 1..80 % of CPU 0 and its req/s follows, with or without a profiler (a 60x spread of
	# no-preload runs was seen beside a strace pinned to CPU 0): such a ratio is noise.
	HZ_TICKS=$(getconf CLK_TCK)
	for svc in demo nginx; do
		cfgs=$DEMO_CFGS; [ "$svc" = nginx ] && cfgs=$NGINX_CFGS
		for r in $(seq "$ROUNDS"); do
			for cfg in $cfgs; do
				case $cfg in
				jemalloc) [ -e "$JEMALLOC" ] || continue ;;
				gperf) [ -e "$PROFILER" ] || continue ;;
				tcheap) [ -e "$TCMALLOC" ] || continue ;;
				esac
				"start_$svc" "$cfg" "$r"
				mix=""; case $cfg in base1 | slow1) mix=$MIX_LUA ;; esac
				# Unmeasured warm-up first: start-up work (heaptrack's interpreter reading
				# the libraries' symbols, first-touch of arenas, threads) is not steady state.
				[ "$WARMUP" -gt 0 ] && load "$WARMUP" "$mix" > /dev/null
				# shellcheck disable=SC2046 # one pid a word
				c0=$(cpu_ticks $(serving_pids "$svc")) w0=$(now_ms)
				load "$SECS" "$mix" > "$WORK/rps.$svc.$cfg.$r"
				# shellcheck disable=SC2046 # one pid a word
				c1=$(cpu_ticks $(serving_pids "$svc")) w1=$(now_ms)
				share=$(awk -v c=$((c1 - c0)) -v w=$((w1 - w0)) -v hz="$HZ_TICKS" 'BEGIN{ printf "%.0f", (w > 0 ? 100000 * c / hz / w : 0) }')
				echo "$share $svc $cfg $r" > "$WORK/share.$svc.$cfg.$r"
				# requests per second of the server's own CPU time: what the profiler costs per request
				awk -v q="$(cat "$WORK/rps.$svc.$cfg.$r")" -v c=$((c1 - c0)) -v w=$((w1 - w0)) -v hz="$HZ_TICKS" \
					'BEGIN{ if (q > 0 && c > 0) printf "%.0f\n", q * w / 1000 / (c / hz) }' > "$WORK/rpc.$svc.$cfg.$r"
				[ "$share" -lt 50 ] && echo "bench: $svc $cfg round $r: the server had $share % of CPU 0 (other load, a profiler's own process, or too little load): its req/s is not comparable" >&2
				rss_of "$(serving_pid "$svc")" > "$WORK/rss.$svc.$cfg.$r"
				"stop_$svc"
				d=$WORK/out.$svc.$cfg.$r
				case $cfg in
				otlp | slow1) # exported share, requests, slow requests, profile sets written
					python3 -c 'import glob,json,sys; s=[json.load(open(f)) for f in glob.glob(sys.argv[1]+"/otshim-stats-*.json")]; r=sum(x["requests"] for x in s); t=lambda k: sum(x[k] for x in s); print(t("spans_exported")/r if r else 0, r, t("slow"), t("profiles_written"))' \
						"$d" > "$WORK/stats.$cfg.$r" ;;
				esac
				# the profilers that write as they go: keep the disk from filling over the run
				[ "$r" -gt 1 ] && rm -rf "$d" "$WORK"/ht.*
			done
		done
		took "http $svc"
	done
fi

# Fixed memory cost: resident set of an idle process (sleep), with and without the shim.
if want rss; then
	for r in $(seq "$ROUNDS"); do
		for cfg in base shim; do
			pre=""; [ "$cfg" = shim ] && pre=$LIB
			LD_PRELOAD=$pre OTSHIM_PROFILE_DIR=$WORK/p sleep 2 & spid=$!
			sleep 0.3
			rss_of "$spid" > "$WORK/rss.idle.$cfg.$r"
			kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null
		done
	done
	# What the first profile set adds: the demo's resident set before, 2 s after a slow
	# request's files are written (the symboliser kept for later sets, and the profile's
	# building), and 8 s after (the symboliser let go after 5 s unused), anonymous and
	# file-backed. Prints the two deltas.
	first_set_rss() { # round
		local d=$WORK/fs.$1 port spid a b c
		port=$(free_port)
		LD_PRELOAD=$LIB OTSHIM_PROFILE_DIR=$d OTSHIM_SLOW_MS=100 "$SRV" --port "$port" >/dev/null 2>&1 &
		spid=$!
		wait_up "$port"
		for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/"; done
		sleep 0.5
		a=$(rss_of "$spid")
		curl -s -o /dev/null "http://127.0.0.1:$port/cpu?ms=300" &
		# Meanwhile, the memory its thread's CPU ring maps (the kernel locks it): the
		# process's perf_event mappings.
		sleep 0.15
		python3 -c 'import sys
kb = 0
for line in open("/proc/%s/maps" % sys.argv[1]):
    if "perf_event" in line:
        lo, hi = line.split()[0].split("-")
        kb += (int(hi, 16) - int(lo, 16)) // 1024
print(kb)' "$spid" > "$WORK/pin.$1" 2>/dev/null
		wait $!
		for _ in $(seq 100); do ls "$d"/cpu-*.pb.gz >/dev/null 2>&1 && break; sleep 0.1; done
		sleep 2
		b=$(rss_of "$spid")
		sleep 6
		c=$(rss_of "$spid")
		kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null
		echo $((b - a)) $((c - a))
	}
	wait_up() { for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0; sleep 0.05; done; return 1; }
	for r in $(seq "$ROUNDS"); do
		first_set_rss "$r" > "$WORK/rss.set.$r"
		cut -d' ' -f1 "$WORK/rss.set.$r" > "$WORK/rss.firstset.$r"
		cut -d' ' -f2 "$WORK/rss.set.$r" > "$WORK/rss.letgo.$r"
	done
	took rss
fi

# ---- 3. user-space instructions per request (callgrind: exact, immune to noise) ----
# The service answers N1 then N2 keep-alive requests under callgrind; the difference
# of the two totals over N2-N1 is the cost of one request, start-up excluded.
if want instr; then
	HTTPC="python3 $ROOT/tests/tools/httpc.py"
	# Under callgrind (50x slower) on a busy machine a request can pass the default 100 ms
	# and get its profile written: half a billion instructions of symbolisation and
	# compression that would be charged to the fast path. The rows measure requests
	# that are not slow, so none may be.
	NEVER_SLOW=86400000
	# Under callgrind a call runs ~50 times slower, so some writes and reads pass the
	# 50 us a call must last to be timed as a wait (natively they take a few us): the
	# recording of those waits (rt_on_wait) is counted apart, and the rows give it.
	instr_run() { # svc preload n -> total instructions, and rt_on_wait's (EXPORT=1: with span export)
		local svc=$1 pre=$2 n=$3 out=$WORK/cg.$RANDOM port
		local otlp=""; [ "${EXPORT:-0}" = 1 ] && otlp=$OTLP_ENV
		port=$(free_port)
		if [ "$svc" = demo ]; then
			# shellcheck disable=SC2086 # $otlp is a list of assignments on purpose
			env LD_PRELOAD="$pre" OTSHIM_PROFILE_DIR="$WORK/p" OTSHIM_SLOW_MS=$NEVER_SLOW $otlp valgrind --tool=callgrind --callgrind-out-file="$out.cg" \
				"$SRV" --port "$port" >/dev/null 2>"$out" &
		else
			local d=$WORK/nginx-cg; mkdir -p "$d/html" "$d/logs"
			head -c 1024 /dev/zero | tr '\0' x > "$d/html/index.html"
			printf 'master_process off; daemon off; user root root; pid %s/pid; error_log %s/logs/e.log;\nevents { worker_connections 64; }\nhttp { access_log off; keepalive_requests 1000000; server { listen 127.0.0.1:%s; root %s/html; } }\n' \
				"$d" "$d" "$port" "$d" > "$d/nginx.conf"
			LD_PRELOAD=$pre OTSHIM_PROFILE_DIR=$WORK/p OTSHIM_SLOW_MS=$NEVER_SLOW valgrind --tool=callgrind --callgrind-out-file="$out.cg" \
				/usr/sbin/nginx -p "$d" -c "$d/nginx.conf" >/dev/null 2>"$out" &
		fi
		local vpid=$!
		for _ in $(seq 200); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
		$HTTPC keepalive --port "$port" --n "$n" >/dev/null
		kill -QUIT "$vpid" 2>/dev/null; kill -TERM "$vpid" 2>/dev/null; wait "$vpid" 2>/dev/null
		local waits
		waits=$(callgrind_annotate --auto=no --inclusive=yes "$out.cg" 2>/dev/null |
			awk '/:rt_on_wait /{ gsub(",", "", $1); print $1; exit }')
		echo "$(awk '/Collected/{print $4}' "$out") ${waits:-0}"
		rm -f "$out.cg"*
	}
	instr_per_req() { # svc preload -> instructions per request; rt_on_wait's per request of the longer run
		local a b
		a=$(instr_run "$1" "$2" 1000); b=$(instr_run "$1" "$2" 3000)
		awk -v a="$a" -v b="$b" 'BEGIN{ split(a, x, " "); split(b, y, " ")
			if (x[1] && y[1]) printf "%.0f %.0f", (y[1]-x[1])/2000, y[2]/3000; else print "n/a n/a" }'
	}
	if command -v valgrind >/dev/null; then
		for svc in demo nginx; do
			eval "IPR_${svc}_base=\$(instr_per_req $svc '' | cut -d' ' -f1)"
			ipr=$(instr_per_req $svc "$LIB")
			eval "IPR_${svc}_shim=${ipr%% *}; IPW_${svc}_shim=${ipr##* }"
			[ -e "$JEMALLOC" ] && eval "IPR_${svc}_jemalloc=\$(instr_per_req $svc '$JEMALLOC' | cut -d' ' -f1)"
		done
		IPR_demo_otlp=$(EXPORT=1 instr_per_req demo "$LIB" | cut -d' ' -f1)
	fi
	took instr
fi

# ---- 3a. HTTPS: nginx over TLS keep-alive (libssl's plaintext tracked), without and with
# the shim: req/s in alternating rounds (server on CPU 0, wrk on CPU 1, every answer
# checked to be a 200), and user-space instructions per request under callgrind ----
if want https; then
	command -v openssl >/dev/null || { echo "openssl missing (make deps)" >&2; exit 1; }
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/tls.key" -out "$WORK/tls.crt" \
		-days 2 -subj /CN=localhost 2>/dev/null || exit 1
	chmod 644 "$WORK/tls.key"
	# tls_conf DIR PORT [one-process]: nginx.conf of a 1 KiB static file over HTTPS
	tls_conf() {
		local d=$1 one=""
		mkdir -p "$d/html" "$d/logs"
		head -c 1024 /dev/zero | tr '\0' x > "$d/html/index.html"
		[ -n "${3:-}" ] && one="master_process off; daemon off; user root root;"
		cat > "$d/nginx.conf" <<-NGX
	$one
	worker_processes ${3:-2};
	pid $d/nginx.pid;
	error_log $d/logs/error.log;
	events { worker_connections 1024; }
	http {
	  access_log off;
	  keepalive_requests 1000000;
	  server {
	    listen 127.0.0.1:$2 ssl;
	    ssl_certificate $WORK/tls.crt;
	    ssl_certificate_key $WORK/tls.key;
	    root $d/html;
	  }
	}
	NGX
	}
	for r in $(seq "$ROUNDS"); do
		for cfg in base shim; do
			port=$(free_port) pre=""
			[ "$cfg" = shim ] && pre=$LIB
			tls_conf "$WORK/nginx-tls" "$port"
			taskset -c 0 env LD_PRELOAD="$pre" OTSHIM_PROFILE_DIR="$WORK/p-tls" \
				/usr/sbin/nginx -p "$WORK/nginx-tls" -c "$WORK/nginx-tls/nginx.conf" -g 'daemon off;' 2>/dev/null &
			SPID=$!; PIDS+=("$SPID")
			for _ in $(seq 200); do curl -sk -o /dev/null "https://127.0.0.1:$port/" && break; sleep 0.05; done
			[ "$WARMUP" -gt 0 ] && taskset -c 1 wrk -t1 -c"$CONNS" -d"${WARMUP}s" "https://127.0.0.1:$port/" >/dev/null 2>&1
			out=$WORK/wrk-tls.$cfg.$r
			taskset -c 1 wrk -t1 -c"$CONNS" -d"${SECS}s" "https://127.0.0.1:$port/" > "$out" 2>&1
			# wrk names answers that are not 2xx/3xx and socket errors only when there are some
			if grep -q -E 'Non-2xx|Socket errors' "$out"; then
				echo "bench: https $cfg round $r: $(grep -E 'Non-2xx|Socket errors' "$out" | tr -s ' ')" >&2
				echo 0 > "$WORK/rps.tls.$cfg.$r"
			else
				awk '/Requests\/sec/{print $2}' "$out" > "$WORK/rps.tls.$cfg.$r"
			fi
			kill -QUIT "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null
		done
	done
	# Instructions per keep-alive HTTPS request: nginx as one process under callgrind,
	# N1 then N2 requests on one TLS connection (tests/tools/tls_client.py).
	tls_instr_run() { # preload n -> total instructions
		local port d=$WORK/nginx-tls-cg out=$WORK/cg.tls.$RANDOM
		port=$(free_port)
		tls_conf "$d" "$port" 1
		LD_PRELOAD=$1 OTSHIM_PROFILE_DIR=$WORK/p-tls OTSHIM_SLOW_MS=86400000 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
			/usr/sbin/nginx -p "$d" -c "$d/nginx.conf" >/dev/null 2>"$out" &
		local vpid=$!
		for _ in $(seq 200); do curl -sk -o /dev/null "https://127.0.0.1:$port/" && break; sleep 0.1; done
		python3 "$ROOT/tests/tools/tls_client.py" requests --port "$port" --n "$2" >/dev/null
		kill -QUIT "$vpid" 2>/dev/null; kill -TERM "$vpid" 2>/dev/null; wait "$vpid" 2>/dev/null
		awk '/Collected/{print $4}' "$out"
	}
	tls_instr() { # preload
		local a b
		a=$(tls_instr_run "$1" 1000); b=$(tls_instr_run "$1" 3000)
		awk -v a="$a" -v b="$b" 'BEGIN{ if (a && b) printf "%.0f", (b-a)/2000; else print "n/a" }'
	}
	TLS_I_BASE=n/a TLS_I_SHIM=n/a
	if command -v valgrind >/dev/null; then TLS_I_BASE=$(tls_instr ""); TLS_I_SHIM=$(tls_instr "$LIB"); fi
	took https
fi

# ---- 4. are the profiles true? (truth.sh: gperftools, tcmalloc, jemalloc prof, otshim) ----
if want outbound; then
	# A service making one outbound HTTP call per request: srv_caller's /call on its
	# thread's pooled keep-alive connection to srv_demo (no preload, on CPU 1 with wrk).
	# Alternated each round: the shim with outbound tracking off (OTSHIM_OUTBOUND=0), on
	# (the default), and on with traceparent propagation (OTSHIM_PROPAGATE=1).
	CALLER=$BUILD/tests/servers/srv_caller
	OB_UP=$(free_port)
	taskset -c 1 "$SRV" --port "$OB_UP" & PIDS+=("$!")
	for _ in $(seq 200); do curl -s -o /dev/null "http://127.0.0.1:$OB_UP/" && break; sleep 0.05; done
	for round in $(seq "$ROUNDS"); do
		for cfg in off on prop; do
			port=$(free_port) d=$WORK/ob.$cfg.$round
			mkdir -p "$d"
			case $cfg in off) extra=OTSHIM_OUTBOUND=0 ;; on) extra=OTSHIM_OUTBOUND=1 ;; prop) extra=OTSHIM_PROPAGATE=1 ;; esac
			env LD_PRELOAD="$LIB" OTSHIM_PROFILE_DIR="$d" "$extra" taskset -c 0 "$CALLER" --port "$port" &
			pid=$!
			for _ in $(seq 200); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.05; done
			url="http://127.0.0.1:$port/call?port=$OB_UP&pool=1&path=/"
			taskset -c 1 wrk -t1 -c"$CONNS" -d"${WARMUP}s" "$url" > /dev/null 2>&1
			taskset -c 1 wrk -t1 -c"$CONNS" -d"${SECS}s" "$url" 2>/dev/null |
				awk '/^Requests\/sec/ {print $2}' > "$WORK/ob.rps.$cfg.$round"
			kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
			[ "$cfg" = prop ] && tr ',' '\n' < "$d"/otshim-stats-*.json | awk -F: '/traceparent_injected/ {print $2}' > "$WORK/ob.inj.$round"
		done
	done
	# Exact instructions per request, as in section 3: srv_caller under callgrind answers
	# 1000 then 3000 /call requests (the upstream runs natively on CPU 1); the waits
	# recorded only because callgrind is slow (rt_on_wait) are given apart.
	ob_instr_run() { # preload n env... -> total instructions, and rt_on_wait's
		local pre=$1 n=$2 out=$WORK/obcg.$RANDOM port waits; shift 2
		port=$(free_port)
		env LD_PRELOAD="$pre" OTSHIM_PROFILE_DIR="$WORK/obp" OTSHIM_SLOW_MS=86400000 "$@" \
			valgrind --tool=callgrind --callgrind-out-file="$out.cg" "$CALLER" --port "$port" >/dev/null 2>"$out" &
		local vpid=$!
		for _ in $(seq 200); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
		python3 "$ROOT/tests/tools/httpc.py" keepalive --port "$port" --n "$n" \
			--path "/call?port=$OB_UP&pool=1&path=/" >/dev/null
		kill -QUIT "$vpid" 2>/dev/null; kill -TERM "$vpid" 2>/dev/null; wait "$vpid" 2>/dev/null
		waits=$(callgrind_annotate --auto=no --inclusive=yes "$out.cg" 2>/dev/null |
			awk '/:rt_on_wait /{ gsub(",", "", $1); print $1; exit }')
		echo "$(awk '/Collected/{print $4}' "$out") ${waits:-0}"
		rm -f "$out.cg"*
	}
	ob_instr() { # preload env... -> instructions per request, rt_on_wait's per request
		local a b pre=$1; shift
		a=$(ob_instr_run "$pre" 1000 "$@"); b=$(ob_instr_run "$pre" 3000 "$@")
		awk -v a="$a" -v b="$b" 'BEGIN{ split(a, x, " "); split(b, y, " ")
			if (x[1] && y[1]) printf "%.0f %.0f", (y[1]-x[1])/2000, y[2]/3000; else print "n/a n/a" }'
	}
	if command -v valgrind >/dev/null; then
		OBI_base=$(ob_instr "" OTSHIM_OUTBOUND=0)
		OBI_off=$(ob_instr "$LIB" OTSHIM_OUTBOUND=0)
		OBI_on=$(ob_instr "$LIB" OTSHIM_OUTBOUND=1)
		OBI_prop=$(ob_instr "$LIB" OTSHIM_PROPAGATE=1)
	fi
	took outbound
fi

if want truth; then
	bash "$HERE/truth.sh" "$BUILD" > "$WORK/truth.md"
	took truth
fi

rps() { cat "$WORK"/rps."$1"."$2".* 2>/dev/null | median; }
rsp() { cat "$WORK"/rps."$1"."$2".* 2>/dev/null | spread; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a+0 > 0 && b+0 > 0) printf "%.3f", a/b; else print "n/a" }'; }
med() { cat "$@" 2>/dev/null | median; } # median of the files' numbers
stat_col() { cat "$WORK"/stats."$1".* 2>/dev/null | awk -v c="$2" '{print $c}' | median; }
delta() { awk -v a="$1" -v b="$2" -v f="${3:-%+.1f}" 'BEGIN{ if (a+0 && b+0) printf f, a-b; else print "n/a" }'; }

{
	echo "**make bench, $(date -u +%Y-%m-%d)**: $(nproc) cores ($(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)), kernel $(uname -r)"
	echo
	echo "$ROUNDS alternating rounds; medians (min..max over the rounds); server on CPU 0, wrk -t1 -c$CONNS on CPU 1, ${SECS} s per load run."
	if want http; then
		echo
		echo "## Throughput: otshim and the LD_PRELOAD profilers a user would pick instead"
		echo
		echo "Requests/s after ${WARMUP} s of unmeasured warm-up; *ratio*: to no preload on the same service (the slow-request mix: to no preload on that mix)."
		echo "The demo is thread-per-connection; nginx serves a 1 KiB static file from 2 workers (both on CPU 0)."
		echo "Resident set: the serving process (nginx: a worker) after its run. gperftools' profiler in nginx's workers is"
		echo "switched on by CPUPROFILESIGNAL (its timer does not survive fork); heaptrack is attached to each worker"
		echo "(\`heaptrack -p\`: as a wrapper it traces only the master); heaptrack's interpreter is pinned with the server."
		echo
		echo "| configuration | demo req/s | ratio | RSS kB | nginx req/s | ratio | RSS kB |"
		echo "|---|---|---|---|---|---|---|"
		for cfg in $DEMO_CFGS; do
			case $cfg in
			base) label="no preload" ;;
			jemalloc) label="jemalloc alone (LD_PRELOAD=libjemalloc.so.2)" ;;
			gperf) label="gperftools CPU profiler (libprofiler.so, CPUPROFILE, 100 Hz)" ;;
			tcheap) label="tcmalloc + its heap profiler (HEAPPROFILE)" ;;
			heaptrack) label="heaptrack" ;;
			shim) label="**otshim, defaults, no slow requests**" ;;
			shimsys) label="otshim, OTSHIM_ALLOCATOR=system" ;;
			noring) label="otshim without the CPU ring before the threshold (OTSHIM_CPU_ROUTE=timer)" ;;
			cont) label="otshim, continuous mode (OTSHIM_CONTINUOUS_SEC=2)" ;;
			contproc) label="otshim, continuous mode on one process CPU timer (OTSHIM_PROCESS_CPU_TIMER=process)" ;;
			otlp) label="otshim, every request exported as an OTLP span" ;;
			base1) label="no preload; every 100th request /cpu?ms=2" ;;
			slow1) label="otshim, OTSHIM_SLOW_MS=1: that 1 % slow and profiled" ;;
			esac
			ref=base; [ "$cfg" = slow1 ] && ref=base1
			row="| $label"
			for svc in demo nginx; do
				if [ -n "$(ls "$WORK"/rps.$svc.$cfg.* 2>/dev/null)" ]; then
					row="$row | $(rps $svc $cfg) ($(rsp $svc $cfg)) | $(ratio "$(rps $svc $cfg)" "$(rps $svc $ref)") | $(med "$WORK"/rss.$svc.$cfg.*)"
				else
					row="$row | not run | | "
				fi
			done
			echo "$row |"
		done
		echo
		echo "Serving process's CPU time over the measured run's wall time (of CPU 0): min $(sort -n "$WORK"/share.* | head -1 |
			awk '{printf "%s %% (%s %s, round %s)", $1, $2, $3, $4}'), median $(awk '{print $1}' "$WORK"/share.* | median) %. Far apart"
		echo "shares mean other load took CPU 0 in some runs: their req/s measure the machine, not the profiler. Requests per"
		echo "second of the serving process's CPU time (medians; ratio to no preload) are steadier then:"
		echo
		echo "| configuration | demo req per CPU-s | ratio | nginx req per CPU-s | ratio |"
		echo "|---|---|---|---|---|"
		for cfg in $DEMO_CFGS; do
			ref=base; [ "$cfg" = slow1 ] && ref=base1
			row="| $cfg"
			for svc in demo nginx; do
				a=$(med "$WORK/rpc.$svc.$cfg."*); b=$(med "$WORK/rpc.$svc.$ref."*)
				row="$row | ${a:-not run} | $(ratio "$a" "$b")"
			done
			echo "$row |"
		done
		if [ -n "$(ls "$WORK"/stats.slow1.* 2>/dev/null)" ]; then
			echo
			printf "Slow-request mix under otshim, per run: %s requests, %s slow, %s profile sets written (the rest over the\n" \
				"$(stat_col slow1 2)" "$(stat_col slow1 3)" "$(stat_col slow1 4)"
			echo "default OTSHIM_MAX_PROFILES_PER_MIN=60, dropped and counted). Span export: share of requests whose spans"
			echo "were exported at saturation (the rest dropped, counted): $(stat_col otlp 1)."
		fi
	fi
	echo
	echo "## otshim overhead, in detail"
	echo
	echo "| measurement | without shim | with shim | ratio / delta |"
	echo "|---|---|---|---|"
	if want io; then
		printf "| write(2) 64 B to tmpfs, ns/call | %s | %s | %s ns |\n" "$WB" "$WS" "$(delta "$WS" "$WB")"
		printf "| read(2) 64 B from tmpfs, ns/call | %s | %s | %s ns |\n" "$RB" "$RS" "$(delta "$RS" "$RB")"
		printf "| read/write user-space instructions per call (callgrind) | %s | %s | %s |\n" "$IO_I_BASE" "$IO_I_SHIM" "$(delta "$IO_I_SHIM" "$IO_I_BASE")"
	fi
	if want instr; then
		for svc in demo nginx; do
			b=$(eval echo "\${IPR_${svc}_base:-n/a}"); w=$(eval echo "\${IPR_${svc}_shim:-n/a}")
			printf "| %s user-space instructions per keep-alive request (callgrind) | %s | %s | %s |\n" "$svc" "$b" "$w" "$(delta "$w" "$b" %+d)"
			printf "| %s: recording waits that only callgrind's slowness makes (rt_on_wait, per request of the 3,000-request run; part of the row above, varying from run to run) | | %s | |\n" "$svc" "$(eval echo "\${IPW_${svc}_shim:-n/a}")"
			j=$(eval echo "\${IPR_${svc}_jemalloc:-n/a}")
			printf "| %s user-space instructions per keep-alive request, jemalloc alone vs no preload (callgrind) | %s | %s | %s |\n" "$svc" "$b" "$j" "$(delta "$j" "$b" %+d)"
		done
		printf "| demo user-space instructions per keep-alive request, span export on (callgrind) | %s | %s | %s |\n" \
			"${IPR_demo_base:-n/a}" "${IPR_demo_otlp:-n/a}" "$(delta "${IPR_demo_otlp:-}" "${IPR_demo_base:-}" %+d)"
	fi
	if want https; then
		printf "| nginx HTTPS keep-alive req/s (2 workers, 1 KiB file, every answer a 200) | %s (%s) | %s (%s) | %s |\n" \
			"$(rps tls base)" "$(rsp tls base)" "$(rps tls shim)" "$(rsp tls shim)" "$(ratio "$(rps tls shim)" "$(rps tls base)")"
		printf "| nginx user-space instructions per keep-alive HTTPS request (callgrind) | %s | %s | %s |\n" \
			"$TLS_I_BASE" "$TLS_I_SHIM" "$(delta "$TLS_I_SHIM" "$TLS_I_BASE" %+d)"
	fi
	if want http; then
		for svc in demo nginx; do
			printf "| %s req/s, otshim vs jemalloc alone | %s | %s | %s |\n" "$svc" \
				"$(rps $svc jemalloc)" "$(rps $svc shim)" "$(ratio "$(rps $svc shim)" "$(rps $svc jemalloc)")"
		done
		printf "| demo req/s, span export on vs the shim without it | %s | %s | %s |\n" \
			"$(rps demo shim)" "$(rps demo otlp)" "$(ratio "$(rps demo otlp)" "$(rps demo shim)")"
		printf "| demo req/s, continuous mode vs the shim without it | %s | %s | %s |\n" \
			"$(rps demo shim)" "$(rps demo cont)" "$(ratio "$(rps demo cont)" "$(rps demo shim)")"
		for svc in demo nginx; do
			printf "| %s req/s, continuous mode: a timer per thread vs one process timer | %s | %s | %s |\n" "$svc" \
				"$(rps $svc contproc)" "$(rps $svc cont)" "$(ratio "$(rps $svc cont)" "$(rps $svc contproc)")"
		done
		printf "| demo req/s, the CPU ring before the threshold vs the shim without it | %s | %s | %s |\n" \
			"$(rps demo noring)" "$(rps demo shim)" "$(ratio "$(rps demo shim)" "$(rps demo noring)")"
		printf "| nginx req/s, the CPU ring before the threshold vs the shim without it | %s | %s | %s |\n" \
			"$(rps nginx noring)" "$(rps nginx shim)" "$(ratio "$(rps nginx shim)" "$(rps nginx noring)")"
	fi
	if want threads; then
		printf "| pthread_create+join, us per thread | %s | %s | %s |\n" "$(thr base)" "$(thr shim)" "$(ratio "$(thr shim)" "$(thr base)")"
		printf "| threads profile of 1,000 threads: capture time, ms | n/a | %s | |\n" "${CAPMS:-n/a}"
	fi
	if want rss; then
		b=$(med "$WORK"/rss.idle.base.*); w=$(med "$WORK"/rss.idle.shim.*)
		printf "| resident set of an idle process (sleep), kB | %s | %s | %s kB |\n" "$b" "$w" "$(delta "$w" "$b" %+d)"
		printf "| demo: resident set added by its first profile set, 2 s after (symboliser kept for the next set; profile building), kB | n/a | %s | |\n" \
			"$(med "$WORK"/rss.firstset.*)"
		printf "| demo: the same 8 s after (symboliser let go after 5 s unused), kB | n/a | %s | |\n" \
			"$(med "$WORK"/rss.letgo.*)"
		printf "| demo: memory locked while one slow request runs (its thread's CPU ring: the perf_event mappings), kB | n/a | %s | |\n" \
			"$(med "$WORK"/pin.*)"
	fi
	if want malloc; then
		echo
		echo "## Allocator: malloc+free cost"
		echo
		echo "tests/bench/bench_malloc.c; 1 thread pinned to CPU 1, 2 threads to CPUs 0,1 (heaptrack's interpreter with them)."
		echo "Sizes 16 B..4 KiB, a fixed log-uniform pseudo-random sequence. *pair*: malloc, touch, free at once;"
		echo "*window*: 64 live blocks, free the oldest then malloc. 2 threads: each runs its own loop; ns per pair per"
		echo "thread = wall time / pairs per thread (= 1-thread figure if scaling is perfect). jemalloc, tcmalloc: bare"
		echo "LD_PRELOAD of $(basename "$JEMALLOC"), $(basename "$TCMALLOC"); tcmalloc+heap: HEAPPROFILE set (every"
		echo "allocation recorded); otshim: default settings (heap sampling on, 512 KiB); sampling off:"
		echo "OTSHIM_HEAP_SAMPLE_BYTES=0. Ratios use the sampling-on otshim column. Callgrind rows are not run for the two"
		echo "profilers that record every allocation (n/a)."
		echo
		echo "| measurement | glibc | jemalloc | tcmalloc | tcmalloc + heap profiler | heaptrack | otshim | otshim, sampling off | otshim / jemalloc | otshim / glibc |"
		echo "|---|---|---|---|---|---|---|---|---|---|"
		mrow() { # label, then one value per configuration of $MCFGS
			local label=$1; shift
			printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n" "$label" "$@" "$(ratio "$6" "$2")" "$(ratio "$6" "$1")"
		}
		for k in pair_1t pair_2t window_1t window_2t; do
			case $k in
			pair_1t) label="malloc+free pair, 1 thread, ns" ;;
			pair_2t) label="malloc+free pair, 2 threads, ns per pair per thread" ;;
			window_1t) label="malloc+free window of 64 live blocks, 1 thread, ns" ;;
			window_2t) label="malloc+free window of 64 live blocks, 2 threads, ns per pair per thread" ;;
			esac
			vals=(); for cfg in $MCFGS; do vals+=("$(mal "$cfg" ${k}_ns)"); done
			mrow "$label" "${vals[@]}"
		done
		for shape in pair window; do
			vals=(); for cfg in $MCFGS; do vals+=("$(eval echo "\${MI_${cfg}_${shape}:-n/a}")"); done
			mrow "malloc+free $shape user-space instructions per pair (callgrind, 1 thread)" "${vals[@]}"
		done
	fi
	if want outbound; then
		obr() { cat "$WORK"/ob.rps."$1".* 2>/dev/null | median; }
		obs() { cat "$WORK"/ob.rps."$1".* 2>/dev/null | spread; }
		echo
		echo "## Outbound calls: a service making one HTTP call per request"
		echo
		echo "srv_caller's /call, one call per request on its thread's pooled keep-alive connection to srv_demo (no"
		echo "preload, CPU 1 with wrk); req/s medians (min..max); ratio to the shim with outbound tracking off."
		echo
		echo "| configuration | req/s | ratio |"
		echo "|---|---|---|"
		echo "| otshim, OTSHIM_OUTBOUND=0 | $(obr off) ($(obs off)) | 1 |"
		echo "| otshim, outbound tracking on (default) | $(obr on) ($(obs on)) | $(ratio "$(obr on)" "$(obr off)") |"
		echo "| otshim, OTSHIM_PROPAGATE=1 (a traceparent written into every call) | $(obr prop) ($(obs prop)) | $(ratio "$(obr prop)" "$(obr off)") |"
		echo
		echo "Headers injected per propagation run: $(cat "$WORK"/ob.inj.* 2>/dev/null | median) (median)."
		echo
		echo "User-space instructions per request (callgrind; the waits recorded only because callgrind slows the"
		echo "caller, rt_on_wait, are part of each figure and given apart):"
		echo
		echo "| configuration | instructions per request | of them rt_on_wait | delta to no preload |"
		echo "|---|---|---|---|"
		obi() { eval "set -- \${OBI_$1:-n/a n/a}"; echo "$1 | $2"; }
		b=$(obi base | cut -d' ' -f1)
		for cfg in base off on prop; do
			v=$(obi $cfg); n=${v%% *}
			case $cfg in
			base) label="no preload" ;; off) label="otshim, OTSHIM_OUTBOUND=0" ;;
			on) label="otshim, outbound tracking on (default)" ;; prop) label="otshim, OTSHIM_PROPAGATE=1" ;;
			esac
			echo "| $label | $v | $(delta "$n" "$b" %+d) |"
		done
	fi
	if want h2; then
		echo
		cat "$WORK/h2.md"
	fi
	if want truth; then
		echo
		cat "$WORK/truth.md"
	fi
} > "$WORK/results.md"
cat "$WORK/results.md"
OUT=${BENCH_OUT:-}
if [ "$ONLY" = all ] && [ -z "$OUT" ]; then OUT=$HERE/RESULTS.md; fi
[ -n "$OUT" ] && cp "$WORK/results.md" "$OUT"
took "all"
