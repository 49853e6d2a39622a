/* unwind_memcheck.c: libunwind's memory checks without a descriptor (see sample/unwind_memcheck.h).
 * What libunwind 1.6.2 does (src/x86_64/Ginit.c and Gstep.c, checked against the
 * installed binary): unw_step sets the cursor's validate flag around every DWARF step
 * of a local cursor (CONSERVATIVE_CHECKS), and for good once DWARF has no information
 * for a frame and it falls back to frame-chain heuristics; unw_backtrace's cursor starts
 * with it set. Each read of a page not among the last four it checked (one cache for
 * all threads) then costs mincore(page), read(pipe[0], 1 byte) and
 * syscall(SYS_write, pipe[1], addr, 1); a read failing with anything but EAGAIN makes it
 * close both numbers and open a new pipe. The pipe is opened by its first unw_init_*.
 * Its other descriptor use (open /proc/PID/maps and ELF files) is only on the paths
 * naming functions (unw_get_proc_name) and .debug_frame, which we never take.
 * So only libunwind's own calls are redirected, through its GOT: the host's read,
 * syscall and the rest are untouched. */
#include "sample/unwind_memcheck.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <libunwind.h>
#include <link.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/log.h"

static int mode;             /* RT_UNWIND_MEMCHECK_*, written once before any stub can run */
static pid_t probe_pid;

int rt_unwind_memcheck_readable(uintptr_t addr)
{
	char byte;
	struct iovec here = { &byte, 1 }, there = { (void *)addr, 1 };
	if (__atomic_load_n(&mode, __ATOMIC_ACQUIRE) != RT_UNWIND_MEMCHECK_VMREAD)
		return 0;
	int saved = errno;
	/* Our own pid: allowed whatever ptrace_scope says (same thread group). */
	ssize_t n = process_vm_readv(__atomic_load_n(&probe_pid, __ATOMIC_RELAXED), &here, 1,
				     &there, 1, 0);
	errno = saved;
	return n == 1;
}

int rt_unwind_memcheck_mode(void) { return __atomic_load_n(&mode, __ATOMIC_ACQUIRE); }

void rt_unwind_memcheck_fork_child(void) { __atomic_store_n(&probe_pid, getpid(), __ATOMIC_RELAXED); }

/* ---- the stubs libunwind calls instead ---- */

/* Its pipe is "empty" (as after each check): EAGAIN, never a read of anyone's fd. A
 * one-byte read is only ever that check; anything else goes on by the public name,
 * as libunwind's own call would have (a sanitizer's interceptor then sees it). */
static ssize_t stub_read(int fd, void *buf, size_t n)
{
	if (n == 1) {
		errno = EAGAIN;
		return -1;
	}
	return read(fd, buf, n);
}

static long check_write(const void *addr)
{
	if (rt_unwind_memcheck_readable((uintptr_t)addr))
		return 1;
	errno = EFAULT;
	return -1;
}

/* syscall(SYS_write, fd, addr, 1) is the check itself. */
static long stub_syscall(long nr, ...)
{
	long a[6];
	va_list ap;
	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (nr == SYS_write && a[2] == 1)
		return check_write((const void *)a[1]);
	return syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* A build that checks with write() rather than syscall(); other writes go on as
 * stub_read's reads do. */
static ssize_t stub_write(int fd, const void *buf, size_t n)
{
	if (n == 1)
		return check_write(buf);
	return write(fd, buf, n);
}

/* No pipe at all: the checks above never use its numbers. */
static int stub_pipe2(int fds[2], int flags)
{
	(void)flags;
	fds[0] = fds[1] = -1;
	return 0;
}

/* Mapped-ness is part of what process_vm_readv answers: one system call, not two. */
static int stub_mincore(void *addr, size_t len, unsigned char *vec)
{
	(void)addr, (void)len, (void)vec;
	return 0;
}

static int stub_msync(void *addr, size_t len, int flags)
{
	(void)addr, (void)len, (void)flags;
	return 0;
}

/* ---- patching libunwind's GOT ---- */

enum { P_READ, P_SYSCALL, P_WRITE, P_PIPE2, P_MINCORE, P_MSYNC, P_N };
static const char *const names[P_N] = { "read", "syscall", "write", "pipe2", "mincore", "msync" };
enum { MAX_SLOTS = 4 }; /* per name: a PLT slot and perhaps a GOT entry */

struct got {
	void **slot[P_N][MAX_SLOTS];
	int n[P_N];
	uintptr_t base, relro_lo, relro_hi;
};

static uintptr_t dyn_ptr(uintptr_t p, uintptr_t base)
{
	/* glibc relocates these in place; another loader may leave them relative. */
	return p < base ? p + base : p;
}

static void collect(struct got *g, const ElfW(Rela) *r, size_t size, const ElfW(Sym) *symtab,
		    const char *strtab)
{
	for (size_t i = 0; r && i < size / sizeof *r; i++) {
		unsigned type = ELF64_R_TYPE(r[i].r_info);
		if (type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT)
			continue;
		const char *name = strtab + symtab[ELF64_R_SYM(r[i].r_info)].st_name;
		for (int k = 0; k < P_N; k++)
			if (strcmp(name, names[k]) == 0 && g->n[k] < MAX_SLOTS)
				g->slot[k][g->n[k]++] = (void **)(g->base + r[i].r_offset);
	}
}

static int find_relro(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	struct got *g = arg;
	if (info->dlpi_addr != g->base)
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_GNU_RELRO) {
			g->relro_lo = g->base + ph->p_vaddr;
			g->relro_hi = g->relro_lo + ph->p_memsz;
		}
	}
	return 1;
}

