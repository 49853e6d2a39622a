#!/bin/bash
# tests/run.sh BUILD_DIR [SANITIZER_BUILD_DIR...]: runs every unit test binary (from each
# build directory given) and integration script (against the first), each
# speaks TAP; exit 0 = pass, 77 = skip, else fail), shows their output, and ends with
# one line "N passed, N failed" (", N skipped" appended if any) counting test files.
set -u
BUILD=${1:-build}
[ $# -ge 1 ] || set -- "$BUILD"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 99
LIMIT=${OTSHIM_TEST_TIMEOUT:-240}
pass=0 fail=0 skip=0 failed_names=""

run_one() { # name, command...
	local name=$1 rc
	shift
	echo "=== $name"
	timeout -k 5 "$LIMIT" "$@" 2>&1 | sed 's/^/    /'
	rc=${PIPESTATUS[0]}
	case $rc in
	0) pass=$((pass + 1)); echo "--- $name: ok" ;;
	77) skip=$((skip + 1)); echo "--- $name: skipped" ;;
	124) fail=$((fail + 1)); failed_names="$failed_names $name"; echo "--- $name: TIMED OUT after ${LIMIT}s" ;;
	*) fail=$((fail + 1)); failed_names="$failed_names $name"; echo "--- $name: FAILED (exit $rc)" ;;
	esac
}

for dir in "$@"; do
	tag=""
	[ "$dir" != "$BUILD" ] && tag=" [${dir#build-}]"
	for t in "$dir"/tests/unit/test_*; do
		if [ ! -x "$t" ] || [ "${t%.d}" != "$t" ]; then continue; fi
		run_one "unit/$(basename "$t")$tag" "$t"
	done
done
for t in tests/integration/*.sh; do
	[ "$(basename "$t")" = lib.sh ] && continue
	run_one "integration/$(basename "$t" .sh)" bash "$t" "$BUILD"
done

[ -n "$failed_names" ] && echo "failed:$failed_names"
summary="$pass passed, $fail failed"
[ "$skip" -gt 0 ] && summary="$summary, $skip skipped"
echo "$summary"
[ "$fail" -eq 0 ]
