/* truth_heap.c: a program holding known live bytes at three known allocation sites,
 * 48 MiB from site_a, 24 MiB from site_b and 8 MiB from site_c, for run.sh to compare
 * each heap profiler's in-use estimate per site with the truth (error in %).
 *
 *   truth_heap [HOLD_SECONDS]   allocate, print "ready" and the live bytes per site,
 *                               hold them HOLD_SECONDS (default 0), exit without freeing
 *
 * Sizes are mixed: a fixed pseudo-random sequence, log-uniform over 16 B..128 KiB, the
 * last block of each site cut so the site's total is exact (requested bytes: that is
 * what a user asks how much of is held). Meanwhile a fourth site, site_churn,
 * allocates and frees about 3 times the held bytes in the same sizes, interleaved
 * with the others, so a profiler that confused allocated with live would show it.
 * The first byte of every block is written. Exiting without freeing lets a profiler
 * that dumps at exit (jemalloc's prof_final, tcmalloc's last dump) see the held bytes.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MIB (1024L * 1024L)

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static size_t next_size(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	size_t lo = (size_t)1 << (4 + rng % 13); /* a band 2^4 .. 2^16, then uniform in it */
	return lo + (size_t)((rng >> 8) % lo);
}

struct site {
	long goal, held;
	void **blocks;
	long n, cap;
};

static void keep(struct site *s, void *p)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 1024;
		s->blocks = realloc(s->blocks, (size_t)s->cap * sizeof *s->blocks);
		if (!s->blocks)
			exit(1);
	}
	s->blocks[s->n++] = p;
}

/* One allocation per call, so each site's stack is its own; noinline keeps the name. */
#define SITE(name)                                                              \
	__attribute__((noinline, noclone)) void *name(size_t size)             \
	{                                                                       \
		char *p = malloc(size);                                         \
		if (!p)                                                         \
			exit(1);                                                \
		p[0] = 1;                                                       \
		__asm__ volatile("" ::"r"(p) : "memory");                       \
		return p;                                                       \
	}
SITE(site_a)
SITE(site_b)
SITE(site_c)
SITE(site_churn)

static int grow(struct site *s, void *(*fn)(size_t))
{
	if (s->held >= s->goal)
		return 0;
	size_t size = next_size();
	if ((long)size > s->goal - s->held)
		size = (size_t)(s->goal - s->held);
	keep(s, fn(size));
	s->held += (long)size;
	return 1;
}

int main(int argc, char **argv)
{
	int hold = argc > 1 ? atoi(argv[1]) : 0;
	struct site a = {.goal = 48 * MIB}, b = {.goal = 24 * MIB}, c = {.goal = 8 * MIB};
	long churned = 0;
	for (int more = 1; more;) {
		more = grow(&a, site_a);
		more |= grow(&b, site_b);
		more |= grow(&c, site_c);
		for (int i = 0; i < 3; i++) { /* ~3x the held bytes pass through and are freed */
			size_t size = next_size();
			free(site_churn(size));
			churned += (long)size;
		}
	}
	printf("ready site_a=%ld site_b=%ld site_c=%ld churned=%ld\n", a.held, b.held, c.held, churned);
	fflush(stdout);
	if (hold > 0)
		sleep((unsigned)hold);
	return 0;
}
