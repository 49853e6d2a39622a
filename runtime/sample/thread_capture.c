/* thread_capture.c: thread-stack capture and the threads/threadcreate profiles (see
 * sample/thread_capture.h).
 *
 * No thread is ever made to fail a call with EINTR. A thread asleep in a system call,
 * or preempted in user code, is not signalled at all: its /proc syscall file gives its
 * stack pointer and pc, and its stack is walked from there while it stands still
 * (sample/unwind_regs.h); the file is read again after the walk, and a thread that
 * moved meanwhile is treated as running.
 * A thread running, or off a CPU in user code, gets a one-shot perf task-clock event
 * (exclude_kernel) that raises the capture's signal the next time it runs in user
 * mode: on its way back to user code, never inside a call. Where perf is refused the
 * thread is signalled directly, after its /proc state says a signal cannot hurt
 * (sample/eintr_safe.c); that fallback keeps a window of microseconds in which a
 * thread seen running enters poll before the signal lands.
 *
 * Slots live in banks that are mmap'd and never unmapped: a handler that runs after
 * its capture gave up on it still writes into valid memory. A slot moves PENDING ->
 * BUSY -> DONE in the handler, or PENDING -> ABANDONED when the capture stops
 * waiting; whoever wins that compare-and-swap owns it. The handler also checks that
 * the slot names its own thread, so a signal left over from an earlier capture cannot
 * fill a slot with the wrong thread's stack. */
#include "sample/thread_capture.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/libc.h"
#include "base/log.h"
#include "base/owned_fds.h"
#include "base/util.h"
#include "sample/cputimer.h"
#include "sample/eintr_safe.h"
#include "sample/shim_threads.h"
#include "sample/sigprof_owner.h"
#include "sample/thread.h"
#include "sample/unwind.h"
#include "sample/unwind_regs.h"

enum { S_IDLE, S_PENDING, S_BUSY, S_DONE, S_ABANDONED };

/* A running thread answers within this much of its CPU time spent in user code. */
#define ONESHOT_NS 20000ull
static _Atomic int perf_refused; /* perf_event_open failed once: signal directly */

typedef struct slot {
	_Atomic int state;
	_Atomic pid_t tid;
	_Atomic int fd;          /* its one-shot perf event, or -1 (signalled directly) */
	uint32_t npcs;
	uintptr_t pcs[RT_STACK_MAX];
} slot_t;

#define MAX_BANKS 24
static slot_t *_Atomic banks[MAX_BANKS];
static size_t bank_cap[MAX_BANKS];
static _Atomic int nbanks;

/* The capture in progress, for signals that carry no slot (perf's). */
static slot_t *_Atomic cur_slots;
static _Atomic size_t cur_n;

static int signo;
static _Atomic int enabled;
static pthread_mutex_t capture_mu = PTHREAD_MUTEX_INITIALIZER;

static pid_t gettid_raw(void) { return (pid_t)syscall(SYS_gettid); }

/* ---- the handler: no locks, no allocation ---- */

static slot_t *valid_slot(void *p)
{
	int n = atomic_load_explicit(&nbanks, memory_order_acquire);
	for (int i = 0; i < n; i++) {
		slot_t *b = atomic_load_explicit(&banks[i], memory_order_relaxed);
		uintptr_t off = (uintptr_t)p - (uintptr_t)b;
		if (b && off < bank_cap[i] * sizeof *b && off % sizeof *b == 0)
			return p;
	}
	return NULL;
}

/* A perf event's signal says only which descriptor raised it. */
static slot_t *slot_of_fd(int fd, pid_t self)
{
	slot_t *s = atomic_load_explicit(&cur_slots, memory_order_acquire);
	size_t n = atomic_load_explicit(&cur_n, memory_order_acquire);
	for (size_t i = 0; s && i < n; i++)
		if (atomic_load_explicit(&s[i].fd, memory_order_relaxed) == fd &&
		    atomic_load_explicit(&s[i].tid, memory_order_relaxed) == self)
			return &s[i];
	return NULL;
}

