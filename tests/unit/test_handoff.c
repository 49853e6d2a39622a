/* test_handoff.c: the hand-off rule (track/handoff.c) on a scripted pool, one thread
 * playing both parts: with its current request set it is the thread serving request 7
 * (it waits on its result and posts the queue), with none it is the pool thread. A job
 * begun on the queue and handed back to request 7's result is 7's, as one segment,
 * even when the pool thread waits on another lock in the middle of it (Python's GIL
 * passed between busy pool threads, an object only pool threads wait on: ending the
 * job there would give its first part to no request). A wait on an object request threads also wait on does not
 * end a job either; a job nobody took back ends at the next wake-up from its queue. */
#include <pthread.h>

#include "t.h"
#include "sample/thread.h"
#include "track/handoff.h"

/* The objects, by address (only addresses matter: the rule never touches them). */
static pthread_cond_t queue, result, gil, shared_lock;

static rt_thread_t *self;
static void as_request(uint64_t serial) { atomic_store(&self->cur_serial, serial); }
static void as_pool(void) { atomic_store(&self->cur_serial, 0); }
static uint32_t segment(void) { return atomic_load(&self->handoff.segment); }
static uint64_t borrowed(void) { return atomic_load(&self->handoff.borrowed); }

/* The last hand-back recorded: its segment and request. */
static void last_done(uint32_t *seg, uint64_t *serial)
{
	rt_thread_handoff_t *h = &self->handoff;
	uint32_t n = atomic_load(&h->ndone);
	*seg = n ? atomic_load(&h->done[(n - 1) % RT_HANDOFF_DONE_MAX].segment) : 0;
	*serial = n ? atomic_load(&h->done[(n - 1) % RT_HANDOFF_DONE_MAX].serial) : 0;
}

/* Request serial hands a job to the pool thread, which is woken for it. Returns the
 * segment the job began. */
static uint32_t hand_job(uint64_t serial)
{
	as_pool();
	rt_handoff_wait_begin(&queue);
	as_request(serial);
	rt_handoff_wait_begin(&result); /* its thread will wait for the result */
	rt_handoff_posted(&queue);
	as_pool();
	rt_handoff_wait_end(&queue, 1);
	return segment();
}

/* Another pool thread passes the pool thread a lock it waited on. */
static void woken_on(const void *obj)
{
	as_pool();
	rt_handoff_wait_begin(obj);
	rt_handoff_wait_end(obj, 1);
}

int main(void)
{
	uint32_t seg, done_seg;
	uint64_t done_serial;
	self = rt_thread_self();
	if (!ok(self != NULL, "a thread state"))
		return done_testing();

	seg = hand_job(7);
	is_int(borrowed(), 7, "woken on the queue: a job for the request that posted it");
	woken_on(&gil);
	is_int(segment(), seg, "a wait on another lock inside the job does not end it");
	is_int(borrowed(), 7, "nor change whose it is");
	as_pool();
	rt_handoff_posted(&result); /* the hand-back */
	last_done(&done_seg, &done_serial);
	ok(done_seg == seg && done_serial == 7, "handed back: the whole job was request 7's");
	is_int(segment(), seg + 1, "and the next segment begins");

	as_request(8);
	rt_handoff_wait_begin(&shared_lock); /* a request thread waits on it too */
	uint32_t seg8 = hand_job(8);
	woken_on(&shared_lock);
	is_int(segment(), seg8, "a lock request threads also wait on does not end a job");

	seg = hand_job(9); /* job 8 was never handed back (fire-and-forget) */
	ok(seg == seg8 + 1 && borrowed() == 9, "the next wake-up from the same queue begins the next job");
	as_pool();
	rt_handoff_posted(&result);
	last_done(&done_seg, &done_serial);
	ok(done_seg == seg && done_serial == 9, "which is request 9's when handed back");
	return done_testing();
}
