/* tls.c: see tls.h. The OpenSSL functions come from base/libssl.c, found in the
 * service's own libssl. */
#include "track/tls.h"

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

int rt_tls_ssl_fd(const void *ssl)
{
	const struct rt_libssl *l = rt_libssl();
	if (!ssl || !l || !l->SSL_get_fd)
		return -1;
	return l->SSL_get_fd(ssl);
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
