/* test_heap_labels.c: the heap sampler's label tables on their own: interning (equal
 * ids, one label), reference counts (the last release frees the slot, whose
 * generation then moves on), a full table refusing new labels, freed totals per
 * (stack, label) taking over the block's reference, and the CLOCK eviction when the
 * freed table is full (an entry added to since the hand passed survives; the victim's
 * totals come back, its label is released). Then a random workload against a model:
 * no label lost or double-counted, bytes conserved, the tables never above their
 * bounds. */
#include <stdio.h>
#include <string.h>

#include "t.h"
#include "sample/heap_labels.h"

static rt_heap_ids_t ids_of(unsigned k)
{
	rt_heap_ids_t ids;
	memset(&ids, 0, sizeof ids);
	memcpy(ids.trace_id, &k, sizeof k);
	ids.span_id[7] = (uint8_t)(k * 7 + 1);
	return ids;
}

static void test_interning(void)
{
	rt_heap_labels_t *t = rt_heap_labels_new(3, 4);
	ok(t != NULL, "a table");
	rt_heap_ids_t a = ids_of(1), b = ids_of(2), c = ids_of(3), d = ids_of(4);
	uint32_t la = rt_heap_label_acquire(t, &a), lb = rt_heap_label_acquire(t, &b);
	ok(la && lb && la != lb, "two requests, two labels (%u, %u)", la, lb);
	is_int(rt_heap_label_acquire(t, &a), la, "the same ids, the same label");
	ok(memcmp(rt_heap_label_ids(t, la), &a, sizeof a) == 0, "a label gives back its ids");
	uint32_t lc = rt_heap_label_acquire(t, &c);
	ok(lc != 0, "the third fills the table");
	is_int(rt_heap_label_acquire(t, &d), 0, "a full table refuses a new label");
	is_int(rt_heap_labels_in_use(t), 3, "three named");
	uint32_t gen = rt_heap_label_gen(t, lb);
	rt_heap_label_release(t, lb);
	is_int(rt_heap_labels_in_use(t), 2, "the last reference frees the slot");
	uint32_t ld = rt_heap_label_acquire(t, &d);
	is_int(ld, lb, "the freed slot is reused");
	ok(rt_heap_label_gen(t, ld) != gen, "and its generation moved on");
	rt_heap_label_release(t, la);
	is_int(rt_heap_label_acquire(t, &a), la, "a label still referenced stays");
	rt_heap_label_release(t, la);
	rt_heap_label_release(t, la);
	ok(rt_heap_label_acquire(t, &b) == la, "released twice (two references): free again");
	is_int(rt_heap_labels_high(t), 3, "slots ever used stay within the bound");
	rt_heap_labels_delete(t);
}

static void test_freed(void)
{
	rt_heap_labels_t *t = rt_heap_labels_new(8, 4);
	int s1, s2; /* stacks: any distinct addresses */
	rt_heap_labels_freed_t ev;
	rt_heap_ids_t a = ids_of(10), b = ids_of(11);
	uint32_t la = rt_heap_label_acquire(t, &a);
	ok(rt_heap_freed_add(t, &s1, la, 1, 100, &ev) == 0, "a first freed entry");
	is_int(rt_heap_labels_in_use(t), 1, "holds the block's reference on its label");
	la = rt_heap_label_acquire(t, &a); /* a second block of the same request, same stack */
	ok(rt_heap_freed_add(t, &s1, la, 2, 50, &ev) == 0, "added to the same entry");
	is_int(rt_heap_freed_count(t), 1, "one entry per (stack, label)");
	const rt_heap_labels_freed_t *e = rt_heap_freed_at(t, 0);
	ok(e->stack == &s1 && e->label == la && e->objects == 3 && e->bytes == 150,
	   "its totals add up");
	is_int(rt_heap_labels_in_use(t), 1, "the second block's reference dropped, the entry's kept");
	uint32_t lb = rt_heap_label_acquire(t, &b);
	rt_heap_freed_add(t, &s2, lb, 1, 7, &ev);
	lb = rt_heap_label_acquire(t, &b);
	rt_heap_freed_add(t, &s1, lb, 1, 8, &ev);
	is_int(rt_heap_freed_count(t), 3, "the same request at another stack: another entry");
	is_int(rt_heap_labels_in_use(t), 2, "one label per request whatever its entries");
	rt_heap_labels_delete(t);
}

/* CLOCK: entries E0..E2 fill a table of three. E3 finds all three marked: the hand
 * clears them, comes round, and evicts E0. Then E1 is added to (marked again); E4
 * passes E1, clearing it, and evicts E2. */
