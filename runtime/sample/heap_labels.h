/* heap_labels.h: the heap sampler's request labels. A sampled block names the request
 * its thread was serving by a 32-bit label into an interned table of (trace_id,
 * span_id), and what was allocated under a label and since freed is summed per
 * (stack, label), so the alloc_* views keep a request's totals after its blocks are
 * freed. sample/heap_sampler.c owns the blocks and stacks; this file only the two
 * tables. Both are bounded, fixed at creation:
 * - a label is reference-counted by the live blocks and freed entries naming it, and
 *   its slot is reused once nothing names it. When every slot is named, a new label
 *   is refused (0): the caller keeps its sample unlabelled, and counts it;
 * - when the freed table is full, the entry least recently added to (a CLOCK sweep)
 *   makes room: the caller folds its totals into the stack's unlabelled ones, so the
 *   stack's alloc_* stays whole and only the request is forgotten.
 * Freed entries can name at most max_freed labels, so with max_freed < max_labels the
 * difference is always left for live blocks.
 * Memory is one anonymous mapping, made at creation and touched only as the tables
 * fill. Not locked: the caller serialises every call on a table
 * (sample/heap_sampler.c holds its labels lock). Nothing here allocates. */
#ifndef RT_HEAP_LABELS_H
#define RT_HEAP_LABELS_H

#include <stdint.h>

typedef struct rt_heap_ids {
	uint8_t trace_id[16], span_id[8];
} rt_heap_ids_t;

typedef struct rt_heap_labels rt_heap_labels_t;

/* What was allocated at stack (the caller's handle) under label and since freed. */
typedef struct rt_heap_labels_freed {
	void *stack;
	uint32_t label;
	double objects, bytes;
} rt_heap_labels_freed_t;

/* A table of at most max_labels labels (1..2^24) and max_freed freed entries (1..2^24),
 * or NULL when the mapping failed. */
rt_heap_labels_t *rt_heap_labels_new(uint32_t max_labels, uint32_t max_freed);
void rt_heap_labels_delete(rt_heap_labels_t *t);

/* The label of these ids with one more reference taken: 1..max_labels, or 0 when the
 * table is full (nothing taken). */
uint32_t rt_heap_label_acquire(rt_heap_labels_t *t, const rt_heap_ids_t *ids);
/* Drops one reference; the last frees the slot. */
void rt_heap_label_release(rt_heap_labels_t *t, uint32_t label);
/* A named label's ids, and its slot's generation (bumped at each reuse of the slot,
 * so a reader copying labels in several steps can tell a slot that changed hands). */
const rt_heap_ids_t *rt_heap_label_ids(const rt_heap_labels_t *t, uint32_t label);
uint32_t rt_heap_label_gen(const rt_heap_labels_t *t, uint32_t label);
/* Labels named now; slots ever used (labels are 1..this). */
uint32_t rt_heap_labels_in_use(const rt_heap_labels_t *t);
uint32_t rt_heap_labels_high(const rt_heap_labels_t *t);

/* Adds objects and bytes freed of blocks allocated at stack under label (not 0). The
 * reference the block held on label passes to the table. Returns 1 when an entry was
 * evicted to make room (its label reference released, its totals in *evicted, for the
 * caller to keep unlabelled), else 0. */
int rt_heap_freed_add(rt_heap_labels_t *t, void *stack, uint32_t label, double objects,
		      double bytes, rt_heap_labels_freed_t *evicted);
/* The freed entries: i in 0..count-1. */
uint32_t rt_heap_freed_count(const rt_heap_labels_t *t);
const rt_heap_labels_freed_t *rt_heap_freed_at(const rt_heap_labels_t *t, uint32_t i);

#endif
