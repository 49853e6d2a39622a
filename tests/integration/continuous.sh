#!/bin/bash
# continuous.sh: OTSHIM_CONTINUOUS_SEC=1 writes continuous-cpu-<unix>.pb.gz and
# continuous-heap-<unix>.pb.gz period after period, valid for go tool pprof, the CPU
# ones showing what the service burned; and it keeps its history under
# OTSHIM_MAX_DISK_MB by deleting the oldest continuous files (a 1.2 MB old one, left
# in the directory beforehand, must go when the cap is 1 MiB). CPU samples taken while
# a request was served carry its trace and span ids: the ids its traceparent gave and
# the span id its index line (and span) has; so do heap samples of memory a request
# allocated and still holds.
. "$(dirname "$0")/lib.sh"

dir=$WORK/prof
mkdir -p "$dir"
head -c 1200000 /dev/urandom >"$dir/continuous-cpu-1000000000.pb.gz"
start_demo "$dir" OTSHIM_CONTINUOUS_SEC=1 OTSHIM_MAX_DISK_MB=1
for i in $(seq 10 29); do
	curl -s -o /dev/null -H "traceparent: 00-0af7651916cd43dd8448eb211c8003$i-b7ad6b7169203331-01" \
		"http://127.0.0.1:$PORT/cpu?ms=150"
done
HOLD=0af7651916cd43dd8448eb211c80aaaa
curl -s -o /dev/null -H "traceparent: 00-$HOLD-b7ad6b7169203331-01" \
	"http://127.0.0.1:$PORT/hold?site=2&kb=16384&min=65536&max=262144"
sleep 1.5
stop_demo
ncpu=$(ls "$dir"/continuous-cpu-*.pb.gz 2>/dev/null | wc -l)
nheap=$(ls "$dir"/continuous-heap-*.pb.gz 2>/dev/null | wc -l)
diag "continuous files: $ncpu cpu, $nheap heap"
check "at least three periods of CPU files" [ "$ncpu" -ge 3 ]
check "and of heap files" [ "$nheap" -ge 3 ]
check "the oldest file went to keep the directory under 1 MiB" [ ! -e "$dir/continuous-cpu-1000000000.pb.gz" ]
check "the directory is under the cap" [ "$(du -sb "$dir" | awk '{ print $1 }')" -le 1048576 ]
best=0
for f in "$dir"/continuous-cpu-*.pb.gz; do
	s=$(pprof -top "$f" | awk '/burn_cpu$/ { v = $2; sub(/%/, "", v); print int(v) }')
	[ "${s:-0}" -gt "$best" ] && best=$s
done
check "a CPU period shows burn_cpu with most of the samples ($best %)" [ "$best" -ge 80 ]
f=$(ls "$dir"/continuous-heap-*.pb.gz | tail -1)
for c in "$dir"/continuous-cpu-*.pb.gz; do pprof -tags "$c"; done >"$WORK/tags"
seen=$(grep -oE '0af7651916cd43dd8448eb211c8003[0-9]{2}' "$WORK/tags" | sort -u | wc -l)
check "CPU samples carry the trace ids of the requests served ($seen of 20 seen)" [ "$seen" -ge 15 ]
python3 "$TOOLS/spans_in_tags.py" "$dir/index.jsonl" "$WORK/tags" >"$WORK/spans" 2>&1
rc=$?
diag "slow requests whose span id labels continuous CPU samples: $(cat "$WORK/spans")"
check "the samples carry the same span ids as the slow requests' index lines" [ "$rc" = 0 ]
h=$(ls "$dir"/continuous-heap-*.pb.gz | tail -1)
pprof -tags "$h" >"$WORK/heap.tags"
san_check "$SAN_NO_HEAP" "the last heap period labels the 16 MiB held with the request that allocated it" \
	grep -q "$HOLD" "$WORK/heap.tags"
check "heap periods are valid heap profiles" bash -c "HOME=$HOME go tool pprof -top '$f' 2>/dev/null | grep -q 'Type: inuse_space'"
check "the service exited cleanly" [ "$DEMO_STATUS" = 0 ]
done_testing
