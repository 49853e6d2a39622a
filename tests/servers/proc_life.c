/* proc_life.c: the process-life cases of tests/integration/process.sh, one program
 * with a mode per case. Every mode that serves runs the same small HTTP/1.1 server:
 * a thread per connection, keep-alive, GET only (bodies are not read), and on every
 * answer an "X-Pid: <pid>" header and a line "METHOD TARGET STATUS" in
 * LOGDIR/access-<pid>.log, so a test can tell which process served what and compare
 * each process's log with its own otshim-stats-<pid>.json.
 *
 * Endpoints: /            "ok\n"
 *            /cpu?ms=N    burns N ms of this thread's CPU in burn_cpu()
 *            /sleep?ms=N  sleeps N ms
 *            /fork?n=N    (prefork only) forks N workers, answers with their pids
 *
 * Modes (LOGDIR must be absolute; stdout is what the test compares with and without
 * the shim, so it only ever says things that do not depend on timing or pids):
 *   prefork LOGDIR PORTFILE   serves; /fork makes workers that accept on the same
 *                             socket. SIGTERM: the workers are stopped and reaped
 *                             (bounded), then main returns.
 *   spawn LOGDIR SELF         serves itself from a client thread (slow requests
 *                             included) while main runs /bin/true, a missing program
 *                             and "SELF child LOGDIR" through fork+exec, vfork+exec
 *                             and posix_spawn, printing each child's status.
 *   child LOGDIR              prints the fds it inherited, serves itself three requests,
 *                             prints their bodies, returns 0.
 *   daemon LOGDIR PORTFILE [nochdir]
 *                             daemon(nochdir, 0), then serves until SIGTERM and
 *                             returns 0; LOGDIR/daemon.pid says who it is.
 *   exit HOW LOGDIR           serves itself three requests, leaves a fourth burning
 *                             CPU on another thread, then ends by HOW: exit (exit(3)),
 *                             _exit (_exit(4)), return (returns 5), segv
 *                             (raise(SIGSEGV)), term (kill(getpid(), SIGTERM)), abort.
 *   closefrom LOGDIR [dl]     four rounds of: 4 slow requests, repeatedly every fd but
 *                             stdio and its listener closed and its log and 8 pipes
 *                             opened again (with dl: then a new library dlopen'ed),
 *                             two more requests; says whether the log and pipes
 *                             stayed intact.
 *   dlstorm LOGDIR PORTFILE SECS DSO
 *                             serves while two threads dlopen/dlsym/dlclose libm,
 *                             libz, libresolv and DSO for SECS seconds; then returns.
 *
 * A serving process's main thread waits in ppoll() with SIGTERM unblocked only there
 * (no lost wake-up) on a non-blocking listener, since several processes may accept on
 * it at once. */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

extern char **environ;

#define MAX_WORKERS 16

static const char *log_dir;
/* Set by the SIGTERM handler, read by every thread: atomic (lock-free, so safe in a
 * handler), where a plain sig_atomic_t would be a data race between threads. */
static _Atomic int stopping;
static int listen_fd = -1;
static int listen_port;

/* ---- helpers ---- */

static void open_access_log(void)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/access-%d.log", log_dir, (int)getpid());
	access_log = fopen(path, "ae"); /* close-on-exec: children list their fds */
	if (!access_log) {
		perror(path);
		exit(1);
	}
}

/* ---- the server ---- */

static int (*extra_handler)(int fd, const char *target); /* a mode's own endpoints */

static int respond(int fd, int status, const char *body)
{
	char head[256];
	int n = snprintf(head, sizeof head,
			 "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\nContent-Type: text/plain\r\n"
			 "X-Pid: %d\r\n\r\n",
			 status, status == 200 ? "OK" : "Not Found", strlen(body), (int)getpid());
	if (write_all(fd, head, (size_t)n) != 0)
		return -1;
	return write_all(fd, body, strlen(body));
}

