/* span.h: turns finished requests into OTLP: one SPAN_KIND_SERVER span per request,
 * named "<METHOD> <path>", with the stable HTTP semantic-convention attributes and, on a
 * slow request, the profile.* attributes (doc/REFERENCE.md, "Spans"), all under the process's resource
 * (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, process.pid, process.executable.name,
 * host.name, telemetry.sdk.*). Encoding is protobuf-c, from runtime/proto/otlp_trace.proto.
 * Sending is emit/otlp_http.c; batching and retries emit/export.c.
 * Context: rt_span_rec_fill any thread; the rest the exporter thread (allocates). Pure
 * apart from reading the host name. */
#ifndef RT_SPAN_H
#define RT_SPAN_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "base/cfg.h"
#include "track/call.h"
#include "track/request.h"

#define RT_SPAN_SDK_VERSION "0.1.0" /* telemetry.sdk.version and the scope's version */

#define RT_SPAN_INLINE 256 /* bytes of path + query + user agent kept in the record itself */

/* What a span needs of a finished request, copied out of it (the request goes back to
 * its connection for reuse): the span exporter's queue holds these in place. */
typedef struct rt_span_rec {
	uint64_t start_mono_ns, end_mono_ns;
	uint64_t start_real_ns;       /* 0: the exporter derives it from start_mono_ns */
	uint8_t trace_id[16], span_id[8], parent_id[8];
	uint8_t has_parent, trace_flags, http_minor, method_len, ua_len, tls;
	uint8_t http2, has_grpc_status, grpc_status;
	uint8_t kind;                 /* RT_SPAN_SERVER, or RT_CALL_HTTP / RT_CALL_PEER: a client span */
	uint8_t call_failed;          /* client: connect failed or the answer was bad */
	uint16_t status, local_port, path_len, query_len;
	union {
		sa_family_t family;
		struct sockaddr_in v4;
		struct sockaddr_in6 v6;
	} peer;
	int64_t alloc_bytes;          /* slow requests: -1 unknown */
	rt_req_files_t *files;        /* slow requests' files; owned */
	char *long_strings;           /* path, query, user agent when over RT_SPAN_INLINE; owned */
	const char *db_system;        /* client: named by the peer's port, or NULL */
	char method[RT_HTTP_METHOD_MAX];
	char strings[RT_SPAN_INLINE]; /* path, then query, then user agent (a client span:
	                                 the peer as text) */
} rt_span_rec_t;

#define RT_SPAN_SERVER 0

/* Bytes of path, query and user agent that do not fit in the record: over
 * RT_SPAN_INLINE, rt_span_rec_fill wants a buffer of rt_span_rec_strings_len(r). */
size_t rt_span_rec_strings_len(const rt_req_t *r);
/* Copies r (finished, ids made) into rec, taking r->files (r->files becomes NULL) and
 * long_buf (NULL when the strings fit inline, else malloc'd and big enough). Any
 * thread; allocation-free. */
void rt_span_rec_fill(rt_span_rec_t *rec, rt_req_t *r, char *long_buf);
/* Bytes of strings a client span of c needs (over RT_SPAN_INLINE: a buffer). */
size_t rt_span_rec_call_strings_len(const rt_call_t *c);
/* Copies an outbound call (ended, its parent's ids in it) into rec as a client span.
 * Any thread; allocation-free. */
void rt_span_rec_fill_call(rt_span_rec_t *rec, const rt_call_t *c, char *long_buf);
/* Frees what rec owns. */
void rt_span_rec_free(rt_span_rec_t *rec);

typedef struct rt_span_resource rt_span_resource_t;

/* The resource and scope every batch carries, for this process (make it again in a
 * fork child: the pid changed). NULL on allocation failure. */
rt_span_resource_t *rt_span_resource_new(const rt_cfg_otlp_t *cfg);
void rt_span_resource_free(rt_span_resource_t *res);
/* Its service.name. */
const char *rt_span_resource_service(const rt_span_resource_t *res);
/* Its packed Resource and InstrumentationScope messages (profiles carry the same). */
void rt_span_resource_packed(const rt_span_resource_t *res, const uint8_t **resource,
			     size_t *resource_len, const uint8_t **scope, size_t *scope_len);

/* A byte buffer that grows; oom is set when it could not (later writes do nothing). */
typedef struct rt_pbuf {
	uint8_t *p;
	size_t len, cap;
	int oom;
} rt_pbuf_t;

/* What the encoder keeps from batch to batch (start zeroed), so a batch allocates
 * nothing once the buffers have grown to size. */
typedef struct rt_span_buf {
	rt_pbuf_t out;      /* the request being built */
	rt_pbuf_t scratch;  /* one span's body */
} rt_span_buf_t;

/* Encodes recs[0..n) (n >= 1) as one ExportTraceServiceRequest into buf.
 * profile_dir prefixes the file names of slow requests. Returns 0 with *data and *len
 * set (pointing into buf, valid until its next use), or -1 on allocation failure. */
int rt_span_encode(const rt_span_resource_t *res, rt_span_rec_t *const *recs, size_t n,
		   const char *profile_dir, rt_span_buf_t *buf, const uint8_t **data, size_t *len);
void rt_span_buf_free(rt_span_buf_t *buf);

#endif
