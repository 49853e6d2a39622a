/* test_heap.c: the allocation sampler against known truth, without the interposers:
 * a million allocations of one size are counted down exactly as shim_alloc.c does;
 * the number recorded must be what Poisson sampling at that mean predicts, the
 * unbiased estimate of the bytes must be close to the bytes allocated, the per-thread
 * byte count must be exact, and retiring every block must empty the table. Also the
 * scale factor's limits, four threads sampling and freeing each other's blocks while
 * snapshots are taken (run under TSan too), and the JIT perf-map reader.
 * Labels: with the thread working on a request (its serial set, the ids source a
 * stand-in for track/conn.c), every sampled block carries that request's ids, asked
 * for once per request; freed blocks keep their totals under the label; and with
 * tiny label tables, samples beyond them go unlabelled and evicted freed totals fold
 * into their stack's, counted, with every byte still accounted for. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "t.h"
#include "base/stats.h"
#include "sample/heap_sampler.h"
#include "sample/thread.h"
#include "profile/perfmap.h"

#define N 1000000
#define SIZE 64
#define MEAN 4096

static void *blocks[N];

/* A block of n bytes as shim_alloc.c's malloc serves it: a crossing the sampler
 * records comes from the sampled range. */
static void *alloc_counted(size_t n)
{
	if (rt_heap_count(n)) {
		void *p = rt_heap_cross() ? rt_heap_take(0, n, 0) : NULL;
		if (p)
			return p;
	}
	return malloc(n);
}

/* As shim_alloc.c's free. */
static void free_counted(void *p)
{
	if (rt_heap_is_sampled(p))
		rt_heap_free_sampled(p);
	else
		free(p);
}

static void test_sampling(void)
{
	uint64_t before = rt_heap_thread_allocated();
	size_t in_range = 0;
	for (size_t i = 0; i < N; i++)
		blocks[i] = alloc_counted(SIZE);
	for (size_t i = 0; i < N; i++)
		in_range += rt_heap_is_sampled(blocks[i]) != 0;
	uint64_t counted = rt_heap_thread_allocated() - before;
	is_int(counted, (long long)N * SIZE, "the thread's byte count is exact");
	size_t live = rt_heap_live_count();
	double want = (double)N * SIZE / MEAN, sd = sqrt(want);
	printf("# %zu blocks recorded, %.0f expected (sd %.0f)\n", live, want, sd);
	ok(fabs((double)live - want) <= 5 * sd, "recorded blocks within 5 sd of N*size/mean");
	is_int(in_range, live, "exactly the recorded blocks lie in the sampled range");

	rt_heap_snapshot_t s;
	ok(rt_heap_snapshot(&s) == 0, "snapshot");
	double est = 0;
	for (size_t i = 0; i < s.nblocks; i++)
		est += rt_heap_scale(s.blocks[i].size, s.rate) * (double)s.blocks[i].size;
	printf("# estimated %.0f bytes live of %d\n", est, N * SIZE);
	ok(fabs(est - (double)N * SIZE) <= 0.03 * N * SIZE, "unbiased estimate within 3 %% of the bytes");
	ok(s.nstacks >= 1 && s.nblocks == live, "snapshot holds every recorded block and its stack");
	rt_heap_snapshot_free(&s);

	for (size_t i = 0; i < N; i++)
		free_counted(blocks[i]);
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
		tblocks[me][i] = alloc_counted(n);
	}
	pthread_barrier_wait(&allocated);
	for (size_t i = 0; i < PER_THREAD; i++)
		free_counted(tblocks[other][i]);
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

/* A thread's first allocation is sampled as any other: each of FIRST_THREADS threads
 * allocates one block of the mean's size, first thing; 1 - 1/e of them must be
 * recorded (a countdown starting at 0 that took every first block, or none, fails). */
#define FIRST_THREADS 1000
static void *first_blocks[FIRST_THREADS];

