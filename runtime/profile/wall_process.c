/* wall_process.c: a whole-process wall-clock profile (see profile/wall_process.h). */
#include "profile/wall_process.h"

#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>

#include "base/clock.h"
#include "sample/thread_capture.h"

/* The calls a thread is commonly found asleep in. */
static const struct { long nr; const char *name; } calls[] = {
	{ SYS_read, "read" }, { SYS_write, "write" }, { SYS_readv, "readv" },
	{ SYS_writev, "writev" }, { SYS_pread64, "pread64" }, { SYS_pwrite64, "pwrite64" },
	{ SYS_recvfrom, "recvfrom" }, { SYS_sendto, "sendto" }, { SYS_recvmsg, "recvmsg" },
	{ SYS_sendmsg, "sendmsg" }, { SYS_sendfile, "sendfile" }, { SYS_connect, "connect" },
	{ SYS_accept, "accept" }, { SYS_accept4, "accept4" }, { SYS_ppoll, "ppoll" },
	{ SYS_pselect6, "pselect6" }, { SYS_epoll_pwait, "epoll_pwait" },
	{ SYS_nanosleep, "nanosleep" }, { SYS_clock_nanosleep, "clock_nanosleep" },
	{ SYS_futex, "futex" }, { SYS_wait4, "wait4" }, { SYS_waitid, "waitid" },
	{ SYS_rt_sigtimedwait, "rt_sigtimedwait" }, { SYS_rt_sigsuspend, "rt_sigsuspend" },
	{ SYS_msgrcv, "msgrcv" }, { SYS_semtimedop, "semtimedop" },
#ifdef SYS_poll
	{ SYS_poll, "poll" }, { SYS_select, "select" }, { SYS_epoll_wait, "epoll_wait" },
	{ SYS_pause, "pause" },
#endif
#ifdef SYS_epoll_pwait2
	{ SYS_epoll_pwait2, "epoll_pwait2" },
#endif
#ifdef SYS_io_uring_enter
	{ SYS_io_uring_enter, "io_uring_enter" },
#endif
};

const char *rt_wall_syscall_name(long nr)
{
	for (size_t i = 0; i < sizeof calls / sizeof *calls; i++)
		if (calls[i].nr == nr)
			return calls[i].name;
	return "syscall";
}

static void add_capture(rt_profile_t *p, const rt_thread_capture_t *c, uint64_t weight)
{
	for (size_t i = 0; i < c->n; i++) {
		const rt_thread_stack_t *t = &c->threads[i];
		if (t->internal)
			continue; /* the shim's own threads are not the service's time */
		rt_label_t labels[3] = { { "thread_name", t->name, 0 },
					 { "state", t->asleep ? "off-cpu" : "on-cpu", 0 },
					 { "wait", rt_wall_syscall_name(t->nr), 0 } };
		int64_t v[2] = { 1, (int64_t)weight };
		if (t->npcs)
			rt_profile_add_sample(p, t->pcs, t->npcs, 1, v, labels, t->asleep ? 3 : 2);
		else
			rt_profile_add_sample_frame(p, "[no stack: no answer in time]", v, labels, 1);
	}
}

rt_profile_t *rt_wall_process_collect(unsigned seconds, unsigned hz)
{
	static const rt_value_type_t types[] = { { "samples", "count" }, { "wall", "nanoseconds" } };
	if (!rt_thread_capture_enabled())
		return NULL;
	rt_profile_t *p = rt_profile_new(types, 2, "wall");
	if (!p)
		return NULL;
	uint64_t period = 1000000000ull / hz, start = rt_mono_ns(), end = start + seconds * 1000000000ull;
	rt_profile_set_period(p, "wall", "nanoseconds", (int64_t)period);
	rt_profile_set_time(p, (int64_t)rt_real_ns(), (int64_t)(seconds * 1000000000ull));
	rt_thread_capture_t prev = { 0 }, cur;
	uint64_t last = start;
	for (uint64_t next = start + period; next <= end; next += period) {
		uint64_t now = rt_mono_ns();
		if (now < next) {
			struct timespec ts = { (time_t)((next - now) / 1000000000ull),
					       (long)((next - now) % 1000000000ull) };
			nanosleep(&ts, NULL);
		}
		if (rt_thread_capture_take(&cur, &prev) != 0)
			continue;
		now = rt_mono_ns();
		/* Each thread stands for the time since the previous capture: a capture that
		 * ran late (a busy machine) weighs what it missed, so totals stay wall time. */
		add_capture(p, &cur, now - last);
		last = now;
		rt_thread_capture_free(&prev);
		prev = cur;
		if (now > next + period)
			next = now - now % period; /* skipped ticks are not made up twice */
	}
	rt_thread_capture_free(&prev);
	return p;
}
