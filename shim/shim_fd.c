/* shim_fd.c: the other ways a descriptor gets closed: dup2/dup3 onto it, close_range,
 * closefrom, and fclose of an fdopen'ed socket (libc closes that one internally, past
 * our close()). Each reports the closing of a tracked fd before the real call, as
 * close() does (shim_net.c), for the same reason: once the call returns, the number
 * may already belong to something else. What counts as closed is decided in
 * runtime/ (rt_on_close_range); calls libc makes to its own internals stay unseen,
 * which the runtime's identity check covers (track/conn.c). The numbers the shim owns
 * (base/owned_fds.c) are stepped around by close_range and closefrom; dup2 onto one still
 * does what the service asked. */
#include "shim.h"

#include <errno.h>
#include <unistd.h>

/* dup2(fd, fd) closes nothing; a failing dup2 (bad oldfd) leaves newfd open but no
 * longer tracked, which only loses its later requests. Onto a number the shim owns,
 * the service still gets that number: our owner is told it is lost (base/owned_fds.c). */
static void shim_replacing(int oldfd, int newfd)
{
	if (oldfd == newfd)
		return;
	if (rt_fd_tracked(newfd))
		rt_on_close(newfd);
	if (rt_fd_owned(newfd))
		rt_on_owned_dup(newfd);
}

static int shim_replaced(int newfd, int rc)
{
	if (rc < 0 && rt_fd_owned(newfd)) {
		int saved = errno;
		rt_on_owned_dup_failed(newfd);
		errno = saved;
	}
	return rc;
}

SHIM_EXPORT int dup2(int oldfd, int newfd)
{
	if (rt_fd_tracked(newfd) || rt_fd_owned(newfd)) {
		int saved = errno;
		shim_replacing(oldfd, newfd);
		errno = saved;
		return shim_replaced(newfd, REAL(dup2)(oldfd, newfd));
	}
	return REAL(dup2)(oldfd, newfd);
}

SHIM_EXPORT int dup3(int oldfd, int newfd, int flags)
{
	if (rt_fd_tracked(newfd) || rt_fd_owned(newfd)) {
		int saved = errno;
		shim_replacing(oldfd, newfd);
		errno = saved;
		return shim_replaced(newfd, REAL(dup3)(oldfd, newfd, flags));
	}
	return REAL(dup3)(oldfd, newfd, flags);
}

/* Numbers the shim owns inside the range are stepped around (base/owned_fds.c). */
SHIM_EXPORT int close_range(unsigned int first, unsigned int last, int flags)
{
	int saved = errno, rc;
	rt_on_close_range(first, last, flags);
	int around = rt_on_close_range_owned(first, last, flags, REAL(close_range), &rc);
	if (!around)
		errno = saved;
	return around ? rc : REAL(close_range)(first, last, flags);
}

/* Without close_range (a kernel before 5.9) libc's fallback closes ours too. */
SHIM_EXPORT void closefrom(int lowfd)
{
	int saved = errno, rc = -1;
	if (lowfd >= 0)
		rt_on_close_range((unsigned int)lowfd, ~0u, 0);
	int around = lowfd >= 0 &&
		     rt_on_close_range_owned((unsigned int)lowfd, ~0u, 0, REAL(close_range), &rc);
	errno = saved;
	if (!around || rc != 0)
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