static void *first_alloc(void *arg)
{
	first_blocks[(size_t)arg] = alloc_counted(MEAN);
	return NULL;
}

static void test_first_blocks(void)
{
	size_t recorded = 0;
	for (size_t i = 0; i < FIRST_THREADS; i++) {
		pthread_t t;
		if (pthread_create(&t, NULL, first_alloc, (void *)i) == 0)
			pthread_join(t, NULL);
	}
	for (size_t i = 0; i < FIRST_THREADS; i++) {
		recorded += rt_heap_is_sampled(first_blocks[i]) != 0;
		free_counted(first_blocks[i]);
	}
	double p = 1 - exp(-1.0), want = FIRST_THREADS * p, sd = sqrt(want * (1 - p));
	printf("# %zu of %d first blocks recorded, %.0f expected (sd %.0f)\n", recorded,
	       FIRST_THREADS, want, sd);
	ok(fabs((double)recorded - want) <= 5 * sd,
	   "a thread's first block is recorded with the probability of any other's");
	is_int(rt_heap_live_count(), 0, "and retired when freed");
}

/* ---- labels ---- */

static int source_calls;

/* Request serial k's ids: trace id k in its first bytes, span id k+1. */
static void ids_for(uint64_t serial, uint8_t *trace, uint8_t *span)
{
	memset(trace, 0, 16);
	memset(span, 0, 8);
	memcpy(trace, &serial, sizeof serial);
	span[0] = (uint8_t)(serial + 1);
}

static int test_source(rt_thread_t *t, uint64_t serial)
{
	uint8_t trace[16], span[8];
	source_calls++;
	ids_for(serial, trace, span);
	rt_thread_set_ids(t, serial, trace, span);
	return 1;
}


/* Sums a snapshot's estimates: live bytes of label-less blocks and of each request's,
 * by its serial (ids_for), and freed bytes the same way. */
typedef struct sums {
	double live_none, live[8], freed_none, freed[8];
	int bad_ids;
} sums_t;

static void sum_snapshot(sums_t *m)
{
	rt_heap_snapshot_t s;
	memset(m, 0, sizeof *m);
	if (rt_heap_snapshot(&s) != 0) {
		m->bad_ids = -1;
		return;
	}
	for (size_t i = 0; i < s.nblocks; i++) {
		double b = rt_heap_scale(s.blocks[i].size, s.rate) * (double)s.blocks[i].size;
		uint64_t serial = 0;
		if (s.blocks[i].label)
			memcpy(&serial, s.labels[s.blocks[i].label - 1].trace_id, sizeof serial);
		if (!s.blocks[i].label)
			m->live_none += b;
		else if (serial < 8)
			m->live[serial] += b;
		else
			m->bad_ids++;
	}
	for (size_t i = 0; i < s.nstacks; i++)
		m->freed_none += s.stacks[i].freed_bytes;
	for (size_t i = 0; i < s.nfreed; i++) {
		uint64_t serial = 0;
		memcpy(&serial, s.labels[s.freed[i].label - 1].trace_id, sizeof serial);
		uint8_t trace[16], span[8];
		ids_for(serial, trace, span);
		if (serial >= 8 || memcmp(s.labels[s.freed[i].label - 1].span_id, span, 8) != 0)
			m->bad_ids++;
		else
			m->freed[serial] += s.freed[i].bytes;
	}
	rt_heap_snapshot_free(&s);
}

#define BIG (1 << 20)
#define PER_REQ 16

