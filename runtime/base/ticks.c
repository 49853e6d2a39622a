/* ticks.c: the tick rate (see base/ticks.h). */
#include "base/ticks.h"

#include <stdatomic.h>

#include "base/clock.h"

/* Ticks per 2^20 ns: an integer rate fine enough for a 3 GHz TSC (3.1e6) and exact for
 * the nanosecond fallback (2^20). */
static _Atomic uint64_t ticks_per_mns;

#define SPAN_NS (10 * 1000 * 1000ull) /* measured over at least this */

static uint64_t mark_ns, mark_ticks;

void rt_ticks_mark(void)
{
	mark_ns = rt_mono_ns();
	mark_ticks = rt_ticks();
}

int rt_ticks_calibrate(int may_sleep)
{
	if (atomic_load_explicit(&ticks_per_mns, memory_order_acquire))
		return 0;
	uint64_t n0 = mark_ns, t0 = mark_ticks;
	if (!n0)
		return -1;
	uint64_t n1 = rt_mono_ns();
	if (n1 < n0 + SPAN_NS) {
		if (!may_sleep)
			return -1;
		struct timespec ts = { 0, (long)(n0 + SPAN_NS - n1) };
		while (nanosleep(&ts, &ts) != 0)
			;
		n1 = rt_mono_ns();
	}
	uint64_t t1 = rt_ticks();
	if (n1 <= n0 || t1 <= t0)
		return -1;
	/* (t1 - t0) / (n1 - n0) ticks per ns, scaled by 2^20. */
	unsigned __int128 rate = ((unsigned __int128)(t1 - t0) << 20) / (n1 - n0);
	if (rate == 0 || rate > UINT64_MAX)
		return -1;
	atomic_store_explicit(&ticks_per_mns, (uint64_t)rate, memory_order_release);
	return 0;
}

uint64_t rt_ticks_to_ns(uint64_t d)
{
	uint64_t rate = atomic_load_explicit(&ticks_per_mns, memory_order_acquire);
	return rate ? (uint64_t)(((unsigned __int128)d << 20) / rate) : 0;
}

uint64_t rt_ns_to_ticks(uint64_t ns)
{
	uint64_t rate = atomic_load_explicit(&ticks_per_mns, memory_order_acquire);
	return (uint64_t)(((unsigned __int128)ns * rate) >> 20);
}
