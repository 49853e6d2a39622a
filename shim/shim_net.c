/* shim_net.c: connection life-cycle interposers: accept/accept4 open a connection the
 * runtime may track, and so does connect (a call the service makes downstream, timed
 * from before the real call, and a wait of the request being served when it blocks);
 * getsockopt(SO_ERROR) on a tracked fd tells how a non-blocking connect ended; close
 * ends a connection (the other ways an fd is closed are shim_fd.c's); the shim's own
 * descriptors are not the service's to close.
 * Forward, report, return; nothing else. */
#include "shim.h"

#include <errno.h>
#include <unistd.h>

SHIM_EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	int c = REAL(accept)(fd, addr, len);
	if (c >= 0) {
		int saved = errno;
		rt_on_accept(c);
		errno = saved;
	}
	return c;
}

SHIM_EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	int c = REAL(accept4)(fd, addr, len, flags);
	if (c >= 0) {
		int saved = errno;
		rt_on_accept(c);
		errno = saved;
	}
	return c;
}

SHIM_EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	uint64_t t0 = rt_on_connect_begin();
	uint64_t waited_from = rt_wait_timed() ? rt_ticks() : 0;
	int rc = REAL(connect)(fd, addr, len);
	if (waited_from)
		shim_waited(RT_WAIT_CONNECT, fd, waited_from, __builtin_return_address(0));
	if (t0) {
		int saved = errno;
		rt_on_connect(fd, addr, len, t0, rc, rc ? saved : 0);
		errno = saved;
	}
	return rc;
}

SHIM_EXPORT int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	int rc = REAL(getsockopt)(fd, level, name, val, len);
	if (rc == 0 && level == SOL_SOCKET && name == SO_ERROR && rt_fd_tracked(fd) && val &&
	    len && *len >= sizeof(int)) {
		int saved = errno;
		rt_on_sock_error(fd, *(int *)val);
		errno = saved;
	}
	return rc;
}

/* Report before the real close: once it returns, another thread may be handed the
 * same fd number by accept or open, and its events must not meet our old state. */
/* A number the shim owns is not open for the service: as without the shim, its
 * close of it fails with EBADF, and ours stays open (base/owned_fds.c). A connection
 * the service accepted is its own, open until this close: no open of ours can be
 * getting that number, so its close never waits for ours to be registered. */
SHIM_EXPORT int close(int fd)
{
	int held = rt_fd_tracked(fd);
	if (held) {
		int saved = errno;
		rt_on_close(fd);
		errno = saved;
	}
	if (!held && rt_fd_owned_or_opening(fd) && rt_on_owned_close(fd)) {
		errno = EBADF;
		return -1;
	}
	return REAL(close)(fd);
}
