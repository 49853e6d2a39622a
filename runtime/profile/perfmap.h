/* perfmap.h: names for JIT-compiled code from /tmp/perf-<pid>.map, the file that
 * V8 (node --perf-basic-prof), the JVM agents, LuaJIT, .NET and others write for perf:
 * one "START SIZE name" line (hex, no 0x) per code object. Without it, samples in JIT
 * code show only as addresses.
 * Context: worker thread (allocates, reads a file). */
#ifndef RT_PERFMAP_H
#define RT_PERFMAP_H

#include <stdint.h>

typedef struct rt_perfmap rt_perfmap_t;

/* Reads this process's map; NULL when there is none (or on failure). */
rt_perfmap_t *rt_perfmap_open(void);
void rt_perfmap_close(rt_perfmap_t *m);

/* The name of the code object holding addr, or NULL. Valid until close. When code
 * objects overlap (code moved and the address reused), the latest line wins. */
const char *rt_perfmap_lookup(const rt_perfmap_t *m, uintptr_t addr);

#endif
