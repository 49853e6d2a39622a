/* srv_wait.c: a server whose requests wait, each in one known call, for wall-clock
 * profiles. GET /<kind>?ms=N waits about N ms in:
 *   recv     an upstream socket (SO_RCVTIMEO 5 s) whose peer answers after N ms
 *   poll     a pipe nobody writes, timeout N ms
 *   sleep    nanosleep
 *   mutex    pthread_mutex_lock of a mutex another thread holds for N ms
 *   connect  a blocking connect to a Unix listener whose backlog is full until a
 *            helper accepts, N ms later
 *   pipe     read of a pipe another thread writes N ms later
 * and /fast answers at once, /burn?ms=N after burning N ms of CPU (burn_cpu), /mixed?ms=N
 * after N/2 ms of CPU, N ms in recv and N/2 ms of CPU again. Every wait is in its own
 * noinline function, so profiles can be checked for it (wait_in_<kind>). Like services that treat EINTR as fatal, the
 * server aborts when any of these calls fails with EINTR (with SRV_WAIT_EINTR=log in
 * its environment it only says so and answers 500). The upstream's port is in
 * the response header x-upstream-port.
 * Usage: srv_wait --port-file F [--access-log F] */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

static int upstream_port;
static char unix_path[108];

static void fatal_eintr(const char *call)
{
	const char *mode = getenv("SRV_WAIT_EINTR");
	if (mode && !strcmp(mode, "log")) {
		fprintf(stderr, "srv_wait: %s failed with EINTR\n", call);
		return;
	}
	fprintf(stderr, "srv_wait: %s failed with EINTR: aborting\n", call);
	abort();
}

/* ---- the upstream: answers one byte, N ms after it reads the 4-byte N ---- */

static void *upstream_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	uint32_t ms;
	while (read(fd, &ms, sizeof ms) == (ssize_t)sizeof ms) {
		nap_ms((long)ms);
		if (write(fd, "x", 1) != 1)
			break;
	}
	close(fd);
	return NULL;
}

static void *upstream_main(void *arg)
{
	int lfd = (int)(intptr_t)arg;
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			continue;
		pthread_t t;
		if (pthread_create(&t, NULL, upstream_conn, (void *)(intptr_t)fd) == 0)
			pthread_detach(t);
		else
			close(fd);
	}
	return NULL;
}

