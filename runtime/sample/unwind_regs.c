/* unwind_regs.c: stack walks from saved registers (see sample/unwind_regs.h).
 * libunwind's generic (remote) library: an address space whose find_proc_info and
 * friends are the local address space's own (they look unwind tables up in our
 * mappings with dl_iterate_phdr), with memory and register reads of our own. Memory
 * reads are answered, in this order: from the stack copy; from a loaded object's
 * segments (the unwind tables: each page checked readable once per walk, then read in
 * place); for a live walk, anything else by process_vm_readv of our own pid; else
 * refused, which ends the walk at that frame.
 * Context: normal. */
#include "sample/unwind_regs.h"

#include "sample/unwind_memcheck.h"

#if defined(__x86_64__)

#include <errno.h>
#include <libunwind.h>
#include <link.h>
#include <pthread.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

enum { MAX_SEGS = 512, PAGE_CACHE = 16 };

struct seg {
	uintptr_t lo, hi;
	int exec;
};

/* One walk's state: libunwind's `arg`. */
struct walk {
	const rt_uregs_t *regs;
	const unsigned char *stack;   /* a copy from sp up (NULL: none) */
	size_t stack_len;
	int live;                     /* the thread's own stack, readable beyond the copy */
	pid_t pid;
	struct seg segs[MAX_SEGS];
	int nsegs;
	uintptr_t pages[PAGE_CACHE];  /* pages of segs found readable this walk */
	long page_size;
};

static unw_addr_space_t space;
static pthread_once_t space_once = PTHREAD_ONCE_INIT;

static int add_segs(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	struct walk *w = arg;
	for (int i = 0; i < info->dlpi_phnum && w->nsegs < MAX_SEGS; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_R))
			continue;
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		w->segs[w->nsegs].lo = lo;
		w->segs[w->nsegs].hi = lo + ph->p_memsz;
		w->segs[w->nsegs].exec = (ph->p_flags & PF_X) != 0;
		w->nsegs++;
	}
	return 0;
}

static int in_segs(const struct walk *w, uintptr_t a, size_t len)
{
	for (int i = 0; i < w->nsegs; i++)
		if (a >= w->segs[i].lo && a + len <= w->segs[i].hi)
			return 1;
	return 0;
}

/* Our own memory, checked: 0 or -1 (unmapped, unreadable, or the check refused). */
static int read_checked(const struct walk *w, uintptr_t a, void *out, size_t len)
{
	struct iovec here = { out, len }, there = { (void *)a, len };
	int saved = errno;
	ssize_t n = process_vm_readv(w->pid, &here, 1, &there, 1, 0);
	errno = saved;
	return n == (ssize_t)len ? 0 : -1;
}

static int page_known(struct walk *w, uintptr_t page)
{
	unsigned slot = (unsigned)(page / (uintptr_t)w->page_size) % PAGE_CACHE;
	if (w->pages[slot] == page)
		return 1;
	char byte;
	if (read_checked(w, page, &byte, 1) != 0)
		return 0;
	w->pages[slot] = page;
	return 1;
}

/* A copy of memory known mapped and readable: any of our own data, which an address
 * sanitizer would take for an overflow of whatever object sits there. The volatile
 * source keeps the compiler from making this a call to memcpy (intercepted). */
#if defined(__SANITIZE_ADDRESS__)
__attribute__((no_sanitize_address))
#endif
static void copy_mapped(void *out, uintptr_t a, size_t len)
{
	const volatile unsigned char *src = (const volatile unsigned char *)a;
	unsigned char *dst = out;
	for (size_t i = 0; i < len; i++)
		dst[i] = src[i];
}

static int read_mem(struct walk *w, uintptr_t a, void *out, size_t len)
{
	uintptr_t sp = w->regs->sp;
	if (w->stack && a >= sp && a - sp <= w->stack_len && len <= w->stack_len - (a - sp)) {
		memcpy(out, w->stack + (a - sp), len);
		return 0;
	}
	if (in_segs(w, a, len)) {
		uintptr_t mask = ~(uintptr_t)(w->page_size - 1);
		if (!page_known(w, a & mask) || !page_known(w, (a + len - 1) & mask))
			return -1;
		copy_mapped(out, a, len);
		return 0;
	}
	if (w->live)
		return read_checked(w, a, out, len);
	return -1; /* beyond the copy: what is there now is not what the walk needs */
}

