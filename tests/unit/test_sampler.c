/* test_sampler.c: the CPU sampler end to end on one thread, without the shim: arm the
 * perf route and the timer route, burn a known amount of CPU, and check that the
 * samples' weights add up to the CPU time really spent, that stacks point into the
 * burning function, and that the SIGPROF handler never called malloc. */
#include <dlfcn.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>

#include "t.h"
#include "sample/cputimer.h"
#include "sample/sampler.h"
#include "sample/thread.h"

/* ---- malloc spy: counts allocations made while SIGPROF is blocked, which in this
 * program happens only inside the SIGPROF handler (its sa_mask blocks everything). */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
static volatile int spying;
static volatile long mallocs_in_handler;

static void spy(void)
{
	sigset_t cur;
	if (spying && sigprocmask(SIG_BLOCK, NULL, &cur) == 0 && sigismember(&cur, SIGPROF))
		mallocs_in_handler++;
}
void *malloc(size_t n);
void *calloc(size_t a, size_t b);
void *realloc(void *p, size_t n);
void free(void *p);
void *malloc(size_t n) { spy(); return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { spy(); return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { spy(); return __libc_realloc(p, n); }
void free(void *p) { spy(); __libc_free(p); }

/* ---- the workload ---- */

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* In a section of its own, so the linker's __start_/__stop_ symbols bound it. */
__attribute__((noinline, section("otshim_burn"))) static double burn_here(uint64_t ns)
{
	volatile double x = 1.0;
	uint64_t end = thread_cpu_ns() + ns;
	while (thread_cpu_ns() < end)
		for (int i = 0; i < 1000; i++)
			x = x * 1.0000001 + 0.5;
	return x;
}
extern const char __start_otshim_burn[], __stop_otshim_burn[];
#define IN_BURN(pc) ((pc) >= (uintptr_t)__start_otshim_burn && (pc) < (uintptr_t)__stop_otshim_burn)

static void run_route(rt_thread_t *t, int force_timer, const char *name, int min_samples)
{
	rt_cputimer_init(force_timer);
	uint64_t before = thread_cpu_ns();
	int route = rt_cputimer_arm(t, 1000);
	ok(route != RT_CPU_ROUTE_NONE, "%s: armed (route %d)", name, route);
	burn_here(300 * 1000000ull);
	rt_cputimer_release(t, atomic_load(&t->gen));
	uint64_t spent = thread_cpu_ns() - before;

	uint64_t total = 0;
	long n = 0, in_burn = 0;
	const rt_sample_t *s;
	while ((s = rt_ring_peek(t->ring)) != NULL) {
		n++;
		total += s->weight_ns;
		if (s->npcs > 0 && IN_BURN(s->pcs[0]))
			in_burn++;
		for (uint32_t i = 1; i < s->npcs && i < 4; i++)
			if (IN_BURN(s->pcs[i])) {
				in_burn++;
				break;
			}
		rt_ring_pop(t->ring);
	}
	diag("%s: %ld samples, weights %.1f ms, thread CPU %.1f ms, in burn %ld", name, n,
	     total / 1e6, spent / 1e6, in_burn);
	/* min_samples < 0: three quarters of one per millisecond of the CPU really spent (a
	 * loaded or sanitized run burns the same CPU over more wall time, and signals that
	 * come while one is pending merge; the weights, checked next, make up for them). */
	if (min_samples < 0)
		min_samples = (int)(spent / 1000000ull * 3 / 4);
	ok(n >= min_samples, "%s: at least %d samples (got %ld)", name, min_samples, n);
	ok(total > spent * 85 / 100 && total <= spent, "%s: weights add up to the CPU spent (±15%%)", name);
	ok(in_burn >= n * 9 / 10, "%s: >= 90%% of stacks are in the burning function", name);
	ok(atomic_load(&t->armed) == 0, "%s: disarmed", name);
}

int main(void)
{
	rt_thread_init();
	rt_sampler_init();
	rt_thread_t *t = rt_thread_self();
	ok(t != NULL, "thread state registered");
	ok(rt_sampler_owns_sigprof(), "our SIGPROF handler is installed");
	spying = 1;
	run_route(t, 0, "perf", -1);
	run_route(t, 1, "timer", 50);
	spying = 0;
	is_int(mallocs_in_handler, 0, "the handler never allocated");

	/* A service that takes SIGPROF over turns CPU profiling off, not into a crash. */
	signal(SIGPROF, SIG_IGN);
	ok(!rt_sampler_owns_sigprof(), "a foreign SIGPROF disposition is noticed");
	is_int(rt_cputimer_arm(t, 1000), RT_CPU_ROUTE_NONE, "and arming then refuses");
	return done_testing();
}
