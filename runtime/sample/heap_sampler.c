/* heap_sampler.c: the allocation sampler's cold paths and tables (see sample/heap_sampler.h).
 *
 * The tables live in memory from rt_alloc (never sampled):
 * - stacks: every distinct allocation stack ever sampled, interned and never freed
 *   (bounded by the code paths that allocate), each with the estimated blocks and
 *   bytes allocated there outside any request and since freed (updated lock-free at
 *   retirement);
 * - blocks: the live sampled blocks by address, each naming its stack, its size and
 *   the label of the request its thread was serving, split into shards by address so
 *   that threads sampling and freeing at once rarely meet on a lock;
 * - labels, and what was allocated under each and since freed per stack
 *   (sample/heap_labels.c), under labels_mu.
 * Lock order: stacks_mu, a shard's lock, labels_mu. Only fork takes all three; the
 * snapshot nests a shard's lock and labels_mu, and nothing else nests any.
 * Recorded blocks are served from the sampled range (base/alloc_sampled.c), so only
 * the free of a recorded block comes here: an unsampled free never takes a lock. */
#include "sample/heap_sampler.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/stats.h"
#include "sample/ring.h"
#include "sample/thread.h"
#include "sample/unwind.h"

__thread rt_heap_tls_t rt_heap_tls __attribute__((tls_model("initial-exec")));

#define PRE_INIT_INTERVAL (64 << 10)  /* before configuration: look again soon */
#define OFF_INTERVAL (1ll << 40)      /* sampling off: the slow path only keeps counting */
#define MAX_LIVE_BLOCKS (1u << 22)
/* 65,536 labels, of which freed entries can name at most half: 32,768 requests with
 * live sampled blocks always get one. About 4 MB of address space, touched as used. */
#define MAX_LABELS (1u << 16)
#define MAX_FREED (1u << 15)

typedef struct stack {
	struct stack *next;
	uint64_t hash;
	uint32_t id, npcs;
	_Atomic uint64_t freed_objects, freed_bytes; /* doubles, by their bits */
	uintptr_t pcs[];
} stack_t_;

typedef struct block {
	struct block *next;
	uintptr_t ptr;
	size_t size;
	double scale;      /* rt_heap_scale(size, rate), computed outside the lock */
	stack_t_ *stack;
	uint32_t label;    /* holds a reference on it; 0 none */
} block_t;

#define NSHARDS 16
typedef struct shard {
	pthread_mutex_t mu;
	block_t **buckets, *pool;
	size_t nbuckets, nblocks;
} __attribute__((aligned(64))) shard_t;

/* Adaptive mutexes: critical sections are short, and sleeping in the kernel on every
 * collision cost about 1 us per sample with two threads sampling (measured). */
#define ADAPTIVE PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP
static shard_t shards[NSHARDS] = {
	{ .mu = ADAPTIVE }, { .mu = ADAPTIVE }, { .mu = ADAPTIVE }, { .mu = ADAPTIVE },
	{ .mu = ADAPTIVE }, { .mu = ADAPTIVE }, { .mu = ADAPTIVE }, { .mu = ADAPTIVE },
	{ .mu = ADAPTIVE }, { .mu = ADAPTIVE }, { .mu = ADAPTIVE }, { .mu = ADAPTIVE },
	{ .mu = ADAPTIVE }, { .mu = ADAPTIVE }, { .mu = ADAPTIVE }, { .mu = ADAPTIVE },
};
static pthread_mutex_t stacks_mu = ADAPTIVE;
static _Atomic uint64_t rate;
static _Atomic int ready;

static stack_t_ **stack_buckets, **stack_by_id; /* under stacks_mu */
static size_t stack_nbuckets, nstacks, stack_id_cap, stack_pcs_total;

static pthread_mutex_t labels_mu = ADAPTIVE;
static rt_heap_labels_t *labels;                  /* under labels_mu; made at first use */
static uint32_t max_labels = MAX_LABELS, max_freed = MAX_FREED;

static shard_t *shard_of(uintptr_t p)
{
	return &shards[((p >> 4) * 0x9E3779B97F4A7C15ull) >> (64 - 4)];
}

/* ---- randomness ---- */

static uint64_t next_random(rt_heap_tls_t *t)
{
	uint64_t x = t->rng;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return t->rng = x;
}