static int in_code(const struct walk *w, uintptr_t a)
{
	for (int i = 0; i < w->nsegs; i++)
		if (w->segs[i].exec && a >= w->segs[i].lo && a < w->segs[i].hi)
			return 1;
	return 0;
}

/* Whether a is a frame record: a word pointing a little higher up the stack (the
 * caller's record, or 0 at the outermost frame), then a return address into code. */
static int frame_record(struct walk *w, uintptr_t a, uintptr_t *next)
{
	uintptr_t rec[2];
	if (read_mem(w, a, rec, sizeof rec) != 0 || !in_code(w, rec[1]))
		return 0;
	if (rec[0] != 0 && (rec[0] < a + 16 || rec[0] >= a + (1u << 20) || (rec[0] & 7) != 0))
		return 0;
	*next = rec[0];
	return 1;
}

/* How many frame records chain from a (at most 4 looked at); *outermost: the chain
 * ended at the outermost frame's 0. */
static int chain_length(struct walk *w, uintptr_t a, int *outermost)
{
	int n = 0;
	uintptr_t next;
	*outermost = 0;
	while (n < 4 && frame_record(w, a, &next)) {
		n++;
		if (next == 0) {
			*outermost = 1;
			break;
		}
		a = next;
	}
	return n;
}

/* No frame pointer given (a thread's /proc syscall file has sp and pc only): the
 * innermost frame record at or above `from` is taken as the frame pointer's value,
 * which frames that keep one (CFA = rbp + 16) need; frames that do not ignore it. Stale words on the
 * stack can look like a record, so two candidates: *chained, the first from which
 * three records chain (or two, to the outermost frame), and *first, the first record
 * at all (the right one when the chain soon leaves for code without frame pointers).
 * Returns 0 when there is no record. */
static int guess_bp(struct walk *w, uintptr_t from, uintptr_t *chained, uintptr_t *first)
{
	uintptr_t next;
	int outermost;
	*chained = *first = 0;
	for (uintptr_t a = from; a < from + 4096; a += sizeof(uintptr_t)) {
		if (!frame_record(w, a, &next) || next == 0)
			continue;
		if (!*first)
			*first = a;
		int n = chain_length(w, a, &outermost);
		if (n >= 3 || (n == 2 && outermost)) {
			*chained = a;
			return 1;
		}
	}
	*chained = *first;
	return *first != 0;
}

static int access_mem(unw_addr_space_t as, unw_word_t addr, unw_word_t *val, int write, void *arg)
{
	(void)as;
	if (write)
		return -UNW_EINVAL;
	return read_mem(arg, (uintptr_t)addr, val, sizeof *val) == 0 ? 0 : -UNW_EINVAL;
}

static int access_reg(unw_addr_space_t as, unw_regnum_t reg, unw_word_t *val, int write, void *arg)
{
	(void)as;
	const rt_uregs_t *r = ((struct walk *)arg)->regs;
	if (write)
		return -UNW_EREADONLYREG;
	switch (reg) {
	case UNW_X86_64_RIP: *val = r->ip; return 0;
	case UNW_X86_64_RSP: *val = r->sp; return 0;
	case UNW_X86_64_RBP: if (r->have & RT_UREG_BP) { *val = r->bp; return 0; } break;
	case UNW_X86_64_RBX: if (r->have & RT_UREG_BX) { *val = r->bx; return 0; } break;
	case UNW_X86_64_R12: if (r->have & RT_UREG_R12) { *val = r->r12; return 0; } break;
	case UNW_X86_64_R13: if (r->have & RT_UREG_R13) { *val = r->r13; return 0; } break;
	case UNW_X86_64_R14: if (r->have & RT_UREG_R14) { *val = r->r14; return 0; } break;
	case UNW_X86_64_R15: if (r->have & RT_UREG_R15) { *val = r->r15; return 0; } break;
	default: break;
	}
	return -UNW_EBADREG;
}

