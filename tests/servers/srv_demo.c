/* srv_demo.c: the demo and test service: a thread-per-connection HTTP/1.1 server with
 * keep-alive and pipelining. Endpoints:
 *   /             fast "ok"
 *   /cpu?ms=N     burns N ms of this thread's CPU time in burn_cpu(); the response
 *                 carries X-Thread-Cpu-Ns (CPU the handler used) and X-Wall-Ns
 *   /sleep?ms=N   sleeps N ms
 *   /big?kb=N     an N KiB body written in several writes
 *   /chunked      a chunked response
 * Options: --port N (0: any), --port-file F, --access-log F (one line per answer).
 * Reads with read()/recv(), writes with write()/writev()/send(), so every interposer
 * the shim has is exercised by real traffic. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define BUF_MAX 65536

static FILE *access_log;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static volatile sig_atomic_t stopping;
static int listen_fd = -1;

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Real arithmetic the compiler cannot drop; checks the clock only now and then so
 * the time goes to user code, not to clock_gettime. */
double burn_cpu(uint64_t ns);
__attribute__((noinline)) double burn_cpu(uint64_t ns)
{
	volatile double x = 1.0;
	uint64_t end = clock_ns(CLOCK_THREAD_CPUTIME_ID) + ns;
	while (clock_ns(CLOCK_THREAD_CPUTIME_ID) < end)
		for (int i = 0; i < 20000; i++)
			x = x * 1.0000001 + 0.000001;
	return x;
}

static long query_num(const char *target, const char *key, long def)
{
	const char *q = strchr(target, '?');
	size_t kl = strlen(key);
	while (q) {
		q++;
		if (strncmp(q, key, kl) == 0 && q[kl] == '=')
			return atol(q + kl + 1);
		q = strchr(q, '&');
	}
	return def;
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

/* Head and body through writev, as many servers do. */
static __thread int answering_head; /* HEAD: headers only, as HTTP requires */

static int respond(int fd, int status, const char *extra, const char *body, size_t blen, int close_after)
{
	char head[512];
	int n = snprintf(head, sizeof head,
			 "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\nContent-Type: text/plain\r\n%s%s\r\n",
			 status, status == 200 ? "OK" : "Not Found", blen, extra ? extra : "",
			 close_after ? "Connection: close\r\n" : "");
	if (answering_head)
		return send_all(fd, head, (size_t)n);
	struct iovec v[2] = { { head, (size_t)n }, { (void *)body, blen } };
	ssize_t w = writev(fd, v, 2);
	if (w < 0)
		return -1;
	if ((size_t)w < (size_t)n + blen) { /* finish a short writev */
		size_t done = (size_t)w;
		if (done < (size_t)n && send_all(fd, head + done, (size_t)n - done))
			return -1;
		size_t boff = done > (size_t)n ? done - (size_t)n : 0;
		return send_all(fd, body + boff, blen - boff);
	}
	return 0;
}

static int handle_big(int fd, long kb, int close_after)
{
	char head[256], chunk[4096];
	memset(chunk, 'b', sizeof chunk);
	size_t total = (size_t)kb * 1024;
	int n = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n%s\r\n", total,
			 close_after ? "Connection: close\r\n" : "");
	if (write(fd, head, (size_t)n) != n)
		return -1;
	while (total > 0) {
		size_t k = total < sizeof chunk ? total : sizeof chunk;
		ssize_t w = write(fd, chunk, k);
		if (w <= 0)
			return -1;
		total -= (size_t)w;
	}
	return 0;
}

static int handle_chunked(int fd)
{
	const char *parts[] = { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "5\r\nhello\r\n",
				"7\r\n, world\r\n", "0\r\n\r\n" };
	for (size_t i = 0; i < 4; i++)
		if (send_all(fd, parts[i], strlen(parts[i])))
			return -1;
	return 0;
}

static void log_line(const char *method, const char *target, int status)
{
	if (!access_log)
		return;
	pthread_mutex_lock(&log_mu);
	fprintf(access_log, "%s %s %d\n", method, target, status);
	fflush(access_log);
	pthread_mutex_unlock(&log_mu);
}

