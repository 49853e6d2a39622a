// alloc_battery.cc: the malloc family and C++ new/delete behave as POSIX, C11/C++17
// and glibc say, whoever serves them: plain glibc, or libotshim.so's interposers (over
// jemalloc, or over the next malloc with OTSHIM_ALLOCATOR=system, or with every
// allocation sampled). Speaks TAP; exit 0 = every check passed, 1 = some failed.
//
// Built with -O1 -fno-builtin (and results stored into volatile sinks) so that every
// malloc/free pair is really called. ALLOC_BATTERY_BLOCKS=N sets the blocks each
// stress thread allocates (default 200000).
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <dlfcn.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <map>
#include <mutex>
#include <new>
#include <random>
#include <string>
#include <thread>
#include <vector>

// ---- TAP ----

static int t_n, t_failed;

__attribute__((format(printf, 3, 4))) static bool ok_(bool cond, int line, const char *fmt, ...)
{
	va_list ap;
	t_n++;
	if (!cond)
		t_failed++;
	printf("%sok %d - ", cond ? "" : "not ", t_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond)
		printf("#   failed at alloc_battery.cc:%d\n", line);
	fflush(stdout);
	return cond;
}
#define OK(cond, ...) ok_(!!(cond), __LINE__, __VA_ARGS__)

