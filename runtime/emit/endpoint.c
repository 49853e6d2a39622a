/* endpoint.c: the /debug/pprof endpoint (see emit/endpoint.h). One request per connection
 * (Connection: close), read with a 5 s timeout and an 8 KiB bound; anything that is
 * not "GET <path> HTTP/1.x" gets 400. Each answer is built on this thread, so a slow
 * capture delays only the endpoint, never the service or the worker. ?debug=N picks
 * Go's text forms, which rt_pprof_text writes. */
#include "emit/endpoint.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "base/cfg.h"
#include "base/clock.h"
#include "base/libc.h"
#include "base/log.h"
#include "base/owned_fds.h"
#include "base/util.h"
#include "emit/profile_export.h"
#include "profile/cpu_profile.h"
#include "profile/heap_profile.h"
#include "profile/pprof_text.h"
#include "profile/thread_profile.h"
#include "profile/wall_process.h"
#include "sample/heap_sampler.h"
#include "sample/process_cpu.h"
#include "sample/shim_threads.h"
#include "sample/thread.h"
#include "sample/thread_capture.h"

#define REQUEST_MAX 8192

static int listen_fd = -1;

/* ---- answers ---- */

static void answer(int fd, int status, const char *type, const void *body, size_t len)
{
	char head[256];
	const char *reason = status == 200 ? "OK" : status == 400 ? "Bad Request"
			     : status == 404 ? "Not Found" : status == 429 ? "Too Many Requests"
			     : status == 503 ? "Service Unavailable" : "Internal Server Error";
	int n = snprintf(head, sizeof head,
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n",
			 status, reason, type, len);
	if (rt_write_all(fd, head, (size_t)n) == 0 && len)
		rt_write_all(fd, body, len);
}

static void answer_text(int fd, int status, const char *text)
{
	answer(fd, status, "text/plain; charset=utf-8", text, strlen(text));
}

/* Answers with p, which is also exported (when on) as a profile of that kind covering
 * the last seconds (0 for a snapshot). */
static void answer_profile(int fd, rt_profile_t *p, const char *kind, long seconds)
{
	uint8_t *out;
	size_t len;
	if (!p || rt_profile_encode_gz(p, &out, &len) != 0) {
		rt_profile_free(p);
		answer_text(fd, 500, "could not build the profile\n");
		return;
	}
	rt_profile_free(p);
	answer(fd, 200, "application/octet-stream", out, len);
	uint64_t now = rt_real_ns();
	rt_profile_about_t about = { .kind = kind, .source = "endpoint",
				     .start_real_ns = now - (uint64_t)seconds * 1000000000ull,
				     .end_real_ns = now };
	rt_profile_export_offer(out, len, &about);
	free(out);
}

/* Go's index links the text form of each profile (?debug=1) and the full dump. */
static const char index_html[] =
	"<html><head><title>/debug/pprof/</title></head><body>\n"
	"<p>otshim: profiles of this process (pid %d)</p>\n"
	"<p>Set debug=1 as a query parameter to export in legacy text format</p>\n"
	"<table>\n"
	"<tr><td><a href=\"allocs?debug=1\">allocs</a></td><td>sampled allocations, all "
	"since start (alloc_space)</td></tr>\n"
	"<tr><td><a href=\"cmdline\">cmdline</a></td><td>the command line</td></tr>\n"
	"<tr><td><a href=\"goroutine?debug=1\">goroutine</a></td><td>alias of threads, in "
	"Go's words</td></tr>\n"
	"<tr><td><a href=\"heap?debug=1\">heap</a></td><td>sampled live memory "
	"(inuse_space)</td></tr>\n"
	"<tr><td><a href=\"profile\">profile</a></td><td>CPU profile of every thread, "
	"?seconds=N (default 30)</td></tr>\n"
	"<tr><td><a href=\"threadcreate?debug=1\">threadcreate</a></td><td>stacks that "
	"created the live threads</td></tr>\n"
	"<tr><td><a href=\"threads?debug=1\">threads</a></td><td>every thread's stack "
	"now</td></tr>\n"
	"<tr><td><a href=\"wall\">wall</a></td><td>wall-clock profile of every thread, on and "
	"off CPU, ?seconds=N (default 30)</td></tr>\n"
	"</table>\n"
	"<p><a href=\"goroutine?debug=2\">full goroutine stack dump</a> (every thread, by "
	"name)</p>\n"
	"</body></html>\n";

