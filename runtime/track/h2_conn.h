/* h2_conn.h: the HTTP/2 side of a tracked connection: its frame parser (track/h2.c)
 * and a bounded table of its streams in flight, each one request (track/request.c)
 * from its HEADERS to the server's END_STREAM, a RST_STREAM, a GOAWAY that refuses it,
 * or the connection's end. track/conn.c owns the connection, its lock and its fd, and
 * hands its bytes here once the client's first bytes were the HTTP/2 preface.
 * Context: host threads under the connection's lock; the watchdog through scan. */
#ifndef RT_H2_CONN_H
#define RT_H2_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "sample/thread.h"

#define RT_H2_STREAMS_MAX 128 /* streams tracked at once per connection; more are counted */

typedef struct rt_h2_conn rt_h2_conn_t;

/* peer and local_port are the connection's (copied into each request for its span).
 * NULL when out of memory. */
rt_h2_conn_t *rt_h2_conn_new(const struct sockaddr_storage *peer, uint16_t local_port);
/* Its bytes are a TLS session's plaintext: its streams are https. */
void rt_h2_conn_set_tls(rt_h2_conn_t *h);
/* Bytes the client sent (read) or the server wrote (p NULL: n bytes unseen, sendfile).
 * Returns 0, or -1 when the connection can no longer be followed (counted in the
 * stats); the caller then frees it. */
int rt_h2_conn_read(rt_h2_conn_t *h, const char *p, size_t n);
int rt_h2_conn_wrote(rt_h2_conn_t *h, const char *p, size_t n);
/* When the oldest stream in flight that is not slow yet began (0: none). */
uint64_t rt_h2_conn_oldest(const rt_h2_conn_t *h);
/* The stream the serving thread is taken to work on: the newest in flight (a server
 * runs a stream's handler when its HEADERS are read), NULL when none is. Its samples
 * are that stream's. */
struct rt_req *rt_h2_conn_current(const rt_h2_conn_t *h);
/* Watchdog: streams in flight slow_ns or longer become slow, sampled on t (the thread
 * that moves the connection's bytes: a stream's CPU is its serving thread's). */
void rt_h2_conn_scan(rt_h2_conn_t *h, uint64_t now, uint64_t slow_ns, rt_thread_t *t);
/* In a fork child: the streams' sampled threads are the parent's (nothing to release). */
void rt_h2_conn_fork_child(rt_h2_conn_t *h);
/* Tracking stops: streams in flight end (count: counted, status as far as seen) or
 * are discarded, and h is freed. */
void rt_h2_conn_free(rt_h2_conn_t *h, int count);
/* Bytes held by every HTTP/2 connection's state now (parsers, inflaters, streams). */
size_t rt_h2_conn_bytes(void);

#endif
