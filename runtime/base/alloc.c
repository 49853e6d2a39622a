/* alloc.c: the allocator table (see base/alloc.h).
 *
 * jemalloc mode uses jemalloc's own standard entry points (malloc, free, calloc, ...)
 * looked up in libjemalloc itself, because our exported names shadow them. Those are
 * jemalloc's fast paths: measured here, a malloc+free pair costs 5.9 ns through
 * malloc/free and 9.3 ns through mallocx/dallocx, which alone would break the 1.15x
 * budget. The mallocx family serves the boot window and any entry the lookup misses. */
#include "base/alloc.h"

#include <dlfcn.h>
#include <errno.h>
#include <jemalloc/jemalloc.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/auxv.h>
#include <unistd.h>

extern char **environ;

enum { MODE_UNKNOWN = 0, MODE_JEMALLOC = 1, MODE_SYSTEM = 2 };
enum { UNRESOLVED, RESOLVING, RESOLVED };
static _Atomic int state;
static _Atomic int mode;

/* The functions the table forwards to once resolved; the table may wrap them. */
static rt_allocator_t base;

/* ---- the boot arena: never reused, never freed, zero-filled (it is .bss) ---- */

#define ARENA_SIZE (1u << 20)
static _Alignas(64) char arena[ARENA_SIZE];
static _Atomic size_t arena_top;
static _Atomic int arena_used;

static void *arena_alloc(size_t align, size_t n)
{
	if (align < 16)
		align = 16;
	if (n > ARENA_SIZE || align > ARENA_SIZE / 4) {
		errno = ENOMEM;
		return NULL;
	}
	size_t need = 16 + n + align;
	size_t off = atomic_fetch_add(&arena_top, need);
	if (off + need > ARENA_SIZE) {
		errno = ENOMEM;
		return NULL;
	}
	atomic_store(&arena_used, 1);
	uintptr_t p = ((uintptr_t)arena + off + 16 + align - 1) & ~(uintptr_t)(align - 1);
	((size_t *)p)[-1] = n;
	return (void *)p;
}

static int in_arena(const void *p) { return (uintptr_t)p - (uintptr_t)arena < ARENA_SIZE; }
static size_t arena_block_size(const void *p) { return ((const size_t *)p)[-1]; }

/* ---- jemalloc through its non-standard API (boot window and fallbacks) ---- */

static int valid_alignment(size_t a) { return a && (a & (a - 1)) == 0; }

static void *jx_malloc(size_t n)
{
	void *p = mallocx(n ? n : 1, 0);
	if (!p)
		errno = ENOMEM;
	return p;
}

static void jx_free(void *p)
{
	if (p)
		dallocx(p, 0);
}

static void *jx_calloc(size_t a, size_t b)
{
	size_t n;
	if (__builtin_mul_overflow(a, b, &n)) {
		errno = ENOMEM;
		return NULL;
	}
	void *p = mallocx(n ? n : 1, MALLOCX_ZERO);
	if (!p)
		errno = ENOMEM;
	return p;
}

static void *jx_realloc(void *p, size_t n)
{
	if (!p)
		return jx_malloc(n);
	void *q = rallocx(p, n ? n : 1, 0);
	if (!q)
		errno = ENOMEM;
	return q;
}

static void *jx_aligned(size_t align, size_t n)
{
	if (!valid_alignment(align)) {
		errno = EINVAL;
		return NULL;
	}
	void *p = mallocx(n ? n : 1, MALLOCX_ALIGN(align));
	if (!p)
		errno = ENOMEM;
	return p;
}

static int jx_posix_memalign(void **out, size_t align, size_t n)
{
	if (!valid_alignment(align) || align % sizeof(void *))
		return EINVAL;
	void *p = mallocx(n ? n : 1, MALLOCX_ALIGN(align));
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

static void *jx_valloc(size_t n) { return jx_aligned((size_t)sysconf(_SC_PAGESIZE), n); }
static size_t jx_usable_size(void *p) { return p ? sallocx(p, 0) : 0; }

/* pvalloc is not in jemalloc: valloc of the size rounded up to whole pages. */
static void *pvalloc_via_valloc(size_t n)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	if (n > SIZE_MAX - page) {
		errno = ENOMEM;
		return NULL;
	}
	return base.valloc(n ? (n + page - 1) & ~(page - 1) : page);
}

