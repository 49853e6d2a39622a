#!/bin/bash
# fuzz.sh: the bounded fuzz pass of `make test`: `make fuzz-smoke` runs each libFuzzer
# target of tests/fuzz/ (HTTP parsers, traceparent and file names, configuration) for
# about 6 s with ASan and UBSan, and fails on any crash or broken invariant. Its TAP,
# with executions per target, is tests/fuzz/run.sh's. Longer runs: `make fuzz`.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
[ -z "${OTSHIM_TEST_SANITIZER:-}" ] || { echo "1..0 # SKIP the fuzzers are ASan+UBSan builds of their own, run by make test"; exit 77; }
exec make -C "$ROOT" -s --no-print-directory fuzz-smoke
