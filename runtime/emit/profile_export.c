/* profile_export.c: the profiles' queue and their two destinations (see
 * emit/profile_export.h). */
#include "emit/profile_export.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cfg.h"
#include "base/clock.h"
#include "base/hex.h"
#include "base/log.h"
#include "base/stats.h"
#include "base/util.h"
#include "emit/otlp_http.h"
#include "emit/otlp_profile.h"
#include "sample/thread_capture.h"

#define QUEUE_MAX 64
#define QUEUE_BYTES (32u << 20)
#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS 32000
#define SEND_BURST 16 /* profiles a destination sends in a row before spans get a turn */
#define DEVELOPMENT_VERSION_HEADER "OTLP-Profiles-Development-Version=1"

enum { TO_OTLP = 1, TO_PYROSCOPE = 2 };

typedef struct item {
	uint8_t *gz;
	size_t len;
	char kind[16], source[16];
	uint8_t trace_id[16], span_id[8];
	int has_ids;
	int32_t tid;
	char thread_name[16];
	uint64_t start_real_ns, end_real_ns;
	unsigned pending;             /* destinations still to deliver it to */
} item_t;

/* Producers append; only the exporter thread removes, so an item it is sending stays. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static item_t *queue[QUEUE_MAX];
static size_t queued, queued_bytes;

static unsigned wanted;           /* TO_OTLP | TO_PYROSCOPE as configured */
static void (*wake_exporter)(void);

/* ---- the producers' side ---- */

void rt_profile_export_init(void (*wake)(void))
{
	wanted = (rt_cfg.profiles_otlp ? TO_OTLP : 0) | (rt_cfg.pyroscope_url[0] ? TO_PYROSCOPE : 0);
	wake_exporter = wake;
}

int rt_profile_export_enabled(void)
{
	return wanted != 0;
}

static unsigned count_bits(unsigned v)
{
	return (v & 1) + (v >> 1 & 1);
}

void rt_profile_export_offer(const uint8_t *gz, size_t len, const rt_profile_about_t *about)
{
	if (!wanted)
		return;
	item_t *it = calloc(1, sizeof *it);
	uint8_t *copy = it ? malloc(len) : NULL;
	if (!copy) {
		free(it);
		rt_stat_add(RT_STAT_PROFILES_EXPORT_DROPPED, count_bits(wanted));
		return;
	}
	memcpy(copy, gz, len);
	it->gz = copy;
	it->len = len;
	snprintf(it->kind, sizeof it->kind, "%s", about->kind);
	snprintf(it->source, sizeof it->source, "%s", about->source);
	if (about->trace_id && about->span_id) {
		memcpy(it->trace_id, about->trace_id, 16);
		memcpy(it->span_id, about->span_id, 8);
		it->has_ids = 1;
	}
	it->tid = about->tid;
	if (about->thread_name)
		snprintf(it->thread_name, sizeof it->thread_name, "%s", about->thread_name);
	else if (it->tid)
		rt_thread_read_name(it->tid, it->thread_name);
	it->start_real_ns = about->start_real_ns;
	it->end_real_ns = about->end_real_ns;
	it->pending = wanted;
	pthread_mutex_lock(&lock);
	int room = queued < QUEUE_MAX && queued_bytes + len <= QUEUE_BYTES;
	if (room) {
		queue[queued++] = it;
		queued_bytes += len;
	}
	pthread_mutex_unlock(&lock);
	if (!room) {
		rt_stat_add(RT_STAT_PROFILES_EXPORT_DROPPED, count_bits(wanted));
		free(it->gz);
		free(it);
		return;
	}
	if (wake_exporter)
		wake_exporter();
}

int rt_profile_save(rt_profile_t *p, const char *path, const rt_profile_about_t *about)
{
	uint8_t *gz;
	size_t len;
	if (rt_profile_encode_gz(p, &gz, &len) != 0)
		return -1;
	int rc = rt_profile_write_bytes(gz, len, path);
	if (rc == 0)
		rt_profile_export_offer(gz, len, about);
	free(gz);
	return rc;
}

/* ---- the exporter thread's side ---- */

typedef struct dest {
	unsigned bit;
	const char *what;             /* for messages */
	const char *url;
	rt_otlp_http_t *http;
	int failing;                  /* in an outage: warned once, backing off */
	int rejected_status;          /* last non-retryable status warned about */
	long backoff_ms;
	uint64_t next_try_ms;
	uint64_t jitter;
} dest_t;

static dest_t dests[2] = {
	{ .bit = TO_OTLP, .what = "OTLP profiles collector" },
	{ .bit = TO_PYROSCOPE, .what = "Pyroscope" },
};
static const rt_span_resource_t *resource;

static uint64_t now_ms(void)
{
	return rt_mono_ns() / 1000000ull;
}

