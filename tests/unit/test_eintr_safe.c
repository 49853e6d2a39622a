/* test_eintr_safe.c: the syscall-file parser and the "may it be signalled" judgement
 * (runtime/sample/eintr_safe.c), table-style, then probes of real threads asleep in poll (not
 * safe) and in an untimed condition wait (safe), and of a socket with SO_RCVTIMEO. */
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "t.h"
#include "sample/eintr_safe.h"

static int timeouts_seen;
static int no_timeout(int fd, int which) { (void)fd; (void)which; return 0; }
static int has_timeout(int fd, int which) { (void)fd; (void)which; timeouts_seen++; return 1; }

static int parse_ok(const char *s, rt_eintr_safe_state_t *st) { return rt_eintr_safe_parse(s, strlen(s), st); }

/* A syscall line for nr with arguments a1..a4 (the rest zero). */
static const char *line(long nr, unsigned long a1, unsigned long a2, unsigned long a4)
{
	static char b[256];
	snprintf(b, sizeof b, "%ld 0x%lx 0x%lx 0x0 0x%lx 0x0 0x0 0x7ffd0000 0x7f0012345678\n", nr, a1,
		 a2, a4);
	return b;
}

static int safe_line(long nr, unsigned long a1, unsigned long a2, unsigned long a4,
		     rt_eintr_safe_timeout_fn f)
{
	rt_eintr_safe_state_t st;
	if (parse_ok(line(nr, a1, a2, a4), &st) != 0)
		return -1;
	return rt_eintr_safe_safe(&st, f);
}

static pid_t tid_of_poller, tid_of_waiter;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int stop;

static void *poller(void *arg)
{
	(void)arg;
	__atomic_store_n(&tid_of_poller, (pid_t)syscall(SYS_gettid), __ATOMIC_SEQ_CST);
	poll(NULL, 0, 3000);
	return NULL;
}

static void *waiter(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	__atomic_store_n(&tid_of_waiter, (pid_t)syscall(SYS_gettid), __ATOMIC_SEQ_CST);
	while (!stop)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	return NULL;
}

/* Probes tid until it is asleep in a call (or 2 s pass). */
static int probe_asleep(pid_t tid, rt_eintr_safe_state_t *st)
{
	for (int i = 0; i < 200; i++) {
		if (rt_eintr_safe_probe(tid, st) == 0 && st->kind == RT_EINTR_SAFE_SYSCALL)
			return 0;
		struct timespec ts = { 0, 10000000L };
		nanosleep(&ts, NULL);
	}
	return -1;
}

