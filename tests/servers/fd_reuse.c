/* fd_reuse.c: a service that re-uses descriptor numbers in every way a real one can,
 * for tests/integration/fds.sh. Each scenario is one process: it listens on loopback,
 * is its own client (connect()ed sockets, which the shim never tracks), and serves
 * requests on the sockets it accepts. Its access log is the truth the shim's counts
 * are held to: one line "PATH TRACE_ID slow|fast" per request answered on an accepted
 * socket. Half-sent requests, and HTTP-looking bytes read from and written to files
 * that take a connection's number, are never answered and never logged: the shim must
 * never count them or profile them under any trace id.
 *
 *   fd_reuse SCENARIO LOG      scenarios: dup2 dup3 close_range cloexec fclose closefrom
 *                              rawclose rawclose_fast rawclose_many inflight race exec
 * Prints one "SCENARIO: ..." line of facts (which numbers were reused) on stdout. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* A file's bytes that, glued onto a half-read request, finish its head and add a
 * second request; and what a service would write back. */
static const char GLUE[] = "b\r\n\r\nGET /glued HTTP/1.1\r\n"
			   "traceparent: 00-99999999999999999999999999999999-9999999999999999-01\r\n\r\n";
static const char GLUE_RESP[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

static int listen_fd, port;
static char glue_path[256];

static void die(const char *what)
{
	fprintf(stderr, "fd_reuse: %s: %s\n", what, strerror(errno));
	exit(2);
}

/* ---- helpers ---- */

/* Trace id k of scenario s: 32 lowercase hex digits, never all zero. */
static void trace_id(char out[33], unsigned s, unsigned k)
{
	snprintf(out, 33, "%08x%08x%08x%08x", 0xabc00000u + s, k + 1, s * 7919u + k, 0x5eed0000u + k);
}

/* write_all, or the end of the scenario. */
static void put(int fd, const char *p, size_t n)
{
	if (write_all(fd, p, n) != 0)
		die("write");
}

static void send_str(int fd, const char *s)
{
	put(fd, s, strlen(s));
}

static void request(char *out, size_t cap, const char *path, const char *trace, const char *tail)
{
	snprintf(out, cap, "GET %s HTTP/1.1\r\nHost: t\r\ntraceparent: 00-%s-00f067aa0ba902b7-01\r\n%s",
		 path, trace, tail);
}

/* The listener is inherited across exec (the exec scenario): no SOCK_CLOEXEC. */
static void listen_any(void)
{
	listen_fd = listen_loopback(0, 0, 128, &port);
	if (listen_fd < 0)
		die("listen");
}

static int cli_connect(void)
{
	int fd = connect_loopback(port, 0);
	if (fd < 0)
		die("connect");
	return fd;
}

static int srv_accept(int cloexec)
{
	int fd = cloexec ? accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC) : accept(listen_fd, NULL, NULL);
	if (fd < 0)
		die("accept");
	return fd;
}

/* Reads exactly n bytes (the client sent them), so the shim has seen them all. */
static void srv_read_n(int fd, size_t n)
{
	char buf[4096];
	while (n > 0) {
		ssize_t r = read(fd, buf, n < sizeof buf ? n : sizeof buf);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			die("read");
		n -= (size_t)r;
	}
}

/* ---- the server side of one connection ---- */

struct conn {
	int fd;
	char buf[8192];
	size_t len;
};

