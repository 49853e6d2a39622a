/* shim_fd.c: the other ways a descriptor gets closed: dup2/dup3 onto it, close_range,
 * closefrom, and fclose of an fdopen'ed socket (libc closes that one internally, past
 * our close()). Each reports the closing of a tracked fd before the real call, as
 * close() does (shim_net.c), for the same reason: once the call returns, the number
 * may already belong to something else. What counts as closed is decided in
 * runtime/ (rt_on_close_range); calls libc makes to its own internals stay unseen,
 * which the runtime's identity check covers (rt_conn.c). */
#include "shim.h"

#include <errno.h>
#include <unistd.h>

/* dup2(fd, fd) closes nothing; a failing dup2 (bad oldfd) leaves newfd open but no
 * longer tracked, which only loses its later requests. */
SHIM_EXPORT int dup2(int oldfd, int newfd)
{
	if (oldfd != newfd && rt_fd_tracked(newfd)) {
		int saved = errno;
		rt_on_close(newfd);
		errno = saved;
	}
	return REAL(dup2)(oldfd, newfd);
}

SHIM_EXPORT int dup3(int oldfd, int newfd, int flags)
{
	if (oldfd != newfd && rt_fd_tracked(newfd)) {
		int saved = errno;
		rt_on_close(newfd);
		errno = saved;
	}
	return REAL(dup3)(oldfd, newfd, flags);
}

SHIM_EXPORT int close_range(unsigned int first, unsigned int last, int flags)
{
	int saved = errno;
	rt_on_close_range(first, last, flags);
	errno = saved;
	return REAL(close_range)(first, last, flags);
}

SHIM_EXPORT void closefrom(int lowfd)
{
	int saved = errno;
	if (lowfd >= 0)
		rt_on_close_range((unsigned int)lowfd, ~0u, 0);
	errno = saved;
	REAL(closefrom)(lowfd);
}

/* fileno_unlocked: no lock of the stream's (fclose takes it next); -1 for streams
 * without a descriptor (fmemopen, fopencookie). */
SHIM_EXPORT int fclose(FILE *f)
{
	if (f) {
		int saved = errno;
		int fd = fileno_unlocked(f);
		if (rt_fd_tracked(fd))
			rt_on_close(fd);
		errno = saved;
	}
	return REAL(fclose)(f);
}