static void seed(rt_heap_tls_t *t)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t s = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ull ^ (uint64_t)(uintptr_t)t ^
		     ((uint64_t)ts.tv_sec << 32);
	t->rng = s ? s : 0x2545F4914F6CDD1Dull;
}

/* An exponentially distributed gap with the given mean, at least 1. */
static int64_t draw_gap(rt_heap_tls_t *t, uint64_t mean)
{
	double u = (double)((next_random(t) >> 11) + 1) / 9007199254740993.0; /* (0, 1] */
	double g = -log(u) * (double)mean;
	if (g < 1)
		return 1;
	if (g > (double)(1ll << 50))
		return 1ll << 50;
	return (int64_t)g;
}

double rt_heap_scale(size_t size, uint64_t mean)
{
	if (mean <= 1)
		return 1.0;
	double p = 1.0 - exp(-(double)size / (double)mean);
	return p > 0 ? 1.0 / p : 1.0;
}

/* ---- tables (under stacks_mu, or the lock of the shard concerned) ---- */

static uint64_t hash_pcs(const uintptr_t *pcs, size_t n)
{
	uint64_t h = 1469598103934665603ull ^ n;
	for (size_t i = 0; i < n; i++)
		h = (h ^ pcs[i]) * 1099511628211ull;
	return h ^ (h >> 29);
}

static size_t ptr_bucket(uintptr_t p, size_t nbuckets)
{
	return (size_t)(((p >> 4) * 0x9E3779B97F4A7C15ull) >> 20) & (nbuckets - 1);
}

/* Doubles a chained table of n buckets when it holds more than 2n entries. */
static void **grow_buckets(void **old, size_t *nbuckets, size_t count, size_t (*bucket_of)(void *, size_t))
{
	if (old && count <= 2 * *nbuckets)
		return old;
	size_t n = old ? *nbuckets * 2 : 4096;
	void **nb = rt_alloc.calloc(n, sizeof *nb);
	if (!nb)
		return old;
	for (size_t i = 0; old && i < *nbuckets; i++) {
		void *e = old[i];
		while (e) {
			void *next = *(void **)e; /* both entry types start with their link */
			size_t b = bucket_of(e, n);
			*(void **)e = nb[b];
			nb[b] = e;
			e = next;
		}
	}
	rt_alloc.free(old);
	*nbuckets = n;
	return nb;
}

static size_t stack_bucket_of(void *e, size_t n) { return ((stack_t_ *)e)->hash & (n - 1); }
static size_t block_bucket_of(void *e, size_t n) { return ptr_bucket(((block_t *)e)->ptr, n); }

static stack_t_ *intern_stack(const uintptr_t *pcs, uint32_t n)
{
	uint64_t h = hash_pcs(pcs, n);
	stack_buckets = (stack_t_ **)grow_buckets((void **)stack_buckets, &stack_nbuckets, nstacks,
						  stack_bucket_of);
	if (!stack_buckets)
		return NULL;
	stack_t_ **head = &stack_buckets[h & (stack_nbuckets - 1)];
	for (stack_t_ *s = *head; s; s = s->next)
		if (s->hash == h && s->npcs == n && memcmp(s->pcs, pcs, n * sizeof *pcs) == 0)
			return s;
	if (nstacks == stack_id_cap) {
		size_t cap = stack_id_cap ? stack_id_cap * 2 : 1024;
		stack_t_ **ids = rt_alloc.realloc(stack_by_id, cap * sizeof *ids);
		if (!ids)
			return NULL;
		stack_by_id = ids;
		stack_id_cap = cap;
	}
	stack_t_ *s = rt_alloc.malloc(sizeof *s + n * sizeof *pcs);
	if (!s)
		return NULL;
	memset(s, 0, sizeof *s);
	s->hash = h;
	s->npcs = n;
	s->id = (uint32_t)nstacks;
	memcpy(s->pcs, pcs, n * sizeof *pcs);
	s->next = *head;
	*head = s;
	stack_by_id[nstacks++] = s;
	stack_pcs_total += n;
	return s;
}

/* Adds v to a double kept as its bits in an atomic word. */
static void add_double(_Atomic uint64_t *w, double v)
{
	uint64_t old = atomic_load_explicit(w, memory_order_relaxed), nw;
	do {
		double d;
		memcpy(&d, &old, sizeof d);
		d += v;
		memcpy(&nw, &d, sizeof nw);
	} while (!atomic_compare_exchange_weak_explicit(w, &old, nw, memory_order_relaxed,
							memory_order_relaxed));
}

