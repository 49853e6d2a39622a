/* rt_spanq.c: bounded multi-producer, single-consumer queue (see rt_spanq.h). */
#include "rt_spanq.h"

#include <stdlib.h>

int rt_spanq_init(rt_spanq_t *q, uint32_t max)
{
	uint64_t n = 2;
	while (n < max)
		n <<= 1;
	q->cells = calloc(n, sizeof *q->cells);
	if (!q->cells)
		return -1;
	for (uint64_t i = 0; i < n; i++)
		atomic_init(&q->cells[i].seq, i);
	q->mask = n - 1;
	q->max = max;
	atomic_init(&q->depth, 0);
	atomic_init(&q->push_pos, 0);
	q->pop_pos = 0;
	return 0;
}

uint32_t rt_spanq_push(rt_spanq_t *q, void *item)
{
	uint32_t d = atomic_fetch_add_explicit(&q->depth, 1, memory_order_relaxed) + 1;
	if (d > q->max) {
		atomic_fetch_sub_explicit(&q->depth, 1, memory_order_relaxed);
		return 0;
	}
	/* depth <= max <= ring size, so a cell is free for every claimed position, though
	 * the consumer may still be emptying it: wait for its sequence to come round. */
	uint64_t pos = atomic_fetch_add_explicit(&q->push_pos, 1, memory_order_relaxed);
	rt_spanq_cell_t *c = &q->cells[pos & q->mask];
	while (atomic_load_explicit(&c->seq, memory_order_acquire) != pos)
		;
	c->item = item;
	atomic_store_explicit(&c->seq, pos + 1, memory_order_release);
	return d;
}

void *rt_spanq_pop(rt_spanq_t *q)
{
	rt_spanq_cell_t *c = &q->cells[q->pop_pos & q->mask];
	if (atomic_load_explicit(&c->seq, memory_order_acquire) != q->pop_pos + 1)
		return NULL;
	void *item = c->item;
	atomic_store_explicit(&c->seq, q->pop_pos + q->mask + 1, memory_order_release);
	q->pop_pos++;
	atomic_fetch_sub_explicit(&q->depth, 1, memory_order_relaxed);
	return item;
}

void rt_spanq_reset(rt_spanq_t *q, void (*drop)(void *))
{
	uint64_t end = atomic_load(&q->push_pos);
	for (; q->pop_pos < end; q->pop_pos++) {
		rt_spanq_cell_t *c = &q->cells[q->pop_pos & q->mask];
		if (atomic_load(&c->seq) == q->pop_pos + 1)
			drop(c->item);
	}
	for (uint64_t i = 0; i <= q->mask; i++)
		atomic_store(&q->cells[i].seq, i);
	q->pop_pos = 0;
	atomic_store(&q->push_pos, 0);
	atomic_store(&q->depth, 0);
}
