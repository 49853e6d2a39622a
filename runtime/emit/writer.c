/* writer.c: a slow request's profile set (see writer.h): the CPU profile from its
 * samples, the wall profile from them and its thread's waits, the heap and threads profiles from what the worker captured as it ended,
 * threadcreate from the registry, then its index line. Names come from file_names.c
 * only; request text (method, path) goes only into profile comments and escaped JSON. */
#include "emit/writer.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/cfg.h"
#include "base/owned_fds.h"
#include "base/stats.h"
#include "base/util.h"
#include "emit/caps.h"
#include "emit/file_names.h"
#include "emit/index_log.h"
#include "emit/profile_dir.h"
#include "emit/profile_export.h"
#include "emit/wall_profile.h"
#include "profile/heap_profile.h"
#include "profile/thread_profile.h"

/* The comment lines every profile of a request carries (doc/REFERENCE.md, "Profiles"). */
static void add_request_comments(rt_profile_t *p, const rt_req_t *r, const rt_ids_hex_t *id)
{
	char line[RT_HTTP_PATH_MAX + 64];
	snprintf(line, sizeof line, "trace_id=%s", id->trace);
	rt_profile_add_comment(p, line);
	snprintf(line, sizeof line, "span_id=%s", id->span);
	rt_profile_add_comment(p, line);
	snprintf(line, sizeof line, "method=%.*s", r->method_len, r->method);
	rt_profile_add_comment(p, line);
	snprintf(line, sizeof line, "path=%.*s", r->path_len, r->path);
	rt_profile_add_comment(p, line);
	snprintf(line, sizeof line, "duration_ms=%.1f",
		 (double)(r->end_mono_ns - r->start_mono_ns) / 1e6);
	rt_profile_add_comment(p, line);
}

/* The set being written: its serving thread's name as the worker or the capture saw
 * it (the thread may be gone by now), or NULL. Worker-only, like the rest of this
 * file's state. */
static const char *serving_name;

static const char *serving_thread_name(const rt_req_t *r, const rt_request_evidence_t *ev)
{
	if (ev->thread_name && ev->thread_name[0])
		return ev->thread_name;
	for (size_t i = 0; ev->threads && i < ev->threads->n; i++)
		if (ev->threads->threads[i].tid == r->tid)
			return ev->threads->threads[i].name;
	return NULL;
}

/* Saves a profile of r's set: to its file, and to the exporters when they are on. */
static int save(rt_profile_t *p, const char *path, const rt_req_t *r, const char *kind)
{
	rt_profile_about_t about = {
		.kind = kind, .source = "slow_request",
		.trace_id = r->ctx.trace_id, .span_id = r->span_id, .tid = r->tid,
		.thread_name = serving_name,
		.start_real_ns = r->start_real_ns,
		.end_real_ns = r->start_real_ns + (r->end_mono_ns - r->start_mono_ns),
	};
	return rt_profile_save(p, path, &about);
}

static int write_cpu_profile(const rt_req_t *r, const rt_samples_t *s, const rt_ids_hex_t *id,
			     const char *path)
{
	static const rt_value_type_t types[] = { { "samples", "count" }, { "cpu", "nanoseconds" } };
	rt_profile_t *p = rt_profile_new(types, 2, "cpu");
	char line[RT_HTTP_PATH_MAX + 64];
	if (!p)
		return -1;
	rt_profile_set_period(p, "cpu", "nanoseconds", 1000000000LL / rt_cfg.cpu_hz);
	rt_profile_set_time(p, (int64_t)r->start_real_ns,
			    (int64_t)(r->end_mono_ns - r->start_mono_ns));
	add_request_comments(p, r, id);
	snprintf(line, sizeof line, "cpu_route=%s", rt_index_route_name(r->cpu_route));
	rt_profile_add_comment(p, line);
	/* thread_id: which thread the sample was taken on -- the one that read the
	 * request, or a pool thread acting for it (track/handoff.h). phase: whether it
	 * was kept before the request turned slow (sample/prering.h) or sampled after. */
	char tid[16];
	rt_label_t labels[4] = { { "trace_id", id->trace, 0 }, { "span_id", id->span, 0 },
				 { "thread_id", tid, 0 }, { "phase", "", 0 } };
	uint64_t before = 0;
	for (size_t i = 0; i < s->n; i++) {
		int64_t v[2] = { 1, (int64_t)s->weights[i] };
		snprintf(tid, sizeof tid, "%d", (int)s->tids[i]);
		labels[3].str = s->before[i] ? "before_threshold" : "after_threshold";
		rt_profile_add_sample(p, s->pcs + s->offs[i], s->npcs[i], 1, v, labels, 4);
		if (s->before[i] && s->tids[i] == r->tid)
			before += s->weights[i];
	}
	/* The thread's clock measured more before the threshold than its ring's samples
	 * hold (it ran before its ring was enabled, or outran it): shown, without a stack,
	 * so that the profile adds up to the request's CPU. */
	if (r->cpu_pre_ns > before) {
		int64_t v[2] = { 0, (int64_t)(r->cpu_pre_ns - before) };
		snprintf(tid, sizeof tid, "%d", (int)r->tid);
		labels[3].str = "before_threshold";
		rt_profile_add_sample_frame(p, RT_FRAME_ON_CPU_UNSAMPLED, v, labels, 4);
	}
	int rc = save(p, path, r, "cpu");
	rt_profile_free(p);
	return rc;
}

