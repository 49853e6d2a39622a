/* ring.c: allocation of sample rings (the lock-free push/pop is inline in sample/ring.h). */
#include "sample/ring.h"

#include <sys/mman.h>

rt_ring_t *rt_ring_new(void)
{
	void *p = mmap(NULL, sizeof(rt_ring_t), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : (rt_ring_t *)p;
}

void rt_ring_reset(rt_ring_t *r)
{
	atomic_store(&r->head, 0);
	atomic_store(&r->tail, 0);
	atomic_store(&r->dropped, 0);
}
