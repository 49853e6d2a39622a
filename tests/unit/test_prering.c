/* test_prering.c: the perf ring kept before the threshold, without the shim, on this
 * thread. Its first request asks for a ring, the worker's round makes it; a request
 * marked on it burns a known amount of CPU in a known function; read as the worker
 * reads it, its samples must weigh the CPU really spent (the thread's clock), stand
 * in the burning function with its caller above, and cost nothing on a request that is
 * never read. A ring rests disabled: the worker's round enables it for a request in
 * flight 2 ms or more, the request's end disables it, and a short request writes
 * nothing to it. The first request, during which the ring was made, reports the CPU
 * from its first byte (the thread's clock) though its samples start at the enabling; a
 * later one reports the CPU from the enabling. A request that outruns the ring is read
 * in part, counted, and reports the thread's clock; one whose stretch was written over
 * is refused and counted; a thread that served another request meanwhile is not this
 * test's business (track/). */
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "t.h"
#include "base/stats.h"
#include "sample/prering.h"
#include "sample/thread.h"

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Each in a section of its own, so the linker's __start_/__stop_ symbols bound it. */
__attribute__((noinline, section("otshim_pburn"))) static double burn_here(uint64_t ns)
{
	volatile double x = 1.0;
	uint64_t end = thread_cpu_ns() + ns;
	while (thread_cpu_ns() < end)
		for (int i = 0; i < 1000; i++)
			x = x * 1.0000001 + 0.5;
	return x;
}
__attribute__((noinline, section("otshim_pcaller"))) static double caller_here(uint64_t ns)
{
	double x = burn_here(ns);
	__asm__ volatile("" ::: "memory");
	return x + 1;
}
extern const char __start_otshim_pburn[], __stop_otshim_pburn[];
extern const char __start_otshim_pcaller[], __stop_otshim_pcaller[];
#define IN(sec, pc) ((pc) >= (uintptr_t)__start_##sec && (pc) < (uintptr_t)__stop_##sec)

/* ---- a sink standing for the worker's ---- */
static struct got {
	uint64_t serial;
	long n, in_burn, caller_above, other_serial;
	uint64_t weight, done_cpu;
	int done, complete;
} got;

static int known(uint64_t serial, void *arg)
{
	(void)serial, (void)arg;
	return 1;
}

static void sample(uint64_t serial, pid_t tid, uint64_t w, const uintptr_t *pcs, uint32_t n,
		   void *arg)
{
	(void)arg;
	if (serial != got.serial || tid != (pid_t)syscall(SYS_gettid)) {
		got.other_serial++;
		return;
	}
	got.n++;
	got.weight += w;
	if (n > 0 && IN(otshim_pburn, pcs[0]))
		got.in_burn++;
	for (uint32_t i = 1; i < n; i++)
		if (IN(otshim_pcaller, pcs[i] - 1)) {
			got.caller_above++;
			break;
		}
}

static void done(uint64_t serial, uint64_t cpu_ns, int complete, void *arg)
{
	(void)arg;
	if (serial == got.serial) {
		got.done++;
		got.done_cpu = cpu_ns;
		got.complete = complete;
	}
}

static const rt_prering_sink_t sink = { known, sample, done, NULL };

static int want(uint64_t serial, rt_prering_t *ring, uint64_t pos, pid_t tid, uint64_t start,
		uint64_t slow, uint64_t cpu_at_begin, uint64_t cpu_at_slow)
{
	return rt_prering_want(&(rt_prering_stretch_t){
		.serial = serial, .ring = ring, .pos = pos, .tid = tid, .start_ns = start,
		.slow_ns = slow, .cpu_at_begin_ns = cpu_at_begin, .cpu_at_slow_ns = cpu_at_slow });
}

/* Request serial on t, begun at start_ns, as the tracking layer shows it to the worker. */
static void serving(rt_thread_t *t, uint64_t serial, uint64_t start_ns)
{
	atomic_store(&t->cur_serial, serial);
	atomic_store(&t->cur_start_ns, start_ns);
}

static void reset(uint64_t serial)
{
	memset(&got, 0, sizeof got);
	got.serial = serial;
}

