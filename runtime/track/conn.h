/* conn.h: accepted connections: the fd -> connection table (one atomic load for an
 * untracked fd), each connection's parsers and queue of in-flight requests, and the
 * list of live connections the watchdog scans. Parsing is track/http.c; a request's life
 * is track/request.c.
 * Context: host threads through boot/events.c (inside the reentrancy guard), and the
 * watchdog through rt_conn_scan(). Lock order: conn_list lock, then a connection's. */
#ifndef RT_CONN_H
#define RT_CONN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "rt.h"

typedef struct rt_conn rt_conn_t;

/* Maps fds to connections. Returns 0, or -1 if the table could not be made (then
 * nothing is ever tracked). Once, at initialisation. */
int rt_conn_init(void);


/* The tracked connection on fd, or NULL. Any context but signal; lock-free. */
static inline rt_conn_t *rt_conn_lookup(int fd)
{
	if ((size_t)fd >= rt_conn_table_len)
		return NULL;
	return atomic_load_explicit(&rt_conn_table[fd], memory_order_acquire);
}

void rt_conn_accepted(int fd);
void rt_conn_closing(rt_conn_t *c, int fd);
/* close_range/closefrom: every tracked fd in [first, last] is closing, unless flags
 * only mark (CLOSE_RANGE_CLOEXEC) or would make the call fail. */
void rt_conn_close_range(unsigned int first, unsigned int last, int flags);
/* c's incarnation: unique per accepted connection, never 0. Lock-free. */
uint64_t rt_conn_token(rt_conn_t *c);
/* Bytes moved by a call that began when c's token was tok (they are dropped if c is
 * no longer that connection). iov NULL: n bytes moved that we cannot see. */
void rt_conn_read(rt_conn_t *c, int fd, uint64_t tok, const struct iovec *iov, int iovcnt,
		  size_t n);
void rt_conn_wrote(rt_conn_t *c, int fd, uint64_t tok, const struct iovec *iov, int iovcnt,
		   size_t n);

/* TLS. Plaintext that moved through the SSL session ssl on c's socket (the socket's
 * own bytes, libssl's ciphertext, are then no longer parsed); an SSL_* call was made
 * on c (lock-free); ssl is about to be freed: if its plaintext is c's, the stream ends
 * as with a close. */
void rt_conn_tls_read(rt_conn_t *c, int fd, uint64_t tok, const void *ssl, const void *buf,
		      size_t n);
void rt_conn_tls_wrote(rt_conn_t *c, int fd, uint64_t tok, const void *ssl, const void *buf,
		       size_t n);
void rt_conn_tls_call(rt_conn_t *c);
void rt_conn_tls_free(rt_conn_t *c, int fd, uint64_t tok, const void *ssl);

/* ---- connections the service opened (connect): track/conn_out.c ---- */

struct rt_out;
struct rt_call_parent;
/* Whether c was opened by the service (outbound) rather than accepted. Lock-free; a
 * hint only, checked again under the lock. */
int rt_conn_is_outbound(rt_conn_t *c);
/* Events on an outbound connection (rt_conn_read/wrote/closing pass them on). */
void rt_conn_out_read(rt_conn_t *c, int fd, uint64_t tok, const struct iovec *iov, int iovcnt,
		      size_t n);
void rt_conn_out_wrote(rt_conn_t *c, int fd, uint64_t tok, const struct iovec *iov, int iovcnt,
		       size_t n);
void rt_conn_out_closing(rt_conn_t *c, int fd);
/* A new outbound connection on fd, returned locked with its state in *out to fill
 * (NULL: no memory); rt_conn_publish unlocks it and puts it in the table. */
rt_conn_t *rt_conn_opened(int fd, struct rt_out **out);
void rt_conn_publish(rt_conn_t *c, int fd);
/* Locks c and returns its outbound state if it is still the outbound connection on fd
 * (of incarnation tok, unless 0); else NULL, unlocked. rt_conn_out_unlock releases it,
 * first stopping tracking when stop is set. */
struct rt_out *rt_conn_out_lock(rt_conn_t *c, int fd, uint64_t tok);
void rt_conn_out_unlock(rt_conn_t *c, int fd, int stop);
/* The request the calling thread serves (its ids made): 1, or 0 when none. Takes that
 * request's connection lock: the caller holds no connection lock. */
int rt_conn_thread_parent(struct rt_call_parent *p);
/* connect(fd, a, len) returned rc (err: its errno), called at t0. Inside the guard. */
void rt_conn_connect(int fd, const struct sockaddr *a, socklen_t len, uint64_t t0, int rc, int err);
/* SO_ERROR was read on c: a non-blocking connect's outcome. */
void rt_conn_sock_error(rt_conn_t *c, int fd, int so_error);
/* The service's write-family call s on outbound c: made here (rt.h, rt_on_send).
 * Inside the guard; leaves it around the real calls. Returns 1, *ret the result. */
int rt_conn_out_send(rt_conn_t *c, int fd, const rt_send_t *s, ssize_t *ret);
/* Adds downstream time to p's request, if its connection still has it. No lock held. */
void rt_conn_add_downstream(const struct rt_call_parent *p, const char *peer, size_t len,
			    uint32_t calls, uint64_t ns);

/* Watchdog: marks every in-flight request older than slow_ns as slow. Returns the
 * monotonic time at which the next request could turn slow (0 = none in flight). */
uint64_t rt_conn_scan(uint64_t now, uint64_t slow_ns);

/* fork: prepare takes the list lock; parent releases it; child re-initialises locks. */
void rt_conn_fork_prepare(void);
void rt_conn_fork_parent(void);
void rt_conn_fork_child(void);


/* Bytes of connection state held (structs are recycled, never freed, so this is the
 * most ever tracked at once, plus spare requests); *live gets how many connections
 * are tracked now. Any thread. */
size_t rt_conn_tracked(size_t *live);

#endif
