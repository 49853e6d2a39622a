/* test_pprof_text.c: the ?debug=N text forms from synthetic data. The heap profile's
 * counts must come back as our unbiased estimates when unbiased the way pprof's
 * legacy parser does it (its scaleHeapSample, ported below), exactly for blocks of
 * one size; the header totals are the records' sums; records are largest first and
 * their frames are named "#\t0x<addr>\t<function>+0x<off>\t<file>:<line>". Count
 * profiles group equal stacks, most common first, and count stackless threads in
 * the total only. The dump gives every thread its own header. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "t.h"
#include "profile/pprof_text.h"

#define RATE 524288

/* pprof's scaleHeapSample (profile/legacy_profile.go), integer truncation included. */
static void pprof_unbias(int64_t count, int64_t size, int64_t rate, int64_t *c, int64_t *s)
{
	*c = *s = 0;
	if (count == 0 || size == 0)
		return;
	if (rate <= 1) {
		*c = count;
		*s = size;
		return;
	}
	double scale = 1 / (1 - exp(-((double)size / (double)count) / (double)rate));
	*c = (int64_t)((double)count * scale);
	*s = (int64_t)((double)size * scale);
}

/* Unbiased estimates of k blocks of each size, as rt_heap_profile sums them. */
static void estimate(const size_t *sizes, const int *k, int n, double *objects, double *bytes)
{
	*objects = *bytes = 0;
	for (int i = 0; i < n; i++) {
		double sc = rt_heap_scale(sizes[i], RATE);
		*objects += k[i] * sc;
		*bytes += k[i] * sc * (double)sizes[i];
	}
}

static void test_one_size(void)
{
	static const size_t sizes[] = { 1, 8, 64, 4096, 100000, 524288, 4u << 20 };
	int exact = 1, back = 1;
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
		for (int k = 1; k <= 1000; k *= 10) {
			double o, b;
			int64_t c, s, c2, s2;
			estimate(&sizes[i], &k, 1, &o, &b);
			rt_pprof_text_sampled(o, b, RATE, &c, &s);
			exact &= c == k && s == (int64_t)(k * sizes[i]);
			pprof_unbias(c, s, RATE, &c2, &s2);
			back &= fabs((double)s2 - b) <= 1 + 1e-9 * b && fabs((double)c2 - o) <= 1 + 1e-9 * o;
			if (c != k || s != (int64_t)(k * sizes[i]))
				diag("%d blocks of %zu: printed %lld: %lld", k, sizes[i], (long long)c,
				     (long long)s);
		}
	}
	ok(exact, "blocks of one size: the sampled count and bytes, as Go prints them");
	ok(back, "and pprof's unbiasing gives the estimates back");
}

static void test_mixed_sizes(void)
{
	/* One stack, blocks of very different sizes: the count printed stands for no
	 * real number of samples, but pprof must read both estimates back, within half a
	 * sample's worth. */
	static const size_t sizes[][3] = { { 1, 4u << 20, 64 }, { 16, 32, 1u << 20 },
					   { 600000, 8, 3000 }, { 1, 1, 10u << 20 },
					   { 100, 200, 300 }, { 1u << 20, 3u << 20, 7u << 20 } };
	static const int k[][3] = { { 1, 1, 3 }, { 5, 2, 1 }, { 2, 7, 1 }, { 1, 1, 1 },
				    { 40, 1, 9 }, { 3, 1, 2 } };
	int close = 1, nonzero = 1;
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
		double o, b;
		int64_t c, s, c2, s2;
		estimate(sizes[i], k[i], 3, &o, &b);
		rt_pprof_text_sampled(o, b, RATE, &c, &s);
		pprof_unbias(c, s, RATE, &c2, &s2);
		double tol = 0.5 / (double)(c ? c : 1) + 0.01;
		diag("estimates %.0f: %.0f, printed %lld: %lld, pprof reads %lld: %lld", o, b,
		     (long long)c, (long long)s, (long long)c2, (long long)s2);
		close &= fabs((double)s2 - b) <= tol * b && fabs((double)c2 - o) <= tol * o;
		nonzero &= c > 0 && s > 0;
	}
	ok(close, "mixed sizes: pprof reads objects and bytes back within half a sample");
	ok(nonzero, "and never a zero count with bytes (pprof refuses those)");
}

static void test_edges(void)
{
	int64_t c, s;
	rt_pprof_text_sampled(0, 0, RATE, &c, &s);
	ok(c == 0 && s == 0, "nothing is 0: 0");
	rt_pprof_text_sampled(3, 300, 0, &c, &s);
	ok(c == 3 && s == 300, "rate 0 (every block recorded): printed as estimated");
}

/* ---- whole profiles ---- */

__attribute__((noinline)) static void leaf_a(void) { __asm__ volatile(""); }
__attribute__((noinline)) static void leaf_b(void) { __asm__ volatile(""); }
__attribute__((noinline)) static void caller(void) { leaf_a(); }

static char *render_heap(const rt_heap_snapshot_t *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int rc = rt_pprof_text_heap(f, s);
	fclose(f);
	return rc == 0 ? buf : (free(buf), NULL);
}

