/* shim_threads.h: which threads are the shim's own (worker, watchdog, exporter,
 * endpoint, continuous, and threads they start). A capture never signals them (they
 * are reported by name), and while our SIGPROF handler stands they take SIGPROF too,
 * so whole-process profiles show their cost (sample/sigprof_owner.c). A fixed table
 * of thread ids: any thread may ask, lock-free.
 * Context: each shim thread marks itself once as it starts; a short-lived one unmarks
 * itself before it ends. */
#ifndef RT_SHIM_THREADS_H
#define RT_SHIM_THREADS_H

#include <sys/types.h>

void rt_shim_thread_mark(void);
void rt_shim_thread_unmark(void);
int rt_shim_thread_is(pid_t tid);

/* In a fork child: none of the parent's threads came along. */
void rt_shim_threads_fork_child(void);

#endif
