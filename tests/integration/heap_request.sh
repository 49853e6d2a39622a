#!/bin/bash
# heap_request.sh: per-request heap profiles. Two requests allocate side by side on two
# threads of the demo server: A (no traceparent, so its ids are made when its first
# allocation is sampled) allocates 192 MiB in 64 KiB blocks at hold_site_one and frees
# them before it ends; B (with a traceparent) allocates 64 MiB of 64 B-8 KiB blocks at
# hold_site_two and keeps them. Focused on A's ids (go tool pprof -tagfocus), A's own
# heap file, /debug/pprof/allocs and a continuous heap file each show A's 192 MiB in
# alloc_space at its site within 10 %, none of it in use, and nothing at B's site; the
# ids are those of A's index line (so of its span); alloc_bytes is within 1 % of what A
# allocated; B's ids show B's memory in use. A fast request's memory carries its labels
# too. The heap is sampled at a 64 KiB mean: ~1,900 samples of A's blocks, about 1.4 %
# error (the default 512 KiB would give ~360 samples, 5 %: a 10 % bound would fail one
# run in twenty).
. "$(dirname "$0")/lib.sh"
san_skip_all "$SAN_NO_HEAP"

TB=0af7651916cd43dd8448eb211c80b0b0 # B's trace id
TC=0af7651916cd43dd8448eb211c80c0c0 # the fast request's

# focus FILE SAMPLE_INDEX TAG=VALUE FUNCTION: FUNCTION's flat bytes among the samples
# carrying that label (0 if none).
focus() {
	pprof -top -unit=B -nodecount=100 -sample_index="$2" -tagfocus="$3" "$1" |
		awk -v f="$4" '$NF == f { v = $1; sub(/B$/, "", v); print v; found = 1 } END { if (!found) print 0 }'
}
# within PCT ESTIMATE TRUTH: |estimate - truth| <= PCT % of truth.
within() { python3 -c "import sys; e, t = float(sys.argv[2]), float(sys.argv[3]); sys.exit(0 if abs(e - t) <= float(sys.argv[1]) / 100 * t else 1)" "$@"; }
# header FILE NAME: the value of a response header saved by curl -D.
header() { tr -d '\r' <"$1" | awk -v h="$2:" 'tolower($1) == tolower(h) { $1 = ""; print substr($0, 2) }'; }
# a_line DIR FIELD: FIELD (dotted) of the index line of the /hold request not traced by B.
a_line() {
	python3 -c '
import json, sys
for l in open(sys.argv[1]):
    j = json.loads(l)
    if j["path"] == "/hold" and j["trace_id"] != sys.argv[2]:
        v = j
        for k in sys.argv[3].split("."):
            v = v[k]
        print(v)
        break' "$1/index.jsonl" "$TB" "$2" 2>/dev/null
}

# run_pair: A and B at once, each on its connection (so on its thread); their answers'
# heads in $WORK/a.h and $WORK/b.h.
run_pair() {
	curl -s -D "$WORK/a.h" -o /dev/null \
		"http://127.0.0.1:$PORT/hold?site=1&kb=196608&min=65536&max=65536&free=1&spread_ms=400&sleep_ms=50" &
	local a=$!
	curl -s -D "$WORK/b.h" -o /dev/null -H "traceparent: 00-$TB-b7ad6b7169203331-01" \
		"http://127.0.0.1:$PORT/hold?site=2&kb=65536&min=64&max=8192&spread_ms=400&sleep_ms=50" &
	local b=$!
	wait "$a" "$b"
	A_BYTES=$(header "$WORK/a.h" X-Alloc-Bytes)
	B_BYTES=$(header "$WORK/b.h" X-Alloc-Bytes)
}

# side_by_side: the two allocation windows overlap for most of A's (says how much).
side_by_side() {
	python3 -c '
import sys
a0, a1, b0, b1 = map(int, sys.argv[1:5])
both = min(a1, b1) - max(a0, b0)
print("A allocated for %.0f ms, B for %.0f ms, both at once for %.0f ms" % ((a1 - a0) / 1e6, (b1 - b0) / 1e6, both / 1e6))
sys.exit(0 if both >= 0.5 * (a1 - a0) else 1)' $(header "$WORK/a.h" X-Alloc-Window) $(header "$WORK/b.h" X-Alloc-Window)
}

