/* otlp_http.h: one exporter's HTTP client: POSTs bodies (OTLP protobuf to a collector,
 * pprof files to Pyroscope) to a URL with the configured headers, timeout and
 * compression, over libcurl (TLS for https://).
 * libcurl is loaded with dlopen on first use, so a process that exports nothing never
 * maps it or its TLS stack. Deciding what to send and when to retry is emit/export.c.
 * Context: the exporter thread only (blocks up to the timeout; allocates). */
#ifndef RT_OTLP_HTTP_H
#define RT_OTLP_HTTP_H

#include <stddef.h>
#include <stdint.h>

typedef struct rt_otlp_http rt_otlp_http_t;

#include "base/cfg.h"

/* A client for url with cfg's headers, timeout, compression and TLS files. NULL with a
 * reason in err when libcurl cannot be loaded or set up, or a TLS file is unreadable. */
rt_otlp_http_t *rt_otlp_http_new(const char *url, const rt_cfg_otlp_t *cfg, char *err,
				 size_t errcap);
/* The same for another kind of body: headers ("k=v,..." as configured), the body's
 * Content-Type, and gzip (1) or not; the timeout and TLS files are still cfg's. */
rt_otlp_http_t *rt_otlp_http_new_with(const char *url, const rt_cfg_otlp_t *cfg,
				      const char *headers, const char *content_type, int gzip,
				      char *err, size_t errcap);
void rt_otlp_http_free(rt_otlp_http_t *h);

/* Later posts go to url (the connection is kept when the host is the same). */
void rt_otlp_http_set_url(rt_otlp_http_t *h, const char *url);

/* POSTs body (with the client's Content-Type). Returns the HTTP status, or 0 when no answer
 * came (cannot connect, timed out) with the reason in err. *retry_after_s is the
 * answer's Retry-After in seconds, or -1 when it had none. */
int rt_otlp_http_post(rt_otlp_http_t *h, const uint8_t *body, size_t len, long *retry_after_s,
		      char *err, size_t errcap);

/* fn runs once libcurl and its TLS library have been set up in this process (start-up
 * wiring, before any client is made). */
void rt_otlp_http_on_tls_ready(void (*fn)(void));

#endif
