/* json.c: see json.h. */
#include "base/json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

void rt_json_put(rt_json_t *b, const char *s, size_t n)
{
	if (b->oom || rt_grow((void **)&b->p, &b->cap, b->len + n + 1, 1)) {
		b->oom = 1;
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

void rt_json_putf(rt_json_t *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n > 0)
		rt_json_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Length of a valid UTF-8 sequence at s (max n bytes), or 0. Valid as RFC 3629 has
 * it: no overlong forms, no surrogates (U+D800..DFFF), nothing above U+10FFFF; the
 * second byte's range depends on the first. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t len;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0; /* overlong below U+0800 */
	else if (c == 0xed)
		hi = 0x9f; /* surrogates */
	else if (c == 0xf0)
		lo = 0x90; /* overlong below U+10000 */
	else if (c == 0xf4)
		hi = 0x8f; /* above U+10FFFF */
	if (len > n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

void rt_json_put_str(rt_json_t *b, const char *s, size_t n)
{
	rt_json_put(b, "\"", 1);
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };
			rt_json_put(b, e, 2);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			rt_json_putf(b, "\\u%04x", c);
			i++;
		} else if (c < 0x80) {
			rt_json_put(b, s + i, 1);
			i++;
		} else {
			size_t l = utf8_len((const unsigned char *)s + i, n - i);
			if (l) {
				rt_json_put(b, s + i, l);
				i += l;
			} else {
				rt_json_put(b, "\\ufffd", 6);
				i++;
			}
		}
	}
	rt_json_put(b, "\"", 1);
}

void rt_json_free(rt_json_t *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}
