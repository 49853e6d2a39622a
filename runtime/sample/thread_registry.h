/* thread_registry.h: the registry of threads created through pthread_create: who created
 * each (the creator's stack), when, and with which start routine, from creation until
 * the thread ends by any path (return, pthread_exit, cancellation). Entries are pooled
 * and recycled, so the registry's memory follows the number of live threads, not the
 * number ever created. Threads made otherwise (the main thread, raw clone, threads
 * started before the shim) are not here; /proc/self/task still counts them.
 * Context: host threads (create, start, exit); the worker reads snapshots. */
#ifndef RT_THREADREG_H
#define RT_THREADREG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RT_TREG_STACK_MAX 32

typedef struct rt_thread_registry_entry rt_thread_registry_entry_t;

/* Before the real pthread_create: an entry for the thread about to start, with the
 * calling thread's stack. NULL when the caller is the shim itself or memory is short;
 * then the thread is created unregistered. */
rt_thread_registry_entry_t *rt_thread_registry_prepare(void *(*start)(void *), void *arg);
/* The start routine to hand to the real pthread_create, with the entry as argument. */
void *rt_thread_registry_trampoline(void *entry);
/* The real pthread_create failed: the entry goes back to the pool. */
void rt_thread_registry_abandon(rt_thread_registry_entry_t *e);

/* When the caller is one of the shim's own threads (libcurl starting its resolver from
 * the exporter, say), swaps *start and *arg for a trampoline that makes the new thread
 * ours too: its allocations unsampled, its I/O unreported, never signalled for stacks.
 * Returns 1 when it did (rt_thread_registry_unwrap_internal(*arg) if the real create then fails),
 * 0 when the caller is the service's. */
int rt_thread_registry_wrap_internal(void *(**start)(void *), void **arg);
void rt_thread_registry_unwrap_internal(void *arg);

/* Threads registered and not yet ended. */
size_t rt_thread_registry_live(void);

typedef struct rt_thread_registry_info {
	pid_t tid;                  /* 0: created, not yet running */
	uint64_t created_real_ns;
	uintptr_t start_routine;
	uint32_t npcs;
	uintptr_t pcs[RT_TREG_STACK_MAX]; /* creator's stack, return addresses */
} rt_thread_info_t;

/* Copies the live entries into a new array (rt_alloc.free it). 0, or -1 on failure. */
int rt_thread_registry_snapshot(rt_thread_info_t **out, size_t *n);

void rt_thread_registry_fork_prepare(void);
void rt_thread_registry_fork_parent(void);
/* In the child only the forking thread survives: every other entry is retired. */
void rt_thread_registry_fork_child(void);

#endif
