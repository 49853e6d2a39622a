/* events.c: the single gate between the interposers and the runtime. Checks that the
 * runtime is on, takes the reentrancy guard, and hands the event to rt_conn. An fd
 * that is not a tracked connection costs one table load and returns. */
#include "rt.h"

#include <errno.h>

#include "base/cfg.h"
#include "base/clock.h"
#include "boot/init.h"
#include "emit/dir_owner.h"
#include "sample/thread.h"
#include "sample/unwind.h"
#include "track/conn.h"
#include "track/handoff.h"
#include "track/tls.h"
#include "track/waits.h"

void rt_on_accept(int fd)
{
	if (!rt_init_ensure() || rt_tls_enter() != 0)
		return;
	rt_conn_accepted(fd);
	rt_tls_leave();
}

void rt_on_close(int fd)
{
	rt_conn_t *c = rt_conn_lookup(fd);
	if (!c || rt_tls_enter() != 0)
		return;
	rt_conn_closing(c, fd);
	rt_tls_leave();
}

void rt_on_close_range(unsigned int first, unsigned int last, int flags)
{
	if (rt_tls_enter() != 0)
		return;
	rt_conn_close_range(first, last, flags);
	rt_tls_leave();
}

uint64_t rt_fd_token(int fd)
{
	rt_conn_t *c = rt_conn_lookup(fd);
	return c ? rt_conn_token(c) : 0;
}

void rt_on_read(int fd, uint64_t tok, const void *buf, size_t n)
{
	rt_conn_t *c = rt_conn_lookup(fd);
	if (!c || rt_tls_enter() != 0)
		return;
	struct iovec v = { (void *)buf, n };
	rt_conn_read(c, fd, tok, buf ? &v : NULL, 1, n);
	rt_tls_leave();
}

void rt_on_readv(int fd, uint64_t tok, const struct iovec *iov, int iovcnt, size_t n)
{
	rt_conn_t *c = rt_conn_lookup(fd);
	if (!c || rt_tls_enter() != 0)
		return;
	rt_conn_read(c, fd, tok, iov, iovcnt, n);
	rt_tls_leave();
}

void rt_on_write(int fd, uint64_t tok, const void *buf, size_t n)
{
	rt_conn_t *c = rt_conn_lookup(fd);
	if (!c || rt_tls_enter() != 0)
		return;
	struct iovec v = { (void *)buf, n };
	rt_conn_wrote(c, fd, tok, &v, 1, n);
	rt_tls_leave();
}

void rt_on_writev(int fd, uint64_t tok, const struct iovec *iov, int iovcnt, size_t n)
{
	rt_conn_t *c = rt_conn_lookup(fd);
	if (!c || rt_tls_enter() != 0)
		return;
	rt_conn_wrote(c, fd, tok, iov, iovcnt, n);
	rt_tls_leave();
}

void rt_on_sendfile(int fd, uint64_t tok, size_t n)
{
	rt_conn_t *c = rt_conn_lookup(fd);
	if (!c || rt_tls_enter() != 0)
		return;
	rt_conn_wrote(c, fd, tok, NULL, 0, n);
	rt_tls_leave();
}

/* TLS: a connection's plaintext, by the socket its SSL session reads. Our own
 * threads' sessions (the exporters') are never the service's. */
uint64_t rt_on_ssl_begin(struct ssl_st *ssl, int *fd)
{
	*fd = -1;
	if (!ssl || rt_conn_table_len == 0 || rt_tls_depth)
		return 0;
	int saved = errno;
	*fd = rt_tls_ssl_fd(ssl);
	rt_conn_t *c = rt_conn_lookup(*fd);
	uint64_t tok = 0;
	if (c) {
		rt_conn_tls_call(c);
		tok = rt_conn_token(c);
	}
	errno = saved;
	return tok;
}

void rt_on_ssl_read(struct ssl_st *ssl, int fd, uint64_t tok, const void *buf, size_t n)
{
	rt_conn_t *c = rt_conn_lookup(fd);
	if (!c || rt_tls_enter() != 0)
		return;
	rt_conn_tls_read(c, fd, tok, ssl, buf, n);
	rt_tls_leave();
}

