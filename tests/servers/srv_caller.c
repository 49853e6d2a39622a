/* srv_caller.c: a service that calls another one: a thread-per-connection HTTP/1.1
 * server whose requests make outbound HTTP requests, written the ways clients write
 * them, so what the shim sees on the connections it opens is what real clients do.
 *
 * Endpoints:
 *   /                    "ok\n"
 *   /call?port=P&...     makes n requests to 127.0.0.1:P and answers with the last
 *                        status (X-Upstream-Status) and how many failed (X-Failed):
 *       n=N              requests (default 1)
 *       keep=1           all on one keep-alive connection (default: one each)
 *       pool=1           on this thread's keep-alive connection, kept from one of its
 *                        requests to the next (a connection pool of one)
 *       split=1          each request written in pieces cut at varying offsets (the
 *                        head's end among them, even between its CR and LF), each piece
 *                        with the next of write, send, writev, sendmsg, sendto
 *       body=1           every third request is a POST with a body (Content-Length)
 *       nb=1             non-blocking connect: EINPROGRESS, poll, getsockopt(SO_ERROR)
 *       tp=1             the request carries a traceparent of its own
 *       curl=1           made with libcurl instead (dlopen'ed), one easy handle
 *       path=/x          upstream path (default /up); each request adds ?i=<i>
 *       hop=P2&via=V     the upstream is a hop (tests/tools/py_hop.py, node_hop.js):
 *                        the request asks it to call 127.0.0.1:P2 with V
 *       log=FILE         the bytes of every request, as written, appended to FILE
 *   /connect?port=P      a connect that fails (nothing listens on P): 502
 *   /redis?port=P&n=N    N exchanges of a line protocol ("PING\r\n" -> a line)
 *
 * Options: --port N, --port-file F, --access-log F (as srv_demo). */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common.h"

static pthread_mutex_t file_mu = PTHREAD_MUTEX_INITIALIZER;

static long q(const char *target, const char *key, long def)
{
	return query_num(target, key, def);
}

/* The query value of key as text into out ("" when absent). */
static void q_str(const char *target, const char *key, char *out, size_t cap)
{
	char pat[32];
	snprintf(pat, sizeof pat, "%s=", key);
	const char *p = strchr(target, '?');
	out[0] = 0;
	while (p && (p = strstr(p, pat)) != NULL) {
		if (p[-1] != '?' && p[-1] != '&') {
			p++;
			continue;
		}
		p += strlen(pat);
		size_t n = strcspn(p, "& ");
		snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), p);
		return;
	}
}

/* ---- writing a request in pieces ---- */

/* Writes p[0..n) with call number k % 5; returns bytes written or -1. */
static ssize_t write_piece(int fd, const char *p, size_t n, unsigned k)
{
	struct iovec v[3];
	struct msghdr m = { 0 };
	size_t a = n / 3, b = n / 2;
	switch (k % 5) {
	case 0:
		return write(fd, p, n);
	case 1:
		return send(fd, p, n, MSG_NOSIGNAL);
	case 2:
		v[0] = (struct iovec){ (void *)p, a };
		v[1] = (struct iovec){ (void *)(p + a), n - a };
		return writev(fd, v, 2);
	case 3:
		v[0] = (struct iovec){ (void *)p, a };
		v[1] = (struct iovec){ (void *)(p + a), b - a };
		v[2] = (struct iovec){ (void *)(p + b), n - b };
		m.msg_iov = v;
		m.msg_iovlen = 3;
		return sendmsg(fd, &m, MSG_NOSIGNAL);
	default:
		return sendto(fd, p, n, MSG_NOSIGNAL, NULL, 0);
	}
}