void rt_profile_export_begin(const rt_span_resource_t *res)
{
	char err[256], otlp_headers[RT_CFG_KV_MAX + 64];
	/* The schema we speak is the first development version of OTLP profiles (it
	 * predates their numbering): we say so, as a client may, and version-aware
	 * receivers (the Collector's) accept it. */
	snprintf(otlp_headers, sizeof otlp_headers, "%s%s" DEVELOPMENT_VERSION_HEADER,
		 rt_cfg.otlp.profiles_headers, rt_cfg.otlp.profiles_headers[0] ? "," : "");
	resource = res;
	dests[0].url = rt_cfg.otlp.profiles_url;
	dests[1].url = rt_cfg.pyroscope_url;
	for (size_t i = 0; i < 2; i++) {
		dest_t *d = &dests[i];
		d->backoff_ms = BACKOFF_FIRST_MS;
		d->jitter = rt_mono_ns() ^ (uint64_t)(i + 1) << 40;
		if (!(wanted & d->bit))
			continue;
		d->http = d->bit == TO_OTLP
				  ? rt_otlp_http_new_with(d->url, &rt_cfg.otlp, otlp_headers,
							  "application/x-protobuf", rt_cfg.otlp.gzip,
							  err, sizeof err)
				  : rt_otlp_http_new_with(d->url, &rt_cfg.otlp, rt_cfg.pyroscope_headers,
							  "application/octet-stream", 0, err, sizeof err);
		if (!d->http || !res)
			rt_log(RT_LOG_WARN, "profiles are not sent to the %s at %s: %s (they are counted "
			       "as dropped)", d->what, d->url, d->http ? "out of memory" : err);
		else
			rt_log(RT_LOG_INFO, "sending profiles to the %s at %s", d->what, d->url);
	}
}

/* The oldest queued profile d has not got, or NULL. */
static item_t *oldest_for(const dest_t *d)
{
	item_t *found = NULL;
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < queued && !found; i++)
		if (queue[i]->pending & d->bit)
			found = queue[i];
	pthread_mutex_unlock(&lock);
	return found;
}

/* d is done with it (delivered or given up); a profile every destination is done with
 * leaves the queue. */
static void done_with(item_t *it, const dest_t *d)
{
	int gone = 0;
	pthread_mutex_lock(&lock);
	it->pending &= ~d->bit;
	if (!it->pending) {
		size_t i = 0;
		while (i < queued && queue[i] != it)
			i++;
		if (i < queued) {
			memmove(&queue[i], &queue[i + 1], (queued - i - 1) * sizeof queue[0]);
			queued--;
			queued_bytes -= it->len;
			gone = 1;
		}
	}
	pthread_mutex_unlock(&lock);
	if (gone) {
		free(it->gz);
		free(it);
	}
}

uint64_t rt_profile_export_due_ms(void)
{
	uint64_t due = UINT64_MAX;
	for (size_t i = 0; i < 2; i++)
		if ((wanted & dests[i].bit) && oldest_for(&dests[i]) && dests[i].next_try_ms < due)
			due = dests[i].next_try_ms;
	return due;
}

/* Pyroscope label values may not hold the name syntax's own characters. */
static void label_value(char *out, size_t cap, const char *s)
{
	size_t o = 0;
	for (; *s && o + 1 < cap; s++)
		out[o++] = strchr("{},=\"", *s) ? '_' : *s;
	out[o] = 0;
}

/* Appends s to out percent-encoded (all but RFC 3986's unreserved characters). */
static size_t url_encode(char *out, size_t cap, size_t o, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; *s && o + 4 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("-._~", c))
			out[o++] = (char)c;
		else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = 0;
	return o;
}

/* Pyroscope's ingest URL for it: name=<service>{service_name=...,...}&from&until. */
static void pyroscope_url(const item_t *it, char *out, size_t cap)
{
	char svc[256], name[768], ids[128] = "", trace[33], span[17];
	label_value(svc, sizeof svc, rt_span_resource_service(resource));
	if (it->has_ids) {
		rt_hex_encode(it->trace_id, 16, trace);
		rt_hex_encode(it->span_id, 8, span);
		snprintf(ids, sizeof ids, ",trace_id=%s,span_id=%s", trace, span);
	}
	snprintf(name, sizeof name, "%s{service_name=%s,otshim_kind=%s,otshim_source=%s%s}", svc,
		 svc, it->kind, it->source, ids);
	const char *base = rt_cfg.pyroscope_url;
	size_t n = strlen(base);
	while (n && base[n - 1] == '/')
		n--;
	int has_ingest = n >= 7 && strncmp(base + n - 7, "/ingest", 7) == 0;
	size_t o = (size_t)snprintf(out, cap, "%.*s%s?name=", (int)n, base, has_ingest ? "" : "/ingest");
	if (o >= cap)
		o = cap - 1;
	o = url_encode(out, cap, o, name);
	uint64_t from = it->start_real_ns / 1000000000ull, until = it->end_real_ns / 1000000000ull;
	if (until <= from)
		until = from + 1;
	snprintf(out + o, cap - o, "&from=%llu&until=%llu&format=pprof&spyName=otshim",
		 (unsigned long long)from, (unsigned long long)until);
}