static double load_double(_Atomic uint64_t *w)
{
	uint64_t bits = atomic_load_explicit(w, memory_order_relaxed);
	double d;
	memcpy(&d, &bits, sizeof d);
	return d;
}

static block_t *block_get(shard_t *sh)
{
	if (!sh->pool) {
		enum { CHUNK = 256 };
		block_t *c = rt_alloc.malloc(CHUNK * sizeof *c);
		if (!c)
			return NULL;
		for (size_t i = 0; i < CHUNK; i++) {
			c[i].next = sh->pool;
			sh->pool = &c[i];
		}
	}
	block_t *b = sh->pool;
	sh->pool = b->next;
	return b;
}

/* ---- labels (labels_mu) ---- */

void rt_heap_set_label_limits(uint32_t nlabels, uint32_t nfreed)
{
	pthread_mutex_lock(&labels_mu);
	if (!labels) {
		max_labels = nlabels;
		max_freed = nfreed;
	}
	pthread_mutex_unlock(&labels_mu);
}

/* The label of the request the calling thread is working on, with a reference taken;
 * 0 when it works on none, or when the label cannot be had (counted). */
static uint32_t current_label(void)
{
	static int table_failed;
	rt_thread_t *self = rt_thread_peek();
	rt_heap_ids_t ids;
	if (!self || !atomic_load_explicit(&self->cur_serial, memory_order_relaxed))
		return 0;
	/* Ids are made when first needed (track/request.c): a request's first sample asks. */
	if (!rt_thread_get_ids(self, ids.trace_id, ids.span_id) &&
	    !(rt_thread_make_ids(self) && rt_thread_get_ids(self, ids.trace_id, ids.span_id))) {
		rt_stat_add(RT_STAT_HEAP_UNLABELLED, 1);
		return 0;
	}
	pthread_mutex_lock(&labels_mu);
	if (!labels && !table_failed) {
		labels = rt_heap_labels_new(max_labels, max_freed);
		table_failed = !labels;
	}
	uint32_t label = labels ? rt_heap_label_acquire(labels, &ids) : 0;
	pthread_mutex_unlock(&labels_mu);
	if (!label)
		rt_stat_add(RT_STAT_HEAP_UNLABELLED, 1);
	return label;
}

static void label_drop(uint32_t label)
{
	if (!label)
		return;
	pthread_mutex_lock(&labels_mu);
	rt_heap_label_release(labels, label);
	pthread_mutex_unlock(&labels_mu);
}

/* A retired block's estimate joins what its stack allocated and freed: under its
 * label when it has one (the block's reference passes to the freed entry), else, or
 * when the entry it displaced lost its label, in the stack's unlabelled totals. */
static void count_freed(stack_t_ *st, uint32_t label, double objects, double bytes)
{
	if (label) {
		rt_heap_labels_freed_t ev;
		pthread_mutex_lock(&labels_mu);
		int evicted = rt_heap_freed_add(labels, st, label, objects, bytes, &ev);
		pthread_mutex_unlock(&labels_mu);
		if (!evicted)
			return;
		rt_stat_add(RT_STAT_HEAP_FREED_UNLABELLED, 1);
		st = ev.stack;
		objects = ev.objects;
		bytes = ev.bytes;
	}
	add_double(&st->freed_objects, objects);
	add_double(&st->freed_bytes, bytes);
}

/* ---- slow paths ---- */

static stack_t_ *stack_of(rt_heap_tls_t *t, const uintptr_t *pcs, uint32_t n_pcs)
{
	/* Stacks are immutable once interned: the thread's last one is compared without
	 * the lock, and a hot allocation site never takes it. */
	stack_t_ *last = t->last_stack;
	if (last && last->npcs == n_pcs && memcmp(last->pcs, pcs, n_pcs * sizeof *pcs) == 0)
		return last;
	pthread_mutex_lock(&stacks_mu);
	stack_t_ *s = intern_stack(pcs, n_pcs);
	pthread_mutex_unlock(&stacks_mu);
	if (s)
		t->last_stack = s;
	return s;
}

