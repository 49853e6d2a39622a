/* thread_profile.c: see thread_profile.h. */
#include "profile/thread_profile.h"

#include <stdio.h>

#include "base/alloc.h"
#include "sample/thread_registry.h"


rt_profile_t *rt_thread_profile_build(const rt_thread_capture_t *c, rt_thread_profile_labeller_t l,
				  void *arg)
{
	static const rt_value_type_t types[] = { { "threads", "count" } };
	rt_profile_t *p = rt_profile_new(types, 1, "threads");
	if (!p)
		return NULL;
	rt_profile_set_period(p, "threads", "count", 1);
	for (size_t i = 0; i < c->n; i++) {
		const rt_thread_stack_t *t = &c->threads[i];
		char id[16];
		const char *trace, *span;
		snprintf(id, sizeof id, "%d", (int)t->tid);
		rt_label_t labels[5] = { { "thread_name", t->name, 0 }, { "thread_id", id, 0 } };
		size_t nl = 2;
		if (t->held_back)
			labels[nl++] = (rt_label_t){ "stack", rt_thread_capture_held_back_why(t->held_back), 0 };
		if (t->serial && l && l(t->serial, &trace, &span, arg)) {
			labels[nl++] = (rt_label_t){ "trace_id", trace, 0 };
			labels[nl++] = (rt_label_t){ "span_id", span, 0 };
		}
		int64_t one = 1;
		if (t->npcs)
			rt_profile_add_sample(p, t->pcs, t->npcs, 1, &one, labels, nl);
		else
			rt_profile_add_sample_frame(p, t->internal ? "[otshim thread: not signalled]"
						    : t->held_back == RT_THREAD_CAPTURE_BLOCKS ? "[no stack: signal blocked]"
						    : t->held_back ? "[no stack: not signalled, its state unknown]"
						    : "[no stack: no answer in time]",
						    &one, labels, nl);
	}
	return p;
}

rt_profile_t *rt_thread_profile_build_create(void)
{
	static const rt_value_type_t types[] = { { "threadcreate", "count" } };
	rt_thread_info_t *a;
	size_t n;
	if (rt_thread_registry_snapshot(&a, &n) != 0)
		return NULL;
	rt_profile_t *p = rt_profile_new(types, 1, "threadcreate");
	if (p) {
		rt_profile_set_period(p, "threadcreate", "count", 1);
		for (size_t i = 0; i < n; i++) {
			char id[16];
			snprintf(id, sizeof id, "%d", (int)a[i].tid);
			rt_label_t label = { "thread_id", id, 0 };
			int64_t one = 1;
			rt_profile_add_sample(p, a[i].pcs, a[i].npcs, 0, &one, &label, a[i].tid ? 1 : 0);
		}
	}
	rt_alloc.free(a);
	return p;
}
