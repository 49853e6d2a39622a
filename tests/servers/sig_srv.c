/* sig_srv.c: the service of tests/integration/signals.sh, one program with a mode per
 * case. Every mode serves the same small HTTP/1.1 server (a thread per connection,
 * keep-alive, GET only) and appends "METHOD TARGET STATUS" to LOGDIR/access.log for
 * each answer, so the test can compare what was served with what the shim counted.
 *
 *   own LOGDIR PORTFILE    a service with its own SIGPROF business, from the environment:
 *       SIGSRV_WHEN = ctor (a constructor, before main) | main | late (on GET /install)
 *       SIGSRV_DISP = handler (sigaction, SA_SIGINFO) | signal (signal()) | ign (SIG_IGN)
 *                     | dfl (SIG_DFL: a service resetting its signals)
 *       SIGSRV_HZ   = N > 0: then setitimer(ITIMER_PROF) at N Hz, after the disposition
 *                     (and SIGSRV_GAP_MS of CPU burned in between)
 *     GET /cpu?ms=N burns N ms of thread CPU. GET /stats answers
 *       "signals=S foreign=F expected=E saw_dfl=D": S signals its handler got, F of them
 *       not from its own itimer (si_code other than SI_KERNEL; handler mode only), E the
 *       process CPU time since its itimer started times N (what ITIMER_PROF owes it),
 *       D 1 if the old action it was shown was SIG_DFL (as without the shim).
 *   eintr LOGDIR PORTFILE  a service that treats EINTR as fatal: every accept, poll,
 *       read, write, nanosleep, epoll_wait, select and recv (on a socket with
 *       SO_RCVTIMEO) aborts the process if it fails with EINTR (SIGSRV_EINTR=count:
 *       counts instead, and GET /eintr answers "eintr=N main=M", M of them in
 *       the main thread's accept loop, which sleeps in poll nearly all the time). GET /mix?ms=N: for N ms of
 *       wall time, alternately burns 2 ms of CPU and makes each of those calls once
 *       (each times out after 1 ms or finds data at once). GET /masked?ms=N burns N ms
 *       of CPU with SIGPROF blocked in the serving thread.
 *   stress LOGDIR PORTFILE SECS DSO   for SECS seconds: three threads allocate and free
 *       all the time, one dlopens/dlcloses libm, libz and DSO, one creates and joins
 *       threads; GET /work?ms=N does all of that on the serving thread for N ms. Then
 *       the workers are joined, "stress ok" printed, and main returns 0.
 * The main thread accepts (poll + accept on a non-blocking listener) until SIGTERM or
 * the end of a stress run. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

static _Atomic int stopping; /* set by the SIGTERM handler or the stress timer thread (lock-free: signal-safe) */
static const char *mode;

/* ---- helpers ---- */

static const char *env_or(const char *name, const char *def)
{
	const char *v = getenv(name);
	return v && *v ? v : def;
}

/* ---- EINTR is fatal (eintr mode) ---- */

static _Atomic long eintr_seen, eintr_main; /* all; the main thread's poll */
static int eintr_count_only;

/* A call failed with EINTR: that aborts (or is counted). Also common.c's on_eintr, for
 * the reads and writes of serve_gets and write_all. */
static void eintr_fatal(const char *what)
{
	if (eintr_seen++ < 20 || !eintr_count_only)
		fprintf(stderr, "sig_srv: %s failed with EINTR\n", what);
	if (!eintr_count_only)
		abort();
}

/* Every checked call goes through here. */
static long chk(long rc, const char *what)
{
	if (rc < 0 && errno == EINTR)
		eintr_fatal(what);
	return rc;
}

static int checked(void)
{
	return strcmp(mode, "eintr") == 0;
}

static int respond(int fd, int status, const char *body)
{
	char head[256];
	int n = snprintf(head, sizeof head,
			 "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\nContent-Type: text/plain\r\n\r\n",
			 status, status == 200 ? "OK" : "Not Found", strlen(body));
	if (write_all(fd, head, (size_t)n) != 0)
		return -1;
	return write_all(fd, body, strlen(body));
}

/* ---- own: the service's SIGPROF ---- */

static _Atomic long own_signals, own_foreign;
static _Atomic uint64_t itimer_cpu0; /* process CPU when the itimer started, 0 = none */
static int saw_dfl = -1;

