/* test_alloc_sampled.c: the home of sampled blocks (base/alloc_sampled.c). Blocks it
 * serves lie in its range and nothing else does (ordinary blocks, the stack, NULL);
 * they honour size, alignment and zeroing, go back to it, and are reused; a process
 * whose RLIMIT_AS leaves too little address space gets no range (NULL: the sampler
 * then serves the request as usual), and its other allocations still work. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "t.h"
#include "base/alloc.h"

static void test_blocks(void)
{
	int local;
	ok(!rt_alloc_is_sampled(NULL) && !rt_alloc_is_sampled(&local),
	   "before the range exists nothing is in it");
	void *p = rt_alloc_sampled(0, 100, 0);
	ok(p != NULL, "a block of 100 bytes");
	ok(rt_alloc_is_sampled(p), "it lies in the sampled range");
	ok(rt_alloc_sampled_size(p) >= 100, "its usable size covers the request");
	memset(p, 0xab, 100);
	void *plain = malloc(100);
	ok(!rt_alloc_is_sampled(plain) && !rt_alloc_is_sampled(&local) && !rt_alloc_is_sampled(NULL),
	   "an ordinary block, the stack and NULL do not");
	free(plain);

	unsigned char *z = rt_alloc_sampled(0, 4096, 1);
	int zeroed = z != NULL;
	for (size_t i = 0; z && i < 4096; i++)
		zeroed &= z[i] == 0;
	ok(zeroed, "zeroed when asked");

	void *a = rt_alloc_sampled(4096, 10, 0), *b = rt_alloc_sampled(1 << 16, 3 << 20, 0);
	ok(a && ((uintptr_t)a & 4095) == 0 && b && ((uintptr_t)b & 0xffff) == 0,
	   "alignment honoured (4 KiB, 64 KiB on a 3 MiB block)");
	ok(rt_alloc_is_sampled(a) && rt_alloc_is_sampled(b), "aligned and large blocks lie in the range too");

	rt_alloc_sampled_free(p);
	rt_alloc_sampled_free(z);
	rt_alloc_sampled_free(a);
	rt_alloc_sampled_free(b);
	/* The arena keeps no thread cache: many rounds reuse the same memory. */
	uintptr_t lo = UINTPTR_MAX, hi = 0;
	for (int i = 0; i < 100000; i++) {
		void *q = rt_alloc_sampled(0, 64 + (size_t)(i % 8) * 512, 0);
		if (!q)
			break;
		if ((uintptr_t)q < lo)
			lo = (uintptr_t)q;
		if ((uintptr_t)q > hi)
			hi = (uintptr_t)q;
		rt_alloc_sampled_free(q);
	}
	ok(hi >= lo && hi - lo < (16u << 20), "freed blocks are reused (100,000 rounds within %lu KiB)",
	   (unsigned long)((hi - lo) >> 10));
}

/* In a child with 1 GiB of address space: a 64th of it is below the range's minimum. */
static void test_rlimit(void)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	skip("no range under a small RLIMIT_AS", "the sanitizer's shadow needs the address space");
#else
	pid_t pid = fork();
	if (pid == 0) {
		struct rlimit rl = { 1ul << 30, 1ul << 30 };
		if (setrlimit(RLIMIT_AS, &rl) != 0)
			_exit(3);
		void *p = rt_alloc_sampled(0, 100, 0);
		void *q = malloc(100);
		_exit(p == NULL && q != NULL ? 0 : 1);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	   "with RLIMIT_AS at 1 GiB: no range (NULL), and ordinary allocations still work");
#endif
}

int main(void)
{
	/* The child must make the range itself: test it before this process does. */
	test_rlimit();
	test_blocks();
	return done_testing();
}
