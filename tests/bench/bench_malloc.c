/* bench_malloc.c: nanoseconds per malloc+free pair, the cost every allocation pays for
 * the malloc-family interposers (and for heap sampling). Run by run.sh under glibc,
 * bare jemalloc and otshim; build with -O2 -fno-builtin so the compiler keeps every call.
 *
 *   bench_malloc [-t 1|2] [-s pair|window] [PAIRS]
 *
 * Sizes: a fixed pseudo-random sequence of 4096 sizes, log-uniform over 16..4096 bytes
 * (each power-of-two band 16-31, 32-63, ..., 2048-4095 equally likely, uniform inside
 * it), identical in every run and every thread. One byte of each block is written.
 *
 * Shapes:
 *   pair    p = malloc(size); touch p; free(p)                    (LIFO, best case)
 *   window  64 live blocks in a ring: free the oldest, malloc a new one in its slot and
 *           touch it (blocks outlive 63 other allocations; the ring is filled before
 *           the clock starts and emptied after it stops)
 *
 * Threads: every measurement runs in freshly created threads (1 or 2), each doing its
 * own loop of PAIRS pairs, started together by a barrier. The figure printed is
 *   wall time (first start .. last finish) / PAIRS
 * i.e. ns per pair per thread = wall x threads / total pairs. With perfect scaling on
 * two free cores the 2-thread figure equals the 1-thread one; any excess is contention
 * (shared locks, cache lines) or the two threads sharing one CPU.
 *
 * PAIRS (per thread): given, it is used as is (callgrind runs difference two counts);
 * absent or 0, each shape is calibrated single-threaded to take about 0.3 s.
 * Without -t/-s every combination runs. Output, one line each:
 *   pair_1t_ns 12.34
 *   window_1t_ns ...
 *   pair_2t_ns ...
 *   window_2t_ns ...
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NSIZES 4096 /* power of two */
#define WINDOW 64   /* power of two */
#define TARGET_NS 3e8

enum shape { PAIR, WINDOW_SHAPE };
static const char *const shape_name[] = { "pair", "window" };

static uint32_t sizes[NSIZES];

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void make_sizes(void)
{
	uint64_t x = 0x9e3779b97f4a7c15ull; /* xorshift64, fixed seed */
	for (int i = 0; i < NSIZES; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		unsigned band = 4 + (unsigned)(x % 8); /* 2^4 .. 2^11 */
		sizes[i] = (1u << band) + (uint32_t)((x >> 8) % (1u << band));
	}
	sizes[NSIZES - 1] = 4096; /* the top of the range occurs too */
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

/* The loops: noinline so callgrind and perf see them as themselves. */
static __attribute__((noinline)) void loop_pair(long n)
{
	for (long i = 0; i < n; i++) {
		char *p = malloc(sizes[i & (NSIZES - 1)]);
		if (!p)
			die("malloc");
		*(volatile char *)p = (char)i;
		free(p);
	}
}

static __attribute__((noinline)) void loop_window(long n, char **ring)
{
	for (long i = 0; i < n; i++) {
		free(ring[i & (WINDOW - 1)]);
		char *p = malloc(sizes[i & (NSIZES - 1)]);
		if (!p)
			die("malloc");
		*(volatile char *)p = (char)i;
		ring[i & (WINDOW - 1)] = p;
	}
}

typedef struct {
	enum shape shape;
	long n;
	pthread_barrier_t *bar;
	double t0, t1;
} job_t;

static void *worker(void *arg)
{
	job_t *j = arg;
	char *ring[WINDOW];
	if (j->shape == WINDOW_SHAPE)
		for (int k = 0; k < WINDOW; k++) {
			/* sizes from the far end of the table so the first frees are mixed too */
			ring[k] = malloc(sizes[NSIZES - 1 - k]);
			if (!ring[k])
				die("malloc");
			*(volatile char *)ring[k] = 1;
		}
	pthread_barrier_wait(j->bar);
	j->t0 = now();
	if (j->shape == PAIR)
		loop_pair(j->n);
	else
		loop_window(j->n, ring);
	j->t1 = now();
	if (j->shape == WINDOW_SHAPE)
		for (int k = 0; k < WINDOW; k++)
			free(ring[k]);
	return NULL;
}

/* ns per pair per thread: wall time from the first thread's start to the last's end / n */
static double measure(enum shape s, int threads, long n)
{
	pthread_t tid[2];
	job_t job[2];
	pthread_barrier_t bar;
	if (pthread_barrier_init(&bar, NULL, (unsigned)threads))
		die("pthread_barrier_init");
	for (int t = 0; t < threads; t++) {
		job[t] = (job_t){ .shape = s, .n = n, .bar = &bar };
		if (pthread_create(&tid[t], NULL, worker, &job[t]))
			die("pthread_create");
	}
	double t0 = 0, t1 = 0;
	for (int t = 0; t < threads; t++) {
		pthread_join(tid[t], NULL);
		if (t == 0 || job[t].t0 < t0)
			t0 = job[t].t0;
		if (t == 0 || job[t].t1 > t1)
			t1 = job[t].t1;
	}
	pthread_barrier_destroy(&bar);
	return (t1 - t0) / n;
}

/* Pairs that take about TARGET_NS in one thread (warm-up included: the first pass
 * faults the heap in). */
static long calibrate(enum shape s)
{
	long n = 20000;
	for (;;) {
		double ns = measure(s, 1, n) * n;
		if (ns > 2e7 || n > (1L << 34))
			return (long)(n * (TARGET_NS / (ns > 0 ? ns : 1)));
		n *= 4;
	}
}

static void usage(const char *argv0)
{
	fprintf(stderr, "usage: %s [-t 1|2] [-s pair|window] [PAIRS per thread; 0 = ~0.3 s]\n", argv0);
	exit(2);
}

int main(int argc, char **argv)
{
	int only_threads = 0, only_shape = -1, c;
	long pairs = 0;
	while ((c = getopt(argc, argv, "t:s:")) != -1) {
		if (c == 't' && (atoi(optarg) == 1 || atoi(optarg) == 2))
			only_threads = atoi(optarg);
		else if (c == 's' && strcmp(optarg, "pair") == 0)
			only_shape = PAIR;
		else if (c == 's' && strcmp(optarg, "window") == 0)
			only_shape = WINDOW_SHAPE;
		else
			usage(argv[0]);
	}
	if (optind < argc) {
		char *end;
		pairs = strtol(argv[optind], &end, 10);
		if (*end || pairs < 0 || optind + 1 < argc)
			usage(argv[0]);
	}
	make_sizes();
	long n[2] = { pairs, pairs };
	for (int s = PAIR; s <= WINDOW_SHAPE; s++)
		if (!pairs && (only_shape < 0 || only_shape == s))
			n[s] = calibrate((enum shape)s);
	for (int t = 1; t <= 2; t++) {
		if (only_threads && only_threads != t)
			continue;
		for (int s = PAIR; s <= WINDOW_SHAPE; s++) {
			if (only_shape >= 0 && only_shape != s)
				continue;
			printf("%s_%dt_ns %.2f\n", shape_name[s], t, measure((enum shape)s, t, n[s]));
			fflush(stdout);
		}
	}
	return 0;
}
