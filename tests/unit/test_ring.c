/* test_ring.c: the sample ring: order, wrap-around, drop-and-count when full, and a
 * concurrent producer/consumer pair that must neither lose nor duplicate a sample. */
#include <pthread.h>

#include "t.h"
#include "sample/ring.h"

#define N_CONCURRENT 2000000ull

static rt_ring_t *ring;

static void *producer(void *arg)
{
	(void)arg;
	for (uint64_t i = 1; i <= N_CONCURRENT;) {
		rt_sample_t *s = rt_ring_reserve(ring);
		if (!s)
			continue; /* full: retry (the real producer drops) */
		s->serial = i;
		s->npcs = 1;
		s->pcs[0] = (uintptr_t)i * 3;
		rt_ring_commit(ring);
		i++;
	}
	return NULL;
}

int main(void)
{
	ring = rt_ring_new();
	ok(ring != NULL, "ring allocated");

	for (int round = 0; round < 3; round++) {
		for (uint64_t i = 0; i < RT_RING_SLOTS; i++) {
			rt_sample_t *s = rt_ring_reserve(ring);
			if (!s)
				break;
			s->serial = i;
			rt_ring_commit(ring);
		}
		ok(rt_ring_reserve(ring) == NULL, "round %d: full ring refuses", round);
		uint64_t want = 0, bad = 0;
		const rt_sample_t *s;
		while ((s = rt_ring_peek(ring)) != NULL) {
			bad += s->serial != want++;
			rt_ring_pop(ring);
		}
		is_int(want, RT_RING_SLOTS, "all samples come back");
		is_int(bad, 0, "in order, across wrap-around");
	}
	is_int(atomic_load(&ring->dropped), 3, "each refusal was counted");

	rt_ring_reset(ring);
	pthread_t th;
	pthread_create(&th, NULL, producer, NULL);
	uint64_t next = 1, errors = 0;
	while (next <= N_CONCURRENT) {
		const rt_sample_t *s = rt_ring_peek(ring);
		if (!s)
			continue;
		errors += s->serial != next || s->pcs[0] != (uintptr_t)next * 3;
		next++;
		rt_ring_pop(ring);
	}
	pthread_join(th, NULL);
	is_int(errors, 0, "2M samples through a concurrent producer/consumer, none lost or torn");
	ok(rt_ring_peek(ring) == NULL, "ring empty at the end");
	return done_testing();
}
