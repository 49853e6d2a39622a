/* handoff.h: requests that move between threads. A service that reads a request on
 * one thread and computes it on another (a worker pool fed by a queue: C++ servers,
 * python's concurrent.futures, libuv's thread pool) hands the work over with a
 * wake-up -- the reading thread posts a semaphore or signals a condition variable that
 * a pool thread waits on -- and gets the result back the same way. The rule followed
 * here, from those calls alone:
 *   - a thread with no request of its own that returns from a wait on a queue begins a
 *     job (a new segment of its work), for the request whose thread posted the queue;
 *     inside a job begun on one queue and not yet handed back, a wait on another
 *     object is the job's own (a lock it takes, Python's GIL passed among busy pool
 *     threads) and the job goes on;
 *   - when it wakes an object that a request's thread waits on (that request's result),
 *     the segment it is in was that request's work;
 *   - a thread made by a thread serving a request (a pool growing for the job at hand)
 *     starts as a pool thread working for that request (sample/thread_registry.c);
 *   - while any request is slow, the worker samples such pool threads (at most 64), and
 *     keeps their samples until their segment's request is known (emit/pool_samples.c):
 *     the one it handed its result to, else the one that woke it.
 * So a pool that takes queued jobs back to back, without waiting in between, is still
 * attributed job by job, by whom each result went to.
 *
 * Which objects count: a queue is an object no thread with a request of its own has
 * waited on, and whose jobs, once it has some history, went back to the request that
 * posted them; a result is one no thread without one has waited on. A lock every
 * thread takes (Python's GIL, a shared mutex's condition) is waited on by both and
 * counts as neither; a lock that only pool threads wait on (the GIL's forced hand-over
 * among busy pool threads) hands threads between requests mid-job: inside a job it is
 * not looked at, and outside one, after a few such jobs, it counts no more.
 *
 * Where the rule is blind: hand-offs through futexes or atomics that bypass the pthread
 * condition and POSIX semaphore calls (std::atomic::wait, raw futex queues, spinning
 * pools), through pipes or eventfds; a result nobody waits for (fire-and-forget:
 * attributed to the request that woke the thread, if any; and a pool thread fed by two
 * queues then takes a job from the second as part of the first's); and, in the first
 * job of a thread made for a request (begun on no queue), until a request thread has
 * waited on it once, a lock taken by pool threads only.
 *
 * Objects are tracked in a fixed table by address (a collision blurs attribution).
 * Only threads with a runtime state take part: those that served a connection, and
 * every thread the service created after the library loaded (its state is made as it
 * starts, sample/thread_registry.c; not under a sanitizer, which owns thread start).
 * Context: host threads, inside any lock of the service's; posting may run in a
 * signal handler. Nothing here allocates or locks. */
#ifndef RT_HANDOFF_H
#define RT_HANDOFF_H

#include <stdint.h>

/* obj (a sem_t or pthread_cond_t) is (re)initialised: what was known of an object at
 * that address is forgotten (Python makes a lock per wait, at recycled addresses). */
void rt_handoff_init(const void *obj);
/* The calling thread posts obj (sem_post, pthread_cond_signal/broadcast). */
void rt_handoff_posted(const void *obj);
/* The calling thread is about to wait on obj, and has returned from that wait (woken
 * is 0 when the wait timed out or failed: nothing was handed over). */
void rt_handoff_wait_begin(const void *obj);
void rt_handoff_wait_end(const void *obj, int woken);

/* Request serial turned slow / ended (track/request.c). */
void rt_handoff_slow(uint64_t serial);
void rt_handoff_ended(uint64_t serial);

/* The worker, every drain: while a request is slow, pool threads are sampled; when
 * none is, they are not. */
void rt_handoff_sync(void);

/* After fork, in the child: no request of the parent's is slow here. */
void rt_handoff_fork_child(void);

#endif
