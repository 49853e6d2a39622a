/* test_unwind_memcheck.c: libunwind's memory checks without descriptors (sample/unwind_memcheck.c).
 * The probe's answers (readable, NULL, PROT_NONE, unmapped); no descriptor opened by
 * libunwind; descriptors that a daemon-style close gave to the service's own pipe left
 * alone by walks that check memory; and a walk through code without unwind info (a
 * hand-made "JIT" frame, frame pointer only) still reaching its callers. */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "sample/unwind_memcheck.h"
#include "sample/unwind.h"
#include "t.h"

static int count_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static size_t walk_both(void)
{
	uintptr_t pcs[64];
	ucontext_t uc;
	size_t n = rt_unwind_here(pcs, 64, 0);
	getcontext(&uc);
	return n + rt_unwind_from_ucontext(&uc, pcs, 64);
}

static void diag_frames(size_t frames) { printf("# %zu frames walked meanwhile\n", frames); }

/* A walk from under `depth` frames of 1 KiB each: more stack pages than libunwind's
 * cache of four checked pages holds, so the walk must check memory again. */
__attribute__((noinline)) static size_t walk_deep(int depth)
{
	volatile char pad[1024];
	pad[0] = (char)depth;
	size_t n = depth > 0 ? walk_deep(depth - 1) : walk_both();
	__asm__ volatile("" ::: "memory"); /* no tail call: each level keeps its frame */
	return n + (size_t)(pad[0] & 0);
}

/* ---- a frame without unwind information ---- */
static uintptr_t jit_lo, jit_hi;
static uintptr_t seen[64];
static size_t n_seen;

static void from_jit(void)
{
	ucontext_t uc;
	getcontext(&uc);
	n_seen = rt_unwind_from_ucontext(&uc, seen, 64);
}

__attribute__((noinline)) static int call_through_jit(void)
{
	/* push %rbp; mov %rsp,%rbp; call *%rdi; pop %rbp; ret */
	static const unsigned char code[] = { 0x55, 0x48, 0x89, 0xe5, 0xff, 0xd7, 0x5d, 0xc3 };
	long pg = sysconf(_SC_PAGESIZE);
	unsigned char *p = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
				-1, 0);
	if (p == MAP_FAILED)
		return -1;
	memcpy(p, code, sizeof code);
	if (mprotect(p, (size_t)pg, PROT_READ | PROT_EXEC) != 0)
		return -1;
	jit_lo = (uintptr_t)p;
	jit_hi = jit_lo + sizeof code;
	((void (*)(void (*)(void)))p)(from_jit);
	__asm__ volatile("" ::: "memory"); /* keep the call from being a tail call */
	return 0;
}

int main(void)
{
	int before = count_fds();
	rt_unwind_init();
	is_int(rt_unwind_memcheck_mode(), RT_UNWIND_MEMCHECK_VMREAD, "checks are process_vm_readv of our own memory");

	int here = 7;
	long pg = sysconf(_SC_PAGESIZE);
	char *none = mmap(NULL, (size_t)pg * 2, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ok(rt_unwind_memcheck_readable((uintptr_t)&here), "a stack variable is readable");
	ok(!rt_unwind_memcheck_readable(0), "NULL is not");
	ok(!rt_unwind_memcheck_readable((uintptr_t)none), "a PROT_NONE page (a guard page) is not");
	munmap(none + pg, (size_t)pg);
	ok(!rt_unwind_memcheck_readable((uintptr_t)none + (uintptr_t)pg), "an unmapped page is not");
	errno = EINTR;
	rt_unwind_memcheck_readable(0);
	is_int(errno, EINTR, "errno is kept");

	ok(walk_both() > 4, "stacks are walked");
	is_int(count_fds(), before, "libunwind opened no descriptor");

	/* What a daemon does: close everything, then open its own on the low numbers
	 * (libunwind's pipe had two of them). */
	for (int fd = 3; fd < 256; fd++)
		close(fd);
	enum { NP = 4 };
	int p[NP][2], made = 0;
	for (int i = 0; i < NP; i++)
		made += pipe2(p[i], O_NONBLOCK) == 0 && write(p[i][1], "x", 1) == 1;
	ok(made == NP && p[0][0] == 3, "the service's pipes hold fds 3 to %d, one byte in each",
	   p[NP - 1][1]);
	size_t frames = 0;
	for (int i = 0; i < 200; i++)
		frames += walk_deep(i % 24);
	int intact = 0, open_ends = 0;
	for (int i = 0; i < NP; i++) {
		char buf[8];
		ssize_t got = read(p[i][0], buf, sizeof buf);
		intact += got == 1 && buf[0] == 'x';
		open_ends += (fcntl(p[i][0], F_GETFD) >= 0) + (fcntl(p[i][1], F_GETFD) >= 0);
	}
	is_int(intact, NP, "after the walks each pipe holds its byte, no more");
	is_int(open_ends, 2 * NP, "and every end is still open");
	diag_frames(frames);

	ok(call_through_jit() == 0, "called through a frame without unwind information");
	size_t k = 0;
	while (k < n_seen && !(seen[k] >= jit_lo && seen[k] < jit_hi))
		k++;
	ok(k < n_seen, "the walk has the frame-pointer-only frame (%zu of %zu)", k, n_seen);
	Dl_info self, caller;
	int found = 0;
	for (size_t j = k + 1; j < n_seen; j++)
		if (dladdr((void *)seen[j], &caller) && dladdr((void *)&main, &self) &&
		    caller.dli_fbase == self.dli_fbase)
			found = 1;
	ok(found, "and goes on past it into its caller in this program (%zu frames after it)",
	   k < n_seen ? n_seen - k - 1 : 0);

	printf("1..%d\n", t_run);
	return t_failed ? 1 : 0;
}
