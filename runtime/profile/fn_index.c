/* fn_index.c: see fn_index.h. libdwfl looks first among the global (and weak)
 * symbols, and among the local ones only when no sized global holds the address, so
 * the index keeps the two apart. In each, symbols are sorted by address and, at equal
 * addresses, best last (sized, more global, earlier in the table): a search walks
 * back from the last symbol at or below the address, and stops as soon as no symbol
 * that far down reaches it (end_max: the highest end among the symbols up to there). */
#include "profile/fn_index.h"

#include <gelf.h>
#include <stdlib.h>

#include "base/util.h"

typedef struct fn {
	uintptr_t start;
	uintptr_t size;
	uintptr_t section_end; /* size-less: the end of its section (a label names no
				* address past it); the next address for an absolute one */
	const char *name;
	uint32_t order;  /* its place in the symbol tables */
	uint8_t binding; /* binding_value() */
} fn_t;

typedef struct half {
	fn_t *fns;
	uintptr_t *end_max;
	size_t n, cap;
} half_t;

struct rt_fn_index {
	half_t global, local;
};

static int binding_value(const GElf_Sym *sym)
{
	switch (GELF_ST_BIND(sym->st_info)) {
	case STB_GLOBAL:
		return 3;
	case STB_WEAK:
		return 2;
	case STB_LOCAL:
		return 1;
	default:
		return 0;
	}
}

/* By address; at one address the best last: sized, then the more global, then the
 * smaller (its end is closer), then the first in the tables (libdwfl's preferences). */
static int by_start(const void *a, const void *b)
{
	const fn_t *x = a, *y = b;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if ((x->size != 0) != (y->size != 0))
		return x->size != 0 ? 1 : -1;
	if (x->binding != y->binding)
		return x->binding < y->binding ? -1 : 1;
	if (x->size != y->size)
		return x->size > y->size ? -1 : 1;
	return x->order > y->order ? -1 : x->order < y->order;
}

static int push(half_t *h, const fn_t *f)
{
	if (rt_grow((void **)&h->fns, &h->cap, h->n + 1, sizeof *h->fns) != 0)
		return -1;
	h->fns[h->n++] = *f;
	return 0;
}

static int finish(half_t *h)
{
	if (!h->n)
		return 0;
	qsort(h->fns, h->n, sizeof *h->fns, by_start);
	h->end_max = malloc(h->n * sizeof *h->end_max);
	if (!h->end_max)
		return -1;
	uintptr_t m = 0;
	for (size_t i = 0; i < h->n; i++) {
		uintptr_t end = h->fns[i].start + h->fns[i].size;
		m = end > m ? end : m;
		h->end_max[i] = m;
	}
	return 0;
}

rt_fn_index_t *rt_fn_index_build(Dwfl_Module *m)
{
	int n = dwfl_module_getsymtab(m);
	if (n <= 0)
		return NULL;
	rt_fn_index_t *ix = calloc(1, sizeof *ix);
	if (!ix)
		return NULL;
	for (int i = 1; i < n; i++) {
		GElf_Sym sym;
		GElf_Addr value;
		GElf_Word shndx;
		Elf *elf;
		Dwarf_Addr bias;
		const char *name = dwfl_module_getsym_info(m, i, &sym, &value, &shndx, &elf, &bias);
		int type = GELF_ST_TYPE(sym.st_info);
		if (!name || !name[0] || sym.st_shndx == SHN_UNDEF || type == STT_SECTION ||
		    type == STT_FILE || type == STT_TLS)
			continue;
		fn_t f = { (uintptr_t)value, (uintptr_t)sym.st_size, (uintptr_t)value + 1, name,
			   (uint32_t)i, (uint8_t)binding_value(&sym) };
		GElf_Shdr sh;
		if (!sym.st_size && shndx < SHN_LORESERVE && elf_getscn(elf, shndx) &&
		    gelf_getshdr(elf_getscn(elf, shndx), &sh))
			f.section_end = (uintptr_t)(sh.sh_addr + bias + sh.sh_size);
		half_t *h = GELF_ST_BIND(sym.st_info) == STB_LOCAL ? &ix->local : &ix->global;
		if (push(h, &f) != 0)
			goto fail;
	}
	if (finish(&ix->global) != 0 || finish(&ix->local) != 0)
		goto fail;
	return ix;
fail:
	rt_fn_index_free(ix);
	return NULL;
}

void rt_fn_index_free(rt_fn_index_t *ix)
{
	if (!ix)
		return;
	free(ix->global.fns);
	free(ix->global.end_max);
	free(ix->local.fns);
	free(ix->local.end_max);
	free(ix);
}

/* 1 + the index of the last symbol starting at or below addr; 0 when none does. */
static size_t upper(const half_t *h, uintptr_t addr)
{
	size_t lo = 0, hi = h->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (h->fns[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The sized symbol holding addr that starts closest below it (best at a tie). */
static const fn_t *holder(const half_t *h, size_t up, uintptr_t addr)
{
	for (size_t j = up; j > 0 && h->end_max[j - 1] > addr; j--) {
		const fn_t *f = &h->fns[j - 1];
		if (f->size && addr - f->start < f->size)
			return f;
	}
	return NULL;
}

/* The size-less symbol (an assembly label) that may name addr: only one above every
 * sized symbol below addr can (see min_label below), so it is the last symbol at or
 * below addr, if that has no size (at a tie, a sized one sorts last). */
static const fn_t *label(const half_t *h, size_t up)
{
	return up && !h->fns[up - 1].size ? &h->fns[up - 1] : NULL;
}

const char *rt_fn_index_find(const rt_fn_index_t *ix, uintptr_t addr, uintptr_t *start)
{
	size_t gup = upper(&ix->global, addr);
	const fn_t *f = holder(&ix->global, gup, addr);
	const fn_t *lab = label(&ix->global, gup);
	uintptr_t min_label = gup ? ix->global.end_max[gup - 1] : 0;
	/* The local symbols, unless a global one holds the address or a global label
	 * stands exactly at it. */
	if (!f && !(lab && lab->start == addr)) {
		size_t lup = upper(&ix->local, addr);
		f = holder(&ix->local, lup, addr);
		const fn_t *llab = label(&ix->local, lup);
		if (llab && (!lab || llab->start > lab->start))
			lab = llab;
		if (lup && ix->local.end_max[lup - 1] > min_label)
			min_label = ix->local.end_max[lup - 1];
	}
	if (!f && lab && lab->start >= min_label && addr < lab->section_end)
		f = lab;
	if (!f)
		return NULL;
	*start = f->start;
	return f->name;
}
