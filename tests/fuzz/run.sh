#!/bin/bash
# tests/fuzz/run.sh SECONDS [TARGET...]: runs each libFuzzer target (build-fuzz/fuzz_TARGET;
# default: all) for SECONDS and speaks TAP: one test point per target, passing when
# libFuzzer ends cleanly with no artifact, with diag lines giving its executions ("Done
# N runs"), coverage (cov/ft) and corpus size. `make fuzz` and `make fuzz-smoke` call it.
#
# Inputs: the checked-in seeds tests/fuzz/corpus/TARGET (read only) and what earlier
# runs found, kept in build-fuzz/corpus/TARGET (outside git). Crash, leak, timeout and
# out-of-memory artifacts go to a scratch directory under $TMPDIR, which is removed
# when all passed and kept, and named with the command that reproduces, when not.
set -u
SECS=${1:-10}
[ $# -gt 0 ] && shift
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 99
FB=${FUZZ_B:-build-fuzz}
[ $# -gt 0 ] || set -- http traceparent cfg
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/otshim-fuzz.XXXXXX") || exit 99
n=0 failed=0

diag() { printf '%s\n' "$*" | sed 's/^/# /'; }

# The configuration fuzzer's dictionary: every variable name base/cfg.c knows (so the
# table's new rows are fuzzed without editing this) and the words its values take.
cfg_dict() {
	{
		grep -o '"\(OTSHIM\|OTEL\)_[A-Z_]*"' runtime/base/cfg.c | sort -u
		for w in @cwd= = ',' %20 %2C http:// https:// true false yes off on otlp none gzip \
			http/protobuf jemalloc system auto timer debug warning 127.0.0.1: '[::1]:' 0 1 \
			86400000 86400001 1099511627776 1073741825 18446744073709551616; do
			printf '"%s"\n' "$w"
		done
	} >"$SCRATCH/cfg.dict"
	echo "$SCRATCH/cfg.dict"
}

# Per-target libFuzzer options: longest input, dictionary.
options() {
	case $1 in
	http) echo "-max_len=20000 -dict=tests/fuzz/http.dict" ;; # heads up to 8 KiB, and bodies
	traceparent) echo "-max_len=256 -dict=tests/fuzz/traceparent.dict" ;;
	h2) echo "-max_len=20000 -dict=tests/fuzz/h2.dict" ;; # header blocks up to 8 KiB
	cfg) echo "-max_len=8192 -dict=$(cfg_dict)" ;; # past RT_CFG_PATH_MAX
	*) echo "" ;;
	esac
}

for t in "$@"; do
	n=$((n + 1))
	bin=$FB/fuzz_$t log=$SCRATCH/$t.log art=$SCRATCH/$t
	if [ ! -x "$bin" ]; then
		echo "not ok $n - fuzz_$t: $bin is not built (make fuzz-build)"
		failed=$((failed + 1))
		continue
	fi
	mkdir -p "$FB/corpus/$t" "$art"
	# shellcheck disable=SC2046 # options are words on purpose
	timeout -k 5 $((SECS + 60)) "$bin" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$art/" $(options "$t") \
		"$FB/corpus/$t" "tests/fuzz/corpus/$t" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1 \2/p' "$log" | tail -n 1)
	last=$(grep -E '^#[0-9]+' "$log" | grep ' cov: ' | tail -n 1)
	cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
	ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
	corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<<"$last")
	found=$(find "$art" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
		-o -name 'oom-*' \) | head -n 1)
	if [ "$rc" -eq 0 ] && [ -n "$runs" ] && [ -z "$found" ]; then
		r=${runs% *} s=${runs#* } # runs is "N SECONDS"
		echo "ok $n - fuzz_$t: no crash in ${SECS} s"
		diag "fuzz_$t: $r runs in $s s ($((r / (s > 0 ? s : 1)))/s), cov $cov, ft $ft, corpus $corp"
	else
		failed=$((failed + 1))
		echo "not ok $n - fuzz_$t: libFuzzer exit $rc${found:+, artifact $found}"
		diag "$(grep -v -E '^#[0-9]+|^INFO:|^\s*"' "$log" | tail -n 40)"
		[ -n "$found" ] && diag "reproduce: $bin $found"
		diag "full log: $log"
	fi
done
echo "1..$n"
if [ "$failed" -eq 0 ]; then
	rm -rf "$SCRATCH"
	exit 0
fi
diag "$failed of $n fuzz targets failed; artifacts and logs kept in $SCRATCH"
exit 1
