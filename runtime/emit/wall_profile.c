/* wall_profile.c: a slow request's wall-clock profile (see emit/wall_profile.h). */
#include "emit/wall_profile.h"

#include <stdio.h>
#include <string.h>

#include "base/cfg.h"
#include "track/waits.h"

#define OFF_CPU_UNTIMED  "[off CPU, outside the timed calls]"
#define OTHER_WAITS      "[waits at further call sites]"

/* The wait (call and peer) that took most of r's time, summed over its call sites. */
static void top_wait(const rt_req_waits_t *w, double scale, rt_wall_summary_t *sum)
{
	for (uint32_t i = 0; i < w->n; i++) {
		uint64_t ns = 0;
		for (uint32_t j = 0; j < w->n; j++)
			if (w->w[j].kind == w->w[i].kind && !strcmp(w->w[j].peer, w->w[i].peer))
				ns += w->w[j].ns;
		ns = (uint64_t)((double)ns * scale);
		if (ns > sum->top_ns) {
			sum->top_ns = ns;
			sum->top_wait = rt_wait_name(w->w[i].kind);
			snprintf(sum->top_peer, sizeof sum->top_peer, "%s", w->w[i].peer);
		}
	}
}

rt_profile_t *rt_wall_profile_build(const rt_req_t *r, const rt_samples_t *cpu,
				    const rt_ids_hex_t *id, rt_wall_summary_t *sum)
{
	static const rt_value_type_t types[] = { { "samples", "count" }, { "wall", "nanoseconds" } };
	const rt_req_waits_t *w = r->waits;
	uint64_t duration = r->end_mono_ns - r->start_mono_ns;
	uint64_t sampled = 0, cpu_ns, waited = w ? w->total_ns : 0;
	rt_label_t labels[5] = { { "trace_id", id->trace, 0 }, { "span_id", id->span, 0 },
				 { "state", "on-cpu", 0 }, { "wait", NULL, 0 }, { "peer", NULL, 0 } };

	memset(sum, 0, sizeof *sum);
	rt_profile_t *p = rt_profile_new(types, 2, "wall");
	if (!p)
		return NULL;
	rt_profile_set_period(p, "wall", "nanoseconds", 1000000000LL / rt_cfg.cpu_hz);
	rt_profile_set_time(p, (int64_t)r->start_real_ns, (int64_t)duration);

	/* On CPU: the serving thread's own samples (threads acting for it are not its
	 * wall time). */
	for (size_t i = 0; i < cpu->n; i++) {
		if (cpu->tids[i] != r->tid)
			continue;
		int64_t v[2] = { 1, (int64_t)cpu->weights[i] };
		sampled += cpu->weights[i];
		rt_profile_add_sample(p, cpu->pcs + cpu->offs[i], cpu->npcs[i], 1, v, labels, 3);
	}
	if (sampled > duration)
		sampled = duration;
	cpu_ns = rt_req_cpu_ns(r);
	if (cpu_ns < sampled)
		cpu_ns = sampled;
	if (cpu_ns > duration)
		cpu_ns = duration;

	/* Off CPU: the waits. Their ticks and the CPU clock are read apart, so if they
	 * claim more than is left they are scaled down to it: the total stays true. */
	double scale = 1.0;
	if (waited > duration - cpu_ns)
		scale = waited ? (double)(duration - cpu_ns) / (double)waited : 0.0;
	labels[2].str = "off-cpu";
	uint64_t placed = 0;
	for (uint32_t i = 0; w && i < w->n; i++) {
		const rt_wait_t *e = &w->w[i];
		uint64_t ns = (uint64_t)((double)e->ns * scale);
		int64_t v[2] = { e->count, (int64_t)ns };
		labels[3].str = rt_wait_name(e->kind);
		labels[4].str = e->peer;
		rt_profile_add_sample(p, e->pcs, e->npcs, 0, v, labels, e->peer[0] ? 5 : 4);
		placed += ns;
	}
	if (w && w->other_count) {
		uint64_t ns = (uint64_t)((double)w->other_ns * scale);
		int64_t v[2] = { w->other_count, (int64_t)ns };
		rt_profile_add_sample_frame(p, OTHER_WAITS, v, labels, 3);
		placed += ns;
	}

	/* What neither the samples nor the waits account for. */
	if (cpu_ns > sampled) {
		int64_t v[2] = { 1, (int64_t)(cpu_ns - sampled) };
		labels[2].str = "on-cpu";
		rt_profile_add_sample_frame(p, RT_FRAME_ON_CPU_UNSAMPLED, v, labels, 3);
	}
	if (duration > cpu_ns + placed) {
		int64_t v[2] = { 1, (int64_t)(duration - cpu_ns - placed) };
		labels[2].str = "off-cpu";
		rt_profile_add_sample_frame(p, OFF_CPU_UNTIMED, v, labels, 3);
	}
	sum->on_cpu_ns = cpu_ns;
	sum->off_cpu_ns = duration - cpu_ns;
	sum->waited_ns = placed;
	if (w)
		top_wait(w, scale, sum);
	return p;
}
