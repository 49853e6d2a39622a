/* test_spanq.c: the span queue of in-place records: the exact bound (also when it is
 * not a power of two), FIFO order and depth on one thread, across wrap-around, taken
 * one at a time and in peeked batches; peek(i) sees a published item past an
 * unpublished one, and release gives cells back to claims; four producers and one
 * consumer at once, where every claim is either published and taken once, whole and in
 * its producer's order, or refused and counted; and rt_spanq_reset, which hands each
 * published item to drop once and forgets a claim the fork cut short. Every item is
 * filled whole from its tag and checked whole, so a torn or unpublished item shows. */
#include <pthread.h>
#include <sched.h>

#include "t.h"
#include "emit/spanq.h"

#define PRODUCERS 4
#define PER_PRODUCER 200000u
#define CONCURRENT_MAX 1024
#define BATCH 64
#define ITEM_WORDS 5 /* 40-byte items */
#define ITEM_SIZE (ITEM_WORDS * sizeof(uint64_t))

/* ---- items ---- */

/* Tags: producer in the high half, sequence number + 1 below (never 0). */
static uint64_t tag(uint64_t tid, uint64_t seq)
{
	return (tid << 32) | (seq + 1);
}

/* Word k of the item for tag t: the tag itself, then a mix of both (splitmix64), so
 * each byte depends on the tag and its place. */
