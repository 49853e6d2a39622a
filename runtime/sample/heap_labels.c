/* heap_labels.c: the label and freed-per-label tables (see sample/heap_labels.h).
 * Both are arrays with chained hash buckets of 32-bit links (index + 1; 0 ends a
 * chain), in one mapping laid out at creation. */
#include "sample/heap_labels.h"

#include <stddef.h>
#include <string.h>
#include <sys/mman.h>

#define MAX_ENTRIES (1u << 24)

typedef struct label {
	rt_heap_ids_t ids;
	uint32_t refs;       /* live blocks and freed entries naming it; 0: slot free */
	uint32_t next;       /* hash chain while named, free list while not */
	uint32_t gen;
} label_t;

typedef struct freed {
	rt_heap_labels_freed_t f;
	uint32_t next;       /* hash chain */
	uint32_t recent;     /* added to since the CLOCK hand last passed */
} freed_t;

struct rt_heap_labels {
	size_t map_len;
	uint32_t max_labels, max_freed;
	uint32_t label_mask, freed_mask;  /* bucket counts - 1 */
	uint32_t high;                    /* label slots ever used */
	uint32_t free_head;               /* released label slots */
	uint32_t in_use;
	uint32_t nfreed, hand;
	label_t *labels;
	uint32_t *label_buckets;
	freed_t *freed;
	uint32_t *freed_buckets;
};

static uint32_t pow2_at_least(uint32_t n)
{
	uint32_t p = 1;
	while (p < n)
		p <<= 1;
	return p;
}

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

rt_heap_labels_t *rt_heap_labels_new(uint32_t max_labels, uint32_t max_freed)
{
	if (max_labels == 0 || max_labels > MAX_ENTRIES || max_freed == 0 || max_freed > MAX_ENTRIES)
		return NULL;
	uint32_t lb = pow2_at_least(max_labels), fb = pow2_at_least(max_freed);
	size_t off_labels = align64(sizeof(rt_heap_labels_t));
	size_t off_lb = off_labels + align64((size_t)max_labels * sizeof(label_t));
	size_t off_freed = off_lb + align64((size_t)lb * sizeof(uint32_t));
	size_t off_fb = off_freed + align64((size_t)max_freed * sizeof(freed_t));
	size_t len = off_fb + (size_t)fb * sizeof(uint32_t);
	/* Untouched pages cost nothing: a table that stays small stays small in memory. */
	char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	rt_heap_labels_t *t = (rt_heap_labels_t *)m;
	t->map_len = len;
	t->max_labels = max_labels;
	t->max_freed = max_freed;
	t->label_mask = lb - 1;
	t->freed_mask = fb - 1;
	t->labels = (label_t *)(m + off_labels);
	t->label_buckets = (uint32_t *)(m + off_lb);
	t->freed = (freed_t *)(m + off_freed);
	t->freed_buckets = (uint32_t *)(m + off_fb);
	return t;
}

void rt_heap_labels_delete(rt_heap_labels_t *t)
{
	if (t)
		munmap(t, t->map_len);
}

/* ---- labels ---- */

static uint32_t hash_ids(const rt_heap_ids_t *ids)
{
	uint64_t w[3];
	memcpy(w, ids, sizeof w);
	uint64_t h = (w[0] * 0x9E3779B97F4A7C15ull) ^ (w[1] * 0xC2B2AE3D27D4EB4Full) ^
		     (w[2] * 0x165667B19E3779F9ull);
	return (uint32_t)(h ^ (h >> 32));
}

static label_t *slot(const rt_heap_labels_t *t, uint32_t label) { return &t->labels[label - 1]; }

