/* heap_profile.c: heap snapshot → pprof profile (see profile/heap_profile.h).
 * Blocks are summed per (stack, request) in floating point before rounding, so the
 * per-block scale factors do not each add a rounding error. */
#include "profile/heap_profile.h"

#include <math.h>
#include <stdlib.h>

#include "track/traceparent.h"

static int by_stack_then_serial(const void *a, const void *b)
{
	const rt_heap_block_t *x = a, *y = b;
	if (x->stack != y->stack)
		return x->stack < y->stack ? -1 : 1;
	return x->serial < y->serial ? -1 : x->serial > y->serial;
}

static int64_t rounded(double v) { return (int64_t)llround(v); }

rt_profile_t *rt_heap_profile_build(const rt_heap_snapshot_t *s, rt_heap_labeller_t labeller,
				    void *arg, const char *default_type)
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
		qsort(blocks, s->nblocks, sizeof *blocks, by_stack_then_serial);
	}
	/* Live blocks, one sample per run of equal (stack, serial). */
	for (size_t i = 0; i < s->nblocks;) {
		size_t j = i;
		double objects = 0, bytes = 0;
		for (; j < s->nblocks && blocks[j].stack == blocks[i].stack &&
		       blocks[j].serial == blocks[i].serial;
		     j++) {
			double sc = rt_heap_scale(blocks[j].size, s->rate);
			objects += sc;
			bytes += sc * (double)blocks[j].size;
		}
		const rt_heap_stack_t *st = &s->stacks[blocks[i].stack];
		const char *trace, *span;
		char trace_hex[33], span_hex[17];
		rt_label_t labels[2];
		size_t nlabels = 0;
		if (blocks[i].has_ids) { /* recorded at allocation (a CPU profile was running) */
			rt_hex_encode(blocks[i].trace_id, 16, trace_hex);
			rt_hex_encode(blocks[i].span_id, 8, span_hex);
			trace = trace_hex;
			span = span_hex;
			labels[0] = (rt_label_t){ "trace_id", trace, 0 };
			labels[1] = (rt_label_t){ "span_id", span, 0 };
			nlabels = 2;
		} else if (blocks[i].serial && labeller && labeller(blocks[i].serial, &trace, &span, arg)) {
			labels[0] = (rt_label_t){ "trace_id", trace, 0 };
			labels[1] = (rt_label_t){ "span_id", span, 0 };
			nlabels = 2;
		}
		int64_t v[4] = { rounded(objects), rounded(bytes), rounded(objects), rounded(bytes) };
		rt_profile_add_sample(p, st->pcs, st->npcs, 0, v, labels, nlabels);
		i = j;
	}
	/* What each stack allocated and already freed counts in alloc_* only. */
	for (size_t i = 0; i < s->nstacks; i++) {
		const rt_heap_stack_t *st = &s->stacks[i];
		if (st->freed_objects <= 0)
			continue;
		int64_t v[4] = { rounded(st->freed_objects), rounded(st->freed_bytes), 0, 0 };
		rt_profile_add_sample(p, st->pcs, st->npcs, 0, v, NULL, 0);
	}
	free(blocks);
	return p;
}
