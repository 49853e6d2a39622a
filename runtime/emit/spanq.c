/* spanq.c: bounded multi-producer, single-consumer queue of in-place records (see
 * emit/spanq.h). */
#include "emit/spanq.h"

#include <stdlib.h>

typedef struct cell {
	_Atomic uint64_t seq; /* == position: free for it; == position + 1: filled */
	unsigned char item[];
} cell_t;

static cell_t *cell_at(const rt_spanq_t *q, uint64_t pos)
{
	return (cell_t *)(q->cells + (pos & q->mask) * q->cell_size);
}

int rt_spanq_init(rt_spanq_t *q, uint32_t max, size_t item_size)
{
	uint64_t n = 2;
	while (n < max)
		n <<= 1;
	q->cell_size = (sizeof(cell_t) + item_size + 15) & ~(size_t)15;
	q->cells = calloc(n, q->cell_size);
	if (!q->cells)
		return -1;
	q->mask = n - 1;
	q->max = max;
	for (uint64_t i = 0; i < n; i++)
		atomic_init(&cell_at(q, i)->seq, i);
	atomic_init(&q->depth, 0);
	atomic_init(&q->push_pos, 0);
	q->pop_pos = 0;
	return 0;
}

void rt_spanq_destroy(rt_spanq_t *q)
{
	free(q->cells);
	q->cells = NULL;
}

void *rt_spanq_claim(rt_spanq_t *q, uint64_t *ticket, uint32_t *depth)
{
	uint32_t d = atomic_fetch_add_explicit(&q->depth, 1, memory_order_relaxed) + 1;
	if (d > q->max) {
		atomic_fetch_sub_explicit(&q->depth, 1, memory_order_relaxed);
		return NULL;
	}
	/* depth <= max <= ring size, so the cell for a claimed position has been released
	 * already; the wait is only for the consumer's release to become visible. */
	uint64_t pos = atomic_fetch_add_explicit(&q->push_pos, 1, memory_order_relaxed);
	cell_t *c = cell_at(q, pos);
	while (atomic_load_explicit(&c->seq, memory_order_acquire) != pos)
		;
	*ticket = pos;
	if (depth)
		*depth = d;
	return c->item;
}

void rt_spanq_publish(rt_spanq_t *q, uint64_t ticket)
{
	atomic_store_explicit(&cell_at(q, ticket)->seq, ticket + 1, memory_order_release);
}

void *rt_spanq_peek(rt_spanq_t *q, size_t i)
{
	uint64_t pos = q->pop_pos + i;
	cell_t *c = cell_at(q, pos);
	return atomic_load_explicit(&c->seq, memory_order_acquire) == pos + 1 ? c->item : NULL;
}

void rt_spanq_release(rt_spanq_t *q, size_t n)
{
	for (size_t i = 0; i < n; i++, q->pop_pos++)
		atomic_store_explicit(&cell_at(q, q->pop_pos)->seq, q->pop_pos + q->mask + 1,
				      memory_order_release);
	atomic_fetch_sub_explicit(&q->depth, (uint32_t)n, memory_order_relaxed);
}

void rt_spanq_reset(rt_spanq_t *q, void (*drop)(void *))
{
	uint64_t end = atomic_load(&q->push_pos);
	for (; q->pop_pos < end; q->pop_pos++) {
		cell_t *c = cell_at(q, q->pop_pos);
		if (atomic_load(&c->seq) == q->pop_pos + 1)
			drop(c->item);
	}
	for (uint64_t i = 0; i <= q->mask; i++)
		atomic_store(&cell_at(q, i)->seq, i);
	q->pop_pos = 0;
	atomic_store(&q->push_pos, 0);
	atomic_store(&q->depth, 0);
}
