/* index_log.c: see index_log.h. */
#include "emit/index_log.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "emit/profile_dir.h"
#include "sample/thread.h"

const char *rt_index_route_name(int route)
{
	return route == RT_CPU_ROUTE_PERF ? "perf" : route == RT_CPU_ROUTE_TIMER ? "timer" : "none";
}

/* Threads other than r's own whose samples are in cpu, and the CPU they sampled. */
static int handed_off(const rt_req_t *r, const rt_samples_t *cpu, uint64_t *ns)
{
	int32_t seen[8];
	int n = 0;
	*ns = 0;
	for (size_t i = 0; i < cpu->n; i++) {
		if (cpu->tids[i] == r->tid)
			continue;
		*ns += cpu->weights[i];
		int known = 0;
		for (int k = 0; k < n && !known; k++)
			known = seen[k] == cpu->tids[i];
		if (!known && n < 8)
			seen[n++] = cpu->tids[i];
	}
	return n;
}

void rt_index_downstream(rt_json_t *b, const rt_req_t *r, const char *prefix)
{
	uint8_t order[RT_REQ_DS_MAX];
	int n = r->n_ds;
	if (!n)
		return;
	for (int i = 0; i < n; i++) /* slowest first: a few entries, insertion sort */
		order[i] = (uint8_t)i;
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && r->ds[order[j - 1]].ns < r->ds[order[j]].ns; j--) {
			uint8_t t = order[j];
			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	rt_json_put(b, prefix, strlen(prefix));
	for (int i = 0; i < n; i++) {
		const rt_req_ds_t *d = &r->ds[order[i]];
		rt_json_put(b, i ? ",{\"peer\":" : "[{\"peer\":", 9);
		rt_json_put_str(b, d->peer, d->peer_len);
		rt_json_putf(b, ",\"calls\":%u,\"ms\":%.1f}", d->calls, (double)d->ns / 1e6);
	}
	rt_json_put(b, "]", 1);
}

void rt_index_line(rt_json_t *b, const rt_req_t *r, const rt_ids_hex_t *id,
		   const rt_set_files_t *f, const rt_samples_t *cpu_samples,
		   const rt_wall_summary_t *wall)
{
	time_t sec = (time_t)(r->start_real_ns / 1000000000ull);
	struct tm tm;
	char ts[32];
	gmtime_r(&sec, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
	rt_json_putf(b, "{\"time\":\"%s.%03dZ\",\"pid\":%d,\"tid\":%d,\"trace_id\":\"%s\",\"span_id\":\"%s\"",
	     ts, (int)(r->start_real_ns / 1000000 % 1000), (int)getpid(), (int)r->tid, id->trace,
	     id->span);
	if (r->has_parent)
		rt_json_putf(b, ",\"parent_span_id\":\"%s\"", id->parent);
	rt_json_put(b, ",\"method\":", 10);
	rt_json_put_str(b, r->method, r->method_len);
	rt_json_put(b, ",\"path\":", 8);
	rt_json_put_str(b, r->path, r->path_len);
	if (r->query_len) {
		rt_json_put(b, ",\"query\":", 9);
		rt_json_put_str(b, r->query, r->query_len);
	}
	uint64_t cpu = rt_req_cpu_ns(r); /* from the first byte */
	rt_json_putf(b, ",\"status\":%u,\"duration_ms\":%.1f,\"cpu_ms\":%.1f,\"profiled_after_ms\":%.1f",
	     r->status, (double)(r->end_mono_ns - r->start_mono_ns) / 1e6, (double)cpu / 1e6,
	     (double)(r->slow_mono_ns - r->start_mono_ns) / 1e6);
	rt_json_putf(b, ",\"cpu_route\":\"%s\",\"samples\":%zu", rt_index_route_name(r->cpu_route),
		     cpu_samples->n);
	uint64_t other_ns;
	int others = handed_off(r, cpu_samples, &other_ns);
	if (others) /* at most 8 counted */
		rt_json_putf(b, ",\"handed_off\":{\"threads\":%d,\"cpu_ms\":%.1f}", others,
			     (double)other_ns / 1e6);
	if (wall) {
		rt_json_putf(b, ",\"wall_off_cpu_ms\":%.1f", (double)wall->off_cpu_ns / 1e6);
		if (wall->top_wait) {
			rt_json_putf(b, ",\"top_wait\":{\"wait\":\"%s\",\"peer\":", wall->top_wait);
			rt_json_put_str(b, wall->top_peer, strlen(wall->top_peer));
			rt_json_putf(b, ",\"ms\":%.1f}", (double)wall->top_ns / 1e6);
		}
	}
	if (r->alloc_bytes >= 0)
		rt_json_putf(b, ",\"alloc_bytes\":%lld", (long long)r->alloc_bytes);
	/* An HTTP/2 stream: its CPU profile is its serving thread's, which served the
	 * connection's other streams meanwhile too. */
	if (r->multiplexed)
		rt_json_put(b, ",\"multiplexed\":true", 19);
	if (r->has_grpc_status)
		rt_json_putf(b, ",\"grpc_status\":%u", r->grpc_status);
	rt_index_downstream(b, r, ",\"downstream\":");
	rt_json_putf(b, ",\"threads\":%d,\"files\":{\"cpu\":\"%s\"", f->nthreads, f->cpu);
	if (f->wall)
		rt_json_putf(b, ",\"wall\":\"%s\"", f->wall);
	if (f->heap)
		rt_json_putf(b, ",\"heap\":\"%s\"", f->heap);
	if (f->threads)
		rt_json_putf(b, ",\"threads\":\"%s\"", f->threads);
	if (f->threadcreate)
		rt_json_putf(b, ",\"threadcreate\":\"%s\"", f->threadcreate);
	rt_json_put(b, "}}\n", 3);
}

int rt_index_append(const rt_json_t *b)
{
	if (b->oom) {
		errno = EIO;
		return -1;
	}
	return rt_dir_append("index.jsonl", b);
}