static void record(rt_heap_tls_t *t, void *p, size_t n)
{
	uintptr_t pcs[RT_STACK_MAX];
	t->busy = 1;
	size_t np = rt_unwind_here(pcs, RT_STACK_MAX, 0);
	size_t k = rt_unwind_own_prefix(pcs, np);
	uint32_t label = current_label();
	double scale = rt_heap_scale(n, atomic_load_explicit(&rate, memory_order_relaxed));
	stack_t_ *s = NULL;
	shard_t *sh = shard_of((uintptr_t)p);
	/* Read without the lock (written atomically under it): a bound, not a count. */
	if (__atomic_load_n(&sh->nblocks, __ATOMIC_RELAXED) < MAX_LIVE_BLOCKS / NSHARDS)
		s = stack_of(t, pcs + k, (uint32_t)(np - k));
	block_t stale = { 0 };
	pthread_mutex_lock(&sh->mu);
	block_t *b = s ? block_get(sh) : NULL;
	sh->buckets = (block_t **)grow_buckets((void **)sh->buckets, &sh->nbuckets, sh->nblocks,
					       block_bucket_of);
	if (!b || !sh->buckets) {
		if (b) {
			b->next = sh->pool;
			sh->pool = b;
		}
		rt_stat_add(RT_STAT_HEAP_DROPPED, 1);
	} else {
		/* A record for this address can only be stale (the block was freed by a
		 * path we do not see): it goes, counted as freed, rather than linger. */
		for (block_t **pp = &sh->buckets[ptr_bucket((uintptr_t)p, sh->nbuckets)]; *pp;
		     pp = &(*pp)->next)
			if ((*pp)->ptr == (uintptr_t)p) {
				block_t *old = *pp;
				*pp = old->next;
				stale = *old;
				__atomic_fetch_sub(&sh->nblocks, 1, __ATOMIC_RELAXED);
				old->next = sh->pool;
				sh->pool = old;
				break;
			}
		b->ptr = (uintptr_t)p;
		b->size = n;
		b->label = label;
		b->scale = scale;
		b->stack = s;
		block_t **head = &sh->buckets[ptr_bucket(b->ptr, sh->nbuckets)];
		b->next = *head;
		*head = b;
		__atomic_fetch_add(&sh->nblocks, 1, __ATOMIC_RELAXED);
		label = 0; /* the block holds the reference now */
	}
	pthread_mutex_unlock(&sh->mu);
	label_drop(label);
	if (stale.stack)
		count_freed(stale.stack, stale.label, stale.scale, stale.scale * (double)stale.size);
	t->busy = 0;
}

int rt_heap_cross(void)
{
	rt_heap_tls_t *t = &rt_heap_tls;
	int saved = errno;
	t->counted += (uint64_t)(t->interval - t->countdown);
	if (t->rng == 0)
		seed(t);
	uint64_t mean = atomic_load_explicit(&rate, memory_order_relaxed);
	int on = atomic_load_explicit(&ready, memory_order_acquire);
	int sampling = on && mean;
	int64_t gap = !on ? PRE_INIT_INTERVAL : mean ? draw_gap(t, mean) : OFF_INTERVAL;
	int take = sampling;
	if (sampling && !t->drawn) {
		/* The countdown just crossed was no draw: a thread's starts at 0, so its first
		 * request always crosses it (as does the first after sampling was configured).
		 * Where the first sample falls is drawn now, from that request's first byte:
		 * the request is recorded only when it falls inside it (a block of the mean's
		 * size 63 % of the time, as any other), else the countdown goes on from its
		 * end. Recording every such request, or none, would bias the estimate by a
		 * thread's whole first block (a thread per connection allocating megabytes). */
		int64_t n = -t->countdown; /* the request's bytes (past the old countdown) */
		take = gap <= n;
		gap = take ? draw_gap(t, mean) : gap - n;
	}
	t->drawn = sampling;
	t->interval = t->countdown = gap;
	errno = saved;
	return take && !t->busy && !rt_tls_depth;
}

void *rt_heap_take(size_t align, size_t n, int zero)
{
	rt_heap_tls_t *t = &rt_heap_tls;
	int saved = errno;
	t->busy = 1; /* jemalloc may allocate for the arena it makes the first time */
	void *p = rt_alloc_sampled(align, n, zero);
	t->busy = 0;
	if (p)
		record(t, p, n);
	else
		rt_stat_add(RT_STAT_HEAP_DROPPED, 1);
	errno = saved;
	return p;
}

void rt_heap_crossed(void *p, size_t n)
{
	int saved = errno;
	if (rt_heap_cross() && p)
		record(&rt_heap_tls, p, n);
	errno = saved;
}