static int serve_one(int fd, const char *method, const char *target)
{
	int status = 200, rc;
	if (extra_handler && (rc = extra_handler(fd, target)) != -2) {
		/* handled by the mode */
	} else if (path_is(target, "/cpu")) {
		burn_cpu((uint64_t)query_num(target, "ms", 100) * 1000000ull);
		rc = respond(fd, 200, "burned\n");
	} else if (path_is(target, "/sleep")) {
		nap_ms(query_num(target, "ms", 100));
		rc = respond(fd, 200, "slept\n");
	} else if (path_is(target, "/")) {
		rc = respond(fd, 200, "ok\n");
	} else {
		status = 404;
		rc = respond(fd, 404, "not found\n");
	}
	log_line("%s %s %d\n", method, target, status);
	return rc;
}

static void *conn_main(void *arg)
{
	serve_gets((int)(intptr_t)arg, serve_one);
	return NULL;
}

static void on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

/* SIGTERM blocked everywhere but in ppoll(). Call before any thread starts. */
static void setup_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigset_t term;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &term, NULL);
}

static void listen_or_die(const char *port_file)
{
	listen_fd = listen_loopback(0, SOCK_CLOEXEC | SOCK_NONBLOCK, 512, &listen_port);
	if (listen_fd < 0) {
		perror("proc_life: listen");
		exit(1);
	}
	if (port_file && write_port_file(port_file, listen_port) != 0) {
		perror(port_file);
		exit(1);
	}
}

static void start_thread(void *(*fn)(void *), void *arg)
{
	pthread_t t;
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &a, fn, arg) != 0) {
		fputs("proc_life: pthread_create failed\n", stderr);
		exit(1);
	}
	pthread_attr_destroy(&a);
}

/* Accepts until SIGTERM (or stopping set otherwise); returns 0. */
static int accept_loop(void)
{
	sigset_t open_mask;
	pthread_sigmask(SIG_SETMASK, NULL, &open_mask);
	sigdelset(&open_mask, SIGTERM);
	while (!stopping) {
		struct pollfd p = { .fd = listen_fd, .events = POLLIN };
		struct timespec tick = { 0, 100 * 1000000L }; /* for stopping set by a thread */
		if (ppoll(&p, 1, &tick, &open_mask) <= 0)
			continue;
		int c = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue; /* EAGAIN: another process took it */
		start_thread(conn_main, (void *)(intptr_t)c);
	}
	return 0;
}

/* A thread that allocates and frees all the time, so forks and exits land while
 * another thread is inside malloc. */
static void *busy_main(void *arg)
{
	(void)arg;
	uint64_t x = 88172645463325252ull;
	for (;;) {
		void *p[16];
		for (int i = 0; i < 16; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			p[i] = malloc(16 + (size_t)(x % 65536));
			if (p[i])
				((volatile char *)p[i])[0] = 1;
		}
		for (int i = 0; i < 16; i++)
			free(p[i]);
		nap_ms(1);
	}
	return NULL;
}

/* ---- an in-process client ---- */

/* GET path from our own listener; the body goes to out (NUL-terminated). 0 = 200. */
static int self_get(const char *path, char *out, size_t cap)
{
	int fd = connect_loopback(listen_port, SOCK_CLOEXEC);
	char req[1200], buf[4096];
	size_t have = 0;
	if (fd < 0)
		return -1;
	int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
	if (write_all(fd, req, (size_t)n) != 0) {
		close(fd);
		return -1;
	}
	for (;;) {
		ssize_t got = read(fd, buf + have, sizeof buf - 1 - have);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		have += (size_t)got;
		if (have == sizeof buf - 1)
			break;
	}
	close(fd);
	buf[have] = 0;
	char *body = strstr(buf, "\r\n\r\n");
	if (out && cap)
		snprintf(out, cap, "%s", body ? body + 4 : "");
	return strncmp(buf, "HTTP/1.1 200 ", 13) == 0 ? 0 : -1;
}

/* Serves on a thread of its own (the accept loop), for modes whose main thread is busy. */
static void *accept_thread(void *arg)
{
	(void)arg;
	accept_loop();
	return NULL;
}

static void serve_in_background(void)
{
	listen_or_die(NULL);
	start_thread(accept_thread, NULL);
}

/* ---- prefork ---- */

