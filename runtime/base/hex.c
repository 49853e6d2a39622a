/* hex.c: see hex.h. */
#include "base/hex.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#ifdef __SSE2__
/* Eight bytes as sixteen hex digits at once: ids are made of whole eights, and a span
 * or a traceparent line writes three to five of them for every request. */
static void hex8(const uint8_t *in, char *out)
{
	const __m128i low4 = _mm_set1_epi8(0x0f);
	__m128i v = _mm_loadl_epi64((const __m128i *)(const void *)in);
	__m128i nib = _mm_unpacklo_epi8(_mm_and_si128(_mm_srli_epi16(v, 4), low4),
					_mm_and_si128(v, low4)); /* high nibble first */
	__m128i letter = _mm_and_si128(_mm_cmpgt_epi8(nib, _mm_set1_epi8(9)),
				       _mm_set1_epi8('a' - '0' - 10));
	_mm_storeu_si128((__m128i *)(void *)out,
			 _mm_add_epi8(_mm_add_epi8(nib, _mm_set1_epi8('0')), letter));
}
#endif

void rt_hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i = 0;
#ifdef __SSE2__
	for (; i + 8 <= n; i += 8)
		hex8(in + i, out + 2 * i);
#endif
	for (; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = 0;
}

static int digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int rt_hex_decode(const char *s, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int hi = digit(s[2 * i]);
		int lo = hi < 0 ? -1 : digit(s[2 * i + 1]);
		if (lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return s[2 * n] ? -1 : 0;
}
