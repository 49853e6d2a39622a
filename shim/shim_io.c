/* shim_io.c: data interposers. Each forwards to the real call and, when bytes moved on
 * a tracked connection, reports them to the runtime. errno and the return value always
 * go back untouched.
 *
 * Every call pays one table look-up, rt_fd_tracked(). An fd that is not a tracked
 * connection goes on to the real function as a tail call: no frame of ours, and the
 * real function returns straight to the service. An fd only becomes tracked when
 * accept() returns it, so it cannot turn tracked during a call on it. A tracked fd
 * takes the cold path (a separate function, so the hot one needs no stack frame),
 * which takes the connection's token before the call and hands it back with the
 * bytes: the fd may have been closed and its number accepted again meanwhile (a read
 * blocked on the old socket returns its bytes later), and the runtime then drops
 * them rather than give them to the newcomer.
 *
 * A thread serving a request also times each call (rt.h, rt_wait_timed): a call
 * that blocked is where the request waited, for its wall-clock profile. Timing takes
 * two reads of the tick counter, never a signal. */
#include "shim.h"

#include <errno.h>
#include <unistd.h>
#include <sys/sendfile.h>

#define COLD static __attribute__((noinline, cold))

/* Peeked bytes will be read again; reporting them would count them twice. MSG_TRUNC on
 * a stream socket discards bytes without copying them: they are reported as opaque
 * (NULL), which the runtime accepts only inside a body. */
#define PEEKS(flags) ((flags) & MSG_PEEK)
#define SEEN(flags, buf) (((flags) & MSG_TRUNC) ? NULL : (buf))

/* ---- cold paths: the call on a tracked connection, then the report ---- */

static void report_read(int fd, uint64_t tok, const void *buf, ssize_t n)
{
	int saved = errno;
	rt_on_read(fd, tok, buf, (size_t)n);
	errno = saved;
}

static void report_readv(int fd, uint64_t tok, const struct iovec *iov, int cnt, ssize_t n)
{
	int saved = errno;
	rt_on_readv(fd, tok, iov, cnt, (size_t)n);
	errno = saved;
}

static void report_write(int fd, uint64_t tok, const void *buf, ssize_t n)
{
	int saved = errno;
	rt_on_write(fd, tok, buf, (size_t)n);
	errno = saved;
}

static void report_writev(int fd, uint64_t tok, const struct iovec *iov, int cnt, ssize_t n)
{
	int saved = errno;
	rt_on_writev(fd, tok, iov, cnt, (size_t)n);
	errno = saved;
}

static void report_sendfile(int fd, uint64_t tok, ssize_t n)
{
	int saved = errno;
	rt_on_sendfile(fd, tok, (size_t)n);
	errno = saved;
}

COLD ssize_t tracked_read(int fd, void *buf, size_t len, const void *site)
{
	uint64_t tok = rt_fd_token(fd);
	uint64_t t0 = rt_wait_timed() ? rt_ticks() : 0;
	ssize_t n = REAL(read)(fd, buf, len);
	if (t0)
		shim_waited(RT_WAIT_READ, fd, t0, site);
	if (n > 0 && rt_fd_tracked(fd))
		report_read(fd, tok, buf, n);
	return n;
}

COLD ssize_t tracked_readv(int fd, const struct iovec *iov, int cnt, const void *site)
{
	uint64_t tok = rt_fd_token(fd);
	uint64_t t0 = rt_wait_timed() ? rt_ticks() : 0;
	ssize_t n = REAL(readv)(fd, iov, cnt);
	if (t0)
		shim_waited(RT_WAIT_READV, fd, t0, site);
	if (n > 0 && rt_fd_tracked(fd))
		report_readv(fd, tok, iov, cnt, n);
	return n;
}

COLD ssize_t tracked_recv(int fd, void *buf, size_t len, int flags, const void *site)
{
	uint64_t tok = rt_fd_token(fd);
	uint64_t t0 = rt_wait_timed() ? rt_ticks() : 0;
	ssize_t n = REAL(recv)(fd, buf, len, flags);
	if (t0)
		shim_waited(RT_WAIT_RECV, fd, t0, site);
	if (n > 0 && !PEEKS(flags) && rt_fd_tracked(fd))
		report_read(fd, tok, SEEN(flags, buf), n);
	return n;
}

COLD ssize_t tracked_recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *a,
			      socklen_t *alen, const void *site)
{
	uint64_t tok = rt_fd_token(fd);
	uint64_t t0 = rt_wait_timed() ? rt_ticks() : 0;
	ssize_t n = REAL(recvfrom)(fd, buf, len, flags, a, alen);
	if (t0)
		shim_waited(RT_WAIT_RECVFROM, fd, t0, site);
	if (n > 0 && !PEEKS(flags) && rt_fd_tracked(fd))
		report_read(fd, tok, SEEN(flags, buf), n);
	return n;
}

