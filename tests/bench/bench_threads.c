/* bench_threads.c: microseconds per pthread_create + pthread_join of a thread that
 * returns at once, the cost the pthread_create interposer adds to every thread.
 * Usage: bench_threads [CYCLES] (default 20000); prints "create_join_us R". */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static void *nothing(void *arg) { return arg; }

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 20000;
	double t0 = now();
	for (long i = 0; i < n; i++) {
		pthread_t t;
		if (pthread_create(&t, NULL, nothing, NULL) != 0 || pthread_join(t, NULL) != 0)
			return 1;
	}
	printf("create_join_us %.2f\n", (now() - t0) / n);
	return 0;
}