/* Answers the request whose head is buf[0..head): logs it, burns CPU for /slow*. */
static void answer(struct conn *c, size_t head)
{
	char path[256] = "?", trace[64] = "-";
	const char *tp = memmem(c->buf, head, "traceparent: 00-", 16);
	sscanf(c->buf, "GET %255s", path);
	if (tp)
		snprintf(trace, sizeof trace, "%.32s", tp + 16);
	int slow = strncmp(path, "/slow", 5) == 0;
	if (slow)
		burn_cpu(60 * 1000000u);
	send_str(c->fd, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n");
	log_line("%s %s %s\n", path, trace, slow ? "slow" : "fast");
	memmove(c->buf, c->buf + head, c->len - head);
	c->len -= head;
}

/* Serves requests until the peer closes or a /bye request is answered. Returns the
 * number of bytes left unparsed (a half-sent request) when it stops. */
static size_t serve(struct conn *c, int stop_after_bye)
{
	for (;;) {
		char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
		if (end) {
			size_t head = (size_t)(end + 4 - c->buf);
			int bye = memmem(c->buf, head, "GET /bye", 8) == c->buf;
			answer(c, head);
			if (bye && stop_after_bye)
				return c->len;
			continue;
		}
		ssize_t r = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return c->len;
		c->len += (size_t)r;
	}
}

/* Reads one "ok\n" response (43 bytes) on a client socket. */
static void cli_response(int fd)
{
	char buf[64];
	size_t got = 0, want = 41;
	while (got < want) {
		ssize_t r = read(fd, buf, want - got);
		if (r <= 0)
			die("client read");
		got += (size_t)r;
	}
}

/* One complete request from client cli (connected beforehand, so that it does not
 * take the number the accept is meant to get), answered on the socket accepted for
 * it. Returns the server fd, left open. */
static int one_request(int cli, unsigned s, unsigned k, const char *path)
{
	char t[33], req[512];
	struct conn c = { 0 };
	c.fd = srv_accept(0);
	trace_id(t, s, k);
	request(req, sizeof req, path, t, "\r\n");
	send_str(cli, req);
	srv_read_n(c.fd, strlen(req));
	memcpy(c.buf, req, strlen(req));
	c.len = strlen(req);
	answer(&c, c.len);
	cli_response(cli);
	close(cli);
	return c.fd;
}

/* Accepts a connection and reads a half-sent request on it (the shim has parsed its
 * request line and traceparent, not the end of its head). Returns the server fd;
 * the client fd goes to *cli. */
static int half_request(unsigned s, unsigned k, int *cli, int cloexec)
{
	char t[33], req[512];
	*cli = cli_connect();
	int fd = srv_accept(cloexec);
	trace_id(t, s, k);
	request(req, sizeof req, "/slow/half", t, "X-Half: ");
	send_str(*cli, req);
	srv_read_n(fd, strlen(req));
	return fd;
}

/* What a service does with a file that took number fd: reads it, writes to it. */
static void use_file_at(int fd)
{
	char buf[512];
	if (lseek(fd, 0, SEEK_SET) < 0 || read(fd, buf, sizeof buf) <= 0)
		die("read file");
	lseek(fd, 0, SEEK_END);
	put(fd, GLUE_RESP, strlen(GLUE_RESP));
	put(fd, GLUE_RESP, strlen(GLUE_RESP));
}

/* Fresh copies of the glue file, made at start-up: written later, their bytes would
 * go out through whatever number the file got, which is the point of the scenarios. */
#define GLUE_COPIES 8
static int glue_next;

#define MANY 100 /* requests in the "many" glue file */
static const char MANY_REQ[] = "GET /glued HTTP/1.1\r\n\r\n";

static void make_glue(void)
{
	char mp[300];
	snprintf(mp, sizeof mp, "%s.many", glue_path);
	int m = open(mp, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (m < 0)
		die("open");
	for (int i = 0; i < MANY; i++)
		send_str(m, MANY_REQ);
	close(m);
	for (int i = 0; i < GLUE_COPIES; i++) {
		char p[300];
		snprintf(p, sizeof p, "%s.%d", glue_path, i);
		int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);
		if (fd < 0)
			die("open");
		put(fd, GLUE, strlen(GLUE));
		close(fd);
	}
}

static int open_glue(void)
{
	char p[300];
	snprintf(p, sizeof p, "%s.%d", glue_path, glue_next++ % GLUE_COPIES);
	int fd = open(p, O_RDWR);
	if (fd < 0)
		die("open");
	return fd;
}

/* ---- scenarios ---- */

/* dup2/dup3 a file onto a connection with a half-read request, use the file there,
 * close it, then accept a new connection onto the same number. */
static void sc_dup(int three)
{
	int cli, fd = half_request(1, 0, &cli, 0);
	int next = cli_connect();
	int f = open_glue();
	int r = three ? dup3(f, fd, O_CLOEXEC) : dup2(f, fd);
	if (r != fd)
		die("dup");
	close(f);
	use_file_at(fd);
	close(fd);
	int again = one_request(next, 1, 1, "/slow/after");
	printf("%s: file duplicated onto connection fd %d; next connection got fd %d (%s)\n",
	       three ? "dup3" : "dup2", fd, again, again == fd ? "reused" : "NOT reused");
	close(again);
	close(cli);
}

/* close_range over two connections with half-read requests, files on their numbers. */
static void sc_close_range(void)
{
	int c1, c2;
	int a = half_request(2, 0, &c1, 0);
	int b = half_request(2, 1, &c2, 0);
	int next = cli_connect();
	int lo = a < b ? a : b, hi = a < b ? b : a;
	if (c1 >= lo || next <= hi) /* only c2 may be in between */
		die("unexpected fd layout");
	if (close_range((unsigned)lo, (unsigned)hi, 0) != 0)
		die("close_range");
	int files[64], nf = 0, on = 0;
	while (nf < 64) {
		int f = open_glue();
		files[nf++] = f;
		if (f == a || f == b) {
			use_file_at(f);
			on++;
		}
		if (f >= hi)
			break;
	}
	for (int i = 0; i < nf; i++)
		close(files[i]);
	int again = one_request(next, 2, 2, "/slow/after");
	printf("close_range: closed fds %d..%d (connections %d and %d); files opened on both: %s; next connection got fd %d (%s)\n",
	       lo, hi, a, b, on == 2 ? "yes" : "no", again, again == lo ? "reused" : "NOT reused");
	close(again);
	close(c1);
}

/* CLOSE_RANGE_CLOEXEC only marks: the connections stay open and keep being served. */
static void sc_cloexec(void)
{
	char t[33], req[512];
	int cli[2], fd[2];
	for (int i = 0; i < 2; i++) {
		cli[i] = cli_connect();
		fd[i] = srv_accept(0);
	}
	int lo = fd[0] < fd[1] ? fd[0] : fd[1], hi = fd[0] < fd[1] ? fd[1] : fd[0];
	if (close_range((unsigned)lo, (unsigned)hi, CLOSE_RANGE_CLOEXEC) != 0)
		die("close_range");
	int marked = (fcntl(fd[0], F_GETFD) & FD_CLOEXEC) && (fcntl(fd[1], F_GETFD) & FD_CLOEXEC);
	for (int k = 0; k < 2; k++) {
		for (int i = 0; i < 2; i++) {
			struct conn c = { .fd = fd[i] };
			trace_id(t, 3, (unsigned)(2 * i + k));
			request(req, sizeof req, k ? "/slow/kept" : "/kept", t, "\r\n");
			send_str(cli[i], req);
			srv_read_n(c.fd, strlen(req));
			memcpy(c.buf, req, strlen(req));
			c.len = strlen(req);
			answer(&c, c.len);
			cli_response(cli[i]);
		}
	}
	printf("cloexec: close_range(%d, %d, CLOSE_RANGE_CLOEXEC): both marked close-on-exec: %s; 2 requests served on each after\n",
	       lo, hi, marked ? "yes" : "no");
	for (int i = 0; i < 2; i++) {
		close(fd[i]);
		close(cli[i]);
	}
}

/* fclose of an fdopen'ed connection closes it inside libc; so does closefrom. */
static void sc_fclose(int from)
{
	unsigned s = from ? 5 : 4;
	int cli, fd = half_request(s, 0, &cli, 0);
	if (cli > fd)
		die("unexpected fd layout");
	if (from) {
		closefrom(fd); /* fd is the highest we own */
	} else {
		FILE *fp = fdopen(fd, "r+");
		if (!fp)
			die("fdopen");
		fclose(fp);
	}
	int f = open_glue();
	use_file_at(f);
	int next = cli_connect(); /* before the file goes: it must not take the number */
	close(f);
	int again = one_request(next, s, 1, "/slow/after");
	printf("%s: connection fd %d closed inside libc; a file opened on it: %s; next connection got fd %d (%s)\n",
	       from ? "closefrom" : "fclose", fd, f == fd ? "yes" : "no", again,
	       again == fd ? "reused" : "NOT reused");
	close(again);
	close(cli);
}

/* A raw close system call, which no interposer sees; a file opened on the number.
 * slow: the half-read request has been in flight long enough to be slow when the
 * file's bytes would finish it (the shim checks the fd's identity then); fast: not
 * (checked only every 64th response: the glued requests are counted). */
static void sc_rawclose(int slow)
{
	int cli, fd = half_request(slow ? 6 : 9, 0, &cli, 0);
	int next = cli_connect();
	if (slow)
		burn_cpu(60 * 1000000u);
	syscall(SYS_close, fd);
	int f = open_glue();
	use_file_at(f);
	close(f);
	int again = one_request(next, slow ? 6 : 9, 1, "/slow/after");
	printf("%s: connection fd %d closed by syscall(SYS_close); a file opened on it: %s; next connection got fd %d (%s)\n",
	       slow ? "rawclose" : "rawclose_fast", fd, f == fd ? "yes" : "no", again,
	       again == fd ? "reused" : "NOT reused");
	close(again);
	close(cli);
}

/* The raw close, then a file with MANY requests read and MANY answers written on the
 * number: the shim's check every 64th response bounds what it counts of them. */
static void sc_rawclose_many(void)
{
	char p[300], buf[MANY * (sizeof MANY_REQ - 1)];
	int cli, fd = half_request(10, 0, &cli, 0);
	int next = cli_connect();
	syscall(SYS_close, fd);
	snprintf(p, sizeof p, "%s.many", glue_path);
	int f = open(p, O_RDWR);
	if (f < 0 || read(f, buf, sizeof buf) != (ssize_t)sizeof buf)
		die("read many");
	for (int i = 0; i < MANY; i++)
		put(f, GLUE_RESP, strlen(GLUE_RESP));
	close(f);
	int again = one_request(next, 10, 1, "/slow/after");
	printf("rawclose_many: connection fd %d closed by syscall(SYS_close); a file opened on it: %s, %d requests read from it and %d answers written; next connection got fd %d\n",
	       fd, f == fd ? "yes" : "no", MANY, MANY, again);
	close(again);
	close(cli);
}

/* ---- in flight: a read blocked on fd N returns after N was closed and re-accepted ---- */

static int inflight_fd;
static _Atomic pid_t reader_tid; /* written by the reader, polled by main: atomic (TSan) */

static void *blocked_reader(void *arg)
{
	char buf[512];
	(void)arg;
	reader_tid = (pid_t)syscall(SYS_gettid);
	ssize_t r = read(inflight_fd, buf, sizeof buf); /* the old connection's bytes */
	return (void *)(intptr_t)r;
}

/* True once thread tid sleeps in read(2) (syscall 0 on x86-64; the first field of
 * /proc/.../syscall is the number). */
static int in_read(pid_t tid)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	int ok = fgets(line, sizeof line, f) && strtol(line, NULL, 10) == SYS_read;
	fclose(f);
	return ok;
}