/* Answers one request. Returns -1 to close the connection. */
static int serve(int fd, const char *method, const char *target, int close_after)
{
	char extra[128];
	int status = 200, rc;
	answering_head = strcmp(method, "HEAD") == 0;
	if (strncmp(target, "/cpu", 4) == 0 && (target[4] == 0 || target[4] == '?')) {
		uint64_t w0 = clock_ns(CLOCK_MONOTONIC), c0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
		burn_cpu((uint64_t)query_num(target, "ms", 100) * 1000000ull);
		snprintf(extra, sizeof extra, "X-Thread-Cpu-Ns: %llu\r\nX-Wall-Ns: %llu\r\n",
			 (unsigned long long)(clock_ns(CLOCK_THREAD_CPUTIME_ID) - c0),
			 (unsigned long long)(clock_ns(CLOCK_MONOTONIC) - w0));
		rc = respond(fd, 200, extra, "burned\n", 7, close_after);
	} else if (strncmp(target, "/sleep", 6) == 0) {
		long ms = query_num(target, "ms", 100);
		struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
		rc = respond(fd, 200, NULL, "slept\n", 6, close_after);
	} else if (strncmp(target, "/big", 4) == 0) {
		rc = handle_big(fd, query_num(target, "kb", 64), close_after);
	} else if (strcmp(target, "/chunked") == 0) {
		rc = handle_chunked(fd);
	} else if (strcmp(target, "/") == 0 || strncmp(target, "/?", 2) == 0) {
		rc = respond(fd, 200, NULL, "ok\n", 3, close_after);
	} else {
		status = 404;
		rc = respond(fd, 404, NULL, "not found\n", 10, close_after);
	}
	log_line(method, target, status);
	return rc;
}

/* Parses one complete request head at buf (NUL-terminated head of hlen bytes). */
static int parse_head(char *buf, size_t hlen, char *method, char *target, size_t *body_len,
		      int *close_after)
{
	char version[16];
	if (sscanf(buf, "%15s %1023s %15s", method, target, version) != 3)
		return -1;
	*body_len = 0;
	*close_after = strcmp(version, "HTTP/1.0") == 0;
	for (char *line = strstr(buf, "\n"); line && line < buf + hlen; line = strstr(line + 1, "\n")) {
		if (strncasecmp(line + 1, "Content-Length:", 15) == 0)
			*body_len = (size_t)atol(line + 16);
		else if (strncasecmp(line + 1, "Connection:", 11) == 0) {
			if (strcasestr(line + 12, "close") && strcasestr(line + 12, "close") < strchr(line + 1, '\n'))
				*close_after = 1;
			else if (strcasestr(line + 12, "keep-alive"))
				*close_after = 0;
		}
	}
	return 0;
}

static void *conn_main(void *arg)
{
	int fd = (int)(long)arg;
	char *buf = malloc(BUF_MAX + 1);
	size_t have = 0;
	int use_recv = fd & 1; /* alternate read() and recv() across connections */
	while (buf && !stopping) {
		char *end = NULL;
		buf[have] = 0;
		while (!(end = strstr(buf, "\r\n\r\n"))) {
			if (have >= BUF_MAX)
				goto out;
			ssize_t n = use_recv ? recv(fd, buf + have, BUF_MAX - have, 0)
					     : read(fd, buf + have, BUF_MAX - have);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				goto out;
			have += (size_t)n;
			buf[have] = 0;
		}
		size_t hlen = (size_t)(end - buf) + 4, blen;
		char method[16], target[1024];
		int close_after;
		end[2] = 0;
		if (parse_head(buf, hlen, method, target, &blen, &close_after) != 0)
			goto out;
		while (have < hlen + blen) { /* read and discard the body */
			if (hlen + blen > BUF_MAX)
				goto out;
			ssize_t n = read(fd, buf + have, BUF_MAX - have);
			if (n <= 0)
				goto out;
			have += (size_t)n;
		}
		if (serve(fd, method, target, close_after) != 0 || close_after)
			goto out;
		memmove(buf, buf + hlen + blen, have - hlen - blen);
		have -= hlen + blen;
	}
out:
	free(buf);
	close(fd);
	return NULL;
}

static void on_stop(int sig)
{
	(void)sig;
	stopping = 1;
	if (listen_fd >= 0)
		shutdown(listen_fd, SHUT_RDWR);
}

int main(int argc, char **argv)
{
	int port = 0;
	const char *port_file = NULL;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--port") == 0)
			port = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--port-file") == 0)
			port_file = argv[i + 1];
		else if (strcmp(argv[i], "--access-log") == 0)
			access_log = fopen(argv[i + 1], "a");
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t alen = sizeof a;
	if (bind(listen_fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(listen_fd, 512) != 0 ||
	    getsockname(listen_fd, (struct sockaddr *)&a, &alen) != 0) {
		perror("srv_demo: listen");
		return 1;
	}
	printf("listening on %d\n", ntohs(a.sin_port));
	fflush(stdout);
	if (port_file) {
		FILE *f = fopen(port_file, "w");
		if (f) {
			fprintf(f, "%d\n", ntohs(a.sin_port));
			fclose(f);
		}
	}
	while (!stopping) {
		int c = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			break;
		}
		pthread_t th;
		pthread_attr_t at;
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&th, &at, conn_main, (void *)(long)c) != 0)
			close(c);
		pthread_attr_destroy(&at);
	}
	close(listen_fd);
	if (access_log)
		fclose(access_log);
	return 0;
}
