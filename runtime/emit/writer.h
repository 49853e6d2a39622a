/* rt_writer.h: everything that reaches the profile directory: slow-request profile
 * sets (names from validated ids only), index.jsonl, otshim-stats-<pid>.json, the
 * per-minute rate limit and the disk cap. Building a profile is rt_profile.c.
 * Context: worker thread (and the exit path for the stats file). */
#ifndef RT_WRITER_H
#define RT_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "profile/profile.h"
#include "track/request.h"

/* The samples collected for one request: sample i has weights[i] ns and the stack
 * pcs[offs[i] .. offs[i]+npcs[i]). */
typedef struct rt_samples {
	size_t n, cap;
	uint64_t *weights;
	uint32_t *npcs;
	size_t *offs;
	uintptr_t *pcs;
	size_t pcs_len, pcs_cap;
	uint64_t lost;          /* samples not kept (cap reached or no memory) */
} rt_samples_t;

int rt_samples_add(rt_samples_t *s, uint64_t weight, const uintptr_t *pcs, uint32_t npcs);
void rt_samples_free(rt_samples_t *s);

/* Writes the profile set and index line for a finished slow request, subject to the
 * rate limit and the disk cap (a refusal is counted as a dropped profile). When out is
 * not NULL it gets the names of the files written (all "" when none was). */
void rt_writer_slow_request(const rt_req_t *r, const rt_samples_t *s, rt_req_files_t *out);

/* Continuous mode: writes continuous-cpu-<unix>.pb.gz and continuous-heap-<unix>.pb.gz
 * (either may be NULL), then deletes the oldest continuous files while the directory
 * is over OTSHIM_MAX_DISK_MB. 0, or -1 when a file could not be written. Called from
 * the continuous thread only. */
int rt_writer_continuous(rt_profile_t *cpu, rt_profile_t *heap, uint64_t unix_s, int with_pid);

/* Rewrites otshim-stats-<pid>.json. Thread-safe. */
void rt_writer_stats(void);

/* The same at exit; when no stats file can be written, the counts go to stderr in
 * one line. */
void rt_writer_stats_final(void);

/* Counters the writer reports. */
extern _Atomic uint64_t rt_stat_slow, rt_stat_written, rt_stat_dropped, rt_stat_errors;

void rt_writer_fork_child(void);

#endif
