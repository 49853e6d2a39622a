/* srv_demo.c: the demo and test service. A thread-per-connection HTTP/1.1 server,
 * written plainly so that what the shim sees is what any small C server does:
 * keep-alive by default, "Connection: close" and HTTP/1.0 honoured, pipelined
 * requests answered in order, request bodies (Content-Length) read and discarded.
 *
 * Endpoints:
 *   /             fast: "ok\n"
 *   /cpu?ms=N     burns N ms of this thread's CPU time in burn_cpu(); the response
 *                 carries X-Thread-Cpu-Ns (thread CPU the handler used) and X-Wall-Ns
 *   /sleep?ms=N   sleeps N ms (nanosleep), then answers
 *   /big?kb=N     an N KiB body written with several write() calls
 *   /chunked      a Transfer-Encoding: chunked body in several send() calls
 *   anything else 404
 *
 * Options: --port N (0: any free port), --port-file F (the bound port, written once
 * listening), --access-log F ("METHOD TARGET STATUS", one line per answer, flushed).
 *
 * I/O is deliberately mixed: connections alternate read() and recv(); plain answers
 * go out with writev(), /big with write(), /chunked and leftovers with send(). So
 * real traffic exercises every interposer the shim has on both sides.
 * SIGTERM/SIGINT stop accepting and return from main, so atexit handlers run. At the
 * descriptor limit (EMFILE) it waits and accepts again once a connection closed. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

#define HEAD_MAX 65536  /* largest request head we accept */
#define TARGET_MAX 1024

struct req {
	int fd;
	char method[16];
	char target[TARGET_MAX];
	size_t body_len;  /* Content-Length of the request body */
	int head_only;    /* HEAD: answer headers only */
	int http10;       /* HTTP/1.0 request */
	int close_after;  /* close the connection once answered */
};

/* Set by the SIGTERM handler, read by every thread: atomic (lock-free, so safe in a
 * handler), where a plain sig_atomic_t would be a data race between threads. */
static _Atomic int stopping;
static int listen_fd = -1;

/* ---- helpers ---- */

/* The number after "key=" in the query string, clamped to [0, max]; def if absent. */
static long query_in(const char *target, const char *key, long def, long max)
{
	long v = query_num(target, key, def);
	return v < 0 ? 0 : v > max ? max : v;
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* ---- responses ---- */

/* Formats a status line and headers. body_len -1 means chunked, -2 no body at all
 * (204, 304: no framing header). */
static int format_head(char *out, size_t cap, const struct req *r, int status, long long body_len,
		       const char *extra)
{
	const char *reason = status == 200 ? "OK" : status == 404 ? "Not Found" : "Error";
	char framing[64];
	if (body_len == -2)
		framing[0] = 0;
	else if (body_len < 0)
		snprintf(framing, sizeof framing, "Transfer-Encoding: chunked\r\n");
	else
		snprintf(framing, sizeof framing, "Content-Length: %lld\r\n", body_len);
	int n = snprintf(out, cap, "HTTP/1.1 %d %s\r\n%sContent-Type: text/plain\r\n%s%s\r\n", status,
			 reason, framing, extra ? extra : "",
			 r->close_after ? "Connection: close\r\n"
			 : r->http10    ? "Connection: keep-alive\r\n"
					: "");
	return n > 0 && (size_t)n < cap ? n : -1;
}

/* A small answer: head and body in one writev(), finishing a short write with send(). */
static int respond(const struct req *r, int status, const char *extra, const char *body)
{
	char head[512];
	size_t blen = strlen(body);
	int n = format_head(head, sizeof head, r, status, (long long)blen, extra);
	if (n < 0)
		return -1;
	if (r->head_only)
		return send_all(r->fd, head, (size_t)n);
	struct iovec v[2] = { { head, (size_t)n }, { (void *)body, blen } };
	ssize_t w;
	do
		w = writev(r->fd, v, 2);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		return -1;
	size_t done = (size_t)w;
	if (done < (size_t)n && send_all(r->fd, head + done, (size_t)n - done))
		return -1;
	size_t boff = done > (size_t)n ? done - (size_t)n : 0;
	return send_all(r->fd, body + boff, blen - boff);
}

__attribute__((noinline)) static int handle_cpu(const struct req *r)
{
	char extra[128];
	long ms = query_in(r->target, "ms", 100, 60000);
	uint64_t w0 = clock_ns(CLOCK_MONOTONIC), c0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	burn_cpu((uint64_t)ms * 1000000ull);
	uint64_t c1 = clock_ns(CLOCK_THREAD_CPUTIME_ID), w1 = clock_ns(CLOCK_MONOTONIC);
	snprintf(extra, sizeof extra, "X-Thread-Cpu-Ns: %llu\r\nX-Wall-Ns: %llu\r\n",
		 (unsigned long long)(c1 - c0), (unsigned long long)(w1 - w0));
	return respond(r, 200, extra, "burned\n");
}

static int handle_sleep(const struct req *r)
{
	nap_ms(query_in(r->target, "ms", 100, 60000));
	return respond(r, 200, NULL, "slept\n");
}

/* Head first, then the body in 4 KiB write() calls. */
static int handle_big(const struct req *r)
{
	char head[256], chunk[4096];
	long long total = query_in(r->target, "kb", 64, 1 << 20) * 1024LL;
	int n = format_head(head, sizeof head, r, 200, total, NULL);
	if (n < 0 || write_all(r->fd, head, (size_t)n))
		return -1;
	if (r->head_only)
		return 0;
	memset(chunk, 'b', sizeof chunk);
	while (total > 0) {
		size_t k = total < (long long)sizeof chunk ? (size_t)total : sizeof chunk;
		if (write_all(r->fd, chunk, k))
			return -1;
		total -= (long long)k;
	}
	return 0;
}

/* Head, two data chunks and the terminator, each its own send(). */
static int handle_chunked(const struct req *r)
{
	static const char *const chunks[] = { "5\r\nhello\r\n", "7\r\n, world\r\n", "0\r\n\r\n" };
	char head[256];
	int n = format_head(head, sizeof head, r, 200, -1, NULL);
	if (n < 0 || send_all(r->fd, head, (size_t)n))
		return -1;
	if (r->head_only)
		return 0;
	for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++)
		if (send_all(r->fd, chunks[i], strlen(chunks[i])))
			return -1;
	return 0;
}