static void sc_inflight(void)
{
	char t[33], req[512];
	int xcli = cli_connect();
	inflight_fd = srv_accept(0);
	pthread_t th;
	pthread_create(&th, NULL, blocked_reader, NULL);
	for (int i = 0; i < 2000 && !(reader_tid && in_read(reader_tid)); i++)
		usleep(1000);
	int was = inflight_fd;
	int ycli = cli_connect();
	close(inflight_fd); /* the reader stays blocked on the old socket */
	struct conn c = { .fd = srv_accept(0) };
	trace_id(t, 7, 1);
	request(req, sizeof req, "/slow/y", t, "");
	send_str(ycli, req); /* half of y's head */
	srv_read_n(c.fd, strlen(req));
	memcpy(c.buf, req, strlen(req));
	c.len = strlen(req);
	char tx[33], xreq[512];
	trace_id(tx, 7, 0);
	request(xreq, sizeof xreq, "/slow/x", tx, "\r\n");
	send_str(xcli, xreq); /* the old connection speaks; its reader returns */
	void *res;
	pthread_join(th, &res);
	send_str(ycli, "X-Rest: 1\r\n\r\n");
	srv_read_n(c.fd, 13);
	memcpy(c.buf + c.len, "X-Rest: 1\r\n\r\n", 13);
	c.len += 13;
	answer(&c, c.len);
	cli_response(ycli);
	printf("inflight: a read blocked on fd %d, which was closed; the next connection got fd %d (%s); the old read returned %zd bytes after that\n",
	       was, c.fd, c.fd == was ? "reused" : "NOT reused", (ssize_t)(intptr_t)res);
	close(c.fd);
	close(ycli);
	close(xcli);
}