COLD ssize_t tracked_recvmsg(int fd, struct msghdr *msg, int flags, const void *site)
{
	uint64_t tok = rt_fd_token(fd);
	uint64_t t0 = rt_wait_timed() ? rt_ticks() : 0;
	ssize_t n = REAL(recvmsg)(fd, msg, flags);
	if (t0)
		shim_waited(RT_WAIT_RECVMSG, fd, t0, site);
	if (n > 0 && !PEEKS(flags) && rt_fd_tracked(fd)) {
		if (flags & MSG_TRUNC)
			report_read(fd, tok, NULL, n);
		else
			report_readv(fd, tok, msg->msg_iov, (int)msg->msg_iovlen, n);
	}
	return n;
}

COLD ssize_t tracked_write(int fd, const void *buf, size_t len, const void *site)
{
	if (rt_outbound_any()) { /* the service opened connections: is this one? */
		struct iovec v = { (void *)buf, len };
		rt_send_t s = { .kind = RT_SEND_WRITE, .iov = &v, .iovcnt = 1 };
		ssize_t r;
		if (rt_on_send(fd, &s, &r))
			return r;
	}
	uint64_t tok = rt_fd_token(fd);
	uint64_t t0 = rt_wait_timed() ? rt_ticks() : 0;
	ssize_t n = REAL(write)(fd, buf, len);
	if (t0)
		shim_waited(RT_WAIT_WRITE, fd, t0, site);
	if (n > 0 && rt_fd_tracked(fd))
		report_write(fd, tok, buf, n);
	return n;
}

COLD ssize_t tracked_writev(int fd, const struct iovec *iov, int cnt, const void *site)
{
	if (rt_outbound_any()) { /* the service opened connections: is this one? */
		rt_send_t s = { .kind = RT_SEND_WRITEV, .iov = iov, .iovcnt = cnt };
		ssize_t r;
		if (rt_on_send(fd, &s, &r))
			return r;
	}
	uint64_t tok = rt_fd_token(fd);
	uint64_t t0 = rt_wait_timed() ? rt_ticks() : 0;
	ssize_t n = REAL(writev)(fd, iov, cnt);
	if (t0)
		shim_waited(RT_WAIT_WRITEV, fd, t0, site);
	if (n > 0 && rt_fd_tracked(fd))
		report_writev(fd, tok, iov, cnt, n);
	return n;
}

COLD ssize_t tracked_send(int fd, const void *buf, size_t len, int flags, const void *site)
{
	if (rt_outbound_any()) { /* the service opened connections: is this one? */
		struct iovec v = { (void *)buf, len };
		rt_send_t s = { .kind = RT_SEND_SEND, .iov = &v, .iovcnt = 1, .flags = flags };
		ssize_t r;
		if (rt_on_send(fd, &s, &r))
			return r;
	}
	uint64_t tok = rt_fd_token(fd);
	uint64_t t0 = rt_wait_timed() ? rt_ticks() : 0;
	ssize_t n = REAL(send)(fd, buf, len, flags);
	if (t0)
		shim_waited(RT_WAIT_SEND, fd, t0, site);
	if (n > 0 && rt_fd_tracked(fd))
		report_write(fd, tok, buf, n);
	return n;
}

COLD ssize_t tracked_sendto(int fd, const void *buf, size_t len, int flags,
			    const struct sockaddr *a, socklen_t alen, const void *site)
{
	if (rt_outbound_any()) { /* the service opened connections: is this one? */
		struct iovec v = { (void *)buf, len };
		rt_send_t s = { .kind = RT_SEND_SENDTO, .iov = &v, .iovcnt = 1, .flags = flags,
				.to = a, .tolen = alen };
		ssize_t r;
		if (rt_on_send(fd, &s, &r))
			return r;
	}
	uint64_t tok = rt_fd_token(fd);
	uint64_t t0 = rt_wait_timed() ? rt_ticks() : 0;
	ssize_t n = REAL(sendto)(fd, buf, len, flags, a, alen);
	if (t0)
		shim_waited(RT_WAIT_SENDTO, fd, t0, site);
	if (n > 0 && rt_fd_tracked(fd))
		report_write(fd, tok, buf, n);
	return n;
}