static void on_signal(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;
	(void)sig;
	slot_t *s;
	pid_t self = gettid_raw();
	if (si->si_code == SI_QUEUE && si->si_pid == getpid())
		s = valid_slot(si->si_value.sival_ptr);
	else if (si->si_code == POLL_IN || si->si_code == POLL_HUP)
		s = slot_of_fd(si->si_fd, self);
	else
		goto out;
	if (!s || atomic_load_explicit(&s->tid, memory_order_relaxed) != self)
		goto out;
	int expect = S_PENDING;
	if (!atomic_compare_exchange_strong(&s->state, &expect, S_BUSY))
		goto out;
	s->npcs = (uint32_t)rt_unwind_from_ucontext(uc, s->pcs, RT_STACK_MAX);
	atomic_store_explicit(&s->state, S_DONE, memory_order_release);
out:
	errno = saved;
}

/* ---- set-up ---- */

void rt_thread_capture_init(int sig)
{
	struct sigaction old, sa;
	if (sig == 0)
		return;
	if (sig < SIGRTMIN || sig > SIGRTMAX) {
		rt_log(RT_LOG_WARN, "OTSHIM_THREADS_SIGNAL=%d is not a real-time signal (%d..%d); "
		       "thread profiles are off", sig, SIGRTMIN, SIGRTMAX);
		return;
	}
	if (sigaction(sig, NULL, &old) != 0)
		return;
	if ((old.sa_flags & SA_SIGINFO) || (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN)) {
		rt_log(RT_LOG_WARN, "the service handles signal %d itself; thread profiles are off "
		       "(choose another with OTSHIM_THREADS_SIGNAL)", sig);
		return;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_signal;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigfillset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL) != 0)
		return;
	signo = sig;
	atomic_store(&enabled, 1);
}

int rt_thread_capture_enabled(void) { return atomic_load(&enabled); }

void rt_thread_capture_fork_child(void)
{
	pthread_mutex_init(&capture_mu, NULL);
}

/* ---- capture ---- */

