/* ticks.h: a cheap monotonic tick counter for timing the service's blocking calls.
 * An interposer times every call a thread makes while it serves a request, so the
 * clock read must cost a few instructions, not a vDSO call: on x86-64 it is the TSC
 * (constant and invariant on every CPU this runs on in practice); elsewhere, and
 * where the TSC cannot be trusted, CLOCK_MONOTONIC in nanoseconds. Ticks become
 * nanoseconds only off the request path, with a rate measured once against
 * CLOCK_MONOTONIC, from the library's start (rt_ticks_mark) to the first need of it
 * (rt_ticks_calibrate). */
#ifndef RT_TICKS_H
#define RT_TICKS_H

#include <stdint.h>
#include <time.h>

#if defined(__x86_64__)
static inline uint64_t rt_ticks(void)
{
	uint32_t lo, hi;
	__asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}
#else
static inline uint64_t rt_ticks(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
#endif

/* Remembers where the measurement starts: once, at start-up. */
void rt_ticks_mark(void);
/* Measures the tick rate from the mark, over at least 10 ms: sleeps for what is
 * missing when may_sleep, else fails. Returns 0 (also when already measured), or -1
 * (then nothing may be timed with ticks yet). */
int rt_ticks_calibrate(int may_sleep);
/* Nanoseconds in d ticks; 0 before calibration. */
uint64_t rt_ticks_to_ns(uint64_t d);
/* Ticks in ns nanoseconds; 0 before calibration. */
uint64_t rt_ns_to_ticks(uint64_t ns);

#endif
