/* profile.h: builds pprof profiles (google/pprof profile.proto) in memory and
 * writes them gzip-compressed. Owns the string table, locations, functions, mappings,
 * labels and sample aggregation; asks rt_symbols for names and lines. Writing to disk
 * (temp name + rename, mode 0600) is rt_profile_write_gz; deciding *whether* to write
 * (rate limits, disk cap) is rt_writer's job.
 * Context: worker thread only (allocates freely, may read files). Not thread-safe:
 * one profile is built by one thread. */
#ifndef RT_PROFILE_H
#define RT_PROFILE_H

#include <stddef.h>
#include <stdint.h>

typedef struct rt_profile rt_profile_t;

typedef struct rt_value_type {
	const char *type;  /* e.g. "cpu" */
	const char *unit;  /* e.g. "nanoseconds" */
} rt_value_type_t;

typedef struct rt_label {
	const char *key;
	const char *str;   /* string label when non-NULL ... */
	int64_t num;       /* ... else a numeric label */
} rt_label_t;

/* A new empty profile with the given sample types (copied). default_type names the
 * pprof default_sample_type, or NULL. Returns NULL on allocation failure. */
rt_profile_t *rt_profile_new(const rt_value_type_t *types, size_t ntypes,
			     const char *default_type);
void rt_profile_free(rt_profile_t *p);

void rt_profile_set_period(rt_profile_t *p, const char *type, const char *unit, int64_t period);
void rt_profile_set_time(rt_profile_t *p, int64_t time_nanos, int64_t duration_nanos);
/* Appends a line to the profile's comment list (copied). */
void rt_profile_add_comment(rt_profile_t *p, const char *comment);

/* Adds one sample. pcs[0] is the leaf (the interrupted instruction when leaf_is_exact,
 * else a return address); pcs[i>0] are return addresses, which are symbolised at pc-1
 * so the call line is reported. values has ntypes entries. Samples with the same stack
 * and the same labels are merged by adding values. Returns 0, or -1 on allocation
 * failure (the sample is lost, the profile stays valid). */
int rt_profile_add_sample(rt_profile_t *p, const uintptr_t *pcs, size_t npcs, int leaf_is_exact,
			  const int64_t *values, const rt_label_t *labels, size_t nlabels);

/* Adds a sample whose whole stack is one pseudo-frame with that name and no address,
 * for what has no stack to show (a thread that did not answer). */
/* The pseudo-frame of CPU time a thread's clock measured and no sample holds. */
#define RT_FRAME_ON_CPU_UNSAMPLED "[on CPU, not sampled]"
int rt_profile_add_sample_frame(rt_profile_t *p, const char *frame, const int64_t *values,
				const rt_label_t *labels, size_t nlabels);

size_t rt_profile_sample_count(const rt_profile_t *p);

/* Symbolises (function names from symbol tables, file:line where debug info exists,
 * mappings from /proc/self/maps with build ids), encodes, gzips and writes the profile
 * to path via a temporary name in the same directory and rename(2); the file is 0600.
 * Returns 0, or -1 with nothing left behind (no partial or temporary file). */
int rt_profile_write_gz(rt_profile_t *p, const char *path);

/* Writes an encoded profile (gz[0..len), from rt_profile_encode_gz) to path the same
 * way: temporary name, rename, 0600, nothing left behind on failure. 0, or -1. */
int rt_profile_write_bytes(const uint8_t *gz, size_t len, const char *path);

/* Same encoding, into a malloc'd buffer (for the pprof endpoint and tests).
 * Returns 0 and sets *out and *out_len (caller frees), or -1. */
int rt_profile_encode_gz(rt_profile_t *p, uint8_t **out, size_t *out_len);

#endif
