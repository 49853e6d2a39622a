/* test_unwind_regs.c: stack walks from saved registers against known truth. A thread
 * blocks in read() under two functions of known extent; its sp and pc come from
 * /proc/self/task/<tid>/syscall (proc(5)); the walk, of its live stack and of a copy of
 * the stack's top bytes, must name both callers in order. A copy too short, or
 * registers pointing nowhere, end the walk early without a fault. */
#include <pthread.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "t.h"
#include "sample/eintr_safe.h"
#include "sample/unwind_regs.h"

static int pipefd[2];
static pid_t blocked_tid; /* atomic accesses */

/* Each in a section of its own, so the linker's __start_/__stop_ symbols bound it. */
__attribute__((noinline, section("otshim_inner"))) static long inner(int fd)
{
	char c;
	long n = read(fd, &c, 1);
	__asm__ volatile("" ::: "memory"); /* no tail call: inner stays on the stack */
	return n;
}
__attribute__((noinline, section("otshim_outer"))) static long outer(int fd)
{
	long n = inner(fd);
	__asm__ volatile("" ::: "memory");
	return n + 1;
}
extern const char __start_otshim_inner[], __stop_otshim_inner[];
extern const char __start_otshim_outer[], __stop_otshim_outer[];
#define IN(sec, pc) ((pc) >= (uintptr_t)__start_##sec && (pc) < (uintptr_t)__stop_##sec)

static void *blocker(void *arg)
{
	(void)arg;
	__atomic_store_n(&blocked_tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
	outer(pipefd[0]);
	return NULL;
}

/* Where inner and outer sit in the walk: both found, inner first. */
static int callers_in_order(const uintptr_t *pcs, size_t n)
{
	size_t at_inner = 0, at_outer = 0;
	for (size_t i = 1; i < n; i++) {
		if (!at_inner && IN(otshim_inner, pcs[i] - 1))
			at_inner = i;
		if (!at_outer && IN(otshim_outer, pcs[i] - 1))
			at_outer = i;
	}
	return at_inner && at_outer && at_inner < at_outer;
}

static void show(const char *what, const uintptr_t *pcs, size_t n)
{
	printf("# %s: %zu frames:", what, n);
	for (size_t i = 0; i < n && i < 12; i++)
		printf(" %#lx", (unsigned long)pcs[i]);
	printf("\n");
}

int main(void)
{
	if (pipe(pipefd) != 0)
		return 99;
	pthread_t th;
	pthread_create(&th, NULL, blocker, NULL);

	/* Wait until the thread sleeps in read (syscall 0) on the pipe. */
	rt_eintr_safe_state_t st;
	int found = 0;
	for (int i = 0; i < 2000 && !found; i++) {
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
		pid_t tid = __atomic_load_n(&blocked_tid, __ATOMIC_ACQUIRE);
		found = tid && rt_eintr_safe_probe(tid, &st) == 0 &&
			st.kind == RT_EINTR_SAFE_SYSCALL && st.nr == SYS_read &&
			st.args[0] == (uint64_t)pipefd[0];
	}
	ok(found, "the thread sleeps in read(%d)", pipefd[0]);
	if (!found)
		return 1;

	int fd_before = dup(0); /* the lowest free number, before any walk */
	close(fd_before);
	uintptr_t pcs[64];
	rt_uregs_t regs = { .ip = st.pc, .sp = st.sp };

	size_t n = rt_unwind_regs(&regs, NULL, 0, pcs, 64);
	show("live", pcs, n);
	ok(n >= 3 && pcs[0] == st.pc, "live walk: starts at the pc (%zu frames)", n);
	ok(callers_in_order(pcs, n), "live walk: inner() then outer() among the callers");

	/* A copy of the stack's top bytes, as PERF_SAMPLE_STACK_USER gives. */
	static unsigned char copy[16384];
	struct iovec here = { copy, sizeof copy }, there = { (void *)st.sp, sizeof copy };
	ssize_t got = process_vm_readv(getpid(), &here, 1, &there, 1, 0);
	ok(got > 1024, "copied %zd bytes of its stack", got);
	uintptr_t pcs2[64];
	size_t n2 = rt_unwind_regs(&regs, copy, (size_t)got, pcs2, 64);
	show("copy", pcs2, n2);
	ok(callers_in_order(pcs2, n2), "walk of the copy: inner() then outer() among the callers");
	int same = n2 >= 3;
	for (size_t i = 0; same && i < 3; i++)
		same = pcs2[i] == pcs[i];
	ok(same, "the copy's walk and the live one agree on the innermost frames");

	/* Too short a copy: the walk stops where the copy ends, no reading beyond it. */
	uintptr_t pcs3[64];
	size_t n3 = rt_unwind_regs(&regs, copy, 8, pcs3, 64);
	ok(n3 >= 1 && n3 < n2 && pcs3[0] == st.pc, "an 8-byte copy: fewer frames (%zu), no fault", n3);

	/* Nonsense registers: the pc alone, or a short walk, never a fault. */
	rt_uregs_t bad = { .ip = 0x1234, .sp = 0x10, .bp = 0x20, .have = RT_UREG_BP };
	uintptr_t pcs4[8];
	size_t n4 = rt_unwind_regs(&bad, NULL, 0, pcs4, 8);
	ok(n4 >= 1 && pcs4[0] == 0x1234, "registers pointing nowhere: %zu frame(s), no fault", n4);
	is_int(rt_unwind_regs(&regs, NULL, 0, pcs4, 0), 0, "max 0: nothing written");

	/* Many walks in a row (the worker's load): same answer, no descriptor left open. */
	int stable = 1;
	for (int i = 0; i < 200; i++) {
		uintptr_t p[64];
		size_t k = rt_unwind_regs(&regs, copy, (size_t)got, p, 64);
		stable &= k == n2 && p[k - 1] == pcs2[n2 - 1];
	}
	int fd_after = dup(0);
	close(fd_after);
	ok(stable, "200 walks of the copy give the same stack");
	is_int(fd_after, fd_before, "no descriptor left open by the walks");

	char c = 'x';
	if (write(pipefd[1], &c, 1) != 1)
		return 99;
	pthread_join(th, NULL);
	return done_testing();
}