/* ---- text forms ---- */

/* The value of ?name=N as Go's strconv.Atoi(r.FormValue(name)) reads it: the first
 * occurrence; absent, empty, not a number or out of range is 0. */
static long query_int(const char *query, const char *name)
{
	size_t n = strlen(name);
	const char *p = query ? query + 1 : NULL;
	while (p && (strncmp(p, name, n) != 0 || p[n] != '=')) {
		p = strchr(p, '&');
		p = p ? p + 1 : NULL;
	}
	if (!p)
		return 0;
	const char *v = p + n + 1;
	size_t len = strcspn(v, "&");
	int neg = *v == '-', sign = *v == '-' || *v == '+';
	v += sign;
	len -= (size_t)sign;
	if (len == 0 || len > 9 || strspn(v, "0123456789") < len)
		return 0;
	long x = strtol(v, NULL, 10);
	return neg ? -x : x;
}

typedef int (*text_writer_t)(FILE *f, const void *arg);

/* Writes into memory first, so that a failure is still a clean 500. */
static void answer_written(int fd, text_writer_t w, const void *arg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int rc = f ? w(f, arg) : -1;
	if (f && fclose(f) != 0)
		rc = -1;
	if (rc == 0)
		answer(fd, 200, "text/plain; charset=utf-8", buf, len);
	else
		answer_text(fd, 500, "could not write the profile\n");
	free(buf);
}

static int write_heap(FILE *f, const void *snap)
{
	return rt_pprof_text_heap(f, snap);
}

typedef struct threads_text {
	const rt_thread_capture_t *cap;
	long debug;
	int go_words;
} threads_text_t;

static int write_threads(FILE *f, const void *arg)
{
	const threads_text_t *t = arg;
	if (t->debug >= 2)
		return rt_pprof_text_thread_dump(f, t->cap, t->go_words);
	return rt_pprof_text_threads(f, t->cap, t->go_words ? "goroutine" : "threads");
}

static int write_threadcreate(FILE *f, const void *arg)
{
	(void)arg;
	return rt_pprof_text_threadcreate(f);
}

/* ---- profiles ---- */

/* Like Go's, any debug but 0 gets the text: heap and allocs write the same one. */
static void serve_heap(int fd, const char *default_type, long debug)
{
	rt_heap_snapshot_t snap;
	if (rt_heap_snapshot(&snap) != 0) {
		answer_text(fd, 500, "could not take a heap snapshot\n");
		return;
	}
	if (debug != 0) {
		answer_written(fd, write_heap, &snap);
		rt_heap_snapshot_free(&snap);
		return;
	}
	rt_profile_t *p = rt_heap_profile_build(&snap, default_type);
	rt_heap_snapshot_free(&snap);
	answer_profile(fd, p, "heap", 0);
}

/* debug >= 1: the count profile; >= 2: every thread on its own (Go's goroutine). */
static void serve_threads(int fd, long debug, int go_words)
{
	rt_thread_capture_t cap;
	if (rt_thread_capture_take(&cap, NULL) != 0) {
		answer_text(fd, 500, "could not capture the threads\n");
		return;
	}
	if (debug >= 1) {
		threads_text_t t = { &cap, debug, go_words };
		answer_written(fd, write_threads, &t);
		rt_thread_capture_free(&cap);
		return;
	}
	rt_profile_t *p = rt_thread_profile_build(&cap, NULL, NULL);
	rt_thread_capture_free(&cap);
	answer_profile(fd, p, "threads", 0);
}

typedef struct cpu_job {
	int fd;
	long seconds;
	int wall;                /* /wall rather than /profile */
} cpu_job_t;

#define WALL_HZ 50 /* captures of every thread per second for /wall */

/* /wall: every thread's stack WALL_HZ times a second (profile/wall_process.h). */
static void wall_job(const cpu_job_t *job)
{
	rt_profile_t *prof = rt_wall_process_collect((unsigned)job->seconds, WALL_HZ);
	if (!prof && !rt_thread_capture_enabled())
		answer_text(job->fd, 503, "thread captures are off (OTSHIM_THREADS_SIGNAL=0); no wall profiles\n");
	else
		answer_profile(job->fd, prof, "wall", job->seconds);
}