static int access_fpreg(unw_addr_space_t as, unw_regnum_t reg, unw_fpreg_t *val, int write,
			void *arg)
{
	(void)as; (void)reg; (void)val; (void)write; (void)arg;
	return -UNW_EBADREG;
}

static int resume(unw_addr_space_t as, unw_cursor_t *c, void *arg)
{
	(void)as; (void)c; (void)arg;
	return -UNW_EINVAL;
}

static void make_space(void)
{
	/* The generic library fills its local address space in on its first cursor, and
	 * unw_get_accessors may be bound to the local-only library's copy (both export it),
	 * which does not: so a first cursor, on a space of our reads alone, whose pc is 0. */
	static const rt_uregs_t none;
	/* Its memory checks too must not open a pipe (sample/unwind_memcheck.h). */
	rt_unwind_memcheck_cover((const void *)&unw_init_remote);
	struct walk w0;
	memset(&w0, 0, sizeof w0);
	w0.regs = &none;
	unw_accessors_t acc;
	memset(&acc, 0, sizeof acc);
	acc.access_mem = access_mem;
	acc.access_reg = access_reg;
	acc.access_fpreg = access_fpreg;
	acc.resume = resume;
	unw_addr_space_t as = unw_create_addr_space(&acc, 0);
	unw_cursor_t c;
	if (!as)
		return;
	unw_init_remote(&c, as, &w0);
	unw_destroy_addr_space(as);
	const unw_accessors_t *local = unw_get_accessors(unw_local_addr_space);
	if (!local || !local->find_proc_info)
		return;
	acc = *local;
	acc.access_mem = access_mem;
	acc.access_reg = access_reg;
	acc.access_fpreg = access_fpreg;
	acc.resume = resume;
	as = unw_create_addr_space(&acc, 0);
	if (!as)
		return;
	/* No cache: its entries would outlive a dlclose/dlopen at the same address. */
	unw_set_caching_policy(as, UNW_CACHE_NONE);
	__atomic_store_n(&space, as, __ATOMIC_RELEASE);
}

#define RT_UNWIND_REGS_MAX 128	/* frames of a trial walk */
#define RT_UNWIND_REGS_SNAPSHOT 16384 /* bytes of a live stack read at once */
#define RT_UNWIND_REGS_SHALLOW 4 /* frames a walk from a wrong frame pointer reaches */

/* Walks from w's registers into pcs (pcs[0] set by the caller); *last_sp: the stack
 * pointer of the last frame reached. */
static size_t walk_with(unw_addr_space_t as, struct walk *w, uintptr_t *pcs, size_t max,
			uintptr_t *last_sp)
{
	unw_cursor_t c;
	unw_word_t sp;
	*last_sp = w->regs->sp;
	if (unw_init_remote(&c, as, w) < 0)
		return 1;
	size_t n = 1;
	while (n < max && unw_step(&c) > 0) {
		unw_word_t ip;
		if (unw_get_reg(&c, UNW_REG_IP, &ip) < 0 || ip == 0)
			break;
		pcs[n++] = (uintptr_t)ip;
		if (unw_get_reg(&c, UNW_REG_SP, &sp) == 0)
			*last_sp = (uintptr_t)sp;
	}
	return n;
}

/* One trial walk of rt_unwind_regs's, with frame pointer bp (or none): kept in pcs
 * when it goes deeper than the best so far. Returns the best depth. */
struct trial {
	unw_addr_space_t as;
	struct walk *w;
	const rt_uregs_t *regs;
	uintptr_t *pcs;
	size_t max, best;
};

