/* samples.c: see samples.h. */
#include "emit/samples.h"

#include <stdlib.h>
#include <string.h>

#include "base/util.h"

#define SAMPLES_MAX 300000 /* per request: 5 min at 1 kHz */

int rt_samples_add(rt_samples_t *s, uint64_t weight, int32_t tid, const uintptr_t *pcs,
		   uint32_t npcs)
{
	size_t cap = s->cap;
	if (s->n >= SAMPLES_MAX)
		goto lost;
	if (s->n + 1 > s->cap) {
		size_t c1 = cap, c2 = cap, c3 = cap, c4 = cap, c5 = cap;
		if (rt_grow((void **)&s->weights, &c1, s->n + 1, sizeof *s->weights) ||
		    rt_grow((void **)&s->npcs, &c2, s->n + 1, sizeof *s->npcs) ||
		    rt_grow((void **)&s->offs, &c3, s->n + 1, sizeof *s->offs) ||
		    rt_grow((void **)&s->tids, &c4, s->n + 1, sizeof *s->tids) ||
		    rt_grow((void **)&s->before, &c5, s->n + 1, sizeof *s->before))
			goto lost;
		c1 = c1 < c2 ? c1 : c2;
		c3 = c3 < c4 ? c3 : c4;
		c1 = c1 < c5 ? c1 : c5;
		s->cap = c1 < c3 ? c1 : c3;
	}
	if (rt_grow((void **)&s->pcs, &s->pcs_cap, s->pcs_len + npcs, sizeof *s->pcs))
		goto lost;
	s->weights[s->n] = weight;
	s->tids[s->n] = tid;
	s->npcs[s->n] = npcs;
	s->before[s->n] = 0;
	s->offs[s->n] = s->pcs_len;
	memcpy(s->pcs + s->pcs_len, pcs, npcs * sizeof *pcs);
	s->pcs_len += npcs;
	s->n++;
	return 0;
lost:
	s->lost++;
	return -1;
}

void rt_samples_mark_before(rt_samples_t *s)
{
	if (s->n)
		s->before[s->n - 1] = 1;
}

void rt_samples_free(rt_samples_t *s)
{
	free(s->before);
	free(s->weights);
	free(s->npcs);
	free(s->offs);
	free(s->tids);
	free(s->pcs);
	memset(s, 0, sizeof *s);
}