/* A CPU or wall profile takes seconds: it runs on a thread of its own, so the endpoint
 * stays available and a second CPU profile finds the first running (429, like Go). */
static void *cpu_main(void *arg)
{
	cpu_job_t job = *(cpu_job_t *)arg;
	free(arg);
	rt_tls_mark_internal();
	rt_shim_thread_mark();
	pthread_setname_np(pthread_self(), job.wall ? "otshim-wallprof" : "otshim-cpuprof");
	if (job.wall) {
		wall_job(&job);
		rt_owned_fd_close(job.fd);
		rt_shim_thread_unmark();
		return NULL;
	}
	rt_profile_t *prof;
	int rc = rt_cpu_profile_collect((unsigned)job.seconds, 100, &prof);
	if (rc == -2)
		answer_text(job.fd, 429, "a CPU profile is already running; try again when it is done\n");
	else if (rc == -3)
		answer_text(job.fd, 503, "the service handles SIGPROF itself; no CPU profiles\n");
	else
		answer_profile(job.fd, rc == 0 ? prof : NULL, "cpu", job.seconds);
	rt_owned_fd_close(job.fd);
	rt_shim_thread_unmark();
	return NULL;
}

/* ?seconds=N (default 30, at most 300), 100 Hz like Go (a wall profile: WALL_HZ).
 * Returns 1 when the connection was handed to the profile's thread (the caller must
 * not close it). */
static int serve_cpu(int fd, const char *query, int wall)
{
	long seconds = 30;
	const char *p = query ? strstr(query, "seconds=") : NULL;
	if (p) {
		seconds = strtol(p + 8, NULL, 10);
		if (seconds < 1 || seconds > 300) {
			answer_text(fd, 400, "seconds must be 1..300\n");
			return 0;
		}
	}
	cpu_job_t *job = malloc(sizeof *job);
	if (!job) {
		answer_text(fd, 500, "out of memory\n");
		return 0;
	}
	job->fd = fd;
	job->seconds = seconds;
	job->wall = wall;
	if (rt_spawn_detached(cpu_main, job) != 0) {
		free(job);
		answer_text(fd, 500, "cannot start the profile\n");
		return 0;
	}
	return 1;
}

static void serve_cmdline(int fd)
{
	char buf[4096];
	ssize_t n = 0;
	int in = RT_OWNED_FD_OPEN(open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC));
	if (in >= 0) {
		n = REAL(read)(in, buf, sizeof buf);
		rt_owned_fd_close(in);
	}
	if (n > 0 && buf[n - 1] == 0)
		n--; /* Go joins the arguments with NUL, with none after the last */
	answer(fd, 200, "text/plain; charset=utf-8", buf, n > 0 ? (size_t)n : 0);
}

/* Returns 1 when the connection was handed to another thread. */
static int route(int fd, const char *path)
{
	const char *q = strchr(path, '?');
	size_t n = q ? (size_t)(q - path) : strlen(path);
	static const char prefix[] = "/debug/pprof/";
	if (n < sizeof prefix - 1 || memcmp(path, prefix, sizeof prefix - 1) != 0) {
		answer_text(fd, 404, "not found: the profiles are under /debug/pprof/\n");
		return 0;
	}
	const char *name = path + sizeof prefix - 1;
	size_t len = n - (sizeof prefix - 1);
	long debug = query_int(q, "debug");
#define IS(lit) (len == sizeof(lit) - 1 && memcmp(name, lit, len) == 0)
	if (len == 0) {
		char html[sizeof index_html + 16];
		int k = snprintf(html, sizeof html, index_html, (int)getpid());
		answer(fd, 200, "text/html; charset=utf-8", html, (size_t)k);
	} else if (IS("heap")) {
		serve_heap(fd, "inuse_space", debug);
	} else if (IS("allocs")) {
		serve_heap(fd, "alloc_space", debug);
	} else if (IS("threads") || IS("goroutine")) {
		serve_threads(fd, debug, IS("goroutine"));
	} else if (IS("threadcreate") && debug >= 1) {
		answer_written(fd, write_threadcreate, NULL);
	} else if (IS("threadcreate")) {
		answer_profile(fd, rt_thread_profile_build_create(), "threadcreate", 0);
	} else if (IS("cmdline")) {
		serve_cmdline(fd);
	} else if (IS("profile")) {
		return serve_cpu(fd, q, 0);
	} else if (IS("wall")) {
		return serve_cpu(fd, q, 1);
	} else {
		answer_text(fd, 404, "unknown profile\n");
	}
#undef IS
	return 0;
}