/* /status?code=N: a bodiless answer with that status; 204 and 304 carry no framing
 * header at all, the others say Content-Length: 0. */
static int handle_status(const struct req *r, int *status)
{
	char head[256];
	*status = (int)query_in(r->target, "code", 204, 599);
	if (*status < 200)
		*status = 204;
	int none = *status == 204 || *status == 304;
	int n = format_head(head, sizeof head, r, *status, none ? -2 : 0, NULL);
	return n < 0 ? -1 : send_all(r->fd, head, (size_t)n);
}

/* ---- held memory, for the heap tests ---- */

/* /hold?site=N&kb=K&min=A&max=B[&sleep_ms=S] allocates K KiB at call site N (1..3),
 * in blocks of A..B bytes (a fixed pseudo-random sequence), and keeps them until
 * /release?site=N. With &free=1 it frees them all before answering instead (they stay
 * in alloc_*, not in inuse_*); with &spread_ms=T the allocations are paced over about
 * T ms (a 1 ms nap whenever they run ahead), so two requests can allocate side by side.
 * The answer says exactly how many bytes were allocated (X-Alloc-Bytes) and when the
 * allocating began and ended (X-Alloc-Window: two CLOCK_MONOTONIC ns values). */
#define SITES 3
struct held {
	struct held *next;
	size_t size;
};
static struct held *held[SITES + 1];
static pthread_mutex_t held_mu = PTHREAD_MUTEX_INITIALIZER;

/* One function per site, so each site is its own frame in the profile. */
__attribute__((noinline)) static void *hold_site_one(size_t n) { return malloc(n); }
__attribute__((noinline)) static void *hold_site_two(size_t n) { return malloc(n); }
__attribute__((noinline)) static void *hold_site_three(size_t n) { return malloc(n); }

static void free_list(struct held *h)
{
	while (h) {
		struct held *next = h->next;
		free(h);
		h = next;
	}
}

