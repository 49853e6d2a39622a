/* shim_threads.c: see shim_threads.h. */
#include "sample/shim_threads.h"

#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sample/process_cpu.h"
#include "sample/sigprof_owner.h"

#define MAX_INTERNAL 32
static _Atomic pid_t internal_tids[MAX_INTERNAL];

static pid_t gettid_raw(void) { return (pid_t)syscall(SYS_gettid); }

void rt_shim_thread_mark(void)
{
	pid_t me = gettid_raw();
	if (!rt_shim_thread_is(me)) {
		for (int i = 0; i < MAX_INTERNAL; i++) {
			pid_t expect = 0;
			if (atomic_compare_exchange_strong(&internal_tids[i], &expect, me))
				break;
		}
	}
	rt_sigprof_shim_begin();
	rt_process_cpu_thread_began(me); /* a whole-process profile running counts us too */
}

void rt_shim_thread_unmark(void)
{
	pid_t me = gettid_raw();
	rt_sigprof_shim_end();
	for (int i = 0; i < MAX_INTERNAL; i++) {
		pid_t expect = me;
		if (atomic_compare_exchange_strong(&internal_tids[i], &expect, 0))
			return;
	}
}

int rt_shim_thread_is(pid_t tid)
{
	for (int i = 0; i < MAX_INTERNAL; i++)
		if (atomic_load(&internal_tids[i]) == tid)
			return 1;
	return 0;
}

void rt_shim_threads_fork_child(void)
{
	rt_sigprof_shim_fork_child();
	for (int i = 0; i < MAX_INTERNAL; i++)
		atomic_store(&internal_tids[i], 0);
}