static void test_clock(void)
{
	rt_heap_labels_t *t = rt_heap_labels_new(8, 3);
	int st[5];
	uint32_t l[5];
	rt_heap_labels_freed_t ev;
	for (int i = 0; i < 5; i++) {
		rt_heap_ids_t ids = ids_of(20 + (unsigned)i);
		l[i] = rt_heap_label_acquire(t, &ids);
	}
	for (int i = 0; i < 3; i++)
		ok(rt_heap_freed_add(t, &st[i], l[i], 1, 10 + i, &ev) == 0, "E%d fits", i);
	ok(rt_heap_freed_add(t, &st[3], l[3], 1, 13, &ev) == 1, "E3 evicts");
	ok(ev.stack == &st[0] && ev.label == l[0] && ev.bytes == 10, "E0, the first the hand reached");
	is_int(rt_heap_labels_in_use(t), 4, "E0's label released with it (four left of five)");
	rt_heap_ids_t ids1 = ids_of(21);
	uint32_t again = rt_heap_label_acquire(t, &ids1);
	ok(rt_heap_freed_add(t, &st[1], again, 1, 1, &ev) == 0, "E1 added to");
	ok(rt_heap_freed_add(t, &st[4], l[4], 1, 14, &ev) == 1 && ev.stack == &st[2] && ev.bytes == 12,
	   "E4 evicts E2: E1, added to since the hand passed, survives");
	double kept = 0;
	for (uint32_t i = 0; i < rt_heap_freed_count(t); i++)
		kept += rt_heap_freed_at(t, i)->bytes;
	is_int((long long)kept, 11 + 1 + 13 + 14, "E1 (with its addition), E3, E4 kept");
	rt_heap_labels_delete(t);
}

/* A random mix of live blocks and frees against a model of what each label holds. */
#define NL 16
#define NF 8
#define REQ 40
#define STACKS 5
static void test_random(void)
{
	rt_heap_labels_t *t = rt_heap_labels_new(NL, NF);
	static uint32_t live[4096];
	static int live_stack[4096];
	int stacks[STACKS];
	size_t nlive = 0;
	double freed_total = 0, evicted_total = 0, refused = 0;
	uint64_t x = 88172645463325252ull;
	int bad_bound = 0, bad_ids = 0;
	for (int step = 0; step < 200000; step++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		if (nlive < 4096 && (x & 1 || nlive == 0)) {
			unsigned req = (unsigned)(x >> 8) % REQ;
			rt_heap_ids_t ids = ids_of(req);
			uint32_t l = rt_heap_label_acquire(t, &ids);
			if (!l) {
				refused++;
				continue;
			}
			if (memcmp(rt_heap_label_ids(t, l), &ids, sizeof ids) != 0)
				bad_ids++;
			live_stack[nlive] = (int)((x >> 20) % STACKS);
			live[nlive++] = l;
		} else {
			size_t i = (size_t)(x >> 8) % nlive;
			rt_heap_labels_freed_t ev;
			if (rt_heap_freed_add(t, &stacks[live_stack[i]], live[i], 1, 10, &ev))
				evicted_total += ev.bytes;
			freed_total += 10;
			live[i] = live[--nlive];
			live_stack[i] = live_stack[nlive];
		}
		if (rt_heap_labels_high(t) > NL || rt_heap_freed_count(t) > NF)
			bad_bound = 1;
	}
	double kept = 0;
	for (uint32_t i = 0; i < rt_heap_freed_count(t); i++)
		kept += rt_heap_freed_at(t, i)->bytes;
	printf("# %zu live, %.0f refused, freed %.0f = kept %.0f + evicted %.0f\n", nlive, refused,
	       freed_total, kept, evicted_total);
	ok(!bad_bound, "never more than %d labels or %d freed entries", NL, NF);
	ok(!bad_ids, "every label names the ids it was acquired for");
	ok(kept + evicted_total == freed_total, "freed bytes conserved: kept per label, or given back");
	ok(refused > 0, "the workload filled the label table");
	/* Free every live block: what is named then is only what freed entries hold. */
	while (nlive) {
		rt_heap_labels_freed_t ev;
		nlive--;
		rt_heap_freed_add(t, &stacks[live_stack[nlive]], live[nlive], 1, 10, &ev);
	}
	ok(rt_heap_labels_in_use(t) <= NF, "with no live block, only freed entries name labels (%u)",
	   rt_heap_labels_in_use(t));
	rt_heap_labels_delete(t);
}

int main(void)
{
	ok(rt_heap_labels_new(0, 1) == NULL && rt_heap_labels_new(1, 0) == NULL, "empty bounds refused");
	test_interning();
	test_freed();
	test_clock();
	test_random();
	return done_testing();
}
