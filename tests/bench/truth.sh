#!/bin/bash
# tests/bench/truth.sh BUILD_DIR: are the profiles true? Runs truth_cpu.c (60/30/10 % of
# its CPU in work_a/b/c) under gperftools' CPU profiler and under otshim's on-demand
# endpoint profile, and truth_heap.c (48/24/8 MiB live at site_a/b/c) under tcmalloc's
# heap profiler, jemalloc's prof and otshim's heap profile; prints a Markdown section
# with each tool's error per function (percentage points) and per site (%).
#   BENCH_ROUNDS (default 5) runs of each; BENCH_TRUTH_SECONDS (default 5) of CPU per
#   CPU profile; JEMALLOC, TCMALLOC, PROFILER: the libraries (run.sh passes its own).
set -u
BUILD=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=$(cd "$ROOT" && cd "$BUILD" && pwd)
LIB=$BUILD/libotshim.so
MA=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
JEMALLOC=${JEMALLOC:-/usr/lib/$MA/libjemalloc.so.2}
TCMALLOC=${TCMALLOC:-/usr/lib/$MA/libtcmalloc.so.4}
PROFILER=${PROFILER:-/usr/lib/$MA/libprofiler.so.0}
ROUNDS=${BENCH_ROUNDS:-5}
SECS=${BENCH_TRUTH_SECONDS:-5}
WORK=$(mktemp -d /tmp/otshim-truth.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
export HOME=$WORK GOCACHE=$WORK/gocache # go tool pprof writes nothing elsewhere
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else if (NR) print (a[NR/2]+a[NR/2+1])/2; else print "n/a"}'; }
maxabs() { awk '{v=$1<0?-$1:$1; if (NR==1||v>m) m=v} END {if (NR) print m; else print "n/a"}'; }

gcc -O2 -g -o "$WORK/truth_cpu" "$HERE/truth_cpu.c" || exit 1
gcc -O2 -g -fno-builtin -o "$WORK/truth_heap" "$HERE/truth_heap.c" || exit 1
TC=$WORK/truth_cpu TH=$WORK/truth_heap

# flat share (%) of each work function in a CPU profile: "work_a 61.5" lines
cpu_shares() { # binary profile...
	go tool pprof -top -nodefraction=0 -nodecount=1000 "$@" 2>/dev/null |
		awk '$NF ~ /^work_[abc]$/ { sub(/%/, "", $2); print $NF, $2 }'
}
# in-use bytes per site: "site_a 50331648" lines (cum: the site and what it called)
heap_bytes() { # binary profile...
	go tool pprof -sample_index=inuse_space -top -unit=B -nodefraction=0 -nodecount=1000 "$@" 2>/dev/null |
		awk '$NF ~ /^site_[abc]$/ { sub(/B$/, "", $4); print $NF, $4 }'
}
je_bytes() { # binary profile: jeprof's text (jemalloc's heap_v2 format; go tool pprof cannot read it)
	jeprof --text --show_bytes --cum --nodefraction=0 "$@" 2>/dev/null |
		awk '$NF ~ /^site_[abc]$/ { print $NF, $4 }'
}

# ---- CPU: one profile of SECS per round per tool ----
# otshim: the endpoint's /debug/pprof/profile?seconds=N (whole process, 100 Hz) - the
# same rate and scope as gperftools' ITIMER_PROF, and the route a user takes for a
# program that is not serving requests. (A slow request's profile samples only its
# own thread at 1000 Hz; the integration tests check that one against burn_cpu.)
for r in $(seq "$ROUNDS"); do
	# taskset first: a preload given to taskset would profile taskset too
	taskset -c 1 env CPUPROFILE="$WORK/gp.$r" CPUPROFILE_FREQUENCY=100 LD_PRELOAD="$PROFILER" "$TC" "$SECS" 2>/dev/null
	cpu_shares "$TC" "$WORK/gp.$r" > "$WORK/cpu.gperf.$r"
	port=$(free_port)
	taskset -c 1 env LD_PRELOAD="$LIB" OTSHIM_PROFILE_DIR="$WORK/p" OTSHIM_PPROF_ADDR=127.0.0.1:$port "$TC" $((SECS + 3)) &
	pid=$!
	for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/debug/pprof/" && break; sleep 0.05; done
	curl -s -o "$WORK/ot.$r.pb.gz" "http://127.0.0.1:$port/debug/pprof/profile?seconds=$SECS"
	wait "$pid"
	cpu_shares "$TC" "$WORK/ot.$r.pb.gz" > "$WORK/cpu.otshim.$r"
