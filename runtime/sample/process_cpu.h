/* process_cpu.h: the whole-process CPU profile behind /debug/pprof/profile and
 * continuous mode. Samples are taken at the kernel's ticks, on the thread each tick
 * finds running, once a period of the process's CPU has passed since the last; each
 * weighs the process CPU since the previous one, so threads born and gone during the
 * profile count like the others. What brings the tick's signal, two routes:
 *   - threads (the default): a timer on each thread's own CPU clock, due at every
 *     tick that finds the thread running, signals that thread only, as it returns to
 *     user code: no call is ever interrupted. Timers are made for every thread as the
 *     profile starts, for threads the service starts meanwhile as they start, and for
 *     others once a second. A thread blocking SIGPROF takes its signal when it
 *     unblocks it (its CPU weighs that sample).
 *   - process: one timer on the process's CPU clock (as ITIMER_PROF for gperftools).
 *     Its signal is the process's: a tick on a thread that cannot take it (exiting,
 *     or blocking SIGPROF) hands it to another thread, which may be asleep in a call
 *     that then fails with EINTR; and before Linux 6.4 the kernel gave it to the main
 *     thread whenever that thread did not block it. So it is taken only when asked for
 *     and only from Linux 6.4 on.
 * The SIGPROF handler hands these signals here first (rt_process_cpu_on_signal), so a
 * slow request's sampling of its thread, from its own source, goes on undisturbed.
 * Samples land in a buffer that is mapped once and never freed.
 * Context: rt_process_cpu_collect on the endpoint's thread (one profile at a time);
 * rt_process_cpu_on_signal in the SIGPROF handler (no locks, no allocation). */
#ifndef RT_PROCESS_CPU_H
#define RT_PROCESS_CPU_H

#include <signal.h>
#include <stdatomic.h>

#include <stdint.h>
#include <sys/types.h>

enum { RT_PROCESS_CPU_THREADS, RT_PROCESS_CPU_PROCESS };
/* The route asked for (OTSHIM_PROCESS_CPU_TIMER), once at initialisation; the route a
 * profile started now takes (process only where the kernel prefers the current
 * thread: Linux 6.4 and later). */
void rt_process_cpu_set_route(int route);
int rt_process_cpu_route(void);

/* A thread the service made starts, or ends (sample/thread_registry.c, on that thread,
 * normal context): while a profile on the threads route runs, it gets its own timer at
 * once, or its timer goes. One relaxed load when no profile runs. */
void rt_process_cpu_thread_began(pid_t tid);
void rt_process_cpu_thread_ended(pid_t tid);

/* Samples every thread for `seconds` at `hz`. Returns 0 with the samples held for
 * rt_process_cpu_each until rt_process_cpu_done; -1 on failure, -2 when another profile is
 * running, -3 when the service owns SIGPROF (then nothing is held). Building the
 * profile from the samples is profile/cpu_profile.c. */
int rt_process_cpu_run(unsigned seconds, unsigned hz);

/* One kept sample, as the builder reads it. */
typedef struct rt_process_cpu_sample {
	const uintptr_t *pcs;
	uint32_t npcs;
	uint64_t weight_ns;      /* process CPU time since the previous sample */
	int shim;                /* taken on a shim thread: no stack, its name instead */
	const char *name;
	int has_ids;             /* the thread was serving a request with these ids */
	const uint8_t *trace_id; /* 16 bytes */
	const uint8_t *span_id;  /* 8 bytes */
} rt_process_cpu_sample_t;

/* Calls fn for each sample of the last successful rt_process_cpu_run. */
void rt_process_cpu_each(void (*fn)(const rt_process_cpu_sample_t *s, void *arg), void *arg);
/* Releases the samples: the next profile may start. */
void rt_process_cpu_done(void);

/* Deletes the running profile's timer, if any (the service claimed SIGPROF; the
 * collector then returns -3). Returns 1 if there was one. Normal context. */
int rt_process_cpu_stop(void);

/* A whole-process profile is being collected (one relaxed load; any context). Inline:
 * each request's path asks several times. */
extern _Atomic int rt_process_cpu_active;
static inline int rt_process_cpu_running(void)
{
	return atomic_load_explicit(&rt_process_cpu_active, memory_order_relaxed);
}

/* In a fork child: a profile the parent was collecting is not the child's (its timer
 * is not inherited), so the child starts with none running. */
void rt_process_cpu_fork_child(void);

/* From the SIGPROF handler: 1 when the signal came from one of our sources and was
 * taken, 0 when it is not ours. */
int rt_process_cpu_on_signal(const siginfo_t *si, void *uc);

#endif