void rt_heap_retire(void *p)
{
	int saved = errno;
	uintptr_t a = (uintptr_t)p;
	if (!p)
		return;
	shard_t *sh = shard_of(a);
	block_t gone = { 0 };
	pthread_mutex_lock(&sh->mu);
	if (sh->buckets) {
		block_t **pp = &sh->buckets[ptr_bucket(a, sh->nbuckets)];
		for (; *pp; pp = &(*pp)->next) {
			if ((*pp)->ptr != a)
				continue;
			block_t *found = *pp;
			*pp = found->next;
			gone = *found;
			__atomic_fetch_sub(&sh->nblocks, 1, __ATOMIC_RELAXED);
			found->next = sh->pool;
			sh->pool = found;
			break;
		}
	}
	pthread_mutex_unlock(&sh->mu);
	if (gone.stack)
		count_freed(gone.stack, gone.label, gone.scale, gone.scale * (double)gone.size);
	errno = saved;
}

void rt_heap_free_sampled(void *p)
{
	rt_heap_retire(p);
	rt_alloc_sampled_free(p);
}

/* ---- set-up ---- */

void rt_heap_init(uint64_t mean_bytes)
{
	atomic_store(&rate, mean_bytes);
	atomic_store_explicit(&ready, 1, memory_order_release);
}

uint64_t rt_heap_rate(void) { return atomic_load(&rate); }

size_t rt_heap_live_count(void)
{
	size_t n = 0;
	for (size_t i = 0; i < NSHARDS; i++) {
		pthread_mutex_lock(&shards[i].mu);
		n += shards[i].nblocks;
		pthread_mutex_unlock(&shards[i].mu);
	}
	return n;
}

/* ---- snapshot ---- */

/* Which of the snapshot's labels each table slot was copied to, tagged with the slot's
 * generation: a slot released and reused between two shards' copies names another
 * request. Per slot: generation << 32 | 1 + index into s->labels; 0 not copied. */
typedef struct label_map {
	uint64_t *tag;
	size_t slots, cap;      /* tag's length; s->labels' capacity */
} label_map_t;

/* The snapshot's label for table label l, copied on first use; 0 (unlabelled) when out
 * of memory. labels_mu held. */
static uint32_t snap_label(rt_heap_snapshot_t *s, label_map_t *m, uint32_t l)
{
	size_t high = rt_heap_labels_high(labels);
	if (high > m->slots) {
		uint64_t *t = rt_alloc.realloc(m->tag, high * sizeof *t);
		if (!t)
			return 0;
		memset(t + m->slots, 0, (high - m->slots) * sizeof *t);
		m->tag = t;
		m->slots = high;
	}
	uint64_t gen = rt_heap_label_gen(labels, l), tag = m->tag[l - 1];
	if (tag && tag >> 32 == gen)
		return (uint32_t)tag;
	if (s->nlabels == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64;
		rt_heap_ids_t *nl = rt_alloc.realloc(s->labels, cap * sizeof *nl);
		if (!nl)
			return 0;
		s->labels = nl;
		m->cap = cap;
	}
	s->labels[s->nlabels++] = *rt_heap_label_ids(labels, l);
	m->tag[l - 1] = gen << 32 | s->nlabels;
	return (uint32_t)s->nlabels;
}

/* Copies one shard's blocks into s, growing s->blocks as needed. Under sh->mu; takes
 * labels_mu, so that each block's label is copied while the block still names it. */
static int snapshot_shard(rt_heap_snapshot_t *s, size_t *cap, label_map_t *m, const shard_t *sh)
{
	if (s->nblocks + sh->nblocks > *cap) {
		size_t ncap = (s->nblocks + sh->nblocks) * 2;
		rt_heap_block_t *nb = rt_alloc.realloc(s->blocks, ncap * sizeof *nb);
		if (!nb)
			return -1;
		s->blocks = nb;
		*cap = ncap;
	}
	pthread_mutex_lock(&labels_mu);
	for (size_t i = 0; sh->buckets && i < sh->nbuckets; i++)
		for (const block_t *b = sh->buckets[i]; b; b = b->next) {
			rt_heap_block_t *o = &s->blocks[s->nblocks++];
			o->size = b->size;
			o->stack = b->stack->id;
			o->label = b->label ? snap_label(s, m, b->label) : 0;
		}
	pthread_mutex_unlock(&labels_mu);
	return 0;
}

