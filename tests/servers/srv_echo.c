/* srv_echo.c: a thread-per-connection HTTP/1.1 server that moves bodies, for
 * tests/integration/integrity.sh: whatever the shim does, the bytes a service reads
 * and writes must be exactly those without it. Keep-alive and pipelining; request
 * bodies by Content-Length or chunked.
 *
 *   GET  /file?how=H&path=P  the file P, written by H: sendfile, write, writev, send,
 *                            sendto, sendmsg (Content-Length), or chunked (chunks of
 *                            varying sizes, alternately write and send)
 *   POST /store?path=P       the body into file P; answers "stored N\n"
 *   POST /echo               the body back: Content-Length for a Content-Length
 *                            request (streamed as it arrives), chunked for a chunked one
 *
 * Reads rotate over read, recv, readv, recvfrom and recvmsg, so every read
 * interposer carries body bytes. Options: --port-file F, --access-log F ("METHOD
 * PATH STATUS BYTES" per answer). Paths are the test's own: this is no server for
 * anything else. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common.h"

#define BUF 65536

static volatile sig_atomic_t stopping;

struct rd {
	int fd;
	unsigned turn; /* which read function fills next */
	size_t pos, len;
	char buf[BUF];
};

/* ---- reading ---- */

static ssize_t read_some(struct rd *r, char *p, size_t n)
{
	struct iovec v[2] = { { p, n / 2 }, { p + n / 2, n - n / 2 } };
	struct msghdr m = { .msg_iov = v, .msg_iovlen = 2 };
	ssize_t got;
	do {
		switch (r->turn++ % 5) {
		case 0: got = read(r->fd, p, n); break;
		case 1: got = recv(r->fd, p, n, 0); break;
		case 2: got = n > 1 ? readv(r->fd, v, 2) : read(r->fd, p, n); break;
		case 3: got = recvfrom(r->fd, p, n, 0, NULL, NULL); break;
		default: got = n > 1 ? recvmsg(r->fd, &m, 0) : recv(r->fd, p, n, 0); break;
		}
	} while (got < 0 && errno == EINTR);
	return got;
}

static int fill(struct rd *r)
{
	if (r->pos == r->len)
		r->pos = r->len = 0;
	if (r->len == sizeof r->buf) {
		memmove(r->buf, r->buf + r->pos, r->len - r->pos);
		r->len -= r->pos;
		r->pos = 0;
	}
	ssize_t got = read_some(r, r->buf + r->len, sizeof r->buf - r->len);
	if (got <= 0)
		return -1;
	r->len += (size_t)got;
	return 0;
}

/* A line ending in \n (CR stripped) into out; -1 at EOF or if longer than cap. */
static int rd_line(struct rd *r, char *out, size_t cap)
{
	for (;;) {
		char *nl = memchr(r->buf + r->pos, '\n', r->len - r->pos);
		if (nl) {
			size_t n = (size_t)(nl - (r->buf + r->pos));
			if (n >= cap)
				return -1;
			memcpy(out, r->buf + r->pos, n);
			if (n && out[n - 1] == '\r')
				n--;
			out[n] = 0;
			r->pos += (size_t)(nl - (r->buf + r->pos)) + 1;
			return 0;
		}
		if (r->len - r->pos >= cap || fill(r) != 0)
			return -1;
	}
}

/* Up to n body bytes (buffered first); 0 at EOF. */
static ssize_t rd_some(struct rd *r, char *p, size_t n)
{
	if (r->pos == r->len) {
		if (n >= sizeof r->buf / 2)
			return read_some(r, p, n); /* large: straight into the caller's buffer */
		if (fill(r) != 0)
			return 0;
	}
	size_t k = r->len - r->pos < n ? r->len - r->pos : n;
	memcpy(p, r->buf + r->pos, k);
	r->pos += k;
	return (ssize_t)k;
}

/* ---- writing: every write interposer, each looping over short writes ---- */

enum how { H_WRITE, H_WRITEV, H_SEND, H_SENDTO, H_SENDMSG, H_SENDFILE, H_CHUNKED };

