/* test_heap.c: the allocation sampler against known truth, without the interposers:
 * a million allocations of one size are counted down exactly as shim_alloc.c does;
 * the number recorded must be what Poisson sampling at that mean predicts, the
 * unbiased estimate of the bytes must be close to the bytes allocated, the per-thread
 * byte count must be exact, and retiring every block must empty the table. Also the
 * scale factor's limits, four threads sampling and freeing each other's blocks while
 * snapshots are taken (run under TSan too), and the JIT perf-map reader. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "t.h"
#include "sample/heap_sampler.h"
#include "profile/perfmap.h"

#define N 1000000
#define SIZE 64
#define MEAN 4096

static void *blocks[N];

static void test_sampling(void)
{
	uint64_t before = rt_heap_thread_allocated();
	for (size_t i = 0; i < N; i++) {
		blocks[i] = malloc(SIZE);
		if (rt_heap_count(SIZE))
			rt_heap_crossed(blocks[i], SIZE);
	}
	uint64_t counted = rt_heap_thread_allocated() - before;
	is_int(counted, (long long)N * SIZE, "the thread's byte count is exact");
	size_t live = rt_heap_live_count();
	double want = (double)N * SIZE / MEAN, sd = sqrt(want);
	printf("# %zu blocks recorded, %.0f expected (sd %.0f)\n", live, want, sd);
	ok(fabs((double)live - want) <= 5 * sd, "recorded blocks within 5 sd of N*size/mean");

	rt_heap_snapshot_t s;
	ok(rt_heap_snapshot(&s) == 0, "snapshot");
	double est = 0;
	for (size_t i = 0; i < s.nblocks; i++)
		est += rt_heap_scale(s.blocks[i].size, s.rate) * (double)s.blocks[i].size;
	printf("# estimated %.0f bytes live of %d\n", est, N * SIZE);
	ok(fabs(est - (double)N * SIZE) <= 0.03 * N * SIZE, "unbiased estimate within 3 %% of the bytes");
	ok(s.nstacks >= 1 && s.nblocks == live, "snapshot holds every recorded block and its stack");
	rt_heap_snapshot_free(&s);

	for (size_t i = 0; i < N; i++) {
		rt_heap_on_free(blocks[i]);
		free(blocks[i]);
	}
	is_int(rt_heap_live_count(), 0, "retiring every block empties the table");
	ok(rt_heap_snapshot(&s) == 0, "snapshot after frees");
	double freed = 0;
	for (size_t i = 0; i < s.nstacks; i++)
		freed += s.stacks[i].freed_bytes;
	ok(fabs(freed - est) <= 1e-6 * est + 1, "freed totals carry what was live (alloc_space keeps it)");
	rt_heap_snapshot_free(&s);
}

/* Four threads allocate and sample; each frees the blocks of the next one (frees on
 * another thread than the allocation), while the main thread takes snapshots. */
#define THREADS 4
#define PER_THREAD 200000
static void *tblocks[THREADS][PER_THREAD];
static pthread_barrier_t allocated;

static void *worker(void *arg)
{
	size_t me = (size_t)arg, other = (me + 1) % THREADS;
	for (size_t i = 0; i < PER_THREAD; i++) {
		size_t n = 16 + i % 512;
		tblocks[me][i] = malloc(n);
		if (rt_heap_count(n))
			rt_heap_crossed(tblocks[me][i], n);
	}
	pthread_barrier_wait(&allocated);
	for (size_t i = 0; i < PER_THREAD; i++) {
		rt_heap_on_free(tblocks[other][i]);
		free(tblocks[other][i]);
	}
	return NULL;
}

static void test_threads(void)
{
	pthread_t t[THREADS];
	rt_heap_snapshot_t s;
	int snaps_ok = 1;
	pthread_barrier_init(&allocated, NULL, THREADS);
	for (size_t i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	for (int k = 0; k < 20; k++) {
		if (rt_heap_snapshot(&s) != 0)
			snaps_ok = 0;
		else
			rt_heap_snapshot_free(&s);
	}
	for (size_t i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&allocated);
	ok(snaps_ok, "snapshots taken while four threads sample and free");
	is_int(rt_heap_live_count(), 0, "cross-thread frees retire every sampled block");
}

static void test_scale(void)
{
	ok(fabs(rt_heap_scale(1 << 30, MEAN) - 1.0) < 1e-9, "a huge block stands for itself");
	ok(fabs(rt_heap_scale(MEAN, MEAN) - 1.0 / (1.0 - exp(-1.0))) < 1e-9, "a block of the mean size");
	ok(rt_heap_scale(1, MEAN) > 4000, "a tiny block stands for about mean/size blocks");
	ok(rt_heap_scale(100, 1) == 1.0, "mean 1: every block is itself");
}

static void test_perfmap(void)
{
	char path[64];
	snprintf(path, sizeof path, "/tmp/perf-%d.map", (int)getpid());
	FILE *f = fopen(path, "w");
	if (!f) {
		ok(0, "cannot write %s", path);
		return;
	}
	fprintf(f, "1000 100 JS:*first\n2000 10 second with spaces\n"
		   "garbage line\n1000 80 JS:*replaced\n3000 0 zero-size\n");
	fclose(f);
	rt_perfmap_t *m = rt_perfmap_open();
	ok(m != NULL, "perf map read");
	is_str(rt_perfmap_lookup(m, 0x1010), "JS:*replaced", "overlap: the later line wins");
	is_str(rt_perfmap_lookup(m, 0x1090), "JS:*first", "past the later entry's end: the earlier one");
	is_str(rt_perfmap_lookup(m, 0x2005), "second with spaces", "names keep their spaces");
	ok(rt_perfmap_lookup(m, 0x1100) == NULL, "an address past every entry has no name");
	ok(rt_perfmap_lookup(m, 0x3000) == NULL, "zero-size and garbage lines are skipped");
	ok(rt_perfmap_lookup(m, 0x10) == NULL, "an address before every entry has no name");
	rt_perfmap_close(m);
	unlink(path);
}

int main(void)
{
	rt_heap_init(MEAN);
	test_scale();
	test_sampling();
#ifdef __SANITIZE_THREAD__
	/* libunwind frees unw_backtrace's per-thread cache in a TSD destructor that runs
	 * after TSan has torn down the exiting thread's state: a crash at thread exit. The
	 * runtime never calls unw_backtrace under a sanitizer (its malloc shadows ours, and
	 * threads are not registered), so only this test meets it. */
	skip("snapshots taken while four threads sample and free",
	     "under TSan: libunwind's cache destructor");
	skip("cross-thread frees retire every sampled block",
	     "under TSan: libunwind's cache destructor");
	(void)test_threads;
#else
	test_threads();
#endif
	test_perfmap();
	return done_testing();
}