/* ---- glibc's answers where jemalloc's differ ----
 * A service written against glibc may count on them: memalign (and aligned_alloc,
 * glibc < 2.38's alias of it, as in Debian 12) takes any alignment, rounding one that
 * is not a power of two up, and serving one below 16 like malloc; jemalloc refuses
 * those with NULL. And jemalloc's memalign and valloc fail without setting ENOMEM.
 * Measured by tests/servers/errno_check (integrity.sh) against glibc itself. */

static void *(*je_memalign)(size_t, size_t);
static void *(*je_valloc)(size_t);

static void *glibc_memalign(size_t align, size_t n)
{
	if (align > SIZE_MAX / 2 + 1) {
		errno = EINVAL;
		return NULL;
	}
	if (align < 16)
		align = 16;
	else if (!valid_alignment(align))
		align = (size_t)1 << (64 - __builtin_clzll((unsigned long long)align));
	void *p = je_memalign(align, n);
	if (!p)
		errno = ENOMEM;
	return p;
}

static void *valloc_enomem(size_t n)
{
	void *p = je_valloc(n);
	if (!p)
		errno = ENOMEM;
	return p;
}

/* ---- wrappers that keep arena blocks (and, in system mode, sampled blocks, which are
 * jemalloc's: base/alloc_sampled.c) away from the real allocator ---- */

static void guarded_free(void *p)
{
	if (rt_alloc_is_sampled(p))
		rt_alloc_sampled_free(p);
	else if (!in_arena(p))
		base.free(p);
}

static void *guarded_realloc(void *p, size_t n)
{
	int sampled = rt_alloc_is_sampled(p);
	if (!in_arena(p) && !sampled)
		return base.realloc(p, n);
	if (sampled && n == 0) {
		rt_alloc_sampled_free(p); /* as glibc's realloc(p, 0) */
		return NULL;
	}
	void *q = base.malloc(n);
	if (q) {
		size_t old = sampled ? rt_alloc_sampled_size(p) : arena_block_size(p);
		memcpy(q, p, old < n ? old : n);
		if (sampled)
			rt_alloc_sampled_free(p);
	}
	return q;
}

static size_t guarded_usable_size(void *p)
{
	if (rt_alloc_is_sampled(p))
		return rt_alloc_sampled_size(p);
	return in_arena(p) ? arena_block_size(p) : base.usable_size(p);
}

/* ---- resolution ---- */

static int is_false(const char *v)
{
	static const char *const no[] = { "0", "false", "no", "off" };
	for (size_t i = 0; v && i < sizeof no / sizeof no[0]; i++)
		if (strcasecmp(v, no[i]) == 0)
			return 1;
	return 0;
}

/* A disabled shim forwards every call untouched, and a setuid program's
 * allocator is not for its caller's environment to choose: both get the system one. */
static int env_mode(void)
{
	if (getauxval(AT_SECURE))
		return MODE_SYSTEM;
	if (!environ)
		return MODE_UNKNOWN;
	if (is_false(getenv("OTSHIM_ENABLED")))
		return MODE_SYSTEM;
	const char *v = getenv("OTSHIM_ALLOCATOR");
	return v && strcmp(v, "system") == 0 ? MODE_SYSTEM : MODE_JEMALLOC;
}