/* ---- race: servers closing while others accept, clients mixing patterns ---- */

#define RACE_SERVERS 4
#define RACE_CLIENTS 4
#define RACE_CONNS 60 /* per client */

static _Atomic int race_done;
static _Atomic unsigned race_fdseen[4096];

static void *race_server(void *arg)
{
	(void)arg;
	for (;;) {
		struct conn *c = calloc(1, sizeof *c);
		c->fd = accept(listen_fd, NULL, NULL);
		if (c->fd < 0) {
			free(c);
			if (race_done)
				return NULL;
			continue;
		}
		if (c->fd < 4096)
			race_fdseen[c->fd]++;
		size_t left = serve(c, 1);
		if (left == 0) {
			/* Give a half-sent request time to arrive, so the shim reads it. */
			struct pollfd p = { c->fd, POLLIN, 0 };
			if (poll(&p, 1, 200) == 1)
				(void)!read(c->fd, c->buf, sizeof c->buf);
		}
		close(c->fd);
		free(c);
	}
}

static void *race_client(void *arg)
{
	unsigned id = (unsigned)(intptr_t)arg, k = 0;
	char t[33], req[8192];
	for (int n = 0; n < RACE_CONNS; n++) {
		int fd = cli_connect();
		int nreq = 1 + (int)((id + (unsigned)n) % 3);
		size_t len = 0;
		/* Pipelined: every request of this connection in one write, the last a /bye
		 * followed (every other connection) by half of another request. */
		for (int i = 0; i < nreq; i++) {
			const char *path = i == nreq - 1 ? "/bye" : ((n + i) % 9 == 0 ? "/slow/r" : "/r");
			trace_id(t, 100 + id, k++);
			request(req + len, sizeof req - len, path, t, "\r\n");
			len += strlen(req + len);
		}
		if (n % 2) {
			trace_id(t, 100 + id, k++);
			request(req + len, sizeof req - len, "/slow/half", t, "X-Half: ");
			len += strlen(req + len);
		}
		put(fd, req, len);
		if (n % 2 == 0)
			shutdown(fd, SHUT_WR); /* nothing more: the server sees EOF at once */
		for (int i = 0; i < nreq; i++)
			cli_response(fd);
		char b;
		while (read(fd, &b, 1) > 0) /* until the server closes */
			;
		close(fd);
	}
	return NULL;
}

