/* heap_profile.c: heap snapshot → pprof profile (see profile/heap_profile.h).
 * Blocks are summed per (stack, label) in floating point before rounding, so the
 * per-block scale factors do not each add a rounding error. */
#include "profile/heap_profile.h"

#include <math.h>
#include <stdlib.h>

#include "base/hex.h"

static int by_stack_then_label(const void *a, const void *b)
{
	const rt_heap_block_t *x = a, *y = b;
	if (x->stack != y->stack)
		return x->stack < y->stack ? -1 : 1;
	return x->label < y->label ? -1 : x->label > y->label;
}

static int64_t rounded(double v) { return (int64_t)llround(v); }

/* One sample: the request's labels when label names one (1 + index into s->labels). */
static int add(rt_profile_t *p, const rt_heap_snapshot_t *s, uint32_t stack, uint32_t label,
	       const int64_t v[4])
{
	const rt_heap_stack_t *st = &s->stacks[stack];
	char trace[33], span[17];
	rt_label_t labels[2] = { { "trace_id", trace, 0 }, { "span_id", span, 0 } };
	if (label) {
		rt_hex_encode(s->labels[label - 1].trace_id, 16, trace);
		rt_hex_encode(s->labels[label - 1].span_id, 8, span);
	}
	return rt_profile_add_sample(p, st->pcs, st->npcs, 0, v, labels, label ? 2 : 0);
}

/* Live blocks, one sample per run of equal (stack, label); blocks is sorted so. */
static void add_live(rt_profile_t *p, const rt_heap_snapshot_t *s, const rt_heap_block_t *blocks)
{
	for (size_t i = 0; i < s->nblocks;) {
		size_t j = i;
		double objects = 0, bytes = 0;
		for (; j < s->nblocks && blocks[j].stack == blocks[i].stack &&
		       blocks[j].label == blocks[i].label;
		     j++) {
			double sc = rt_heap_scale(blocks[j].size, s->rate);
			objects += sc;
			bytes += sc * (double)blocks[j].size;
		}
		int64_t v[4] = { rounded(objects), rounded(bytes), rounded(objects), rounded(bytes) };
		add(p, s, blocks[i].stack, blocks[i].label, v);
		i = j;
	}
}

rt_profile_t *rt_heap_profile_build(const rt_heap_snapshot_t *s, const char *default_type)
{
	static const rt_value_type_t types[] = {
		{ "alloc_objects", "count" },
		{ "alloc_space", "bytes" },
		{ "inuse_objects", "count" },
		{ "inuse_space", "bytes" },
	};
	rt_profile_t *p = rt_profile_new(types, 4, default_type);
	if (!p)
		return NULL;
	rt_profile_set_period(p, "space", "bytes", (int64_t)s->rate);
	rt_heap_block_t *blocks = NULL;
	if (s->nblocks) {
		blocks = malloc(s->nblocks * sizeof *blocks);
		if (!blocks) {
			rt_profile_free(p);
			return NULL;
		}
		for (size_t i = 0; i < s->nblocks; i++)
			blocks[i] = s->blocks[i];
		qsort(blocks, s->nblocks, sizeof *blocks, by_stack_then_label);
	}
	add_live(p, s, blocks);
	/* What was allocated and already freed counts in alloc_* only: per stack outside
	 * any request, per (stack, request) inside one. */
	for (size_t i = 0; i < s->nstacks; i++) {
		const rt_heap_stack_t *st = &s->stacks[i];
		if (st->freed_objects <= 0)
			continue;
		int64_t v[4] = { rounded(st->freed_objects), rounded(st->freed_bytes), 0, 0 };
		add(p, s, (uint32_t)i, 0, v);
	}
	for (size_t i = 0; i < s->nfreed; i++) {
		const rt_heap_freed_t *f = &s->freed[i];
		int64_t v[4] = { rounded(f->objects), rounded(f->bytes), 0, 0 };
		add(p, s, f->stack, f->label, v);
	}
	free(blocks);
	return p;
}
