/* alloc_arena.c: see alloc_arena.h. The arena is made on first use; its number is
 * read without a lock once made (written once, before the state says so). */
#include "base/alloc_arena.h"

#include <errno.h>
#include <jemalloc/jemalloc.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static unsigned arena;
static int usable;

static void make(void)
{
	unsigned ind;
	size_t sz = sizeof ind;
	if (strcmp(rt_alloc_name(), "jemalloc") == 0 && mallctl("arenas.create", &ind, &sz, NULL, 0) == 0) {
		arena = ind;
		usable = 1;
	}
}

static int ready(void)
{
	int saved = errno;
	pthread_once(&once, make);
	errno = saved;
	return usable;
}

void rt_alloc_arena_enter(rt_alloc_arena_scope_t *s)
{
	s->entered = 0;
	if (!ready())
		return;
	size_t sz = sizeof s->saved;
	unsigned want = arena;
	if (mallctl("thread.arena", &s->saved, &sz, &want, sizeof want) == 0)
		s->entered = 1;
}

void rt_alloc_arena_leave(rt_alloc_arena_scope_t *s)
{
	if (s->entered)
		(void)mallctl("thread.arena", NULL, NULL, &s->saved, sizeof s->saved);
	s->entered = 0;
}

void rt_alloc_arena_give_back(void)
{
	if (!ready()) {
		if (strcmp(rt_alloc_name(), "system") == 0)
			malloc_trim(0);
		return;
	}
	char name[48];
	(void)mallctl("thread.tcache.flush", NULL, NULL, NULL, 0);
	snprintf(name, sizeof name, "arena.%u.purge", arena);
	(void)mallctl(name, NULL, NULL, NULL, 0);
}

long long rt_alloc_arena_kb(void)
{
	if (strcmp(rt_alloc_name(), "jemalloc") != 0)
		return -1;
	if (!ready())
		return -1;
	uint64_t epoch = 1;
	size_t sz = sizeof epoch, pages;
	char name[48];
	(void)mallctl("epoch", &epoch, &sz, &epoch, sizeof epoch); /* refresh the counts */
	snprintf(name, sizeof name, "stats.arenas.%u.pactive", arena);
	sz = sizeof pages;
	if (mallctl(name, &pages, &sz, NULL, 0) != 0)
		return -1;
	return (long long)(pages * (size_t)sysconf(_SC_PAGESIZE) / 1024);
}
