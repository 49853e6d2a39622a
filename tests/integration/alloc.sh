#!/bin/bash
# alloc.sh: the malloc-family interposers behave as POSIX and glibc say. The allocator
# battery (tests/alloc/alloc_battery.cc, built by `make` into $BUILD/tests/alloc/) must
# pass without the shim (a baseline: the battery itself is right), under the shim over
# jemalloc, with OTSHIM_ALLOCATOR=system and with every allocation sampled; then Python
# (PYTHONMALLOC=malloc, so every object goes through malloc), ls, sort and gzip give
# under the shim exactly the output they give without it.
. "$(dirname "$0")/lib.sh"
BAT=$BUILD/tests/alloc/alloc_battery
[ -x "$BAT" ] || { echo "1..0 # SKIP $BAT not built"; exit 77; }

# under MODE COMMAND...: COMMAND with the shim preloaded. MODE: none (no shim),
# default (jemalloc), system (OTSHIM_ALLOCATOR=system), sampled (every allocation).
under() {
	local mode=$1
	shift
	case $mode in
	none) env -u LD_PRELOAD "$@" ;;
	default) env LD_PRELOAD="$LIB" OTSHIM_PROFILE_DIR="$WORK/prof-$mode" "$@" ;;
	system) env LD_PRELOAD="$LIB" OTSHIM_PROFILE_DIR="$WORK/prof-$mode" OTSHIM_ALLOCATOR=system "$@" ;;
	sampled) env LD_PRELOAD="$LIB" OTSHIM_PROFILE_DIR="$WORK/prof-$mode" OTSHIM_HEAP_SAMPLE_BYTES=1 "$@" ;;
	esac
}

# ---- the battery ----

plan_of() { grep -E -m1 '^1\.\.[0-9]+$' "$1"; }
base_plan=""
# Under a sanitizer its runtime serves every call the battery makes (and its operator
# new aborts where the battery expects std::bad_alloc): nothing of ours to judge.
SAN_BATTERY="the sanitizer's runtime serves the whole malloc family (its new aborts, never throws)"
modes="none default system sampled"
if [ -n "$SAN" ]; then
	modes=""
	for mode in none default system sampled; do san_skip "$SAN_BATTERY" "allocator battery ($mode)"; done
	san_skip "$SAN_BATTERY" "under the shim all 11 malloc-family functions resolve to libotshim.so"
fi
for mode in $modes; do
	out=$WORK/battery-$mode
	t0=$SECONDS
	under "$mode" "$BAT" >"$out.out" 2>"$out.err"
	rc=$?
	plan=$(plan_of "$out.out")
	[ "$mode" = none ] && base_plan=$plan
	diag "battery ($mode): exit $rc, $(grep -c '^ok' "$out.out") ok, $(grep -c '^not ok' "$out.out") not ok, plan ${plan:-missing}, $((SECONDS - t0)) s"
	if [ "$rc" != 0 ] || [ -z "$plan" ]; then
		diag "$(grep -A1 '^not ok' "$out.out" | grep -v -E '^(ok|--)' | head -40)"
		[ -z "$plan" ] && diag "no plan line (crashed?); last lines: $(tail -3 "$out.out")"
		[ -s "$out.err" ] && diag "stderr: $(tail -10 "$out.err")"
	fi
	if [ "$mode" = none ]; then
		check "allocator battery passes without the shim (baseline)" [ "$rc:${plan:+planned}" = 0:planned ]
	else
		check "allocator battery passes under the shim ($mode)" [ "$rc:$plan" = "0:$base_plan" ]
	fi
done

if [ -z "$SAN" ]; then
	served=$(grep -m1 '^# served by:' "$WORK/battery-default.out")
	diag "${served#\# }"
	others=$(echo "${served#*:}" | tr ' ' '\n' | grep '=' | grep -v '=libotshim\.so$')
	check "under the shim all 11 malloc-family functions resolve to libotshim.so" \
		[ "${served:+found}:$others" = found: ]
fi

# ---- Python: every object through malloc ----

