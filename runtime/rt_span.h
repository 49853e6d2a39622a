/* rt_span.h: turns finished requests into OTLP: one SPAN_KIND_SERVER span per request,
 * named "<METHOD> <path>", with the stable HTTP semantic-convention attributes and, on a
 * slow request, the profile.* attributes of SPEC §5, all under the process's resource
 * (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, process.pid, process.executable.name,
 * host.name, telemetry.sdk.*). Encoding is protobuf-c, from runtime/proto/otlp_trace.proto.
 * Sending is rt_otlp_http.c; batching and retries rt_export.c.
 * Context: the exporter thread (allocates). Pure apart from reading the host name. */
#ifndef RT_SPAN_H
#define RT_SPAN_H

#include <stddef.h>
#include <stdint.h>

#include "rt_cfg.h"
#include "rt_req.h"

#define RT_SPAN_SDK_VERSION "0.1.0" /* telemetry.sdk.version and the scope's version */

typedef struct rt_span_resource rt_span_resource_t;

/* The resource and scope every batch carries, for this process (make it again in a
 * fork child: the pid changed). NULL on allocation failure. */
rt_span_resource_t *rt_span_resource_new(const rt_cfg_otlp_t *cfg);
void rt_span_resource_free(rt_span_resource_t *res);

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

/* Encodes reqs[0..n) (n >= 1, ids made) as one ExportTraceServiceRequest into buf.
 * profile_dir prefixes the file names of slow requests. Returns 0 with *data and *len
 * set (pointing into buf, valid until its next use), or -1 on allocation failure. */
int rt_span_encode(const rt_span_resource_t *res, rt_req_t *const *reqs, size_t n,
		   const char *profile_dir, rt_span_buf_t *buf, const uint8_t **data, size_t *len);
void rt_span_buf_free(rt_span_buf_t *buf);

#endif
