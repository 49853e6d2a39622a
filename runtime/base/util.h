/* util.h: small helpers the runtime's own threads share: growing a dynamic array,
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

/* ---- resources the service needs more than we do ----
 * RLIMIT_NOFILE bounds descriptor numbers and a new descriptor takes the lowest free
 * number, so a service's descriptors are packed from 0 up: a fresh one numbered near
 * the limit means the service has almost none left. The shim then gives its own back
 * (and drops what it wanted it for) rather than hold one the service needs the next
 * moment. */

/* 1 when fd is one of the last few below RLIMIT_NOFILE (min(64, limit/4)). */
int rt_fd_scarce(int fd);

/* 0 when the process has descriptors to spare for the shim; -1 (errno EMFILE or
 * ENFILE) when not. Probes with one descriptor, closed at once. */
int rt_fd_headroom(void);

/* 0 when a file may grow to end bytes under RLIMIT_FSIZE; -1 (errno EFBIG) when not.
 * Writing past the limit would raise SIGXFSZ, whose default action kills the process:
 * the shim checks first and never writes there. */
int rt_fsize_allows(unsigned long long end);

#endif
