/* shim_net.c: connection life-cycle interposers: accept/accept4 open a connection the
 * runtime may track, close ends it (the other ways an fd is closed are shim_fd.c's);
 * the shim's own descriptors are not the service's to close.
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

/* Report before the real close: once it returns, another thread may be handed the
 * same fd number by accept or open, and its events must not meet our old state. */
/* A number the shim owns is not open for the service: as without the shim, its
 * close of it fails with EBADF, and ours stays open (base/owned_fds.c). */
SHIM_EXPORT int close(int fd)
{
	if (rt_fd_tracked(fd)) {
		int saved = errno;
		rt_on_close(fd);
		errno = saved;
	}
	if (rt_fd_owned_or_opening(fd) && rt_on_owned_close(fd)) {
		errno = EBADF;
		return -1;
	}
	return REAL(close)(fd);
}
