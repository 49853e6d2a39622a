/* samples.h: the CPU samples the worker collects for one slow request, in three
 * growing arrays (at most 300,000 samples: 5 minutes at 1 kHz; the rest are counted
 * as lost). Context: the worker. */
#ifndef RT_SAMPLES_H
#define RT_SAMPLES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The samples collected for one request: sample i has weights[i] ns, was taken on
 * thread tids[i] and has the stack pcs[offs[i] .. offs[i]+npcs[i]). */
typedef struct rt_samples {
	size_t n, cap;
	uint64_t *weights;
	uint32_t *npcs;
	int32_t *tids;
	size_t *offs;
	uint8_t *before;        /* 1: taken before the request turned slow (its thread's
	                           ring, sample/prering.h); 0: by the sampler after */
	uintptr_t *pcs;
	size_t pcs_len, pcs_cap;
	uint64_t lost;          /* samples not kept (cap reached or no memory) */
} rt_samples_t;

int rt_samples_add(rt_samples_t *s, uint64_t weight, int32_t tid, const uintptr_t *pcs,
		   uint32_t npcs);
/* The sample just added was taken before the threshold. */
void rt_samples_mark_before(rt_samples_t *s);
void rt_samples_free(rt_samples_t *s);

#endif