int main(void)
{
	rt_eintr_safe_state_t st;

	/* ---- the three forms ---- */
	ok(parse_ok("running\n", &st) == 0 && st.kind == RT_EINTR_SAFE_RUNNING, "running");
	ok(parse_ok("-1 0x7ffc1000 0x401234\n", &st) == 0 && st.kind == RT_EINTR_SAFE_USER &&
	   st.sp == 0x7ffc1000 && st.pc == 0x401234, "-1 sp pc: off a CPU in user code");
	ok(parse_ok("7 0x7ffd1 0x1 0x32 0x0 0x0 0x0 0x7ffd0000 0x7f0012345678\n", &st) == 0 &&
	   st.kind == RT_EINTR_SAFE_SYSCALL && st.nr == 7 && st.args[0] == 0x7ffd1 && st.args[2] == 0x32 &&
	   st.sp == 0x7ffd0000 && st.pc == 0x7f0012345678, "nr a1..a6 sp pc");
	ok(rt_eintr_safe_parse("7 0x1 0x2", 9, &st) == -1, "a short line is refused");
	ok(parse_ok("", &st) == -1 && parse_ok("garbage\n", &st) == -1 && parse_ok("7 0xzz\n", &st) == -1,
	   "empty and non-numeric text is refused");
	ok(rt_eintr_safe_parse("running", 4, &st) == -1, "only len bytes are read");

	/* ---- the judgement ---- */
	ok(parse_ok("running\n", &st) == 0 && rt_eintr_safe_safe(&st, has_timeout), "running: safe");
	ok(parse_ok("-1 0x1 0x2\n", &st) == 0 && rt_eintr_safe_safe(&st, has_timeout), "user code: safe");
#ifdef SYS_poll
	is_int(safe_line(SYS_poll, 0, 1, 0, no_timeout), 0, "poll: not safe");
#endif
	is_int(safe_line(SYS_ppoll, 0, 1, 0, no_timeout), 0, "ppoll: not safe");
	is_int(safe_line(SYS_epoll_pwait, 3, 0, 0, no_timeout), 0, "epoll_pwait: not safe");
	is_int(safe_line(SYS_clock_nanosleep, 1, 0, 0, no_timeout), 0, "clock_nanosleep: not safe");
	is_int(safe_line(SYS_rt_sigtimedwait, 0, 0, 0, no_timeout), 0, "sigtimedwait: not safe");
	is_int(safe_line(SYS_connect, 3, 0, 0, no_timeout), 0, "connect: not on the list");
	is_int(safe_line(SYS_futex, 0x1000, FUTEX_WAIT_PRIVATE, 0, no_timeout), 1,
	       "futex FUTEX_WAIT without a timeout: safe");
	is_int(safe_line(SYS_futex, 0x1000, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME,
			 0, no_timeout), 1, "futex FUTEX_WAIT_BITSET without a timeout: safe");
	is_int(safe_line(SYS_futex, 0x1000, FUTEX_WAIT_BITSET, 0x7ffd00, no_timeout), 0,
	       "a timed futex wait (sem_timedwait, cond_timedwait): not safe");
	is_int(safe_line(SYS_futex, 0x1000, FUTEX_LOCK_PI, 0, no_timeout), 0, "other futex ops: not safe");
	is_int(safe_line(SYS_wait4, 0, 0, 0, has_timeout), 1, "wait4: safe");
	is_int(safe_line(SYS_flock, 3, 2, 0, has_timeout), 1, "flock: safe");
	is_int(safe_line(SYS_read, 3, 0, 0, no_timeout), 1, "read, no socket timeout: safe");
	timeouts_seen = 0;
	is_int(safe_line(SYS_recvfrom, 3, 0, 0, has_timeout), 0, "recvfrom on a socket with SO_RCVTIMEO: not safe");
	is_int(safe_line(SYS_accept4, 3, 0, 0, has_timeout), 0, "accept4 likewise");
	is_int(safe_line(SYS_sendmsg, 3, 0, 0, has_timeout), 0, "sendmsg with SO_SNDTIMEO: not safe");
	is_int(timeouts_seen, 3, "the timeout was asked about each socket call");

	/* ---- real descriptors ---- */
	int sv[2];
	ok(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "a socket pair");
	is_int(rt_eintr_safe_sock_timeout(sv[0], 0), 0, "a fresh socket has no receive timeout");
	struct timeval tv = { 1, 0 };
	setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	is_int(rt_eintr_safe_sock_timeout(sv[0], 0), 1, "SO_RCVTIMEO is seen");
	is_int(rt_eintr_safe_sock_timeout(sv[0], 1), 0, "...on the receive side only");
	int p[2];
	ok(pipe(p) == 0, "a pipe");
	is_int(rt_eintr_safe_sock_timeout(p[0], 0), 0, "a pipe is not a socket: no timeout");
	close(p[1]);
	close(p[0]);
	is_int(rt_eintr_safe_sock_timeout(p[0], 0), 1, "a closed descriptor cannot be told: not safe");

	/* ---- real threads ---- */
	pthread_t a, b;
	pthread_create(&a, NULL, poller, NULL);
	pthread_create(&b, NULL, waiter, NULL);
	while (!__atomic_load_n(&tid_of_poller, __ATOMIC_SEQ_CST) || !__atomic_load_n(&tid_of_waiter, __ATOMIC_SEQ_CST))
		sched_yield();
	ok(probe_asleep(tid_of_poller, &st) == 0 && !rt_eintr_safe_safe(&st, rt_eintr_safe_sock_timeout) &&
	   st.pc != 0, "a thread asleep in poll: not safe, its pc given");
	ok(probe_asleep(tid_of_waiter, &st) == 0 && st.nr == SYS_futex &&
	   rt_eintr_safe_safe(&st, rt_eintr_safe_sock_timeout), "a thread in pthread_cond_wait: safe");
	ok(rt_eintr_safe_probe((pid_t)syscall(SYS_gettid), &st) == 0 && st.kind == RT_EINTR_SAFE_SYSCALL &&
	   st.nr == SYS_read, "the caller itself: in the read of its own file");
	ok(rt_eintr_safe_probe(999999999, &st) == -1, "no such thread: -1");
	pthread_mutex_lock(&mu);
	stop = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	pthread_join(b, NULL);
	pthread_cancel(a);
	pthread_join(a, NULL);
	return done_testing();
}
