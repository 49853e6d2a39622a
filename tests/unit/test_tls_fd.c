/* test_tls_fd.c: rt_tls_ssl_fd (track/tls.c) keeps its last answer per thread; it must
 * never give a session's old socket. With the system's libssl loaded (dlopen, as
 * python's _ssl does): a session's socket is found; asked again, the same; re-pointed
 * at another socket with SSL_set_fd, the new one; and a session freed, then another
 * made (often at the same address, with its BIO at the old BIO's) on a third socket,
 * that socket. */
#include <dlfcn.h>

#include "t.h"
#include "track/tls.h"

typedef void *(*ptr_fn)(void);
typedef void *(*ctx_new_fn)(const void *);
typedef void *(*ssl_new_fn)(void *);
typedef int (*set_fd_fn)(void *, int);
typedef void (*free_fn)(void *);

int main(void)
{
	void *h = dlopen("libssl.so.3", RTLD_NOW | RTLD_GLOBAL);
	if (!h)
		h = dlopen("libssl.so", RTLD_NOW | RTLD_GLOBAL);
	if (!h)
		skip_all("no libssl to load");
	ptr_fn method = (ptr_fn)dlsym(h, "TLS_method");
	ctx_new_fn ctx_new = (ctx_new_fn)dlsym(h, "SSL_CTX_new");
	ssl_new_fn ssl_new = (ssl_new_fn)dlsym(h, "SSL_new");
	set_fd_fn set_fd = (set_fd_fn)dlsym(h, "SSL_set_fd");
	free_fn ssl_free = (free_fn)dlsym(h, "SSL_free");
	free_fn ctx_free = (free_fn)dlsym(h, "SSL_CTX_free");
	if (!ok(method && ctx_new && ssl_new && set_fd && ssl_free && ctx_free, "libssl's calls found"))
		return done_testing();
	void *ctx = ctx_new(method());
	void *a = ctx ? ssl_new(ctx) : NULL;
	if (!ok(a && set_fd(a, 5) == 1, "a session on descriptor 5"))
		return done_testing();

	ok(rt_tls_lib_loaded(), "the runtime finds the loaded libssl");
	is_int(rt_tls_ssl_fd(a), 5, "its socket");
	is_int(rt_tls_ssl_fd(a), 5, "asked again (kept): the same");
	set_fd(a, 6);
	is_int(rt_tls_ssl_fd(a), 6, "re-pointed with SSL_set_fd: the new socket");

	int reused = 0, right = 1;
	for (int i = 0; i < 20; i++) {
		void *was = a;
		rt_tls_session_freed(); /* as the SSL_free interposer reports it */
		ssl_free(a);
		a = ssl_new(ctx);
		if (!a || set_fd(a, 7 + i) != 1)
			break;
		reused += a == was;
		right &= rt_tls_ssl_fd(a) == 7 + i;
	}
	printf("# %d of 20 new sessions at the freed one's address\n", reused);
	ok(right, "a session made after another was freed: its own socket, every time");
	ssl_free(a);
	ctx_free(ctx);
	return done_testing();
}
