/* index_log.h: index.jsonl, one JSON line per slow request whose profile set was
 * written: its ids, method, path, status, durations, CPU route and sample count, where
 * it waited (off-CPU time, its top wait), the
 * CPU other threads spent for it (handed off), allocated bytes, thread count and the
 * names of its files. Request text goes only
 * into escaped JSON strings. Context: the worker. */
#ifndef RT_INDEX_LOG_H
#define RT_INDEX_LOG_H

#include <stddef.h>

#include "base/json.h"
#include "emit/file_names.h"
#include "emit/samples.h"
#include "emit/wall_profile.h"
#include "track/request.h"

/* The files of one slow request's set; NULL where one was not written. */
typedef struct rt_set_files {
	const char *cpu, *wall, *heap, *threads, *threadcreate;
	int nthreads;               /* threads in the process; -1: unknown */
} rt_set_files_t;

/* The index line of r into b; cpu is its CPU profile's samples, wall what its wall
 * profile says (NULL: none was written). */
void rt_index_line(rt_json_t *b, const rt_req_t *r, const rt_ids_hex_t *id,
		   const rt_set_files_t *f, const rt_samples_t *cpu,
		   const rt_wall_summary_t *wall);
/* r's downstream time, slowest peer first, as prefix then [{"peer":…,"calls":…,"ms":…},…]
 * (nothing when it made no calls). */
void rt_index_downstream(rt_json_t *b, const rt_req_t *r, const char *prefix);
/* Appends it to index.jsonl. 0, or -1 with errno (EIO when b ran out of memory). */
int rt_index_append(const rt_json_t *b);

/* "perf", "timer" or "none": how a request's thread was sampled. */
const char *rt_index_route_name(int route);

#endif