/* Allocates want bytes at site in blocks of lo..hi, onto *list, over about spread_ms. */
static long long hold_blocks(long site, long long want, size_t lo, size_t hi, long spread_ms,
			     struct held **list)
{
	uint64_t x = 0x9E3779B97F4A7C15ull ^ (uint64_t)want, t0 = clock_ns(CLOCK_MONOTONIC);
	long long total = 0;
	while (total < want) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		size_t n = lo + (size_t)(x % (hi - lo + 1));
		struct held *h = site == 1 ? hold_site_one(n) : site == 2 ? hold_site_two(n)
									  : hold_site_three(n);
		if (!h)
			break;
		h->size = n;
		h->next = *list;
		*list = h;
		total += (long long)n;
		while (spread_ms && (double)(clock_ns(CLOCK_MONOTONIC) - t0) / 1e6 <
					    (double)spread_ms * (double)total / (double)want)
			nap_ms(1);
	}
	return total;
}

static int handle_hold(const struct req *r)
{
	char extra[160];
	long site = query_in(r->target, "site", 1, SITES);
	long long want = query_in(r->target, "kb", 1024, 1 << 22) * 1024LL;
	size_t lo = (size_t)query_in(r->target, "min", 64, 1 << 30);
	size_t hi = (size_t)query_in(r->target, "max", 4096, 1 << 30);
	struct held *mine = NULL;
	if (lo < sizeof(struct held))
		lo = sizeof(struct held);
	if (hi < lo)
		hi = lo;
	uint64_t t0 = clock_ns(CLOCK_MONOTONIC);
	long long total = hold_blocks(site, want, lo, hi, query_in(r->target, "spread_ms", 0, 60000),
				      &mine);
	uint64_t t1 = clock_ns(CLOCK_MONOTONIC);
	if (query_in(r->target, "free", 0, 1)) {
		free_list(mine);
	} else if (mine) {
		struct held *last = mine;
		while (last->next)
			last = last->next;
		pthread_mutex_lock(&held_mu);
		last->next = held[site];
		held[site] = mine;
		pthread_mutex_unlock(&held_mu);
	}
	long ms = query_in(r->target, "sleep_ms", 0, 60000);
	if (ms)
		nap_ms(ms);
	snprintf(extra, sizeof extra, "X-Alloc-Bytes: %lld\r\nX-Alloc-Window: %llu %llu\r\n", total,
		 (unsigned long long)t0, (unsigned long long)t1);
	return respond(r, 200, extra, "held\n");
}

/* /churn?n=N: N allocate/free cycles of 16 B-4 KiB blocks through a window of 64 live
 * blocks, all freed before answering. */
__attribute__((noinline)) static void *churn_alloc(size_t n) { return malloc(n); }

static int handle_churn(const struct req *r)
{
	long n = query_in(r->target, "n", 1000000, 1L << 40);
	void *window[64] = { 0 };
	uint64_t x = 88172645463325252ull;
	for (long i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		free(window[i & 63]);
		window[i & 63] = churn_alloc(16 + (size_t)(x % 4081));
		if (window[i & 63])
			((volatile char *)window[i & 63])[0] = 1;
	}
	for (int i = 0; i < 64; i++)
		free(window[i]);
	return respond(r, 200, NULL, "churned\n");
}

static int handle_release(const struct req *r)
{
	long site = query_in(r->target, "site", 1, SITES);
	pthread_mutex_lock(&held_mu);
	struct held *h = held[site];
	held[site] = NULL;
	pthread_mutex_unlock(&held_mu);
	free_list(h);
	return respond(r, 200, NULL, "released\n");
}

/* ---- threads, for the thread-profile tests ---- */

/* /spawn?n=N&ms=M starts N detached threads named "sleepy" that sleep M ms in
 * sleepy_thread (in nanosleep); with &how=read they wait instead in read(2) on a pipe
 * whose writer is closed after M ms (a call SA_RESTART restarts, so a thread-stack
 * capture signals them: their whole stacks show); /blocked?ms=M one named
 * "blocked-all" that first blocks every signal, then waits so, in read(2);
 * /cycles?n=N creates and joins N threads that return at once, then N/100 each of
 * detached threads, threads ending in pthread_exit and threads cancelled. */
/* A pipe whose writer a helper thread closes after ms: readers wait until then. */
struct gate {
	int fd[2];
	long ms;
	_Atomic int readers;
};

static void *gate_closer(void *arg)
{
	struct gate *g = arg;
	nap_ms(g->ms);
	close(g->fd[1]);
	return NULL;
}

