/* pool_samples.c: see pool_samples.h. Each pool thread's held samples are one growing
 * set of arrays (rt_samples_t, plus each sample's segment and label), kept in the
 * thread state's worker-only pending pointer. */
#include "emit/pool_samples.h"

#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "emit/samples.h"

#define HELD_MAX 8192

typedef struct held {
	rt_samples_t s;           /* weights, tids (unused: one thread), stacks */
	uint32_t *segments;
	uint64_t *serials;        /* each sample's own label: the request that woke the thread */
	size_t cap;
} held_t;

static uint64_t lost;

uint64_t rt_pool_samples_lost(void)
{
	return lost;
}

/* Keeps only the samples keep() says, in order. */
static void compact(held_t *h, const unsigned char *keep)
{
	rt_samples_t out;
	memset(&out, 0, sizeof out);
	size_t n = 0;
	for (size_t i = 0; i < h->s.n; i++) {
		if (!keep[i])
			continue;
		if (rt_samples_add(&out, h->s.weights[i], h->s.tids[i], h->s.pcs + h->s.offs[i],
				   h->s.npcs[i]) != 0) {
			lost++;
			continue;
		}
		h->segments[n] = h->segments[i];
		h->serials[n] = h->serials[i];
		n++;
	}
	rt_samples_free(&h->s);
	h->s = out;
}

void rt_pool_samples_hold(rt_thread_t *t, const rt_sample_t *s)
{
	held_t *h = t->handoff.pending;
	if (!h && !(h = t->handoff.pending = calloc(1, sizeof *h))) {
		lost++;
		return;
	}
	if (h->s.n >= HELD_MAX) { /* the older half goes */
		unsigned char *keep = calloc(h->s.n, 1);
		if (!keep) {
			lost++;
			return;
		}
		memset(keep + h->s.n / 2, 1, h->s.n - h->s.n / 2);
		lost += h->s.n / 2;
		compact(h, keep);
		free(keep);
	}
	size_t c1 = h->cap, c2 = h->cap;
	if (rt_grow((void **)&h->segments, &c1, h->s.n + 1, sizeof *h->segments) ||
	    rt_grow((void **)&h->serials, &c2, h->s.n + 1, sizeof *h->serials)) {
		lost++;
		return;
	}
	h->cap = c1 < c2 ? c1 : c2;
	size_t i = h->s.n;
	if (rt_samples_add(&h->s, s->weight_ns, t->tid, s->pcs, s->npcs) != 0) {
		lost++;
		return;
	}
	h->segments[i] = s->segment;
	h->serials[i] = s->serial;
}

/* Is segment a before b (segments count up, and may wrap)? */
static int before(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

/* The request whose result ended segment seg, from t's last hand-back records (segment
 * numbers never repeat within a state, so a record matches only its own segment). */
static uint64_t handed_back_to(rt_thread_handoff_t *ho, uint32_t ndone, uint32_t seg, int *known)
{
	uint32_t n = ndone < RT_HANDOFF_DONE_MAX ? ndone : RT_HANDOFF_DONE_MAX;
	for (uint32_t k = ndone - n; k != ndone; k++) {
		uint32_t j = k % RT_HANDOFF_DONE_MAX;
		if (atomic_load_explicit(&ho->done[j].segment, memory_order_relaxed) == seg) {
			*known = 1;
			return atomic_load_explicit(&ho->done[j].serial, memory_order_relaxed);
		}
	}
	return 0;
}

void rt_pool_samples_settle(rt_thread_t *t, rt_pool_give_fn give)
{
	rt_thread_handoff_t *ho = &t->handoff;
	held_t *h = ho->pending;
	if (!h || !h->s.n)
		return;
	/* The segment first: a segment before it that was handed back has its record. */
	uint32_t current = atomic_load_explicit(&ho->segment, memory_order_acquire);
	uint32_t ndone = atomic_load_explicit(&ho->ndone, memory_order_acquire);
	unsigned char *keep = malloc(h->s.n);
	if (!keep)
		return;
	for (size_t i = 0; i < h->s.n; i++) {
		int known = 0;
		uint64_t serial = handed_back_to(ho, ndone, h->segments[i], &known);
		if (!known && before(h->segments[i], current)) { /* ended with no hand-back */
			serial = h->serials[i];
			known = 1;
		}
		keep[i] = !known;
		if (known && serial)
			give(serial, t->tid, h->s.weights[i], h->s.pcs + h->s.offs[i], h->s.npcs[i]);
	}
	compact(h, keep);
	free(keep);
}
