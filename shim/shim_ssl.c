/* shim_ssl.c: OpenSSL's plaintext calls (SSL_read, SSL_write, their _ex forms,
 * SSL_peek) and the end of a session (SSL_shutdown, SSL_free). Each forwards to the
 * libssl the service loaded (base/libssl.c finds it on first use; the shim links none)
 * and reports the plaintext that moved on a tracked connection, as shim_io.c reports a
 * plain socket's bytes. The encrypted bytes libssl itself reads and writes on the
 * socket reach shim_io.c too; the runtime ignores them on a TLS connection.
 *
 * rt_on_ssl_begin takes the socket (SSL_get_fd) and its connection's token before the
 * call: 0 when the socket is not a tracked connection, and then nothing is reported.
 * A call that moved nothing (<= 0: an error, SSL_ERROR_WANT_READ / WANT_WRITE) reports
 * nothing; peeked bytes are reported when they are really read. Without a libssl to
 * forward to, a call fails as a broken one would, and nothing crashes. */
#include "shim.h"

#include <errno.h>

#include "../runtime/base/libssl.h"

/* OpenSSL's prototypes (ssl.h), declared here so the shim builds without its headers. */
int SSL_read(struct ssl_st *s, void *buf, int num);
int SSL_read_ex(struct ssl_st *s, void *buf, size_t num, size_t *got);
int SSL_write(struct ssl_st *s, const void *buf, int num);
int SSL_write_ex(struct ssl_st *s, const void *buf, size_t num, size_t *put);
int SSL_peek(struct ssl_st *s, void *buf, int num);
int SSL_peek_ex(struct ssl_st *s, void *buf, size_t num, size_t *got);
int SSL_shutdown(struct ssl_st *s);
void SSL_free(struct ssl_st *s);

static void report_read(struct ssl_st *s, int fd, uint64_t tok, const void *buf, size_t n)
{
	int saved = errno;
	rt_on_ssl_read(s, fd, tok, buf, n);
	errno = saved;
}

static void report_write(struct ssl_st *s, int fd, uint64_t tok, const void *buf, size_t n)
{
	int saved = errno;
	rt_on_ssl_write(s, fd, tok, buf, n);
	errno = saved;
}

SHIM_EXPORT int SSL_read(struct ssl_st *s, void *buf, int num)
{
	const struct rt_libssl *real = rt_libssl();
	if (!real)
		return -1;
	int fd;
	uint64_t tok = rt_on_ssl_begin(s, &fd);
	int n = real->SSL_read(s, buf, num);
	if (n > 0 && tok)
		report_read(s, fd, tok, buf, (size_t)n);
	return n;
}

SHIM_EXPORT int SSL_read_ex(struct ssl_st *s, void *buf, size_t num, size_t *got)
{
	const struct rt_libssl *real = rt_libssl();
	if (!real || !real->SSL_read_ex)
		return 0;
	int fd;
	uint64_t tok = rt_on_ssl_begin(s, &fd);
	int ok = real->SSL_read_ex(s, buf, num, got);
	if (ok > 0 && tok && got && *got > 0)
		report_read(s, fd, tok, buf, *got);
	return ok;
}

SHIM_EXPORT int SSL_write(struct ssl_st *s, const void *buf, int num)
{
	const struct rt_libssl *real = rt_libssl();
	if (!real || !real->SSL_write)
		return -1;
	int fd;
	uint64_t tok = rt_on_ssl_begin(s, &fd);
	int n = real->SSL_write(s, buf, num);
	if (n > 0 && tok)
		report_write(s, fd, tok, buf, (size_t)n);
	return n;
}

SHIM_EXPORT int SSL_write_ex(struct ssl_st *s, const void *buf, size_t num, size_t *put)
{
	const struct rt_libssl *real = rt_libssl();
	if (!real || !real->SSL_write_ex)
		return 0;
	int fd;
	uint64_t tok = rt_on_ssl_begin(s, &fd);
	int ok = real->SSL_write_ex(s, buf, num, put);
	if (ok > 0 && tok && put && *put > 0)
		report_write(s, fd, tok, buf, *put);
	return ok;
}

/* Peeking leaves the bytes for the next read, which reports them. The call still
 * tells the runtime that libssl serves this connection. */
SHIM_EXPORT int SSL_peek(struct ssl_st *s, void *buf, int num)
{
	const struct rt_libssl *real = rt_libssl();
	if (!real || !real->SSL_peek)
		return -1;
	int fd;
	rt_on_ssl_begin(s, &fd);
	return real->SSL_peek(s, buf, num);
}

SHIM_EXPORT int SSL_peek_ex(struct ssl_st *s, void *buf, size_t num, size_t *got)
{
	const struct rt_libssl *real = rt_libssl();
	if (!real || !real->SSL_peek_ex)
		return 0;
	int fd;
	rt_on_ssl_begin(s, &fd);
	return real->SSL_peek_ex(s, buf, num, got);
}

SHIM_EXPORT int SSL_shutdown(struct ssl_st *s)
{
	const struct rt_libssl *real = rt_libssl();
	if (!real || !real->SSL_shutdown)
		return -1;
	int fd;
	rt_on_ssl_begin(s, &fd);
	return real->SSL_shutdown(s);
}

/* Reported before the real call, which frees what SSL_get_fd reads. The socket may
 * be closed already and its number reused: the runtime ends only a connection whose
 * plaintext came through this very SSL. */
SHIM_EXPORT void SSL_free(struct ssl_st *s)
{
	const struct rt_libssl *real = rt_libssl();
	if (!real)
		return;
	int fd;
	uint64_t tok = rt_on_ssl_begin(s, &fd);
	if (tok) {
		int saved = errno;
		rt_on_ssl_free(s, fd, tok);
		errno = saved;
	}
	real->SSL_free(s);
}
