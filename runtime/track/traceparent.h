/* traceparent.h: W3C trace-context ids. Parsing is pure (no I/O, no globals) so it
 * can be fuzzed; id generation uses getrandom(2). Ids are kept as bytes and only ever
 * rendered as lowercase hex, so no byte of a request reaches a file name. */
#ifndef RT_TRACEPARENT_H
#define RT_TRACEPARENT_H

#include <stddef.h>
#include <stdint.h>

#include "base/hex.h"

typedef struct rt_trace_ctx {
	uint8_t trace_id[16];
	uint8_t parent_id[8];
	uint8_t flags;
} rt_trace_ctx_t;

/* Parses a traceparent header value (already trimmed of surrounding whitespace).
 * Accepts only version "00" with exactly "00-<32 lowercase hex>-<16 lowercase hex>-<2
 * lowercase hex>", trace id and parent id not all zero. Returns 0 and fills *out, or
 * -1 (and leaves *out untouched) for anything else. */
int rt_traceparent_parse(const char *s, size_t len, rt_trace_ctx_t *out);


/* Fills n random bytes, never all zero. Uses getrandom(GRND_NONBLOCK); if that fails
 * falls back to a per-thread xorshift seeded from time and tid. Any context but signal. */
void rt_random_id(uint8_t *out, size_t n);

#endif
