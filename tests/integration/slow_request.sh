#!/bin/bash
# slow_request.sh: the core promise. A CPU-bound request with a known traceparent,
# threshold 100 ms, gets exactly one CPU profile named and labelled with its ids, that
# `go tool pprof` reads, that points at the burning function, and whose cpu/nanoseconds
# total is the CPU the request really spent (as the server itself measured it): from
# its first byte where perf is allowed (the ring kept before the threshold, then the
# perf task-clock sampler), after the threshold only on the fallback (timer_create,
# forced with OTSHIM_CPU_ROUTE=timer, and where a seccomp filter refuses
# perf_event_open). The index line's cpu_ms agrees with the profile either way. Fast requests write
# nothing; a sleeping slow request gets an index line and a near-empty profile; a
# request without traceparent gets a fresh random trace id.
. "$(dirname "$0")/lib.sh"

SLOW_MS=100
PARENT=00f067aa0ba902b7

# names_are_safe DIR: every file is index.jsonl, a stats file, or
# <kind>-<32 hex>-<16 hex>-<digits>.pb.gz -- no request byte reaches a file name.
names_are_safe() {
	local bad
	bad=$(cd "$1" && find . -mindepth 1 -printf '%f\n' | grep -v -E \
		'^((cpu|wall|heap|threads|threadcreate)-[0-9a-f]{32}-[0-9a-f]{16}-[0-9]+\.pb\.gz|index\.jsonl|otshim-stats-[0-9]+\.json)$')
	[ -z "$bad" ] || diag "unexpected names in $1: $bad"
	[ -z "$bad" ]
}

# index_has DIR TRACE: index.jsonl has a line for TRACE and its CPU file exists.
index_has() {
	grep -q "\"trace_id\":\"$2\"" "$1/index.jsonl" 2>/dev/null &&
		compgen -G "$1/cpu-$2-*.pb.gz" >/dev/null
}

# pprof_facts FILE TRACE SPAN [PPROF_FLAGS...]: what `go tool pprof` itself shows, one
# fact a line: samples total, burn_cpu flat share of samples, cpu total in ns, tags verdict.
pprof_facts() {
	local f=$1 trace=$2 span=$3
	shift 3
	{
		echo "@samples"; pprof -top -sample_index=samples "$@" "$f"
		echo "@cpu"; pprof -top -sample_index=cpu "$@" "$f"
		echo "@tags"; pprof -tags -sample_index=samples "$@" "$f"
	} | python3 "$TOOLS/pprof_facts.py" "$trace" "$span"
}

