/* pprof_text.c: Go's ?debug=N text profiles (see profile/pprof_text.h). Frames are
 * named by rt_symbols_lookup, as rt_profile names them for the protobuf; this file
 * owns only the layout, the grouping of equal stacks, and the heap profile's counts
 * as pprof's legacy parser wants them. */
#include "profile/pprof_text.h"

#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/libc.h"
#include "base/owned_fds.h"
#include "profile/symbols.h"
#include "sample/thread_registry.h"

static const char no_stack_ours[] = "[otshim thread: not signalled]";
static const char no_stack_silent[] = "[no stack: signal blocked, or no answer in time]";

/* A stack as the writers see it. pcs[0] is the leaf: the interrupted instruction when
 * exact, else (like every pcs[i > 0]) a return address. */
typedef struct group {
	const uintptr_t *pcs;
	uint32_t npcs;
	int exact;
	size_t count; /* threads with this stack */
} group_t;

static int finish(FILE *f)
{
	return fflush(f) == 0 && !ferror(f) ? 0 : -1;
}

/* ---- frames ---- */

/* The address to name: a return address is just past its call, so pc-1 is on the
 * call's line (rt_profile does the same, and pprof's legacy parser assumes it). */
static uintptr_t call_addr(const group_t *g, size_t i)
{
	return (i == 0 && g->exact) ? g->pcs[0] : g->pcs[i] - 1;
}

/* Go's "@ 0x.. 0x..": return addresses, which pprof moves back by one before naming
 * them, so an exact leaf goes out one past itself. */
static void put_at(FILE *f, const group_t *g)
{
	fputc('@', f);
	for (size_t i = 0; i < g->npcs; i++)
		fprintf(f, " 0x%" PRIxPTR, call_addr(g, i) + 1);
	fputc('\n', f);
}

/* Go's printStackRecord: "#\t0x<addr>\t<function>+0x<off>\t<file>:<line>" a frame,
 * addr being the address named; only the address when nothing names it, the module
 * when there is no line information. Then the blank line that ends a record. */
static void put_frames(FILE *f, rt_symbols_t *sym, const group_t *g)
{
	for (size_t i = 0; i < g->npcs; i++) {
		uintptr_t a = call_addr(g, i);
		rt_symbol_t s = { 0 };
		if (sym)
			rt_symbols_lookup(sym, a, &s);
		if (!s.function) {
			fprintf(f, "#\t0x%" PRIxPTR "\n", a);
			continue;
		}
		fprintf(f, "#\t0x%" PRIxPTR "\t%s", a, s.function);
		if (s.start)
			fprintf(f, "+0x%" PRIxPTR, a - s.start);
		if (s.file)
			fprintf(f, "\t%s:%d\n", s.file, s.line);
		else
			fprintf(f, "\t%s\n", s.module ? s.module : "?");
	}
	fputc('\n', f);
}

/* Go's debug=1 output has no mappings (pprof is given the one Go binary); a native
 * process has many, and pprof's legacy parser reads them from this section, as it
 * does gperftools'. With them, `go tool pprof` names a saved file's frames itself. */
static void put_memory_map(FILE *f)
{
	char line[4096 + 128];
	FILE *m = rt_owned_fd_fopen("/proc/self/maps");
	fputs("--- Memory map: ---\n", f);
	if (!m)
		return;
	while (rt_owned_fd_fgets(line, sizeof line, m)) {
		/* "start-end perms offset dev inode path": executable files only. */
		const char *perms = strchr(line, ' ');
		if (perms && perms[3] == 'x' && strchr(line, '/'))
			fputs(line, f);
	}
	rt_owned_fd_fclose(m);
}

/* ---- count profiles ---- */

static int cmp_stack(const group_t *x, const group_t *y)
{
	if (x->npcs != y->npcs)
		return x->npcs < y->npcs ? -1 : 1;
	for (uint32_t i = 0; i < x->npcs; i++)
		if (x->pcs[i] != y->pcs[i])
			return x->pcs[i] < y->pcs[i] ? -1 : 1;
	return 0;
}

static int by_stack(const void *a, const void *b)
{
	return cmp_stack(a, b);
}

/* Most common first, as Go sorts; equal counts in stack order, so output is stable. */
static int by_count(const void *a, const void *b)
{
	const group_t *x = a, *y = b;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return cmp_stack(x, y);
}

/* Merges equal stacks, adding their counts, most common first. Returns how many. */
static size_t group_stacks(group_t *g, size_t n)
{
	size_t k = 0;
	if (n == 0)
		return 0;
	qsort(g, n, sizeof *g, by_stack);
	for (size_t i = 1; i < n; i++) {
		if (cmp_stack(&g[k], &g[i]) == 0)
			g[k].count += g[i].count;
		else
			g[++k] = g[i];
	}
	qsort(g, k + 1, sizeof *g, by_count);
	return k + 1;
}

