/* tls.c: see tls.h. The OpenSSL functions come from base/libssl.c, found in the
 * service's own libssl. */
#include "track/tls.h"

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "base/libssl.h"

int rt_tls_record_start(const struct iovec *iov, int iovcnt, size_t n)
{
	unsigned char b[2];
	size_t got = 0;
	for (int i = 0; i < iovcnt && got < sizeof b && got < n; i++) {
		const unsigned char *p = iov[i].iov_base;
		for (size_t j = 0; j < iov[i].iov_len && got < sizeof b && got < n; j++)
			b[got++] = p[j];
	}
	if (got == 0 || b[0] != 0x16)
		return 0;
	return got < 2 || b[1] == 0x03;
}

int rt_tls_lib_loaded(void)
{
	return rt_libssl() != NULL;
}

/* The last answer of rt_tls_ssl_fd on this thread. SSL_get_fd walks the session's BIO
 * chain (~100 instructions), and a thread makes its calls on one session in a row (the
 * request read, the read that finds no more, the answer written). The answer holds
 * while the session reads the same BIO object (SSL_set_fd makes a new one while the
 * old still lives) and no session has been freed since (a freed session's address,
 * and its BIO's, may come back for another socket). */
static __thread struct {
	const void *ssl, *rbio;
	uint32_t freed;
	int fd;
} last __attribute__((tls_model("initial-exec")));
static _Atomic uint32_t sessions_freed;

int rt_tls_ssl_fd(const void *ssl)
{
	const struct rt_libssl *l = rt_libssl();
	if (!ssl || !l || !l->SSL_get_fd)
		return -1;
	uint32_t freed = atomic_load_explicit(&sessions_freed, memory_order_acquire);
	const void *rbio = l->SSL_get_rbio ? l->SSL_get_rbio(ssl) : NULL;
	if (rbio && last.ssl == ssl && last.rbio == rbio && last.freed == freed)
		return last.fd;
	int fd = l->SSL_get_fd(ssl);
	if (rbio) {
		last.ssl = ssl;
		last.rbio = rbio;
		last.freed = freed;
		last.fd = fd;
	}
	return fd;
}

void rt_tls_session_freed(void)
{
	atomic_fetch_add_explicit(&sessions_freed, 1, memory_order_release);
}

int rt_tls_alpn_h2(const void *ssl)
{
	const struct rt_libssl *l = rt_libssl();
	const unsigned char *proto = NULL;
	unsigned int len = 0;
	if (!ssl || !l || !l->SSL_get0_alpn_selected)
		return 0;
	l->SSL_get0_alpn_selected(ssl, &proto, &len);
	return proto && len == 2 && memcmp(proto, "h2", 2) == 0;
}
