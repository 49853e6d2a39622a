/* watchdog.h: the thread that notices a request crossing OTSHIM_SLOW_MS. It sleeps
 * until the earliest moment an in-flight request could turn slow (never longer than
 * the threshold, since a request starting now turns slow no sooner), then lets
 * rt_conn_scan mark and arm. Cost when idle: a wake-up per threshold period. */
#ifndef RT_WATCHDOG_H
#define RT_WATCHDOG_H

/* Starts the thread (every signal blocked). Returns 0 or -1. */
int rt_watchdog_start(void);

#endif