static pthread_mutex_t fork_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t fork_cv = PTHREAD_COND_INITIALIZER;
static int fork_want, fork_done;
static pid_t workers[MAX_WORKERS];
static int nworkers;

/* Closes every socket but the listener: the connections a worker inherited are its
 * parent's to answer. */
static void close_inherited_sockets(void)
{
	int fds[1024], n = 0;
	struct stat st;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL && n < 1024)
		if (e->d_name[0] != '.')
			fds[n++] = atoi(e->d_name);
	if (d)
		closedir(d);
	for (int i = 0; i < n; i++)
		if (fds[i] != listen_fd && fstat(fds[i], &st) == 0 && S_ISSOCK(st.st_mode))
			close(fds[i]);
}

/* In a fresh worker (its only thread): its own log, the inherited connections closed
 * (one with the request that asked for this fork still unanswered), then it serves. */
static void worker_main(void)
{
	pthread_mutex_lock(&log_mu);
	if (access_log)
		fclose(access_log);
	access_log = NULL;
	pthread_mutex_unlock(&log_mu);
	close_inherited_sockets();
	nworkers = 0;
	extra_handler = NULL;
	open_access_log();
	start_thread(busy_main, NULL);
	exit(accept_loop());
}

/* Forks on request, from a thread that is neither serving nor accepting, while the
 * others go on: the request asking for it is still unanswered meanwhile. */
static void *forker_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&fork_mu);
	for (;;) {
		while (!fork_want)
			pthread_cond_wait(&fork_cv, &fork_mu);
		for (int i = 0; i < fork_want && nworkers < MAX_WORKERS; i++) {
			pthread_mutex_lock(&log_mu); /* no child may inherit it held */
			pid_t p = fork();
			pthread_mutex_unlock(&log_mu);
			if (p == 0) {
				pthread_mutex_unlock(&fork_mu);
				worker_main();
			}
			if (p > 0)
				workers[nworkers++] = p;
		}
		fork_want = 0;
		fork_done = 1;
		pthread_cond_broadcast(&fork_cv);
	}
	return NULL;
}

static int prefork_handler(int fd, const char *target)
{
	if (!path_is(target, "/fork"))
		return -2;
	char body[16 * MAX_WORKERS + 2] = "";
	pthread_mutex_lock(&fork_mu);
	int before = nworkers;
	fork_want = (int)query_num(target, "n", 2);
	fork_done = 0;
	pthread_cond_broadcast(&fork_cv);
	while (!fork_done)
		pthread_cond_wait(&fork_cv, &fork_mu);
	for (int i = before; i < nworkers; i++)
		snprintf(body + strlen(body), sizeof body - strlen(body), "%d ", (int)workers[i]);
	pthread_mutex_unlock(&fork_mu);
	strcat(body, "\n");
	return respond(fd, 200, body);
}

/* Stops the workers: SIGTERM, then up to 5 s each before SIGKILL. Returns how many
 * did not exit with status 0. */
static int reap_workers(void)
{
	int bad = 0;
	for (int i = 0; i < nworkers; i++)
		kill(workers[i], SIGTERM);
	for (int i = 0; i < nworkers; i++) {
		int st = 0, waited = 0;
		while (waitpid(workers[i], &st, WNOHANG) == 0) {
			if (++waited == 500) {
				kill(workers[i], SIGKILL);
				waitpid(workers[i], &st, 0);
				break;
			}
			nap_ms(10);
		}
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			bad++;
	}
	printf("workers: %d, stopped cleanly: %d\n", nworkers, nworkers - bad);
	return bad;
}

static int mode_prefork(int argc, char **argv)
{
	if (argc < 4)
		return 2;
	setup_signals();
	listen_or_die(argv[3]);
	open_access_log();
	extra_handler = prefork_handler;
	start_thread(busy_main, NULL);
	start_thread(forker_main, NULL);
	accept_loop();
	pthread_mutex_lock(&fork_mu); /* no fork in progress from here */
	int bad = reap_workers();
	fflush(stdout);
	return bad ? 1 : 0;
}

/* ---- exec family ---- */

static _Atomic int client_stop;
static _Atomic int client_done;
static _Atomic int slow_done;