__attribute__((noinline)) static int wait_in_recv(long ms)
{
	int fd = connect_loopback(upstream_port, SOCK_CLOEXEC);
	if (fd < 0)
		return -1;
	struct timeval tv = { 5, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	uint32_t m = (uint32_t)ms;
	char c;
	int rc = -1;
	if (write_all(fd, &m, sizeof m) == 0) {
		ssize_t n = recv(fd, &c, 1, 0);
		if (n < 0 && errno == EINTR)
			fatal_eintr("recv");
		rc = n == 1 ? 0 : -1;
	}
	close(fd);
	return rc;
}

__attribute__((noinline)) static int wait_in_poll(long ms)
{
	int p[2];
	if (pipe(p) != 0)
		return -1;
	struct pollfd f = { .fd = p[0], .events = POLLIN };
	int rc = poll(&f, 1, (int)ms);
	if (rc < 0 && errno == EINTR)
		fatal_eintr("poll");
	close(p[0]);
	close(p[1]);
	return rc == 0 ? 0 : -1;
}

__attribute__((noinline)) static int wait_in_sleep(long ms)
{
	struct timespec ts = { ms / 1000, ms % 1000 * 1000000L };
	if (nanosleep(&ts, NULL) != 0) {
		if (errno == EINTR)
			fatal_eintr("nanosleep");
		return -1;
	}
	return 0;
}

/* ---- mutex: a holder thread keeps it N ms ---- */

static pthread_mutex_t contended = PTHREAD_MUTEX_INITIALIZER;

struct hold { long ms; atomic_int taken; };

static void *holder(void *arg)
{
	struct hold *h = arg;
	pthread_mutex_lock(&contended);
	atomic_store(&h->taken, 1);
	nap_ms(h->ms);
	pthread_mutex_unlock(&contended);
	return NULL;
}

__attribute__((noinline)) static int wait_in_mutex(long ms)
{
	struct hold h = { ms, 0 };
	pthread_t t;
	if (pthread_create(&t, NULL, holder, &h) != 0)
		return -1;
	while (!atomic_load(&h.taken))
		sched_yield();
	int rc = pthread_mutex_lock(&contended);
	if (rc == EINTR)
		fatal_eintr("pthread_mutex_lock");
	if (rc == 0)
		pthread_mutex_unlock(&contended);
	pthread_join(t, NULL);
	return rc == 0 ? 0 : -1;
}

/* ---- connect: a Unix listener with backlog 0 and one connection always queued, so
 * a blocking connect waits until the acceptor takes one ---- */

static int unix_lfd = -1;
static pthread_mutex_t accept_mu = PTHREAD_MUTEX_INITIALIZER;

struct later { long ms; };

static void *accept_later(void *arg)
{
	struct later *l = arg;
	nap_ms(l->ms);
	pthread_mutex_lock(&accept_mu);
	int fd = accept(unix_lfd, NULL, NULL);
	pthread_mutex_unlock(&accept_mu);
	if (fd >= 0)
		close(fd);
	free(l);
	return NULL;
}

static int unix_connect(int flags)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	memcpy(a.sun_path, unix_path, sizeof a.sun_path);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

__attribute__((noinline)) static int wait_in_connect(long ms)
{
	struct later *l = malloc(sizeof *l);
	pthread_t t;
	if (!l)
		return -1;
	l->ms = ms;
	if (pthread_create(&t, NULL, accept_later, l) != 0) {
		free(l);
		return -1;
	}
	pthread_detach(t);
	int fd = unix_connect(0);
	if (fd < 0 && errno == EINTR)
		fatal_eintr("connect");
	if (fd < 0)
		return -1;
	close(fd); /* it stays queued at the listener, keeping the backlog full */
	return 0;
}

/* ---- pipe: another thread writes N ms later ---- */

struct pipe_job { long ms; int fd; };

static void *write_later(void *arg)
{
	struct pipe_job *j = arg;
	nap_ms(j->ms);
	if (write(j->fd, "x", 1) != 1)
		perror("srv_wait: pipe write");
	close(j->fd);
	free(j);
	return NULL;
}

__attribute__((noinline)) static int wait_in_pipe(long ms)
{
	int p[2];
	char c;
	struct pipe_job *j = malloc(sizeof *j);
	pthread_t t;
	if (!j || pipe(p) != 0) {
		free(j);
		return -1;
	}
	j->ms = ms;
	j->fd = p[1];
	if (pthread_create(&t, NULL, write_later, j) != 0) {
		close(p[0]);
		close(p[1]);
		free(j);
		return -1;
	}
	pthread_detach(t);
	ssize_t n = read(p[0], &c, 1);
	if (n < 0 && errno == EINTR)
		fatal_eintr("read");
	close(p[0]);
	return n == 1 ? 0 : -1;
}

static int serve_one(int fd, const char *method, const char *target)
{
	long ms = query_num(target, "ms", 300);
	int rc = 0, status = 200;
	(void)method;
	if (path_is(target, "/recv"))
		rc = wait_in_recv(ms);
	else if (path_is(target, "/poll"))
		rc = wait_in_poll(ms);
	else if (path_is(target, "/sleep"))
		rc = wait_in_sleep(ms);
	else if (path_is(target, "/mutex"))
		rc = wait_in_mutex(ms);
	else if (path_is(target, "/connect"))
		rc = wait_in_connect(ms);
	else if (path_is(target, "/pipe"))
		rc = wait_in_pipe(ms);
	else if (path_is(target, "/burn"))
		burn_cpu((uint64_t)ms * 1000000ull);
	else if (path_is(target, "/mixed")) { /* ms/2 of CPU, ms in recv, ms/2 of CPU */
		burn_cpu((uint64_t)ms * 500000ull);
		rc = wait_in_recv(ms);
		burn_cpu((uint64_t)ms * 500000ull);
	}
	else if (!path_is(target, "/fast"))
		status = 404;
	if (rc != 0)
		status = 500;
	char head[256];
	int n = snprintf(head, sizeof head,
			 "HTTP/1.1 %d X\r\nContent-Length: 3\r\nx-upstream-port: %d\r\n\r\nok\n",
			 status, upstream_port);
	log_line("%s %d\n", target, status);
	return write_all(fd, head, (size_t)n);
}

static void *conn_main(void *arg)
{
	serve_gets((int)(intptr_t)arg, serve_one);
	return NULL;
}

int main(int argc, char **argv)
{
	const char *port_file = NULL, *log_path = NULL;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--port-file"))
			port_file = argv[i + 1];
		else if (!strcmp(argv[i], "--access-log"))
			log_path = argv[i + 1];
	}
	signal(SIGPIPE, SIG_IGN);
	on_eintr = fatal_eintr;
	if (log_path)
		access_log = fopen(log_path, "a");

	int ufd = listen_loopback(0, SOCK_CLOEXEC, 64, &upstream_port);
	pthread_t t;
	if (ufd < 0 || pthread_create(&t, NULL, upstream_main, (void *)(intptr_t)ufd) != 0)
		return 1;
	/* An abstract name: nothing to clean up on disk. */
	snprintf(unix_path + 1, sizeof unix_path - 1, "srv_wait.%d", (int)getpid());
	unix_lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	memcpy(a.sun_path, unix_path, sizeof a.sun_path);
	if (unix_lfd < 0 || bind(unix_lfd, (struct sockaddr *)&a, sizeof a) != 0 ||
	    listen(unix_lfd, 0) != 0)
		return 1;
	/* Fill the backlog: connects that would block now are what /connect waits in. */
	for (int i = 0; i < 4; i++) {
		int fd = unix_connect(SOCK_NONBLOCK);
		if (fd < 0)
			break;
		close(fd);
	}

	int port;
	int lfd = listen_loopback(0, SOCK_CLOEXEC, 128, &port);
	if (lfd < 0 || (port_file && write_port_file(port_file, port) != 0))
		return 1;
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			continue;
		if (pthread_create(&t, NULL, conn_main, (void *)(intptr_t)fd) == 0)
			pthread_detach(t);
		else
			close(fd);
	}
}
