#!/bin/bash
# limits.sh: the rate limit and the disk cap. Slow requests beyond
# OTSHIM_MAX_PROFILES_PER_MIN profile sets a minute, or once the directory holds
# OTSHIM_MAX_DISK_MB, cost only their profiles: counted as dropped, the service
# unaffected.
. "$(dirname "$0")/lib.sh"

slow_requests() { # N: N slow (sleeping) requests, one after another
	for _ in $(seq "$1"); do curl -s -o /dev/null "http://127.0.0.1:$PORT/sleep?ms=80"; done
}

dir=$WORK/rate
start_demo "$dir" OTSHIM_SLOW_MS=30 OTSHIM_MAX_PROFILES_PER_MIN=2
slow_requests 5
sleep 0.3
stop_demo
written=$(ls "$dir"/cpu-*.pb.gz 2>/dev/null | wc -l)
diag "rate limit 2/min: $written files, stats $(cat "$dir"/otshim-stats-*.json)"
# The minute may roll over during the test: then up to 4 can be written.
within_limit() { [ "$written" -ge 2 ] && [ "$written" -le 4 ]; }
check "no more profile sets than the per-minute limit allows" within_limit
check "slow requests counted: 5" [ "$(stats_field "$dir" slow)" = 5 ]
check "written + dropped = slow" [ $(( $(stats_field "$dir" profiles_written) + $(stats_field "$dir" profiles_dropped) )) -eq 5 ]
check "index lines match the files written" [ "$(wc -l <"$dir/index.jsonl")" -eq "$written" ]

dir=$WORK/disk
mkdir -p "$dir"
head -c $((2 * 1024 * 1024)) /dev/zero >"$dir/ballast.bin" # the directory already holds 2 MiB
start_demo "$dir" OTSHIM_SLOW_MS=30 OTSHIM_MAX_DISK_MB=1
slow_requests 3
check "the service still answers with the disk cap reached" [ "$(curl -s "http://127.0.0.1:$PORT/")" = ok ]
stop_demo
check "over the disk cap no profile is written" [ -z "$(ls "$dir"/cpu-* 2>/dev/null)" ]
check "and the three are counted as dropped" [ "$(stats_field "$dir" profiles_dropped)" = 3 ]
done_testing