/* Keeps the server busy: fast requests and, every fourth, a slow one. */
static void *client_main(void *arg)
{
	(void)arg;
	for (unsigned i = 0; !client_stop; i++) {
		if (self_get(i % 4 == 3 ? "/cpu?ms=120" : "/", NULL, 0) == 0 && i % 4 == 3)
			slow_done++;
	}
	client_done = 1;
	return NULL;
}

static int wait_status(pid_t p)
{
	int st;
	while (waitpid(p, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return st;
}

static void describe(const char *how, const char *prog, int st)
{
	if (st < 0)
		printf("%s %s: wait failed\n", how, prog);
	else if (WIFEXITED(st))
		printf("%s %s: exit %d\n", how, prog, WEXITSTATUS(st));
	else
		printf("%s %s: signal %d\n", how, prog, WTERMSIG(st));
	fflush(stdout);
}

static void run_fork_exec(char *const *args)
{
	fflush(stdout);
	pid_t p = fork();
	if (p == 0) {
		execv(args[0], args);
		_exit(127);
	}
	describe("fork+exec", args[0], p < 0 ? -1 : wait_status(p));
}

static void run_vfork_exec(char *const *args)
{
	fflush(stdout);
	pid_t p = vfork();
	if (p == 0) {
		execv(args[0], args);
		_exit(127);
	}
	describe("vfork+exec", args[0], p < 0 ? -1 : wait_status(p));
}

static void run_posix_spawn(char *const *args)
{
	pid_t p;
	posix_spawn_file_actions_t fa;
	fflush(stdout);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	int rc = posix_spawn(&p, args[0], &fa, NULL, args, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		printf("posix_spawn %s: error %s\n", args[0], rc == ENOENT ? "ENOENT" : "other");
	else
		describe("posix_spawn", args[0], wait_status(p));
}

static int mode_spawn(int argc, char **argv)
{
	if (argc < 4)
		return 2;
	char *truth[] = { "/bin/true", NULL }, *missing[] = { "/nonexistent/proc-life", NULL };
	char *self[] = { argv[3], "child", argv[2], NULL };
	void (*how[])(char *const *) = { run_fork_exec, run_vfork_exec, run_posix_spawn };
	unsetenv("OTSHIM_PPROF_ADDR"); /* read at start; the children would compete for the port */
	setup_signals();
	open_access_log();
	serve_in_background();
	start_thread(busy_main, NULL);
	start_thread(client_main, NULL);
	for (int i = 0; i < 500 && slow_done < 2; i++)
		nap_ms(10); /* the shim has profiled something: its files and fds exist */
	for (int h = 0; h < 3; h++) {
		for (int i = 0; i < 10; i++)
			how[h](truth);
		how[h](missing);
		how[h](self);
	}
	/* Its last request answered before main returns: one served while exit handlers
	 * write the stats would be logged but not counted (seen when instrumented). */
	client_stop = 1;
	for (int i = 0; i < 500 && !client_done; i++)
		nap_ms(10);
	return 0;
}

/* The fds this process inherited across exec, lowest first, on one line: those open
 * and not close-on-exec as main() starts (whatever a constructor opens for itself,
 * as the shim's libunwind does, is close-on-exec). */
static void print_fds(void)
{
	int fds[256], n = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL && n < 256) {
		int fd = atoi(e->d_name), fl;
		if (e->d_name[0] != '.' && fd != dirfd(d) && (fl = fcntl(fd, F_GETFD)) >= 0 &&
		    !(fl & FD_CLOEXEC))
			fds[n++] = fd;
	}
	if (d)
		closedir(d);
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && fds[j - 1] > fds[j]; j--) {
			int t = fds[j];
			fds[j] = fds[j - 1];
			fds[j - 1] = t;
		}
	printf("child fds:");
	for (int i = 0; i < n; i++) {
		char link[64], target[512];
		printf(" %d", fds[i]);
		snprintf(link, sizeof link, "/proc/self/fd/%d", fds[i]);
		ssize_t k = readlink(link, target, sizeof target - 1);
		target[k > 0 ? k : 0] = 0;
		if (fds[i] > 2) /* what leaked, for the test's diagnostics */
			fprintf(stderr, "inherited fd %d -> %s\n", fds[i], target);
	}
	printf("\n");
}

static int mode_child(int argc, char **argv)
{
	static const char *const paths[] = { "/", "/cpu?ms=150", "/sleep?ms=10" };
	char body[256];
	(void)argv; /* LOGDIR is argv[2], taken by main */
	if (argc < 3)
		return 2;
	print_fds();
	setup_signals();
	open_access_log();
	serve_in_background();
	for (int i = 0; i < 3; i++) {
		int rc = self_get(paths[i], body, sizeof body);
		printf("child %s: %s %s", paths[i], rc == 0 ? "200" : "failed", body);
	}
	fflush(stdout);
	return 0;
}

/* ---- daemon ---- */

static int mode_daemon(int argc, char **argv)
{
	char text[32], path[4096];
	if (argc < 4)
		return 2;
	int nochdir = argc > 4 && strcmp(argv[4], "nochdir") == 0;
	if (daemon(nochdir, 0) != 0) {
		perror("daemon");
		return 1;
	}
	setup_signals();
	open_access_log();
	listen_or_die(argv[3]);
	snprintf(text, sizeof text, "%d\n", (int)getpid());
	snprintf(path, sizeof path, "%s/daemon.pid", argv[2]);
	write_file(path, text);
	return accept_loop();
}

/* ---- exit ---- */

static void *slow_client(void *arg)
{
	(void)arg;
	self_get("/cpu?ms=3000", NULL, 0);
	return NULL;
}

static int mode_exit(int argc, char **argv)
{
	static const char *const paths[] = { "/", "/cpu?ms=150", "/" };
	if (argc < 4)
		return 2;
	const char *how = argv[2];
	log_dir = argv[3];
	setup_signals();
	open_access_log();
	serve_in_background();
	start_thread(busy_main, NULL);
	int ok = 0;
	for (int i = 0; i < 3; i++)
		ok += self_get(paths[i], NULL, 0) == 0;
	start_thread(slow_client, NULL);
	nap_ms(300); /* that request is slow now: its thread is being sampled */
	printf("served %d, ending by %s\n", ok, how);
	fflush(stdout);
	if (strcmp(how, "exit") == 0)
		exit(3);
	if (strcmp(how, "_exit") == 0)
		_exit(4);
	if (strcmp(how, "segv") == 0) {
		signal(SIGSEGV, SIG_DFL);
		raise(SIGSEGV);
	}
	if (strcmp(how, "term") == 0) {
		sigset_t term;
		sigemptyset(&term);
		sigaddset(&term, SIGTERM);
		signal(SIGTERM, SIG_DFL);
		pthread_sigmask(SIG_UNBLOCK, &term, NULL);
		kill(getpid(), SIGTERM);
		pause();
	}
	if (strcmp(how, "abort") == 0)
		abort();
	return 5;
}

/* ---- closefrom ---- */

/* What a daemon does after start-up: closes every descriptor but stdio (and here its
 * listener), then opens its own. Whatever the shim holds at that moment (the files of
 * the profile it is writing for the slow request just answered, the symboliser's)
 * must not come back to close or write into the new ones. Four rounds, each: four
 * slow requests at once, then over and over while the shim writes their profiles
 * (until its index file has their lines, 1.5 s at most; without the shim CYCLES
 * times) every descriptor closed (by a close() loop, or close_range around the
 * listener) and the log and PIPES pipes opened again, a byte in each; with DL, a
 * library the process had not loaded is dlopen'ed, so the shim's symboliser starts
 * afresh for the next profile; two more requests. Before each closing, and at the
 * end, the log and every pipe must still be what the service opened, holding what it
 * wrote. */
enum { PIPES = 8, CYCLES = 6, ROUNDS = 4, SLOW_BATCH = 4 };

/* Lines in the shim's index file (OTSHIM_PROFILE_DIR/index.jsonl); -1 without. */
static long index_lines(void)
{
	const char *dir = getenv("OTSHIM_PROFILE_DIR");
	char path[4096], buf[4096];
	long n = 0;
	if (!dir)
		return -1;
	snprintf(path, sizeof path, "%s/index.jsonl", dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	for (ssize_t k; (k = read(fd, buf, sizeof buf)) > 0;)
		for (ssize_t i = 0; i < k; i++)
			n += buf[i] == '\n';
	close(fd);
	return n;
}


struct reopened {
	int p[PIPES][2];
	struct stat log_st, pipe_st[PIPES];
};

static void close_all_but_listener(int how)
{
	if (how % 2 == 0) {
		for (int fd = 3; fd < 1024; fd++)
			if (fd != listen_fd)
				close(fd);
		return;
	}
	if (listen_fd > 3)
		close_range(3, (unsigned int)listen_fd - 1, 0);
	close_range((unsigned int)listen_fd + 1, ~0u, 0);
}

static int reopen_all(struct reopened *r, int how)
{
	pthread_mutex_lock(&log_mu);
	fclose(access_log);
	close_all_but_listener(how);
	access_log = NULL;
	pthread_mutex_unlock(&log_mu);
	open_access_log();
	if (fstat(fileno(access_log), &r->log_st) != 0)
		return -1;
	for (int i = 0; i < PIPES; i++)
		if (pipe2(r->p[i], O_NONBLOCK) != 0 || fstat(r->p[i][0], &r->pipe_st[i]) != 0 ||
		    write(r->p[i][1], "x", 1) != 1)
			return -1;
	return 0;
}

/* Adds to *intact the pipes that are still ours with their one byte; 0 when the log
 * is not the file opened any more. */
static int still_intact(const struct reopened *r, int *intact)
{
	struct stat st;
	char buf[8];
	for (int i = 0; i < PIPES; i++) {
		int same = fstat(r->p[i][0], &st) == 0 && st.st_ino == r->pipe_st[i].st_ino &&
			   st.st_dev == r->pipe_st[i].st_dev;
		ssize_t k = same ? read(r->p[i][0], buf, sizeof buf) : -1;
		*intact += k == 1 && buf[0] == 'x';
		if (!(k == 1 && buf[0] == 'x'))
			fprintf(stderr, "pipe on fds %d, %d: %s\n", r->p[i][0], r->p[i][1],
				!same ? "not the pipe opened" : k < 0 ? strerror(errno) : "other bytes");
	}
	int log_same = fstat(fileno(access_log), &st) == 0 && st.st_ino == r->log_st.st_ino &&
		       st.st_dev == r->log_st.st_dev;
	if (!log_same)
		fprintf(stderr, "log on fd %d: not the file opened\n", fileno(access_log));
	return log_same;
}

static void *slow_get_main(void *arg)
{
	*(int *)arg = self_get("/cpu?ms=150", NULL, 0) == 0;
	if (!*(int *)arg)
		fprintf(stderr, "a slow request failed\n");
	return NULL;
}

/* n slow requests at once: the shim then writes n profile sets in a row. */
static int slow_batch(int n)
{
	pthread_t t[SLOW_BATCH];
	int got[SLOW_BATCH] = { 0 }, ok = 0;
	for (int i = 0; i < n; i++)
		if (pthread_create(&t[i], NULL, slow_get_main, &got[i]) != 0)
			return ok;
	for (int i = 0; i < n; i++) {
		pthread_join(t[i], NULL);
		ok += got[i];
	}
	return ok;
}

static int mode_closefrom(int argc, char **argv)
{
	static const char *const libs[ROUNDS] = { "libresolv.so.2", "libanl.so.1", "libnss_files.so.2", "libutil.so.1" };
	int dl = argc > 3 && strcmp(argv[3], "dl") == 0;
	struct reopened r;
	int ok = 0, log_same = 1, intact = 0, cycles = 0;
	if (argc < 3)
		return 2;
	setup_signals();
	open_access_log();
	serve_in_background();
	for (int round = 0; round < ROUNDS; round++) {
		long before = index_lines();
		ok += slow_batch(SLOW_BATCH); /* the shim writes their profiles now */
		uint64_t end = clock_ns(CLOCK_MONOTONIC) + 1500000000ull;
		for (int c = 0; before < 0 ? c < CYCLES : c == 0 || (index_lines() < before + SLOW_BATCH &&
		     clock_ns(CLOCK_MONOTONIC) < end); c++, cycles++) {
			if (round + c > 0)
				log_same &= still_intact(&r, &intact);
			if (reopen_all(&r, c) != 0)
				return 1;
			nap_ms(2);
		}
		if (dl && !dlopen(libs[round], RTLD_NOW))
			fprintf(stderr, "dlopen %s: %s\n", libs[round], dlerror());
		for (int i = 0; i < 2; i++)
			ok += self_get("/cpu?ms=150", NULL, 0) == 0;
	}
	log_same &= still_intact(&r, &intact);
	fprintf(stderr, "log on fd %d, pipes on fds %d to %d; %d closings, pipes intact: %d of %d\n",
		fileno(access_log), r.p[0][0], r.p[PIPES - 1][1], cycles, intact, PIPES * cycles);
	printf("served %d; log fd still the log: %s; every pipe intact: %s\n", ok, log_same ? "yes" : "no",
	       intact == PIPES * cycles ? "yes" : "no");
	fflush(stdout);
	return 0;
}

/* ---- dlopen storm ---- */

static _Atomic int storm_stop;
static _Atomic long storm_cycles, storm_failed;

static void *storm_main(void *arg)
{
	const char *dso = arg;
	const char *const libs[] = { "libm.so.6", "libz.so.1", "libresolv.so.2", dso };
	const char *const syms[] = { "cos", "zlibVersion", "__res_state", "proc_dso_ping" };
	for (unsigned i = 0; !storm_stop; i++) {
		int k = (int)(i % 4);
		void *h = dlopen(libs[k], (i & 4 ? RTLD_LAZY : RTLD_NOW) | (i & 8 ? RTLD_GLOBAL : RTLD_LOCAL));
		if (!h || !dlsym(h, syms[k]))
			storm_failed++;
		if (h && k == 3) {
			int (*ping)(void) = (int (*)(void))dlsym(h, syms[k]);
			if (!ping || ping() != 42)
				storm_failed++;
		}
		if (h)
			dlclose(h);
		storm_cycles++;
	}
	return NULL;
}

static int mode_dlstorm(int argc, char **argv)
{
	if (argc < 6)
		return 2;
	long secs = atol(argv[4]);
	pthread_t t[2];
	setup_signals();
	open_access_log();
	listen_or_die(argv[3]);
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, storm_main, argv[5]);
	start_thread(accept_thread, NULL);
	uint64_t end = clock_ns(CLOCK_MONOTONIC) + (uint64_t)secs * 1000000000ull;
	while (!stopping && clock_ns(CLOCK_MONOTONIC) < end)
		nap_ms(20);
	storm_stop = 1;
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	stopping = 1;
	fprintf(stderr, "dlopen/dlclose cycles: %ld, failed: %ld\n", (long)storm_cycles,
		(long)storm_failed);
	printf("storm %s\n", storm_failed == 0 && storm_cycles > 0 ? "ok" : "FAILED");
	return storm_failed == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fputs("usage: proc_life prefork|spawn|child|daemon|exit|closefrom|dlstorm ARGS (see the source)\n",
		      stderr);
		return 2;
	}
	const char *mode = argv[1];
	log_dir = argv[2];
	if (strcmp(mode, "prefork") == 0)
		return mode_prefork(argc, argv);
	if (strcmp(mode, "spawn") == 0)
		return mode_spawn(argc, argv);
	if (strcmp(mode, "child") == 0)
		return mode_child(argc, argv);
	if (strcmp(mode, "daemon") == 0)
		return mode_daemon(argc, argv);
	if (strcmp(mode, "exit") == 0)
		return mode_exit(argc, argv);
	if (strcmp(mode, "dlstorm") == 0)
		return mode_dlstorm(argc, argv);
	if (strcmp(mode, "closefrom") == 0)
		return mode_closefrom(argc, argv);
	fprintf(stderr, "proc_life: unknown mode %s\n", mode);
	return 2;
}