static void sc_race(void)
{
	pthread_t s[RACE_SERVERS], c[RACE_CLIENTS];
	for (int i = 0; i < RACE_SERVERS; i++)
		pthread_create(&s[i], NULL, race_server, NULL);
	for (int i = 0; i < RACE_CLIENTS; i++)
		pthread_create(&c[i], NULL, race_client, (void *)(intptr_t)i);
	for (int i = 0; i < RACE_CLIENTS; i++)
		pthread_join(c[i], NULL);
	race_done = 1;
	shutdown(listen_fd, SHUT_RDWR); /* wakes the servers blocked in accept */
	for (int i = 0; i < RACE_SERVERS; i++)
		pthread_join(s[i], NULL);
	unsigned distinct = 0, max = 0;
	for (int i = 0; i < 4096; i++) {
		distinct += race_fdseen[i] > 0;
		max = race_fdseen[i] > max ? race_fdseen[i] : max;
	}
	printf("race: %d connections on %u distinct fd numbers (one number accepted %u times)\n",
	       RACE_CLIENTS * RACE_CONNS, distinct, max);
}

/* ---- exec: half-read requests on a close-on-exec and an inherited connection ---- */

static void sc_exec(const char *self, const char *log)
{
	int c1, c2;
	int a = half_request(8, 0, &c1, 1); /* SOCK_CLOEXEC: closed by the exec */
	int b = half_request(8, 1, &c2, 0); /* inherited by the new image */
	char sa[16], sb[16], sl[16], s1[16], s2[16];
	snprintf(sa, sizeof sa, "%d", a);
	snprintf(sb, sizeof sb, "%d", b);
	snprintf(sl, sizeof sl, "%d", listen_fd);
	snprintf(s1, sizeof s1, "%d", c1);
	snprintf(s2, sizeof s2, "%d", c2);
	fclose(access_log);
	execl(self, self, "exec2", log, sa, sb, sl, s1, s2, (char *)NULL);
	die("exec");
}

