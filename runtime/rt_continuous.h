/* rt_continuous.h: OTSHIM_CONTINUOUS_SEC=N (SPEC §6): a thread of ours that, period
 * after period, profiles every thread's CPU for N seconds at 100 Hz and then writes
 * that with a heap snapshot, keeping a rolling history within OTSHIM_MAX_DISK_MB.
 * Context: start-up, then its own thread. */
#ifndef RT_CONTINUOUS_H
#define RT_CONTINUOUS_H

void rt_continuous_start(void);

#endif
