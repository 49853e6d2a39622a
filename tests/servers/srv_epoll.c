/* srv_epoll.c: a single-threaded epoll HTTP/1.1 server holding many keep-alive
 * connections at almost no cost of its own, so that what a connection costs the shim
 * can be measured (tests/integration/faults.sh): per connection it keeps a few bytes
 * in a table indexed by fd, allocated once at start-up.
 *
 * Every request is answered "ok\n" (Content-Length) once its head ("\r\n\r\n") has
 * been read; a request split across reads is handled, bodies are not (none is sent).
 *
 * Options: --port-file F (the bound port, written once listening), --conn-file F
 * (how many connections are open, rewritten whenever it changes, for a poller).
 * SIGTERM/SIGINT end the loop and return from main. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"

/* What a connection has seen of the end of a head: the last 3 bytes. */
struct conn {
	char tail[3];
	unsigned char ntail;
};

static volatile sig_atomic_t stopping;
static struct conn *conns;
static size_t nconns_max;
static long open_conns;
static const char *conn_file;

static void on_stop(int sig)
{
	(void)sig;
	stopping = 1;
}

static void write_count(void)
{
	char text[32];
	if (!conn_file)
		return;
	snprintf(text, sizeof text, "%ld\n", open_conns);
	write_file(conn_file, text);
}

/* Counts the request heads that end in buf (with the bytes carried over from the
 * last read) and keeps the last three bytes. */
static int heads_in(struct conn *c, const char *buf, size_t n)
{
	char w[4];
	int heads = 0;
	memcpy(w, c->tail, c->ntail);
	size_t have = c->ntail;
	for (size_t i = 0; i < n; i++) {
		if (have == 4) {
			memmove(w, w + 1, 3);
			have = 3;
		}
		w[have++] = buf[i];
		if (have == 4 && memcmp(w, "\r\n\r\n", 4) == 0) {
			heads++;
			have = 0;
		}
	}
	size_t keep = have > 3 ? 3 : have;
	memcpy(c->tail, w + have - keep, keep);
	c->ntail = (unsigned char)keep;
	return heads;
}

static void drop(int ep, int fd)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
	close(fd);
	open_conns--;
	write_count();
}

static void serve(int ep, int fd)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n";
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof buf);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		drop(ep, fd);
		return;
	}
	for (int h = heads_in(&conns[fd], buf, (size_t)n); h > 0; h--)
		if (write(fd, ok, sizeof ok - 1) != (ssize_t)(sizeof ok - 1)) {
			drop(ep, fd);
			return;
		}
}

static void accept_all(int ep, int lfd)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return; /* EAGAIN, or EMFILE: the rest wait in the backlog */
		struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
		if ((size_t)fd >= nconns_max || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
			close(fd);
			continue;
		}
		memset(&conns[fd], 0, sizeof conns[fd]);
		open_conns++;
		write_count();
	}
}

int main(int argc, char **argv)
{
	const char *port_file = NULL;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--port-file") == 0)
			port_file = argv[i + 1];
		else if (strcmp(argv[i], "--conn-file") == 0)
			conn_file = argv[i + 1];
	}
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	nconns_max = rl.rlim_cur == RLIM_INFINITY ? 1u << 20 : (size_t)rl.rlim_cur;
	conns = calloc(nconns_max, sizeof *conns);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	int port, lfd = listen_loopback(0, SOCK_NONBLOCK | SOCK_CLOEXEC, 4096, &port);
	if (!conns || lfd < 0) {
		perror("srv_epoll");
		return 1;
	}
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = lfd };
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	write_count();
	if (port_file && write_port_file(port_file, port) != 0)
		return 1;
	while (!stopping) {
		struct epoll_event evs[256];
		int n = epoll_wait(ep, evs, 256, 200);
		for (int i = 0; i < n; i++) {
			if (evs[i].data.fd == lfd)
				accept_all(ep, lfd);
			else
				serve(ep, evs[i].data.fd);
		}
	}
	return 0;
}