/* One attempt to give it to d: the HTTP status, 0 for no answer, -1 when it cannot be
 * encoded (then never sendable). */
static int deliver(dest_t *d, const item_t *it, long *retry_after, char *err, size_t errcap)
{
	*retry_after = -1;
	if (d->bit == TO_PYROSCOPE) {
		char url[RT_CFG_URL_MAX + 1024];
		pyroscope_url(it, url, sizeof url);
		rt_otlp_http_set_url(d->http, url);
		return rt_otlp_http_post(d->http, it->gz, it->len, retry_after, err, errcap);
	}
	const uint8_t *res, *scope;
	size_t res_len, scope_len, len;
	uint8_t *body;
	rt_otlp_profile_about_t about = { it->kind, it->source, it->tid, it->thread_name };
	rt_span_resource_packed(resource, &res, &res_len, &scope, &scope_len);
	if (rt_otlp_profile_encode(it->gz, it->len, &about, res, res_len, scope, scope_len, &body,
				   &len) != 0)
		return -1;
	int status = rt_otlp_http_post(d->http, body, len, retry_after, err, errcap);
	free(body);
	return status;
}

static int retryable(int status)
{
	return status == 0 || status == 429 || status == 502 || status == 503 || status == 504;
}

/* Tries d's oldest pending profile once. Returns 1 when it went (or was given up on
 * for good), 0 when d must wait (no answer, or asked to retry). */
static int try_one(dest_t *d, item_t *it, int backoff)
{
	char err[256] = "";
	long retry_after;
	if (!d->http || !resource) { /* this destination cannot work in this process */
		rt_stat_add(RT_STAT_PROFILES_EXPORT_DROPPED, 1);
		done_with(it, d);
		return 1;
	}
	int status = deliver(d, it, &retry_after, err, sizeof err);
	if (status >= 200 && status < 300) {
		rt_stat_add(RT_STAT_PROFILES_EXPORTED, 1);
		if (d->failing)
			rt_log(RT_LOG_INFO, "%s %s answers again", d->what, d->url);
		d->failing = 0;
		d->backoff_ms = BACKOFF_FIRST_MS;
		done_with(it, d);
		return 1;
	}
	if (status < 0 || !retryable(status)) {
		if (status != d->rejected_status)
			rt_log(RT_LOG_WARN, status < 0 ? "a %s profile could not be encoded for the %s; "
			       "dropped" : "the %s profile was refused by the %s at %s with HTTP %d; "
			       "dropped (not retried)", it->kind, d->what, d->url, status);
		d->rejected_status = status;
		rt_stat_add(RT_STAT_PROFILES_EXPORT_DROPPED, 1);
		done_with(it, d);
		return 1;
	}
	if (status)
		snprintf(err, sizeof err, "HTTP %d", status);
	if (!d->failing)
		rt_log(RT_LOG_WARN, "%s %s: %s; retrying with backoff (profiles queue up to %d, then "
		       "are dropped and counted)", d->what, d->url, err, QUEUE_MAX);
	d->failing = 1;
	if (backoff) {
		long wait = retry_after >= 0 ? retry_after * 1000 : d->backoff_ms;
		d->jitter ^= d->jitter << 13;
		d->jitter ^= d->jitter >> 7;
		d->jitter ^= d->jitter << 17;
		wait += (long)(d->jitter % (uint64_t)(wait / 4 + 1));
		d->backoff_ms = d->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : d->backoff_ms * 2;
		d->next_try_ms = now_ms() + (uint64_t)wait;
	}
	return 0;
}

void rt_profile_export_send(void)
{
	for (size_t i = 0; i < 2; i++) {
		dest_t *d = &dests[i];
		item_t *it;
		if (!(wanted & d->bit))
			continue;
		for (int n = 0; n < SEND_BURST && now_ms() >= d->next_try_ms; n++)
			if (!(it = oldest_for(d)) || !try_one(d, it, 1))
				break;
	}
}

void rt_profile_export_flush(uint64_t deadline_ms)
{
	for (size_t i = 0; i < 2; i++) {
		dest_t *d = &dests[i];
		item_t *it;
		if (!(wanted & d->bit))
			continue;
		/* Once each, and a destination that does not answer gets no more tries. */
		while (now_ms() < deadline_ms && (it = oldest_for(d)) != NULL)
			if (!try_one(d, it, 0))
				break;
	}
}

void rt_profile_export_fork_child(void)
{
	pthread_mutex_init(&lock, NULL);
	for (size_t i = 0; i < queued; i++) {
		free(queue[i]->gz);
		free(queue[i]);
	}
	queued = queued_bytes = 0;
	for (size_t i = 0; i < 2; i++) {
		dests[i].http = NULL; /* the parent's; made again when the thread starts */
		dests[i].failing = 0;
		dests[i].next_try_ms = 0;
	}
}
