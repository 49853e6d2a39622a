/* pprof_text.h: the text forms Go's net/http/pprof serves for ?debug=N, written
 * from the same data as the protobuf profiles: the legacy heap profile (heap and
 * allocs), the count profiles (goroutine/threads and threadcreate: stacks grouped
 * and counted), and the goroutine?debug=2 dump (every thread on its own, with its
 * name). Names, file:line and JIT names come from rt_symbols, as for the protobuf.
 * The debug=1 forms end with a "--- Memory map: ---" section (the executable
 * mappings, /proc/self/maps lines), which pprof's legacy parser reads: so
 * `go tool pprof` can name the frames of a saved file, as it can for gperftools'.
 * Choosing a form from the query is emit/endpoint.c's job; capturing is
 * sample/heap_sampler.c's and sample/thread_capture.c's.
 * Context: any one thread that may allocate and read files (the endpoint's). Each
 * writer holds rt_symbols' shared instance while it writes. They return 0, or -1
 * when the stream failed (out of memory). */
#ifndef RT_PPROF_TEXT_H
#define RT_PPROF_TEXT_H

#include <stdint.h>
#include <stdio.h>

#include "sample/heap_sampler.h"
#include "sample/thread_capture.h"

/* "heap profile: <inuse objects>: <inuse bytes> [<alloc objects>: <alloc bytes>] @
 * heap/<2*rate>", then one record per allocation stack, largest in use first. */
int rt_pprof_text_heap(FILE *f, const rt_heap_snapshot_t *s);

/* "<name> profile: total N" (name "goroutine" or "threads"), then the captured stacks
 * grouped by identical stack, most common first: "<count> @ 0x.. 0x.." and a
 * "#\t0x..\tfunction+0x..\tfile:line" line per frame. Threads without a stack (ours,
 * or not answering) are counted in N and listed in "#" comment lines. */
int rt_pprof_text_threads(FILE *f, const rt_thread_capture_t *c, const char *name);

/* Every thread on its own, like a Go traceback: a header line, then per frame
 * "function(...)" and "\tfile:line +0x..", then "created by" with the creator's frame
 * for threads made by pthread_create. go_words: "goroutine <tid> [<state>, thread
 * "<name>"]:" (Go's shape, for /goroutine), else "thread <tid> "<name>" [<state>]:". */
int rt_pprof_text_thread_dump(FILE *f, const rt_thread_capture_t *c, int go_words);

/* "threadcreate profile: total N": the live registered threads, grouped by the stack
 * that created them. */
int rt_pprof_text_threadcreate(FILE *f);

/* The sampled count and size to print for a record whose unbiased estimates are
 * objects and bytes, so that pprof's own unbiasing (scaleHeapSample: both times
 * 1/(1-exp(-(size/count)/rate))) gives the estimates back. For blocks of one size
 * these are exactly the blocks sampled and their bytes, as Go prints, and pprof reads
 * our estimates back; for mixed sizes, as near as a whole count allows. Pure; exposed
 * for the unit test. */
void rt_pprof_text_sampled(double objects, double bytes, uint64_t rate, int64_t *count,
			   int64_t *size);

#endif
