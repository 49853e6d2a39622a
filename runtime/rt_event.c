/* rt_event.c: the single gate between the interposers and the runtime. Checks that the
 * runtime is on, takes the reentrancy guard, and hands the event to rt_conn. An fd
 * that is not a tracked connection costs one table load and returns. */
#include "rt.h"

#include "rt_conn.h"
#include "rt_init.h"
#include "rt_thread.h"

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

void rt_on_read(int fd, const void *buf, size_t n)
{
	rt_conn_t *c = rt_conn_lookup(fd);
	if (!c || rt_tls_enter() != 0)
		return;
	struct iovec v = { (void *)buf, n };
	rt_conn_read(c, fd, buf ? &v : NULL, 1, n);
	rt_tls_leave();
}

void rt_on_readv(int fd, const struct iovec *iov, int iovcnt, size_t n)
{
	rt_conn_t *c = rt_conn_lookup(fd);
	if (!c || rt_tls_enter() != 0)
		return;
	rt_conn_read(c, fd, iov, iovcnt, n);
	rt_tls_leave();
}

void rt_on_write(int fd, const void *buf, size_t n)
{
	rt_conn_t *c = rt_conn_lookup(fd);
	if (!c || rt_tls_enter() != 0)
		return;
	struct iovec v = { (void *)buf, n };
	rt_conn_wrote(c, fd, &v, 1, n);
	rt_tls_leave();
}

void rt_on_writev(int fd, const struct iovec *iov, int iovcnt, size_t n)
{
	rt_conn_t *c = rt_conn_lookup(fd);
	if (!c || rt_tls_enter() != 0)
		return;
	rt_conn_wrote(c, fd, iov, iovcnt, n);
	rt_tls_leave();
}

void rt_on_sendfile(int fd, size_t n)
{
	rt_conn_t *c = rt_conn_lookup(fd);
	if (!c || rt_tls_enter() != 0)
		return;
	rt_conn_wrote(c, fd, NULL, 0, n);
	rt_tls_leave();
}