static uint64_t word(uint64_t t, unsigned k)
{
	uint64_t z = t + (k + 1) * 0x9e3779b97f4a7c15ull;
	if (k == 0)
		return t;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void fill(void *item, uint64_t t)
{
	for (unsigned k = 0; k < ITEM_WORDS; k++) {
		uint64_t w = word(t, k);
		memcpy((char *)item + k * sizeof w, &w, sizeof w);
	}
}

/* The item's tag when the whole item is the one fill wrote for it, else 0. */
static uint64_t item_tag(const void *item)
{
	uint64_t t;
	memcpy(&t, item, sizeof t);
	for (unsigned k = 1; k < ITEM_WORDS; k++) {
		uint64_t w;
		memcpy(&w, (const char *)item + k * sizeof w, sizeof w);
		if (w != word(t, k))
			return 0;
	}
	return t;
}

/* Claims, fills and publishes one item; returns the depth claim reported, 0 if full. */
static uint32_t add(rt_spanq_t *q, uint64_t t)
{
	uint64_t ticket;
	uint32_t depth = 0;
	void *item = rt_spanq_claim(q, &ticket, &depth);
	if (!item)
		return 0;
	fill(item, t);
	rt_spanq_publish(q, ticket);
	return depth;
}

/* Takes the oldest item (peek(0), then release(1)); its tag, 0 when there is none, 1
 * when it was not whole. */
static uint64_t take(rt_spanq_t *q)
{
	void *item = rt_spanq_peek(q, 0);
	if (!item)
		return 0;
	uint64_t t = item_tag(item);
	rt_spanq_release(q, 1);
	return t ? t : 1;
}

/* ---- one thread ---- */

static void test_bound(uint32_t max)
{
	rt_spanq_t q;
	if (!ok(rt_spanq_init(&q, max, ITEM_SIZE) == 0, "max %u: init", max))
		return;
	ok(rt_spanq_peek(&q, 0) == NULL && rt_spanq_depth(&q) == 0, "max %u: starts empty", max);
	/* Four rounds move the positions past the ring size, so cells are reused; odd
	 * rounds are taken in peeked batches. */
	for (int round = 0; round < 4; round++) {
		uint32_t bad_depth = 0;
		for (uint32_t i = 0; i < max; i++)
			bad_depth += add(&q, tag((uint64_t)round, i)) != i + 1;
		ok(bad_depth == 0 && rt_spanq_depth(&q) == max,
		   "max %u, round %d: claims return depth 1..%u", max, round, max);
		uint64_t ticket = 12345;
		uint32_t depth = 777;
		ok(rt_spanq_claim(&q, &ticket, &depth) == NULL && rt_spanq_claim(&q, &ticket, NULL) == NULL &&
		   rt_spanq_depth(&q) == max && rt_spanq_peek(&q, max) == NULL,
		   "max %u, round %d: then the full queue refuses", max, round);
		uint32_t bad_order = 0, n = 0;
		if (round % 2 == 0) {
			uint64_t t;
			while ((t = take(&q)) != 0) {
				bad_order += t != tag((uint64_t)round, n);
				n++;
				bad_order += rt_spanq_depth(&q) != max - n;
			}
		} else {
			for (;;) {
				size_t k = 0;
				void *item;
				while (k < BATCH && (item = rt_spanq_peek(&q, k)) != NULL)
					bad_order += item_tag(item) != tag((uint64_t)round, n + k++);
				if (!k)
					break;
				/* Peeking takes nothing: all still held until the release. */
				bad_order += rt_spanq_depth(&q) != max - n;
				bad_order += k < BATCH && n + k != max;
				rt_spanq_release(&q, k);
				n += (uint32_t)k;
				bad_order += rt_spanq_depth(&q) != max - n;
			}
		}
		ok(n == max && bad_order == 0 && rt_spanq_depth(&q) == 0,
		   "max %u, round %d: items come back whole and in order%s, depth falling to 0", max,
		   round, round % 2 ? ", in batches of up to 64" : "");
	}
	ok(rt_spanq_peek(&q, 0) == NULL && rt_spanq_peek(&q, 1) == NULL && take(&q) == 0,
	   "max %u: an empty queue peeks NULL", max);

	/* Kept full while the positions walk round the ring many times. */
	uint32_t bad = 0, next_take = 0, next_add = 0;
	for (; next_add < max; next_add++)
		add(&q, tag(1, next_add));
	for (int i = 0; i < 5000; i++) {
		bad += take(&q) != tag(1, next_take++);
		bad += add(&q, tag(1, next_add++)) != max;
		bad += add(&q, tag(2, 0)) != 0;
	}
	while (next_take < next_add)
		bad += take(&q) != tag(1, next_take++);
	ok(bad == 0 && take(&q) == 0 && rt_spanq_depth(&q) == 0,
	   "max %u: held full through 5000 take/add pairs", max);
	rt_spanq_destroy(&q);
	ok(q.cells == NULL, "max %u: destroy frees the cells", max);
}

/* peek(i) before any release, out-of-order publishing, and release giving cells back. */
static void test_peek_release(void)
{
	rt_spanq_t q;
	uint32_t bad = 0;
	if (!ok(rt_spanq_init(&q, 200, ITEM_SIZE) == 0, "peek: init"))
		return;

	/* Three claims; the middle one published last. */
	uint64_t t[3];
	uint32_t d[3];
	void *it[3];
	for (int i = 0; i < 3; i++)
		it[i] = rt_spanq_claim(&q, &t[i], &d[i]);
	ok(it[0] && it[1] && it[2] && d[0] == 1 && d[1] == 2 && d[2] == 3,
	   "peek: three claims, depths 1, 2, 3");
	ok(it[0] != it[1] && it[1] != it[2] && it[0] != it[2] &&
	   (uintptr_t)it[0] % 8 == 0 && (uintptr_t)it[1] % 8 == 0 && (uintptr_t)it[2] % 8 == 0,
	   "peek: claims get distinct, aligned items");
	ok(rt_spanq_peek(&q, 0) == NULL && rt_spanq_peek(&q, 1) == NULL && rt_spanq_peek(&q, 2) == NULL,
	   "peek: nothing is visible before it is published");
	fill(it[0], tag(7, 0));
	fill(it[2], tag(7, 2));
	rt_spanq_publish(&q, t[2]);
	rt_spanq_publish(&q, t[0]);
	ok(rt_spanq_peek(&q, 0) == it[0] && rt_spanq_peek(&q, 1) == NULL && rt_spanq_peek(&q, 2) == it[2],
	   "peek: a published item past an unpublished one is seen, the unpublished one is not");
	fill(it[1], tag(7, 1));
	rt_spanq_publish(&q, t[1]);
	for (int i = 0; i < 3; i++)
		bad += rt_spanq_peek(&q, (size_t)i) != it[i] || item_tag(it[i]) != tag(7, (uint64_t)i);
	ok(bad == 0 && rt_spanq_peek(&q, 3) == NULL, "peek: once published, all three in claim order");
	rt_spanq_release(&q, 3);
	ok(rt_spanq_depth(&q) == 0 && rt_spanq_peek(&q, 0) == NULL, "peek: release(3) empties it");

	/* Fill to the bound, peek a whole batch before releasing anything, then release
	 * 64: exactly 64 claims fit again. */
	uint32_t next_add = 0, next_take = 0;
	while (add(&q, tag(8, next_add)) != 0)
		next_add++;
	ok(next_add == 200 && rt_spanq_depth(&q) == 200, "peek: full at 200");
	for (int round = 0; round < 10; round++) {
		bad = 0;
		for (size_t i = 0; i < BATCH; i++) {
			void *item = rt_spanq_peek(&q, i);
			bad += !item || item_tag(item) != tag(8, next_take + i);
		}
		/* Peeking again gives the same items: nothing moved. */
		bad += item_tag(rt_spanq_peek(&q, 0)) != tag(8, next_take);
		bad += rt_spanq_depth(&q) != 200;
		rt_spanq_release(&q, BATCH);
		next_take += BATCH;
		bad += rt_spanq_depth(&q) != 200 - BATCH;
		bad += item_tag(rt_spanq_peek(&q, 0)) != tag(8, next_take);
		uint32_t added = 0;
		while (add(&q, tag(8, next_add)) != 0) {
			next_add++;
			added++;
		}
		ok(bad == 0 && added == BATCH && rt_spanq_depth(&q) == 200,
		   "peek, round %d: 64 peeked whole before release; release(64) let exactly 64 claims in",
		   round);
	}
	bad = 0;
	uint64_t tt;
	while ((tt = take(&q)) != 0)
		bad += tt != tag(8, next_take++);
	ok(bad == 0 && next_take == next_add && rt_spanq_depth(&q) == 0, "peek: the rest in order");
	rt_spanq_destroy(&q);
}

/* ---- four producers, one consumer ---- */

typedef struct producer {
	pthread_t th;
	uint64_t tid;
	int paced;
	uint64_t dropped;
	uint64_t bad_depth;
} producer_t;

static rt_spanq_t cq;
static _Atomic int go, finished;

static void *producer_main(void *arg)
{
	producer_t *p = arg;
	while (!atomic_load(&go))
		sched_yield();
	for (uint32_t seq = 0; seq < PER_PRODUCER; seq++) {
		if (p->paced && seq % 32 == 0)
			sched_yield(); /* let the consumer catch up: a near-empty queue */
		uint64_t ticket;
		uint32_t d;
		void *item = rt_spanq_claim(&cq, &ticket, &d);
		if (!item) {
			p->dropped++;
			continue;
		}
		if (d > CONCURRENT_MAX)
			p->bad_depth++;
		/* Filled a word at a time with a yield between, now and then, so the consumer
		 * gets the chance to look at a half-written item. */
		uint64_t t = tag(p->tid, seq);
		if (seq % 1024 == 0) {
			for (unsigned k = 0; k < ITEM_WORDS; k++) {
				uint64_t w = word(t, k);
				memcpy((char *)item + k * sizeof w, &w, sizeof w);
				sched_yield();
			}
		} else {
			fill(item, t);
		}
		rt_spanq_publish(&cq, ticket);
	}
	atomic_fetch_add(&finished, 1);
	return NULL;
}

typedef struct consumed {
	uint64_t taken, torn, foreign, dup, reordered, deep, empty, batches, full_batches;
} consumed_t;

static void check_item(consumed_t *r, const void *item, unsigned char (*seen)[PER_PRODUCER],
		       uint64_t *next)
{
	uint64_t x = item_tag(item);
	r->taken++;
	if (!x) {
		r->torn++;
		return;
	}
	uint64_t tid = x >> 32, seq = (x & 0xffffffffu) - 1;
	if (tid >= PRODUCERS || seq >= PER_PRODUCER) {
		r->foreign++;
		return;
	}
	r->dup += seen[tid][seq]++ != 0;
	r->reordered += seq < next[tid];
	next[tid] = seq + 1;
}

/* The consumer: peeks up to 64 at a time and releases them together, until every
 * producer is done and the queue is drained, checking each item whole and against
 * what its producer has already had taken. */
static void consume(consumed_t *r)
{
	static unsigned char seen[PRODUCERS][PER_PRODUCER];
	uint64_t next[PRODUCERS] = { 0 }; /* lowest seq still allowed, per producer */
	memset(seen, 0, sizeof seen);
	for (;;) {
		/* Read before peeking: once every producer is done, one more empty peek means
		 * the queue is drained for good. */
		int all_done = atomic_load(&finished) == PRODUCERS;
		size_t k = 0;
		void *item;
		while (k < BATCH && (item = rt_spanq_peek(&cq, k)) != NULL) {
			check_item(r, item, seen, next);
			k++;
		}
		if (!k) {
			if (all_done)
				return;
			if (++r->empty % 64 == 0)
				sched_yield(); /* a producer may be preempted mid-claim */
			continue;
		}
		/* A refused claim bumps the counter for a moment: at most one per producer. */
		r->deep += rt_spanq_depth(&cq) > CONCURRENT_MAX + PRODUCERS;
		rt_spanq_release(&cq, k);
		r->batches++;
		r->full_batches += k == BATCH;
	}
}

/* paced = 0: producers outrun the consumer and the queue is mostly full; paced = 1:
 * the consumer often finds it empty or waits on a cell claimed but not yet filled. */
static void test_concurrent(int paced)
{
	static producer_t prod[PRODUCERS];
	consumed_t r = { 0 };
	const char *mode = paced ? "paced" : "flat out";
	if (!ok(rt_spanq_init(&cq, CONCURRENT_MAX, ITEM_SIZE) == 0, "concurrent, %s: init", mode))
		return;
	memset(prod, 0, sizeof prod);
	atomic_store(&go, 0);
	atomic_store(&finished, 0);
	for (int i = 0; i < PRODUCERS; i++) {
		prod[i].tid = (uint64_t)i;
		prod[i].paced = paced;
		pthread_create(&prod[i].th, NULL, producer_main, &prod[i]);
	}
	atomic_store(&go, 1);
	consume(&r);
	uint64_t dropped = 0, bad_depth = 0;
	for (int i = 0; i < PRODUCERS; i++) {
		pthread_join(prod[i].th, NULL);
		dropped += prod[i].dropped;
		bad_depth += prod[i].bad_depth;
	}
	diag("%s: %llu taken in %llu batches (%llu of 64), %llu dropped, %llu empty peeks", mode,
	     (unsigned long long)r.taken, (unsigned long long)r.batches,
	     (unsigned long long)r.full_batches, (unsigned long long)dropped,
	     (unsigned long long)r.empty);
	ok(r.taken + dropped == (uint64_t)PRODUCERS * PER_PRODUCER,
	   "concurrent, %s: every claim was either taken or refused", mode);
	ok(r.taken > 0, "concurrent, %s: the consumer got items", mode);
	ok(r.torn == 0, "concurrent, %s: every item taken was whole", mode);
	ok(r.foreign == 0, "concurrent, %s: every item taken is one that was added", mode);
	ok(r.dup == 0, "concurrent, %s: none taken twice", mode);
	ok(r.reordered == 0, "concurrent, %s: each producer's items come out in its order", mode);
	ok(bad_depth == 0 && r.deep == 0, "concurrent, %s: no claim was granted beyond the bound", mode);
	ok(rt_spanq_peek(&cq, 0) == NULL && rt_spanq_depth(&cq) == 0,
	   "concurrent, %s: nothing left at the end", mode);
	rt_spanq_destroy(&cq);
}

/* ---- reset ---- */

static uint64_t dropped_tags[64];
static int ndropped, ntorn;

static void drop(void *item)
{
	uint64_t t = item_tag(item);
	ntorn += t == 0;
	if (ndropped < 64)
		dropped_tags[ndropped] = t;
	ndropped++;
}

static int dropped_once(uint64_t t)
{
	int n = 0;
	for (int i = 0; i < ndropped && i < 64; i++)
		n += dropped_tags[i] == t;
	return n == 1;
}

static int empty_after_reset(rt_spanq_t *q)
{
	int bad = rt_spanq_depth(q) != 0;
	for (size_t i = 0; i <= q->mask; i++)
		bad += rt_spanq_peek(q, i) != NULL;
	return bad == 0;
}

static void test_reset(void)
{
	rt_spanq_t q;
	if (!ok(rt_spanq_init(&q, 6, ITEM_SIZE) == 0, "reset: init"))
		return;
	ndropped = ntorn = 0;
	rt_spanq_reset(&q, drop);
	ok(ndropped == 0 && empty_after_reset(&q), "reset: an empty queue drops nothing");

	/* Walk the positions past the ring size first, so reset has to wrap too. */
	for (uint32_t i = 0; i < 13; i++) {
		add(&q, tag(0, i));
		take(&q);
	}
	for (uint32_t i = 0; i < 5; i++)
		add(&q, tag(1, i));
	take(&q);
	take(&q);
	ndropped = ntorn = 0;
	rt_spanq_reset(&q, drop);
	ok(ndropped == 3 && ntorn == 0 && dropped_once(tag(1, 2)) && dropped_once(tag(1, 3)) &&
	   dropped_once(tag(1, 4)),
	   "reset: drop is called once, with the whole item, for each of the 3 queued (got %d)", ndropped);
	ok(empty_after_reset(&q), "reset: then the queue is empty, no old cell visible");
	ok(add(&q, tag(2, 0)) == 1 && take(&q) == tag(2, 0) && take(&q) == 0,
	   "reset: and works again: claim/publish/peek/release round trip");
	uint32_t bad = 0;
	for (uint32_t i = 0; i < 6; i++)
		bad += add(&q, tag(3, i)) != i + 1;
	ok(bad == 0 && add(&q, tag(3, 9)) == 0, "reset: full at exactly 6 again");
	for (uint32_t i = 0; i < 6; i++)
		bad += take(&q) != tag(3, i);
	ok(bad == 0 && take(&q) == 0, "reset: in order");

	/* A producer the fork stopped between claiming a cell and publishing it: the cell
	 * still holds an older item (and here half of the new one), which must not be
	 * dropped. Published items before and after it are. */
	add(&q, tag(4, 0));
	uint64_t ticket;
	void *cut = rt_spanq_claim(&q, &ticket, NULL);
	ok(cut != NULL && item_tag(cut) != 0, "reset: the claimed cell holds an older, whole item");
	uint64_t half = tag(4, 1);
	memcpy(cut, &half, sizeof half);
	add(&q, tag(4, 2));
	ok(rt_spanq_peek(&q, 0) != NULL && rt_spanq_peek(&q, 1) == NULL && rt_spanq_peek(&q, 2) != NULL,
	   "reset: (the cut-short claim is not visible to peek)");
	ndropped = ntorn = 0;
	rt_spanq_reset(&q, drop);
	ok(ndropped == 2 && ntorn == 0 && dropped_once(tag(4, 0)) && dropped_once(tag(4, 2)),
	   "reset: a claim cut short is forgotten, the ones around it dropped (got %d)", ndropped);
	ok(empty_after_reset(&q), "reset: and the queue is empty after it");
	ok(add(&q, tag(5, 0)) == 1 && take(&q) == tag(5, 0) && take(&q) == 0,
	   "reset: and works again after it");
	bad = 0;
	for (uint32_t i = 0; i < 6; i++)
		bad += add(&q, tag(6, i)) != i + 1;
	ok(bad == 0 && add(&q, tag(6, 9)) == 0, "reset: the forgotten claim holds no room: full at 6");
	rt_spanq_destroy(&q);
}

int main(void)
{
	test_bound(1);
	test_bound(5);
	test_bound(1000);
	test_bound(1024);
	test_peek_release();
	test_concurrent(0);
	test_concurrent(1);
	test_reset();
	return done_testing();
}
