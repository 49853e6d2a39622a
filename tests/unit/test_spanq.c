/* test_spanq.c: the span queue: the exact bound (also when it is not a power of two),
 * FIFO order and depth on one thread, across wrap-around; four producers and one
 * consumer at once, where every push is either popped once, in its producer's order,
 * or refused and counted; and rt_spanq_reset, which hands each queued item to drop once
 * and forgets a push that was cut short. */
#include <pthread.h>
#include <sched.h>

#include "t.h"
#include "rt_spanq.h"

#define PRODUCERS 4
#define PER_PRODUCER 200000u
#define CONCURRENT_MAX 1024

/* Items are tagged pointers: producer in the high half, sequence number + 1 below. */
static void *tag(uint64_t tid, uint64_t seq)
{
	return (void *)(uintptr_t)((tid << 32) | (seq + 1));
}

static void queue_free(rt_spanq_t *q)
{
	free(q->cells); /* the exporter's queue lives for the process; tests make several */
	q->cells = NULL;
}

/* ---- one thread ---- */

static void test_bound(uint32_t max)
{
	rt_spanq_t q;
	if (!ok(rt_spanq_init(&q, max) == 0, "max %u: init", max))
		return;
	/* Three rounds move the positions past the ring size, so cells are reused. */
	for (int round = 0; round < 3; round++) {
		uint32_t bad_depth = 0;
		for (uint32_t i = 0; i < max; i++)
			bad_depth += rt_spanq_push(&q, tag(round, i)) != i + 1;
		ok(bad_depth == 0 && rt_spanq_depth(&q) == max,
		   "max %u, round %d: pushes return depth 1..%u", max, round, max);
		ok(rt_spanq_push(&q, tag(9, 0)) == 0 && rt_spanq_push(&q, tag(9, 1)) == 0 &&
		   rt_spanq_depth(&q) == max, "max %u, round %d: then the full queue refuses", max, round);
		uint32_t bad_order = 0, n = 0;
		void *item;
		while ((item = rt_spanq_pop(&q)) != NULL) {
			bad_order += item != tag(round, n);
			n++;
			bad_order += rt_spanq_depth(&q) != max - n;
		}
		ok(n == max && bad_order == 0 && rt_spanq_depth(&q) == 0,
		   "max %u, round %d: pops come back in order, depth falling to 0", max, round);
	}
	ok(rt_spanq_pop(&q) == NULL && rt_spanq_pop(&q) == NULL, "max %u: an empty queue pops NULL", max);

	/* Kept full while the positions walk round the ring many times. */
	uint32_t bad = 0, next_pop = 0, next_push = 0;
	for (; next_push < max; next_push++)
		rt_spanq_push(&q, tag(1, next_push));
	for (int i = 0; i < 5000; i++) {
		bad += rt_spanq_pop(&q) != tag(1, next_pop++);
		bad += rt_spanq_push(&q, tag(1, next_push++)) != max;
		bad += rt_spanq_push(&q, tag(2, 0)) != 0;
	}
	while (next_pop < next_push)
		bad += rt_spanq_pop(&q) != tag(1, next_pop++);
	ok(bad == 0 && rt_spanq_pop(&q) == NULL, "max %u: held full through 5000 pop/push pairs", max);
	queue_free(&q);
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
		uint32_t d = rt_spanq_push(&cq, tag(p->tid, seq));
		if (d == 0)
			p->dropped++;
		else if (d > CONCURRENT_MAX)
			p->bad_depth++;
	}
	atomic_fetch_add(&finished, 1);
	return NULL;
}

typedef struct consumed {
	uint64_t popped, foreign, dup, reordered, deep, empty;
} consumed_t;

/* The consumer: pops until every producer is done and the queue is drained, checking
 * each item against what its producer has already had popped. */
static void consume(consumed_t *r)
{
	static unsigned char seen[PRODUCERS][PER_PRODUCER];
	uint64_t next[PRODUCERS] = { 0 }; /* lowest seq still allowed, per producer */
	memset(seen, 0, sizeof seen);
	for (;;) {
		/* Read before popping: once every producer is done, one more empty pop means
		 * the queue is drained for good. */
		int all_done = atomic_load(&finished) == PRODUCERS;
		void *item = rt_spanq_pop(&cq);
		if (!item) {
			if (all_done)
				return;
			if (++r->empty % 64 == 0)
				sched_yield(); /* a producer may be preempted mid-push */
			continue;
		}
		r->popped++;
		/* A refused push bumps the counter for a moment: at most one per producer. */
		r->deep += rt_spanq_depth(&cq) > CONCURRENT_MAX + PRODUCERS;
		uint64_t x = (uint64_t)(uintptr_t)item, tid = x >> 32, seq = (x & 0xffffffffu) - 1;
		if (tid >= PRODUCERS || seq >= PER_PRODUCER) {
			r->foreign++;
			continue;
		}
		r->dup += seen[tid][seq]++ != 0;
		r->reordered += seq < next[tid];
		next[tid] = seq + 1;
	}
}