/* Two requests served in turn by this thread, then a stretch of no request. */
static void test_labels(void)
{
	rt_thread_t *self = rt_thread_self();
	void *b[3][PER_REQ];
	sums_t m;
	rt_heap_set_label_limits(4, 2); /* tiny, for test_label_limits below */
	rt_thread_set_ids_source(test_source);
	free_counted(alloc_counted(BIG)); /* the thread's first crossing, outside any request */
	for (int r = 0; r < 3; r++) {
		atomic_store(&self->cur_serial, r < 2 ? (uint64_t)r + 1 : 0); /* 1, 2, then none */
		for (int i = 0; i < PER_REQ; i++)
			b[r][i] = alloc_counted(BIG);
	}
	is_int(source_calls, 2, "ids asked for once per request, at its first sample");
	sum_snapshot(&m);
	double want = (double)PER_REQ * BIG;
	printf("# live: request 1 %.0f, request 2 %.0f, none %.0f (each %.0f)\n", m.live[1], m.live[2],
	       m.live_none, want);
	ok(m.bad_ids == 0, "every label names one of the requests, with its ids");
	ok(fabs(m.live[1] - want) < 1e-6 * want && fabs(m.live[2] - want) < 1e-6 * want,
	   "each request's live blocks carry its label");
	ok(fabs(m.live_none - want) < 1e-6 * want, "blocks allocated outside a request carry none");
	for (int r = 0; r < 3; r++)
		for (int i = 0; i < PER_REQ; i++)
			free_counted(b[r][i]);
	sum_snapshot(&m);
	ok(m.bad_ids == 0 && m.live[1] == 0 && m.live[2] == 0, "freed: nothing live");
	ok(fabs(m.freed[1] - want) < 1e-6 * want && fabs(m.freed[2] - want) < 1e-6 * want,
	   "each request's alloc totals outlive its blocks, under its label");
	ok(m.freed_none >= want * (1 - 1e-6), "the unlabelled ones under their stack");
	atomic_store(&self->cur_serial, 0);
}

/* Label table of 4, freed table of 2 (set in test_labels, before the first label).
 * Requests 3..7 each keep a block live: 1 and 2's freed entries hold two labels, so
 * 3 and 4 get the last two and 5..7 go unlabelled. Freeing everything then overflows
 * the freed table: evictions fold into stacks, and no byte is lost. */
static void test_label_limits(void)
{
	rt_thread_t *self = rt_thread_self();
	void *b[8];
	sums_t before, after;
	uint64_t unlabelled0 = rt_stat_get(RT_STAT_HEAP_UNLABELLED);
	uint64_t folded0 = rt_stat_get(RT_STAT_HEAP_FREED_UNLABELLED);
	for (uint64_t r = 3; r < 8; r++) {
		atomic_store(&self->cur_serial, r);
		b[r] = alloc_counted(BIG);
	}
	atomic_store(&self->cur_serial, 0);
	sum_snapshot(&before);
	is_int(rt_stat_get(RT_STAT_HEAP_UNLABELLED) - unlabelled0, 3,
	       "a full label table: three samples unlabelled, counted");
	ok(before.live[3] > 0 && before.live[4] > 0 && before.live[5] == 0 && before.live[7] == 0,
	   "the first two got labels, the rest none");
	double total0 = before.live_none + before.freed_none, total1;
	for (int r = 0; r < 8; r++)
		total0 += before.live[r] + before.freed[r];
	for (uint64_t r = 3; r < 8; r++)
		free_counted(b[r]);
	sum_snapshot(&after);
	total1 = after.live_none + after.freed_none;
	for (int r = 0; r < 8; r++)
		total1 += after.live[r] + after.freed[r];
	ok(rt_stat_get(RT_STAT_HEAP_FREED_UNLABELLED) - folded0 >= 2,
	   "a full freed table: the least recently used entries lose their label, counted");
	ok(after.bad_ids == 0 && fabs(total1 - total0) < 1e-6 * total0,
	   "and every byte is still counted (%.0f, %.0f)", total0, total1);
	rt_thread_set_ids_source(NULL);
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
	skip("a thread's first block is recorded with the probability of any other's",
	     "under TSan: libunwind's cache destructor");
	skip("and retired when freed", "under TSan: libunwind's cache destructor");
	(void)test_threads;
	(void)test_first_blocks;
#else
	test_threads();
	test_first_blocks();
#endif
	test_labels();
	test_label_limits();
	test_perfmap();
	return done_testing();
}