/* Reads the request head (to the blank line) and answers it. Returns 1 when the
 * connection was handed to another thread. */
static int serve(int fd)
{
	char req[REQUEST_MAX + 1];
	size_t have = 0;
	struct timeval tv = { 5, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	while (have < REQUEST_MAX) {
		ssize_t k = REAL(read)(fd, req + have, REQUEST_MAX - have);
		if (k < 0 && errno == EINTR)
			continue; /* a SIGPROF of a whole-process profile (sample/sigprof_owner.h) */
		if (k <= 0)
			break;
		have += (size_t)k;
		req[have] = 0;
		if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
			break;
	}
	req[have] = 0;
	char method[8], path[1024], version[16];
	if (sscanf(req, "%7s %1023s %15s", method, path, version) != 3 ||
	    strcmp(method, "GET") != 0 || strncmp(version, "HTTP/1.", 7) != 0 || path[0] != '/') {
		answer_text(fd, 400, "bad request: expected GET /debug/pprof/<name> HTTP/1.x\n");
		return 0;
	}
	return route(fd, path);
}

static void *listener_main(void *arg)
{
	(void)arg;
	rt_tls_mark_internal();
	rt_shim_thread_mark();
	pthread_setname_np(pthread_self(), "otshim-pprof");
	for (;;) {
		/* The wait outside RT_OWNED_FD_OPEN (a service's close_range waits for what is
		 * inside it): the listener is non-blocking. */
		struct pollfd pfd = { .fd = listen_fd, .events = POLLIN };
		if (poll(&pfd, 1, -1) < 0)
			continue;
		int fd = RT_OWNED_FD_OPEN(REAL(accept4)(listen_fd, NULL, NULL, SOCK_CLOEXEC));
		if (fd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE ||
			    errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				if (errno != EINTR && errno != ECONNABORTED)
					sleep(1);
				continue;
			}
			rt_log(RT_LOG_WARN, "pprof endpoint: accept failed: %s; endpoint stopped",
			       strerror(errno));
			return NULL;
		}
		if (!serve(fd))
			rt_owned_fd_close(fd);
	}
}

/* ---- start-up ---- */

static int is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		return IN6_IS_ADDR_LOOPBACK(a) ||
		       (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return 0;
}

void rt_endpoint_start(void)
{
	char host[256], *port;
	struct addrinfo hints, *res = NULL;
	if (!rt_cfg.pprof_addr[0])
		return;
	snprintf(host, sizeof host, "%s", rt_cfg.pprof_addr);
	port = strrchr(host, ':');
	if (!port)
		return; /* rt_cfg validated the form */
	*port++ = 0;
	char *h = host;
	if (h[0] == '[') { /* [v6]:port */
		h++;
		h[strlen(h) - 1] = 0;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	if (getaddrinfo(h[0] ? h : NULL, port, &hints, &res) != 0 || !res) {
		rt_log(RT_LOG_WARN, "OTSHIM_PPROF_ADDR=%s: cannot resolve the address; no pprof "
		       "endpoint", rt_cfg.pprof_addr);
		return;
	}
	if (!is_loopback(res->ai_addr) && !rt_cfg.pprof_allow_remote) {
		rt_log(RT_LOG_WARN, "OTSHIM_PPROF_ADDR=%s is not a loopback address; refusing to "
		       "serve profiles beyond this machine without OTSHIM_PPROF_ALLOW_REMOTE=1",
		       rt_cfg.pprof_addr);
		freeaddrinfo(res);
		return;
	}
	int fd = RT_OWNED_FD_OPEN(socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
	int one = 1;
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 16) != 0) {
		rt_log(RT_LOG_WARN, "OTSHIM_PPROF_ADDR=%s: cannot listen: %s; no pprof endpoint",
		       rt_cfg.pprof_addr, strerror(errno));
		if (fd >= 0)
			rt_owned_fd_close(fd);
		freeaddrinfo(res);
		return;
	}
	freeaddrinfo(res);
	listen_fd = fd;
	if (rt_spawn_detached(listener_main, NULL) != 0) {
		rt_log(RT_LOG_WARN, "cannot start the pprof endpoint thread");
		rt_owned_fd_close(fd);
		listen_fd = -1;
	}
}