# slow_cpu_case NAME MIN_SAMPLES MAX_SAMPLES MS COVERS: one /cpu?ms=MS request on the
# route NAME begins with (perf or timer), whose profile covers the whole request or
# what came after the threshold (COVERS: request or after). NAME perf-warm: the slow
# request follows a 30 ms one on the same connection (so the same thread of the demo
# server, whose ring that first request got made); perf: it is its thread's first.
slow_cpu_case() {
	local route=$1 min=$2 max=$3 ms=$4 covers=$5 dir=$WORK/prof-$1 trace
	trace=4bf92f3577b34da6a3ce929d0e0e$(printf '%04x' "$RANDOM")
	local cfg_route=auto wrap=""
	[ "$route" = timer ] && cfg_route=timer
	[ "$route" = noperf ] && wrap=$BUILD/tests/servers/no_perf
	DEMO_WRAP=$wrap start_demo "$dir" OTSHIM_SLOW_MS=$SLOW_MS OTSHIM_CPU_ROUTE=$cfg_route OTSHIM_LOG=info
	if [ "$route" = perf-warm ]; then
		$HTTPC idle --port "$PORT" --req 'GET /sleep?ms=30' --req "GET /cpu?ms=$ms" --pause-ms 100 \
			--header "traceparent: 00-$trace-$PARENT-01" --show-last >"$WORK/resp.$route"
	else
		$HTTPC get --port "$PORT" --path "/cpu?ms=$ms" \
			--header "traceparent: 00-$trace-$PARENT-01" >"$WORK/resp.$route"
	fi
	local cpu_ns
	cpu_ns=$(awk -F': ' '/^x-thread-cpu-ns/{print $2}' "$WORK/resp.$route")
	wait_for 5 index_has "$dir" "$trace"
	stop_demo

	local files file span
	files=$(cd "$dir" 2>/dev/null && compgen -G "cpu-$trace-*.pb.gz")
	check "$route: exactly one cpu-<trace id>-<span>-<t>.pb.gz" [ "$(echo "$files" | grep -c .)" -eq 1 ]
	file=$(echo "$files" | head -1)
	span=${file#cpu-"$trace"-}
	span=${span%%-*}
	check "$route: every file name is <kind>-<trace hex>-<span hex>-<digits>.pb.gz" names_are_safe "$dir"
	check "$route: file mode is 0600" [ "$(stat -c %a "$dir/$file" 2>/dev/null)" = 600 ]

	# The index line: same ids as the file name and the traceparent, the request's facts.
	python3 "$TOOLS/check_index_line.py" cpu "$dir/index.jsonl" "$trace" "$span" "$PARENT" "$file" "$ms" \
		>"$WORK/idx.$route"
	check "$route: one index.jsonl line with the file's ids, parent id, GET /cpu 200, duration >= $ms ms" \
		[ "$(sed -n 1p "$WORK/idx.$route")" = ok ]
	[ "$(sed -n 1p "$WORK/idx.$route")" = ok ] || diag "$(sed -n 1p "$WORK/idx.$route")"
	local idx_cpu_ms duration_ms used_route after_ms
	read -r idx_cpu_ms duration_ms used_route after_ms < <(sed -n 2p "$WORK/idx.$route")
	[ "$route" = timer ] || [ "$route" = noperf ] &&
		check "$route: the fallback route was used" [ "$used_route" = timer ]
	[ "$route" = noperf ] && check "noperf: one line says the ring before the threshold is off" \
		[ "$(grep -c 'perf_event_open refused for the CPU ring' "$dir.err")" = 1 ]
	# Kernel CPU timers tick at CONFIG_HZ, so the fallback route has a lower bar.
	[ "$used_route" = timer ] && min=50

	local samples share prof_cpu_ns tags_ok
	{ read -r samples; read -r share; read -r prof_cpu_ns; read -r tags_ok; } \
		< <(pprof_facts "$dir/$file" "$trace" "$span" 2>"$WORK/tags.$route")
	# The server burned CPU from start to end, so the share after the threshold is its
	# own measured total times the fraction of the request's duration after it.
	local verdict
	verdict=$(python3 "$TOOLS/slow_cpu_verdict.py" "$cpu_ns" "$duration_ms" "$SLOW_MS" "$prof_cpu_ns" "$idx_cpu_ms" "$covers")
	diag "$route: route $used_route, profiled after ${after_ms} ms, $samples samples, burn_cpu share $share"
	diag "$route: server thread CPU $cpu_ns ns over $duration_ms ms; $(echo "$verdict" | head -1)"
	local v_cpu v_idx
	read -r v_cpu v_idx < <(echo "$verdict" | tail -1)
	check "$route: at least $min samples (go tool pprof -top)" \
		python3 -c "import sys; sys.exit(not float('$samples') >= $min)"
	check "$route: burn_cpu holds >= 90% of samples (go tool pprof -top -sample_index=samples)" \
		python3 -c "import sys; sys.exit(not float('$share') >= 0.9)"
	check "$route: at most $max samples" python3 -c "import sys; sys.exit(not float('$samples') <= $max)"
	if [ "$covers" = request ]; then
		check "$route: cpu/nanoseconds total within 10% of the CPU the request spent from its first byte" [ "$v_cpu" = 1 ]
		check "$route: the CPU file holds $((ms * 9 / 10))-$((ms * 11 / 10)) ms (go tool pprof -top)" \
			python3 -c "import sys; sys.exit(not $ms * 0.9e6 <= float('$prof_cpu_ns') <= $ms * 1.1e6)"
		check "$route: the thread's ring kept its samples before the threshold (stats)" \
			[ "$(stats_field "$dir" cpu_pre_rings_opened)" -ge 1 ] 2>/dev/null
		check "$route: and read them whole (stats: cpu_pre_incomplete 0)" \
			[ "$(stats_field "$dir" cpu_pre_incomplete)" = 0 ]
		# The samples kept before the threshold, told apart by their label.
		python3 "$TOOLS/pprof_raw.py" "$dir/$file" phase=before_threshold >"$WORK/before.$route" 2>&1
		local b_samples b_ms b_share
		read -r b_samples b_ms b_share < <(python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
print(s["totals"][0], s["totals"][1] // 1000000, s["leaf_share"].get("burn_cpu", [0])[0])' "$WORK/before.$route")
		diag "$route: before the threshold: $b_samples samples, $b_ms ms, burn_cpu share $b_share"
		check "$route: samples labelled phase=before_threshold (>= 10 in the first 100 ms)" \
			[ "${b_samples:-0}" -ge 10 ]
		check "$route: >= 90% of them in burn_cpu, unwound from the ring's registers and stack" \
			python3 -c "import sys; sys.exit(not float('${b_share:-0}') >= 0.9)"
	else
		check "$route: cpu/nanoseconds total within 10% of the CPU spent after the threshold" [ "$v_cpu" = 1 ]
		check "$route: no ring before the threshold (stats: cpu_pre_rings_opened 0)" \
			[ "$(stats_field "$dir" cpu_pre_rings_opened)" = 0 ]
	fi
	check "$route: cpu/nanoseconds total within 10% of the index line's cpu_ms" [ "$v_idx" = 1 ]
	check "$route: go tool pprof -tags: 100% of samples carry this trace_id and span_id" [ "$tags_ok" = 1 ]
	[ "$tags_ok" = 1 ] || diag "$(cat "$WORK/tags.$route")"

	# Independent of pprof's presentation: every single sample carries both labels.
	python3 "$TOOLS/pprof_raw.py" "$dir/$file" >"$WORK/raw.$route" 2>&1
	check "$route: every sample in the raw profile is labelled (pprof -raw)" \
		python3 "$TOOLS/pprof_raw_check.py" "$WORK/raw.$route" --labels trace_id="$trace" span_id="$span"
}

# 400 ms of CPU at 1 kHz from the first byte: 400 samples, give or take a fifth.
slow_cpu_case perf-warm 320 480 400 request
# A thread's first request: its ring is made while it runs (within 10-20 ms of its
# first byte), so the profile misses at most that much.
slow_cpu_case perf 320 480 400 request
# The timer route ticks at CONFIG_HZ (often 250): 300 ms after the threshold is only
# 75 ticks, so its bar is 50.
slow_cpu_case timer 50 480 400 after
# perf_event_open refused by a seccomp filter: the timer route, no ring, one line.
slow_cpu_case noperf 50 480 400 after

# Fast requests write nothing; a sleeping slow request is recorded with (almost) no
# samples and the server carries on; no traceparent means a fresh random trace id.
dir=$WORK/prof-misc
start_demo "$dir" OTSHIM_SLOW_MS=$SLOW_MS
n=$($HTTPC keepalive --port "$PORT" --n 10)
for _ in $(seq 10); do curl -s -o /dev/null "http://127.0.0.1:$PORT/"; done
sleep 0.5
check "20 fast requests ($n + 10) write no file" [ -z "$(find "$dir" -name '*.pb.gz' 2>/dev/null)" ]
check "and no index line" [ ! -s "$dir/index.jsonl" ]
curl -s -o /dev/null "http://127.0.0.1:$PORT/sleep?ms=300"
wait_for 5 test -s "$dir/index.jsonl"
check "the server still answers after a sleeping slow request" \
	[ "$(curl -s "http://127.0.0.1:$PORT/")" = ok ]
stop_demo
check "the server exited cleanly on SIGTERM" [ "$DEMO_STATUS" = 0 ]
python3 "$TOOLS/check_index_line.py" sleep "$dir/index.jsonl" >"$WORK/sleep.idx"
check "sleeping request: one index line with a fresh random trace id, no parent, duration >= 300 ms" \
	[ "$(sed -n 1p "$WORK/sleep.idx")" = ok ]
[ "$(sed -n 1p "$WORK/sleep.idx")" = ok ] || diag "$(sed -n 1p "$WORK/sleep.idx")"
sleep_file=$dir/$(sed -n 2p "$WORK/sleep.idx")
check "sleeping request: its CPU file exists" [ -f "$sleep_file" ]
sleep_samples=$(python3 "$TOOLS/pprof_raw.py" "$sleep_file" 2>/dev/null |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["totals"][0])' 2>/dev/null)
diag "sleeping request: ${sleep_samples:-?} samples"
check "sleeping request: its profile has few or no samples (<= 5)" [ "${sleep_samples:-99}" -le 5 ]
check "every file name is <kind>-<trace hex>-<span hex>-<digits>.pb.gz" names_are_safe "$dir"

done_testing
