/* srv_pool.c: an HTTP/1.1 server that reads requests on one thread and computes them
 * on another, the way many C++ servers do: a reader thread per connection parses each
 * request, puts a job on a queue (mutex + condition variable) and waits for it to be
 * done (a condition variable per job); a pool of --workers threads (default 4) takes
 * jobs from the queue and runs them. The tests check that a slow request's CPU
 * profile follows the work to the pool thread.
 *
 *   /cpu?ms=N   a pool thread burns N ms of its CPU in pool_burn() (then burn_cpu)
 *   /           a pool thread answers at once
 *
 * Options: --port-file F, --access-log F ("GET TARGET STATUS" per answer),
 * --workers N. SIGTERM/SIGINT end it. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"

struct job {
	struct job *next;
	long ms;
	int done;
	pthread_cond_t done_cv;
};

static pthread_mutex_t queue_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queue_cv = PTHREAD_COND_INITIALIZER;
static struct job *queue_head, *queue_tail;

/* Its own frame above burn_cpu, so a profile names the pool's work (not static: the
 * profiles must show it under this name). */
void pool_burn(long ms);
__attribute__((noinline)) void pool_burn(long ms)
{
	burn_cpu((uint64_t)ms * 1000000ull);
	__asm__ volatile("" ::: "memory");
}

static void *worker_main(void *arg)
{
	(void)arg;
	for (;;) {
		pthread_mutex_lock(&queue_mu);
		while (!queue_head)
			pthread_cond_wait(&queue_cv, &queue_mu);
		struct job *j = queue_head;
		queue_head = j->next;
		if (!queue_head)
			queue_tail = NULL;
		pthread_mutex_unlock(&queue_mu);
		if (j->ms > 0)
			pool_burn(j->ms);
		pthread_mutex_lock(&queue_mu);
		j->done = 1;
		pthread_cond_signal(&j->done_cv);
		pthread_mutex_unlock(&queue_mu);
	}
	return NULL;
}

/* The reader's part: hand the job over, wait until it is done. */
static void run_in_pool(long ms)
{
	struct job j = { .ms = ms };
	pthread_cond_init(&j.done_cv, NULL);
	pthread_mutex_lock(&queue_mu);
	if (queue_tail)
		queue_tail->next = &j;
	else
		queue_head = &j;
	queue_tail = &j;
	pthread_cond_signal(&queue_cv);
	while (!j.done)
		pthread_cond_wait(&j.done_cv, &queue_mu);
	pthread_mutex_unlock(&queue_mu);
	pthread_cond_destroy(&j.done_cv);
}

static int serve_one(int fd, const char *method, const char *target)
{
	char resp[256];
	int status = 200;
	if (path_is(target, "/cpu"))
		run_in_pool(query_num(target, "ms", 100));
	else if (path_is(target, "/"))
		run_in_pool(0);
	else
		status = 404;
	int n = snprintf(resp, sizeof resp, "HTTP/1.1 %d %s\r\nContent-Length: 5\r\n\r\n%s",
			 status, status == 200 ? "OK" : "Not Found", status == 200 ? "done\n" : "none\n");
	log_line("%s %s %d\n", method, target, status);
	return write_all(fd, resp, (size_t)n);
}

static void *reader_main(void *arg)
{
	serve_gets((int)(intptr_t)arg, serve_one);
	return NULL;
}

static volatile sig_atomic_t stopping;
static void on_stop(int sig) { (void)sig; stopping = 1; }

int main(int argc, char **argv)
{
	const char *port_file = NULL, *log_path = NULL;
	int workers = 4, port;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--port-file") == 0)
			port_file = argv[i + 1];
		else if (strcmp(argv[i], "--access-log") == 0)
			log_path = argv[i + 1];
		else if (strcmp(argv[i], "--workers") == 0)
			workers = atoi(argv[i + 1]);
	}
	if (log_path && !(access_log = fopen(log_path, "a")))
		return 1;
	struct sigaction sa = { .sa_handler = on_stop };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	for (int i = 0; i < workers; i++) {
		pthread_t th;
		if (pthread_create(&th, NULL, worker_main, NULL) != 0)
			return 1;
		pthread_detach(th);
	}
	int lfd = listen_loopback(0, SOCK_CLOEXEC, 128, &port);
	if (lfd < 0 || (port_file && write_port_file(port_file, port) != 0))
		return 1;
	while (!stopping) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR)
				continue;
			nap_ms(10);
			continue;
		}
		pthread_t th;
		if (pthread_create(&th, NULL, reader_main, (void *)(intptr_t)fd) != 0) {
			close(fd);
			continue;
		}
		pthread_detach(th);
	}
	return 0;
}
