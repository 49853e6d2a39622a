/* bench_unwind.c: nanoseconds per stack walk the way the SIGPROF handler walks
 * (rt_unwind_from_ucontext from a ucontext) and the way the heap sampler does
 * (rt_unwind_here), linked against a build's librt.a:
 *   cc -O2 -D_GNU_SOURCE -Iruntime tests/bench/bench_unwind.c build/librt.a -lunwind -ldl -lpthread
 * "hot": the same 24-frame stack again and again, so libunwind's four-page cache of
 * checked memory always hits. "rotating": the stacks of five parked threads in turn,
 * so most walks must check memory again (a sampled service's many threads do that).
 * "check_*": one memory check, libunwind's way (mincore, then read and write a byte
 * through a pipe) and ours (rt_unwind_memcheck_readable: one process_vm_readv).
 * Times are the thread's CPU time. Prints "name ns frames". */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "sample/unwind_memcheck.h"
#include "sample/unwind.h"
/* Weak: the same file also measures a build from before rt_memprobe existed. */
#pragma weak rt_unwind_memcheck_mode
#pragma weak rt_unwind_memcheck_readable

enum { NTHREADS = 5, DEPTH = 24, MAXF = 128 };

static ucontext_t ctx[NTHREADS];
static pthread_barrier_t ready;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int done;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); /* CPU time: a loaded machine's waits left out */
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* Parks at the bottom of `depth` real frames; its context stays walkable because
 * the frames above the captured stack pointer stay live until it is released. */
__attribute__((noinline)) static int descend(int k, int depth)
{
	volatile int pad = depth;
	if (depth > 0)
		return descend(k, depth - 1) + pad;
	getcontext(&ctx[k]);
	pthread_barrier_wait(&ready);
	pthread_mutex_lock(&mu);
	while (!done)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	return pad;
}

static void *park(void *arg)
{
	descend((int)(intptr_t)arg, DEPTH);
	return NULL;
}

static double walk_ns(int rotate, long n, size_t *frames)
{
	uintptr_t pcs[MAXF];
	double t0 = now();
	for (long i = 0; i < n; i++)
		*frames = rt_unwind_from_ucontext(&ctx[rotate ? i % NTHREADS : 0], pcs, MAXF);
	return (now() - t0) / (double)n;
}

__attribute__((noinline)) static double here_ns(int depth, long n, size_t *frames)
{
	volatile int pad = depth;
	if (depth > 0)
		return here_ns(depth - 1, n, frames) + pad * 0;
	uintptr_t pcs[MAXF];
	double t0 = now();
	for (long i = 0; i < n; i++)
		*frames = rt_unwind_here(pcs, MAXF, 0);
	return (now() - t0) / (double)n;
}

static double check_ns(int ours, long n)
{
	int p[2];
	unsigned char vec[2];
	char byte;
	static char target[64] = { 1 };
	uintptr_t a = (uintptr_t)target, page = a & ~(uintptr_t)4095;
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0)
		return 0;
	double t0 = now();
	for (long i = 0; i < n; i++) {
		if (ours) {
			if (!rt_unwind_memcheck_readable(a))
				abort();
		} else if (mincore((void *)page, 1, vec) != 0 || (read(p[0], &byte, 1), 0) ||
			   syscall(SYS_write, p[1], a, 1) != 1) {
			abort();
		}
	}
	double ns = (now() - t0) / (double)n;
	close(p[0]);
	close(p[1]);
	return ns;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 200000;
	pthread_t t[NTHREADS];
	size_t frames = 0;
	rt_unwind_init();
	pthread_barrier_init(&ready, NULL, NTHREADS + 1);
	for (int k = 0; k < NTHREADS; k++)
		pthread_create(&t[k], NULL, park, (void *)(intptr_t)k);
	pthread_barrier_wait(&ready);
	walk_ns(1, n / 10, &frames); /* libunwind's caches filled */
	double hot = walk_ns(0, n, &frames);
	printf("signal_walk_hot %.0f %zu\n", hot, frames);
	double rot = walk_ns(1, n, &frames);
	printf("signal_walk_rotating %.0f %zu\n", rot, frames);
	double here = here_ns(DEPTH, n, &frames);
	printf("heap_walk_here %.0f %zu\n", here, frames);
	printf("check_pipe %.0f 0\n", check_ns(0, n));
	if (rt_unwind_memcheck_mode && rt_unwind_memcheck_mode() == RT_UNWIND_MEMCHECK_VMREAD)
		printf("check_vmread %.0f 0\n", check_ns(1, n));
	pthread_mutex_lock(&mu);
	done = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	for (int k = 0; k < NTHREADS; k++)
		pthread_join(t[k], NULL);
	return 0;
}
