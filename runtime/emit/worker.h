/* worker.h: the one background thread that does the heavy work: it drains the
 * per-thread sample rings, collects the samples of each slow request, and when the
 * request ends hands request + samples to rt_writer. It also rewrites the stats file
 * every 10 s. Host threads only post messages (a mutex held for a few instructions). */
#ifndef RT_WORKER_H
#define RT_WORKER_H

#include <stdint.h>

#include "track/request.h"

/* Start collecting samples labelled with serial (a request just turned slow).
 * Any non-signal thread. */
void rt_worker_watch(uint64_t serial);
/* Stop collecting serial and forget its samples. */
void rt_worker_unwatch(uint64_t serial);
/* A finished slow request: the worker owns r from now on. */
void rt_worker_submit(rt_req_t *r);

/* Starts the thread (with every signal blocked). Returns 0 or -1. */
int rt_worker_start(void);
/* At exit: finish what is queued (bounded wait). The caller writes the final stats. */
void rt_worker_shutdown(void);

void rt_worker_fork_prepare(void);
void rt_worker_fork_parent(void);
void rt_worker_fork_child(void);

#endif
