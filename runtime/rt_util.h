/* rt_util.h: small helpers the runtime's own threads share: growing a dynamic array,
 * writing a whole buffer, starting a detached thread of ours, sleeping.
 * Context: the shim's threads and start-up (they allocate, do I/O and sleep). */
#ifndef RT_UTIL_H
#define RT_UTIL_H

#include <stddef.h>

/* Makes *p (an array of *cap elements of elem bytes) hold at least need elements,
 * doubling. Returns 0, or -1 with *p and *cap unchanged. */
int rt_grow(void **p, size_t *cap, size_t need, size_t elem);

/* Writes all n bytes, retrying short writes and EINTR. Returns 0, or -1 (errno set). */
int rt_write_all(int fd, const void *p, size_t n);

/* Starts fn(arg) on a detached thread with every signal blocked, as the shim's own
 * threads run (the service's signals are never delivered to them). 0, or -1. */
int rt_spawn_detached(void *(*fn)(void *), void *arg);

/* Sleeps ms milliseconds, through EINTR. */
void rt_nap_ms(long ms);

#endif
