/* test_process_cpu.c: whole-process CPU sampling on its default route (a CPU-clock
 * timer per thread), without the shim. While one-second profiles run:
 *   - threads living 2 ms each, each announcing its start as the shim's trampoline
 *     does: the samples' weights add up to the process's CPU, and most of it is in
 *     their burning function (a timer per thread that only counted that thread's own
 *     expiries saw 6 % of such threads' CPU);
 *   - a thread burning with SIGPROF blocked while the main thread sleeps in poll
 *     (never restarted after a handler): the sleeper is never interrupted, and the
 *     masked thread's samples come when it unblocks;
 *   - afterwards no timer of the profile is left.
 * The process route runs the masked case too, as a control (diag only: it depends on
 * the kernel). */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "t.h"
#include "sample/process_cpu.h"
#include "sample/sampler.h"
#include "sample/thread.h"

static uint64_t clock_ns(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* In a section of its own, so the linker's __start_/__stop_ symbols bound it. */
__attribute__((noinline, section("otshim_pburn"))) static double burn_here(uint64_t ns)
{
	volatile double x = 1.0;
	uint64_t end = clock_ns(CLOCK_THREAD_CPUTIME_ID) + ns;
	while (clock_ns(CLOCK_THREAD_CPUTIME_ID) < end)
		for (int i = 0; i < 1000; i++)
			x = x * 1.0000001 + 0.5;
	return x;
}
extern const char __start_otshim_pburn[], __stop_otshim_pburn[];
#define IN_BURN(pc) ((pc) >= (uintptr_t)__start_otshim_pburn && (pc) < (uintptr_t)__stop_otshim_pburn)

/* ---- the profile, run on a thread of its own ---- */

typedef struct tally {
	uint64_t weight, in_burn;
	long n;
} tally_t;

static void count(const rt_process_cpu_sample_t *s, void *arg)
{
	tally_t *t = arg;
	t->n++;
	t->weight += s->weight_ns;
	for (uint32_t i = 0; i < s->npcs && i < 4; i++)
		if (IN_BURN(s->pcs[i])) {
			t->in_burn += s->weight_ns;
			break;
		}
}

static _Atomic int profiling;
static void *profile_one_second(void *arg)
{
	int *rc = arg;
	atomic_store(&profiling, 1);
	*rc = rt_process_cpu_run(1, 100);
	atomic_store(&profiling, 0);
	return NULL;
}

/* ---- workloads ---- */

static void *short_life(void *unused)
{
	(void)unused;
	rt_process_cpu_thread_began((pid_t)syscall(SYS_gettid));
	burn_here(2 * 1000000ull);
	rt_process_cpu_thread_ended((pid_t)syscall(SYS_gettid));
	return NULL;
}

__attribute__((noinline, section("otshim_pburn"))) static void *masked_burn(void *unused)
{
	(void)unused;
	sigset_t prof, old;
	sigemptyset(&prof);
	sigaddset(&prof, SIGPROF);
	pthread_sigmask(SIG_BLOCK, &prof, &old);
	burn_here(400 * 1000000ull);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return NULL;
}

static int timers_listed(void)
{
	FILE *f = fopen("/proc/self/timers", "r");
	char line[128];
	int n = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		n += strncmp(line, "ID:", 3) == 0;
	fclose(f);
	return n;
}

static void wait_profiling(void)
{
	while (!atomic_load(&profiling))
		usleep(1000);
	usleep(50000); /* its timers are made */
}

/* One profile while threads living 2 ms each come and go. */
static void short_threads(void)
{
	pthread_t prof;
	int rc = -9;
	tally_t t = { 0 };
	pthread_create(&prof, NULL, profile_one_second, &rc);
	wait_profiling();
	uint64_t cpu0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	long made = 0;
	while (atomic_load(&profiling)) {
		pthread_t th;
		if (pthread_create(&th, NULL, short_life, NULL) == 0) {
			pthread_join(th, NULL);
			made++;
		}
	}
	uint64_t cpu = clock_ns(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
	pthread_join(prof, NULL);
	is_int(rc, 0, "short threads: the profile ran");
	rt_process_cpu_each(count, &t);
	rt_process_cpu_done();
	diag("short threads: %ld made, %ld samples weighing %.1f ms (%.1f in the burner); process CPU %.1f ms",
	     made, t.n, t.weight / 1e6, t.in_burn / 1e6, cpu / 1e6);
	ok(t.weight > cpu * 70 / 100 && t.weight < cpu * 115 / 100,
	   "short threads: the samples weigh the process's CPU (%.0f of %.0f ms)", t.weight / 1e6, cpu / 1e6);
	ok(t.in_burn > t.weight * 60 / 100, "short threads: most of it in their burner (%.0f %%)",
	   t.weight ? 100.0 * (double)t.in_burn / (double)t.weight : 0.0);
}

/* One profile while a thread burns 400 ms with SIGPROF blocked and the main thread
 * (the kernel's first choice for a process signal the running thread cannot take)
 * sleeps in poll, 5 ms at a time. Returns the EINTRs. */
static long masked(tally_t *t)
{
	pthread_t prof, burner;
	int rc = -9;
	long eintrs = 0;
	pthread_create(&prof, NULL, profile_one_second, &rc);
	wait_profiling();
	pthread_create(&burner, NULL, masked_burn, NULL);
	while (atomic_load(&profiling))
		if (poll(NULL, 0, 5) < 0)
			eintrs++;
	pthread_join(burner, NULL);
	pthread_join(prof, NULL);
	memset(t, 0, sizeof *t);
	if (rc == 0) {
		rt_process_cpu_each(count, t);
		rt_process_cpu_done();
	}
	return rc == 0 ? eintrs : -1;
}

int main(void)
{
	rt_thread_init();
	rt_sampler_init();
	ok(rt_sampler_owns_sigprof(), "our SIGPROF handler is installed");
	is_int(rt_process_cpu_route(), RT_PROCESS_CPU_THREADS, "the default route: a timer per thread");
	int before = timers_listed();

	short_threads();

	tally_t t;
	long n = masked(&t);
	diag("masked: %ld samples weighing %.1f ms, %.1f in the burner", t.n, t.weight / 1e6, t.in_burn / 1e6);
	is_int(n, 0, "a thread burning with SIGPROF blocked makes no sleeping call fail");
	ok(t.in_burn > 0, "and its samples come when it unblocks SIGPROF (%.0f ms)", t.in_burn / 1e6);
	is_int(timers_listed(), before, "no timer of the profiles is left");

	rt_process_cpu_set_route(RT_PROCESS_CPU_PROCESS);
	if (rt_process_cpu_route() == RT_PROCESS_CPU_PROCESS) {
		n = masked(&t);
		diag("the process route (control): %ld EINTRs in poll; %.1f ms in the burner", n, t.in_burn / 1e6);
	}
	return done_testing();
}