#define LOOKUP(h, name, fallback) \
	do { \
		void *f_ = dlsym((h), #name); \
		base.name = f_ ? (__typeof__(base.name))f_ : (fallback); \
	} while (0)

static void lookup_jemalloc(void)
{
	Dl_info info;
	/* Our own malloc shadows jemalloc's in the global scope; a lookup through a handle
	 * for the object that defines mallocx finds jemalloc's. Getting that handle may
	 * allocate: those requests are served by mallocx meanwhile. */
	void *h = dladdr((void *)&mallocx, &info) && info.dli_fname
			  ? dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD)
			  : NULL;
	void *(*m)(size_t) = h ? (void *(*)(size_t))dlsym(h, "malloc") : NULL;
	if (!m || (void *)m == dlsym(RTLD_DEFAULT, "malloc"))
		h = NULL; /* never forward to ourselves */
	base.malloc = jx_malloc;
	base.free = jx_free;
	base.calloc = jx_calloc;
	base.realloc = jx_realloc;
	base.posix_memalign = jx_posix_memalign;
	base.aligned_alloc = jx_aligned;
	base.memalign = jx_aligned;
	base.valloc = jx_valloc;
	base.usable_size = jx_usable_size;
	if (h) {
		LOOKUP(h, malloc, jx_malloc);
		LOOKUP(h, free, jx_free);
		LOOKUP(h, calloc, jx_calloc);
		LOOKUP(h, realloc, jx_realloc);
		LOOKUP(h, posix_memalign, jx_posix_memalign);
		LOOKUP(h, aligned_alloc, jx_aligned);
		LOOKUP(h, memalign, jx_aligned);
		LOOKUP(h, valloc, jx_valloc);
		void *u = dlsym(h, "malloc_usable_size");
		if (u)
			base.usable_size = (size_t (*)(void *))u;
	}
	je_memalign = base.memalign;
	je_valloc = base.valloc;
	base.memalign = glibc_memalign;
	base.aligned_alloc = glibc_memalign;
	base.valloc = valloc_enomem;
	base.pvalloc = pvalloc_via_valloc;
}

static int lookup_system(void)
{
	memset(&base, 0, sizeof base);
	base.malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
	base.free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
	base.calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
	base.realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
	if (!base.malloc || !base.free || !base.calloc || !base.realloc)
		return -1;
	LOOKUP(RTLD_NEXT, posix_memalign, NULL);
	LOOKUP(RTLD_NEXT, aligned_alloc, NULL);
	LOOKUP(RTLD_NEXT, memalign, NULL);
	LOOKUP(RTLD_NEXT, valloc, NULL);
	LOOKUP(RTLD_NEXT, pvalloc, NULL);
	void *u = dlsym(RTLD_NEXT, "malloc_usable_size");
	base.usable_size = u ? (size_t (*)(void *))u : NULL;
	/* A system allocator without these is too odd to mix with: use jemalloc. */
	if (!base.posix_memalign || !base.aligned_alloc || !base.memalign || !base.valloc ||
	    !base.usable_size)
		return -1;
	if (!base.pvalloc)
		base.pvalloc = pvalloc_via_valloc;
	return 0;
}

#define PUBLISH(name, fn) __atomic_store_n(&rt_alloc.name, (fn), __ATOMIC_RELEASE)

/* Returns 0 when the table is resolved; else the mode the caller should serve its
 * request in meanwhile (MODE_UNKNOWN: from the arena). */
static int resolve(void)
{
	if (atomic_load_explicit(&state, memory_order_acquire) == RESOLVED)
		return 0;
	int m = env_mode();
	if (m == MODE_UNKNOWN)
		return m;
	int expect = UNRESOLVED;
	if (!atomic_compare_exchange_strong(&state, &expect, RESOLVING))
		return expect == RESOLVED ? 0 : m;
	if (m == MODE_SYSTEM && lookup_system() != 0)
		m = MODE_JEMALLOC;
	if (m == MODE_JEMALLOC)
		lookup_jemalloc();
	atomic_store(&mode, m);
	int guard = m == MODE_SYSTEM || atomic_load(&arena_used);
	PUBLISH(malloc, base.malloc);
	PUBLISH(calloc, base.calloc);
	PUBLISH(posix_memalign, base.posix_memalign);
	PUBLISH(aligned_alloc, base.aligned_alloc);
	PUBLISH(memalign, base.memalign);
	PUBLISH(valloc, base.valloc);
	PUBLISH(pvalloc, base.pvalloc);
	PUBLISH(free, guard ? guarded_free : base.free);
	PUBLISH(realloc, guard ? guarded_realloc : base.realloc);
	PUBLISH(usable_size, guard ? guarded_usable_size : base.usable_size);
	atomic_store_explicit(&state, RESOLVED, memory_order_release);
	return 0;
}

