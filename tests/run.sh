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
# Each file gets LIMIT seconds, and the whole run BUDGET: a hung test can cost its own
# limit, but never push `make test` past the budget. A file that gets no time left
# counts as failed, not as skipped.
LIMIT=${OTSHIM_TEST_TIMEOUT:-180}
BUDGET=${OTSHIM_TEST_BUDGET:-660}
pass=0 fail=0 skip=0 failed_names=""

run_one() { # name, command...
	local name=$1 rc limit=$LIMIT left=$((BUDGET - SECONDS))
	shift
	echo "=== $name"
	[ "$left" -lt "$limit" ] && limit=$left
	if [ "$limit" -le 0 ]; then
		rc=125
	else
		timeout -k 5 "$limit" "$@" 2>&1 | sed 's/^/    /'
		rc=${PIPESTATUS[0]}
	fi
	case $rc in
	0) pass=$((pass + 1)); echo "--- $name: ok" ;;
	77) skip=$((skip + 1)); echo "--- $name: skipped" ;;
	*)
		fail=$((fail + 1))
		failed_names="$failed_names $name"
		case $rc in
		124 | 137) echo "--- $name: TIMED OUT after ${limit}s" ;;
		125) echo "--- $name: NOT RUN (the ${BUDGET}s budget for the whole run is spent)" ;;
		*) echo "--- $name: FAILED (exit $rc)" ;;
		esac ;;
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