static size_t try_bp(struct trial *t, uintptr_t bp, int with_bp, uintptr_t *stop_sp)
{
	uintptr_t tmp[RT_UNWIND_REGS_MAX];
	rt_uregs_t guessed = *t->regs;
	size_t cap = t->max < RT_UNWIND_REGS_MAX ? t->max : RT_UNWIND_REGS_MAX;
	if (with_bp) {
		guessed.bp = bp;
		guessed.have |= RT_UREG_BP;
	}
	t->w->regs = &guessed;
	tmp[0] = t->regs->ip;
	size_t n = walk_with(t->as, t->w, tmp, cap, stop_sp);
	t->w->regs = t->regs;
	if (n > t->best) {
		memcpy(t->pcs, tmp, n * sizeof *tmp);
		t->best = n;
	}
	return t->best;
}

size_t rt_unwind_regs(const rt_uregs_t *regs, const void *stack, size_t stack_len,
		      uintptr_t *pcs, size_t max)
{
	if (max == 0 || !regs || regs->ip == 0)
		return 0;
	pcs[0] = regs->ip;
	pthread_once(&space_once, make_space);
	unw_addr_space_t as = __atomic_load_n(&space, __ATOMIC_ACQUIRE);
	if (!as)
		return 1;
	struct walk w;
	w.regs = regs;
	w.stack = stack;
	w.stack_len = stack ? stack_len : 0;
	w.live = !stack;
	/* A live stack is read once, from sp up, rather than a word at a time: guessing
	 * the frame pointer reads hundreds of words. */
	unsigned char snapshot[RT_UNWIND_REGS_SNAPSHOT];
	if (!stack) {
		struct iovec here = { snapshot, sizeof snapshot }, there = { (void *)regs->sp, sizeof snapshot };
		int saved_errno = errno;
		ssize_t got = process_vm_readv(getpid(), &here, 1, &there, 1, 0);
		errno = saved_errno;
		if (got > 0) {
			w.stack = snapshot;
			w.stack_len = (size_t)got;
		}
	}
	w.pid = getpid();
	w.nsegs = 0;
	memset(w.pages, 0, sizeof w.pages);
	w.page_size = sysconf(_SC_PAGESIZE);
	dl_iterate_phdr(add_segs, &w);
	uintptr_t stop_sp;
	if (regs->have & RT_UREG_BP)
		return walk_with(as, &w, pcs, max, &stop_sp);
	/* The frame pointer guessed (guess_bp), tried in this order while the walks stay
	 * shallow, the deepest kept: (1) none, a walk that goes as far as the frames that
	 * do not need one (a libc wrapper, say) and stops at the first that does, whose
	 * record lies at or above that frame's stack pointer: (2) the first chain of
	 * records there; (3) the first chain of records above sp, the first record at all,
	 * and the value that chain's first record saved. Stale words in the frames below
	 * the one that needs it look like records too: hence the order. */
	struct trial tr = { as, &w, regs, pcs, max, 1 };
	uintptr_t chained, first, again, unused, saved;
	if (try_bp(&tr, 0, 0, &stop_sp) > RT_UNWIND_REGS_SHALLOW)
		return tr.best;
	int found_again = guess_bp(&w, stop_sp, &again, &unused);
	if (found_again && try_bp(&tr, again, 1, &stop_sp) > RT_UNWIND_REGS_SHALLOW)
		return tr.best;
	if (!guess_bp(&w, regs->sp, &chained, &first))
		return tr.best;
	if ((!found_again || chained != again) &&
	    try_bp(&tr, chained, 1, &stop_sp) > RT_UNWIND_REGS_SHALLOW)
		return tr.best;
	if (first != chained && try_bp(&tr, first, 1, &stop_sp) > RT_UNWIND_REGS_SHALLOW)
		return tr.best;
	if (read_mem(&w, chained, &saved, sizeof saved) == 0 && saved)
		try_bp(&tr, saved, 1, &stop_sp);
	return tr.best;
}

#else /* not x86_64: the pc alone */

size_t rt_unwind_regs(const rt_uregs_t *regs, const void *stack, size_t stack_len,
		      uintptr_t *pcs, size_t max)
{
	(void)stack;
	(void)stack_len;
	if (max == 0 || !regs || regs->ip == 0)
		return 0;
	pcs[0] = regs->ip;
	return 1;
}

#endif