__attribute__((format(printf, 1, 2))) static void diag(const char *fmt, ...)
{
	va_list ap;
	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

// ---- helpers ----

// Results go here so that no allocation is provably unused.
static void *volatile g_sink;
static void sink(void *p) { g_sink = p; }
// A size the compiler cannot see (no -Walloc-size-larger-than, no folding).
static size_t vsz(size_t n)
{
	volatile size_t v = n;
	return v;
}
// Hides a pointer's identity from the compiler: p stays usable after a realloc of
// launder(p) that failed, without a -Wuse-after-free guess.
__attribute__((noinline)) static void *launder(void *p)
{
	void *volatile v = p;
	return v;
}
static bool aligned(const void *p, size_t a) { return ((uintptr_t)p & (a - 1)) == 0; }
static bool all_zero(const void *p, size_t n)
{
	const unsigned char *c = (const unsigned char *)p;
	return n == 0 || (c[0] == 0 && memcmp(c, c + 1, n - 1) == 0);
}

// A 16 MiB byte pattern that differs at every nearby offset, so a block copied to the
// wrong place or truncated is found by one memcmp against its prefix.
static const size_t PAT_LEN = 16u << 20;
static unsigned char *pat;
static void make_pattern()
{
	pat = (unsigned char *)malloc(PAT_LEN);
	for (size_t j = 0; j < PAT_LEN; j++)
		pat[j] = (unsigned char)((j * 2654435761u) >> 13 ^ (j >> 8));
}

static size_t page;

// ---- C++ new / delete ----

static int live_objs;
struct Obj {
	int v;
	Obj() : v(7) { live_objs++; }
	~Obj() { live_objs--; }
};
struct alignas(4096) PageObj {
	char b[4096];
};
struct alignas(65536) BigAligned {
	char b[100];
};

static void test_new_delete()
{
	int *volatile ip = new int(42);
	OK(ip && *ip == 42, "new int / delete");
	delete ip;

	bool good = true;
	for (size_t n = 1; n <= (1u << 22); n = n * 3 + 1) {
		char *a = new char[vsz(n)];
		memcpy(a, pat, n);
		sink(a);
		good = good && memcmp(a, pat, n) == 0;
		delete[] a;
	}
	OK(good, "new char[n] / delete[] for n = 1 .. 4 MiB");

	Obj *objs = new Obj[vsz(1000)];
	bool built = live_objs == 1000 && objs[999].v == 7;
	delete[] objs;
	OK(built && live_objs == 0, "new Obj[1000] runs 1000 constructors, delete[] 1000 destructors");

	good = true;
	for (size_t n = 1; n <= (1u << 20); n = n * 2 + 3) {
		void *p = ::operator new(vsz(n));
		memcpy(p, pat, n);
		sink(p);
		good = good && memcmp(p, pat, n) == 0;
		::operator delete(p, n);
		void *q = ::operator new[](vsz(n));
		memcpy(q, pat, n);
		sink(q);
		good = good && memcmp(q, pat, n) == 0;
		::operator delete[](q, n);
	}
	OK(good, "sized operator delete(void*, size_t) and delete[](void*, size_t)");

	static const size_t aligns[] = {64, 4096, 65536};
	for (size_t al : aligns) {
		good = true;
		const size_t sizes[] = {1, al - 1, al, al + 1, 3 * al + 5, 1u << 20};
		for (size_t sz : sizes) {
			void *p = ::operator new(vsz(sz), std::align_val_t(al));
			good = good && p && aligned(p, al);
			memset(p, 0x11, sz);
			sink(p);
			if (sz & 1)
				::operator delete(p, std::align_val_t(al));
			else
				::operator delete(p, sz, std::align_val_t(al));
			void *q = ::operator new[](vsz(sz), std::align_val_t(al));
			good = good && q && aligned(q, al);
			memset(q, 0x22, sz);
			sink(q);
			::operator delete[](q, std::align_val_t(al));
		}
		OK(good, "aligned operator new/new[] with align_val_t(%zu): aligned, writable, deleted (sized and unsized)", al);
	}

	PageObj *po = new PageObj;
	PageObj *pa = new PageObj[3];
	BigAligned *ba = new BigAligned;
	OK(aligned(po, 4096) && aligned(pa, 4096) && aligned(ba, 65536),
	   "new-expressions of alignas(4096) / alignas(65536) types are aligned");
	memset(pa, 1, sizeof(PageObj) * 3);
	delete po;
	delete[] pa;
	delete ba;

	bool threw = false;
	void *n1 = (void *)1, *n2 = (void *)1, *n3 = (void *)1;
	try {
		n1 = ::operator new(vsz(SIZE_MAX / 2), std::nothrow);
		n2 = ::operator new[](vsz(SIZE_MAX / 2), std::nothrow);
		n3 = ::operator new(vsz(SIZE_MAX / 2), std::align_val_t(4096), std::nothrow);
	} catch (...) {
		threw = true;
	}
	OK(!threw && n1 == nullptr && n2 == nullptr && n3 == nullptr,
	   "nothrow new / new[] / aligned new of SIZE_MAX/2 return nullptr without throwing");

	bool bad_alloc = false;
	try {
		sink(::operator new(vsz(SIZE_MAX / 2)));
	} catch (const std::bad_alloc &) {
		bad_alloc = true;
	}
	OK(bad_alloc, "throwing operator new of SIZE_MAX/2 throws std::bad_alloc");

	std::vector<std::string> vs;
	std::map<int, std::string> m;
	for (int i = 0; i < 100000; i++) {
		vs.push_back(std::to_string(i) + std::string(i % 50, 'x'));
		m[i * 7919 % 100003] = vs.back();
	}
	size_t total = 0;
	for (auto &kv : m)
		total += kv.second.size();
	vs.clear();
	vs.shrink_to_fit();
	OK(m.size() == 100000 && total == 2450000 + 488890, "std::vector / std::string / std::map of 100000 entries");
}

// ---- malloc(0), realloc ----

static void test_malloc_zero()
{
	void *p[16];
	bool good = true;
	for (int i = 0; i < 16; i++) {
		p[i] = malloc(vsz(0));
		good = good && p[i] != NULL;
		for (int j = 0; j < i; j++)
			good = good && p[i] != p[j];
	}
	for (int i = 0; i < 16; i++)
		free(p[i]);
	OK(good, "malloc(0) returns a unique, freeable pointer each time (16 live at once)");
}

// realloc to each size in turn, checking the preserved prefix and refilling the rest.
static long realloc_chain(const std::vector<size_t> &sizes)
{
	long bad = 0;
	unsigned char *p = NULL;
	size_t have = 0;
	for (size_t n : sizes) {
		unsigned char *q = (unsigned char *)realloc(p, n);
		if (!q) {
			bad++;
			break;
		}
		size_t keep = have < n ? have : n;
		if (memcmp(q, pat, keep) != 0)
			bad++;
		if (malloc_usable_size(q) < n)
			bad++;
		if (n > keep)
			memcpy(q + keep, pat + keep, n - keep);
		p = q;
		have = n;
	}
	free(p);
	return bad;
}

static void test_realloc()
{
	std::vector<size_t> sizes;
	for (int i = 0; i < 500; i++) // 1 .. 1 MiB geometrically, and back
		sizes.push_back((size_t)(std::exp(std::log(1048576.0) * i / 499) + 0.5));
	for (int i = 499; i >= 0; i--)
		sizes.push_back(sizes[i]);
	long bad = realloc_chain(sizes);
	OK(bad == 0, "realloc chain of 1000 steps 1 B .. 1 MiB .. 1 B keeps contents (%ld bad steps)", bad);

	std::mt19937_64 rng(1);
	sizes.clear();
	for (int i = 0; i < 3000; i++) {
		int kind = rng() % 4;
		size_t lim = kind == 0 ? 64 : kind == 1 ? 4096 : kind == 2 ? 300000 : 6u << 20;
		sizes.push_back(1 + rng() % lim);
	}
	bad = realloc_chain(sizes);
	OK(bad == 0, "realloc chain of 3000 random sizes up to 6 MiB keeps contents (%ld bad steps)", bad);

	bad = 0;
	const size_t rn[] = {0, 1, 100, 100000, 4u << 20};
	for (size_t n : rn) {
		void *p = realloc(NULL, vsz(n));
		if (!p || malloc_usable_size(p) < n)
			bad++;
		if (p)
			memset(p, 0x33, n);
		free(p);
	}
	OK(bad == 0, "realloc(NULL, n) acts as malloc(n) for n = 0, 1, 100, 100000, 4 MiB");

	unsigned char *p = (unsigned char *)malloc(100);
	memcpy(p, pat, 100);
	unsigned char *q = (unsigned char *)realloc(p, 100);
	OK(q && memcmp(q, pat, 100) == 0, "realloc to the same size keeps contents");
	q = (unsigned char *)realloc(q, vsz(0));
	OK(true, "realloc(p, 0) does not crash (returned %s)", q ? "a pointer, freed" : "NULL: p was freed");
	free(q);

	p = (unsigned char *)malloc(5000);
	memcpy(p, pat, 5000);
	errno = 0;
	q = (unsigned char *)realloc(launder(p), vsz(SIZE_MAX));
	int e = errno;
	OK(q == NULL && memcmp(p, pat, 5000) == 0, "realloc(p, SIZE_MAX) returns NULL and leaves p intact");
	OK(e == ENOMEM, "... and sets errno to ENOMEM (errno %d)", e);
	free(p);
}

// ---- aligned allocation ----

static void test_posix_memalign()
{
	for (size_t al = 8; al <= (1u << 21); al <<= 1) {
		bool good = true;
		const size_t sizes[] = {1, 7, al / 2 + 1, al, al + 1, 3 * al};
		for (size_t sz : sizes) {
			void *p = NULL;
			int r = posix_memalign(&p, al, vsz(sz));
			if (r != 0 || !p || !aligned(p, al) || malloc_usable_size(p) < sz) {
				good = false;
				diag("posix_memalign(%zu, %zu) = %d, %p", al, sz, r, p);
			}
			if (r == 0) {
				memset(p, 0x44, sz);
				free(p);
			}
		}
		OK(good, "posix_memalign alignment %zu: returns 0, aligned, usable >= size, writable", al);
	}

	const size_t badal[] = {0, 1, 2, 4, 12, 20, 24, 40, 48, 96, 4097, 3 * 4096, (1u << 21) + 8, SIZE_MAX};
	bool good = true;
	for (size_t al : badal) {
		void *p = NULL;
		int r = posix_memalign(&p, vsz(al), 64);
		if (r != EINVAL) {
			good = false;
			diag("posix_memalign(alignment %zu) returned %d, not EINVAL", al, r);
		}
		if (r == 0)
			free(p);
	}
	OK(good, "posix_memalign returns EINVAL for alignments 0, 1, 2, 4 and non-powers of two");

	const size_t huge[] = {SIZE_MAX, SIZE_MAX - 4096, SIZE_MAX / 2 + 1};
	good = true;
	for (size_t al : {16, 64}) // 16: the interposer serves it with malloc
		for (size_t sz : huge) {
			void *p = NULL;
			int r = posix_memalign(&p, al, vsz(sz));
			if (r != ENOMEM) {
				good = false;
				diag("posix_memalign(%zu, %zu) returned %d, not ENOMEM", al, sz, r);
			}
			if (r == 0)
				free(p);
		}
	OK(good, "posix_memalign (16 and 64) of SIZE_MAX, SIZE_MAX-4096, SIZE_MAX/2+1 returns ENOMEM");
}

static void test_other_aligned()
{
	bool good = true;
	const size_t asz[] = {4096, 8192, 40960, 4u << 20};
	for (size_t sz : asz) {
		void *p = aligned_alloc(4096, vsz(sz));
		good = good && p && aligned(p, 4096) && malloc_usable_size(p) >= sz;
		if (p)
			memset(p, 0x55, sz);
		free(p);
	}
	void *p = aligned_alloc(64, vsz(64 * 3));
	good = good && p && aligned(p, 64);
	free(p);
	OK(good, "aligned_alloc(4096, n) and aligned_alloc(64, 192) are aligned and writable");

	good = true;
	for (size_t al = 16; al <= (1u << 16); al <<= 1) {
		const size_t sizes[] = {1, 1000, al + 1};
		for (size_t sz : sizes) {
			void *q = memalign(al, vsz(sz));
			good = good && q && aligned(q, al) && malloc_usable_size(q) >= sz;
			if (q)
				memset(q, 0x66, sz);
			free(q);
		}
	}
	OK(good, "memalign(16 .. 65536, n) is aligned, usable >= n, writable");

	good = true;
	const size_t vs[] = {1, 100, page - 1, page, page + 1, 1u << 20};
	for (size_t sz : vs) {
		void *q = valloc(vsz(sz));
		good = good && q && aligned(q, page) && malloc_usable_size(q) >= sz;
		if (q)
			memset(q, 0x77, sz);
		free(q);
	}
	OK(good, "valloc(n) is page aligned, usable >= n, writable");

	good = true;
	const size_t ps[] = {1, 100, page - 1, page, page + 1, 3 * page + 7, (1u << 20) + 1};
	for (size_t sz : ps) {
		size_t up = (sz + page - 1) / page * page;
		void *q = pvalloc(vsz(sz));
		bool g = q && aligned(q, page) && malloc_usable_size(q) >= up;
		if (!g)
			diag("pvalloc(%zu) = %p, usable %zu, want >= %zu", sz, q, q ? malloc_usable_size(q) : 0, up);
		good = good && g;
		if (q)
			memset(q, 0x78, up);
		free(q);
	}
	OK(good, "pvalloc(n) is page aligned, usable >= n rounded up to a page, writable to there");
}

// ---- malloc_usable_size ----

static void test_usable_size()
{
	std::vector<size_t> sizes;
	for (size_t n = 1; n <= 4096; n++)
		sizes.push_back(n);
	for (size_t n = 4097; n <= 262144; n += 37)
		sizes.push_back(n);
	for (size_t b = 18; b <= 25; b++)
		for (long d = -1; d <= 1; d++)
			sizes.push_back(((size_t)1 << b) + d);
	long bad = 0;
	for (size_t n : sizes) {
		unsigned char *p = (unsigned char *)malloc(vsz(n));
		if (!p) {
			bad++;
			continue;
		}
		size_t u = malloc_usable_size(p);
		if (u < n) {
			if (bad++ < 5)
				diag("malloc_usable_size(malloc(%zu)) = %zu", n, u);
		} else {
			memset(p, 0xc3, u);
			if (p[u - 1] != 0xc3)
				bad++;
		}
		free(p);
	}
	// The allocator must still be sound after every block was written to its end.
	std::vector<void *> keep;
	for (int i = 0; i < 10000; i++) {
		keep.push_back(malloc(1 + i % 3000));
		memset(keep.back(), 0x9, 1 + i % 3000);
	}
	for (void *q : keep)
		free(q);
	OK(bad == 0, "malloc_usable_size(p) >= n and all of it writable, for %zu sizes 1 B .. 32 MiB", sizes.size());
	OK(malloc_usable_size(NULL) == 0, "malloc_usable_size(NULL) == 0");
}

// ---- calloc ----

static void test_calloc()
{
	const size_t sizes[] = {1, 8, 24, 100, 1000, 4096, 10000, 65536, 131071, 131072, 200000, 1u << 20, 8u << 20};
	long bad = 0;
	for (size_t n : sizes) {
		for (int round = 0; round < 20; round++) {
			void *d = malloc(vsz(n));
			memset(d, 0xa5, n);
			sink(d);
			free(d);
			unsigned char *z = (unsigned char *)(round & 1 ? calloc(vsz(n), 1) : calloc(1, vsz(n)));
			if (!z || !all_zero(z, n)) {
				if (bad++ < 5)
					diag("calloc of %zu bytes (round %d) not zeroed", n, round);
			}
			if (z)
				memset(z, 0x5a, n);
			free(z);
		}
	}
	OK(bad == 0, "calloc returns zeroed memory after dirty frees of the same size, 1 B .. 8 MiB");

	bad = 0;
	for (int round = 0; round < 10; round++) {
		std::vector<void *> v;
		for (int i = 0; i < 2000; i++) {
			v.push_back(malloc(vsz(48)));
			memset(v.back(), 0xff, 48);
		}
		for (void *q : v)
			free(q);
		v.clear();
		for (int i = 0; i < 2000; i++) {
			void *q = calloc(vsz(6), 8);
			if (!q || !all_zero(q, 48))
				bad++;
			v.push_back(q);
		}
		for (void *q : v)
			free(q);
	}
	OK(bad == 0, "calloc(6, 8) reusing 2000 dirty freed 48-byte blocks is zeroed (10 rounds)");

	void *a = calloc(vsz(0), 16), *b = calloc(16, vsz(0));
	OK(a && b && a != b, "calloc(0, n) and calloc(n, 0) return unique freeable pointers");
	free(a);
	free(b);

	struct {
		size_t n, m;
	} ov[] = {{SIZE_MAX / 2, 3}, {SIZE_MAX, 2}, {(size_t)1 << 32, (size_t)1 << 32}, {SIZE_MAX, SIZE_MAX}, {2, SIZE_MAX / 2 + 1}};
	bool good = true;
	for (auto &o : ov) {
		errno = 0;
		void *p = calloc(vsz(o.n), vsz(o.m));
		int e = errno;
		if (p || e != ENOMEM) {
			good = false;
			diag("calloc(%zu, %zu) = %p, errno %d", o.n, o.m, p, e);
		}
		free(p);
	}
	OK(good, "calloc whose n*size overflows (e.g. SIZE_MAX/2, 3) returns NULL with errno ENOMEM");
}

static void test_reallocarray()
{
	unsigned char *p = (unsigned char *)malloc(100);
	memcpy(p, pat, 100);
	errno = 0;
	void *q = reallocarray(launder(p), vsz(SIZE_MAX / 2), 3);
	int e = errno;
	OK(q == NULL && e == ENOMEM, "reallocarray(p, SIZE_MAX/2, 3) returns NULL with errno ENOMEM (errno %d)", e);
	OK(memcmp(p, pat, 100) == 0, "... and the old block is still valid and intact");
	q = reallocarray(p, vsz(1000), 10);
	OK(q && memcmp(q, pat, 100) == 0 && malloc_usable_size(q) >= 10000, "reallocarray(p, 1000, 10) grows and keeps contents");
	free(q);
}

// ---- failures, free, errno ----

static void test_huge_and_errno()
{
	const size_t huge[] = {SIZE_MAX, SIZE_MAX - 4096, SIZE_MAX / 2 + 1, SIZE_MAX / 2};
	bool good = true;
	for (size_t n : huge) {
		errno = 0;
		void *p = malloc(vsz(n));
		int e = errno;
		if (p || e != ENOMEM) {
			good = false;
			diag("malloc(%zu) = %p, errno %d", n, p, e);
		}
		free(p);
	}
	OK(good, "malloc(SIZE_MAX), malloc(SIZE_MAX/2) etc. return NULL with errno ENOMEM");

	errno = 1234;
	free(NULL);
	OK(errno == 1234, "free(NULL) is a no-op and keeps errno");

	const size_t sizes[] = {16, 1000, 100000, 1u << 20, 16u << 20};
	for (size_t n : sizes) {
		int e[7];
		errno = 1234;
		void *p = malloc(vsz(n));
		e[0] = errno;
		free(p);
		e[1] = errno;
		p = calloc(1, vsz(n));
		e[2] = errno;
		p = realloc(p, vsz(n * 2));
		e[3] = errno;
		free(p);
		e[4] = errno;
		p = NULL;
		int r = posix_memalign(&p, 4096, vsz(n));
		e[5] = errno;
		free(p);
		e[6] = errno;
		bool good = r == 0;
		for (int i = 0; i < 7; i++)
			good = good && e[i] == 1234;
		OK(good, "successful malloc/free/calloc/realloc/posix_memalign of %zu bytes keep errno (%d %d %d %d %d %d %d)",
		   n, e[0], e[1], e[2], e[3], e[4], e[5], e[6]);
	}
	errno = 0;
}

// ---- glibc's own allocations freed by free() ----

static void test_libc_internal(const char *tmpdir)
{
	char *s = strdup("hello, allocator");
	char *sn = strndup("abcdefghij", 4);
	OK(s && strcmp(s, "hello, allocator") == 0 && sn && strcmp(sn, "abcd") == 0, "strdup / strndup");
	free(s);
	free(sn);

	char *as = NULL;
	int n = asprintf(&as, "%s-%d-%0500d", "x", 42, 7);
	OK(n == 505 && as && strlen(as) == 505, "asprintf");
	free(as);

	char path[4096];
	snprintf(path, sizeof path, "%s/alloc_battery.%d.txt", tmpdir, (int)getpid());
	FILE *f = fopen(path, "w");
	bool good = f != NULL;
	if (f) {
		for (int i = 0; i < 2000; i++) {
			fprintf(f, "%d ", i);
			for (int j = 0; j < i * 7; j++)
				fputc('a' + j % 26, f);
			fputc('\n', f);
		}
		good = fclose(f) == 0;
	}
	f = fopen(path, "r");
	good = good && f;
	long lines = 0, bad = 0;
	if (f) {
		char *line = NULL;
		size_t cap = 0;
		ssize_t len;
		while ((len = getline(&line, &cap, f)) > 0) {
			int i = atoi(line);
			if (i != lines || cap < (size_t)len)
				bad++;
			lines++;
		}
		free(line);
		fclose(f);
	}
	unlink(path);
	OK(good && lines == 2000 && bad == 0, "fopen/fprintf/fclose, then getline grows its buffer to 14 KB over 2000 lines; free(line)");

	char *buf = NULL;
	size_t sz = 0;
	FILE *ms = open_memstream(&buf, &sz);
	for (int i = 0; ms && i < 100000; i++)
		fprintf(ms, "%08d\n", i);
	if (ms)
		fclose(ms);
	OK(ms && sz == 900000 && buf && memcmp(buf + 899991, "00099999\n", 9) == 0, "open_memstream of 900 KB; free(buf)");
	free(buf);

	char *rp = realpath("/usr/../usr/./bin", NULL);
	OK(rp && strcmp(rp, "/usr/bin") == 0, "realpath(path, NULL) allocates the result; free");
	free(rp);

	good = true;
	for (int i = 0; i < 2000; i++) {
		char name[32], val[64];
		snprintf(name, sizeof name, "ALLOC_BATTERY_V%d", i);
		snprintf(val, sizeof val, "%0*d", i % 60, i);
		good = good && setenv(name, val, 1) == 0;
	}
	for (int i = 0; i < 2000; i++) {
		char name[32];
		snprintf(name, sizeof name, "ALLOC_BATTERY_V%d", i);
		good = good && getenv(name) != NULL;
		unsetenv(name);
	}
	OK(good, "setenv / getenv / unsetenv of 2000 variables");

	void *h = dlopen("libm.so.6", RTLD_NOW);
	bool dl = h && dlsym(h, "cos") != NULL;
	if (h)
		dlclose(h);
	void *none = dlopen("/nonexistent/libnothing.so", RTLD_NOW);
	const char *err = dlerror();
	OK(dl && !none && err && strstr(err, "libnothing"), "dlopen/dlsym/dlclose, and a failed dlopen's dlerror");
}

// ---- threads ----

struct Blk {
	unsigned char *p;
	uint32_t n;
	uint32_t off;
};
struct Inbox {
	std::mutex m;
	std::vector<Blk> q;
};
static const int NTHREADS = 4;
static Inbox inbox[NTHREADS];
static std::atomic<long> st_bad, st_cross, st_local;
static std::atomic<int> st_done;

static void check_free(const Blk &b)
{
	if (memcmp(b.p, pat + b.off, b.n) != 0)
		st_bad++;
	free(b.p);
}

static void drain(int i)
{
	std::vector<Blk> v;
	{
		std::lock_guard<std::mutex> g(inbox[i].m);
		v.swap(inbox[i].q);
	}
	for (const Blk &b : v)
		check_free(b);
	st_cross += (long)v.size();
}

static void stress_thread(int i, long nblocks)
{
	std::mt19937_64 rng(1000 + i);
	const size_t RING = 2048;
	std::vector<Blk> ring(RING, Blk{NULL, 0, 0});
	for (long k = 0; k < nblocks; k++) {
		Blk b;
		b.n = 1 + rng() % 8192;
		b.off = rng() % (PAT_LEN - 8192);
		b.p = (unsigned char *)malloc(b.n);
		if (!b.p) {
			st_bad++;
			continue;
		}
		memcpy(b.p, pat + b.off, b.n);
		if (k & 1) {
			std::lock_guard<std::mutex> g(inbox[(i + 1) % NTHREADS].m);
			inbox[(i + 1) % NTHREADS].q.push_back(b);
		} else {
			Blk &slot = ring[(k / 2) % RING];
			if (slot.p) {
				check_free(slot);
				st_local++;
			}
			slot = b;
		}
		if ((k & 63) == 0)
			drain(i);
	}
	for (Blk &b : ring)
		if (b.p) {
			check_free(b);
			st_local++;
		}
	st_done++;
	while (st_done.load() < NTHREADS) {
		drain(i);
		std::this_thread::yield();
	}
	drain(i);
}

static void test_threads(long nblocks)
{
	std::vector<std::thread> th;
	for (int i = 0; i < NTHREADS; i++)
		th.emplace_back(stress_thread, i, nblocks);
	for (auto &t : th)
		t.join();
	long want_cross = NTHREADS * (nblocks / 2), want_local = NTHREADS * (nblocks - nblocks / 2);
	diag("stress: %d threads x %ld blocks of 1..8192 B; %ld freed by another thread, %ld by their own",
	     NTHREADS, nblocks, st_cross.load(), st_local.load());
	OK(st_bad == 0, "stress: every block kept its pattern until freed (%ld bad)", st_bad.load());
	OK(st_cross == want_cross && st_local == want_local, "stress: every block freed exactly once, half of them cross-thread");

	// Many short-lived threads: per-thread caches are set up and torn down each time.
	std::atomic<long> bad{0};
	for (int round = 0; round < 20; round++) {
		std::vector<std::thread> ts;
		for (int i = 0; i < 10; i++)
			ts.emplace_back([&bad, i] {
				std::vector<void *> v;
				for (int k = 0; k < 500; k++) {
					v.push_back(malloc(1 + (k * 37 + i) % 20000));
					if (!v.back())
						bad++;
				}
				for (void *p : v)
					free(p);
				char *s = strdup("thread-local");
				if (!s)
					bad++;
				free(s);
			});
		for (auto &t : ts)
			t.join();
	}
	OK(bad == 0, "200 short-lived threads each allocate and free 500 blocks");
}

// ---- fork ----

static void test_fork()
{
	std::atomic<bool> stop{false};
	std::thread busy([&stop] {
		std::mt19937 rng(5);
		std::vector<void *> v(64, nullptr);
		while (!stop.load()) {
			size_t k = rng() % 64;
			free(v[k]);
			v[k] = malloc(1 + rng() % 100000);
		}
		for (void *p : v)
			free(p);
	});
	char *parent_block = strdup("allocated by the parent");
	int good = 0, total = 30;
	for (int i = 0; i < total; i++) {
		fflush(stdout);
		pid_t pid = fork();
		if (pid == 0) {
			alarm(20); // a deadlocked allocator in the child dies instead of hanging
			int st = strcmp(parent_block, "allocated by the parent") == 0 ? 0 : 2;
			free(parent_block);
			for (int k = 0; k < 1000; k++) {
				void *p = malloc(1 + (k * 131) % 200000);
				if (!p)
					st = 3;
				free(p);
			}
			std::thread t([] { free(malloc(1000)); });
			t.join();
			_exit(st);
		}
		int ws = -1;
		if (pid > 0 && waitpid(pid, &ws, 0) == pid && WIFEXITED(ws) && WEXITSTATUS(ws) == 0)
			good++;
		else
			diag("fork child %d: status 0x%x", i, ws);
	}
	stop = true;
	busy.join();
	free(parent_block);
	OK(good == total, "fork while another thread allocates: %d/%d children malloc, free, free a parent block, start a thread", good, total);
}

// One comment line naming the object that serves each function, e.g.
// "# served by: malloc=libotshim.so free=libotshim.so ...", for tests/integration/alloc.sh.
static void show_providers()
{
	struct {
		const char *name;
		void *fn;
	} fns[] = {{"malloc", (void *)&malloc}, {"free", (void *)&free}, {"calloc", (void *)&calloc},
		   {"realloc", (void *)&realloc}, {"reallocarray", (void *)&reallocarray},
		   {"posix_memalign", (void *)&posix_memalign}, {"aligned_alloc", (void *)&aligned_alloc},
		   {"memalign", (void *)&memalign}, {"valloc", (void *)&valloc}, {"pvalloc", (void *)&pvalloc},
		   {"malloc_usable_size", (void *)&malloc_usable_size}};
	std::string line = "served by:";
	for (auto &f : fns) {
		Dl_info di;
		const char *obj = dladdr(f.fn, &di) && di.dli_fname ? di.dli_fname : "?";
		const char *base = strrchr(obj, '/');
		line += std::string(" ") + f.name + "=" + (base ? base + 1 : obj);
	}
	diag("%s", line.c_str());
}

int main()
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	page = (size_t)sysconf(_SC_PAGESIZE);
	long nblocks = 200000;
	if (const char *e = getenv("ALLOC_BATTERY_BLOCKS"))
		nblocks = atol(e) > 1 ? atol(e) : nblocks;
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	make_pattern();
	diag("LD_PRELOAD=%s OTSHIM_ALLOCATOR=%s OTSHIM_HEAP_SAMPLE_BYTES=%s", getenv("LD_PRELOAD") ?: "",
	     getenv("OTSHIM_ALLOCATOR") ?: "", getenv("OTSHIM_HEAP_SAMPLE_BYTES") ?: "");
	show_providers();

	test_new_delete();
	test_malloc_zero();
	test_realloc();
	test_posix_memalign();
	test_other_aligned();
	test_usable_size();
	test_calloc();
	test_reallocarray();
	test_huge_and_errno();
	test_libc_internal(tmp);
	test_threads(nblocks);
	test_fork();

	free(pat);
	printf("1..%d\n", t_n);
	return t_failed ? 1 : 0;
}
