#!/bin/bash
# badconfig.sh: bad configuration never stops the service. Each bad value gets one
# clear stderr line naming the variable and what is expected; a typo gets a "did you
# mean"; OTSHIM_ENABLED=0 writes nothing at all; an unwritable profile directory costs
# only the profiles.
. "$(dirname "$0")/lib.sh"

dir=$WORK/prof
start_demo "$dir" OTSHIM_SLOW_MS=abc OTSHIM_CPU_HZ=-5 OTSHIM_SLOWMS=10 OTSHIM_MAX_DISK_MB=12x
check "the service serves despite bad values" [ "$(curl -s "http://127.0.0.1:$PORT/")" = ok ]
stop_demo
err=$dir.err
diag "stderr: $(cat "$err")"
check "one line names OTSHIM_SLOW_MS, its value and what is expected" \
	[ "$(grep -c 'OTSHIM_SLOW_MS="abc" is not a whole number of milliseconds' "$err")" = 1 ]
check "one line names OTSHIM_CPU_HZ" [ "$(grep -c 'OTSHIM_CPU_HZ="-5"' "$err")" = 1 ]
check "one line names OTSHIM_MAX_DISK_MB" [ "$(grep -c 'OTSHIM_MAX_DISK_MB="12x"' "$err")" = 1 ]
check "a typo gets a did-you-mean" grep -q 'unknown variable OTSHIM_SLOWMS; did you mean OTSHIM_SLOW_MS?' "$err"
check "every line carries the otshim[PID] prefix" bash -c "! grep -v -E '^otshim\[[0-9]+\]: ' '$err' | grep -q ."

# Disabled: forwards everything, starts nothing, writes nothing.
dir=$WORK/off
start_demo "$dir" OTSHIM_ENABLED=0 OTSHIM_SLOW_MS=50
curl -s -o /dev/null "http://127.0.0.1:$PORT/cpu?ms=200"
threads=$(ls /proc/"$SPID"/task | wc -l)
stop_demo
check "OTSHIM_ENABLED=0 writes no file" [ ! -e "$dir" ]
most=2
[ "$SAN" = thread ] && most=3 # and TSan's runtime's own background thread
check "OTSHIM_ENABLED=0 starts no thread of ours (main + 0 idle connection threads)" [ "$threads" -le "$most" ]

# Unwritable directory: a path under a regular file.
touch "$WORK/afile"
dir=$WORK/unwritable
start_demo "$dir" OTSHIM_SLOW_MS=50 OTSHIM_PROFILE_DIR="$WORK/afile/profiles"
curl -s -o /dev/null "http://127.0.0.1:$PORT/cpu?ms=200"
sleep 0.2
check "with an unwritable directory the service still serves" [ "$(curl -s "http://127.0.0.1:$PORT/")" = ok ]
stop_demo
check "the service exited normally (status 0)" [ "$DEMO_STATUS" = 0 ]
check "the unusable directory was reported once" [ "$(grep -c 'cannot create the profile directory' "$dir.err")" = 1 ]
done_testing