uint32_t rt_heap_label_acquire(rt_heap_labels_t *t, const rt_heap_ids_t *ids)
{
	uint32_t *head = &t->label_buckets[hash_ids(ids) & t->label_mask];
	for (uint32_t i = *head; i; i = slot(t, i)->next)
		if (memcmp(&slot(t, i)->ids, ids, sizeof *ids) == 0) {
			slot(t, i)->refs++;
			return i;
		}
	uint32_t i;
	if (t->free_head) {
		i = t->free_head;
		t->free_head = slot(t, i)->next;
	} else if (t->high < t->max_labels) {
		i = ++t->high;
	} else {
		return 0;
	}
	label_t *l = slot(t, i);
	l->ids = *ids;
	l->refs = 1;
	l->gen++;
	l->next = *head;
	*head = i;
	t->in_use++;
	return i;
}

void rt_heap_label_release(rt_heap_labels_t *t, uint32_t label)
{
	label_t *l = slot(t, label);
	if (--l->refs)
		return;
	uint32_t *pp = &t->label_buckets[hash_ids(&l->ids) & t->label_mask];
	while (*pp != label)
		pp = &slot(t, *pp)->next;
	*pp = l->next;
	l->next = t->free_head;
	t->free_head = label;
	t->in_use--;
}

const rt_heap_ids_t *rt_heap_label_ids(const rt_heap_labels_t *t, uint32_t label)
{
	return &slot(t, label)->ids;
}

uint32_t rt_heap_label_gen(const rt_heap_labels_t *t, uint32_t label) { return slot(t, label)->gen; }
uint32_t rt_heap_labels_in_use(const rt_heap_labels_t *t) { return t->in_use; }
uint32_t rt_heap_labels_high(const rt_heap_labels_t *t) { return t->high; }

/* ---- freed totals per (stack, label) ---- */

static uint32_t hash_key(const void *stack, uint32_t label)
{
	uint64_t h = ((uint64_t)(uintptr_t)stack ^ ((uint64_t)label << 40)) * 0x9E3779B97F4A7C15ull;
	return (uint32_t)(h >> 32);
}

static uint32_t *freed_bucket(rt_heap_labels_t *t, const void *stack, uint32_t label)
{
	return &t->freed_buckets[hash_key(stack, label) & t->freed_mask];
}

/* Frees the entry the CLOCK hand stops at: the first not added to since the hand last
 * passed it. Returns its index, its totals in *out. Only when the table is full. */
static uint32_t evict(rt_heap_labels_t *t, rt_heap_labels_freed_t *out)
{
	for (;;) {
		freed_t *e = &t->freed[t->hand];
		uint32_t i = t->hand;
		t->hand = (t->hand + 1) % t->nfreed;
		if (e->recent) {
			e->recent = 0;
			continue;
		}
		uint32_t *pp = freed_bucket(t, e->f.stack, e->f.label);
		while (*pp != i + 1)
			pp = &t->freed[*pp - 1].next;
		*pp = e->next;
		*out = e->f;
		rt_heap_label_release(t, e->f.label);
		return i;
	}
}

int rt_heap_freed_add(rt_heap_labels_t *t, void *stack, uint32_t label, double objects,
		      double bytes, rt_heap_labels_freed_t *evicted)
{
	uint32_t *head = freed_bucket(t, stack, label);
	for (uint32_t i = *head; i; i = t->freed[i - 1].next) {
		freed_t *e = &t->freed[i - 1];
		if (e->f.stack == stack && e->f.label == label) {
			e->f.objects += objects;
			e->f.bytes += bytes;
			e->recent = 1;
			rt_heap_label_release(t, label); /* the entry holds one already */
			return 0;
		}
	}
	int full = t->nfreed == t->max_freed;
	uint32_t i = full ? evict(t, evicted) : t->nfreed++;
	freed_t *e = &t->freed[i];
	e->f = (rt_heap_labels_freed_t){ stack, label, objects, bytes };
	e->recent = 1;
	head = freed_bucket(t, stack, label); /* an eviction may have emptied it */
	e->next = *head;
	*head = i + 1;
	return full;
}

uint32_t rt_heap_freed_count(const rt_heap_labels_t *t) { return t->nfreed; }

const rt_heap_labels_freed_t *rt_heap_freed_at(const rt_heap_labels_t *t, uint32_t i)
{
	return &t->freed[i].f;
}
