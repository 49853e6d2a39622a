#!/bin/bash
# bench_truth.sh: the truth programs of `make bench` (tests/bench/truth_cpu.c and
# truth_heap.c) hold the truths the benchmark scores profilers against: callgrind's
# instruction counts give 60/30/10 % to work_a/work_b/work_c (and those three are
# nearly all of the program), and truth_heap reports exactly 48/24/8 MiB held.
# Cheap (~3 s): the benchmark itself is not part of make test.
source "$(dirname "$0")/lib.sh"
B=$ROOT/tests/bench
gcc -O2 -g -o "$WORK/truth_cpu" "$B/truth_cpu.c" && gcc -O2 -g -fno-builtin -o "$WORK/truth_heap" "$B/truth_heap.c" ||
	{ ok 1 "truth programs build"; done_testing; }

valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.out" "$WORK/truth_cpu" -n 300 >/dev/null 2>&1
callgrind_annotate "$WORK/cg.out" 2>/dev/null |
	awk '/PROGRAM TOTALS/ { gsub(/,/, "", $1); tot = $1 }
	     $2 ~ /%\)$|^\(/ && $NF ~ /^\[/ && $(NF-1) ~ /:work_[abc]$/ { gsub(/,/, "", $1); f = $(NF-1); sub(/.*:/, "", f); ir[f] = $1 }
	     END { s = ir["work_a"] + ir["work_b"] + ir["work_c"]; if (s > 0) printf "%.3f %.3f %.3f %.4f\n", 100*ir["work_a"]/s, 100*ir["work_b"]/s, 100*ir["work_c"]/s, s/tot }' \
	> "$WORK/shares"
read -r a b c cover < "$WORK/shares" || a=0 b=0 c=0 cover=0
diag "callgrind shares: work_a $a %, work_b $b %, work_c $c %; the three are $cover of all instructions"
near() { awk -v v="$1" -v t="$2" 'BEGIN { d = v - t; exit !(d < 0.1 && d > -0.1) }'; }
check "work_a has 60 % of the instructions (within 0.1 points)" near "$a" 60
check "work_b has 30 %" near "$b" 30
check "work_c has 10 %" near "$c" 10
check "the three functions are over 99 % of the program" awk -v v="$cover" 'BEGIN { exit !(v > 0.99) }'

out=$("$WORK/truth_heap")
diag "truth_heap: $out"
check "truth_heap holds exactly 48, 24 and 8 MiB and churned more than it holds" \
	awk -v l="$out" 'BEGIN { n = split(l, w, /[ =]/); for (i = 1; i < n; i++) v[w[i]] = w[i+1];
		exit !(v["site_a"] == 50331648 && v["site_b"] == 25165824 && v["site_c"] == 8388608 && v["churned"] > 80 * 1048576) }'
done_testing