/* The wall profile: where the serving thread spent the request's time (emit/wall_profile.h). */
static int write_wall_profile(const rt_req_t *r, const rt_samples_t *s, const rt_ids_hex_t *id,
			      const char *path, rt_wall_summary_t *sum)
{
	char line[64];
	rt_profile_t *p = rt_wall_profile_build(r, s, id, sum);
	if (!p)
		return -1;
	add_request_comments(p, r, id);
	snprintf(line, sizeof line, "off_cpu_ms=%.1f", (double)sum->off_cpu_ns / 1e6);
	rt_profile_add_comment(p, line);
	int rc = save(p, path, r, "wall");
	rt_profile_free(p);
	return rc;
}

/* Recent slow requests' ids, so threads serving one of them can be labelled with it.
 * Worker-only. */
#define RECENT_MAX 4096
static struct recent {
	uint64_t serial;
	char trace[33], span[17];
} recent[RECENT_MAX];
static size_t recent_next;

static void remember_ids(uint64_t serial, const rt_ids_hex_t *id)
{
	struct recent *e = &recent[recent_next++ % RECENT_MAX];
	e->serial = serial;
	memcpy(e->trace, id->trace, sizeof e->trace);
	memcpy(e->span, id->span, sizeof e->span);
}

static int recent_ids(uint64_t serial, const char **trace, const char **span, void *arg)
{
	(void)arg;
	size_t n = recent_next < RECENT_MAX ? recent_next : RECENT_MAX;
	for (size_t i = 0; i < n; i++)
		if (recent[i].serial == serial) {
			*trace = recent[i].trace;
			*span = recent[i].span;
			return 1;
		}
	return 0;
}

static int write_heap_profile(const rt_req_t *r, const rt_ids_hex_t *id,
			      const rt_heap_snapshot_t *snap, const char *path)
{
	rt_profile_t *p = rt_heap_profile_build(snap, "inuse_space");
	if (!p)
		return -1;
	rt_profile_set_time(p, (int64_t)(r->start_real_ns + (r->end_mono_ns - r->start_mono_ns)), 0);
	add_request_comments(p, r, id);
	int rc = save(p, path, r, "heap");
	rt_profile_free(p);
	return rc;
}

static int write_threads_profile(const rt_req_t *r, const rt_ids_hex_t *id,
				 rt_thread_capture_t *cap, const char *path)
{
	char line[64];
	/* The thread that served this request has moved on by now; it is labelled with
	 * the request all the same, as the thread to look at. */
	for (size_t i = 0; i < cap->n; i++)
		if (cap->threads[i].tid == r->tid)
			cap->threads[i].serial = r->serial;
	rt_profile_t *p = rt_thread_profile_build(cap, recent_ids, NULL);
	if (!p)
		return -1;
	rt_profile_set_time(p, (int64_t)(r->start_real_ns + (r->end_mono_ns - r->start_mono_ns)), 0);
	add_request_comments(p, r, id);
	snprintf(line, sizeof line, "capture_ms=%.2f", (double)cap->elapsed_ns / 1e6);
	rt_profile_add_comment(p, line);
	int rc = save(p, path, r, "threads");
	rt_profile_free(p);
	return rc;
}

static int write_threadcreate_profile(const rt_req_t *r, const rt_ids_hex_t *id, const char *path)
{
	rt_profile_t *p = rt_thread_profile_build_create();
	if (!p)
		return -1;
	add_request_comments(p, r, id);
	int rc = save(p, path, r, "threadcreate");
	rt_profile_free(p);
	return rc;
}

static int count_threads(void)
{
	int n = 0;
	DIR *d = rt_owned_fd_opendir("/proc/self/task");
	struct dirent *e;
	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	rt_owned_fd_closedir(d);
	return n;
}

/* What the span of this request says about its files. */
static void report_files(rt_req_files_t *out, const rt_set_files_t *f)
{
	if (!out)
		return;
	snprintf(out->cpu, sizeof out->cpu, "%s", f->cpu ? f->cpu : "");
	snprintf(out->wall, sizeof out->wall, "%s", f->wall ? f->wall : "");
	snprintf(out->heap, sizeof out->heap, "%s", f->heap ? f->heap : "");
	snprintf(out->threads, sizeof out->threads, "%s", f->threads ? f->threads : "");
	out->nthreads = f->nthreads;
}