static struct gate *gate_open(long ms, int readers)
{
	pthread_t t;
	pthread_attr_t a;
	struct gate *g = calloc(1, sizeof *g);
	if (!g || pipe2(g->fd, O_CLOEXEC) != 0) {
		free(g);
		return NULL;
	}
	g->ms = ms;
	g->readers = readers;
	/* (not through start_detached: its threads are the ones threadcreate tests count) */
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	int rc = pthread_create(&t, &a, gate_closer, g);
	pthread_attr_destroy(&a);
	if (rc != 0) {
		close(g->fd[0]);
		close(g->fd[1]);
		free(g);
		return NULL;
	}
	return g;
}

/* Waits for the gate to close; the last reader frees it. */
static void gate_wait(struct gate *g)
{
	char c;
	while (read(g->fd[0], &c, 1) != 0 && errno == EINTR)
		;
	if (--g->readers == 0) {
		close(g->fd[0]);
		free(g);
	}
}

/* arg: a gate to wait for, or (ms << 1 | 1) to sleep (a gate's address is even). */
__attribute__((noinline)) static void *sleepy_thread(void *arg)
{
	uintptr_t v = (uintptr_t)arg;
	pthread_setname_np(pthread_self(), "sleepy");
	if (v & 1)
		nap_ms((long)(v >> 1));
	else
		gate_wait(arg);
	return NULL;
}

__attribute__((noinline)) static void *blocked_thread(void *arg)
{
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, NULL);
	pthread_setname_np(pthread_self(), "blocked-all");
	gate_wait(arg);
	return NULL;
}

static void *nothing_thread(void *arg) { return arg; }

static void *exiting_thread(void *arg) { pthread_exit(arg); }

static void *cancelled_thread(void *arg)
{
	for (;;) {
#ifdef __SANITIZE_THREAD__
		/* TSan's pause() leaves its ignores on when cancelled, and then fails the
		 * program ("thread finished with ignores enabled"), shim or not. */
		pthread_testcancel();
		sched_yield();
#else
		pause(); /* a cancellation point: pthread_cancel ends it here */
#endif
	}
	return arg;
}

static int start_detached(void *(*fn)(void *), void *arg)
{
	pthread_t t;
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	int rc = pthread_create(&t, &a, fn, arg);
	pthread_attr_destroy(&a);
	return rc;
}

static int handle_spawn(const struct req *r)
{
	long n = query_in(r->target, "n", 50, 10000), ms = query_in(r->target, "ms", 3000, 600000);
	long started = 0;
	struct gate *g = NULL;
	if (strstr(r->target, "how=read") && !(g = gate_open(ms, (int)n)))
		return respond(r, 500, NULL, "no gate\n");
	for (long i = 0; i < n; i++)
		started += start_detached(sleepy_thread, g ? (void *)g : (void *)(uintptr_t)(ms << 1 | 1)) == 0;
	if (g && started < n) /* the gate waits for readers that never came */
		g->readers -= (int)(n - started);
	char extra[64];
	snprintf(extra, sizeof extra, "X-Started: %ld\r\n", started);
	return respond(r, 200, extra, "spawned\n");
}

static int handle_blocked(const struct req *r)
{
	long ms = query_in(r->target, "ms", 3000, 600000);
	struct gate *g = gate_open(ms, 1);
	int rc = g ? start_detached(blocked_thread, g) : -1;
	if (rc == 0)
		usleep(20000); /* let it block its signals before anyone signals it */
	return respond(r, rc == 0 ? 200 : 500, NULL, rc == 0 ? "blocked\n" : "failed\n");
}

static int handle_cycles(const struct req *r)
{
	long n = query_in(r->target, "n", 1000, 10000000), failed = 0;
	for (long i = 0; i < n; i++) {
		pthread_t t;
		if (pthread_create(&t, NULL, nothing_thread, NULL) != 0 || pthread_join(t, NULL) != 0)
			failed++;
	}
	for (long i = 0; i < n / 100; i++) {
		pthread_t t;
		failed += start_detached(nothing_thread, NULL) != 0;
		if (pthread_create(&t, NULL, exiting_thread, NULL) != 0 || pthread_join(t, NULL) != 0)
			failed++;
		void *res = NULL;
		if (pthread_create(&t, NULL, cancelled_thread, NULL) != 0 || pthread_cancel(t) != 0 ||
		    pthread_join(t, &res) != 0 || res != PTHREAD_CANCELED)
			failed++;
	}
	usleep(100000); /* the detached ones finish */
	char extra[64];
	snprintf(extra, sizeof extra, "X-Failed: %ld\r\n", failed);
	return respond(r, 200, extra, "cycled\n");
}

