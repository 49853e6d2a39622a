/* fn_index.h: one module's function symbols sorted by address, so that naming an
 * address is a binary search. libdwfl's dwfl_module_addrinfo scans the whole symbol
 * table for every address (some 130 us an address in a C library of 10,000 symbols);
 * a profile names hundreds. Built once per module from the same symbol tables libdwfl
 * reads (dwfl_module_getsym_info), and choosing as it does: the closest symbol at or
 * below the address that contains it, at equal addresses a sized one, then the more
 * global, then the first in its table; failing that, a size-less label above every
 * sized symbol's end. Names belong to libdw and live as long as the module.
 * Context: worker thread (allocates). */
#ifndef RT_FN_INDEX_H
#define RT_FN_INDEX_H

#include <elfutils/libdwfl.h>
#include <stdint.h>

typedef struct rt_fn_index rt_fn_index_t;

/* NULL when the module has no symbol table or memory ran out. */
rt_fn_index_t *rt_fn_index_build(Dwfl_Module *m);
void rt_fn_index_free(rt_fn_index_t *ix);

/* The name of the function holding addr and its first address, or NULL. */
const char *rt_fn_index_find(const rt_fn_index_t *ix, uintptr_t addr, uintptr_t *start);

#endif