/* paced = 0: producers outrun the consumer and the queue is mostly full; paced = 1:
 * the consumer often finds it empty or waits on a cell claimed but not yet filled. */
static void test_concurrent(int paced)
{
	static producer_t prod[PRODUCERS];
	consumed_t r = { 0 };
	const char *mode = paced ? "paced" : "flat out";
	if (!ok(rt_spanq_init(&cq, CONCURRENT_MAX) == 0, "concurrent, %s: init", mode))
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
	diag("%s: %llu popped, %llu dropped, %llu empty pops", mode, (unsigned long long)r.popped,
	     (unsigned long long)dropped, (unsigned long long)r.empty);
	ok(r.popped + dropped == (uint64_t)PRODUCERS * PER_PRODUCER,
	   "concurrent, %s: every push was either popped or refused", mode);
	ok(r.popped > 0, "concurrent, %s: the consumer got items", mode);
	ok(r.foreign == 0, "concurrent, %s: every popped item is one that was pushed", mode);
	ok(r.dup == 0, "concurrent, %s: none popped twice", mode);
	ok(r.reordered == 0, "concurrent, %s: each producer's items come out in its order", mode);
	ok(bad_depth == 0 && r.deep == 0, "concurrent, %s: no push was taken beyond the bound", mode);
	ok(rt_spanq_pop(&cq) == NULL && rt_spanq_depth(&cq) == 0,
	   "concurrent, %s: nothing left at the end", mode);
	queue_free(&cq);
}

/* ---- reset ---- */

static void *dropped_items[64];
static int ndropped;

static void drop(void *item)
{
	if (ndropped < 64)
		dropped_items[ndropped] = item;
	ndropped++;
}

static int dropped_once(void *item)
{
	int n = 0;
	for (int i = 0; i < ndropped && i < 64; i++)
		n += dropped_items[i] == item;
	return n == 1;
}

static void test_reset(void)
{
	rt_spanq_t q;
	if (!ok(rt_spanq_init(&q, 6) == 0, "reset: init"))
		return;
	ndropped = 0;
	rt_spanq_reset(&q, drop);
	ok(ndropped == 0 && rt_spanq_pop(&q) == NULL, "reset: an empty queue drops nothing");

	/* Walk the positions past the ring size first, so reset has to wrap too. */
	for (uint32_t i = 0; i < 13; i++) {
		rt_spanq_push(&q, tag(0, i));
		rt_spanq_pop(&q);
	}
	for (uint32_t i = 0; i < 5; i++)
		rt_spanq_push(&q, tag(1, i));
	rt_spanq_pop(&q);
	rt_spanq_pop(&q);
	ndropped = 0;
	rt_spanq_reset(&q, drop);
	ok(ndropped == 3 && dropped_once(tag(1, 2)) && dropped_once(tag(1, 3)) && dropped_once(tag(1, 4)),
	   "reset: drop is called once for each of the 3 queued items (got %d)", ndropped);
	ok(rt_spanq_depth(&q) == 0 && rt_spanq_pop(&q) == NULL, "reset: then the queue is empty");
	ok(rt_spanq_push(&q, tag(2, 0)) == 1 && rt_spanq_pop(&q) == tag(2, 0) && rt_spanq_pop(&q) == NULL,
	   "reset: and works again: push/pop round trip");
	uint32_t bad = 0;
	for (uint32_t i = 0; i < 6; i++)
		bad += rt_spanq_push(&q, tag(3, i)) != i + 1;
	ok(bad == 0 && rt_spanq_push(&q, tag(3, 9)) == 0, "reset: full at exactly 6 again");
	for (uint32_t i = 0; i < 6; i++)
		bad += rt_spanq_pop(&q) != tag(3, i);
	ok(bad == 0 && rt_spanq_pop(&q) == NULL, "reset: in order");

	/* A producer the fork stopped between claiming a cell and filling it: the cell
	 * still holds an older item, which must not be dropped a second time. */
	rt_spanq_push(&q, tag(4, 0));
	atomic_fetch_add(&q.depth, 1);
	atomic_fetch_add(&q.push_pos, 1);
	rt_spanq_push(&q, tag(4, 2));
	ndropped = 0;
	rt_spanq_reset(&q, drop);
	ok(ndropped == 2 && dropped_once(tag(4, 0)) && dropped_once(tag(4, 2)),
	   "reset: a push cut short is forgotten, the ones around it dropped (got %d)", ndropped);
	ok(rt_spanq_push(&q, tag(5, 0)) == 1 && rt_spanq_pop(&q) == tag(5, 0) && rt_spanq_pop(&q) == NULL,
	   "reset: and the queue works again after it");
	queue_free(&q);
}

int main(void)
{
	test_bound(1);
	test_bound(5);
	test_bound(1000);
	test_bound(1024);
	test_concurrent(0);
	test_concurrent(1);
	test_reset();
	return done_testing();
}
