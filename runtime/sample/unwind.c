/* unwind.c: libunwind wrapper (see sample/unwind.h).
 * Context: signal or host thread. Must not allocate or lock. */
#define UNW_LOCAL_ONLY
#include "sample/unwind.h"

#include "sample/unwind_memcheck.h"

#include "base/alloc.h"

#include <dlfcn.h>
#include <libunwind.h>
#include <link.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "rt.h"

static void walk_begin(void);
static void walk_end(void);

/* A cursor walk of the calling thread's own stack, the way the handler walks: it
 * makes libunwind set up what it sets up lazily (process-wide, then per thread) here
 * rather than in a handler, where it would be slow enough to lose the signals that
 * arrive meanwhile. (rt_unwind_here takes another path, unw_backtrace.) */
void rt_unwind_warm(void)
{
	unw_context_t ctx;
	unw_cursor_t c;
	rt_unwind_memcheck_install(); /* before libunwind's first cursor would open its pipe */
	if (unw_getcontext(&ctx) < 0 || unw_init_local(&c, &ctx) < 0)
		return;
	walk_begin();
	for (int i = 0; i < 64 && unw_step(&c) > 0; i++)
		;
	walk_end();
}

void rt_unwind_init(void)
{
	rt_unwind_memcheck_install(); /* first: any libunwind call sets it up, pipe included */
	/* A per-thread cache needs no locks in the handler. */
	unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
	rt_unwind_warm();
}

static size_t walk(unw_cursor_t *c, uintptr_t *pcs, size_t n, size_t max)
{
	while (n < max && unw_step(c) > 0) {
		unw_word_t ip;
		if (unw_get_reg(c, UNW_REG_IP, &ip) < 0 || ip == 0)
			break;
		pcs[n++] = (uintptr_t)ip;
	}
	return n;
}

/* ---- the dynamic loader's lock ----
 * libunwind looks unwind tables up with dl_iterate_phdr, under a lock of its own (taken
 * with signals blocked). A thread interrupted inside the loader (dlopen, dlclose)
 * holding the loader's write lock would, walking its stack in the handler, wait for
 * that lock itself, or for libunwind's, held by a thread that waits for the loader's:
 * they hang for good. So a thread that holds the loader's lock, or may be taking or
 * releasing it (locked with no owner recorded yet, or any more), records the
 * interrupted pc only. glibc keeps that lock, a recursive mutex, inside _rtld_global,
 * whose layout is private: at start-up it is found as the recursive mutex there that
 * names this thread as its owner while dl_iterate_phdr runs our callback, and no
 * longer after. Not found: no guard. */
enum { MAX_OWNED = 4 };
static const char *rtld;
static size_t rtld_size;
static const pthread_mutex_t *loader_lock;

static int owned_locks(pid_t tid, size_t *offs)
{
	int n = 0;
	for (size_t off = 0; off + sizeof(pthread_mutex_t) <= rtld_size && n < MAX_OWNED; off += 8) {
		const pthread_mutex_t *m = (const void *)(rtld + off);
		if (m->__data.__owner == tid && m->__data.__count >= 1 &&
		    (m->__data.__kind & 3) == PTHREAD_MUTEX_RECURSIVE_NP)
			offs[n++] = off;
	}
	return n;
}

static void find_rtld(void)
{
	void *g = dlsym(RTLD_DEFAULT, "_rtld_global");
	Dl_info info;
	const ElfW(Sym) *sym = NULL;
	if (g && dladdr1(g, &info, (void **)&sym, RTLD_DL_SYMENT) && sym && sym->st_size) {
		rtld = g;
		rtld_size = sym->st_size;
	}
}

