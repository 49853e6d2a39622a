/* rt_util.h: two small helpers the worker-side modules (rt_profile, rt_writer) share:
 * growing a dynamic array and writing a whole buffer to a file descriptor.
 * Context: worker thread (they allocate and do I/O). */
#ifndef RT_UTIL_H
#define RT_UTIL_H

#include <stddef.h>

/* Makes *p (an array of *cap elements of elem bytes) hold at least need elements,
 * doubling. Returns 0, or -1 with *p and *cap unchanged. */
int rt_grow(void **p, size_t *cap, size_t need, size_t elem);

/* Writes all n bytes, retrying short writes and EINTR. Returns 0, or -1 (errno set). */
int rt_write_all(int fd, const void *p, size_t n);

#endif
