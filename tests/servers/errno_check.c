/* errno_check.c: calls every function the shim interposes, failing and succeeding,
 * and prints one line per call: its name, its result (fd-like results as "fd", so the
 * output does not depend on which numbers are free) and errno after it. Before each
 * call errno is set to 1234: a successful call must leave it there, a failing one set
 * what libc sets. tests/integration/integrity.sh runs it with and without the shim
 * and wants byte-identical output. The socket calls run on accepted connections
 * carrying HTTP requests, so that under the shim they take the tracked path (parsing,
 * request begin/end) and not only the one-look-up path. */
#include <errno.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

static void show(const char *what, const char *res, int err)
{
	const char *name = err == 1234 ? "(kept)" : err ? strerrorname_np(err) : "";
	printf("%-46s %-8s errno=%d %s\n", what, res, err, name ? name : "?");
}

static void show_long(const char *what, long r, int err)
{
	char b[32];
	snprintf(b, sizeof b, "%ld", r);
	show(what, b, err);
}

/* E: a call returning a count or status (printed as is). F: returning an fd (printed
 * as "fd" when >= 0). P: returning a pointer (printed as "ptr" or "NULL"). R: returning
 * an error number (posix_memalign, pthread_create), errno printed beside it. */
#define E(what, call) do { errno = 1234; long r_ = (long)(call); int e_ = errno; show_long(what, r_, e_); } while (0)
#define F(what, call, out) do { errno = 1234; int r_ = (call); int e_ = errno; out = r_; show(what, r_ >= 0 ? "fd" : "-1", e_); } while (0)
#define P(what, call, out) do { errno = 1234; void *r_ = (call); int e_ = errno; out = r_; show(what, r_ ? "ptr" : "NULL", e_); } while (0)
#define R(what, call) do { errno = 1234; int r_ = (call); int e_ = errno; char b_[32]; snprintf(b_, sizeof b_, "ret=%d", r_); show(what, b_, e_); } while (0)

static int lst, port;
/* Bad arguments the compiler cannot see (it would warn, rightly). */
static volatile int minus_one = -1;
static volatile size_t huge = SIZE_MAX / 2;

static int connect_to(void)
{
	int fd = connect_loopback(port, 0);
	if (fd < 0) {
		perror("connect");
		exit(2);
	}
	return fd;
}

static const char REQ[] = "GET /e HTTP/1.1\r\nHost: e\r\n\r\n"; /* 28 bytes */
static const char RESP[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"; /* 38 bytes */

/* Reads exactly n bytes; returns n, or what the last read returned. */
static long read_n(int fd, char *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, buf, n - got);
		if (r <= 0)
			return r;
		got += (size_t)r;
	}
	return (long)got;
}

static void *thread_fn(void *a)
{
	return a;
}

/* ---- the socket calls, on a tracked (accepted) connection ---- */

