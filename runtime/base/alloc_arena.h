/* alloc_arena.h: a jemalloc arena of the runtime's own for memory that comes and goes
 * in bulk. The symboliser holds some megabytes (decompressed debug info, line tables)
 * while profiles are being written and nothing between them; kept apart from the
 * service's arenas, that memory can be counted on its own and given back to the
 * system at once, without purging pages the service is about to reuse.
 *
 * With OTSHIM_ALLOCATOR=system (or when the arena cannot be made) enter and leave do
 * nothing, give_back trims the system heap, and the size is unknown (-1).
 * Context: any thread but a signal handler; enter and leave pair on one thread. */
#ifndef RT_ALLOC_ARENA_H
#define RT_ALLOC_ARENA_H

typedef struct rt_alloc_arena_scope {
	unsigned saved; /* the thread's arena before enter */
	int entered;
} rt_alloc_arena_scope_t;

/* From here to rt_alloc_arena_leave, this thread's allocations come from the arena. */
void rt_alloc_arena_enter(rt_alloc_arena_scope_t *s);
void rt_alloc_arena_leave(rt_alloc_arena_scope_t *s);

/* Returns the arena's free pages to the system (after flushing this thread's cache,
 * which may hold blocks of it). */
void rt_alloc_arena_give_back(void);

/* The memory the arena's live blocks occupy, in KiB; -1 when unknown. */
long long rt_alloc_arena_kb(void);

#endif
