/* tls.h: what the connection tracker needs to know about TLS: whether a socket's
 * first bytes are a TLS record (the stream is encrypted: its plaintext will come
 * through libssl's calls, or never), whether a shared libssl is loaded at all, and
 * what an SSL session says about itself (its socket, the protocol ALPN chose). The
 * connection state is track/conn.c's; the interposers are shim/shim_ssl.c.
 * Context: host threads, inside the reentrancy guard; no lock of ours is held across
 * the loader (rt_tls_lib_loaded may take its lock the first time). */
#ifndef RT_TLS_H
#define RT_TLS_H

#include <stddef.h>
#include <sys/uio.h>

/* Whether the first n bytes in iov start a TLS handshake record (content type 22,
 * version major 3). One byte is enough to tell: no HTTP/1.x request or response, and
 * no HTTP/2 preface, begins with 0x16. */
int rt_tls_record_start(const struct iovec *iov, int iovcnt, size_t n);

/* Whether a libssl whose calls the shim sees is loaded. A TLS handshake on a socket
 * when none is means the service's TLS is linked in statically (node's bundled
 * OpenSSL, BoringSSL, rustls, GnuTLS): its plaintext can never be seen. */
int rt_tls_lib_loaded(void);

/* The socket ssl reads from, or -1. */
int rt_tls_ssl_fd(const void *ssl);
/* A session is about to be freed (any: the answers rt_tls_ssl_fd keeps are dropped). */
void rt_tls_session_freed(void);

/* Whether ALPN chose "h2" for ssl. */
int rt_tls_alpn_h2(const void *ssl);

#endif