static void test_heap_profile(void)
{
	/* Return addresses one past each function's start: named "<function>+0x0". */
	uintptr_t pa[2] = { (uintptr_t)leaf_a + 1, (uintptr_t)caller + 1 };
	uintptr_t pb[1] = { (uintptr_t)leaf_b + 1 };
	rt_heap_stack_t stacks[2] = { { .npcs = 2, .pcs = pa }, { .npcs = 1, .pcs = pb } };
	stacks[1].freed_objects = rt_heap_scale(4u << 20, RATE); /* one more, freed */
	stacks[1].freed_bytes = stacks[1].freed_objects * (4u << 20);
	rt_heap_block_t blocks[3] = { { .size = 1 << 20, .stack = 0 }, { .size = 1 << 20, .stack = 0 },
				      { .size = 4u << 20, .stack = 1 } };
	/* And one block of stack 0 allocated in a request and freed: the text has no
	 * labels, so it joins its stack's alloc totals. */
	rt_heap_ids_t ids = { { 1 }, { 2 } };
	rt_heap_freed_t freed = { .stack = 0, .label = 1, .objects = rt_heap_scale(1 << 20, RATE) };
	freed.bytes = freed.objects * (1 << 20);
	rt_heap_snapshot_t s = { .stacks = stacks, .nstacks = 2, .blocks = blocks, .nblocks = 3,
				 .freed = &freed, .nfreed = 1, .labels = &ids, .nlabels = 1,
				 .rate = RATE };
	char *out = render_heap(&s);
	ok(out != NULL, "heap profile written");
	if (!out)
		return;
	char head[128], first[128];
	snprintf(head, sizeof head, "heap profile: 3: %d [5: %d] @ heap/%d\n", 6 << 20,
		 11 << 20, 2 * RATE);
	ok(strncmp(out, head, strlen(head)) == 0, "header: the records' sums, heap/<2*rate>");
	snprintf(first, sizeof first, "1: %d [2: %d] @ 0x%lx\n", 4 << 20, 8 << 20,
		 (unsigned long)pb[0]);
	const char *r1 = strstr(out, first);
	char second[128];
	snprintf(second, sizeof second, "2: %d [3: %d] @ 0x%lx 0x%lx\n", 2 << 20, 3 << 20,
		 (unsigned long)pa[0], (unsigned long)pa[1]);
	const char *r2 = strstr(out, second);
	ok(r1 && r2 && r1 < r2, "records largest in use first, return addresses as given");
	char frame[128];
	snprintf(frame, sizeof frame, "#\t0x%lx\tcaller+0x0\t", (unsigned long)(uintptr_t)caller);
	const char *fr = strstr(out, frame);
	ok(fr && strstr(fr, "test_pprof_text.c:") && strchr(fr, '\n') > strstr(fr, ".c:"),
	   "frames: #<tab>address<tab>function+offset<tab>file:line");
	ok(strstr(out, "\n--- Memory map: ---\n") != NULL, "ends with the memory map for pprof");
	if (!r1 || !r2 || !fr)
		diag("%s", out);
	free(out);
}

static char *render_threads(const rt_thread_capture_t *c, int dump)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int rc = dump ? rt_pprof_text_thread_dump(f, c, 0) : rt_pprof_text_threads(f, c, "threads");
	fclose(f);
	return rc == 0 ? buf : (free(buf), NULL);
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

static void test_count_profile(void)
{
	rt_thread_stack_t t[5];
	memset(t, 0, sizeof t);
	for (int i = 0; i < 5; i++) {
		t[i].tid = 1000 + i;
		snprintf(t[i].name, sizeof t[i].name, "w%d", i);
		t[i].answered = 1;
	}
	for (int i = 0; i < 3; i++) { /* three alike, leaf exact */
		t[i].npcs = 2;
		t[i].pcs[0] = (uintptr_t)leaf_a;
		t[i].pcs[1] = (uintptr_t)caller + 1;
	}
	t[3].npcs = 1;
	t[3].pcs[0] = (uintptr_t)leaf_b;
	t[4].internal = 1; /* ours: no stack */
	t[4].answered = 0;
	rt_thread_capture_t c = { .threads = t, .n = 5 };
	char *out = render_threads(&c, 0);
	ok(out != NULL, "count profile written");
	if (!out)
		return;
	char group[128];
	/* pprof takes one off every address: the exact leaf goes out one past itself. */
	snprintf(group, sizeof group, "threads profile: total 5\n3 @ 0x%lx 0x%lx\n#\t0x%lx\tleaf_a+0x0\t",
		 (unsigned long)(uintptr_t)leaf_a + 1, (unsigned long)(uintptr_t)caller + 1,
		 (unsigned long)(uintptr_t)leaf_a);
	ok(strncmp(out, group, strlen(group)) == 0, "equal stacks grouped, most common first");
	ok(count(out, "\n1 @ ") == 1, "the other stack on its own");
	ok(strstr(out, "\n# 1 without a stack: [otshim thread: not signalled]\n") != NULL,
	   "a stackless thread is counted in a comment");
	if (strncmp(out, group, strlen(group)) != 0)
		diag("%s", out);
	free(out);

	out = render_threads(&c, 1);
	ok(out && count(out, "thread 100") == 5 && strstr(out, "thread 1003 \"w3\" [gone]:\nleaf_b(...)\n\t"),
	   "dump: every thread with its tid, name and state, then its frames");
	ok(out && strstr(out, "thread 1004 \"w4\" [gone]:\n[otshim thread: not signalled]\n"),
	   "dump: a stackless thread says why");
	if (out)
		diag("%.*s", (int)(strchr(out, '\n') - out), out);
	free(out);
}

int main(void)
{
	test_one_size();
	test_mixed_sizes();
	test_edges();
	test_heap_profile();
	test_count_profile();
	return done_testing();
}