/* Copies the freed totals kept per (stack, label). An entry of a stack interned after
 * the stacks were copied is left out; one whose label could not be copied counts
 * unlabelled. */
static int snapshot_freed(rt_heap_snapshot_t *s, label_map_t *m)
{
	pthread_mutex_lock(&labels_mu);
	uint32_t n = labels ? rt_heap_freed_count(labels) : 0;
	s->freed = rt_alloc.malloc((n ? n : 1) * sizeof *s->freed);
	for (uint32_t i = 0; s->freed && i < n; i++) {
		const rt_heap_labels_freed_t *e = rt_heap_freed_at(labels, i);
		uint32_t stack = ((const stack_t_ *)e->stack)->id;
		if (stack >= s->nstacks)
			continue;
		uint32_t label = snap_label(s, m, e->label);
		if (!label) {
			s->stacks[stack].freed_objects += e->objects;
			s->stacks[stack].freed_bytes += e->bytes;
			continue;
		}
		s->freed[s->nfreed++] = (rt_heap_freed_t){ stack, label, e->objects, e->bytes };
	}
	pthread_mutex_unlock(&labels_mu);
	return s->freed ? 0 : -1;
}

/* Copies every interned stack with its unlabelled freed totals. stacks_mu held. */
static int snapshot_stacks(rt_heap_snapshot_t *s)
{
	s->stacks = rt_alloc.calloc(nstacks ? nstacks : 1, sizeof *s->stacks);
	s->pcs = rt_alloc.malloc((stack_pcs_total ? stack_pcs_total : 1) * sizeof *s->pcs);
	if (!s->stacks || !s->pcs)
		return -1;
	size_t off = 0;
	for (size_t i = 0; i < nstacks; i++) {
		stack_t_ *st = stack_by_id[i];
		memcpy(s->pcs + off, st->pcs, st->npcs * sizeof *st->pcs);
		s->stacks[i].pcs = s->pcs + off;
		s->stacks[i].npcs = st->npcs;
		s->stacks[i].freed_objects = load_double(&st->freed_objects);
		s->stacks[i].freed_bytes = load_double(&st->freed_bytes);
		off += st->npcs;
	}
	s->nstacks = nstacks;
	return 0;
}

int rt_heap_snapshot(rt_heap_snapshot_t *s)
{
	label_map_t m = { 0 };
	memset(s, 0, sizeof *s);
	s->rate = atomic_load(&rate);
	/* Stacks first: every block copied afterwards names a stack already copied. */
	pthread_mutex_lock(&stacks_mu);
	int rc = snapshot_stacks(s);
	pthread_mutex_unlock(&stacks_mu);
	size_t cap = 0;
	for (size_t i = 0; rc == 0 && i < NSHARDS; i++) {
		pthread_mutex_lock(&shards[i].mu);
		rc = snapshot_shard(s, &cap, &m, &shards[i]);
		pthread_mutex_unlock(&shards[i].mu);
	}
	if (rc == 0)
		rc = snapshot_freed(s, &m);
	rt_alloc.free(m.tag);
	if (rc != 0) {
		rt_heap_snapshot_free(s);
		return -1;
	}
	/* A block recorded after the stacks were copied may name a newer stack. */
	size_t kept = 0;
	for (size_t i = 0; i < s->nblocks; i++)
		if (s->blocks[i].stack < s->nstacks)
			s->blocks[kept++] = s->blocks[i];
	s->nblocks = kept;
	return 0;
}

void rt_heap_snapshot_free(rt_heap_snapshot_t *s)
{
	rt_alloc.free(s->stacks);
	rt_alloc.free(s->pcs);
	rt_alloc.free(s->blocks);
	rt_alloc.free(s->freed);
	rt_alloc.free(s->labels);
	memset(s, 0, sizeof *s);
}

/* ---- fork ---- */

void rt_heap_fork_prepare(void)
{
	pthread_mutex_lock(&stacks_mu);
	for (size_t i = 0; i < NSHARDS; i++)
		pthread_mutex_lock(&shards[i].mu);
	pthread_mutex_lock(&labels_mu);
}

void rt_heap_fork_parent(void)
{
	pthread_mutex_unlock(&labels_mu);
	for (size_t i = NSHARDS; i-- > 0;)
		pthread_mutex_unlock(&shards[i].mu);
	pthread_mutex_unlock(&stacks_mu);
}