static void on_prof_info(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)uc;
	own_signals++;
	if (si->si_code != SI_KERNEL)
		own_foreign++;
}

static void on_prof_plain(int sig)
{
	(void)sig;
	own_signals++;
}

static void own_install(void)
{
	const char *disp = env_or("SIGSRV_DISP", "handler");
	long hz = atol(env_or("SIGSRV_HZ", "0"));
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	if (strcmp(disp, "signal") == 0) {
		void (*prev)(int) = signal(SIGPROF, on_prof_plain);
		saw_dfl = prev == SIG_DFL;
	} else {
		if (strcmp(disp, "handler") == 0) {
			sa.sa_sigaction = on_prof_info;
			sa.sa_flags |= SA_SIGINFO;
		} else {
			sa.sa_handler = strcmp(disp, "ign") == 0 ? SIG_IGN : SIG_DFL;
		}
		if (sigaction(SIGPROF, &sa, &old) != 0) {
			perror("sig_srv: sigaction");
			exit(1);
		}
		saw_dfl = !(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_DFL;
	}
	/* SIGSRV_GAP_MS: CPU burned between the disposition and the itimer, so that a tick
	 * of ours reaching the handler meanwhile would be counted as foreign. */
	burn_cpu((uint64_t)atol(env_or("SIGSRV_GAP_MS", "0")) * 1000000ull);
	if (hz > 0) {
		long us = 1000000L / hz;
		struct itimerval it = { { us / 1000000L, us % 1000000L }, { us / 1000000L, us % 1000000L } };
		itimer_cpu0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
		if (setitimer(ITIMER_PROF, &it, NULL) != 0) {
			perror("sig_srv: setitimer");
			exit(1);
		}
	}
}

__attribute__((constructor)) static void own_ctor(void)
{
	const char *when = getenv("SIGSRV_WHEN");
	if (when && strcmp(when, "ctor") == 0)
		own_install();
}

static int own_handler(int fd, const char *target)
{
	char body[256];
	if (path_is(target, "/install")) {
		own_install();
		return respond(fd, 200, "installed\n");
	}
	if (path_is(target, "/stats")) {
		uint64_t c0 = itimer_cpu0;
		double expected = 0;
		if (c0)
			expected = (double)(clock_ns(CLOCK_PROCESS_CPUTIME_ID) - c0) / 1e9 *
				   (double)atol(env_or("SIGSRV_HZ", "0"));
		snprintf(body, sizeof body, "signals=%ld foreign=%ld expected=%.0f saw_dfl=%d\n",
			 (long)own_signals, (long)own_foreign, expected, saw_dfl);
		return respond(fd, 200, body);
	}
	return -2;
}

/* ---- eintr: every blocking call checked ---- */

static int idle_pipe[2] = { -1, -1 }, data_pipe[2] = { -1, -1 };

/* One of each kind of call, each bounded: a timeout of 1 ms or data already there. */
static void mix_round(int ep, int sock)
{
	struct pollfd p = { .fd = idle_pipe[0], .events = POLLIN };
	chk(poll(&p, 1, 1), "poll");
	struct timespec ts = { 0, 1000000L };
	chk(nanosleep(&ts, NULL), "nanosleep");
	struct epoll_event ev;
	chk(epoll_wait(ep, &ev, 1, 1), "epoll_wait");
	fd_set rd;
	FD_ZERO(&rd);
	FD_SET(idle_pipe[0], &rd);
	struct timeval tv = { 0, 1000 };
	chk(select(idle_pipe[0] + 1, &rd, NULL, NULL, &tv), "select");
	char c;
	chk(recv(sock, &c, 1, 0), "recv (SO_RCVTIMEO)"); /* EAGAIN after 1 ms */
	if (chk(write(data_pipe[1], "x", 1), "write") == 1)
		chk(read(data_pipe[0], &c, 1), "read");
}

static void mix(long ms)
{
	int sv[2], ep = epoll_create1(EPOLL_CLOEXEC);
	struct timeval to = { 0, 1000 };
	struct epoll_event ev = { .events = EPOLLIN };
	if (ep < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		abort();
	setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &to, sizeof to);
	epoll_ctl(ep, EPOLL_CTL_ADD, idle_pipe[0], &ev);
	uint64_t end = clock_ns(CLOCK_MONOTONIC) + (uint64_t)ms * 1000000ull;
	while (clock_ns(CLOCK_MONOTONIC) < end) {
		burn_cpu(2000000);
		mix_round(ep, sv[0]);
	}
	close(sv[0]);
	close(sv[1]);
	close(ep);
}

static int eintr_handler(int fd, const char *target)
{
	char body[64];
	if (path_is(target, "/mix")) {
		mix(query_num(target, "ms", 100));
		return respond(fd, 200, "mixed\n");
	}
	if (path_is(target, "/masked")) {
		/* A thread that keeps SIGPROF blocked while it computes (as pools that leave
		 * signals to one thread do): a process-directed tick it cannot take goes to
		 * another thread, perhaps one asleep in a call. */
		sigset_t prof, old;
		sigemptyset(&prof);
		sigaddset(&prof, SIGPROF);
		pthread_sigmask(SIG_BLOCK, &prof, &old);
		burn_cpu((uint64_t)query_num(target, "ms", 100) * 1000000ull);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		return respond(fd, 200, "masked\n");
	}
	if (path_is(target, "/eintr")) {
		snprintf(body, sizeof body, "eintr=%ld main=%ld\n", (long)eintr_seen, (long)eintr_main);
		return respond(fd, 200, body);
	}
	return -2;
}

/* ---- stress: malloc, dlopen and the unwinder under signals ---- */

static _Atomic int stress_stop;
static _Atomic long n_allocs, n_dlopens, n_threads, n_failed;
static const char *stress_dso;

static void alloc_some(uint64_t *seed)
{
	void *keep[64];
	for (int i = 0; i < 64; i++) {
		*seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
		size_t n = 16 + (size_t)((*seed >> 33) % 65536);
		keep[i] = (i & 3) == 0 ? calloc(1, n) : malloc(n);
		if (!keep[i])
			n_failed++;
		else
			((char *)keep[i])[n - 1] = 1;
		if ((i & 7) == 7 && keep[i])
			keep[i] = realloc(keep[i], n * 2);
	}
	for (int i = 0; i < 64; i++)
		free(keep[i]);
	n_allocs += 64;
}

static void dl_some(unsigned i)
{
	const char *const libs[] = { "libm.so.6", "libz.so.1", stress_dso };
	const char *const syms[] = { "cos", "zlibVersion", "proc_dso_ping" };
	int k = (int)(i % 3);
	void *h = dlopen(libs[k], i & 4 ? RTLD_LAZY : RTLD_NOW);
	if (!h || !dlsym(h, syms[k]))
		n_failed++;
	if (h)
		dlclose(h);
	n_dlopens++;
}

static void *nothing(void *arg)
{
	free(malloc(64));
	return arg;
}

static void thread_some(void)
{
	pthread_t t;
	if (pthread_create(&t, NULL, nothing, NULL) != 0) {
		n_failed++;
		return;
	}
	pthread_join(t, NULL);
	n_threads++;
}

static void *alloc_main(void *arg)
{
	uint64_t seed = (uint64_t)(uintptr_t)arg * 88172645463325252ull + 1;
	while (!stress_stop)
		alloc_some(&seed);
	return NULL;
}

static void *dl_main(void *arg)
{
	(void)arg;
	for (unsigned i = 0; !stress_stop; i++)
		dl_some(i);
	return NULL;
}

static void *thr_main(void *arg)
{
	(void)arg;
	while (!stress_stop)
		thread_some();
	return NULL;
}

static int stress_handler(int fd, const char *target)
{
	if (!path_is(target, "/work"))
		return -2;
	uint64_t seed = (uint64_t)fd * 2654435761ull + 7;
	uint64_t end = clock_ns(CLOCK_MONOTONIC) + (uint64_t)query_num(target, "ms", 100) * 1000000ull;
	for (unsigned i = 0; clock_ns(CLOCK_MONOTONIC) < end; i++) {
		alloc_some(&seed);
		if (i % 8 == 0)
			dl_some(i / 8);
		if (i % 32 == 0)
			thread_some();
	}
	return respond(fd, 200, "worked\n");
}

/* ---- the server ---- */

static int serve_one(int fd, const char *method, const char *target)
{
	int status = 200, rc = -2;
	if (strcmp(mode, "own") == 0)
		rc = own_handler(fd, target);
	else if (strcmp(mode, "eintr") == 0)
		rc = eintr_handler(fd, target);
	else if (strcmp(mode, "stress") == 0)
		rc = stress_handler(fd, target);
	if (rc != -2) {
		/* the mode's own endpoint */
	} else if (path_is(target, "/cpu")) {
		burn_cpu((uint64_t)query_num(target, "ms", 100) * 1000000ull);
		rc = respond(fd, 200, "burned\n");
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

static void start_thread(void *(*fn)(void *), void *arg, pthread_t *out)
{
	pthread_t t;
	if (pthread_create(&t, NULL, fn, arg) != 0) {
		fputs("sig_srv: pthread_create failed\n", stderr);
		exit(1);
	}
	if (out)
		*out = t;
	else
		pthread_detach(t);
}

static void on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

static int listen_on(const char *port_file)
{
	int port, fd = listen_loopback(0, SOCK_CLOEXEC | SOCK_NONBLOCK, 128, &port);
	if (fd < 0) {
		perror("sig_srv: listen");
		exit(1);
	}
	if (write_port_file(port_file, port) != 0) {
		perror(port_file);
		exit(1);
	}
	return fd;
}

/* Until SIGTERM (or stopping set by main's timer thread in stress mode). */
static void accept_loop(int lfd)
{
	while (!stopping) {
		struct pollfd p = { .fd = lfd, .events = POLLIN };
		int n = poll(&p, 1, 50);
		if (n < 0 && stopping)
			break; /* SIGTERM, the test's own signal */
		if (n < 0 && errno == EINTR)
			eintr_main++;
		if (checked())
			chk(n, "poll (accept loop)");
		if (n <= 0)
			continue;
		int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (checked())
			chk(c, "accept");
		if (c >= 0)
			start_thread(conn_main, (void *)(intptr_t)c, NULL);
	}
}

static void *stress_timer(void *arg)
{
	nap_ms((long)(intptr_t)arg * 1000);
	stopping = 1;
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fputs("usage: sig_srv own|eintr|stress LOGDIR PORTFILE [SECS DSO] (see the source)\n", stderr);
		return 2;
	}
	mode = argv[1];
	char path[4096];
	snprintf(path, sizeof path, "%s/access.log", argv[2]);
	if (!(access_log = fopen(path, "a"))) {
		perror(path);
		return 1;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(mode, "own") == 0 && strcmp(env_or("SIGSRV_WHEN", ""), "main") == 0)
		own_install();
	pthread_t workers[5];
	int nworkers = 0;
	if (strcmp(mode, "eintr") == 0) {
		eintr_count_only = strcmp(env_or("SIGSRV_EINTR", "abort"), "count") == 0;
		on_eintr = eintr_fatal;
		if (pipe2(idle_pipe, O_CLOEXEC) != 0 || pipe2(data_pipe, O_CLOEXEC) != 0)
			return 1;
	} else if (strcmp(mode, "stress") == 0) {
		if (argc < 6)
			return 2;
		stress_dso = argv[5];
		for (intptr_t i = 0; i < 3; i++)
			start_thread(alloc_main, (void *)(i + 1), &workers[nworkers++]);
		start_thread(dl_main, NULL, &workers[nworkers++]);
		start_thread(thr_main, NULL, &workers[nworkers++]);
		start_thread(stress_timer, (void *)(intptr_t)atol(argv[4]), NULL);
	} else if (strcmp(mode, "own") != 0) {
		fprintf(stderr, "sig_srv: unknown mode %s\n", mode);
		return 2;
	}
	accept_loop(listen_on(argv[3]));
	if (nworkers) {
		stress_stop = 1;
		for (int i = 0; i < nworkers; i++)
			pthread_join(workers[i], NULL);
		printf("allocs=%ld dlopens=%ld threads=%ld failed=%ld\n", (long)n_allocs,
		       (long)n_dlopens, (long)n_threads, (long)n_failed);
		printf("stress %s\n", n_failed == 0 ? "ok" : "FAILED");
		return n_failed == 0 ? 0 : 1;
	}
	return 0;
}