static void sockets(void)
{
	char buf[256];
	int s, c, x;
	lst = listen_loopback(0, SOCK_NONBLOCK, 16, &port);
	int p[2];
	if (pipe(p) != 0)
		exit(2);

	F("accept(pipe) ENOTSOCK", accept(p[0], NULL, NULL), x);
	F("accept(-1) EBADF", accept(-1, NULL, NULL), x);
	F("accept(nothing pending, nonblocking)", accept(lst, NULL, NULL), x);
	F("accept4(bad flags) EINVAL", accept4(lst, NULL, NULL, 0x40000000), x);
	c = connect_to();
	F("accept (ok)", accept(lst, NULL, NULL), s);
	int c2 = connect_to(), s2;
	F("accept4(SOCK_NONBLOCK) (ok)", accept4(lst, NULL, NULL, SOCK_NONBLOCK), s2);
	(void)x;

	/* Requests arrive; every way of reading them, each read a whole request. */
	for (int i = 0; i < 6; i++)
		write(c, REQ, 28);
	E("read (ok)", read(s, buf, 28));
	struct iovec v[2] = { { buf, 10 }, { buf + 10, 18 } };
	E("readv (ok)", readv(s, v, 2));
	E("recv (ok)", recv(s, buf, 28, 0));
	E("recvfrom (ok)", recvfrom(s, buf, 28, 0, NULL, NULL));
	struct msghdr m = { .msg_iov = v, .msg_iovlen = 2 };
	E("recvmsg (ok)", recvmsg(s, &m, 0));
	E("recv MSG_PEEK (ok)", recv(s, buf, 28, MSG_PEEK));
	E("recv (ok, after the peek)", recv(s, buf, 28, 0));
	/* ... and answered every way of writing. */
	E("write (ok)", write(s, RESP, 38));
	struct iovec w[2] = { { (void *)RESP, 20 }, { (void *)(RESP + 20), 18 } };
	E("writev (ok)", writev(s, w, 2));
	E("send (ok)", send(s, RESP, 38, 0));
	E("sendto (ok)", sendto(s, RESP, 38, 0, NULL, 0));
	struct msghdr wm = { .msg_iov = w, .msg_iovlen = 2 };
	E("sendmsg (ok)", sendmsg(s, &wm, 0));
	char tmpl[] = "/tmp/errno_check.XXXXXX";
	int f = mkstemp(tmpl);
	unlink(tmpl);
	write(f, RESP, 38);
	off_t off = 0;
	E("sendfile (ok)", sendfile(s, f, &off, 38));
	E("read on the client (6 answers)", read_n(c, buf, 6 * 38));

	/* Failures on the tracked connection and elsewhere. */
	E("recv(nothing to read, MSG_DONTWAIT) EAGAIN", recv(s, buf, 1, MSG_DONTWAIT));
	E("read(nonblocking, nothing) EAGAIN", read(s2, buf, 1));
	E("recvfrom(nonblocking, nothing) EAGAIN", recvfrom(s2, buf, 1, 0, NULL, NULL));
	E("recvmsg(nonblocking, nothing) EAGAIN", recvmsg(s2, &m, 0));
	E("read(-1) EBADF", read(-1, buf, 1));
	E("read(closed fd 1000) EBADF", read(1000, buf, 1));
	E("readv(iovcnt -1) EINVAL", readv(s, v, minus_one));
	E("recv(pipe) ENOTSOCK", recv(p[0], buf, 1, 0));
	E("recvfrom(-1) EBADF", recvfrom(-1, buf, 1, 0, NULL, NULL));
	E("recvmsg(pipe) ENOTSOCK", recvmsg(p[0], &m, 0));
	E("writev(iovcnt -1) EINVAL", writev(s, w, minus_one));
	E("send(pipe) ENOTSOCK", send(p[1], RESP, 1, 0));
	E("sendto(-1) EBADF", sendto(-1, RESP, 1, 0, NULL, 0));
	E("sendmsg(pipe) ENOTSOCK", sendmsg(p[1], &wm, 0));
	E("sendfile(out -1) EBADF", sendfile(-1, f, &off, 1));
	E("sendfile(in a socket) EINVAL", sendfile(s, s2, NULL, 1));
	/* The client side: a connection this process opened (tracked as outbound). */
	int one = 0;
	socklen_t ol = sizeof one;
	R("getsockopt(outbound, SO_ERROR) (ok)", getsockopt(c, SOL_SOCKET, SO_ERROR, &one, &ol));
	R("getsockopt(-1, SO_ERROR) EBADF", getsockopt(minus_one, SOL_SOCKET, SO_ERROR, &one, &ol));
	R("getsockopt(pipe) ENOTSOCK", getsockopt(p[1], SOL_SOCKET, SO_ERROR, &one, &ol));
	int refused_port, rl = listen_loopback(0, 0, 1, &refused_port);
	close(rl); /* nothing listens there now */
	struct sockaddr_in ra = { .sin_family = AF_INET, .sin_port = htons((uint16_t)refused_port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int o = socket(AF_INET, SOCK_STREAM, 0);
	R("connect(refused) ECONNREFUSED", connect(o, (struct sockaddr *)&ra, sizeof ra));
	R("connect(-1) EBADF", connect(minus_one, (struct sockaddr *)&ra, sizeof ra));
	R("connect(pipe) ENOTSOCK", connect(p[1], (struct sockaddr *)&ra, sizeof ra));
	R("connect(bad length) EINVAL", connect(o, (struct sockaddr *)&ra, 1));
	close(o);
	fcntl(c, F_SETFL, O_NONBLOCK);
	while (send(c, buf, sizeof buf, MSG_DONTWAIT) > 0) /* fill the peer's buffers */
		;
	E("write(outbound, full, nonblocking) EAGAIN", write(c, REQ, 28));
	E("writev(outbound, full) EAGAIN", writev(c, w, 2));
	E("send(outbound, full) EAGAIN", send(c, REQ, 28, 0));
	E("sendmsg(outbound, full) EAGAIN", sendmsg(c, &wm, 0));
	E("write(outbound, 0 bytes) (ok)", write(c, REQ, 0));
	/* The peer is gone: EPIPE (SIGPIPE ignored) on the tracked connection. */
	close(c);
	shutdown(s, SHUT_WR);
	E("write after shutdown EPIPE", write(s, RESP, 38));
	E("writev after shutdown EPIPE", writev(s, w, 2));
	E("send after shutdown EPIPE", send(s, RESP, 38, 0));
	E("sendto after shutdown EPIPE", sendto(s, RESP, 38, 0, NULL, 0));
	E("sendmsg after shutdown EPIPE", sendmsg(s, &wm, 0));
	off = 0;
	E("sendfile after shutdown EPIPE", sendfile(s, f, &off, 38));
	E("read after the peer closed (EOF)", read(s, buf, sizeof buf));
	E("write(pipe with no reader) EPIPE", (close(p[0]), write(p[1], "x", 1)));

	/* Closing, every way. */
	E("close(-1) EBADF", close(-1));
	E("close(1000) EBADF", close(1000));
	E("close(tracked) (ok)", close(s));
	E("close(tracked, again) EBADF", close(s));
	E("dup2(-1, f) EBADF", dup2(-1, f));
	E("dup2(f, -1) EBADF", dup2(f, -1));
	E("dup3(f, f) EINVAL", dup3(f, f, 0));
	E("dup3(bad flags) EINVAL", dup3(f, 900, 0x1234));
	int d;
	(void)d;
	F("dup2(f, tracked s2) (ok)", dup2(f, s2), d);
	F("dup2(f, f) (ok)", dup2(f, f), d);
	F("dup3(f, 900, O_CLOEXEC) (ok)", dup3(f, 900, O_CLOEXEC), d);
	E("close_range(10, 5) EINVAL", close_range(10, 5, 0));
	E("close_range(bad flags) EINVAL", close_range(900, 901, 0x8000));
	E("close_range(900, 901, CLOEXEC) (ok)", close_range(900, 901, CLOSE_RANGE_CLOEXEC));
	E("close_range(900, 901) (ok)", close_range(900, 901, 0));
	E("fcntl(900) after close_range EBADF", fcntl(900, F_GETFD));
	int c3 = connect_to();
	(void)c3;
	F("accept (ok, for fclose)", accept(lst, NULL, NULL), s);
	FILE *fp = fdopen(s, "r+");
	E("fclose(fdopen'ed tracked) (ok)", fclose(fp));
	E("fcntl after fclose EBADF", fcntl(s, F_GETFD));
	errno = 1234;
	closefrom(2000);
	show_long("closefrom(2000) (void)", 0, errno);
	E("close(f) (ok)", close(f));
	E("close(s2, a dup of f) (ok)", close(s2));
	E("close(c2) (ok)", close(c2));
}

/* ---- memory and threads ---- */

static void memory(void)
{
	void *p, *q;
	P("malloc(64) (ok)", malloc(64), p);
	E("free (ok)", (free(p), 0));
	E("free(NULL)", (free(NULL), 0));
	P("malloc(SIZE_MAX/2) ENOMEM", malloc(huge), p);
	P("calloc(4, 16) (ok)", calloc(4, 16), p);
	P("realloc(p, 4096) (ok)", realloc(p, 4096), q);
	P("realloc(p, SIZE_MAX/2) ENOMEM", realloc(q, huge), p);
	free(p ? p : q); /* a failed realloc leaves q alone */
	P("calloc(SIZE_MAX/2, 4) overflow ENOMEM", calloc(huge, 4), p);
	P("reallocarray(NULL, SIZE_MAX/2, 4) ENOMEM", reallocarray(NULL, huge, 4), p);
	P("reallocarray(NULL, 8, 8) (ok)", reallocarray(NULL, 8, 8), p);
	free(p);
	R("posix_memalign(64) (ok)", posix_memalign(&p, 64, 100));
	free(p);
	R("posix_memalign(alignment 3) EINVAL", posix_memalign(&p, 3, 100));
	R("posix_memalign(alignment 4: < sizeof(void*))", posix_memalign(&p, 4, 100));
	R("posix_memalign(huge) ENOMEM", posix_memalign(&p, 64, huge));
	P("aligned_alloc(64, 128) (ok)", aligned_alloc(64, 128), p);
	free(p);
	P("aligned_alloc(64, SIZE_MAX/2) ENOMEM", aligned_alloc(64, huge), p);
	P("aligned_alloc(3, 16) (alignment not a power of 2)", aligned_alloc(3, 16), p);
	free(p);
	P("aligned_alloc(64, 100) (size not a multiple)", aligned_alloc(64, 100), p);
	free(p);
	P("aligned_alloc(0, 16)", aligned_alloc(0, 16), p);
	free(p);
	P("memalign(3, 16) (alignment not a power of 2)", memalign(3, 16), p);
	free(p);
	P("memalign(0, 16)", memalign(0, 16), p);
	free(p);
	P("memalign(4096, 10) (ok)", memalign(4096, 10), p);
	free(p);
	P("memalign(64, SIZE_MAX/2) ENOMEM", memalign(64, huge), p);
	P("valloc(10) (ok)", valloc(10), p);
	free(p);
	P("valloc(SIZE_MAX/2) ENOMEM", valloc(huge), p);
	P("pvalloc(10) (ok)", pvalloc(10), p);
	free(p);
	P("pvalloc(SIZE_MAX/2) ENOMEM", pvalloc(huge), p);
	P("malloc(0) (ok)", malloc(0), p);
	E("malloc_usable_size(NULL)", (long)malloc_usable_size(NULL));
	free(p);

	pthread_t t;
	pthread_attr_t at;
	R("pthread_create (ok)", pthread_create(&t, NULL, thread_fn, NULL));
	pthread_join(t, NULL);
	pthread_attr_init(&at);
	pthread_attr_setstacksize(&at, SIZE_MAX / 4);
	R("pthread_create(huge stack) EAGAIN", pthread_create(&t, &at, thread_fn, NULL));
	pthread_attr_destroy(&at);
	pthread_attr_init(&at);
	pthread_attr_setinheritsched(&at, PTHREAD_EXPLICIT_SCHED);
	pthread_attr_setschedpolicy(&at, SCHED_FIFO);
	struct sched_param sp = { .sched_priority = 50 };
	pthread_attr_setschedparam(&at, &sp);
	/* As root it succeeds: that thread is joined, as any other. */
	int rc;
	R("pthread_create(SCHED_FIFO, unprivileged) EPERM", rc = pthread_create(&t, &at, thread_fn, NULL));
	if (rc == 0)
		pthread_join(t, NULL);
	pthread_attr_destroy(&at);
}

/* The calls that change the user (shim_cred.c): failing, succeeding without a change,
 * and, as root, a drop for good in a child (the shim gives the profile directory away
 * just before it). Last: a drop would change what every later call may do. */
static void users(void)
{
	E("setuid(-1) EINVAL", setuid((uid_t)-1));
	E("setuid(own uid) (ok)", setuid(getuid()));
	E("setreuid(-1, -1) (ok)", setreuid((uid_t)-1, (uid_t)-1));
	E("setresuid(-1, -1, -1) (ok)", setresuid((uid_t)-1, (uid_t)-1, (uid_t)-1));
	if (getuid() != 0)
		return;
	fflush(stdout);
	pid_t p = fork();
	if (p == 0) {
		E("setgid(65534) as root (ok)", setgid(65534));
		E("setuid(65534) as root (ok)", setuid(65534));
		E("setuid(0) once dropped EPERM", setuid(0));
		E("setresuid(0, 0, 0) once dropped EPERM", setresuid(0, 0, 0));
		fflush(stdout);
		_exit(0);
	}
	if (p > 0)
		waitpid(p, NULL, 0);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOFBF, 1 << 16); /* printf does not run between a call and its errno */
	sockets();
	memory();
	users();
	return 0;
}