/* ---- boot entries: resolve, then forward; meanwhile serve from jemalloc or the arena ---- */

static void *boot_malloc(size_t n)
{
	int m = resolve();
	if (m == 0)
		return rt_alloc.malloc(n);
	return m == MODE_JEMALLOC ? jx_malloc(n) : arena_alloc(0, n);
}

static void *boot_calloc(size_t a, size_t b)
{
	int m = resolve();
	size_t n;
	if (m == 0)
		return rt_alloc.calloc(a, b);
	if (m == MODE_JEMALLOC)
		return jx_calloc(a, b);
	if (__builtin_mul_overflow(a, b, &n)) {
		errno = ENOMEM;
		return NULL;
	}
	return arena_alloc(0, n);
}

/* free, realloc and usable_size only ever see pointers we handed out, so before
 * resolution those came from the arena or (jemalloc mode) from mallocx. */
static void boot_free(void *p)
{
	if (resolve() == 0)
		rt_alloc.free(p);
	else if (!in_arena(p))
		jx_free(p);
}

static void *boot_realloc(void *p, size_t n)
{
	int m = resolve();
	if (m == 0)
		return rt_alloc.realloc(p, n);
	if (m == MODE_JEMALLOC && !in_arena(p))
		return jx_realloc(p, n);
	void *q = m == MODE_JEMALLOC ? jx_malloc(n) : arena_alloc(0, n);
	if (q && p) {
		size_t old = in_arena(p) ? arena_block_size(p) : jx_usable_size(p);
		memcpy(q, p, old < n ? old : n);
	}
	return q;
}

static int boot_posix_memalign(void **out, size_t align, size_t n)
{
	int m = resolve();
	if (m == 0)
		return rt_alloc.posix_memalign(out, align, n);
	if (m == MODE_JEMALLOC)
		return jx_posix_memalign(out, align, n);
	if (!valid_alignment(align) || align % sizeof(void *))
		return EINVAL;
	void *p = arena_alloc(align, n);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

static void *boot_aligned(size_t align, size_t n)
{
	int m = resolve();
	if (m == 0)
		return rt_alloc.memalign(align, n);
	if (m == MODE_JEMALLOC)
		return jx_aligned(align, n);
	if (!valid_alignment(align)) {
		errno = EINVAL;
		return NULL;
	}
	return arena_alloc(align, n);
}

static void *boot_aligned_alloc(size_t align, size_t n)
{
	if (resolve() == 0)
		return rt_alloc.aligned_alloc(align, n);
	return boot_aligned(align, n);
}

static void *boot_valloc(size_t n)
{
	if (resolve() == 0)
		return rt_alloc.valloc(n);
	return boot_aligned((size_t)sysconf(_SC_PAGESIZE), n);
}

static void *boot_pvalloc(size_t n)
{
	if (resolve() == 0)
		return rt_alloc.pvalloc(n);
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	if (n > SIZE_MAX - page) {
		errno = ENOMEM;
		return NULL;
	}
	return boot_aligned(page, n ? (n + page - 1) & ~(page - 1) : page);
}

static size_t boot_usable_size(void *p)
{
	if (resolve() == 0)
		return rt_alloc.usable_size(p);
	return in_arena(p) ? arena_block_size(p) : jx_usable_size(p);
}

rt_allocator_t rt_alloc = {
	.malloc = boot_malloc,
	.free = boot_free,
	.calloc = boot_calloc,
	.realloc = boot_realloc,
	.posix_memalign = boot_posix_memalign,
	.aligned_alloc = boot_aligned_alloc,
	.memalign = boot_aligned,
	.valloc = boot_valloc,
	.pvalloc = boot_pvalloc,
	.usable_size = boot_usable_size,
};

const char *rt_alloc_name(void)
{
	(void)resolve();
	return atomic_load(&mode) == MODE_SYSTEM ? "system" : "jemalloc";
}