static int find_got(struct got *g, const void *fn)
{
	Dl_info info;
	struct link_map *lm = NULL;
	/* Any function of libunwind's names its object. */
	if (!dladdr1(fn, &info, (void **)&lm, RTLD_DL_LINKMAP) || !lm)
		return -1;
	g->base = lm->l_addr;
	const ElfW(Sym) *symtab = NULL;
	const char *strtab = NULL;
	const ElfW(Rela) *jmprel = NULL, *rela = NULL;
	size_t jmpsz = 0, relasz = 0;
	for (const ElfW(Dyn) *d = lm->l_ld; d && d->d_tag != DT_NULL; d++) {
		switch (d->d_tag) {
		case DT_SYMTAB: symtab = (const void *)dyn_ptr(d->d_un.d_ptr, g->base); break;
		case DT_STRTAB: strtab = (const void *)dyn_ptr(d->d_un.d_ptr, g->base); break;
		case DT_JMPREL: jmprel = (const void *)dyn_ptr(d->d_un.d_ptr, g->base); break;
		case DT_PLTRELSZ: jmpsz = d->d_un.d_val; break;
		case DT_RELA: rela = (const void *)dyn_ptr(d->d_un.d_ptr, g->base); break;
		case DT_RELASZ: relasz = d->d_un.d_val; break;
		}
	}
	if (!symtab || !strtab)
		return -1;
	collect(g, jmprel, jmpsz, symtab, strtab);
	collect(g, rela, relasz, symtab, strtab);
	dl_iterate_phdr(find_relro, g);
	return 0;
}

static void store(const struct got *g, void **slot, void *fn)
{
	uintptr_t s = (uintptr_t)slot;
	if (s >= g->relro_lo && s < g->relro_hi) { /* made read-only after relocation */
		long pg = sysconf(_SC_PAGESIZE);
		void *page = (void *)(s & ~(uintptr_t)(pg - 1));
		if (mprotect(page, (size_t)pg, PROT_READ | PROT_WRITE) != 0)
			return;
		__atomic_store_n(slot, fn, __ATOMIC_RELEASE);
		mprotect(page, (size_t)pg, PROT_READ);
		return;
	}
	__atomic_store_n(slot, fn, __ATOMIC_RELEASE);
}

static void patch(const struct got *g)
{
	void *const fns[P_N] = { (void *)stub_read, (void *)stub_syscall, (void *)stub_write,
				 (void *)stub_pipe2, (void *)stub_mincore, (void *)stub_msync };
	for (int k = 0; k < P_N; k++) {
		if (k == P_WRITE && g->n[P_SYSCALL])
			continue; /* its write() is then only its error messages */
		for (int i = 0; i < g->n[k]; i++)
			store(g, g->slot[k][i], fns[k]);
	}
}

/* Both halves of the check must be ours, or none: a read stubbed and a write left to
 * libunwind would still write into whatever holds its old number. */
static int complete(const struct got *g)
{
	return g->n[P_READ] && (g->n[P_SYSCALL] || g->n[P_WRITE]);
}

int rt_unwind_memcheck_install(void)
{
	static int once;
	if (__atomic_exchange_n(&once, 1, __ATOMIC_ACQ_REL))
		return rt_unwind_memcheck_mode();
	struct got g;
	memset(&g, 0, sizeof g);
	if (find_got(&g, (const void *)&unw_backtrace) != 0 || !complete(&g)) {
		rt_log(RT_LOG_WARN, "libunwind's memory checks were not found; they keep "
		       "their own pipe (a service that closes all descriptors may see it)");
		return RT_UNWIND_MEMCHECK_OFF;
	}
	__atomic_store_n(&probe_pid, getpid(), __ATOMIC_RELAXED);
	__atomic_store_n(&mode, RT_UNWIND_MEMCHECK_VMREAD, __ATOMIC_RELEASE);
	volatile char here = 1;
	if (!rt_unwind_memcheck_readable((uintptr_t)&here) || rt_unwind_memcheck_readable(0)) {
		/* A seccomp filter refusing process_vm_readv: safe, not deep. */
		__atomic_store_n(&mode, RT_UNWIND_MEMCHECK_REFUSE, __ATOMIC_RELEASE);
		rt_log(RT_LOG_WARN, "process_vm_readv is refused here: CPU stacks stop at the "
		       "first frame libunwind must check memory for (often the first)");
	}
	patch(&g);
	return rt_unwind_memcheck_mode();
}

int rt_unwind_memcheck_cover(const void *fn)
{
	static pthread_mutex_t cover_mu = PTHREAD_MUTEX_INITIALIZER;
	static uintptr_t covered[4];
	if (rt_unwind_memcheck_install() == RT_UNWIND_MEMCHECK_OFF)
		return -1;
	struct got g;
	memset(&g, 0, sizeof g);
	if (find_got(&g, fn) != 0 || !complete(&g))
		return -1;
	int rc = -1;
	pthread_mutex_lock(&cover_mu);
	for (int i = 0; i < 4 && rc != 0; i++) {
		if (covered[i] == g.base) {
			rc = 0;
		} else if (!covered[i]) {
			patch(&g);
			covered[i] = g.base;
			rc = 0;
		}
	}
	pthread_mutex_unlock(&cover_mu);
	return rc;
}