int main(void)
{
	rt_thread_t *t = rt_thread_self();
	if (!t)
		return 99;
	rt_prering_init(1, 1000, 100);
	diag("ring %zu bytes, %u bytes of stack a sample", rt_prering_ring_bytes(),
	     rt_prering_stack_bytes());
	is_int(rt_prering_ring_bytes(), 516 * 1024, "the default ring: 516 KiB (1 + 128 pages)");
	pid_t tid = (pid_t)syscall(SYS_gettid);

	/* The thread's first request asks (and reads the thread's clock); the worker makes
	 * the ring once it has served one 10 ms, and enables it, the request being older
	 * than 2 ms. */
	rt_prering_t *ring = NULL;
	uint64_t cpu_begin = 0, start = mono_ns(), c0 = thread_cpu_ns();
	uint64_t pos = rt_prering_mark(t, start, &ring, &cpu_begin);
	ok(pos == RT_PRERING_NOPOS && !ring, "first request: no ring yet, one asked for");
	ok(cpu_begin >= c0 && cpu_begin <= thread_cpu_ns(), "and the thread's CPU clock read");
	serving(t, 1, start);
	rt_prering_tick();
	ok(!atomic_load(&t->prering), "not made before the thread served 10 ms");
	caller_here(12 * 1000000ull);
	rt_prering_tick();
	uint64_t cpu_enabled = thread_cpu_ns();
	ring = atomic_load(&t->prering);
	if (!ring) {
		skip_all("no ring made (perf_event_open refused or locked memory short)");
	}
	ok(ring != NULL, "made by the worker's round after 10 ms (%zu bytes mapped)", rt_prering_bytes());
	is_int(rt_stat_get(RT_STAT_PRE_RING_OPENED), 1, "counted as opened");
	ok(atomic_load(&ring->on) && rt_stat_get(RT_STAT_PRE_RING_ENABLED) == 1,
	   "and enabled in the same round (the request is 12 ms old), counted");

	/* That first request burns on to its threshold: read from the ring's making, its
	 * samples weigh what came after; the CPU it reports is its thread's from the first
	 * byte. */
	reset(1);
	caller_here(30 * 1000000ull);
	uint64_t spent = thread_cpu_ns() - c0, after = thread_cpu_ns() - cpu_enabled;
	uint64_t slow = mono_ns();
	uint64_t made_pos = RT_PRERING_NOPOS;
	ok(rt_prering_made_since(t, start, &made_pos) == ring && made_pos == 0,
	   "the ring was made since its first byte: read from its beginning");
	want(1, ring, made_pos, tid, start, slow, cpu_begin, thread_cpu_ns());
	rt_prering_collect(&sink);
	diag("first request, 42 ms burned (%.1f ms of thread CPU): %ld samples weigh %.1f ms, "
	     "reported %.1f ms", spent / 1e6, got.n, got.weight / 1e6, got.done_cpu / 1e6);
	ok(got.done == 1 && got.n >= 10 && got.weight < spent * 9 / 10 &&
	   got.weight > after * 9 / 10 - 1000000 && got.weight < after * 11 / 10 + 1000000,
	   "its samples start at the ring's enabling (%ld weigh %.1f ms of the %.1f ms since)",
	   got.n, got.weight / 1e6, after / 1e6);
	ok(got.done_cpu > spent * 9 / 10 && got.done_cpu < spent * 11 / 10 + 1000000,
	   "its CPU from the first byte reported, within 10 %% and a period");
	rt_prering_request_end(t);
	serving(t, 0, 0);
	ok(!atomic_load(&ring->on), "its end disables the ring");

	/* A short request: no round sees it 2 ms old, so the ring stays disabled and
	 * nothing is written to it. */
	start = mono_ns();
	pos = rt_prering_mark(t, start, &ring, &cpu_begin);
	serving(t, 2, start);
	rt_prering_tick();
	caller_here(20 * 1000000ull);
	ok(!atomic_load(&ring->on) && __atomic_load_n(&ring->page->data_head, __ATOMIC_ACQUIRE) == pos,
	   "a request younger than 2 ms at the round: ring still disabled, 20 ms burned, nothing written");
	rt_prering_request_end(t);

	/* A request that burns 5 ms, is seen by a round, then burns 60 ms to its threshold:
	 * its samples and the CPU it reports run from the enabling. */
	reset(3);
	start = mono_ns();
	pos = rt_prering_mark(t, start, &ring, &cpu_begin);
	ok(pos != RT_PRERING_NOPOS && ring && !cpu_begin,
	   "a later request: marked at ring position %llu, no clock read", (unsigned long long)pos);
	serving(t, 3, start);
	caller_here(5 * 1000000ull);
	rt_prering_tick();
	c0 = thread_cpu_ns();
	ok(atomic_load(&ring->on), "enabled by the round that saw it 5 ms old");
	caller_here(60 * 1000000ull);
	spent = thread_cpu_ns() - c0;
	slow = mono_ns();
	uint64_t cpu_slow = thread_cpu_ns();
	caller_here(5 * 1000000ull); /* after the threshold: not this read's */
	ok(want(3, ring, pos, tid, start, slow, 0, cpu_slow), "wanted");
	rt_prering_collect(&sink);
	diag("60 ms burned after the enabling (%.1f ms of thread CPU): %ld samples, %.1f ms "
	     "weighed, done %.1f ms, %ld in burn_here, %ld with caller_here above", spent / 1e6,
	     got.n, got.weight / 1e6, got.done_cpu / 1e6, got.in_burn, got.caller_above);
	ok(got.done == 1 && got.complete, "read whole, once");
	/* A busy host fires the 1 ms timer late (the weights then grow to match), so the
	 * count is bounded loosely: the weights below are the exact check. */
	ok(got.n >= 30 && got.n <= 75, "about one sample a millisecond, no more (%ld for 60 ms)", got.n);
	ok(got.weight == got.done_cpu, "the samples weigh what the read reports");
	ok(got.weight > spent * 9 / 10 && got.weight < spent * 11 / 10 + 1000000,
	   "they weigh the thread's CPU from the enabling to the threshold, within 10 %% and a period");
	ok(got.in_burn >= got.n * 9 / 10, "at least 90 %% stand in burn_here (%ld of %ld)", got.in_burn, got.n);
	ok(got.caller_above >= got.n * 9 / 10, "and have caller_here above, unwound from the ring (%ld)",
	   got.caller_above);
	is_int(got.other_serial, 0, "no sample of another request or thread");
	rt_prering_request_end(t);

	/* A request that outruns the ring before its threshold: the kernel keeps its first
	 * part; read in part, counted. */
	reset(4);
	uint64_t inc0 = rt_stat_get(RT_STAT_PRE_INCOMPLETE);
	start = mono_ns();
	pos = rt_prering_mark(t, start, &ring, &cpu_begin);
	serving(t, 4, start - 3000000); /* as if it began 3 ms ago: enabled now */
	rt_prering_tick();
	c0 = thread_cpu_ns();
	caller_here(250 * 1000000ull);
	slow = mono_ns();
	cpu_slow = thread_cpu_ns();
	spent = cpu_slow - c0;
	want(4, ring, pos, tid, start, slow, 0, cpu_slow);
	rt_prering_collect(&sink);
	diag("250 ms burned into a ring of ~124 samples: %ld samples weigh %.1f ms, reported "
	     "%.1f ms, complete %d", got.n, got.weight / 1e6, got.done_cpu / 1e6, got.complete);
	ok(got.done == 1 && !got.complete && got.n >= 100 && got.n <= 130,
	   "outrun: its first ~124 samples, said incomplete");
	ok(got.done_cpu > spent * 9 / 10 && got.done_cpu < spent * 11 / 10 + 1000000,
	   "the CPU reported is the thread's clock, within 10 %% and a period, not the samples'");
	is_int(rt_stat_get(RT_STAT_PRE_INCOMPLETE) - inc0, 1, "and counted");
	rt_prering_request_end(t);

	/* Written over: a later request moved the tail on, and the kernel went round the ring
	 * past this one's stretch before it was read. */
	reset(5);
	start = mono_ns();
	pos = rt_prering_mark(t, start, &ring, &cpu_begin);
	serving(t, 5, start - 3000000);
	rt_prering_tick();
	caller_here(5 * 1000000ull);
	slow = mono_ns();
	rt_prering_mark(t, mono_ns(), &ring, &cpu_begin); /* the next request */
	caller_here(200 * 1000000ull);
	rt_prering_mark(t, mono_ns(), &ring, &cpu_begin); /* and the one after: the kernel goes on */
	caller_here(200 * 1000000ull);
	inc0 = rt_stat_get(RT_STAT_PRE_INCOMPLETE);
	want(5, ring, pos, tid, start, slow, 0, 0);
	rt_prering_collect(&sink);
	ok(got.done == 1 && !got.complete && got.n == 0, "written over: refused, nothing given");
	is_int(rt_stat_get(RT_STAT_PRE_INCOMPLETE) - inc0, 1, "and counted");

	/* Another thread id (the ring's thread exited, its slot serves another): refused. */
	reset(6);
	start = mono_ns();
	pos = rt_prering_mark(t, start, &ring, &cpu_begin);
	caller_here(5 * 1000000ull);
	want(6, ring, pos, tid + 1, start, mono_ns(), 0, 0);
	rt_prering_collect(&sink);
	ok(got.done == 1 && got.n == 0, "a want naming another thread: nothing given");
	rt_prering_request_end(t);

	/* The thread exits: its ring is let go, and the worker's next round unmaps it. */
	size_t before = rt_prering_bytes();
	rt_prering_close(t);
	ok(!atomic_load(&t->prering) && rt_prering_bytes() == before, "closed: let go");
	rt_prering_tick();
	is_int(rt_prering_bytes(), 0, "unmapped at the worker's next round");
	return done_testing();
}