/* Go's printCountProfile at debug=1: the header, then each group and its frames. */
static void put_count_profile(FILE *f, const char *name, size_t total, group_t *g, size_t n)
{
	n = group_stacks(g, n);
	rt_symbols_t *sym = rt_symbols_acquire();
	fprintf(f, "%s profile: total %zu\n", name, total);
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "%zu ", g[i].count);
		put_at(f, &g[i]);
		put_frames(f, sym, &g[i]);
	}
	rt_symbols_release();
}

int rt_pprof_text_threads(FILE *f, const rt_thread_capture_t *c, const char *name)
{
	group_t *g = calloc(c->n ? c->n : 1, sizeof *g);
	size_t n = 0, ours = 0, silent = 0, asleep = 0;
	if (!g)
		return -1;
	for (size_t i = 0; i < c->n; i++) {
		const rt_thread_stack_t *t = &c->threads[i];
		asleep += t->held_back == RT_THREAD_CAPTURE_ASLEEP;
		if (t->npcs)
			g[n++] = (group_t){ t->pcs, t->npcs, 1, 1 };
		else if (t->internal)
			ours++;
		else
			silent++;
	}
	put_count_profile(f, name, c->n, g, n);
	/* pprof's parser wants an address in every record: what has no stack is said in
	 * comments, which it skips, and still counts in the total. */
	if (ours)
		fprintf(f, "# %zu without a stack: %s\n", ours, no_stack_ours);
	if (silent)
		fprintf(f, "# %zu without a stack: %s\n", silent, no_stack_silent);
	if (asleep)
		fprintf(f, "# %zu with their stack's %s\n", asleep,
			rt_thread_capture_held_back_why(RT_THREAD_CAPTURE_ASLEEP));
	if (ours || silent || asleep)
		fputc('\n', f);
	put_memory_map(f);
	free(g);
	return finish(f);
}