done
cpu_err() { # tool func truth -> "median (max)" of |share - truth| over rounds, points
	local f
	for f in "$WORK"/cpu."$1".*; do awk -v fn="$2" -v t="$3" '$1==fn {print $2-t; n++} END {if (!n) print "x"}' "$f"; done > "$WORK/e"
	if grep -q x "$WORK/e" || [ ! -s "$WORK/e" ]; then echo "n/a"; return; fi
	printf "%.1f (%.1f)" "$(awk '{print $1<0?-$1:$1}' "$WORK/e" | median)" "$(maxabs < "$WORK/e")"
}
cpu_pooled() { # tool func truth: the error of all rounds' profiles merged
	local files
	if [ "$1" = gperf ]; then files=("$WORK"/gp.*); else files=("$WORK"/ot.*.pb.gz); fi
	cpu_shares "$TC" "${files[@]}" | awk -v fn="$2" -v t="$3" '$1==fn {printf "%+.1f", $2-t; n++} END {if (!n) print "n/a"}'
}

# ---- heap: one snapshot per round per tool, taken while the program holds its bytes ----
for r in $(seq "$ROUNDS"); do
	# tcmalloc: every allocation recorded; the dump at exit is the last file
	mkdir -p "$WORK/tc.$r"
	LD_PRELOAD=$TCMALLOC HEAPPROFILE=$WORK/tc.$r/h "$TH" > "$WORK/truth.txt" 2>/dev/null
	last=$(ls "$WORK/tc.$r"/h.*.heap 2>/dev/null | tail -1)
	if [ -n "$last" ]; then heap_bytes "$TH" "$last"; fi > "$WORK/heap.tcmalloc.$r"
	# jemalloc and otshim both sample: at their default mean of 512 KiB, and at 64 KiB
	# (8x the samples: what the error is made of shows as it shrinks by ~sqrt 8)
	for lg in 19 16; do
		tag=jemalloc; [ $lg = 16 ] && tag=jemalloc64
		# jemalloc: prof (lg_prof_sample 2^lg bytes), dumped at exit
		mkdir -p "$WORK/je.$lg.$r"
		MALLOC_CONF=prof:true,prof_final:true,lg_prof_sample:$lg,prof_prefix:$WORK/je.$lg.$r/j LD_PRELOAD=$JEMALLOC "$TH" > /dev/null
		last=$(ls "$WORK/je.$lg.$r"/j.*.heap 2>/dev/null | tail -1)
		if [ -n "$last" ]; then je_bytes "$TH" "$last"; fi > "$WORK/heap.$tag.$r"
		# otshim: the endpoint's /debug/pprof/heap
		tag=otshim; [ $lg = 16 ] && tag=otshim64
		port=$(free_port)
		LD_PRELOAD=$LIB OTSHIM_PROFILE_DIR=$WORK/p OTSHIM_HEAP_SAMPLE_BYTES=$((1 << lg)) \
			OTSHIM_PPROF_ADDR=127.0.0.1:$port "$TH" 30 > "$WORK/ready.$r" &
		pid=$!
		for _ in $(seq 200); do grep -q ready "$WORK/ready.$r" && break; sleep 0.05; done
		curl -s -o "$WORK/oh.$r.pb.gz" "http://127.0.0.1:$port/debug/pprof/heap"
		kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
		heap_bytes "$TH" "$WORK/oh.$r.pb.gz" > "$WORK/heap.$tag.$r"
	done
