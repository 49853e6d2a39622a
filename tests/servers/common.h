/* common.h: the helpers the toy servers in tests/servers share (common.c, linked into
 * each of them by the Makefile). Plain code, nothing of the shim's: time and CPU
 * burning, query strings, whole writes, loopback sockets, the access log, and the
 * keep-alive GET loop of the servers that answer GET only. */
#ifndef TESTS_SERVERS_COMMON_H
#define TESTS_SERVERS_COMMON_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

/* ---- time and CPU ---- */

uint64_t clock_ns(clockid_t id);
/* Sleeps ms milliseconds, resuming after a signal. */
void nap_ms(long ms);
/* Burns ns of this thread's CPU time doing floating-point work the compiler must keep.
 * The clock is read only every 20,000 steps, so nearly all samples land here rather
 * than in clock_gettime. Not static and never inlined or cloned, so profiles show it
 * under exactly this name: the tests look for burn_cpu. */
double burn_cpu(uint64_t ns);

/* ---- requests ---- */

/* The number after "key=" in target's query string; def if absent. */
long query_num(const char *target, const char *key, long def);
/* Is target's path exactly path (the query string aside)? */
int path_is(const char *target, const char *path);

/* ---- files and sockets ---- */

/* Writes all n bytes, resuming after EINTR; 0, or -1 if a write failed. */
int write_all(int fd, const void *p, size_t n);
/* Writes text to path through a temporary name, so a poller never reads half of it. */
int write_file(const char *path, const char *text);
/* write_file of "PORT\n". */
int write_port_file(const char *path, int port);
/* A TCP listener on 127.0.0.1:port (0: any free port) with SO_REUSEADDR; flags are
 * socket type flags (SOCK_NONBLOCK, SOCK_CLOEXEC). Sets *bound to the port it got.
 * Returns the descriptor, or -1 (errno set). */
int listen_loopback(int port, int flags, int backlog, int *bound);
/* A TCP connection to 127.0.0.1:port; flags as above. Returns it, or -1. */
int connect_loopback(int port, int flags);

/* Called, when set, each time write_all or serve_gets sees a call fail with EINTR
 * (before it is retried), with the call's name: sig_srv's eintr mode treats that as
 * fatal. */
extern void (*on_eintr)(const char *call);

/* ---- the access log ---- */

/* The server's access log (NULL: none) and the lock that guards it, for code that
 * reopens or closes it. */
extern FILE *access_log;
extern pthread_mutex_t log_mu;
/* One line in the access log (the format gives its newline), flushed at once. */
void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- GET-only servers ---- */

/* Serves GET requests on connection fd until the peer closes, a request head does
 * not fit 8 KiB, a request says "Connection: close" or serve_one fails (returns
 * non-zero); request bodies are not read. Closes fd. */
void serve_gets(int fd, int (*serve_one)(int fd, const char *method, const char *target));

#endif