static void choose_loader_lock(const size_t *inside, int n_in, pid_t tid)
{
	size_t outside[MAX_OWNED];
	int n_out = owned_locks(tid, outside), found = -1;
	for (int i = 0; i < n_in; i++) {
		int still = 0;
		for (int j = 0; j < n_out; j++)
			still |= outside[j] == inside[i];
		if (!still && found >= 0)
			return; /* ambiguous: no guard rather than a wrong one */
		if (!still)
			found = i;
	}
	if (found >= 0)
		__atomic_store_n(&loader_lock, (const void *)(rtld + inside[found]), __ATOMIC_RELEASE);
}

static int loader_lock_may_be_mine(void)
{
	const pthread_mutex_t *m = __atomic_load_n(&loader_lock, __ATOMIC_ACQUIRE);
	if (!m || !__atomic_load_n(&m->__data.__lock, __ATOMIC_RELAXED))
		return 0;
	int owner = __atomic_load_n(&m->__data.__owner, __ATOMIC_RELAXED);
	return owner == 0 || owner == (int)syscall(SYS_gettid);
}

/* ---- never waiting for the loader's lock while walking ----
 * A walk that waits for the loader's lock can hang for good even when its thread does
 * not hold it: the holder (a dlclose, say) may itself wait for a lock the walking
 * thread holds (a malloc arena's, when a handler interrupted it there), and other
 * walks queue up behind the first on libunwind's own lock, which it keeps across
 * dl_iterate_phdr. Seen in signals.sh's stress run: dlclose freeing, a thread
 * interrupted inside the allocator, handlers and a heap-sampler walk in libunwind. So
 * while any walk of ours runs (in a handler or not), dl_iterate_phdr (interposed:
 * rt_on_dl_iterate_phdr) takes the loader's lock only when it is free, waiting at most
 * 300 us in all per walk (yielding, never blocking), else reports no objects: that
 * frame ends the walk. */
static __thread int walking __attribute__((tls_model("initial-exec")));
/* How long this walk may still spend waiting for the loader's lock to come free: the
 * holders of a dlopen storm keep it for microseconds, a deadlock's for ever. */
static __thread int64_t wait_left_ns __attribute__((tls_model("initial-exec")));
#define WALK_WAIT_NS 300000

static void walk_begin(void)
{
	walking++;
	wait_left_ns = WALK_WAIT_NS;
}

static void walk_end(void) { walking--; }

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts); /* vDSO: no system call */
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int rt_on_dl_iterate_phdr(int (*real)(int (*)(struct dl_phdr_info *, size_t, void *), void *),
			  int (*cb)(struct dl_phdr_info *, size_t, void *), void *data, int *rc)
{
	pthread_mutex_t *m = (pthread_mutex_t *)__atomic_load_n(&loader_lock, __ATOMIC_ACQUIRE);
	if (!walking || !m)
		return 0;
	*rc = 0;
	if (pthread_mutex_trylock(m) != 0) {
		int64_t t0 = mono_ns(), now = t0;
		int got = 0;
		while (!got && now - t0 < wait_left_ns) {
			sched_yield();
			got = pthread_mutex_trylock(m) == 0;
			now = mono_ns();
		}
		wait_left_ns -= now - t0;
		if (!got)
			return 1; /* no objects: the walk ends at this frame */
	}
	/* The lock is recursive: dl_iterate_phdr takes it once more, then we let go. */
	*rc = real(cb, data);
	pthread_mutex_unlock(m);
	return 1;
}

size_t rt_unwind_from_ucontext(void *uc, uintptr_t *pcs, size_t max)
{
	unw_cursor_t c;
	unw_word_t ip;
	size_t n = 0;
	if (max == 0 || !uc)
		return 0;
	if (loader_lock_may_be_mine()) {
		pcs[0] = (uintptr_t)((ucontext_t *)uc)->uc_mcontext.gregs[REG_RIP];
		return 1;
	}
	walk_begin();
	int depth = rt_tls_depth;
	rt_tls_depth = 1; /* libunwind's lock, taken meanwhile, is not the service's wait */
	/* On x86-64 libunwind's unw_context_t is the kernel's ucontext_t, so the signal
	 * frame's context starts the walk at the interrupted instruction. */
	if (unw_init_local2(&c, (unw_context_t *)uc, UNW_INIT_SIGNAL_FRAME) >= 0 &&
	    unw_get_reg(&c, UNW_REG_IP, &ip) >= 0) {
		pcs[0] = (uintptr_t)ip;
		n = walk(&c, pcs, 1, max);
	}
	rt_tls_depth = depth;
	walk_end();
	return n;
}

