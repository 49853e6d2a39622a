/* rt_writer.c: the profile directory (see rt_writer.h). File names are built only from
 * ids the shim validated or made, rendered as lowercase hex, plus numbers: no byte of
 * a request ever reaches a path. Request text (method, path) goes only into JSON
 * strings, escaped, and into profile comments. */
#include "emit/writer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/cfg.h"
#include "track/conn.h"
#include "emit/export.h"
#include "base/owned_fds.h"
#include "profile/heap_profile.h"
#include "base/log.h"
#include "profile/profile.h"
#include "sample/thread.h"
#include "profile/thread_profile.h"
#include "sample/thread_capture.h"
#include "base/util.h"

_Atomic uint64_t rt_stat_slow, rt_stat_written, rt_stat_dropped, rt_stat_errors;
/* Why profiles were dropped (beyond SPEC, they add up to rt_stat_dropped). */
static _Atomic uint64_t dropped_rate, dropped_disk, dropped_fds, dropped_io;

#define SAMPLES_MAX 300000 /* per request: 5 min at 1 kHz */

/* ---- sample sets ---- */

int rt_samples_add(rt_samples_t *s, uint64_t weight, const uintptr_t *pcs, uint32_t npcs)
{
	size_t cap = s->cap;
	if (s->n >= SAMPLES_MAX)
		goto lost;
	if (s->n + 1 > s->cap) {
		size_t c1 = cap, c2 = cap, c3 = cap;
		if (rt_grow((void **)&s->weights, &c1, s->n + 1, sizeof *s->weights) ||
		    rt_grow((void **)&s->npcs, &c2, s->n + 1, sizeof *s->npcs) ||
		    rt_grow((void **)&s->offs, &c3, s->n + 1, sizeof *s->offs))
			goto lost;
		s->cap = c1 < c2 ? (c1 < c3 ? c1 : c3) : (c2 < c3 ? c2 : c3);
	}
	if (rt_grow((void **)&s->pcs, &s->pcs_cap, s->pcs_len + npcs, sizeof *s->pcs))
		goto lost;
	s->weights[s->n] = weight;
	s->npcs[s->n] = npcs;
	s->offs[s->n] = s->pcs_len;
	memcpy(s->pcs + s->pcs_len, pcs, npcs * sizeof *pcs);
	s->pcs_len += npcs;
	s->n++;
	return 0;
lost:
	s->lost++;
	return -1;
}

void rt_samples_free(rt_samples_t *s)
{
	free(s->weights);
	free(s->npcs);
	free(s->offs);
	free(s->pcs);
	memset(s, 0, sizeof *s);
}

/* ---- faults: one line when writing starts failing, one when it works again ----
 * An unwritable or vanished directory, a full disk, RLIMIT_FSIZE or the descriptor
 * limit fail every write alike: the stats file counts each profile lost; stderr gets
 * one line when a fault begins (or its cause changes) and one when a whole profile set
 * is written again, never a line per request. Only a complete set ends a fault: the
 * small stats file or CPU profile may fit where the rest does not, and must not make
 * the lines flap. */

static pthread_mutex_t fault_mu = PTHREAD_MUTEX_INITIALIZER;
static int fault_err;          /* errno of the fault going on; 0: none */
static uint64_t fault_dropped; /* rt_stat_dropped when it began */

/* what: the file that could not be written; NULL: the directory could not be made. */
static void fault(const char *what, int err)
{
	pthread_mutex_lock(&fault_mu);
	if (err != fault_err) {
		if (!fault_err)
			fault_dropped = atomic_load(&rt_stat_dropped);
		if (what)
			rt_log(RT_LOG_WARN, "cannot write %s in the profile directory %s: %s; profiles "
			       "are dropped (counted in the stats) until one can be written again",
			       what, rt_cfg.profile_dir, strerror(err));
		else
			rt_log(RT_LOG_WARN, "cannot create the profile directory %s: %s; profiles are "
			       "dropped (counted in the stats) until one can be written again",
			       rt_cfg.profile_dir, strerror(err));
		fault_err = err;
	}
	pthread_mutex_unlock(&fault_mu);
}

