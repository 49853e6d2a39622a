/* profile_export.h: profiles leave the host. Every profile otshim makes (a slow
 * request's set, a continuous period, an endpoint's answer) goes through
 * rt_profile_save or rt_profile_export_offer; with OTEL_PROFILES_EXPORTER=otlp or
 * OTSHIM_PYROSCOPE_URL set, a copy of its bytes waits in a bounded queue (64 profiles,
 * 32 MiB) for the exporter thread (emit/export.c), which sends it to each destination:
 * as OTLP profiles to the collector (emit/otlp_profile.c) and as the pprof file itself
 * to Pyroscope's /ingest. A destination that does not answer, or answers 429/502/503/
 * 504, is tried again with exponential backoff (honouring Retry-After) while the others
 * go on; what it has not got stays queued until it answers, so profiles arrive after an
 * outage, each once. A full queue refuses new profiles; refusals and refused profiles
 * count in profiles_export_dropped, deliveries in profiles_exported (one per profile
 * and destination); one warning per outage.
 * Context: producers are otshim's own threads (worker, continuous, endpoint), never
 * the request path; the queue's lock is held only to add or take. */
#ifndef RT_PROFILE_EXPORT_H
#define RT_PROFILE_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "emit/span.h"
#include "profile/profile.h"

/* What a profile is, for its OTLP attributes and its Pyroscope labels. */
typedef struct rt_profile_about {
	const char *kind;             /* "cpu", "heap", "threads", "threadcreate", ... */
	const char *source;           /* "slow_request", "continuous" or "endpoint" */
	const uint8_t *trace_id;      /* the slow request's ids (16 and 8 bytes), or NULL */
	const uint8_t *span_id;
	int32_t tid;                  /* the thread that served it, or 0 */
	const char *thread_name;      /* its name if known, else NULL (read from /proc) */
	uint64_t start_real_ns;       /* the wall-clock span the profile covers */
	uint64_t end_real_ns;
} rt_profile_about_t;

/* From initialisation: export is on when configured; wake is how a new profile wakes
 * the exporter thread. */
void rt_profile_export_init(void (*wake)(void));
int rt_profile_export_enabled(void);

/* Writes p to path (rt_profile_write_bytes) and offers the same bytes for export.
 * 0, or -1 when the file could not be made (nothing is then offered). */
int rt_profile_save(rt_profile_t *p, const char *path, const rt_profile_about_t *about);
/* Queues a copy of gz[0..len) for every destination; no-op when export is off. */
void rt_profile_export_offer(const uint8_t *gz, size_t len, const rt_profile_about_t *about);

/* ---- the exporter thread ---- */

/* Makes the destinations' HTTP clients; res is the spans' resource (kept, not owned). */
void rt_profile_export_begin(const rt_span_resource_t *res);
/* Monotonic ms at which something is due, or UINT64_MAX when nothing is queued. */
uint64_t rt_profile_export_due_ms(void);
/* Sends what is due now to each destination not backing off. */
void rt_profile_export_send(void);
/* At exit: what is queued, each profile tried once per destination, until deadline
 * (monotonic ms). */
void rt_profile_export_flush(uint64_t deadline_ms);
/* In a fork child: the queued profiles are the parent's (dropped, not sent twice). */
void rt_profile_export_fork_child(void);

#endif
