/* otlp_profile.h: one pprof profile (the gzipped bytes otshim writes to a file) as an
 * OTLP ExportProfilesServiceRequest (the development-stage profiles signal,
 * runtime/proto/otlp_profiles.proto). Each pprof sample type becomes one OTLP Profile
 * (that schema has one sample type per profile) over one shared dictionary; a sample's
 * trace_id/span_id labels become its link, its other labels attributes (thread_name
 * and thread_id under OpenTelemetry's names thread.name and thread.id). Converting the
 * written bytes, not the in-memory builder, keeps one source of truth for every profile
 * otshim makes: what a collector gets is what the file says.
 * Context: the exporter thread (allocates). */
#ifndef RT_OTLP_PROFILE_H
#define RT_OTLP_PROFILE_H

#include <stddef.h>
#include <stdint.h>

/* What the profile is, for its attributes. */
typedef struct rt_otlp_profile_about {
	const char *kind;            /* "cpu", "heap", "threads", "threadcreate", ... */
	const char *source;          /* "slow_request", "continuous" or "endpoint" */
	int32_t tid;                 /* the thread that served the request, or 0 */
	const char *thread_name;     /* its name, or NULL */
} rt_otlp_profile_about_t;

/* Encodes pprof_gz[0..len) as an ExportProfilesServiceRequest whose resource and scope
 * are the packed Resource and InstrumentationScope given (the spans'). Returns 0 with a
 * malloc'd *out of *out_len bytes, or -1 (not a pprof profile, or out of memory). */
int rt_otlp_profile_encode(const uint8_t *pprof_gz, size_t len, const rt_otlp_profile_about_t *about,
			   const uint8_t *resource, size_t resource_len, const uint8_t *scope,
			   size_t scope_len, uint8_t **out, size_t *out_len);

#endif
