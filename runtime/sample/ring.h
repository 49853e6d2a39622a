/* ring.h: a per-thread single-producer/single-consumer ring of fixed-size stack
 * samples. The producer is the SIGPROF handler of the thread that owns the ring; the
 * consumer is the worker thread. Push is wait-free; a full ring drops the sample and
 * counts it. Context: reserve/commit from signal context; peek/pop from the worker. */
#ifndef RT_RING_H
#define RT_RING_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define RT_STACK_MAX 64
#define RT_RING_SLOTS 1024   /* ~1 s of samples at 1 kHz; the worker drains every 10 ms */

typedef struct rt_sample {
	uint64_t serial;          /* request current on the thread when sampled, 0 = none */
	uint64_t weight_ns;       /* thread CPU time since the previous sample */
	uint32_t npcs;
	uint32_t segment;         /* the thread's hand-off segment when it had no request of
	                             its own (sample/thread.h), else 0 */
	uintptr_t pcs[RT_STACK_MAX]; /* pcs[0]: interrupted instruction; then return addresses */
} rt_sample_t;

typedef struct rt_ring {
	_Atomic uint64_t head;    /* next slot the producer writes */
	char pad1[56];
	_Atomic uint64_t tail;    /* next slot the consumer reads */
	char pad2[56];
	_Atomic uint64_t dropped;
	rt_sample_t slots[RT_RING_SLOTS];
} rt_ring_t;

/* mmap-backed, so it can be made without malloc; NULL on failure. Worker/watchdog only. */
rt_ring_t *rt_ring_new(void);
void rt_ring_reset(rt_ring_t *r);

/* Producer: a slot to fill, or NULL (and a drop counted) when full. Signal-safe. */
static inline rt_sample_t *rt_ring_reserve(rt_ring_t *r)
{
	uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
	uint64_t t = atomic_load_explicit(&r->tail, memory_order_acquire);
	if (h - t >= RT_RING_SLOTS) {
		atomic_fetch_add_explicit(&r->dropped, 1, memory_order_relaxed);
		return NULL;
	}
	return &r->slots[h % RT_RING_SLOTS];
}

static inline void rt_ring_commit(rt_ring_t *r)
{
	atomic_fetch_add_explicit(&r->head, 1, memory_order_release);
}

/* Consumer: the oldest sample, or NULL when empty; rt_ring_pop releases it. */
static inline const rt_sample_t *rt_ring_peek(rt_ring_t *r)
{
	uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint64_t h = atomic_load_explicit(&r->head, memory_order_acquire);
	return h == t ? NULL : &r->slots[t % RT_RING_SLOTS];
}

static inline void rt_ring_pop(rt_ring_t *r)
{
	atomic_fetch_add_explicit(&r->tail, 1, memory_order_release);
}

#endif