for w in dict json pool; do
	want=$(under none env PYTHONMALLOC=malloc python3 "$TOOLS/alloc_workload.py" "$w" 2>/dev/null)
	[ "$w" = dict ] && check "python3 baseline: a dict of 10^6 entries" [ "$want" = "1000000 5888890" ]
	for mode in default system; do
		got=$(under "$mode" env PYTHONMALLOC=malloc python3 "$TOOLS/alloc_workload.py" "$w" 2>"$WORK/py.err")
		rc=$?
		[ "$rc:$got" = "0:$want" ] || diag "$w ($mode): exit $rc, got '$got', want '$want'; $(tail -5 "$WORK/py.err")"
		check "python3 ${w^^} workload under the shim ($mode): exit 0, same output as without" [ "$rc:$got" = "0:$want" ]
	done
done

# ---- ls, sort, gzip ----

big=$WORK/big.txt
awk 'BEGIN { srand(7); for (i = 0; i < 400000; i++) printf "%08x %d %s\n", int(rand() * 4294967296), i, substr("abcdefghijklmnopqrstuvwxyz", 1 + i % 26) }' >"$big"
export LC_ALL=C
# same RC WANT GOT: RC is 0 and GOT has exactly WANT's bytes; else says what differs.
same() {
	if [ "$1" = 0 ] && cmp -s "$2" "$3"; then return 0; fi
	diag "exit $1; $(cmp "$2" "$3" 2>&1 | head -1); stderr: $(tail -5 "$WORK/err")"
	return 1
}
under none /bin/ls -la /usr >"$WORK/ls.none"
under none sort -S 64M --parallel=4 "$big" >"$WORK/sort.none"
under none gzip -n -6 -c "$big" >"$WORK/gz.none"
for mode in default system; do
	under "$mode" /bin/ls -la /usr >"$WORK/ls.$mode" 2>"$WORK/err"
	check "ls -la /usr under the shim ($mode): exit 0, same listing" same $? "$WORK/ls.none" "$WORK/ls.$mode"
	under "$mode" sort -S 64M --parallel=4 "$big" >"$WORK/sort.$mode" 2>"$WORK/err"
	check "sort of 400000 lines (4 threads) under the shim ($mode): exit 0, same output" same $? "$WORK/sort.none" "$WORK/sort.$mode"
	under "$mode" gzip -n -6 -c "$big" >"$WORK/gz.$mode" 2>"$WORK/err"
	check "gzip under the shim ($mode): exit 0, same compressed bytes" same $? "$WORK/gz.none" "$WORK/gz.$mode"
	under "$mode" gunzip -c "$WORK/gz.$mode" >"$WORK/gunzip.$mode" 2>"$WORK/err"
	check "gunzip under the shim ($mode): exit 0, round trip equals the input" same $? "$big" "$WORK/gunzip.$mode"
done

# Which allocator serves memory: glibc rounds malloc(1) up to 24 usable bytes, jemalloc
# to 8. A disabled shim (OTSHIM_ENABLED=0) forwards every call untouched, so glibc
# serves it.
usable1() {
	env LD_PRELOAD="$LIB" "$@" /usr/bin/python3 -c \
		'import ctypes; c = ctypes.CDLL(None); c.malloc.restype = ctypes.c_void_p; c.malloc_usable_size.argtypes = [ctypes.c_void_p]; print(c.malloc_usable_size(c.malloc(1)))'
}
u_def=$(usable1); u_sys=$(usable1 OTSHIM_ALLOCATOR=system); u_off=$(usable1 OTSHIM_ENABLED=0)
diag "malloc_usable_size(malloc(1)): default $u_def, system $u_sys, OTSHIM_ENABLED=0 $u_off"
san_check "$SAN_NO_HEAP" "the default allocator is jemalloc" [ "$u_def" = 8 ]
san_check "$SAN_NO_HEAP" "OTSHIM_ALLOCATOR=system is glibc" [ "$u_sys" = 24 ]
san_check "$SAN_NO_HEAP" "OTSHIM_ENABLED=0 leaves memory to glibc" [ "$u_off" = 24 ]
done_testing