COLD ssize_t tracked_sendmsg(int fd, const struct msghdr *msg, int flags, const void *site)
{
	if (rt_outbound_any()) { /* the service opened connections: is this one? */
		rt_send_t s = { .kind = RT_SEND_SENDMSG, .iov = msg->msg_iov,
				.iovcnt = (int)msg->msg_iovlen, .flags = flags, .msg = msg };
		ssize_t r;
		if (rt_on_send(fd, &s, &r))
			return r;
	}
	uint64_t tok = rt_fd_token(fd);
	uint64_t t0 = rt_wait_timed() ? rt_ticks() : 0;
	ssize_t n = REAL(sendmsg)(fd, msg, flags);
	if (t0)
		shim_waited(RT_WAIT_SENDMSG, fd, t0, site);
	if (n > 0 && rt_fd_tracked(fd))
		report_writev(fd, tok, msg->msg_iov, (int)msg->msg_iovlen, n);
	return n;
}

COLD ssize_t tracked_sendfile(int out, int in, off_t *off, size_t len, const void *site)
{
	if (rt_outbound_any()) { /* the service opened connections: is this one? */
		rt_send_t s = { .kind = RT_SEND_SENDFILE, .in_fd = in, .off = off, .count = len };
		ssize_t r;
		if (rt_on_send(out, &s, &r))
			return r;
	}
	uint64_t tok = rt_fd_token(out);
	uint64_t t0 = rt_wait_timed() ? rt_ticks() : 0;
	ssize_t n = REAL(sendfile)(out, in, off, len);
	if (t0)
		shim_waited(RT_WAIT_SENDFILE, out, t0, site);
	if (n > 0 && rt_fd_tracked(out))
		report_sendfile(out, tok, n);
	return n;
}

COLD ssize_t tracked_sendfile64(int out, int in, off_t *off, size_t len, const void *site)
{
	if (rt_outbound_any()) { /* the service opened connections: is this one? */
		rt_send_t s = { .kind = RT_SEND_SENDFILE64, .in_fd = in, .off = off, .count = len };
		ssize_t r;
		if (rt_on_send(out, &s, &r))
			return r;
	}
	uint64_t tok = rt_fd_token(out);
	uint64_t t0 = rt_wait_timed() ? rt_ticks() : 0;
	ssize_t n = REAL(sendfile64)(out, in, off, len);
	if (t0)
		shim_waited(RT_WAIT_SENDFILE, out, t0, site);
	if (n > 0 && rt_fd_tracked(out))
		report_sendfile(out, tok, n);
	return n;
}

/* ---- cold paths: a call on any other descriptor by a thread serving a request ---- */

#define TIMED(kind, fd, call)                   \
	do {                                    \
		uint64_t t0_ = rt_ticks();      \
		ssize_t n_ = call;              \
		shim_waited(kind, fd, t0_, site);    \
		return n_;                      \
	} while (0)

COLD ssize_t timed_read(int fd, void *buf, size_t len, const void *site)
{
	TIMED(RT_WAIT_READ, fd, REAL(read)(fd, buf, len));
}

COLD ssize_t timed_readv(int fd, const struct iovec *iov, int cnt, const void *site)
{
	TIMED(RT_WAIT_READV, fd, REAL(readv)(fd, iov, cnt));
}

COLD ssize_t timed_recv(int fd, void *buf, size_t len, int flags, const void *site)
{
	TIMED(RT_WAIT_RECV, fd, REAL(recv)(fd, buf, len, flags));
}

COLD ssize_t timed_recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *a,
			    socklen_t *alen, const void *site)
{
	TIMED(RT_WAIT_RECVFROM, fd, REAL(recvfrom)(fd, buf, len, flags, a, alen));
}

COLD ssize_t timed_recvmsg(int fd, struct msghdr *msg, int flags, const void *site)
{
	TIMED(RT_WAIT_RECVMSG, fd, REAL(recvmsg)(fd, msg, flags));
}

COLD ssize_t timed_write(int fd, const void *buf, size_t len, const void *site)
{
	TIMED(RT_WAIT_WRITE, fd, REAL(write)(fd, buf, len));
}

COLD ssize_t timed_writev(int fd, const struct iovec *iov, int cnt, const void *site)
{
	TIMED(RT_WAIT_WRITEV, fd, REAL(writev)(fd, iov, cnt));
}

COLD ssize_t timed_send(int fd, const void *buf, size_t len, int flags, const void *site)
{
	TIMED(RT_WAIT_SEND, fd, REAL(send)(fd, buf, len, flags));
}

COLD ssize_t timed_sendto(int fd, const void *buf, size_t len, int flags,
			  const struct sockaddr *a, socklen_t alen, const void *site)
{
	TIMED(RT_WAIT_SENDTO, fd, REAL(sendto)(fd, buf, len, flags, a, alen));
}

COLD ssize_t timed_sendmsg(int fd, const struct msghdr *msg, int flags, const void *site)
{
	TIMED(RT_WAIT_SENDMSG, fd, REAL(sendmsg)(fd, msg, flags));
}

