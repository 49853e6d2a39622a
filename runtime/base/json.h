/* json.h: a growing buffer for the one-line JSON documents the shim writes (index
 * lines, the stats file). Out of memory is sticky: the buffer stops growing, sets oom,
 * and its owner drops the line whole rather than write half of it. */
#ifndef RT_JSON_H
#define RT_JSON_H

#include <stddef.h>

typedef struct rt_json {
	char *p;                /* NUL-terminated text so far; NULL while empty */
	size_t len, cap;
	int oom;
} rt_json_t;

void rt_json_put(rt_json_t *b, const char *s, size_t n);
void rt_json_putf(rt_json_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A JSON string from arbitrary bytes (request text): controls, quotes and backslashes
 * escaped; invalid UTF-8 becomes U+FFFD, so the line stays valid JSON. */
void rt_json_put_str(rt_json_t *b, const char *s, size_t n);
void rt_json_free(rt_json_t *b);

#endif
