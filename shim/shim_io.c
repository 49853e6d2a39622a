/* shim_io.c: data interposers. Each forwards to the real call and, when bytes moved,
 * reports them to the runtime, which decides in one table look-up whether the fd is a
 * tracked connection. errno and the return value always go back untouched. */
#include "shim.h"

#include <errno.h>
#include <unistd.h>
#include <sys/sendfile.h>

/* rt_fd_tracked() is the one table load every call pays; only a tracked connection's
 * bytes go further. Peeked bytes will be read again; reporting them would count them twice. */
#define PEEKS(flags) ((flags) & MSG_PEEK)

/* ---- cold paths: the fd is a tracked connection ---- */

static __attribute__((noinline)) ssize_t report_read(int fd, const void *buf, ssize_t n)
{
	int saved = errno;
	rt_on_read(fd, buf, (size_t)n);
	errno = saved;
	return n;
}

static __attribute__((noinline)) ssize_t report_readv(int fd, const struct iovec *iov, int cnt,
						       ssize_t n)
{
	int saved = errno;
	rt_on_readv(fd, iov, cnt, (size_t)n);
	errno = saved;
	return n;
}

static __attribute__((noinline)) ssize_t report_write(int fd, const void *buf, ssize_t n)
{
	int saved = errno;
	rt_on_write(fd, buf, (size_t)n);
	errno = saved;
	return n;
}

static __attribute__((noinline)) ssize_t report_writev(int fd, const struct iovec *iov, int cnt,
							ssize_t n)
{
	int saved = errno;
	rt_on_writev(fd, iov, cnt, (size_t)n);
	errno = saved;
	return n;
}

static __attribute__((noinline)) ssize_t report_sendfile(int fd, ssize_t n)
{
	int saved = errno;
	rt_on_sendfile(fd, (size_t)n);
	errno = saved;
	return n;
}

/* ---- interposers ---- */

SHIM_EXPORT ssize_t read(int fd, void *buf, size_t len)
{
	ssize_t n = REAL(read)(fd, buf, len);
	if (n > 0 && rt_fd_tracked(fd))
		return report_read(fd, buf, n);
	return n;
}

SHIM_EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
	ssize_t n = REAL(readv)(fd, iov, cnt);
	if (n > 0 && rt_fd_tracked(fd))
		return report_readv(fd, iov, cnt, n);
	return n;
}

/* MSG_TRUNC on a stream socket discards bytes without copying them: they are reported
 * as opaque (NULL), which the runtime accepts only inside a body. */
SHIM_EXPORT ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	ssize_t n = REAL(recv)(fd, buf, len, flags);
	if (n > 0 && !PEEKS(flags) && rt_fd_tracked(fd))
		return report_read(fd, (flags & MSG_TRUNC) ? NULL : buf, n);
	return n;
}

SHIM_EXPORT ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *a,
			     socklen_t *alen)
{
	ssize_t n = REAL(recvfrom)(fd, buf, len, flags, a, alen);
	if (n > 0 && !PEEKS(flags) && rt_fd_tracked(fd))
		return report_read(fd, (flags & MSG_TRUNC) ? NULL : buf, n);
	return n;
}

SHIM_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	ssize_t n = REAL(recvmsg)(fd, msg, flags);
	if (n > 0 && !PEEKS(flags) && rt_fd_tracked(fd))
		return (flags & MSG_TRUNC) ? report_read(fd, NULL, n)
					  : report_readv(fd, msg->msg_iov, (int)msg->msg_iovlen, n);
	return n;
}

SHIM_EXPORT ssize_t write(int fd, const void *buf, size_t len)
{
	ssize_t n = REAL(write)(fd, buf, len);
	if (n > 0 && rt_fd_tracked(fd))
		return report_write(fd, buf, n);
	return n;
}

SHIM_EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	ssize_t n = REAL(writev)(fd, iov, cnt);
	if (n > 0 && rt_fd_tracked(fd))
		return report_writev(fd, iov, cnt, n);
	return n;
}

SHIM_EXPORT ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	ssize_t n = REAL(send)(fd, buf, len, flags);
	if (n > 0 && rt_fd_tracked(fd))
		return report_write(fd, buf, n);
	return n;
}

SHIM_EXPORT ssize_t sendto(int fd, const void *buf, size_t len, int flags,
			   const struct sockaddr *a, socklen_t alen)
{
	ssize_t n = REAL(sendto)(fd, buf, len, flags, a, alen);
	if (n > 0 && rt_fd_tracked(fd))
		return report_write(fd, buf, n);
	return n;
}

SHIM_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	ssize_t n = REAL(sendmsg)(fd, msg, flags);
	if (n > 0 && rt_fd_tracked(fd))
		return report_writev(fd, msg->msg_iov, (int)msg->msg_iovlen, n);
	return n;
}

SHIM_EXPORT ssize_t sendfile(int out, int in, off_t *off, size_t len)
{
	ssize_t n = REAL(sendfile)(out, in, off, len);
	if (n > 0 && rt_fd_tracked(out))
		return report_sendfile(out, n);
	return n;
}

SHIM_EXPORT ssize_t sendfile64(int out, int in, off_t *off, size_t len)
{
	ssize_t n = REAL(sendfile64)(out, in, off, len);
	if (n > 0 && rt_fd_tracked(out))
		return report_sendfile(out, n);
	return n;
}