static void sc_exec2(char **argv)
{
	int a = atoi(argv[3]), b = atoi(argv[4]);
	listen_fd = atoi(argv[5]);
	int c1 = atoi(argv[6]), c2 = atoi(argv[7]);
	struct sockaddr_in sa;
	socklen_t n = sizeof sa;
	getsockname(listen_fd, (struct sockaddr *)&sa, &n);
	port = ntohs(sa.sin_port);
	int a_closed = fcntl(a, F_GETFD) < 0 && errno == EBADF;
	/* The inherited connection's request is finished and answered: this image never
	 * accepted it, so it is not one of "its" requests; it is logged apart. */
	send_str(c2, "\r\n");
	srv_read_n(b, 2);
	send_str(c2, "GET /inherited HTTP/1.1\r\n\r\n");
	srv_read_n(b, 27);
	send_str(b, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n");
	send_str(b, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n");
	int again = one_request(cli_connect(), 8, 2, "/slow/after");
	printf("exec: close-on-exec connection fd %d closed by exec: %s; inherited fd %d served 2 untracked answers; next connection got fd %d\n",
	       a, a_closed ? "yes" : "no", b, again);
	close(again);
	close(b);
	close(c1);
	close(c2);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: fd_reuse SCENARIO ACCESS_LOG\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	access_log = fopen(argv[2], "a");
	if (!access_log)
		die(argv[2]);
	snprintf(glue_path, sizeof glue_path, "%s.glue", argv[2]);
	if (strcmp(argv[1], "exec2") != 0)
		make_glue();
	const char *s = argv[1];
	if (strcmp(s, "exec2") == 0) {
		sc_exec2(argv);
		return 0;
	}
	listen_any();
	if (strcmp(s, "dup2") == 0 || strcmp(s, "dup3") == 0)
		sc_dup(s[3] == '3');
	else if (strcmp(s, "close_range") == 0)
		sc_close_range();
	else if (strcmp(s, "cloexec") == 0)
		sc_cloexec();
	else if (strcmp(s, "fclose") == 0 || strcmp(s, "closefrom") == 0)
		sc_fclose(s[1] == 'l' && s[5] == 'f');
	else if (strcmp(s, "rawclose") == 0 || strcmp(s, "rawclose_fast") == 0)
		sc_rawclose(s[8] == 0);
	else if (strcmp(s, "rawclose_many") == 0)
		sc_rawclose_many();
	else if (strcmp(s, "inflight") == 0)
		sc_inflight();
	else if (strcmp(s, "race") == 0)
		sc_race();
	else if (strcmp(s, "exec") == 0)
		sc_exec(argv[0][0] == '/' ? argv[0] : "/proc/self/exe", argv[2]);
	else {
		fprintf(stderr, "fd_reuse: unknown scenario %s\n", s);
		return 2;
	}
	return 0;
}