static int put(int fd, const char *p, size_t n, enum how h)
{
	while (n > 0) {
		struct iovec v[3] = { { (void *)p, n / 3 }, { (void *)(p + n / 3), n / 3 },
				      { (void *)(p + 2 * (n / 3)), n - 2 * (n / 3) } };
		struct msghdr m = { .msg_iov = v, .msg_iovlen = 3 };
		ssize_t w;
		switch (h) {
		case H_WRITEV: w = writev(fd, v, 3); break;
		case H_SEND: w = send(fd, p, n, MSG_NOSIGNAL); break;
		case H_SENDTO: w = sendto(fd, p, n, MSG_NOSIGNAL, NULL, 0); break;
		case H_SENDMSG: w = sendmsg(fd, &m, MSG_NOSIGNAL); break;
		default: w = write(fd, p, n); break;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int put_str(int fd, const char *s)
{
	return put(fd, s, strlen(s), H_WRITE);
}

static int put_chunk(int fd, const char *p, size_t n, unsigned k)
{
	char head[32];
	snprintf(head, sizeof head, "%zx\r\n", n);
	enum how h = k % 2 ? H_SEND : H_WRITE;
	return put(fd, head, strlen(head), h) || put(fd, p, n, h) || put(fd, "\r\n", 2, h);
}

static void log_answer(const char *method, const char *path, int status, long long bytes)
{
	log_line("%s %s %d %lld\n", method, path, status, bytes);
}

/* ---- requests ---- */

struct req {
	char method[16], path[256], query[1024];
	long long clen; /* -1: none */
	int chunked, close;
};

static int query_arg(const struct req *q, const char *key, char *out, size_t cap)
{
	size_t kl = strlen(key);
	for (const char *p = q->query; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
		if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
			size_t n = strcspn(p + kl + 1, "&");
			if (n >= cap)
				return -1;
			memcpy(out, p + kl + 1, n);
			out[n] = 0;
			return 0;
		}
	}
	return -1;
}

/* Calls sink for each piece of the body; returns its length or -1. */
static long long body(struct rd *r, const struct req *q, int (*sink)(void *, const char *, size_t),
		      void *arg)
{
	static __thread char chunk[BUF];
	long long total = 0;
	if (!q->chunked) {
		long long left = q->clen > 0 ? q->clen : 0;
		while (left > 0) {
			ssize_t n = rd_some(r, chunk, left < BUF ? (size_t)left : BUF);
			if (n <= 0 || sink(arg, chunk, (size_t)n) != 0)
				return -1;
			left -= n;
			total += n;
		}
		return total;
	}
	char line[128];
	for (;;) {
		if (rd_line(r, line, sizeof line) != 0)
			return -1;
		long long size = strtoll(line, NULL, 16);
		if (size < 0)
			return -1;
		if (size == 0)
			break;
		while (size > 0) {
			ssize_t n = rd_some(r, chunk, size < BUF ? (size_t)size : BUF);
			if (n <= 0 || sink(arg, chunk, (size_t)n) != 0)
				return -1;
			size -= n;
			total += n;
		}
		if (rd_line(r, line, sizeof line) != 0 || line[0])
			return -1;
	}
	do { /* trailers, up to the empty line */
		if (rd_line(r, line, sizeof line) != 0)
			return -1;
	} while (line[0]);
	return total;
}

static int sink_file(void *arg, const char *p, size_t n)
{
	return put(*(int *)arg, p, n, H_WRITE);
}

struct echo {
	int fd, chunked;
	unsigned k;
};

static int sink_echo(void *arg, const char *p, size_t n)
{
	struct echo *e = arg;
	if (e->chunked)
		return put_chunk(e->fd, p, n, e->k++);
	return put(e->fd, p, n, (enum how)(e->k++ % 5));
}

static int serve_file(int fd, const struct req *q)
{
	char how[32] = "write", path[512];
	static const char *const names[] = { "write", "writev", "send", "sendto", "sendmsg", "sendfile", "chunked" };
	enum how h = H_WRITE;
	query_arg(q, "how", how, sizeof how);
	for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(how, names[i]) == 0)
			h = (enum how)i;
	int f = query_arg(q, "path", path, sizeof path) == 0 ? open(path, O_RDONLY) : -1;
	struct stat st;
	if (f < 0 || fstat(f, &st) != 0) {
		if (f >= 0)
			close(f);
		log_answer(q->method, q->path, 404, 0);
		return put_str(fd, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
	}
	char head[128];
	if (h == H_CHUNKED)
		snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
	else
		snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %lld\r\n\r\n", (long long)st.st_size);
	int rc = put(fd, head, strlen(head), h == H_SENDFILE || h == H_CHUNKED ? H_WRITE : h);
	static __thread char buf[BUF];
	off_t off = 0;
	unsigned k = 0;
	while (rc == 0 && off < st.st_size) {
		if (h == H_SENDFILE) {
			ssize_t n = sendfile(fd, f, &off, (size_t)(st.st_size - off));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				rc = -1;
			continue;
		}
		/* Varying piece sizes (1 byte to 64 KiB), so chunk and write edges land
		 * everywhere. */
		size_t want = 1 + (k * 7919u + 13u) % BUF;
		ssize_t n = pread(f, buf, want, off);
		if (n <= 0) {
			rc = -1;
			break;
		}
		rc = h == H_CHUNKED ? put_chunk(fd, buf, (size_t)n, k) : put(fd, buf, (size_t)n, h);
		off += n;
		k++;
	}
	if (rc == 0 && h == H_CHUNKED)
		rc = put(fd, "0\r\n\r\n", 5, H_SEND);
	close(f);
	log_answer(q->method, q->path, 200, (long long)off);
	return rc;
}

static int serve(struct rd *r, const struct req *q)
{
	int fd = r->fd;
	char out[128];
	if (strcmp(q->method, "GET") == 0 && strcmp(q->path, "/file") == 0)
		return serve_file(fd, q);
	if (strcmp(q->method, "POST") == 0 && strcmp(q->path, "/store") == 0) {
		char path[512];
		int f = query_arg(q, "path", path, sizeof path) == 0
				? open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)
				: -1;
		long long n = f >= 0 ? body(r, q, sink_file, &f) : -1;
		if (f >= 0)
			close(f);
		if (n < 0)
			return -1;
		char msg[64];
		snprintf(msg, sizeof msg, "stored %lld\n", n);
		snprintf(out, sizeof out, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s", strlen(msg), msg);
		log_answer(q->method, q->path, 200, n);
		return put_str(fd, out);
	}
	if (strcmp(q->method, "POST") == 0 && strcmp(q->path, "/echo") == 0) {
		struct echo e = { fd, q->chunked, 0 };
		if (q->chunked)
			snprintf(out, sizeof out, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
		else
			snprintf(out, sizeof out, "HTTP/1.1 200 OK\r\nContent-Length: %lld\r\n\r\n",
				 q->clen > 0 ? q->clen : 0);
		if (put_str(fd, out) != 0)
			return -1;
		long long n = body(r, q, sink_echo, &e);
		if (n < 0 || (q->chunked && put(fd, "0\r\n\r\n", 5, H_WRITE) != 0))
			return -1;
		log_answer(q->method, q->path, 200, n);
		return 0;
	}
	log_answer(q->method, q->path, 404, 0);
	return put_str(fd, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
}

static int read_head(struct rd *r, struct req *q)
{
	char line[2048], target[1280];
	memset(q, 0, sizeof *q);
	q->clen = -1;
	if (rd_line(r, line, sizeof line) != 0)
		return -1;
	if (sscanf(line, "%15s %1279s", q->method, target) != 2)
		return -1;
	char *qm = strchr(target, '?');
	if (qm) {
		*qm = 0;
		if (strlen(qm + 1) >= sizeof q->query)
			return -1;
		memcpy(q->query, qm + 1, strlen(qm + 1) + 1);
	}
	if (strlen(target) >= sizeof q->path)
		return -1;
	memcpy(q->path, target, strlen(target) + 1);
	for (;;) {
		if (rd_line(r, line, sizeof line) != 0)
			return -1;
		if (!line[0])
			return 0;
		if (strncasecmp(line, "content-length:", 15) == 0)
			q->clen = atoll(line + 15);
		else if (strncasecmp(line, "transfer-encoding:", 18) == 0 && strcasestr(line + 18, "chunked"))
			q->chunked = 1;
		else if (strncasecmp(line, "connection:", 11) == 0 && strcasestr(line + 11, "close"))
			q->close = 1;
	}
}

static void *conn_main(void *arg)
{
	struct rd *r = arg;
	struct req q;
	while (read_head(r, &q) == 0 && serve(r, &q) == 0 && !q.close)
		;
	close(r->fd);
	free(r);
	return NULL;
}

static void on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

/* SIGTERM/SIGINT end the accept loop (no SA_RESTART) and main returns, so exit-time
 * handlers (the shim's stats file) run. */
int main(int argc, char **argv)
{
	const char *port_file = NULL, *log = "/dev/null";
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--port-file") == 0)
			port_file = argv[i + 1];
		else if (strcmp(argv[i], "--access-log") == 0)
			log = argv[i + 1];
	}
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa = { .sa_handler = on_term };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	access_log = fopen(log, "a");
	int port, l = listen_loopback(0, 0, 64, &port);
	if (!access_log || l < 0) {
		perror("srv_echo");
		return 1;
	}
	if (port_file)
		write_port_file(port_file, port);
	while (!stopping) {
		int c = accept(l, NULL, NULL);
		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return 1;
		}
		struct rd *r = calloc(1, sizeof *r);
		r->fd = c;
		pthread_t t;
		pthread_attr_t at;
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &at, conn_main, r) != 0) {
			close(c);
			free(r);
		}
		pthread_attr_destroy(&at);
	}
	return 0;
}
