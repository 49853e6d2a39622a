/* export.c: the exporter thread and the span queue (see emit/export.h). */
#include "emit/export.h"

#include <errno.h>
#include <stdio.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/cfg.h"
#include "base/log.h"
#include "base/stats.h"
#include "base/util.h"
#include "emit/otlp_http.h"
#include "emit/profile_export.h"
#include "emit/span.h"
#include "emit/spanq.h"
#include "sample/shim_threads.h"
#include "sample/thread.h"
#include "track/sink.h"

#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS 32000
#define SHUTDOWN_WAIT_MS 3000


static rt_spanq_t queue;
static _Atomic int queue_ready;  /* span export is on and the queue exists */
static _Atomic int thread_wanted; /* spans or profiles are exported */
static _Atomic int running;      /* the thread was started in this process */
static _Atomic int stopping;     /* exit: flush and stop retrying */
static sem_t wake;               /* a batch is full, or stop */
static sem_t flushed;            /* the thread finished its exit flush */

/* ---- the request side ---- */

int rt_export_enabled(void)
{
	return atomic_load_explicit(&queue_ready, memory_order_relaxed);
}

/* Claims a queue cell for a record whose strings take need bytes. The rare record
 * whose strings outgrow the cell brings its own buffer (*long_buf), made before the
 * cell is claimed: a claimed cell must be published. NULL, counted as dropped, when
 * there is no cell or no buffer. */
static rt_span_rec_t *claim(size_t need, char **long_buf, uint64_t *ticket, uint32_t *depth)
{
	*long_buf = need > RT_SPAN_INLINE ? malloc(need) : NULL;
	rt_span_rec_t *rec = need > RT_SPAN_INLINE && !*long_buf ? NULL
				: rt_spanq_claim(&queue, ticket, depth);
	if (!rec) {
		free(*long_buf);
		rt_stat_add(RT_STAT_SPANS_DROPPED, 1);
	}
	return rec;
}

/* The filled cell is the exporter's; a full batch wakes it. */
static void publish(uint64_t ticket, uint32_t depth)
{
	rt_spanq_publish(&queue, ticket);
	if (depth == rt_cfg.otlp.bsp_batch)
		sem_post(&wake);
}

int rt_export_offer(rt_req_t *r)
{
	if (!atomic_load_explicit(&queue_ready, memory_order_acquire))
		return 0;
	if (r->has_parent && !(r->ctx.flags & 1))
		return 0;
	char *long_buf;
	uint64_t ticket;
	uint32_t depth;
	rt_span_rec_t *rec = claim(rt_span_rec_strings_len(r), &long_buf, &ticket, &depth);
	if (!rec)
		return 0;
	rt_span_rec_fill(rec, r, long_buf);
	publish(ticket, depth);
	return 1;
}

int rt_export_offer_call(const rt_call_t *c)
{
	if (!atomic_load_explicit(&queue_ready, memory_order_acquire) || !(c->parent.flags & 1))
		return 0;
	char *long_buf;
	uint64_t ticket;
	uint32_t depth;
	rt_span_rec_t *rec = claim(rt_span_rec_call_strings_len(c), &long_buf, &ticket, &depth);
	if (!rec)
		return 0;
	rt_span_rec_fill_call(rec, c, long_buf);
	publish(ticket, depth);
	return 1;
}

/* A profile was queued: the thread may not be running yet (it starts with the first
 * accepted connection), and continuous mode and the endpoint do not wait for one. */
static void wake_exporter(void)
{
	rt_export_start();
	sem_post(&wake);
}

void rt_export_init(void)
{
	sem_init(&wake, 0, 0);
	sem_init(&flushed, 0, 0);
	rt_profile_export_init(wake_exporter);
	thread_wanted = rt_profile_export_enabled();
	if (!rt_cfg.traces_otlp)
		return;
	if (rt_spanq_init(&queue, rt_cfg.otlp.bsp_queue, sizeof(rt_span_rec_t)) != 0) {
		rt_log(RT_LOG_ERROR, "cannot allocate the span queue; spans are not exported");
		return;
	}
	thread_wanted = 1;
	atomic_store_explicit(&queue_ready, 1, memory_order_release);
	rt_sink_set_wants_spans(1);
}

/* ---- the exporter thread ---- */

static void rec_free(void *p)
{
	rt_span_rec_free(p);
}

static uint64_t now_ms(void)
{
	return rt_mono_ns() / 1000000ull;
}

