/* otlp_http.h: one OTLP/HTTP client: POSTs protobuf bodies to a collector URL with
 * the configured headers, timeout and compression, over libcurl (TLS for https://).
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
void rt_otlp_http_free(rt_otlp_http_t *h);

/* POSTs body as application/x-protobuf. Returns the HTTP status, or 0 when no answer
 * came (cannot connect, timed out) with the reason in err. *retry_after_s is the
 * answer's Retry-After in seconds, or -1 when it had none. */
int rt_otlp_http_post(rt_otlp_http_t *h, const uint8_t *body, size_t len, long *retry_after_s,
		      char *err, size_t errcap);

/* fn runs once libcurl and its TLS library have been set up in this process (start-up
 * wiring, before any client is made). */
void rt_otlp_http_on_tls_ready(void (*fn)(void));

#endif