# ---- a slow request's heap file, and the endpoint ----
dir=$WORK/req
pp=$(free_port)
start_demo "$dir" OTSHIM_SLOW_MS=100 OTSHIM_HEAP_SAMPLE_BYTES=65536 OTSHIM_PPROF_ADDR="127.0.0.1:$pp"
run_pair
overlap=$(side_by_side)
check "the two requests allocated side by side ($overlap)" [ $? = 0 ]
wait_for 10 bash -c "[ \$(cat '$dir/index.jsonl' 2>/dev/null | grep -c .) -ge 2 ]"
TA=$(a_line "$dir" trace_id)
SA=$(a_line "$dir" span_id)
hf=$dir/$(a_line "$dir" files.heap)
check "A (no traceparent) has ids and a heap file" [ -n "$TA" -a -n "$SA" -a -s "$hf" ]
a1=$(focus "$hf" alloc_space "trace_id=$TA" hold_site_one)
a1s=$(focus "$hf" alloc_space "span_id=$SA" hold_site_one)
i1=$(focus "$hf" inuse_space "trace_id=$TA" hold_site_one)
a2=$(focus "$hf" alloc_space "trace_id=$TA" hold_site_two)
diag "A allocated $A_BYTES B at hold_site_one; its heap file, focused on its trace id: alloc_space $a1 (on its span id $a1s), inuse_space $i1; at hold_site_two $a2"
check "alloc_space of A's trace id at its site within 10 % of what it allocated" within 10 "$a1" "$A_BYTES"
check "the same focused on the span id of its index line" within 10 "$a1s" "$A_BYTES"
check "none of it in use (A freed it)" [ "$i1" = 0 ]
check "nothing at B's site under A's trace id" [ "$a2" = 0 ]
b2=$(focus "$hf" inuse_space "trace_id=$TB" hold_site_two)
b1=$(focus "$hf" alloc_space "trace_id=$TB" hold_site_one)
diag "B holds $B_BYTES B at hold_site_two; under its trace id: inuse_space $b2, and $b1 at hold_site_one"
check "B's trace id shows B's memory in use within 10 %" within 10 "$b2" "$B_BYTES"
check "and nothing at A's site" [ "$b1" = 0 ]
ab=$(a_line "$dir" alloc_bytes)
diag "A's index line: alloc_bytes $ab"
check "A's alloc_bytes within 1 % of what it allocated" within 1 "$ab" "$A_BYTES"

curl -s -o "$WORK/allocs.pb.gz" "http://127.0.0.1:$pp/debug/pprof/allocs"
e1=$(focus "$WORK/allocs.pb.gz" alloc_space "trace_id=$TA" hold_site_one)
e2=$(focus "$WORK/allocs.pb.gz" alloc_space "trace_id=$TA" hold_site_two)
diag "/debug/pprof/allocs focused on A's trace id: $e1 at hold_site_one, $e2 at hold_site_two"
check "/debug/pprof/allocs: A's alloc_space within 10 %" within 10 "$e1" "$A_BYTES"
check "and nothing of B's site" [ "$e2" = 0 ]

# A fast request keeps 64 MiB of 64 KiB blocks: no file of its own, its labels in the endpoint's.
c=$(curl -s -D - -o /dev/null -H "traceparent: 00-$TC-b7ad6b7169203331-01" \
	"http://127.0.0.1:$PORT/hold?site=3&kb=65536&min=65536&max=65536" | tr -d '\r' | awk '/^X-Alloc-Bytes:/ { print $2 }')
curl -s -o "$WORK/heap.pb.gz" "http://127.0.0.1:$pp/debug/pprof/heap"
c3=$(focus "$WORK/heap.pb.gz" inuse_space "trace_id=$TC" hold_site_three)
sleep 0.2
grep -q "$TC" "$dir/index.jsonl" && diag "the fast request ran past OTSHIM_SLOW_MS here (a slow machine); its labels still count"
diag "a fast request kept $c B; /debug/pprof/heap under its trace id: $c3"
check "/debug/pprof/heap: a fast request's memory in use under its trace id, within 10 %" within 10 "$c3" "$c"
stop_demo
unl=$(stats_field "$dir" heap_samples_unlabelled)
diag "stats: heap_samples_unlabelled $unl, heap_freed_unlabelled $(stats_field "$dir" heap_freed_unlabelled)"
check "no sample taken in a request went unlabelled" [ "$unl" = 0 ]
check "the server exited cleanly" [ "$DEMO_STATUS" = 0 ]

# ---- continuous mode's heap files ----
dir=$WORK/cont
start_demo "$dir" OTSHIM_SLOW_MS=100 OTSHIM_HEAP_SAMPLE_BYTES=65536 OTSHIM_CONTINUOUS_SEC=1
run_pair
after=$(($(date +%s) + 1))
newer() { for f in "$dir"/continuous-heap-*.pb.gz; do n=${f##*-}; [ "${n%.pb.gz}" -ge "$after" ] 2>/dev/null && echo "$f"; done | tail -1; }
wait_for 10 bash -c "[ \$(cat '$dir/index.jsonl' 2>/dev/null | grep -c .) -ge 2 ]"
wait_for 10 test -n "$(newer)"
cf=$(newer)
TA=$(a_line "$dir" trace_id)
k1=$(focus "$cf" alloc_space "trace_id=$TA" hold_site_one)
k2=$(focus "$cf" alloc_space "trace_id=$TA" hold_site_two)
kb=$(focus "$cf" inuse_space "trace_id=$TB" hold_site_two)
diag "continuous heap file $(basename "$cf"): A ($TA) $k1 at hold_site_one, $k2 at hold_site_two; B in use $kb"
check "a continuous heap file: A's alloc_space within 10 %" within 10 "$k1" "$A_BYTES"
check "and nothing of B's site under A's trace id" [ "$k2" = 0 ]
check "B's memory in use under B's trace id, within 10 %" within 10 "$kb" "$B_BYTES"
stop_demo
check "the server exited cleanly" [ "$DEMO_STATUS" = 0 ]
done_testing