/* Waits on wake until deadline (monotonic ms), or until stopping. */
static void wait_until(uint64_t deadline_ms)
{
	while (!atomic_load(&stopping)) {
		uint64_t now = now_ms();
		if (now >= deadline_ms)
			return;
		/* sem_timedwait counts on CLOCK_REALTIME; a short step keeps clock jumps harmless. */
		uint64_t step = deadline_ms - now > 200 ? 200 : deadline_ms - now;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += (time_t)(step / 1000);
		ts.tv_nsec += (long)(step % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		if (sem_timedwait(&wake, &ts) == 0)
			return;
	}
}

typedef struct exporter {
	rt_span_resource_t *res;
	rt_otlp_http_t *http;
	rt_span_rec_t **batch;
	rt_span_buf_t buf;
	int failing;           /* the last attempt failed: one warning until it works again */
	uint32_t rejected_status; /* last non-retryable status warned about */
	uint64_t jitter;          /* xorshift state: libc's rand() is the service's */
} exporter_t;

static uint64_t jitter_next(exporter_t *x)
{
	x->jitter ^= x->jitter << 13;
	x->jitter ^= x->jitter >> 7;
	x->jitter ^= x->jitter << 17;
	return x->jitter;
}

static int retryable(int status)
{
	return status == 0 || status == 429 || status == 502 || status == 503 || status == 504;
}

/* Sends one encoded batch of n spans, retrying as the specification says. */
static void send_batch(exporter_t *x, const uint8_t *body, size_t len, size_t n)
{
	uint64_t give_up = now_ms() + rt_cfg.otlp.bsp_export_timeout_ms;
	long backoff = BACKOFF_FIRST_MS, retry_after;
	char err[256];
	for (;;) {
		err[0] = 0;
		int status = rt_otlp_http_post(x->http, body, len, &retry_after, err, sizeof err);
		if (status >= 200 && status < 300) {
			rt_stat_add(RT_STAT_SPANS_EXPORTED, n);
			if (x->failing)
				rt_log(RT_LOG_INFO, "OTLP collector %s answers again", rt_cfg.otlp.traces_url);
			x->failing = 0;
			return;
		}
		if (!retryable(status)) {
			if ((uint32_t)status != x->rejected_status)
				rt_log(RT_LOG_WARN, "OTLP collector %s refused a batch of %zu spans with "
				       "HTTP %d; dropped (not retried)", rt_cfg.otlp.traces_url, n, status);
			x->rejected_status = (uint32_t)status;
			break;
		}
		if (status)
			snprintf(err, sizeof err, "HTTP %d", status);
		if (!x->failing)
			rt_log(RT_LOG_WARN, "OTLP collector %s: %s; retrying with backoff (spans queue "
			       "up to %u, then are dropped and counted)", rt_cfg.otlp.traces_url, err,
			       rt_cfg.otlp.bsp_queue);
		x->failing = 1;
		long wait = retry_after >= 0 ? retry_after * 1000 : backoff;
		/* Jitter (up to a quarter) keeps many processes from retrying in step. */
		wait += (long)(jitter_next(x) % (uint64_t)(wait / 4 + 1));
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
		if (atomic_load(&stopping) || now_ms() + (uint64_t)wait > give_up)
			break;
		wait_until(now_ms() + (uint64_t)wait);
		if (atomic_load(&stopping))
			break;
	}
	rt_stat_add(RT_STAT_SPANS_DROPPED, n);
}

/* Takes up to one batch from the queue and exports it. Returns how many it took. The
 * cells go back to producers once encoded, before the (maybe slow) sending. */
static size_t export_once(exporter_t *x)
{
	size_t n = 0;
	rt_span_rec_t *rec;
	if (!atomic_load(&queue_ready))
		return 0;
	if (!x->batch) { /* out of memory at start: spans can only be counted */
		if (!(rec = rt_spanq_peek(&queue, 0)))
			return 0;
		rt_span_rec_free(rec);
		rt_spanq_release(&queue, 1);
		rt_stat_add(RT_STAT_SPANS_DROPPED, 1);
		return 1;
	}
	while (n < rt_cfg.otlp.bsp_batch && (rec = rt_spanq_peek(&queue, n)) != NULL)
		x->batch[n++] = rec;
	if (!n)
		return 0;
	/* Fast requests carry only monotonic times (a clock read saved on the request
	 * path); the wall-clock offset now is theirs to within any clock step since. */
	struct timespec real;
	clock_gettime(CLOCK_REALTIME, &real);
	uint64_t offset = (uint64_t)real.tv_sec * 1000000000ull + (uint64_t)real.tv_nsec - rt_mono_ns();
	for (size_t i = 0; i < n; i++)
		if (!x->batch[i]->start_real_ns)
			x->batch[i]->start_real_ns = x->batch[i]->start_mono_ns + offset;
	const uint8_t *body;
	size_t len;
	int encoded = x->http && rt_span_encode(x->res, x->batch, n, rt_cfg.profile_dir, &x->buf,
						&body, &len) == 0;
	for (size_t i = 0; i < n; i++)
		rt_span_rec_free(x->batch[i]);
	rt_spanq_release(&queue, n);
	if (encoded)
		send_batch(x, body, len, n);
	else
		rt_stat_add(RT_STAT_SPANS_DROPPED, n);
	return n;
}

static void *exporter_main(void *arg)
{
	(void)arg;
	exporter_t x = { 0 };
	char err[256];
	rt_tls_mark_internal();
	rt_shim_thread_mark();
	pthread_setname_np(pthread_self(), "otshim-export");
	x.jitter = rt_mono_ns() ^ ((uint64_t)getpid() << 32) ^ 1;
	x.res = rt_span_resource_new(&rt_cfg.otlp);
	rt_profile_export_begin(x.res);
	int spans = atomic_load(&queue_ready);
	if (spans) {
		x.batch = malloc(rt_cfg.otlp.bsp_batch * sizeof *x.batch);
		x.http = rt_otlp_http_new(rt_cfg.otlp.traces_url, &rt_cfg.otlp, err, sizeof err);
	}
	if (spans && !x.http) {
		rt_log(RT_LOG_WARN, "span export is off: %s (spans are counted as dropped)", err);
	} else if (spans && (!x.res || !x.batch)) {
		rt_log(RT_LOG_ERROR, "span exporter out of memory; spans are counted as dropped");
		rt_otlp_http_free(x.http);
		x.http = NULL;
	} else if (spans) {
		rt_log(RT_LOG_INFO, "exporting spans to %s every %u ms or %u spans",
		       rt_cfg.otlp.traces_url, rt_cfg.otlp.bsp_delay_ms, rt_cfg.otlp.bsp_batch);
	}
	/* Spans go in batches on their schedule; profiles as soon as they come, each
	 * destination on its own backoff. */
	uint64_t next = spans ? now_ms() + rt_cfg.otlp.bsp_delay_ms : UINT64_MAX;
	while (!atomic_load(&stopping)) {
		uint64_t due = rt_profile_export_due_ms();
		wait_until(due < next ? due : next);
		if (atomic_load(&stopping))
			break;
		rt_profile_export_send();
		if (!spans || (rt_spanq_depth(&queue) < rt_cfg.otlp.bsp_batch && now_ms() < next))
			continue; /* not the spans' turn: a stale wake-up, or one for profiles */
		while (export_once(&x) == rt_cfg.otlp.bsp_batch && !atomic_load(&stopping))
			;
		next = now_ms() + rt_cfg.otlp.bsp_delay_ms;
	}
	/* Exit: what is queued goes out, each batch and profile tried once. */
	while (export_once(&x) > 0)
		;
	rt_profile_export_flush(now_ms() + SHUTDOWN_WAIT_MS - 500);
	sem_post(&flushed);
	return NULL;
}

void rt_export_start(void)
{
	/* The first caller starts it: the worker, continuous mode and the endpoint may
	 * all call at once. */
	if (!thread_wanted || atomic_load(&running) || atomic_exchange(&running, 1))
		return;
	atomic_store(&stopping, 0);
	if (rt_spawn_detached(exporter_main, NULL) != 0) {
		rt_log(RT_LOG_ERROR, "cannot start the exporter thread; spans and profiles are not "
		       "exported");
		atomic_store(&queue_ready, 0);
		thread_wanted = 0;
		rt_sink_set_wants_spans(0);
	}
}

void rt_export_shutdown(void)
{
	if (!atomic_load(&running))
		return;
	atomic_store(&stopping, 1);
	sem_post(&wake);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += SHUTDOWN_WAIT_MS / 1000;
	while (sem_timedwait(&flushed, &ts) != 0 && errno == EINTR)
		;
}

void rt_export_fork_child(void)
{
	if (!thread_wanted)
		return;
	if (atomic_load(&queue_ready))
		rt_spanq_reset(&queue, rec_free);
	rt_profile_export_fork_child();
	sem_init(&wake, 0, 0);
	sem_init(&flushed, 0, 0);
	atomic_store(&running, 0);
	atomic_store(&stopping, 0);
}