static void fault_over(void)
{
	pthread_mutex_lock(&fault_mu);
	if (fault_err) {
		rt_log(RT_LOG_WARN, "profiles are written to %s again (%llu dropped meanwhile)",
		       rt_cfg.profile_dir,
		       (unsigned long long)(atomic_load(&rt_stat_dropped) - fault_dropped));
		fault_err = 0;
	}
	pthread_mutex_unlock(&fault_mu);
}

/* ---- directory, rate limit, disk cap ---- */

/* mkdir -p, the last component 0700; parents get 0755 like mkdir -p would. A
 * directory removed while the service runs is made again (SPEC: "created if
 * missing"), and stderr says so: whoever removed it may not expect it back. */
static int ensure_dir(const char *dir)
{
	static _Atomic int had_it; /* worker, continuous thread and exit path */
	char path[RT_CFG_PATH_MAX];
	struct stat st;
	if (stat(dir, &st) == 0) {
		errno = ENOTDIR;
		if (!S_ISDIR(st.st_mode))
			return -1;
		had_it = 1;
		return 0;
	}
	if (had_it && errno == ENOENT) {
		had_it = 0;
		rt_log(RT_LOG_WARN, "the profile directory %s was removed; making it again", dir);
	}
	snprintf(path, sizeof path, "%s", dir);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(path, 0755) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return -1;
	had_it = 1;
	return 0;
}

static uint64_t dir_bytes(const char *dir)
{
	uint64_t total = 0;
	DIR *d = rt_owned_fd_opendir(dir);
	struct dirent *e;
	if (!d)
		return 0;
	while ((e = readdir(d)) != NULL) {
		struct stat st;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
			total += (uint64_t)st.st_size;
	}
	rt_owned_fd_closedir(d);
	return total;
}

/* Profile sets written in the current minute (per process: reset in a fork child). */
static time_t rate_window;
static uint32_t rate_used;

static int rate_allows(void)
{
	time_t now = time(NULL) / 60;
	if (now != rate_window) {
		rate_window = now;
		rate_used = 0;
	}
	if (rate_used >= rt_cfg.max_profiles_per_min)
		return 0;
	rate_used++;
	return 1;
}

static int space_allows(void)
{
	uint64_t cap = rt_cfg.max_disk_mb * 1024 * 1024;
	return dir_bytes(rt_cfg.profile_dir) < cap;
}

/* ---- JSON ---- */

typedef struct buf {
	char *p;
	size_t len, cap;
	int oom;
} buf_t;

static void put(buf_t *b, const char *s, size_t n)
{
	if (b->oom || rt_grow((void **)&b->p, &b->cap, b->len + n + 1, 1)) {
		b->oom = 1;
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

static void putf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(buf_t *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n > 0)
		put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Length of a valid UTF-8 sequence at s (max n bytes), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
	if (len == 0 || len > n || s[0] >= 0xf8)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

/* A JSON string from arbitrary request bytes: escapes controls, quotes and
 * backslashes; invalid UTF-8 becomes U+FFFD so the line stays valid JSON. */
static void put_json_str(buf_t *b, const char *s, size_t n)
{
	put(b, "\"", 1);
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };
			put(b, e, 2);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			putf(b, "\\u%04x", c);
			i++;
		} else if (c < 0x80) {
			put(b, s + i, 1);
			i++;
		} else {
			size_t l = utf8_len((const unsigned char *)s + i, n - i);
			if (l) {
				put(b, s + i, l);
				i += l;
			} else {
				put(b, "\\ufffd", 6);
				i++;
			}
		}
	}
	put(b, "\"", 1);
}

/* ---- files ---- */

/* One write(2) on an O_APPEND descriptor: lines from several processes sharing the
 * directory (pre-fork workers) never interleave. A write the disk cut short is taken
 * back (when no other line followed it), so the file holds whole lines only. */
