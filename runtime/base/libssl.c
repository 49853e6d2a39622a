/* libssl.c: finds the service's libssl (see libssl.h). First the global scope after
 * us (a service linked with libssl), else any loaded object named libssl.so* (one
 * dlopen'ed locally, as python's _ssl brings it); every entry then comes from that one
 * object, through a handle on it, so two OpenSSL versions in one process are not mixed.
 * The handle is kept: an object whose SSL_read the service called stays loaded.
 * Each call site is routed to the libssl its own object links (rt_libssl_route). */
#include "base/libssl.h"

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <sched.h>
#include <stdint.h>
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
		FIND(t, h, SSL_get_rbio);
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

/* ---- routing call sites ---- */

static const char *const routed_names[RT_SSL_ROUTED] = {
	"SSL_read", "SSL_read_ex", "SSL_write", "SSL_write_ex", "SSL_peek", "SSL_peek_ex",
	"SSL_shutdown", "SSL_free",
};

static void *table_fn(int fn)
{
	const struct rt_libssl *t = rt_libssl();
	if (!t)
		return NULL;
	switch (fn) {
	case RT_SSL_READ: return (void *)t->SSL_read;
	case RT_SSL_READ_EX: return (void *)t->SSL_read_ex;
	case RT_SSL_WRITE: return (void *)t->SSL_write;
	case RT_SSL_WRITE_EX: return (void *)t->SSL_write_ex;
	case RT_SSL_PEEK: return (void *)t->SSL_peek;
	case RT_SSL_PEEK_EX: return (void *)t->SSL_peek_ex;
	case RT_SSL_SHUTDOWN: return (void *)t->SSL_shutdown;
	case RT_SSL_FREE: return (void *)t->SSL_free;
	}
	return NULL;
}

static void *own_base(void)
{
	static void *base;
	Dl_info info;
	void *b = __atomic_load_n(&base, __ATOMIC_RELAXED);
	if (!b && dladdr((void *)own_base, &info)) {
		b = info.dli_fbase;
		__atomic_store_n(&base, b, __ATOMIC_RELAXED);
	}
	return b;
}

/* What the caller's object finds for name among its dependencies: NULL for the main
 * program and the global scope (where the first definition is ours). */
static void *callers_own(const void *ra, const char *name)
{
	Dl_info info;
	void *f = NULL;
	if (!dladdr(ra, &info) || !info.dli_fname || !info.dli_fname[0] ||
	    info.dli_fbase == own_base())
		return NULL;
	void *h = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
	if (!h)
		return NULL;
	f = dlsym(h, name);
	dlclose(h);
	if (f && dladdr(f, &info) && info.dli_fbase == own_base())
		f = NULL;
	return f;
}

/* Call sites seen, direct-mapped by return address; entries are never freed (call
 * sites are few) and are published whole. */
#define ROUTE_SLOTS 512
struct route {
	const void *ra;
	int fn, tracked;
	void *target;
};
static struct route route_pool[ROUTE_SLOTS];
static int route_used;
static struct route *route_slot[ROUTE_SLOTS];

void *rt_libssl_route(const void *ra, int fn, int *tracked)
{
	size_t i = ((uintptr_t)ra >> 2) % ROUTE_SLOTS;
	struct route *r = __atomic_load_n(&route_slot[i], __ATOMIC_ACQUIRE);
	if (r && r->ra == ra && r->fn == fn) {
		*tracked = r->tracked;
		return r->target;
	}
	int saved = errno;
	void *mine = table_fn(fn);
	void *f = callers_own(ra, routed_names[fn]);
	if (!f)
		f = mine;
	*tracked = f && f == mine;
	int n = __atomic_fetch_add(&route_used, 1, __ATOMIC_RELAXED);
	if (f && n < ROUTE_SLOTS) {
		struct route *e = &route_pool[n];
		e->ra = ra;
		e->fn = fn;
		e->tracked = *tracked;
		e->target = f;
		__atomic_store_n(&route_slot[i], e, __ATOMIC_RELEASE);
	}
	errno = saved;
	return f;
}