int rt_writer_admit(void)
{
	if (!rt_caps_rate_take((uint64_t)time(NULL), rt_cfg.max_profiles_per_min)) {
		rt_stat_drop(RT_STAT_DROPPED_RATE);
		return 0;
	}
	/* Opening files needs descriptors; near the limit they are the service's. */
	if (rt_fd_headroom() != 0) {
		rt_dir_fault("a profile", errno);
		rt_stat_drop(RT_STAT_DROPPED_FDS);
		return 0;
	}
	if (rt_dir_ensure() != 0) {
		rt_dir_fault(NULL, errno);
		rt_stat_drop(RT_STAT_DROPPED_IO);
		rt_stat_add(RT_STAT_ERRORS, 1);
		return 0;
	}
	if (!rt_caps_disk_allows(rt_dir_bytes(), rt_cfg.max_disk_mb)) {
		rt_stat_drop(RT_STAT_DROPPED_DISK);
		return 0;
	}
	return 1;
}

/* One more file of the set was not written: a fault line when the directory said why
 * (err != 0), an error counted either way. */
static void file_failed(const char *what, int err, int *faults)
{
	if (err)
		rt_dir_fault(what, err);
	rt_stat_add(RT_STAT_ERRORS, 1);
	(*faults)++;
}

void rt_writer_slow_request(const rt_req_t *r, const rt_request_evidence_t *ev,
			    rt_req_files_t *out)
{
	rt_ids_hex_t id;
	uint64_t unix_s = r->start_real_ns / 1000000000ull;
	char cpu_name[RT_FILE_NAME_MAX], heap_name[RT_FILE_NAME_MAX], wall_name[RT_FILE_NAME_MAX];
	rt_wall_summary_t wall;
	char threads_name[RT_FILE_NAME_MAX], create_name[RT_FILE_NAME_MAX];
	char path[RT_CFG_PATH_MAX + RT_FILE_NAME_MAX + 2];
	rt_json_t line = { 0 };

	/* Again: the service may have taken its last descriptors while the worker
	 * gathered the set (a capture takes milliseconds). */
	if (rt_fd_headroom() != 0) {
		rt_dir_fault("a profile", errno);
		rt_stat_drop(RT_STAT_DROPPED_FDS);
		return;
	}
	rt_ids_hex(r->ctx.trace_id, r->span_id, r->ctx.parent_id, &id);
	serving_name = serving_thread_name(r, ev);
	rt_file_name_request(cpu_name, "cpu", &id, unix_s);
	rt_dir_path(path, sizeof path, cpu_name);
	if (write_cpu_profile(r, ev->cpu, &id, path) != 0) {
		rt_dir_fault("a profile", errno ? errno : EIO);
		rt_stat_drop(RT_STAT_DROPPED_IO);
		rt_stat_add(RT_STAT_ERRORS, 1);
		return;
	}
	int faults = 0; /* files of this set not written */
	remember_ids(r->serial, &id);
	rt_set_files_t files = { .cpu = cpu_name, .nthreads = -1 };
	rt_file_name_request(wall_name, "wall", &id, unix_s);
	rt_dir_path(path, sizeof path, wall_name);
	errno = 0;
	if (write_wall_profile(r, ev->cpu, &id, path, &wall) == 0)
		files.wall = wall_name;
	else
		file_failed("a wall profile", errno, &faults);
	if (ev->heap_wanted) {
		rt_file_name_request(heap_name, "heap", &id, unix_s);
		rt_dir_path(path, sizeof path, heap_name);
		errno = 0;
		if (ev->heap && write_heap_profile(r, &id, ev->heap, path) == 0)
			files.heap = heap_name;
		else /* no snapshot (no memory): nothing the directory did */
			file_failed("a heap profile", ev->heap ? errno : 0, &faults);
	}
	if (ev->threads_wanted) {
		errno = 0;
		rt_file_name_request(threads_name, "threads", &id, unix_s);
		rt_file_name_request(create_name, "threadcreate", &id, unix_s);
		if (ev->threads) { /* else the capture gave up (a thread did not answer) */
			files.nthreads = (int)ev->threads->n;
			rt_dir_path(path, sizeof path, threads_name);
			if (write_threads_profile(r, &id, ev->threads, path) == 0)
				files.threads = threads_name;
			rt_dir_path(path, sizeof path, create_name);
			if (write_threadcreate_profile(r, &id, path) == 0)
				files.threadcreate = create_name;
		}
		if (!files.threads || !files.threadcreate)
			file_failed("a thread profile", errno, &faults);
	}
	if (files.nthreads < 0)
		files.nthreads = count_threads();
	report_files(out, &files);
	if (out) { /* the span carries the same downstream list, when it fits */
		rt_json_t ds = { 0 };
		out->downstream[0] = 0;
		rt_index_downstream(&ds, r, "");
		if (!ds.oom && ds.len > 0 && ds.len < sizeof out->downstream) {
			memcpy(out->downstream, ds.p, ds.len);
			out->downstream[ds.len] = 0;
		}
		rt_json_free(&ds);
	}
	rt_index_line(&line, r, &id, &files, ev->cpu, files.wall ? &wall : NULL);
	if (rt_index_append(&line) != 0)
		file_failed("index.jsonl", line.oom ? 0 : errno, &faults);
	/* A fault is over when a whole set went through: on a nearly full disk the small
	 * CPU profile may fit where the rest does not. */
	if (!faults)
		rt_dir_fault_over();
	rt_json_free(&line);
	rt_stat_add(RT_STAT_WRITTEN, 1);
}
