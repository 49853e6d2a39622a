/* libssl.c: finds the service's libssl (see libssl.h). First the global scope after
 * us (a service linked with libssl), else any loaded object named libssl.so* (one
 * dlopen'ed locally, as python's _ssl brings it); every entry then comes from that one
 * object, through a handle on it, so two OpenSSL versions in one process are not mixed.
 * The handle is kept: an object whose SSL_read the service called stays loaded. */
#include "base/libssl.h"

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <sched.h>
#include <string.h>

#include "base/libc.h"

struct rt_libssl rt_libssl_table;
int rt_libssl_state; /* 0 empty, 1 being published, RT_LIBSSL_READY */

/* The loader's count of objects ever loaded when no libssl was found (0: never
 * looked): a later look is worth it only after another load. */
static unsigned long long looked_at_adds;

struct scan {
	unsigned long long adds;
	char path[512];
};

static int scan_object(struct dl_phdr_info *info, size_t size, void *data)
{
	struct scan *s = data;
	(void)size;
	s->adds = info->dlpi_adds;
	const char *name = info->dlpi_name;
	if (!name || !*name || s->path[0])
		return 0;
	const char *base = strrchr(name, '/');
	base = base ? base + 1 : name;
	if (strncmp(base, "libssl.so", 9) == 0 && strlen(name) < sizeof s->path)
		memcpy(s->path, name, strlen(name) + 1);
	return 0;
}

/* A handle on the object that defines SSL_read, or NULL. */
static void *find_object(void)
{
	struct scan s = { 0, "" };
	void *first = dlsym(RTLD_NEXT, "SSL_read");
	Dl_info info;
	if (first && dladdr(first, &info) && info.dli_fname) {
		void *h = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
		if (h)
			return h;
	}
	REAL(dl_iterate_phdr)(scan_object, &s);
	if (s.path[0])
		return dlopen(s.path, RTLD_LAZY | RTLD_NOLOAD);
	__atomic_store_n(&looked_at_adds, s.adds ? s.adds : 1, __ATOMIC_RELAXED);
	return NULL;
}

static int first_object(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	*(unsigned long long *)data = info->dlpi_adds;
	return 1;
}

static int nothing_loaded_since(void)
{
	unsigned long long then = __atomic_load_n(&looked_at_adds, __ATOMIC_RELAXED), now = 0;
	if (then == 0)
		return 0;
	REAL(dl_iterate_phdr)(first_object, &now);
	return now == then;
}

#define FIND(t, h, name) (t).name = (__typeof__((t).name))dlsym(h, #name)

int rt_libssl_resolve(void)
{
	int saved = errno;
	if (__atomic_load_n(&rt_libssl_state, __ATOMIC_ACQUIRE) == 0) {
		struct rt_libssl t;
		void *h = nothing_loaded_since() ? NULL : find_object();
		if (!h) {
			errno = saved;
			return 0;
		}
		FIND(t, h, SSL_read);
		FIND(t, h, SSL_read_ex);
		FIND(t, h, SSL_write);
		FIND(t, h, SSL_write_ex);
		FIND(t, h, SSL_peek);
		FIND(t, h, SSL_peek_ex);
		FIND(t, h, SSL_shutdown);
		FIND(t, h, SSL_free);
		FIND(t, h, SSL_get_fd);
		FIND(t, h, SSL_get0_alpn_selected);
		if (!t.SSL_read || !t.SSL_free) {
			errno = saved;
			return 0;
		}
		/* Publish once; a thread that lost the race waits for the winner's copy. */
		int expect = 0;
		if (__atomic_compare_exchange_n(&rt_libssl_state, &expect, 1, 0, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE)) {
			rt_libssl_table = t;
			__atomic_store_n(&rt_libssl_state, RT_LIBSSL_READY, __ATOMIC_RELEASE);
		}
	}
	while (__atomic_load_n(&rt_libssl_state, __ATOMIC_ACQUIRE) != RT_LIBSSL_READY)
		sched_yield();
	errno = saved;
	return 1;
}
