/* truth_cpu.c: a program whose CPU time is split between three named functions in
 * known shares, 60 % in work_a, 30 % in work_b and 10 % in work_c, for run.sh to
 * compare what each profiler attributes to them (the error in percentage points).
 *
 *   truth_cpu SECONDS        burn SECONDS of this process's CPU time, then exit
 *   truth_cpu -n CYCLES      exactly CYCLES cycles (the callgrind self-check uses this)
 *
 * Why the shares are known: the three functions run the same loop body (one shared
 * always-inlined step, integer-only, all in registers), so an iteration costs the same
 * in each; a cycle calls work_a for 6 units, work_b for 3 and work_c for 1, and a unit
 * is a fixed iteration count. Cycles are short (about 0.1 ms) against a 10 ms sampling
 * period, so whatever the machine does to clock speed falls on all three alike. The
 * clock is read once per cycle, in main, which costs well under 0.1 % of the time.
 * tests/bench/truth_check.sh verifies the shares with callgrind's instruction counts.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define UNIT 2000 /* iterations per unit; a cycle is 10 units */

volatile uint64_t truth_sink; /* keeps the loops' results observable */

static inline __attribute__((always_inline)) uint64_t step(uint64_t x, long n)
{
	for (long i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		__asm__ volatile("" : "+r"(x)); /* one iteration stays one iteration */
	}
	return x;
}

__attribute__((noinline, noclone)) uint64_t work_a(uint64_t x) { return step(x, 6 * UNIT); }
__attribute__((noinline, noclone)) uint64_t work_b(uint64_t x) { return step(x, 3 * UNIT); }
__attribute__((noinline, noclone)) uint64_t work_c(uint64_t x) { return step(x, 1 * UNIT); }

static double cpu_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	long cycles = -1;
	double secs = 0;
	if (argc == 3 && strcmp(argv[1], "-n") == 0)
		cycles = atol(argv[2]);
	else if (argc == 2)
		secs = atof(argv[1]);
	if (cycles < 0 && secs <= 0) {
		fprintf(stderr, "usage: %s SECONDS | -n CYCLES\n", argv[0]);
		return 2;
	}
	uint64_t x = 88172645463325252ull;
	double end = cpu_seconds() + secs;
	for (long c = 0; cycles < 0 || c < cycles; c++) {
		x = work_a(x);
		x = work_b(x);
		x = work_c(x);
		if (cycles < 0 && cpu_seconds() >= end)
			break;
	}
	truth_sink = x;
	return 0;
}