void rt_on_ssl_write(struct ssl_st *ssl, int fd, uint64_t tok, const void *buf, size_t n)
{
	rt_conn_t *c = rt_conn_lookup(fd);
	if (!c || rt_tls_enter() != 0)
		return;
	rt_conn_tls_wrote(c, fd, tok, ssl, buf, n);
	rt_tls_leave();
}

void rt_on_ssl_free(struct ssl_st *ssl, int fd, uint64_t tok)
{
	rt_tls_session_freed();
	if (!tok)
		return;
	rt_conn_t *c = rt_conn_lookup(fd);
	if (!c || rt_tls_enter() != 0)
		return;
	rt_conn_tls_free(c, fd, tok, ssl);
	rt_tls_leave();
}

/* ---- connections the service opens ---- */

uint64_t rt_on_connect_begin(void)
{
	if (rt_tls_depth || !rt_init_ready() || !rt_cfg.outbound)
		return 0;
	return rt_mono_ns();
}

void rt_on_connect(int fd, const struct sockaddr *a, socklen_t len, uint64_t t0, int rc, int err)
{
	/* No thread is started for this: a process that only makes calls (a client
	 * command) needs none, and a service starts them as it accepts. */
	if (rt_fd_owned(fd) || !rt_init_ready() || rt_tls_enter() != 0)
		return;
	rt_conn_connect(fd, a, len, t0, rc, err);
	rt_tls_leave();
}

void rt_on_sock_error(int fd, int so_error)
{
	rt_conn_t *c = rt_conn_lookup(fd);
	if (!c || !rt_conn_is_outbound(c) || rt_tls_enter() != 0)
		return;
	rt_conn_sock_error(c, fd, so_error);
	rt_tls_leave();
}

int rt_on_send(int fd, const rt_send_t *s, ssize_t *ret)
{
	rt_conn_t *c = rt_conn_lookup(fd);
	if (!c || !rt_conn_is_outbound(c) || rt_tls_enter() != 0)
		return 0;
	rt_conn_out_send(c, fd, s, ret);
	int saved = errno;
	rt_tls_leave();
	errno = saved;
	return 1;
}

/* Hand-offs: only while the runtime is on (its connection table exists); the guard is
 * handoff.c's own check, as a post may come from a signal handler. */
void rt_on_sync_init(const void *obj)
{
	if (rt_conn_table)
		rt_handoff_init(obj);
}

void rt_on_wake(const void *obj)
{
	if (rt_conn_table)
		rt_handoff_posted(obj);
}

void rt_on_wait_begin(const void *obj)
{
	if (rt_conn_table)
		rt_handoff_wait_begin(obj);
}

void rt_on_wait_end(const void *obj, int woken)
{
	if (rt_conn_table)
		rt_handoff_wait_end(obj, woken);
}

/* No thread is started for this: a worker switches its user before it serves. */
void rt_on_uid_change(int call, uid_t r, uid_t e, uid_t s)
{
	if (!rt_init_ready() || rt_tls_enter() != 0)
		return;
	int saved = errno;
	rt_dir_owner_before(call, r, e, s);
	errno = saved;
	rt_tls_leave();
}

void rt_on_uid_changed(void)
{
	if (!rt_init_ready() || rt_tls_enter() != 0)
		return;
	int saved = errno;
	rt_dir_owner_after();
	errno = saved;
	rt_tls_leave();
}

void rt_on_wait(int kind, int fd, uint64_t t0, uint64_t t1, const void *site, const void *sp)
{
	rt_thread_t *t = rt_thread_peek();
	uintptr_t pc = (uintptr_t)site;
	/* A lock the runtime itself took (the heap sampler's, on the service's thread) is
	 * not where the service waited; and walking the stack here, with that lock held,
	 * would wait for the loader's lock, which a thread in dlclose holds while it frees
	 * into the sampler: a deadlock. */
	if (!t || rt_unwind_own_prefix(&pc, 1) || rt_tls_enter() != 0)
		return;
	rt_waits_record(t, kind, fd, t0, t1, site, sp);
	rt_tls_leave();
}
