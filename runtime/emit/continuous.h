/* continuous.h: OTSHIM_CONTINUOUS_SEC=N: a thread of ours that, period
 * after period, profiles every thread's CPU for N seconds at 100 Hz and then writes
 * that with a heap snapshot, keeping a rolling history within OTSHIM_MAX_DISK_MB.
 * In a pre-fork server each forked worker restarts it with its other threads, and its
 * files carry its pid (continuous-cpu-<pid>-<unix>.pb.gz): the workers, not the master,
 * do the serving, and several of them write within the same second.
 * Context: start-up (or a fork child's first event), then its own thread. */
#ifndef RT_CONTINUOUS_H
#define RT_CONTINUOUS_H

/* forked: 1 in a fork child (files named with the pid), 0 in the process that started. */
void rt_continuous_start(int forked);

#endif
