/* fuzz.h: what the libFuzzer targets in tests/fuzz/ share: an invariant check that
 * aborts (so libFuzzer saves the input as a crash artifact), copies of input pieces
 * into their own exact-size heap blocks (so ASan sees a read one byte past a piece,
 * not just past the whole input), a tiny deterministic RNG for fuzzer-chosen split
 * points, and an allocation counter for "the parser never allocates". Header-only:
 * each fuzzer is one .c file plus the runtime sources it tests (see the Makefile's
 * fuzz section). */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sanitizer/allocator_interface.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* An invariant of the code under test. On failure says which and aborts. */
#define FUZZ_CHECK(cond, ...)                                                               \
	do {                                                                                \
		if (!(cond)) {                                                              \
			fprintf(stderr, "fuzz invariant failed at %s:%d: %s: ", __FILE__,   \
				__LINE__, #cond);                                           \
			fprintf(stderr, __VA_ARGS__);                                       \
			fputc('\n', stderr);                                                \
			abort();                                                            \
		}                                                                           \
	} while (0)

/* ---- allocation counting (ASan's malloc hooks) ---- */

/* Per thread: libFuzzer's own threads (the RSS watcher) allocate whenever they like.
 * Volatile, and fenced below: the compiler knows malloc cannot touch our globals, and
 * would otherwise fold the check away. */
static __thread volatile int fuzz_counting;
static __thread volatile size_t fuzz_allocs;

static void fuzz_malloc_hook(const volatile void *p, size_t n)
{
	(void)p, (void)n;
	if (fuzz_counting)
		fuzz_allocs++;
}

static void fuzz_free_hook(const volatile void *p)
{
	(void)p;
}

/* Call once from LLVMFuzzerInitialize. */
static inline void fuzz_count_allocs_init(void)
{
	__sanitizer_install_malloc_and_free_hooks(fuzz_malloc_hook, fuzz_free_hook);
}

/* Bracket a call to code that must not allocate. */
#define FUZZ_NO_ALLOC(what, stmt)                                                           \
	do {                                                                                \
		size_t fuzz_before_ = fuzz_allocs;                                          \
		fuzz_counting = 1;                                                          \
		__asm__ volatile("" ::: "memory");                                          \
		stmt;                                                                       \
		__asm__ volatile("" ::: "memory");                                          \
		fuzz_counting = 0;                                                          \
		FUZZ_CHECK(fuzz_allocs == fuzz_before_, "%s allocated %zu blocks", what,    \
			   fuzz_allocs - fuzz_before_);                                     \
	} while (0)

/* ---- input pieces ---- */

/* A copy of p[0..n) in a heap block of exactly n bytes (1 for n == 0, never read).
 * Caller frees. */
static inline char *fuzz_piece(const void *p, size_t n)
{
	char *b = malloc(n ? n : 1);
	if (!b)
		abort();
	if (n)
		memcpy(b, p, n);
	return b;
}

/* xorshift32: split points must be a function of the input, so a crash reproduces. */
static inline uint32_t fuzz_rand(uint32_t *s)
{
	uint32_t x = *s ? *s : 0x9e3779b9u;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

#endif
