/* wall_process.h: a whole-process wall-clock profile, like fgprof for Go: for a number
 * of seconds, every thread's stack is taken hz times a second (sample/thread_capture.h:
 * a sleeping thread is walked where it sleeps, a running one answers a one-shot perf
 * event in user code, so no call ever fails with EINTR), each weighted by the time
 * since the previous capture. Sample types samples/count and wall/nanoseconds; labels
 * state (on-cpu: it was running; off-cpu: asleep in a system call), wait (that call's
 * name) and thread_name. Context: one of the shim's threads; it takes seconds. */
#ifndef RT_WALL_PROCESS_H
#define RT_WALL_PROCESS_H

#include "profile/profile.h"

/* NULL when thread captures are off (OTSHIM_THREADS_SIGNAL=0) or memory ran out. */
rt_profile_t *rt_wall_process_collect(unsigned seconds, unsigned hz);

/* The name of system call nr ("read", "futex", ...), or "syscall" for one not listed. */
const char *rt_wall_syscall_name(long nr);

#endif