int rt_pprof_text_threadcreate(FILE *f)
{
	rt_thread_info_t *a;
	size_t n, k = 0;
	if (rt_thread_registry_snapshot(&a, &n) != 0)
		return -1;
	group_t *g = calloc(n ? n : 1, sizeof *g);
	if (!g) {
		rt_alloc.free(a);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (a[i].npcs)
			g[k++] = (group_t){ a[i].pcs, a[i].npcs, 0, 1 };
	put_count_profile(f, "threadcreate", n, g, k);
	put_memory_map(f);
	free(g);
	rt_alloc.free(a);
	return finish(f);
}

/* ---- the goroutine?debug=2 dump ---- */

/* The kernel's word for the thread's state now ("sleeping", "running", ...), from
 * the "State:\tS (sleeping)" line of its status file. */
static void read_state(pid_t tid, char *buf, size_t len)
{
	char path[64], st[1024];
	snprintf(buf, len, "gone");
	snprintf(path, sizeof path, "/proc/self/task/%d/status", (int)tid);
	int fd = RT_OWNED_FD_OPEN(open(path, O_RDONLY | O_CLOEXEC));
	if (fd < 0)
		return;
	ssize_t k = REAL(read)(fd, st, sizeof st - 1);
	rt_owned_fd_close(fd);
	st[k > 0 ? k : 0] = 0;
	const char *p = strstr(st, "\nState:");
	const char *open_paren = p ? strchr(p, '(') : NULL;
	const char *close_paren = open_paren ? strchr(open_paren, ')') : NULL;
	if (close_paren)
		snprintf(buf, len, "%.*s", (int)(close_paren - open_paren - 1), open_paren + 1);
}

static void put_quoted(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

/* A frame as a Go traceback shows it: "<before><function><after>", then
 * "\t<file>:<line> +0x<off>", off being pc's offset in the function (pc is the return
 * address, as Go prints it, unless exact). */
static void put_call(FILE *f, rt_symbols_t *sym, uintptr_t pc, int exact, const char *before,
		     const char *after)
{
	uintptr_t a = exact ? pc : pc - 1;
	rt_symbol_t s = { 0 };
	if (sym)
		rt_symbols_lookup(sym, a, &s);
	if (s.function)
		fprintf(f, "%s%s%s\n", before, s.function, after);
	else
		fprintf(f, "%s0x%" PRIxPTR "%s\n", before, a, after);
	if (s.file)
		fprintf(f, "\t%s:%d", s.file, s.line);
	else
		fprintf(f, "\t%s", s.module ? s.module : "?");
	if (s.start)
		fprintf(f, " +0x%" PRIxPTR, pc - s.start);
	fputc('\n', f);
}

static const rt_thread_info_t *creator_of(const rt_thread_info_t *a, size_t n, pid_t tid)
{
	for (size_t i = 0; i < n; i++)
		if (a[i].tid == tid)
			return &a[i];
	return NULL;
}

static void put_thread(FILE *f, rt_symbols_t *sym, const rt_thread_stack_t *t,
		       const rt_thread_info_t *creator, int go_words)
{
	char state[64];
	read_state(t->tid, state, sizeof state);
	if (go_words) {
		/* Go's tools parse "goroutine N [...]:" and Go itself puts more than the
		 * state in the brackets ("locked to thread"). */
		fprintf(f, "goroutine %d [%s, thread ", (int)t->tid, state);
		put_quoted(f, t->name);
		fputs("]:\n", f);
	} else {
		fprintf(f, "thread %d ", (int)t->tid);
		put_quoted(f, t->name);
		fprintf(f, " [%s]:\n", state);
	}
	if (!t->npcs)
		fprintf(f, "%s\n", t->internal ? no_stack_ours : no_stack_silent);
	for (uint32_t i = 0; i < t->npcs; i++)
		put_call(f, sym, t->pcs[i], i == 0, "", "(...)");
	if (t->held_back)
		fprintf(f, "[stack: %s]\n", rt_thread_capture_held_back_why(t->held_back));
	if (creator && creator->npcs)
		put_call(f, sym, creator->pcs[0], 0, "created by ", "");
	fputc('\n', f);
}

int rt_pprof_text_thread_dump(FILE *f, const rt_thread_capture_t *c, int go_words)
{
	rt_thread_info_t *a = NULL;
	size_t n = 0;
	if (rt_thread_registry_snapshot(&a, &n) != 0)
		n = 0; /* no "created by" lines, the stacks all the same */
	rt_symbols_t *sym = rt_symbols_acquire();
	for (size_t i = 0; i < c->n; i++)
		put_thread(f, sym, &c->threads[i], creator_of(a, n, c->threads[i].tid), go_words);
	rt_symbols_release();
	if (a)
		rt_alloc.free(a);
	return finish(f);
}

/* ---- the heap profile ---- */

/* How far from the estimates pprof reads n samples of size bytes in all: the squared
 * log errors of objects and bytes, summed. */
static double misfit(double n, double size, double rate, double objects, double bytes)
{
	double scale = 1 / -expm1(-(size / n) / rate);
	double eo = log(n * scale / objects), eb = log(size * scale / bytes);
	return eo * eo + eb * eb;
}

/* The size in all of n samples that fits best: a golden-section search over the log of
 * the average block, around the estimates' own average (the misfit has one minimum). */
static double fit_size(double n, double rate, double objects, double bytes)
{
	const double phi = 0.6180339887498949;
	double lo = log(bytes / objects) - 20, hi = lo + 40;
	double x1 = hi - phi * (hi - lo), x2 = lo + phi * (hi - lo);
	double f1 = misfit(n, n * exp(x1), rate, objects, bytes);
	double f2 = misfit(n, n * exp(x2), rate, objects, bytes);
	for (int i = 0; i < 60; i++) {
		if (f1 < f2) {
			hi = x2, x2 = x1, f2 = f1;
			x1 = hi - phi * (hi - lo);
			f1 = misfit(n, n * exp(x1), rate, objects, bytes);
		} else {
			lo = x1, x1 = x2, f1 = f2;
			x2 = lo + phi * (hi - lo);
			f2 = misfit(n, n * exp(x2), rate, objects, bytes);
		}
	}
	return n * exp((lo + hi) / 2);
}

void rt_pprof_text_sampled(double objects, double bytes, uint64_t rate, int64_t *count,
			   int64_t *size)
{
	*count = *size = 0;
	if (objects < 0.5 || bytes < 0.5)
		return;
	if (rate <= 1) { /* pprof does not scale these */
		*count = llround(objects);
		*size = llround(bytes);
		return;
	}
	/* pprof multiplies count and size by one factor that depends on their ratio, the
	 * average block. Keeping our average and undoing the factor gives a count of
	 * samples that is whole when the blocks were of one size: then it and the bytes
	 * are what was sampled, and pprof reads our estimates back exactly. With mixed
	 * sizes it is not whole; of the two counts around it, and for each the average
	 * as is or the one that fits best, the pair that pprof reads back closest wins
	 * (with big blocks that fits the bytes, with small ones the objects). */
	double r = (double)rate, sampled = objects * -expm1(-(bytes / objects) / r);
	double best = INFINITY;
	for (int up = 0; up < 2; up++) {
		double n = fmax(1, up ? ceil(sampled) : floor(sampled));
		for (int fit = 0; fit < 2; fit++) {
			double b = fmax(1, round(fit ? fit_size(n, r, objects, bytes)
						 : n * (bytes / objects)));
			double m = misfit(n, b, r, objects, bytes);
			if (m < best) {
				best = m;
				*count = (int64_t)n;
				*size = (int64_t)b;
			}
			if (m < 1e-14) /* whole already (one size): nothing to fit */
				return;
		}
	}
}

typedef struct heap_rec {
	uint32_t stack;
	double inuse_objects, inuse_bytes, alloc_objects, alloc_bytes; /* unbiased */
	int64_t v[4]; /* as printed: inuse count, size; alloc count, size */
} heap_rec_t;

/* Largest in use first, as Go sorts. */
static int by_inuse(const void *a, const void *b)
{
	const heap_rec_t *x = a, *y = b;
	if (x->inuse_bytes != y->inuse_bytes)
		return x->inuse_bytes > y->inuse_bytes ? -1 : 1;
	if (x->alloc_bytes != y->alloc_bytes)
		return x->alloc_bytes > y->alloc_bytes ? -1 : 1;
	return x->stack < y->stack ? -1 : x->stack > y->stack;
}

/* One record per stack, its estimates summed block by block as rt_heap_profile sums
 * them, so both forms tell the same story. NULL when out of memory. */
static heap_rec_t *heap_records(const rt_heap_snapshot_t *s)
{
	heap_rec_t *r = calloc(s->nstacks ? s->nstacks : 1, sizeof *r);
	if (!r)
		return NULL;
	for (size_t i = 0; i < s->nstacks; i++) {
		r[i].stack = (uint32_t)i;
		r[i].alloc_objects = s->stacks[i].freed_objects;
		r[i].alloc_bytes = s->stacks[i].freed_bytes;
	}
	/* The legacy text has no labels: what requests freed joins its stack's record. */
	for (size_t i = 0; i < s->nfreed; i++) {
		r[s->freed[i].stack].alloc_objects += s->freed[i].objects;
		r[s->freed[i].stack].alloc_bytes += s->freed[i].bytes;
	}
	for (size_t i = 0; i < s->nblocks; i++) {
		const rt_heap_block_t *b = &s->blocks[i];
		double sc = rt_heap_scale(b->size, s->rate);
		heap_rec_t *x = &r[b->stack];
		x->inuse_objects += sc;
		x->inuse_bytes += sc * (double)b->size;
		x->alloc_objects += sc;
		x->alloc_bytes += sc * (double)b->size;
	}
	for (size_t i = 0; i < s->nstacks; i++) {
		rt_pprof_text_sampled(r[i].inuse_objects, r[i].inuse_bytes, s->rate, &r[i].v[0],
				      &r[i].v[1]);
		rt_pprof_text_sampled(r[i].alloc_objects, r[i].alloc_bytes, s->rate, &r[i].v[2],
				      &r[i].v[3]);
	}
	return r;
}

int rt_pprof_text_heap(FILE *f, const rt_heap_snapshot_t *s)
{
	heap_rec_t *r = heap_records(s);
	int64_t tot[4] = { 0 };
	if (!r)
		return -1;
	qsort(r, s->nstacks, sizeof *r, by_inuse);
	for (size_t i = 0; i < s->nstacks; i++)
		for (int k = 0; k < 4; k++)
			tot[k] += r[i].v[k];
	/* 2 * rate: "early versions of the C++ heap profiler reported 2*MemProfileRate, so
	 * that's what pprof has come to expect" (Go's runtime/pprof). */
	fprintf(f, "heap profile: %" PRId64 ": %" PRId64 " [%" PRId64 ": %" PRId64 "] @ heap/%" PRIu64
		"\n", tot[0], tot[1], tot[2], tot[3], 2 * s->rate);
	rt_symbols_t *sym = rt_symbols_acquire();
	for (size_t i = 0; i < s->nstacks; i++) {
		const int64_t *v = r[i].v;
		if (!v[0] && !v[2])
			continue;
		const rt_heap_stack_t *st = &s->stacks[r[i].stack];
		group_t g = { st->pcs, st->npcs, 0, 1 };
		fprintf(f, "%" PRId64 ": %" PRId64 " [%" PRId64 ": %" PRId64 "] ", v[0], v[1], v[2],
			v[3]);
		put_at(f, &g);
		put_frames(f, sym, &g);
	}
	rt_symbols_release();
	put_memory_map(f);
	free(r);
	return finish(f);
}
