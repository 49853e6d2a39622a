/* common.c: the helpers the toy servers share; see common.h. */
#include "common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

FILE *access_log;
pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
void (*on_eintr)(const char *call);

/* Keeps burn_cpu's result observable (per thread: burning threads do not race). */
static _Thread_local volatile double burn_sink;

/* ---- time and CPU ---- */

uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

__attribute__((noinline, noclone)) double burn_cpu(uint64_t ns)
{
	double x = 1.0;
	uint64_t end = clock_ns(CLOCK_THREAD_CPUTIME_ID) + ns;
	while (clock_ns(CLOCK_THREAD_CPUTIME_ID) < end) {
		for (int i = 0; i < 20000; i++)
			x = x * 1.0000001 + 0.000001;
		burn_sink = x;
	}
	return x;
}

/* ---- requests ---- */

long query_num(const char *target, const char *key, long def)
{
	const char *q = strchr(target, '?');
	size_t kl = strlen(key);
	while (q) {
		q++;
		if (strncmp(q, key, kl) == 0 && q[kl] == '=')
			return strtol(q + kl + 1, NULL, 10);
		q = strchr(q, '&');
	}
	return def;
}

int path_is(const char *target, const char *path)
{
	size_t n = strlen(path);
	return strncmp(target, path, n) == 0 && (target[n] == 0 || target[n] == '?');
}

/* ---- files and sockets ---- */

int write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR) {
			if (on_eintr)
				on_eintr("write");
			continue;
		}
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int write_file(const char *path, const char *text)
{
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return -1;
	fputs(text, f);
	if (fclose(f) != 0)
		return -1;
	return rename(tmp, path);
}

int write_port_file(const char *path, int port)
{
	char text[32];
	snprintf(text, sizeof text, "%d\n", port);
	return write_file(path, text);
}

int listen_loopback(int port, int flags, int backlog, int *bound)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM | flags, 0), one = 1;
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, backlog) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	*bound = ntohs(a.sin_port);
	return fd;
}

int connect_loopback(int port, int flags)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | flags, 0);
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

/* ---- the access log ---- */

void log_line(const char *fmt, ...)
{
	va_list ap;
	pthread_mutex_lock(&log_mu);
	if (access_log) {
		va_start(ap, fmt);
		vfprintf(access_log, fmt, ap);
		va_end(ap);
		fflush(access_log);
	}
	pthread_mutex_unlock(&log_mu);
}

/* ---- GET-only servers ---- */

void serve_gets(int fd, int (*serve_one)(int fd, const char *method, const char *target))
{
	char buf[8192];
	size_t have = 0;
	for (;;) {
		buf[have] = 0;
		char *end = strstr(buf, "\r\n\r\n");
		if (!end) {
			if (have >= sizeof buf - 1)
				break;
			ssize_t n = read(fd, buf + have, sizeof buf - 1 - have);
			if (n < 0 && errno == EINTR) {
				if (on_eintr)
					on_eintr("read");
				continue;
			}
			if (n <= 0)
				break;
			have += (size_t)n;
			continue;
		}
		char method[16], target[1024];
		if (sscanf(buf, "%15s %1023s", method, target) != 2)
			break;
		size_t used = (size_t)(end + 4 - buf);
		char *cl = strstr(buf, "Connection: close");
		int close_after = cl && cl < end;
		memmove(buf, buf + used, have - used);
		have -= used;
		if (serve_one(fd, method, target) != 0 || close_after)
			break;
	}
	close(fd);
}
