/* rt_spanq.h: the bounded queue between the request path and the span exporter: many
 * host threads push finished requests, the exporter thread alone pops them. Pushing is
 * lock-free and never waits (a full queue refuses, and the caller counts a drop), so a
 * slow or dead collector can never stall the service. The cells are a ring whose
 * sequence numbers say whether each is free or filled (Vyukov's bounded queue); a
 * separate depth counter enforces the exact capacity the user set. */
#ifndef RT_SPANQ_H
#define RT_SPANQ_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rt_spanq_cell {
	_Atomic uint64_t seq;
	void *item;
} rt_spanq_cell_t;

typedef struct rt_spanq {
	rt_spanq_cell_t *cells;
	uint64_t mask;                /* ring size - 1 (a power of two >= max) */
	uint32_t max;                 /* most items held at once */
	_Atomic uint32_t depth;       /* items pushed and not yet popped */
	_Atomic uint64_t push_pos;    /* next cell a producer claims */
	uint64_t pop_pos;             /* consumer-owned */
} rt_spanq_t;

/* Allocates the cells for up to max items. 0, or -1 (no memory). Before any push. */
int rt_spanq_init(rt_spanq_t *q, uint32_t max);
/* Any thread, never blocks, allocation-free. Returns the depth after the push (>= 1),
 * or 0 when the queue is full and item was not taken. */
uint32_t rt_spanq_push(rt_spanq_t *q, void *item);
/* The consumer only. The oldest item, or NULL when none is ready. */
void *rt_spanq_pop(rt_spanq_t *q);
static inline uint32_t rt_spanq_depth(rt_spanq_t *q)
{
	return atomic_load_explicit(&q->depth, memory_order_relaxed);
}
/* After fork, in the child (one thread): items are the parent's; each published one is
 * passed to drop, then the queue is empty. A push the fork cut short is forgotten. */
void rt_spanq_reset(rt_spanq_t *q, void (*drop)(void *item));

#endif