static int append_line(const char *name, const buf_t *line)
{
	char path[RT_CFG_PATH_MAX + 64];
	struct stat st;
	snprintf(path, sizeof path, "%s/%s", rt_cfg.profile_dir, name);
	int fd = RT_OWNED_FD_OPEN(open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
	if (fd < 0)
		return -1;
	int rc = -1;
	if (fstat(fd, &st) == 0 && rt_fsize_allows((unsigned long long)st.st_size + line->len) == 0 &&
	    rt_owned_fd_usable(fd)) {
		ssize_t w, w2 = 0;
		while ((w = write(fd, line->p, line->len)) < 0 && errno == EINTR)
			;
		/* Cut short: the rest, once, which either goes too or says why not. */
		if (w > 0 && (size_t)w < line->len)
			while ((w2 = write(fd, line->p + w, line->len - (size_t)w)) < 0 && errno == EINTR)
				;
		rc = w >= 0 && w2 >= 0 && (size_t)w + (size_t)w2 == line->len ? 0 : -1;
		if (rc != 0 && w > 0) {
			int saved = w2 < 0 ? errno : ENOSPC;
			off_t end = lseek(fd, 0, SEEK_CUR), mine = w + (w2 > 0 ? w2 : 0);
			if (end >= mine && fstat(fd, &st) == 0 && st.st_size == end &&
			    ftruncate(fd, end - mine) != 0)
				(void)0; /* nothing more to be done */
			errno = saved;
		} else if (rc != 0 && w == 0) {
			errno = ENOSPC;
		}
	}
	int saved = errno;
	rt_owned_fd_close(fd);
	errno = saved;
	return rc;
}

static int replace_file(const char *name, const buf_t *content)
{
	char path[RT_CFG_PATH_MAX + 64], tmp[RT_CFG_PATH_MAX + 96];
	snprintf(path, sizeof path, "%s/%s", rt_cfg.profile_dir, name);
	snprintf(tmp, sizeof tmp, "%s/.%s.tmp", rt_cfg.profile_dir, name);
	if (rt_fsize_allows(content->len) != 0)
		return -1;
	int fd = RT_OWNED_FD_OPEN(open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
	if (fd < 0)
		return -1;
	int rc = rt_write_all(fd, content->p, content->len);
	if (rt_owned_fd_close(fd) != 0)
		rc = -1;
	if (rc == 0 && rename(tmp, path) == 0)
		return 0;
	int saved = errno;
	unlink(tmp);
	errno = saved;
	return -1;
}

/* ---- slow-request profile set ---- */

static void drop(_Atomic uint64_t *why)
{
	atomic_fetch_add(why, 1);
	atomic_fetch_add(&rt_stat_dropped, 1);
}

typedef struct ids {
	char trace[33], span[17], parent[17];
} ids_t;

static void ids_of(const rt_req_t *r, ids_t *id)
{
	rt_hex_encode(r->ctx.trace_id, 16, id->trace);
	rt_hex_encode(r->span_id, 8, id->span);
	rt_hex_encode(r->ctx.parent_id, 8, id->parent);
}

static const char *route_name(int route)
{
	return route == RT_CPU_ROUTE_PERF ? "perf" : route == RT_CPU_ROUTE_TIMER ? "timer" : "none";
}

/* The comment lines every profile of a request carries (SPEC §4). */
static void add_request_comments(rt_profile_t *p, const rt_req_t *r, const ids_t *id)
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

static int write_cpu_profile(const rt_req_t *r, const rt_samples_t *s, const ids_t *id,
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
	snprintf(line, sizeof line, "cpu_route=%s", route_name(r->cpu_route));
	rt_profile_add_comment(p, line);
	rt_label_t labels[2] = { { "trace_id", id->trace, 0 }, { "span_id", id->span, 0 } };
	for (size_t i = 0; i < s->n; i++) {
		int64_t v[2] = { 1, (int64_t)s->weights[i] };
		rt_profile_add_sample(p, s->pcs + s->offs[i], s->npcs[i], 1, v, labels, 2);
	}
	int rc = rt_profile_write_gz(p, path);
	rt_profile_free(p);
	return rc;
}

/* Recent slow requests' ids, so heap samples allocated while one of them was served
 * can be labelled with it. Worker-only. */
#define RECENT_MAX 4096
static struct recent {
	uint64_t serial;
	char trace[33], span[17];
} recent[RECENT_MAX];
static size_t recent_next;

static void remember_ids(uint64_t serial, const ids_t *id)
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

/* A whole-process heap snapshot taken as the request is written. */
static int write_heap_profile(const rt_req_t *r, const ids_t *id, const char *path)
{
	rt_heap_snapshot_t snap;
	if (rt_heap_snapshot(&snap) != 0)
		return -1;
	rt_profile_t *p = rt_heap_profile_build(&snap, recent_ids, NULL, "inuse_space");
	rt_heap_snapshot_free(&snap);
	if (!p)
		return -1;
	rt_profile_set_time(p, (int64_t)(r->start_real_ns + (r->end_mono_ns - r->start_mono_ns)), 0);
	add_request_comments(p, r, id);
	int rc = rt_profile_write_gz(p, path);
	rt_profile_free(p);
	return rc;
}

/* The threads and threadcreate profiles; *nthreads gets the number of threads the
 * capture found (-1 when there was none). Returns a bit per file written (1 threads,
 * 2 threadcreate). */
static int write_thread_profiles(const rt_req_t *r, const ids_t *id, const char *threads_path,
				 const char *create_path, int *nthreads)
{
	rt_thread_capture_t cap;
	char line[64];
	int written = 0;
	*nthreads = -1;
	if (rt_thread_capture_take(&cap) != 0)
		return 0;
	*nthreads = (int)cap.n;
	/* The thread that served this request has moved on by now; it is labelled with
	 * the request all the same, as the thread to look at. */
	for (size_t i = 0; i < cap.n; i++)
		if (cap.threads[i].tid == r->tid)
			cap.threads[i].serial = r->serial;
	rt_profile_t *p = rt_thread_profile_build(&cap, recent_ids, NULL);
	if (p) {
		rt_profile_set_time(p, (int64_t)(r->start_real_ns + (r->end_mono_ns - r->start_mono_ns)), 0);
		add_request_comments(p, r, id);
		snprintf(line, sizeof line, "capture_ms=%.2f", (double)cap.elapsed_ns / 1e6);
		rt_profile_add_comment(p, line);
		if (rt_profile_write_gz(p, threads_path) == 0)
			written |= 1;
		rt_profile_free(p);
	}
	rt_thread_capture_free(&cap);
	p = rt_thread_profile_build_create();
	if (p) {
		add_request_comments(p, r, id);
		if (rt_profile_write_gz(p, create_path) == 0)
			written |= 2;
		rt_profile_free(p);
	}
	return written;
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

typedef struct set_files {
	const char *cpu, *heap, *threads, *threadcreate;
	int nthreads;               /* -1: not captured (then /proc/self/task is counted) */
} set_files_t;

static void index_line(buf_t *b, const rt_req_t *r, const ids_t *id, const set_files_t *f,
		       size_t nsamples)
{
	time_t sec = (time_t)(r->start_real_ns / 1000000000ull);
	struct tm tm;
	char ts[32];
	gmtime_r(&sec, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
	putf(b, "{\"time\":\"%s.%03dZ\",\"pid\":%d,\"tid\":%d,\"trace_id\":\"%s\",\"span_id\":\"%s\"",
	     ts, (int)(r->start_real_ns / 1000000 % 1000), (int)getpid(), (int)r->tid, id->trace,
	     id->span);
	if (r->has_parent)
		putf(b, ",\"parent_span_id\":\"%s\"", id->parent);
	put(b, ",\"method\":", 10);
	put_json_str(b, r->method, r->method_len);
	put(b, ",\"path\":", 8);
	put_json_str(b, r->path, r->path_len);
	if (r->query_len) {
		put(b, ",\"query\":", 9);
		put_json_str(b, r->query, r->query_len);
	}
	uint64_t cpu = r->cpu_at_end_ns > r->cpu_at_slow_ns ? r->cpu_at_end_ns - r->cpu_at_slow_ns : 0;
	putf(b, ",\"status\":%u,\"duration_ms\":%.1f,\"cpu_ms\":%.1f,\"profiled_after_ms\":%.1f",
	     r->status, (double)(r->end_mono_ns - r->start_mono_ns) / 1e6, (double)cpu / 1e6,
	     (double)(r->slow_mono_ns - r->start_mono_ns) / 1e6);
	putf(b, ",\"cpu_route\":\"%s\",\"samples\":%zu", route_name(r->cpu_route), nsamples);
	if (r->alloc_bytes >= 0)
		putf(b, ",\"alloc_bytes\":%lld", (long long)r->alloc_bytes);
	putf(b, ",\"threads\":%d,\"files\":{\"cpu\":\"%s\"", f->nthreads, f->cpu);
	if (f->heap)
		putf(b, ",\"heap\":\"%s\"", f->heap);
	if (f->threads)
		putf(b, ",\"threads\":\"%s\"", f->threads);
	if (f->threadcreate)
		putf(b, ",\"threadcreate\":\"%s\"", f->threadcreate);
	put(b, "}}\n", 3);
}

/* What the span of this request says about its files. */
static void report_files(rt_req_files_t *out, const set_files_t *f)
{
	if (!out)
		return;
	snprintf(out->cpu, sizeof out->cpu, "%s", f->cpu ? f->cpu : "");
	snprintf(out->heap, sizeof out->heap, "%s", f->heap ? f->heap : "");
	snprintf(out->threads, sizeof out->threads, "%s", f->threads ? f->threads : "");
	out->nthreads = f->nthreads;
}

void rt_writer_slow_request(const rt_req_t *r, const rt_samples_t *s, rt_req_files_t *out)
{
	ids_t id;
	char name[128], path[RT_CFG_PATH_MAX + 160];
	buf_t line = { 0 };

	if (!rate_allows()) {
		drop(&dropped_rate);
		return;
	}
	/* Opening files needs descriptors; near the limit they are the service's. */
	if (rt_fd_headroom() != 0) {
		fault("a profile", errno);
		drop(&dropped_fds);
		return;
	}
	if (ensure_dir(rt_cfg.profile_dir) != 0) {
		fault(NULL, errno);
		drop(&dropped_io);
		atomic_fetch_add(&rt_stat_errors, 1);
		return;
	}
	if (!space_allows()) {
		drop(&dropped_disk);
		return;
	}
	ids_of(r, &id);
	snprintf(name, sizeof name, "cpu-%s-%s-%llu.pb.gz", id.trace, id.span,
		 (unsigned long long)(r->start_real_ns / 1000000000ull));
	snprintf(path, sizeof path, "%s/%s", rt_cfg.profile_dir, name);
	if (write_cpu_profile(r, s, &id, path) != 0) {
		fault("a profile", errno ? errno : EIO);
		drop(&dropped_io);
		atomic_fetch_add(&rt_stat_errors, 1);
		return;
	}
	int faults = 0; /* files of this set not written */
	remember_ids(r->serial, &id);
	set_files_t files = { .cpu = name, .nthreads = -1 };
	char heap_name[128], threads_name[128], create_name[128], path2[RT_CFG_PATH_MAX + 160];
	if (rt_heap_rate() > 0) {
		snprintf(heap_name, sizeof heap_name, "heap-%s-%s-%llu.pb.gz", id.trace, id.span,
			 (unsigned long long)(r->start_real_ns / 1000000000ull));
		snprintf(path, sizeof path, "%s/%s", rt_cfg.profile_dir, heap_name);
		errno = 0;
		if (write_heap_profile(r, &id, path) == 0) {
			files.heap = heap_name;
		} else {
			if (errno) /* else no snapshot (no memory): nothing the directory did */
				fault("a heap profile", errno);
			atomic_fetch_add(&rt_stat_errors, 1);
			faults++;
		}
	}
	if (rt_thread_capture_enabled()) {
		unsigned long long t = (unsigned long long)(r->start_real_ns / 1000000000ull);
		snprintf(threads_name, sizeof threads_name, "threads-%s-%s-%llu.pb.gz", id.trace, id.span, t);
		snprintf(create_name, sizeof create_name, "threadcreate-%s-%s-%llu.pb.gz", id.trace, id.span, t);
		snprintf(path, sizeof path, "%s/%s", rt_cfg.profile_dir, threads_name);
		snprintf(path2, sizeof path2, "%s/%s", rt_cfg.profile_dir, create_name);
		errno = 0;
		int w = write_thread_profiles(r, &id, path, path2, &files.nthreads);
		files.threads = (w & 1) ? threads_name : NULL;
		files.threadcreate = (w & 2) ? create_name : NULL;
		if (w != 3) {
			if (errno) /* else the capture gave up (a thread did not answer) */
				fault("a thread profile", errno);
			atomic_fetch_add(&rt_stat_errors, 1);
			faults++;
		}
	}
	if (files.nthreads < 0)
		files.nthreads = count_threads();
	report_files(out, &files);
	index_line(&line, r, &id, &files, s->n);
	if (line.oom || append_line("index.jsonl", &line) != 0) {
		if (!line.oom)
			fault("index.jsonl", errno);
		atomic_fetch_add(&rt_stat_errors, 1);
		faults++;
	}
	/* A fault is over when a whole set went through: on a nearly full disk the small
	 * CPU profile may fit where the rest does not. */
	if (!faults)
		fault_over();
	free(line.p);
	atomic_fetch_add(&rt_stat_written, 1);
}

/* ---- continuous mode ---- */

static int is_continuous(const char *name)
{
	return strncmp(name, "continuous-", 11) == 0 && strstr(name, ".pb.gz") != NULL;
}

/* The oldest continuous file (names carry the unix time; cpu and heap of one period
 * sort together), into oldest; 0 when there is none. */
static int oldest_continuous(char *oldest, size_t cap)
{
	DIR *d = rt_owned_fd_opendir(rt_cfg.profile_dir);
	struct dirent *e;
	long best = -1;
	oldest[0] = 0;
	if (!d)
		return 0;
	while ((e = readdir(d)) != NULL) {
		if (!is_continuous(e->d_name))
			continue;
		const char *t = strrchr(e->d_name, '-');
		long when = t ? atol(t + 1) : 0;
		if (best < 0 || when < best) {
			best = when;
			snprintf(oldest, cap, "%s", e->d_name);
		}
	}
	rt_owned_fd_closedir(d);
	return oldest[0] != 0;
}

int rt_writer_continuous(rt_profile_t *cpu, rt_profile_t *heap, uint64_t unix_s, int with_pid)
{
	char path[RT_CFG_PATH_MAX + 96], name[256], pid[24] = "";
	int rc = 0;
	if (rt_fd_headroom() != 0) {
		fault("a continuous profile", errno);
		return -1;
	}
	if (ensure_dir(rt_cfg.profile_dir) != 0) {
		fault(NULL, errno);
		return -1;
	}
	if (with_pid) /* a forked worker: "continuous-cpu-<pid>-<unix>", time still last */
		snprintf(pid, sizeof pid, "%d-", (int)getpid());
	snprintf(path, sizeof path, "%s/continuous-cpu-%s%llu.pb.gz", rt_cfg.profile_dir, pid,
		 (unsigned long long)unix_s);
	if (cpu && rt_profile_write_gz(cpu, path) != 0)
		rc = -1;
	snprintf(path, sizeof path, "%s/continuous-heap-%s%llu.pb.gz", rt_cfg.profile_dir, pid,
		 (unsigned long long)unix_s);
	if (heap && rt_profile_write_gz(heap, path) != 0)
		rc = -1;
	if (rc == 0)
		fault_over();
	else
		fault("a continuous profile", errno ? errno : EIO);
	/* A rolling history: the oldest continuous files go first when over the cap. */
	uint64_t cap = rt_cfg.max_disk_mb * 1024 * 1024;
	while (dir_bytes(rt_cfg.profile_dir) > cap && oldest_continuous(name, sizeof name)) {
		snprintf(path, sizeof path, "%s/%s", rt_cfg.profile_dir, name);
		if (unlink(path) != 0)
			break;
	}
	return rc;
}

/* ---- stats ---- */

static pthread_mutex_t stats_mu = PTHREAD_MUTEX_INITIALIZER;

/* The stats line; NULL when out of memory. */
static char *stats_json(void)
{
	uint64_t requests = 0, non_http = 0;
	size_t conns = 0, conn_bytes = rt_conn_tracked(&conns);
	buf_t b = { 0 };
	for (rt_thread_t *t = rt_thread_first(); t; t = t->next) {
		requests += atomic_load(&t->requests);
		non_http += atomic_load(&t->non_http);
	}
	putf(&b, "{\"pid\":%d,\"requests\":%llu,\"slow\":%llu,\"profiles_written\":%llu,"
	     "\"profiles_dropped\":%llu,\"non_http_connections\":%llu,\"errors\":%llu,"
	     "\"spans_exported\":%llu,\"spans_dropped\":%llu",
	     (int)getpid(), (unsigned long long)requests,
	     (unsigned long long)atomic_load(&rt_stat_slow),
	     (unsigned long long)atomic_load(&rt_stat_written),
	     (unsigned long long)atomic_load(&rt_stat_dropped), (unsigned long long)non_http,
	     (unsigned long long)(atomic_load(&rt_stat_errors) + atomic_load(&rt_conn_errors)),
	     (unsigned long long)atomic_load(&rt_stat_spans_exported),
	     (unsigned long long)atomic_load(&rt_stat_spans_dropped));
	putf(&b, ",\"dropped_rate_limit\":%llu,\"dropped_disk_cap\":%llu,\"dropped_fd_limit\":%llu,"
	     "\"dropped_write_failed\":%llu,\"tracked_connections\":%zu,"
	     "\"tracked_connection_bytes\":%zu}\n",
	     (unsigned long long)atomic_load(&dropped_rate),
	     (unsigned long long)atomic_load(&dropped_disk),
	     (unsigned long long)atomic_load(&dropped_fds),
	     (unsigned long long)atomic_load(&dropped_io), conns, conn_bytes);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

/* 0 when otshim-stats-<pid>.json now holds line. stats_mu held. */
static int stats_write(const char *line)
{
	char name[64];
	buf_t b = { (char *)line, strlen(line), 0, 0 };
	snprintf(name, sizeof name, "otshim-stats-%d.json", (int)getpid());
	/* No descriptor reserve here: one descriptor for a moment every 10 s, and the
	 * counts matter most when the service is short of them. */
	if (ensure_dir(rt_cfg.profile_dir) != 0) {
		fault(NULL, errno);
		return -1;
	}
	if (replace_file(name, &b) != 0) {
		fault(name, errno ? errno : EIO);
		return -1;
	}
	return 0;
}

void rt_writer_stats(void)
{
	char *line = stats_json();
	if (!line)
		return;
	pthread_mutex_lock(&stats_mu);
	stats_write(line);
	pthread_mutex_unlock(&stats_mu);
	free(line);
}

void rt_writer_stats_final(void)
{
	char *line = stats_json();
	if (!line)
		return;
	pthread_mutex_lock(&stats_mu);
	if (stats_write(line) != 0) {
		/* The counts must reach someone: stderr, where the fault was reported. */
		line[strcspn(line, "\n")] = 0;
		rt_log(RT_LOG_WARN, "no stats file could be written; the final stats: %s", line);
	}
	pthread_mutex_unlock(&stats_mu);
	free(line);
}

void rt_writer_fork_child(void)
{
	pthread_mutex_init(&stats_mu, NULL);
	pthread_mutex_init(&fault_mu, NULL);
	fault_err = 0;
	atomic_store(&dropped_rate, 0);
	atomic_store(&dropped_disk, 0);
	atomic_store(&dropped_fds, 0);
	atomic_store(&dropped_io, 0);
	rate_window = 0;
	rate_used = 0;
	atomic_store(&rt_stat_slow, 0);
	atomic_store(&rt_stat_written, 0);
	atomic_store(&rt_stat_dropped, 0);
	atomic_store(&rt_stat_errors, 0);
}