/* Answers one request and logs it. Returns -1 if the connection broke. */
__attribute__((noinline)) static int serve(const struct req *r)
{
	int status = 200, rc;
	if (path_is(r->target, "/cpu"))
		rc = handle_cpu(r);
	else if (path_is(r->target, "/sleep"))
		rc = handle_sleep(r);
	else if (path_is(r->target, "/big"))
		rc = handle_big(r);
	else if (path_is(r->target, "/chunked"))
		rc = handle_chunked(r);
	else if (path_is(r->target, "/hold"))
		rc = handle_hold(r);
	else if (path_is(r->target, "/spawn"))
		rc = handle_spawn(r);
	else if (path_is(r->target, "/blocked"))
		rc = handle_blocked(r);
	else if (path_is(r->target, "/cycles"))
		rc = handle_cycles(r);
	else if (path_is(r->target, "/churn"))
		rc = handle_churn(r);
	else if (path_is(r->target, "/release"))
		rc = handle_release(r);
	else if (path_is(r->target, "/status"))
		rc = handle_status(r, &status);
	else if (path_is(r->target, "/"))
		rc = respond(r, 200, NULL, "ok\n");
	else {
		status = 404;
		rc = respond(r, 404, NULL, "not found\n");
	}
	log_line("%s %s %d\n", r->method, r->target, status);
	return rc;
}

/* ---- request parsing ---- */

/* Does the comma-separated header value [v, end) contain token tok? */
static int has_token(const char *v, const char *end, const char *tok)
{
	size_t tl = strlen(tok);
	while (v < end) {
		while (v < end && (*v == ' ' || *v == '\t' || *v == ','))
			v++;
		const char *e = v;
		while (e < end && *e != ',' && *e != ' ' && *e != '\t' && *e != '\r')
			e++;
		if ((size_t)(e - v) == tl && strncasecmp(v, tok, tl) == 0)
			return 1;
		v = e;
	}
	return 0;
}

/* Parses a complete request head (NUL-terminated, ends with the blank line).
 * Returns 0, or -1 if it is not an HTTP/1.x request we can answer. */
static int parse_head(const char *head, struct req *r)
{
	char version[16];
	const char *line_end = strstr(head, "\r\n");
	if (!line_end || line_end - head >= TARGET_MAX + 32 ||
	    sscanf(head, "%15s %1023s %15s", r->method, r->target, version) != 3 ||
	    strncmp(version, "HTTP/1.", 7) != 0)
		return -1;
	r->http10 = strcmp(version, "HTTP/1.0") == 0;
	r->close_after = r->http10;
	r->head_only = strcmp(r->method, "HEAD") == 0;
	r->body_len = 0;
	for (const char *l = line_end + 2; *l && strncmp(l, "\r\n", 2) != 0;) {
		const char *e = strstr(l, "\r\n");
		if (!e)
			break;
		if (strncasecmp(l, "Content-Length:", 15) == 0)
			r->body_len = (size_t)strtoull(l + 15, NULL, 10);
		else if (strncasecmp(l, "Connection:", 11) == 0) {
			if (has_token(l + 11, e, "close"))
				r->close_after = 1;
			else if (has_token(l + 11, e, "keep-alive"))
				r->close_after = 0;
		}
		l = e + 2;
	}
	return 0;
}

/* ---- connections ---- */

struct conn {
	int fd;
	int use_recv; /* read with recv() instead of read() */
	char *buf;    /* HEAD_MAX + 1 bytes */
	size_t have;  /* bytes buffered, not yet consumed */
};

static ssize_t conn_read(struct conn *c, char *p, size_t n)
{
	ssize_t got;
	do
		got = c->use_recv ? recv(c->fd, p, n, 0) : read(c->fd, p, n);
	while (got < 0 && errno == EINTR);
	return got;
}

/* Reads until the buffer holds a whole request head; returns its length incl. the
 * blank line, or 0 on EOF/error/oversized head. */