/* unw_backtrace keeps a per-thread cache of frame descriptions: measured here, 50 ns
 * for a 12-frame stack against 1.8 us stepping a cursor. The heap sampler calls this
 * on every sampled allocation. Its first entry is inside this function. */
size_t rt_unwind_here(uintptr_t *pcs, size_t max, size_t skip)
{
	void *buf[RT_UNWIND_HERE_MAX + 1];
	size_t want = max + skip + 1;
	if (want > RT_UNWIND_HERE_MAX + 1)
		want = RT_UNWIND_HERE_MAX + 1;
	int depth = rt_tls_depth;
	rt_tls_depth = 1; /* libunwind's lock, taken meanwhile, is not the service's wait */
	walk_begin();
	int got = unw_backtrace(buf, (int)want);
	walk_end();
	rt_tls_depth = depth;
	size_t n = 0;
	for (int i = 1 + (int)skip; i < got && n < max; i++) {
		if (!buf[i])
			break;
		pcs[n++] = (uintptr_t)buf[i];
	}
	return n;
}

/* ---- our own frames ---- */

static uintptr_t own_lo, own_hi;
static uintptr_t unwinder_lo, unwinder_hi; /* libunwind's code */
static uintptr_t allocator_lo, allocator_hi; /* the code behind rt_alloc (jemalloc, libc) */

struct locate {
	uintptr_t me, allocator;
	pid_t tid;
	int scanned, n_in;
	size_t inside[MAX_OWNED];
};

static int find_own_range(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	struct locate *l = arg;
	uintptr_t me = l->me;
	if (!l->scanned) { /* the loader's write lock is held for this callback */
		l->n_in = owned_locks(l->tid, l->inside);
		l->scanned = 1;
	}
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
		if (me >= lo && me < hi) {
			own_lo = lo;
			own_hi = hi;
		}
		if ((uintptr_t)&unw_backtrace >= lo && (uintptr_t)&unw_backtrace < hi) {
			unwinder_lo = lo;
			unwinder_hi = hi;
		}
		if (l->allocator >= lo && l->allocator < hi) {
			allocator_lo = lo;
			allocator_hi = hi;
		}
	}
	return own_hi && unwinder_hi;
}

void rt_unwind_locate_self(void)
{
	rt_unwind_memcheck_install(); /* also when the sampler is off: the heap sampler unwinds */
	if (__atomic_load_n(&own_hi, __ATOMIC_ACQUIRE))
		return;
	struct locate l = { .me = (uintptr_t)&rt_unwind_locate_self,
			    .allocator = (uintptr_t)rt_alloc.malloc,
			    .tid = (pid_t)syscall(SYS_gettid) };
	find_rtld();
	dl_iterate_phdr(find_own_range, &l);
	if (l.scanned && !__atomic_load_n(&loader_lock, __ATOMIC_ACQUIRE))
		choose_loader_lock(l.inside, l.n_in, l.tid);
}

int rt_unwind_is_unwinder(uintptr_t pc)
{
	return pc >= unwinder_lo && pc < unwinder_hi;
}

int rt_unwind_is_allocator(uintptr_t pc)
{
	return pc >= allocator_lo && pc < allocator_hi;
}

size_t rt_unwind_own_prefix(const uintptr_t *pcs, size_t n)
{
	size_t k = 0;
	while (k < n && pcs[k] >= own_lo && pcs[k] < own_hi)
		k++;
	return k;
}
