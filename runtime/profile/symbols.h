/* symbols.h: names for code addresses of this process: function names from symbol
 * tables, file and line where DWARF debug info exists, and the module (with its build
 * id) an address belongs to. Backed by elfutils libdw (Dwfl) over /proc/self.
 * Context: worker thread only (allocates, reads files). */
#ifndef RT_SYMBOLS_H
#define RT_SYMBOLS_H

#include <stddef.h>
#include <stdint.h>

typedef struct rt_symbols rt_symbols_t;

typedef struct rt_symbol {
	const char *function;  /* NULL when unknown; owned by the rt_symbols_t */
	const char *file;      /* NULL without debug info */
	int line;              /* 0 without debug info */
	const char *module;    /* path of the file mapped there, or NULL */
	uintptr_t start;       /* the function's first address; 0 when unknown (JIT code) */
} rt_symbol_t;

/* A snapshot of the modules loaded now. NULL on failure. */
rt_symbols_t *rt_symbols_open(void);
void rt_symbols_close(rt_symbols_t *s);

/* Fills *out for addr. Returns 0 when the address is in a known module, else -1
 * (then *out holds NULLs). Strings stay valid until rt_symbols_close, except file,
 * which may be rebuilt by the next lookup. */
int rt_symbols_lookup(rt_symbols_t *s, uintptr_t addr, rt_symbol_t *out);

/* The build id of the module containing addr, as lowercase hex into buf (size >=
 * 2*20+1 is enough for GNU build ids); "" when none. */
void rt_symbols_build_id(rt_symbols_t *s, uintptr_t addr, char *buf, size_t len);

/* The shared instance, reopened when the mapped modules changed, under a lock held
 * until rt_symbols_release. May return NULL (then release all the same). */
rt_symbols_t *rt_symbols_acquire(void);
void rt_symbols_release(void);
void rt_symbols_fork_child(void);

/* Closes the shared instance and gives its memory back when it has not been used for
 * a few seconds; does nothing while another thread holds it. Called by the worker
 * each round. */
void rt_symbols_let_go_if_idle(uint64_t now_ns);

/* The memory the symboliser holds now, in KiB (-1 when unknown: system allocator). */
long long rt_symbols_kb(void);

#endif