COLD ssize_t timed_sendfile(int out, int in, off_t *off, size_t len, const void *site)
{
	TIMED(RT_WAIT_SENDFILE, out, REAL(sendfile)(out, in, off, len));
}

COLD ssize_t timed_sendfile64(int out, int in, off_t *off, size_t len, const void *site)
{
	TIMED(RT_WAIT_SENDFILE, out, REAL(sendfile64)(out, in, off, len));
}

/* ---- interposers: one look-up, then a tail call ---- */

SHIM_EXPORT ssize_t read(int fd, void *buf, size_t len)
{
	if (rt_fd_tracked(fd))
		return tracked_read(fd, buf, len, __builtin_return_address(0));
	if (rt_wait_timed())
		return timed_read(fd, buf, len, __builtin_return_address(0));
	return REAL(read)(fd, buf, len);
}

SHIM_EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
	if (rt_fd_tracked(fd))
		return tracked_readv(fd, iov, cnt, __builtin_return_address(0));
	if (rt_wait_timed())
		return timed_readv(fd, iov, cnt, __builtin_return_address(0));
	return REAL(readv)(fd, iov, cnt);
}

SHIM_EXPORT ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	if (rt_fd_tracked(fd))
		return tracked_recv(fd, buf, len, flags, __builtin_return_address(0));
	if (rt_wait_timed())
		return timed_recv(fd, buf, len, flags, __builtin_return_address(0));
	return REAL(recv)(fd, buf, len, flags);
}

SHIM_EXPORT ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *a,
			     socklen_t *alen)
{
	if (rt_fd_tracked(fd))
		return tracked_recvfrom(fd, buf, len, flags, a, alen, __builtin_return_address(0));
	if (rt_wait_timed())
		return timed_recvfrom(fd, buf, len, flags, a, alen, __builtin_return_address(0));
	return REAL(recvfrom)(fd, buf, len, flags, a, alen);
}

SHIM_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	if (rt_fd_tracked(fd))
		return tracked_recvmsg(fd, msg, flags, __builtin_return_address(0));
	if (rt_wait_timed())
		return timed_recvmsg(fd, msg, flags, __builtin_return_address(0));
	return REAL(recvmsg)(fd, msg, flags);
}

SHIM_EXPORT ssize_t write(int fd, const void *buf, size_t len)
{
	if (rt_fd_tracked(fd))
		return tracked_write(fd, buf, len, __builtin_return_address(0));
	if (rt_wait_timed())
		return timed_write(fd, buf, len, __builtin_return_address(0));
	return REAL(write)(fd, buf, len);
}

SHIM_EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	if (rt_fd_tracked(fd))
		return tracked_writev(fd, iov, cnt, __builtin_return_address(0));
	if (rt_wait_timed())
		return timed_writev(fd, iov, cnt, __builtin_return_address(0));
	return REAL(writev)(fd, iov, cnt);
}

SHIM_EXPORT ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	if (rt_fd_tracked(fd))
		return tracked_send(fd, buf, len, flags, __builtin_return_address(0));
	if (rt_wait_timed())
		return timed_send(fd, buf, len, flags, __builtin_return_address(0));
	return REAL(send)(fd, buf, len, flags);
}

SHIM_EXPORT ssize_t sendto(int fd, const void *buf, size_t len, int flags,
			   const struct sockaddr *a, socklen_t alen)
{
	if (rt_fd_tracked(fd))
		return tracked_sendto(fd, buf, len, flags, a, alen, __builtin_return_address(0));
	if (rt_wait_timed())
		return timed_sendto(fd, buf, len, flags, a, alen, __builtin_return_address(0));
	return REAL(sendto)(fd, buf, len, flags, a, alen);
}

SHIM_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	if (rt_fd_tracked(fd))
		return tracked_sendmsg(fd, msg, flags, __builtin_return_address(0));
	if (rt_wait_timed())
		return timed_sendmsg(fd, msg, flags, __builtin_return_address(0));
	return REAL(sendmsg)(fd, msg, flags);
}

SHIM_EXPORT ssize_t sendfile(int out, int in, off_t *off, size_t len)
{
	if (rt_fd_tracked(out))
		return tracked_sendfile(out, in, off, len, __builtin_return_address(0));
	if (rt_wait_timed())
		return timed_sendfile(out, in, off, len, __builtin_return_address(0));
	return REAL(sendfile)(out, in, off, len);
}

SHIM_EXPORT ssize_t sendfile64(int out, int in, off_t *off, size_t len)
{
	if (rt_fd_tracked(out))
		return tracked_sendfile64(out, in, off, len, __builtin_return_address(0));
	if (rt_wait_timed())
		return timed_sendfile64(out, in, off, len, __builtin_return_address(0));
	return REAL(sendfile64)(out, in, off, len);
}