static int write_pieces(int fd, const char *p, size_t n, unsigned seed, int split)
{
	unsigned k = seed;
	while (n > 0) {
		size_t len = n;
		if (split) {
			k = k * 1103515245u + 12345u;
			len = 1 + (k >> 8) % 23;
			if (len > n)
				len = n;
		}
		ssize_t w = write_piece(fd, p, len, k >> 4);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* ---- reading an answer ---- */

/* Reads one response (Content-Length or close-delimited body); returns its status,
 * or -1. buf holds what was read past it (carried to the next call). */
static int read_response(int fd, char *buf, size_t cap, size_t *have)
{
	char *end;
	for (;;) {
		buf[*have] = 0;
		if ((end = strstr(buf, "\r\n\r\n")) != NULL)
			break;
		if (*have + 1 >= cap)
			return -1;
		ssize_t r = read(fd, buf + *have, cap - 1 - *have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		*have += (size_t)r;
	}
	int status = 0;
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
		return -1;
	long cl = -1;
	for (char *l = strstr(buf, "\r\n"); l && l < end; l = strstr(l + 2, "\r\n"))
		if (strncasecmp(l + 2, "Content-Length:", 15) == 0)
			cl = strtol(l + 17, NULL, 10);
	size_t head = (size_t)(end + 4 - buf), got = *have - head;
	if (cl < 0) { /* until close */
		char sink[4096];
		while (read(fd, sink, sizeof sink) > 0)
			;
		*have = 0;
		return status;
	}
	while (got < (size_t)cl) {
		char sink[4096];
		size_t want = (size_t)cl - got < sizeof sink ? (size_t)cl - got : sizeof sink;
		ssize_t r = recv(fd, sink, want, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	size_t used = head + (size_t)cl;
	if (*have > used) { /* a pipelined answer's first bytes: kept for the next call */
		memmove(buf, buf + used, *have - used);
		*have -= used;
	} else {
		*have = 0; /* the body's rest was read past buf */
	}
	return status;
}

/* ---- connecting ---- */

static int connect_to(int port, int nonblocking)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (fd < 0)
		return -1;
	/* Pieces go out as written (no Nagle wait for the peer's delayed ACK). */
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0)
		return fd;
	if (!nonblocking || errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	struct pollfd p = { fd, POLLOUT, 0 };
	int err = 0;
	socklen_t el = sizeof err;
	if (poll(&p, 1, 5000) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err) {
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

/* ---- libcurl ---- */

typedef void CURL;
static struct {
	CURL *(*init)(void);
	int (*setopt)(CURL *, int, ...);
	int (*perform)(CURL *);
	int (*getinfo)(CURL *, int, ...);
	void (*cleanup)(CURL *);
} cu;

#define CURLOPT_URL 10002
#define CURLOPT_WRITEFUNCTION 20011
#define CURLOPT_NOSIGNAL 99
#define CURLINFO_RESPONSE_CODE 0x200002

static size_t discard(char *p, size_t s, size_t n, void *u)
{
	(void)p, (void)u;
	return s * n;
}

static int curl_ready(void)
{
	static int ok = -1;
	if (ok >= 0)
		return ok;
	void *h = dlopen("libcurl.so.4", RTLD_NOW);
	ok = 0;
	if (!h)
		return 0;
	*(void **)&cu.init = dlsym(h, "curl_easy_init");
	*(void **)&cu.setopt = dlsym(h, "curl_easy_setopt");
	*(void **)&cu.perform = dlsym(h, "curl_easy_perform");
	*(void **)&cu.getinfo = dlsym(h, "curl_easy_getinfo");
	*(void **)&cu.cleanup = dlsym(h, "curl_easy_cleanup");
	ok = cu.init && cu.setopt && cu.perform && cu.getinfo && cu.cleanup;
	return ok;
}

static int calls_with_curl(int port, long n, const char *path, int *last)
{
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	pthread_mutex_lock(&mu); /* dlopen once */
	int ready = curl_ready();
	pthread_mutex_unlock(&mu);
	if (!ready)
		return (int)n;
	CURL *h = cu.init();
	int failed = 0;
	for (long i = 0; i < n && h; i++) {
		char url[512];
		long code = 0;
		snprintf(url, sizeof url, "http://127.0.0.1:%d%s%ci=%ld", port, path,
			 strchr(path, '?') ? '&' : '?', i);
		cu.setopt(h, CURLOPT_URL, url);
		cu.setopt(h, CURLOPT_NOSIGNAL, 1L);
		cu.setopt(h, CURLOPT_WRITEFUNCTION, discard);
		if (cu.perform(h) != 0 || cu.getinfo(h, CURLINFO_RESPONSE_CODE, &code) != 0)
			failed++;
		*last = (int)code;
	}
	if (h)
		cu.cleanup(h);
	return h ? failed : (int)n;
}

/* ---- the calls ---- */

static int build_request(char *out, size_t cap, long i, const char *path, int body, int tp,
			 size_t *body_len)
{
	static const char pad[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	int post = body && i % 3 == 2;
	*body_len = post ? (size_t)(i % 97) * 13 + 1 : 0;
	int n = snprintf(out, cap, "%s %s%ci=%ld HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: %.*s\r\n%s",
			 post ? "POST" : "GET", path, strchr(path, '?') ? '&' : '?', i, (int)(i % 36), pad,
			 tp ? "traceparent: 00-0123456789abcdef0123456789abcdef-0123456789abcdef-01\r\n" : "");
	if (post)
		n += snprintf(out + n, cap - (size_t)n, "Content-Length: %zu\r\n", *body_len);
	n += snprintf(out + n, cap - (size_t)n, "\r\n");
	for (size_t k = 0; k < *body_len && (size_t)n + 1 < cap; k++)
		out[n++] = pad[(k + (size_t)i) % 36];
	return n;
}

/* The pool of pool=1: each serving thread's connection to the upstream. */
static __thread int pool_fd = -1, pool_port;
static __thread size_t pool_have;
static __thread char pool_buf[16384];

static int handle_call(int cfd, const char *target)
{
	int port = (int)q(target, "port", 0), keep = q(target, "keep", 0) == 1;
	long n = q(target, "n", 1);
	int split = q(target, "split", 0) == 1, body = q(target, "body", 0) == 1;
	int nb = q(target, "nb", 0) == 1, tp = q(target, "tp", 0) == 1;
	char path[256], logp[512];
	q_str(target, "path", path, sizeof path);
	q_str(target, "log", logp, sizeof logp);
	char via[32];
	q_str(target, "via", via, sizeof via);
	if (q(target, "hop", 0) > 0)
		snprintf(path, sizeof path, "/hop?next=http%%3A%%2F%%2F127.0.0.1%%3A%ld%%2Fleaf&via=%s",
			 q(target, "hop", 0), via);
	else if (!path[0])
		snprintf(path, sizeof path, "/up");
	int failed = 0, last = 0, fd = -1;
	if (q(target, "curl", 0) == 1) {
		failed = calls_with_curl(port, n, path, &last);
	} else {
		FILE *log = logp[0] ? fopen(logp, "ab") : NULL;
		char req[4096], local_buf[16384];
		int pool = q(target, "pool", 0) == 1;
		char *buf = pool ? pool_buf : local_buf;
		size_t have = 0;
		if (pool && pool_port == port) {
			fd = pool_fd;
			have = pool_have;
		} else if (pool && pool_fd >= 0) {
			close(pool_fd);
			pool_fd = -1;
		}
		for (long i = 0; i < n; i++) {
			size_t blen;
			int len = build_request(req, sizeof req, i, path, body, tp, &blen);
			if (fd < 0 && (fd = connect_to(port, nb)) < 0) {
				failed++;
				continue;
			}
			if (log) {
				pthread_mutex_lock(&file_mu);
				fwrite(req, 1, (size_t)len, log);
				pthread_mutex_unlock(&file_mu);
			}
			int st = write_pieces(fd, req, (size_t)len, (unsigned)i * 7919u + 1u, split);
			if (st == 0)
				st = read_response(fd, buf, sizeof local_buf, &have);
			if (st < 0)
				failed++;
			else
				last = st;
			if ((!keep && !pool) || st < 0) {
				close(fd);
				fd = -1;
				have = 0;
			}
		}
		if (pool) {
			pool_fd = fd;
			pool_port = port;
			pool_have = have;
		} else if (fd >= 0) {
			close(fd);
		}
		if (log)
			fclose(log);
	}
	char resp[256];
	int rn = snprintf(resp, sizeof resp, "HTTP/1.1 200 OK\r\nContent-Length: 7\r\nX-Upstream-Status: "
			  "%d\r\nX-Failed: %d\r\n\r\ncalled\n", last, failed);
	log_line("GET %s %d\n", target, 200);
	return write_all(cfd, resp, (size_t)rn);
}

static int handle_connect(int cfd, const char *target)
{
	int fd = connect_to((int)q(target, "port", 1), q(target, "nb", 0) == 1);
	if (fd >= 0)
		close(fd);
	static const char r[] = "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 5\r\n\r\nfail\n";
	log_line("GET %s 502\n", target);
	return write_all(cfd, r, sizeof r - 1);
}

static int handle_redis(int cfd, const char *target)
{
	int fd = connect_to((int)q(target, "port", 0), 0);
	long n = q(target, "n", 1), ok = 0;
	for (long i = 0; fd >= 0 && i < n; i++) {
		char line[256];
		if (write_all(fd, "PING\r\n", 6) != 0)
			break;
		ssize_t r = read(fd, line, sizeof line);
		ok += r > 0;
	}
	if (fd >= 0)
		close(fd);
	char resp[128];
	int rn = snprintf(resp, sizeof resp, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-Ok: %ld\r\n\r\nok\n", ok);
	log_line("GET %s 200\n", target);
	return write_all(cfd, resp, (size_t)rn);
}

static volatile sig_atomic_t stopping;
static int listen_fd = -1;
/* SIGTERM may land on any thread that does not block it, a connection's thread too:
 * shutting the listener wakes the main thread's accept() wherever it landed. */
static void on_term(int sig)
{
	(void)sig;
	stopping = 1;
	if (listen_fd >= 0)
		shutdown(listen_fd, SHUT_RDWR); /* async-signal-safe */
}

static int serve_one(int fd, const char *method, const char *target)
{
	(void)method;
	if (path_is(target, "/call"))
		return handle_call(fd, target);
	if (path_is(target, "/connect"))
		return handle_connect(fd, target);
	if (path_is(target, "/redis"))
		return handle_redis(fd, target);
	static const char r[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n";
	log_line("GET %s 200\n", target);
	return write_all(fd, r, sizeof r - 1);
}

static void *conn_thread(void *arg)
{
	serve_gets((int)(intptr_t)arg, serve_one);
	if (pool_fd >= 0)
		close(pool_fd);
	return NULL;
}

int main(int argc, char **argv)
{
	int port = 0, bound = 0;
	const char *port_file = NULL;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--port"))
			port = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--port-file"))
			port_file = argv[i + 1];
		else if (!strcmp(argv[i], "--access-log") && !(access_log = fopen(argv[i + 1], "a")))
			return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	/* No SA_RESTART: accept returns, and main returns, so atexit handlers run. */
	struct sigaction sa = { .sa_handler = on_term };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	int lfd = listen_loopback(port, SOCK_CLOEXEC, 128, &bound);
	if (lfd < 0 || (port_file && write_port_file(port_file, bound) != 0))
		return 1;
	listen_fd = lfd;
	for (;;) {
		int c = accept(lfd, NULL, NULL);
		if (stopping)
			return 0;
		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE)
				continue;
			return 1;
		}
		pthread_t t;
		pthread_attr_t at;
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &at, conn_thread, (void *)(intptr_t)c) != 0)
			close(c);
		pthread_attr_destroy(&at);
	}
}
