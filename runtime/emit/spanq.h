/* spanq.h: the bounded queue between the request path and the span exporter: many
 * host threads add finished requests' span records, the exporter thread alone takes
 * them. Records are written in place into preallocated cells (claim, fill, publish),
 * so adding one never allocates, locks or waits: a full queue refuses, and the caller
 * counts a drop; a slow or dead collector can never stall the service. The cells are a
 * ring whose sequence numbers say whether each is free or filled (Vyukov's bounded
 * queue); a separate depth counter enforces the exact capacity the user set. */
#ifndef RT_SPANQ_H
#define RT_SPANQ_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rt_spanq {
	unsigned char *cells;         /* ring of cells: a sequence number, then an item */
	size_t cell_size;
	uint64_t mask;                /* ring size - 1 (a power of two >= max) */
	uint32_t max;                 /* most items held at once */
	_Atomic uint32_t depth;       /* items claimed and not yet released */
	_Atomic uint64_t push_pos;    /* next cell a producer claims */
	uint64_t pop_pos;             /* consumer-owned: oldest unreleased cell */
} rt_spanq_t;

/* Allocates cells for up to max items of item_size bytes (zeroed). 0, or -1 (no
 * memory). Before any claim. */
int rt_spanq_init(rt_spanq_t *q, uint32_t max, size_t item_size);
void rt_spanq_destroy(rt_spanq_t *q);

/* Any thread; never blocks, allocation-free. Reserves a cell and returns its item for
 * the caller to fill, then hand to rt_spanq_publish with the same ticket; NULL when the
 * queue is full. *depth (if not NULL) is the number held, this one included. */
void *rt_spanq_claim(rt_spanq_t *q, uint64_t *ticket, uint32_t *depth);
void rt_spanq_publish(rt_spanq_t *q, uint64_t ticket);

/* The consumer only. The i-th oldest item not yet released, or NULL when it is not
 * published yet (or there are fewer). */
void *rt_spanq_peek(rt_spanq_t *q, size_t i);
/* The consumer only: frees the n oldest cells (all peeked) for producers. */
void rt_spanq_release(rt_spanq_t *q, size_t n);

static inline uint32_t rt_spanq_depth(rt_spanq_t *q)
{
	return atomic_load_explicit(&q->depth, memory_order_relaxed);
}

/* After fork, in the child (one thread): items are the parent's; each published one is
 * passed to drop, then the queue is empty. A claim the fork cut short is forgotten. */
void rt_spanq_reset(rt_spanq_t *q, void (*drop)(void *item));

#endif