static size_t conn_read_head(struct conn *c)
{
	for (;;) {
		c->buf[c->have] = 0;
		char *end = strstr(c->buf, "\r\n\r\n");
		if (end)
			return (size_t)(end - c->buf) + 4;
		if (c->have >= HEAD_MAX)
			return 0;
		ssize_t n = conn_read(c, c->buf + c->have, HEAD_MAX - c->have);
		if (n <= 0)
			return 0;
		c->have += (size_t)n;
	}
}

/* Drops the request head and body_len body bytes: first from the buffer, the rest
 * straight from the socket. Returns -1 if the peer went away first. */
static int conn_consume(struct conn *c, size_t head_len, size_t body_len)
{
	size_t in_buf = c->have - head_len;
	size_t take = body_len < in_buf ? body_len : in_buf;
	memmove(c->buf, c->buf + head_len + take, in_buf - take);
	c->have = in_buf - take;
	body_len -= take;
	while (body_len > 0) { /* the buffer is empty here: use it as scratch */
		ssize_t n = conn_read(c, c->buf, body_len < HEAD_MAX ? body_len : HEAD_MAX);
		if (n <= 0)
			return -1;
		body_len -= (size_t)n;
	}
	return 0;
}

static void *conn_main(void *arg)
{
	struct conn c = { .fd = (int)(intptr_t)arg, .have = 0 };
	c.use_recv = c.fd & 1; /* alternate read() and recv() across connections */
	c.buf = malloc(HEAD_MAX + 1);
	while (c.buf && !stopping) {
		struct req r = { .fd = c.fd };
		size_t head_len = conn_read_head(&c);
		if (head_len == 0)
			break;
		char saved = c.buf[head_len];
		c.buf[head_len] = 0;
		int bad = parse_head(c.buf, &r);
		c.buf[head_len] = saved;
		/* Not HTTP/1.x: a real server would say 400; closing is enough here. */
		if (bad || conn_consume(&c, head_len, r.body_len) != 0)
			break;
		if (serve(&r) != 0 || r.close_after)
			break;
	}
	free(c.buf);
	close(c.fd);
	return NULL;
}

/* ---- main ---- */

static void on_stop(int sig)
{
	(void)sig;
	stopping = 1;
	if (listen_fd >= 0)
		shutdown(listen_fd, SHUT_RDWR); /* async-signal-safe; wakes accept() */
}

static void usage(FILE *to)
{
	fputs("usage: srv_demo [--port N] [--port-file FILE] [--access-log FILE]\n", to);
}

int main(int argc, char **argv)
{
	int port = 0;
	const char *port_file = NULL, *log_path = NULL;
	for (int i = 1; i < argc; i++) {
		const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0) {
			usage(stdout);
			return 0;
		}
		if (!val || (strcmp(opt, "--port") && strcmp(opt, "--port-file") && strcmp(opt, "--access-log"))) {
			usage(stderr);
			return 2;
		}
		if (strcmp(opt, "--port") == 0)
			port = atoi(val);
		else if (strcmp(opt, "--port-file") == 0)
			port_file = val;
		else
			log_path = val;
		i++;
	}
	if (log_path && !(access_log = fopen(log_path, "a"))) {
		perror(log_path);
		return 1;
	}

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop; /* no SA_RESTART: accept() returns EINTR */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	listen_fd = listen_loopback(port, SOCK_CLOEXEC, 512, &port);
	if (listen_fd < 0) {
		perror("srv_demo: listen");
		return 1;
	}
	printf("listening on %d\n", port);
	fflush(stdout);
	if (port_file && write_port_file(port_file, port) != 0) {
		perror(port_file);
		return 1;
	}

	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	while (!stopping) {
		int c = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE) {
				/* Out of descriptors: wait for a connection to close, as real
				 * servers do (the pending ones wait in the backlog). */
				struct timespec ts = { 0, 10000000L };
				nanosleep(&ts, NULL);
				continue;
			}
			break;
		}
		pthread_t th;
		if (pthread_create(&th, &at, conn_main, (void *)(intptr_t)c) != 0)
			close(c);
	}
	pthread_attr_destroy(&at);
	close(listen_fd);
	/* Connection threads may still be mid-request; exit() runs atexit handlers
	 * regardless, which is what the shim's exit-time stats rely on. Keep the log
	 * open: a thread may still be writing to it. */
	return 0;
}