static slot_t *slots_for(size_t n)
{
	int nb = atomic_load(&nbanks);
	if (nb > 0 && bank_cap[nb - 1] >= n)
		return atomic_load(&banks[nb - 1]);
	if (nb == MAX_BANKS)
		return NULL;
	size_t cap = nb > 0 ? bank_cap[nb - 1] * 2 : 256;
	while (cap < n)
		cap *= 2;
	void *m = mmap(NULL, cap * sizeof(slot_t), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	bank_cap[nb] = cap;
	atomic_store(&banks[nb], (slot_t *)m);
	atomic_store_explicit(&nbanks, nb + 1, memory_order_release);
	return m;
}

static int list_tids(pid_t **out, size_t *n)
{
	size_t cap = 64;
	pid_t *a = malloc(cap * sizeof *a);
	DIR *d = rt_owned_fd_opendir("/proc/self/task");
	struct dirent *e;
	*n = 0;
	if (!a || !d) {
		free(a);
		if (d)
			rt_owned_fd_closedir(d);
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		if (*n == cap) {
			pid_t *b = realloc(a, cap * 2 * sizeof *a);
			if (!b)
				break;
			a = b;
			cap *= 2;
		}
		a[(*n)++] = (pid_t)atol(e->d_name);
	}
	rt_owned_fd_closedir(d);
	*out = a;
	return 0;
}

void rt_thread_read_name(pid_t tid, char name[16])
{
	char path[64];
	snprintf(path, sizeof path, "/proc/self/task/%d/comm", (int)tid);
	name[0] = 0;
	int fd = RT_OWNED_FD_OPEN(open(path, O_RDONLY | O_CLOEXEC));
	if (fd < 0)
		return;
	ssize_t k = REAL(read)(fd, name, 15);
	rt_owned_fd_close(fd);
	if (k <= 0)
		k = 0;
	name[k] = 0;
	char *nl = strchr(name, '\n');
	if (nl)
		*nl = 0;
}

static uint64_t serial_of(pid_t tid)
{
	for (rt_thread_t *t = rt_thread_first(); t; t = t->next)
		if (atomic_load(&t->in_use) && __atomic_load_n(&t->tid, __ATOMIC_RELAXED) == tid)
			return atomic_load_explicit(&t->cur_serial, memory_order_relaxed);
	return 0;
}

/* Whether tid has our signal blocked, by the SigBlk line of its status file (-1: that
 * cannot be read). Such a thread would answer only once it unblocks the signal, maybe
 * never: signalled, it cost every capture the whole wait (a service's sigwait thread,
 * TSan's own background thread), and left a signal pending for later. */
static int blocks_our_signal(pid_t tid)
{
	char path[64], buf[4096];
	snprintf(path, sizeof path, "/proc/self/task/%d/status", (int)tid);
	int fd = RT_OWNED_FD_OPEN(open(path, O_RDONLY | O_CLOEXEC));
	if (fd < 0)
		return -1;
	ssize_t k = REAL(read)(fd, buf, sizeof buf - 1);
	rt_owned_fd_close(fd);
	if (k <= 0)
		return -1;
	buf[k] = 0;
	const char *line = strstr(buf, "\nSigBlk:");
	if (!line)
		return -1;
	unsigned long long mask = strtoull(line + 9, NULL, 16);
	return (int)((mask >> (signo - 1)) & 1);
}

/* Without perf: whether tid must not be signalled (its call would fail with EINTR, or
 * we cannot tell); if so, t gets the reason and, when known, the call's pc as its only
 * frame. */
static int held_back(pid_t tid, rt_thread_stack_t *t)
{
	rt_eintr_safe_state_t st;
	if (rt_eintr_safe_probe(tid, &st) != 0) {
		t->held_back = RT_THREAD_CAPTURE_UNKNOWN;
		return 1;
	}
	if (rt_eintr_safe_safe(&st, rt_eintr_safe_sock_timeout))
		return 0;
	t->held_back = RT_THREAD_CAPTURE_ASLEEP;
	if (st.pc) {
		t->pcs[0] = st.pc;
		t->npcs = 1;
	}
	return 1;
}

/* held_back, taken again when it took long: a thread seen running may enter poll
 * before our signal lands, and the time from the probe to the signal is that window.
 * A probe costs some microseconds; one that took longer was most likely preempted
 * (on a busy machine, for milliseconds), and its answer is stale by then. */
#define PROBE_FRESH_NS 100000ull
#define PROBE_TRIES 4
static int held_back_fresh(pid_t tid, rt_thread_stack_t *t)
{
	for (int i = 1;; i++) {
		uint64_t t0 = rt_mono_ns();
		if (held_back(tid, t))
			return 1;
		if (rt_mono_ns() - t0 < PROBE_FRESH_NS || i == PROBE_TRIES)
			return 0;
	}
}

const char *rt_thread_capture_held_back_why(int why)
{
	switch (why) {
	case RT_THREAD_CAPTURE_ASLEEP:
		return "leaf only: not signalled, asleep in a call SA_RESTART does not restart";
	case RT_THREAD_CAPTURE_UNKNOWN:
		return "none: not signalled, its /proc/self/task/<tid> state could not be read";
	case RT_THREAD_CAPTURE_BLOCKS:
		return "none: not signalled, it blocks the capture's signal";
	}
	return NULL;
}

/* Waits until no slot is PENDING or BUSY, or the bound passes; then abandons the
 * PENDING ones and gives BUSY ones (a handler mid-unwind) a little longer. */
static void wait_answers(slot_t *s, size_t n, uint64_t t0)
{
	uint64_t deadline = t0 + RT_THREAD_CAPTURE_WAIT_MS * 1000000ull;
	for (;;) {
		size_t waiting = 0;
		for (size_t i = 0; i < n; i++) {
			int st = atomic_load_explicit(&s[i].state, memory_order_acquire);
			waiting += st == S_PENDING || st == S_BUSY;
		}
		if (!waiting || rt_mono_ns() >= deadline)
			break;
		struct timespec pause = { 0, 200000 };
		nanosleep(&pause, NULL);
	}
	for (size_t i = 0; i < n; i++) {
		int expect = S_PENDING;
		atomic_compare_exchange_strong(&s[i].state, &expect, S_ABANDONED);
	}
	uint64_t grace = rt_mono_ns() + 10000000ull;
	for (size_t i = 0; i < n; i++)
		while (atomic_load_explicit(&s[i].state, memory_order_acquire) == S_BUSY &&
		       rt_mono_ns() < grace)
			sched_yield();
}

/* An earlier capture's walk of tid asleep at the same place, or NULL. */
static const rt_thread_stack_t *walked_before(const rt_thread_capture_t *prev, pid_t tid,
					      const rt_eintr_safe_state_t *st)
{
	for (size_t i = 0; prev && i < prev->n; i++) {
		const rt_thread_stack_t *t = &prev->threads[i];
		if (t->tid == tid)
			return t->asleep && t->nr == st->nr && t->sp == st->sp && t->pc == st->pc &&
			       t->npcs ? t : NULL;
	}
	return NULL;
}

/* The stack of tid, asleep in the call st describes (or preempted in user code),
 * walked without signalling it (or the walk of prev, if it slept there then). 0 when
 * the thread was still in the same state at the same place after the walk. */
static int walk_asleep(pid_t tid, const rt_eintr_safe_state_t *st, slot_t *s,
		       const rt_thread_capture_t *prev)
{
	rt_eintr_safe_state_t again;
	rt_uregs_t regs = { .ip = st->pc, .sp = st->sp };
	const rt_thread_stack_t *before = walked_before(prev, tid, st);
	if (!st->pc || !st->sp)
		return -1;
	if (before) {
		s->npcs = before->npcs;
		memcpy(s->pcs, before->pcs, s->npcs * sizeof *s->pcs);
	} else {
		s->npcs = (uint32_t)rt_unwind_regs(&regs, NULL, 0, s->pcs, RT_STACK_MAX);
	}
	if (s->npcs == 0 || rt_eintr_safe_probe(tid, &again) != 0 || again.kind != st->kind ||
	    again.nr != st->nr || again.sp != st->sp || again.pc != st->pc)
		return -1;
	return 0;
}

static void asleep_at(rt_thread_stack_t *t, const rt_eintr_safe_state_t *st)
{
	t->asleep = 1;
	t->nr = st->nr;
	t->sp = st->sp;
	t->pc = st->pc;
}

/* Arms the one-shot event that signals tid the next time it runs user code. */
static int arm_oneshot(pid_t tid, slot_t *s)
{
	int fd = rt_cputimer_perf_open_sig(tid, ONESHOT_NS, signo);
	if (fd < 0)
		return -1;
	if (rt_fd_scarce(fd)) { /* the service needs its last descriptors more */
		rt_owned_fd_close(fd);
		return -1;
	}
	atomic_store(&s->fd, fd);
	atomic_store_explicit(&s->state, S_PENDING, memory_order_release);
	if (ioctl(fd, PERF_EVENT_IOC_REFRESH, 1) != 0) {
		atomic_store(&s->state, S_IDLE);
		atomic_store(&s->fd, -1);
		rt_owned_fd_close(fd);
		return -1;
	}
	return 0;
}

static void disarm_oneshot(slot_t *s)
{
	int fd = atomic_exchange(&s->fd, -1);
	if (fd < 0)
		return;
	if (rt_owned_fd_usable(fd)) {
		ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
		rt_owned_fd_close(fd);
	} else {
		rt_owned_fd_forget(fd); /* the service dup2'ed over it: its number now */
	}
}

/* One thread: walked if asleep in a call, else asked to answer as it runs user code
 * (or, with no perf, signalled when its state allows). */
static void ask(pid_t pid, pid_t tid, slot_t *s, rt_thread_stack_t *t,
		const rt_thread_capture_t *prev)
{
	rt_eintr_safe_state_t st;
	if (rt_eintr_safe_probe(tid, &st) != 0) {
		t->held_back = RT_THREAD_CAPTURE_UNKNOWN;
		return;
	}
	if (st.kind == RT_EINTR_SAFE_SYSCALL && walk_asleep(tid, &st, s, prev) == 0) {
		asleep_at(t, &st);
		atomic_store_explicit(&s->state, S_DONE, memory_order_release);
		return;
	}
	/* Off a CPU in user code (preempted): it stands still while no CPU runs it. */
	if (st.kind == RT_EINTR_SAFE_USER && walk_asleep(tid, &st, s, NULL) == 0) {
		atomic_store_explicit(&s->state, S_DONE, memory_order_release);
		return;
	}
	int blocks = blocks_our_signal(tid);
	if (blocks != 0) {
		t->held_back = blocks > 0 ? RT_THREAD_CAPTURE_BLOCKS : RT_THREAD_CAPTURE_UNKNOWN;
		return;
	}
	if (!atomic_load(&perf_refused) && arm_oneshot(tid, s) == 0)
		return;
	atomic_store(&perf_refused, 1);
	if (held_back_fresh(tid, t))
		return;
	atomic_store_explicit(&s->state, S_PENDING, memory_order_release);
	if (rt_signal_thread(pid, tid, signo, s) != 0)
		atomic_store(&s->state, S_IDLE); /* the thread is gone */
}

/* A thread that did not run user code while we waited is most likely asleep now. */
static void walk_unanswered(pid_t tid, slot_t *s, rt_thread_stack_t *t,
			    const rt_thread_capture_t *prev)
{
	rt_eintr_safe_state_t st;
	if (atomic_load_explicit(&s->state, memory_order_acquire) != S_ABANDONED)
		return;
	if (rt_eintr_safe_probe(tid, &st) == 0 && st.kind == RT_EINTR_SAFE_SYSCALL &&
	    walk_asleep(tid, &st, s, prev) == 0) {
		asleep_at(t, &st);
		atomic_store_explicit(&s->state, S_DONE, memory_order_release);
	}
}

int rt_thread_capture_take(rt_thread_capture_t *c, const rt_thread_capture_t *prev)
{
	pid_t *tids;
	size_t n;
	memset(c, 0, sizeof *c);
	if (list_tids(&tids, &n) != 0)
		return -1;
	c->threads = calloc(n ? n : 1, sizeof *c->threads);
	if (!c->threads) {
		free(tids);
		return -1;
	}
	pthread_mutex_lock(&capture_mu);
	slot_t *s = atomic_load(&enabled) ? slots_for(n) : NULL;
	pid_t pid = getpid(), me = gettid_raw();
	uint64_t t0 = rt_mono_ns();
	for (size_t i = 0; s && i < n; i++) {
		s[i].npcs = 0;
		atomic_store(&s[i].fd, -1);
		atomic_store(&s[i].state, S_IDLE);
		atomic_store(&s[i].tid, tids[i]);
	}
	atomic_store(&cur_n, s ? n : 0);
	atomic_store_explicit(&cur_slots, s, memory_order_release);
	for (size_t i = 0; s && i < n; i++) {
		if (tids[i] == me || rt_shim_thread_is(tids[i])) {
			c->threads[i].internal = 1;
			continue;
		}
		ask(pid, tids[i], &s[i], &c->threads[i], prev);
	}
	if (s)
		wait_answers(s, n, t0);
	for (size_t i = 0; s && i < n; i++) {
		disarm_oneshot(&s[i]);
		walk_unanswered(tids[i], &s[i], &c->threads[i], prev);
	}
	atomic_store(&cur_n, 0);
	c->elapsed_ns = rt_mono_ns() - t0;
	for (size_t i = 0; i < n; i++) {
		rt_thread_stack_t *t = &c->threads[i];
		t->tid = tids[i];
		if (s && atomic_load_explicit(&s[i].state, memory_order_acquire) == S_DONE) {
			t->answered = 1;
			t->held_back = RT_THREAD_CAPTURE_SIGNALLED;
			t->npcs = s[i].npcs;
			memcpy(t->pcs, s[i].pcs, t->npcs * sizeof *t->pcs);
		}
	}
	pthread_mutex_unlock(&capture_mu);
	for (size_t i = 0; i < n; i++) {
		rt_thread_read_name(tids[i], c->threads[i].name);
		c->threads[i].serial = serial_of(tids[i]);
	}
	c->n = n;
	free(tids);
	return 0;
}

void rt_thread_capture_free(rt_thread_capture_t *c)
{
	free(c->threads);
	memset(c, 0, sizeof *c);
}
