/* cpu_profile.c: see cpu_profile.h. Sampling is sample/process_cpu.c. */
#include "profile/cpu_profile.h"

#include <stdio.h>
#include <time.h>

#include "base/hex.h"
#include "sample/process_cpu.h"

static void add_sample(const rt_process_cpu_sample_t *s, void *arg)
{
	rt_profile_t *p = arg;
	int64_t v[2] = { 1, (int64_t)s->weight_ns };
	if (s->shim) {
		char frame[48];
		snprintf(frame, sizeof frame, "[otshim thread: %s]", s->name);
		rt_label_t name = { "thread_name", s->name, 0 };
		rt_profile_add_sample_frame(p, frame, v, &name, 1);
		return;
	}
	char trace[33], span[17];
	rt_label_t labels[2] = { { "trace_id", trace, 0 }, { "span_id", span, 0 } };
	if (s->has_ids) {
		rt_hex_encode(s->trace_id, 16, trace);
		rt_hex_encode(s->span_id, 8, span);
	}
	rt_profile_add_sample(p, s->pcs, s->npcs, 1, v, labels, s->has_ids ? 2 : 0);
}

int rt_cpu_profile_collect(unsigned seconds, unsigned hz, rt_profile_t **out)
{
	*out = NULL;
	int rc = rt_process_cpu_run(seconds, hz);
	if (rc != 0)
		return rc;
	static const rt_value_type_t types[] = { { "samples", "count" }, { "cpu", "nanoseconds" } };
	rt_profile_t *p = rt_profile_new(types, 2, "cpu");
	if (p) {
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		rt_profile_set_period(p, "cpu", "nanoseconds", 1000000000LL / hz);
		rt_profile_set_time(p, ((int64_t)now.tv_sec - seconds) * 1000000000LL + now.tv_nsec,
				    (int64_t)seconds * 1000000000LL);
		rt_process_cpu_each(add_sample, p);
	}
	rt_process_cpu_done();
	*out = p;
	return p ? 0 : -1;
}