done
truth_of() { tr ' ' '\n' < "$WORK/truth.txt" | awk -F= -v s="$1" '$1==s {print $2}'; }
heap_err() { # tool site -> "median |error| (signed range)" in % over rounds
	local f t
	t=$(truth_of "$2")
	for f in "$WORK"/heap."$1".*; do awk -v s="$2" -v t="$t" '$1==s {print 100*($2-t)/t; n++} END {if (!n) print "x"}' "$f"; done > "$WORK/e"
	if [ -z "$t" ] || grep -q x "$WORK/e" || [ ! -s "$WORK/e" ]; then echo "n/a"; return; fi
	printf "%.1f (%+.1f..%+.1f)" "$(awk '{print $1<0?-$1:$1}' "$WORK/e" | median)" "$(sort -g "$WORK/e" | head -1)" "$(sort -g "$WORK/e" | tail -1)"
}

echo "## Are the profiles true?"
echo
echo "tests/bench/truth_cpu.c spends 60/30/10 % of its CPU in work_a/work_b/work_c (same loop body,"
echo "iteration counts in that ratio; tests/integration/bench_truth.sh checks the shares with callgrind)."
echo "$ROUNDS profiles of ${SECS} s CPU each, 100 Hz for both: gperftools' libprofiler.so (CPUPROFILE) and"
echo "otshim's /debug/pprof/profile?seconds=$SECS; shares are \`go tool pprof -top\` flat %. Error ="
echo "|share - truth| in percentage points: median over the runs (worst run); *pooled*: all runs' profiles"
echo "merged, signed (a bias shows there; per-run errors are mostly sampling noise, ~2 points at 500 samples)."
echo
echo "| function (truth) | gperftools, points | gperftools pooled | otshim, points | otshim pooled |"
echo "|---|---|---|---|---|"
for ft in work_a:60 work_b:30 work_c:10; do
	f=${ft%:*} t=${ft#*:}
	printf "| %s (%s %%) | %s | %s | %s | %s |\n" "$f" "$t" "$(cpu_err gperf "$f" "$t")" "$(cpu_pooled gperf "$f" "$t")" \
		"$(cpu_err otshim "$f" "$t")" "$(cpu_pooled otshim "$f" "$t")"
done
echo
echo "tests/bench/truth_heap.c holds 48/24/8 MiB (requested bytes) at site_a/site_b/site_c in mixed sizes"
echo "(16 B..128 KiB) while a fourth site allocates and frees about 3x as much. In-use bytes per site"
echo "(cum) from: tcmalloc's HEAPPROFILE (every allocation; its dump at exit), jemalloc's prof"
echo "(MALLOC_CONF=prof:true, prof_final dump, read by jeprof) and otshim's /debug/pprof/heap, both of"
echo "which sample: at their default mean of 512 KiB, and at 64 KiB (lg_prof_sample:16,"
echo "OTSHIM_HEAP_SAMPLE_BYTES=65536). Error = |estimate - truth| / truth, median over $ROUNDS runs (signed range)."
echo
echo "| site (truth) | tcmalloc heap profiler, % | jemalloc prof, % | otshim, % | jemalloc, 64 KiB, % | otshim, 64 KiB, % |"
echo "|---|---|---|---|---|---|"
for st in site_a:48 site_b:24 site_c:8; do
	s=${st%:*} t=${st#*:}
	printf "| %s (%s MiB) | %s | %s | %s | %s | %s |\n" "$s" "$t" "$(heap_err tcmalloc "$s")" "$(heap_err jemalloc "$s")" \
		"$(heap_err otshim "$s")" "$(heap_err jemalloc64 "$s")" "$(heap_err otshim64 "$s")"
done
