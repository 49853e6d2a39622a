/* libssl.h: the real OpenSSL functions (1.1 and 3) the TLS interposers forward to and
 * the runtime asks about a connection. The shim does not link libssl: a service loads
 * it, often late (python's _ssl is dlopen'ed, and with RTLD_LOCAL, so dlsym(RTLD_NEXT)
 * cannot see it), so the table is filled on first use from whichever libssl is loaded.
 * A service calling SSL_read has a libssl loaded, and every entry comes from that one
 * object. Context: any host thread, not a signal handler (it may take the loader's
 * lock); no lock of ours is held across the loader. */
#ifndef RT_LIBSSL_H
#define RT_LIBSSL_H

#include <stddef.h>

struct ssl_st; /* OpenSSL's SSL, opaque here: only pointers pass through */

struct rt_libssl {
	int (*SSL_read)(struct ssl_st *, void *, int);
	int (*SSL_read_ex)(struct ssl_st *, void *, size_t, size_t *);
	int (*SSL_write)(struct ssl_st *, const void *, int);
	int (*SSL_write_ex)(struct ssl_st *, const void *, size_t, size_t *);
	int (*SSL_peek)(struct ssl_st *, void *, int);
	int (*SSL_peek_ex)(struct ssl_st *, void *, size_t, size_t *);
	int (*SSL_shutdown)(struct ssl_st *);
	void (*SSL_free)(struct ssl_st *);
	int (*SSL_get_fd)(const struct ssl_st *);
	void *(*SSL_get_rbio)(const struct ssl_st *);
	void (*SSL_get0_alpn_selected)(const struct ssl_st *, const unsigned char **, unsigned int *);
};

extern struct rt_libssl rt_libssl_table;
extern int rt_libssl_state; /* LIBSSL_READY once the table is filled */
#define RT_LIBSSL_READY 2

/* Fills the table from the libssl loaded now. Returns 1 when it is filled (then every
 * entry the object has is set; SSL_get0_alpn_selected and SSL_get_rbio may be NULL), 0 when no libssl
 * is loaded (looked for again only after the process loads another object). */
int rt_libssl_resolve(void);

/* The interposed functions, for rt_libssl_route. */
enum rt_ssl_fn {
	RT_SSL_READ, RT_SSL_READ_EX, RT_SSL_WRITE, RT_SSL_WRITE_EX, RT_SSL_PEEK, RT_SSL_PEEK_EX,
	RT_SSL_SHUTDOWN, RT_SSL_FREE, RT_SSL_ROUTED
};

/* The function fn that the code returning to ra would have called without the shim:
 * the definition its own object's dependencies give, else the table's. A library that
 * bundles an OpenSSL of its own (a Python wheel's libssl-<hash>.so.1.1 beside the
 * system's libssl.so.3) reaches its own, as symbol versions make it without us, and
 * the runtime must not touch its SSL objects with the table's functions: *tracked is 1
 * only when the function is the table's. NULL when there is none. Cached per call
 * site: after the first call from a site, a hash and two loads. */
void *rt_libssl_route(const void *ra, int fn, int *tracked);

/* The table, or NULL when no libssl is loaded. */
static inline const struct rt_libssl *rt_libssl(void)
{
	if (__atomic_load_n(&rt_libssl_state, __ATOMIC_ACQUIRE) == RT_LIBSSL_READY ||
	    rt_libssl_resolve())
		return &rt_libssl_table;
	return NULL;
}

#endif
