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
 * nothing; peeked bytes are reported when they are really read. Each call goes to the
 * libssl its caller's object links (a library may bundle its own OpenSSL); only the
 * one the runtime knows is tracked. Without a libssl to forward to, a call fails as a
 * broken one would, and nothing crashes. */
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

/* The libssl this call site would reach without us, and whether it is the one the
 * runtime knows (else the call is only forwarded: see rt_libssl_route). */
#define ROUTE(fn, tracked) rt_libssl_route(__builtin_return_address(0), (fn), (tracked))

typedef int (*io_fn)(struct ssl_st *, void *, int);
typedef int (*io_ex_fn)(struct ssl_st *, void *, size_t, size_t *);
typedef int (*wr_fn)(struct ssl_st *, const void *, int);
typedef int (*wr_ex_fn)(struct ssl_st *, const void *, size_t, size_t *);
typedef int (*end_fn)(struct ssl_st *);
typedef void (*free_fn)(struct ssl_st *);

SHIM_EXPORT int SSL_read(struct ssl_st *s, void *buf, int num)
{
	int tracked, fd;
	io_fn real = (io_fn)ROUTE(RT_SSL_READ, &tracked);
	if (!real)
		return -1;
	if (!tracked)
		return real(s, buf, num);
	uint64_t tok = rt_on_ssl_begin(s, &fd);
	int n = real(s, buf, num);
	if (n > 0 && tok)
		report_read(s, fd, tok, buf, (size_t)n);
	return n;
}

SHIM_EXPORT int SSL_read_ex(struct ssl_st *s, void *buf, size_t num, size_t *got)
{
	int tracked, fd;
	io_ex_fn real = (io_ex_fn)ROUTE(RT_SSL_READ_EX, &tracked);
	if (!real)
		return 0;
	if (!tracked)
		return real(s, buf, num, got);
	uint64_t tok = rt_on_ssl_begin(s, &fd);
	int ok = real(s, buf, num, got);
	if (ok > 0 && tok && got && *got > 0)
		report_read(s, fd, tok, buf, *got);
	return ok;
}

SHIM_EXPORT int SSL_write(struct ssl_st *s, const void *buf, int num)
{
	int tracked, fd;
	wr_fn real = (wr_fn)ROUTE(RT_SSL_WRITE, &tracked);
	if (!real)
		return -1;
	if (!tracked)
		return real(s, buf, num);
	uint64_t tok = rt_on_ssl_begin(s, &fd);
	int n = real(s, buf, num);
	if (n > 0 && tok)
		report_write(s, fd, tok, buf, (size_t)n);
	return n;
}

SHIM_EXPORT int SSL_write_ex(struct ssl_st *s, const void *buf, size_t num, size_t *put)
{
	int tracked, fd;
	wr_ex_fn real = (wr_ex_fn)ROUTE(RT_SSL_WRITE_EX, &tracked);
	if (!real)
		return 0;
	if (!tracked)
		return real(s, buf, num, put);
	uint64_t tok = rt_on_ssl_begin(s, &fd);
	int ok = real(s, buf, num, put);
	if (ok > 0 && tok && put && *put > 0)
		report_write(s, fd, tok, buf, *put);
	return ok;
}

/* Peeking leaves the bytes for the next read, which reports them. The call still
 * tells the runtime that libssl serves this connection. */
SHIM_EXPORT int SSL_peek(struct ssl_st *s, void *buf, int num)
{
	int tracked, fd;
	io_fn real = (io_fn)ROUTE(RT_SSL_PEEK, &tracked);
	if (!real)
		return -1;
	if (tracked)
		rt_on_ssl_begin(s, &fd);
	return real(s, buf, num);
}

SHIM_EXPORT int SSL_peek_ex(struct ssl_st *s, void *buf, size_t num, size_t *got)
{
	int tracked, fd;
	io_ex_fn real = (io_ex_fn)ROUTE(RT_SSL_PEEK_EX, &tracked);
	if (!real)
		return 0;
	if (tracked)
		rt_on_ssl_begin(s, &fd);
	return real(s, buf, num, got);
}

SHIM_EXPORT int SSL_shutdown(struct ssl_st *s)
{
	int tracked, fd;
	end_fn real = (end_fn)ROUTE(RT_SSL_SHUTDOWN, &tracked);
	if (!real)
		return -1;
	if (tracked)
		rt_on_ssl_begin(s, &fd);
	return real(s);
}

/* Reported before the real call, which frees what SSL_get_fd reads. The socket may
 * be closed already and its number reused: the runtime ends only a connection whose
 * plaintext came through this very SSL. */
SHIM_EXPORT void SSL_free(struct ssl_st *s)
{
	int tracked, fd;
	free_fn real = (free_fn)ROUTE(RT_SSL_FREE, &tracked);
	if (!real)
		return;
	if (tracked) {
		uint64_t tok = rt_on_ssl_begin(s, &fd);
		int saved = errno;
		rt_on_ssl_free(s, fd, tok);
		errno = saved;
	}
	real(s);
}
