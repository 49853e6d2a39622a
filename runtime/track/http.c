/* http.c: incremental HTTP/1.x boundary parsers (see track/http.h). One byte-at-a-time
 * state machine for heads, O(1) skipping for bodies. Nothing is buffered but the few
 * fields the shim reports, so a connection's parser is a fixed-size struct whatever
 * bytes arrive. Pure: no I/O, no globals, no allocation. */
#include "track/http.h"

#include <stddef.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* ---- grammar positions ---- */

enum {
	/* request line */
	S_REQ_START = 0, S_METHOD, S_TARGET, S_QUERY, S_REQ_VERSION, S_REQ_VERSION_END,
	/* status line */
	S_RESP_START, S_RESP_VERSION, S_STATUS, S_REASON,
	/* header block, shared */
	S_LINE_LF, S_HDR_START, S_HDR_NAME, S_HDR_OWS, S_HDR_VALUE, S_HDR_VALUE_LF, S_HEAD_LF,
	/* bodies, shared */
	S_BODY, S_CHUNK_SIZE, S_CHUNK_EXT, S_CHUNK_SIZE_LF, S_CHUNK_DATA, S_CHUNK_DATA_CR,
	S_CHUNK_DATA_LF, S_TRAILER_START, S_TRAILER_LINE, S_TRAILER_END_LF, S_UNTIL_CLOSE,
	/* terminal */
	S_ERROR, S_UPGRADED,
};

enum { H_NONE = 0, H_CL, H_TE, H_CONN, H_TRACEPARENT, H_UA };

#define CHUNK_SIZE_MAX (1ull << 60)
#define TRAILER_LIMIT RT_HTTP_HEADER_LIMIT

/* What the caller of a byte step should do next. */
enum { STEP_MORE = 0, STEP_EVENT };

/* How a header line's first byte decides its fate. Only the five names we read
 * (Content-Length, Connection, Transfer-Encoding, traceparent, User-Agent) begin with
 * c, t or u: every other line is skipped to its LF whatever it holds, and the server
 * judges it. A line beginning with a space or tab continues the previous one (obsolete
 * folding): it could carry framing we would miss, so it is refused. CR and LF begin
 * the blank line that ends the head. */
enum { LINE_SKIP = 0, LINE_MAYBE, LINE_FOLD, LINE_BLANK };
static const uint8_t line_kind[256] = {
	['C'] = LINE_MAYBE, ['c'] = LINE_MAYBE, ['T'] = LINE_MAYBE, ['t'] = LINE_MAYBE,
	['U'] = LINE_MAYBE, ['u'] = LINE_MAYBE, [' '] = LINE_FOLD, ['\t'] = LINE_FOLD,
	['\r'] = LINE_BLANK, ['\n'] = LINE_BLANK,
};

/* The value of a header we do not look at, or a reason phrase: its bytes matter only
 * for where the line ends, so memchr finds that instead of a byte loop. Returns bytes
 * consumed (through the LF if found) and sets *line_done. */
static size_t skip_line(const char *buf, size_t len, int *line_done)
{
	const char *lf = memchr(buf, '\n', len);
	*line_done = lf != NULL;
	return lf ? (size_t)(lf - buf) + 1 : len;
}

/* True when the parser is inside a line whose content it ignores. */
static int in_ignored_line(const rt_http_state_t *s)
{
	return (s->state == S_HDR_VALUE && s->hdr == H_NONE) || s->state == S_REASON;
}

/* Fast path for in_ignored_line(): consumes to the end of the line, charging the head
 * limit. Returns bytes consumed, or -1 when the head grew past the limit. */
static long skip_ignored(rt_http_state_t *s, const char *buf, size_t len)
{
	int done;
	size_t n = skip_line(buf, len, &done);
	s->head_bytes += (uint32_t)(n < RT_HTTP_HEADER_LIMIT ? n : RT_HTTP_HEADER_LIMIT);
	if (s->head_bytes > RT_HTTP_HEADER_LIMIT)
		return -1;
	if (done)
		s->state = S_HDR_START;
	return (long)n;
}

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

static void state_reset(rt_http_state_t *s, uint8_t start)
{
	memset(s, 0, sizeof *s);
	s->state = start;
}

/* ---- header fields (shared by both directions) ---- */

/* n[0..len) equals lit (lowercase letters and '-') ignoring case. OR-ing 0x20 folds
 * case exactly for letters; the only other byte it maps onto '-' is CR, so a word
 * holding a CR is refused apart (a name is compared before anything judges its bytes).
 * Eight bytes at a time. */
static int has_cr8(uint64_t w)
{
	uint64_t v = w ^ 0x0d0d0d0d0d0d0d0dull;
	return ((v - 0x0101010101010101ull) & ~v & 0x8080808080808080ull) != 0;
}

static int name_eq(const char *n, const char *lit, size_t len)
{
	uint64_t a, b, c, d;
	if (len < 8) {
		for (size_t i = 0; i < len; i++)
			if (n[i] == '\r' || ((unsigned char)n[i] | 0x20) != (unsigned char)lit[i])
				return 0;
		return 1;
	}
	/* 8..16 bytes: the first eight and the last eight, overlapping */
	memcpy(&a, n, 8);
	memcpy(&b, lit, 8);
	memcpy(&c, n + len - 8, 8);
	memcpy(&d, lit + len - 8, 8);
	if (((a | 0x2020202020202020ull) ^ b) | ((c | 0x2020202020202020ull) ^ d) ||
	    has_cr8(a) || has_cr8(c))
		return 0;
	return len <= 16 || name_eq(n + 16, lit + 16, len - 16);
}

/* Which header a name is, case-insensitively; the length decides first, since nearly
 * every header a server sees is one we ignore. */
static uint8_t classify_name(const char *name, size_t len)
{
	switch (len) {
	case 10:
		if (name_eq(name, "connection", 10))
			return H_CONN;
		if (name_eq(name, "user-agent", 10))
			return H_UA;
		return H_NONE;
	case 11:
		return name_eq(name, "traceparent", 11) ? H_TRACEPARENT : H_NONE;
	case 14:
		return name_eq(name, "content-length", 14) ? H_CL : H_NONE;
	case 17:
		return name_eq(name, "transfer-encoding", 17) ? H_TE : H_NONE;
	}
	return H_NONE;
}

static uint8_t classify_header(const rt_http_state_t *s)
{
	return classify_name(s->name, s->name_len);
}

/* Keeps the last bytes of a value, lowercased: enough to see "chunked" at the end of a
 * Transfer-Encoding list and "close"/"keep-alive" in Connection. */
static void window_push(rt_http_state_t *s, char c)
{
	if (s->win_len == sizeof s->win) {
		memmove(s->win, s->win + 1, sizeof s->win - 1);
		s->win_len--;
	}
	s->win[s->win_len++] = lower(c);
}

static int window_ends_with(const rt_http_state_t *s, const char *lit)
{
	size_t n = strlen(lit), len = s->win_len;
	while (len > 0 && (s->win[len - 1] == ' ' || s->win[len - 1] == '\t'))
		len--;
	return len >= n && memcmp(s->win + len - n, lit, n) == 0 &&
	       (len == n || s->win[len - n - 1] == ',' || s->win[len - n - 1] == ' ');
}

static int window_has(const rt_http_state_t *s, const char *lit)
{
	size_t n = strlen(lit);
	for (size_t i = 0; i + n <= s->win_len; i++)
		if (memcmp(s->win + i, lit, n) == 0)
			return 1;
	return 0;
}

/* A value byte of a framing header. Returns -1 on a malformed Content-Length. */
static int framing_value_byte(rt_http_state_t *s, char c)
{
	if (s->hdr == H_CL) {
		if (c == ' ' || c == '\t')
			return 0;
		if (c < '0' || c > '9' || s->cl > (UINT64_MAX - 9) / 10)
			return -1;
		s->cl = s->cl * 10 + (uint64_t)(c - '0');
		s->remaining++; /* digit count, checked at the end of the value */
		return 0;
	}
	window_push(s, c);
	return 0;
}

/* The end of a framing header's value. Returns -1 for a bad or conflicting length. */
static int framing_value_end(rt_http_state_t *s, uint64_t *content_length, uint8_t *has_cl,
			     uint8_t *chunked)
{
	if (s->hdr == H_CL) {
		uint64_t digits = s->remaining;
		s->remaining = 0;
		if (digits == 0 || (*has_cl && *content_length != s->cl))
			return -1;
		*content_length = s->cl;
		*has_cl = 1;
		s->cl = 0;
	} else if (s->hdr == H_TE) {
		*chunked = (uint8_t)window_ends_with(s, "chunked");
		s->seen_te = 1;
	} else if (s->hdr == H_CONN) {
		if (window_has(s, "close"))
			s->conn_close = 1;
		if (window_has(s, "keep-alive"))
			s->conn_keep = 1;
	}
	s->win_len = 0;
	return 0;
}

/* ---- chunked bodies (shared) ---- */

static int hex_digit(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (unsigned char)lower((char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* One byte of chunk framing (not chunk data). Returns 1 when the body is complete,
 * -1 on a framing error, 0 otherwise. */
static int chunk_byte(rt_http_state_t *s, unsigned char c)
{
	int d;
	switch (s->state) {
	case S_CHUNK_SIZE:
		if ((d = hex_digit(c)) >= 0) {
			if (s->remaining >= CHUNK_SIZE_MAX)
				return -1;
			s->remaining = s->remaining * 16 + (uint64_t)d;
			s->sub = 1;
			return 0;
		}
		if (!s->sub)
			return -1; /* a size needs at least one digit */
		if (c == ';' || c == ' ' || c == '\t') {
			s->state = S_CHUNK_EXT;
			return 0;
		}
		if (c == '\r') {
			s->state = S_CHUNK_SIZE_LF;
			return 0;
		}
		if (c != '\n')
			return -1;
		/* a bare LF ends the size line */
		__attribute__((fallthrough));
	case S_CHUNK_SIZE_LF:
		if (c != '\n')
			return -1;
		s->sub = 0;
		s->head_bytes = 0;
		s->state = s->remaining ? S_CHUNK_DATA : S_TRAILER_START;
		return 0;
	case S_CHUNK_EXT:
		if (++s->head_bytes > TRAILER_LIMIT)
			return -1;
		if (c == '\n') {
			s->state = S_CHUNK_SIZE_LF;
			return chunk_byte(s, c);
		}
		return 0;
	case S_CHUNK_DATA_CR:
		if (c == '\r') {
			s->state = S_CHUNK_DATA_LF;
			return 0;
		}
		/* tolerate a bare LF */
		__attribute__((fallthrough));
	case S_CHUNK_DATA_LF:
		if (c != '\n')
			return -1;
		s->state = S_CHUNK_SIZE;
		return 0;
	case S_TRAILER_START:
		if (c == '\r') {
			s->state = S_TRAILER_END_LF;
			return 0;
		}
		if (c == '\n')
			return 1;
		s->state = S_TRAILER_LINE;
		return 0;
	case S_TRAILER_LINE:
		if (++s->head_bytes > TRAILER_LIMIT)
			return -1;
		if (c == '\n')
			s->state = S_TRAILER_START;
		return 0;
	case S_TRAILER_END_LF:
		return c == '\n' ? 1 : -1;
	}
	return -1;
}

/* Consumes body bytes of the current state. buf may be NULL (opaque bytes). Returns
 * bytes consumed; sets *done when the body ended, *err on a framing error. */
static size_t body_feed(rt_http_state_t *s, const char *buf, size_t len, int *done, int *err)
{
	size_t i = 0;
	while (i < len && !*done && !*err) {
		if (s->state == S_UNTIL_CLOSE)
			return len;
		if (s->state == S_BODY || s->state == S_CHUNK_DATA) {
			uint64_t take = s->remaining < len - i ? s->remaining : len - i;
			s->remaining -= take;
			i += (size_t)take;
			if (s->remaining == 0) {
				if (s->state == S_BODY)
					*done = 1;
				else
					s->state = S_CHUNK_DATA_CR;
			}
			continue;
		}
		if (!buf) {
			*err = 1; /* opaque bytes cannot be chunk framing */
			break;
		}
		int rc = chunk_byte(s, (unsigned char)buf[i++]);
		if (rc < 0)
			*err = 1;
		else if (rc > 0)
			*done = 1;
	}
	return i;
}

/* ---- shared header-block byte step ----
 * Returns -1 on error, 1 when the blank line ending the head was consumed, 0 else. */

typedef struct hdr_sink {
	uint64_t *content_length;
	uint8_t *has_cl, *chunked;
	char *tp;
	uint8_t *tp_len, *tp_over;
	char *ua;
	uint8_t *ua_len;
} hdr_sink_t;

static int header_byte(rt_http_state_t *s, unsigned char c, const hdr_sink_t *k)
{
	switch (s->state) {
	case S_LINE_LF:
		if (c != '\n')
			return -1;
		s->state = S_HDR_START;
		return 0;
	case S_HDR_START:
		if (c == '\r') {
			s->state = S_HEAD_LF;
			return 0;
		}
		if (c == '\n')
			return 1;
		if (line_kind[c] == LINE_FOLD)
			return -1;
		if (line_kind[c] == LINE_SKIP) { /* as header_lines_fast(): to its LF */
			s->hdr = H_NONE;
			s->state = S_HDR_VALUE;
			return 0;
		}
		s->name_len = 0;
		s->state = S_HDR_NAME;
		__attribute__((fallthrough));
	case S_HDR_NAME:
		if (c == ':') {
			s->hdr = s->name_len == 0xff ? H_NONE : classify_header(s);
			s->win_len = 0;
			s->state = S_HDR_OWS;
			return 0;
		}
		if (c == '\n') { /* a line without a colon is not one of ours */
			s->state = S_HDR_START;
			return 0;
		}
		if (s->name_len < sizeof s->name)
			s->name[s->name_len++] = lower((char)c);
		else
			s->name_len = 0xff;
		return 0;
	case S_HDR_OWS:
		if (c == ' ' || c == '\t')
			return 0;
		s->state = S_HDR_VALUE;
		__attribute__((fallthrough));
	case S_HDR_VALUE:
		/* A value we do not read is only looked at for its LF, as skip_ignored() and
		 * header_lines_fast() do; judging its first byte here made the outcome depend on
		 * where a read happened to split the line (found by tests/fuzz/fuzz_http). */
		if (s->hdr == H_NONE) {
			if (c == '\n')
				s->state = S_HDR_START;
			return 0;
		}
		if (c == '\r' || c == '\n') {
			if (framing_value_end(s, k->content_length, k->has_cl, k->chunked) != 0)
				return -1;
			if (s->hdr == H_TRACEPARENT)
				s->seen_tp = 1;
			s->state = c == '\r' ? S_HDR_VALUE_LF : S_HDR_START;
			return 0;
		}
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return -1;
		switch (s->hdr) {
		case H_CL:
		case H_TE:
		case H_CONN:
			return framing_value_byte(s, (char)c);
		case H_TRACEPARENT:
			if (k->tp && !s->seen_tp) { /* the first traceparent counts */
				if (*k->tp_len < RT_HTTP_TRACEPARENT_MAX)
					k->tp[(*k->tp_len)++] = (char)c;
				else
					*k->tp_over = 1;
			}
			return 0;
		case H_UA:
			if (k->ua && *k->ua_len < RT_HTTP_UA_MAX)
				k->ua[(*k->ua_len)++] = (char)c;
			return 0;
		}
		return 0;
	case S_HDR_VALUE_LF:
		if (c != '\n')
			return -1;
		s->state = S_HDR_START;
		return 0;
	case S_HEAD_LF:
		return c == '\n' ? 1 : -1;
	}
	return -1;
}

/* ---- whole header lines ----
 * When a header line is complete in the buffer it is handled in one call: memchr finds
 * its end and ':' and only the name is checked byte by byte. The byte machine above
 * remains for lines split across reads, and both paths share the value handling, so
 * they agree (test_http feeds every case split at every offset). */

static int value_bytes(rt_http_state_t *s, const char *v, size_t n, const hdr_sink_t *k)
{
	switch (s->hdr) {
	case H_TE:
	case H_CONN:
		/* A value that fits the window goes in without sliding it: the same bytes
		 * framing_value_byte would leave there. */
		if (s->win_len + n <= sizeof s->win) {
			for (size_t i = 0; i < n; i++)
				s->win[s->win_len + i] = lower(v[i]);
			s->win_len = (uint8_t)(s->win_len + n);
			return 0;
		}
		for (size_t i = 0; i < n; i++)
			if (framing_value_byte(s, v[i]) != 0)
				return -1;
		return 0;
	case H_CL:
		/* framing_value_byte's digits, without a call per byte */
		for (size_t i = 0; i < n; i++) {
			char c = v[i];
			if (c == ' ' || c == '\t')
				continue;
			if (c < '0' || c > '9' || s->cl > (UINT64_MAX - 9) / 10)
				return -1;
			s->cl = s->cl * 10 + (uint64_t)(c - '0');
			s->remaining++;
		}
		return 0;
	case H_TRACEPARENT:
		if (k->tp && !s->seen_tp) {
			size_t room = RT_HTTP_TRACEPARENT_MAX - *k->tp_len;
			size_t take = n < room ? n : room;
			memcpy(k->tp + *k->tp_len, v, take);
			*k->tp_len = (uint8_t)(*k->tp_len + take);
			if (take < n)
				*k->tp_over = 1;
		}
		return 0;
	case H_UA:
		if (k->ua) {
			size_t room = RT_HTTP_UA_MAX - *k->ua_len;
			size_t take = n < room ? n : room;
			memcpy(k->ua + *k->ua_len, v, take);
			*k->ua_len = (uint8_t)(*k->ua_len + take);
		}
		return 0;
	}
	return 0;
}

/* ---- vectorised scanning ----
 * Which of the 16 bytes from q that lie before end are LF: bit i for q[i]. lo is the
 * start of the caller's buffer: a last partial block is read as the 16 bytes ending at
 * end (inside [lo, end) when the buffer holds 16) and shifted, so nothing outside the
 * buffer is ever read. */
#ifdef __SSE2__
static inline unsigned lf_bits16(const char *at)
{
	__m128i x = _mm_loadu_si128((const __m128i *)(const void *)at);
	return (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8('\n')));
}

static inline unsigned lf_bits(const char *lo, const char *q, const char *end)
{
	if (end - q >= 16)
		return lf_bits16(q);
	if (end - lo >= 16)
		return lf_bits16(end - 16) >> (16 - (end - q));
	/* a buffer shorter than 16 bytes: its copy (the padding is no LF) */
	char tmp[16];
	memset(tmp, 0, sizeof tmp);
	memcpy(tmp, q, (size_t)(end - q));
	return lf_bits16(tmp);
}
#else
static inline unsigned lf_bits(const char *lo, const char *q, const char *end)
{
	unsigned m = 0;
	(void)lo;
	for (int i = 0; i < 16 && q + i < end; i++)
		m |= (unsigned)(q[i] == '\n') << i;
	return m;
}
#endif

/* Whether [p, end) holds a byte <= max other than allow, or DEL: a control character
 * where HTTP allows none (max 0x1f, allow '\t': field values; max 0x20, allow 0xff:
 * the request target, where a space also ends it). lo as in find3(). */
#ifdef __SSE2__
static inline int has_ctl(const char *lo, const char *p, const char *end, unsigned char max,
			  unsigned char allow)
{
	const __m128i vmax = _mm_set1_epi8((char)max), vallow = _mm_set1_epi8((char)allow),
		      vdel = _mm_set1_epi8(0x7f);
#define CTL_MASK(x)                                                                            \
	((unsigned)_mm_movemask_epi8(_mm_or_si128(                                              \
		 _mm_andnot_si128(_mm_cmpeq_epi8(x, vallow),                                    \
				  _mm_cmpeq_epi8(_mm_min_epu8(x, vmax), x)),                    \
		 _mm_cmpeq_epi8(x, vdel))))
	for (; end - p >= 16; p += 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
		if (CTL_MASK(x))
			return 1;
	}
	if (p == end)
		return 0;
	if (end - lo >= 16) {
		const char *q = end - 16;
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)q);
		return (CTL_MASK(x) & (~0u << (p - q))) != 0;
	}
#undef CTL_MASK
	for (; p < end; p++) {
		unsigned char c = (unsigned char)*p;
		if ((c <= max && c != allow) || c == 0x7f)
			return 1;
	}
	return 0;
}
#else
static inline int has_ctl(const char *lo, const char *p, const char *end, unsigned char max,
			  unsigned char allow)
{
	(void)lo;
	for (; p < end; p++) {
		unsigned char c = (unsigned char)*p;
		if ((c <= max && c != allow) || c == 0x7f)
			return 1;
	}
	return 0;
}
#endif

/* The value of a header we read, from after its colon to its line's end (without a
 * trailing CR). Returns -1 on error. */
static int header_value(rt_http_state_t *s, const char *lo, const char *v, const char *end,
			const hdr_sink_t *k)
{
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	if (has_ctl(lo, v, end, 0x1f, '\t'))
		return -1;
	/* The two values nearly every Connection header has, without the window. */
	if (s->hdr == H_CONN && end - v == 10 && name_eq(v, "keep-alive", 10)) {
		s->conn_keep = 1;
		return 0;
	}
	if (s->hdr == H_CONN && end - v == 5 && name_eq(v, "close", 5)) {
		s->conn_close = 1;
		return 0;
	}
	s->win_len = 0;
	if (value_bytes(s, v, (size_t)(end - v), k) != 0 ||
	    framing_value_end(s, k->content_length, k->has_cl, k->chunked) != 0)
		return -1;
	if (s->hdr == H_TRACEPARENT)
		s->seen_tp = 1;
	return 0;
}

/* Which of our headers a whole line [p, lf) is, H_NONE for any other; *colon is set
 * for one of ours. The line's first letter leaves one or two names, and the byte after
 * a name is the line's first colon exactly when the name is the line's (a name holds
 * no colon), so no byte of the name is scanned for it. */
static int name_at(const char *p, size_t n, const char *lit, size_t len)
{
	return n > len && p[len] == ':' && name_eq(p, lit, len);
}

static uint8_t line_header(const char *p, const char *lf, const char **colon)
{
	size_t n = (size_t)(lf - p);
	uint8_t h = H_NONE;
	size_t len = 0;
	switch (p[0] | 0x20) {
	case 'c':
		if (name_at(p, n, "content-length", 14))
			h = H_CL, len = 14;
		else if (name_at(p, n, "connection", 10))
			h = H_CONN, len = 10;
		break;
	case 't':
		if (name_at(p, n, "transfer-encoding", 17))
			h = H_TE, len = 17;
		else if (name_at(p, n, "traceparent", 11))
			h = H_TRACEPARENT, len = 11;
		break;
	case 'u':
		if (name_at(p, n, "user-agent", 10))
			h = H_UA, len = 10;
		break;
	}
	*colon = p + len;
	return h;
}

/* The blank line at p ends the head: returns its length, 0 when its CR is the last
 * byte here (the byte machine takes it), -1 for a CR that ends no line. */
static long blank_line(const char *p, const char *end)
{
	if (p[0] == '\n')
		return 1;
	if (end - p < 2)
		return 0;
	return p[1] == '\n' ? 2 : -1;
}

/* At the start of a header line: handles every whole line that is here, up to the end
 * of the head, in one call. The LFs are found 16 bytes at a time and taken in turn; the
 * byte after each says what the next line is (line_kind), and only a line that can be
 * one of ours is looked at further, once its own LF is found. Returns bytes consumed
 * (0: the first line is incomplete, use the byte machine), -1 on error; *head_end is
 * set when the head ended. The byte machine above remains for lines split across reads
 * and agrees with this (test_http feeds every case split at every offset). */
static long header_lines_fast(rt_http_state_t *s, const char *buf, size_t len,
			      const hdr_sink_t *k, int *head_end)
{
	const char *p = buf, *end = buf + len, *blk = buf;
	const char *ours = NULL; /* a line that may be ours, waiting for its LF */
	uint8_t kind = line_kind[(unsigned char)*p];
	unsigned lfs = lf_bits(buf, blk, end); /* LFs not yet taken in [blk, blk + 16) */
	long n;
	*head_end = 0;
	for (;;) {
		/* p is a line's start, of this kind */
		if (kind != LINE_SKIP) {
			if (kind == LINE_MAYBE) {
				ours = p;
			} else if (kind == LINE_FOLD || (n = blank_line(p, end)) < 0) {
				return -1;
			} else {
				p += n; /* n == 0: the CR is the last byte, p stays at it */
				*head_end = n > 0;
				break;
			}
		}
		while (lfs == 0) {
			blk += 16;
			if (blk >= end)
				goto out; /* the line at p is not complete here */
			lfs = lf_bits(buf, blk, end);
		}
		const char *lf = blk + __builtin_ctz(lfs);
		lfs &= lfs - 1;
		if (ours) {
			const char *colon = NULL;
			if ((s->hdr = line_header(ours, lf, &colon)) != H_NONE &&
			    header_value(s, buf, colon + 1, lf[-1] == '\r' ? lf - 1 : lf, k) != 0)
				return -1;
			ours = NULL;
		}
		p = lf + 1;
		if (p == end)
			break;
		kind = line_kind[(unsigned char)*p];
	}
out:
	s->hdr = H_NONE;
	/* The head's size is charged once for all the lines taken: past the limit is an
	 * error whichever line crossed it. */
	size_t used = (size_t)(p - buf);
	if (s->head_bytes > RT_HTTP_HEADER_LIMIT || used > RT_HTTP_HEADER_LIMIT - s->head_bytes)
		return -1;
	s->head_bytes += (uint32_t)used;
	return (long)used;
}

/* ====================================================================== */
/* The head's fast paths, shared by both directions: the rest of an ignored line, or a
 * whole header line. Returns bytes consumed (0: the byte machine must take this
 * byte), -1 on error; *head_end is set when the blank line ending the head was read. */
static long head_lines_fast(rt_http_state_t *s, const char *buf, size_t len,
			    const hdr_sink_t *k, int *head_end)
{
	*head_end = 0;
	if (in_ignored_line(s))
		return skip_ignored(s, buf, len);
	if (s->state == S_HDR_START)
		return header_lines_fast(s, buf, len, k, head_end);
	return 0;
}

/* ---- request direction ---- */

static void req_new_message(rt_http_req_t *p);
static void req_clear_fields(rt_http_req_t *p);

void rt_http_req_init(rt_http_req_t *p)
{
	req_new_message(p);
	req_clear_fields(p);
}

void rt_http_req_lookahead(rt_http_req_t *dst, const rt_http_req_t *src)
{
	memcpy(dst, src, offsetof(rt_http_req_t, path));
}

/* Fields stay readable after END (until the next BEGIN), so only framing is reset. */
static void req_new_message(rt_http_req_t *p)
{
	state_reset(&p->s, S_REQ_START);
}

static void req_clear_fields(rt_http_req_t *p)
{
	p->method_len = 0;
	p->http_minor = 0;
	p->is_head = p->chunked = p->has_content_length = p->conn_close = 0;
	p->path_truncated = 0;
	p->path_len = p->query_len = 0;
	p->traceparent_len = p->traceparent_overlong = 0;
	p->user_agent_len = 0;
	p->content_length = 0;
}

static void trim_traceparent(rt_http_req_t *p)
{
	while (p->traceparent_len > 0 && (p->traceparent[p->traceparent_len - 1] == ' ' ||
					  p->traceparent[p->traceparent_len - 1] == '\t'))
		p->traceparent_len--;
}

/* The head is complete: decide the body. Returns the event to report. */
static int req_head_done(rt_http_req_t *p)
{
	rt_http_state_t *s = &p->s;
	trim_traceparent(p);
	p->is_head = p->method_len == 4 && memcmp(p->method, "HEAD", 4) == 0;
	p->conn_close = s->conn_close || (p->http_minor == 0 && !s->conn_keep);
	if (s->seen_te && !p->chunked)
		return RT_HTTP_EV_ERROR; /* cannot find the end of such a body */
	if (p->chunked) {
		s->state = S_CHUNK_SIZE;
		s->remaining = 0;
		s->sub = 0;
	} else if (p->content_length > 0) {
		s->state = S_BODY;
		s->remaining = p->content_length;
	} else {
		s->pending_end = 1;
	}
	s->head_bytes = 0;
	return RT_HTTP_EV_HEAD;
}

static int version_byte(rt_http_state_t *s, unsigned char c, uint8_t *minor)
{
	static const char lit[] = "HTTP/1.";
	if (s->sub < sizeof lit - 1)
		return c == (unsigned char)lit[s->sub++] ? 0 : -1;
	if (s->sub == sizeof lit - 1) {
		if (c != '0' && c != '1')
			return -1;
		*minor = (uint8_t)(c - '0');
		s->sub++;
		return 0;
	}
	return -1;
}

/* The whole request line in one call, when it is complete in the buffer and regular.
 * Returns bytes consumed (through the LF), or 0 to let the byte machine handle it
 * (incomplete, or anything unusual: it then reports exactly what is wrong). */
static size_t request_line_fast(rt_http_req_t *p, const char *buf, size_t len)
{
	const char *lf = memchr(buf, '\n', len);
	if (!lf)
		return 0;
	size_t n = (size_t)(lf - buf), i = 0;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	while (i < n && i < RT_HTTP_METHOD_MAX - 1 &&
	       ((buf[i] >= 'A' && buf[i] <= 'Z') || (i > 0 && (buf[i] == '-' || buf[i] == '_'))))
		i++;
	if (i == 0 || i >= n || buf[i] != ' ' || n < i + 2 + 8)
		return 0;
	const char *target = buf + i + 1, *version = buf + n - 8;
	if (version[-1] != ' ' || memcmp(version, "HTTP/1.", 7) != 0 ||
	    (version[7] != '0' && version[7] != '1'))
		return 0;
	const char *tend = version - 1;
	if (tend == target)
		return 0;
	if (has_ctl(buf, target, tend, 0x20, 0xff))
		return 0;
	req_clear_fields(p);
	memcpy(p->method, buf, i);
	p->method_len = (uint8_t)i;
	const char *q = memchr(target, '?', (size_t)(tend - target));
	const char *pend = q ? q : tend;
	size_t plen = (size_t)(pend - target);
	p->path_truncated = plen > RT_HTTP_PATH_MAX;
	p->path_len = (uint16_t)(plen > RT_HTTP_PATH_MAX ? RT_HTTP_PATH_MAX : plen);
	memcpy(p->path, target, p->path_len);
	if (q) {
		size_t qlen = (size_t)(tend - q - 1);
		p->query_len = (uint16_t)(qlen > RT_HTTP_QUERY_MAX ? RT_HTTP_QUERY_MAX : qlen);
		memcpy(p->query, q + 1, p->query_len);
	}
	p->http_minor = (uint8_t)(version[7] - '0');
	p->s.state = S_HDR_START;
	p->s.head_bytes = (uint32_t)(lf - buf) + 1;
	return (size_t)(lf - buf) + 1;
}

/* One byte of the request line. Returns -1 error, 1 BEGIN, 2 end of line, 0 more. */
static int request_line_byte(rt_http_req_t *p, unsigned char c)
{
	rt_http_state_t *s = &p->s;
	switch (s->state) {
	case S_REQ_START:
		if (c == '\r' || c == '\n')
			return 0; /* empty lines between requests are allowed */
		if (c < 'A' || c > 'Z')
			return -1;
		req_clear_fields(p);
		p->method[p->method_len++] = (char)c;
		s->state = S_METHOD;
		return 1;
	case S_METHOD:
		if (c == ' ') {
			s->state = S_TARGET;
			return 0;
		}
		if (!((c >= 'A' && c <= 'Z') || c == '-' || c == '_') ||
		    p->method_len >= RT_HTTP_METHOD_MAX - 1)
			return -1;
		p->method[p->method_len++] = (char)c;
		return 0;
	case S_TARGET:
	case S_QUERY:
		if (c == ' ') {
			if (s->state == S_TARGET && p->path_len == 0)
				return -1;
			s->state = S_REQ_VERSION;
			s->sub = 0;
			return 0;
		}
		if (c <= 0x20 || c == 0x7f)
			return -1;
		if (s->state == S_TARGET && c == '?') {
			s->state = S_QUERY;
		} else if (s->state == S_TARGET) {
			if (p->path_len < RT_HTTP_PATH_MAX)
				p->path[p->path_len++] = (char)c;
			else
				p->path_truncated = 1;
		} else if (p->query_len < RT_HTTP_QUERY_MAX) {
			p->query[p->query_len++] = (char)c;
		}
		return 0;
	case S_REQ_VERSION:
		if (version_byte(s, c, &p->http_minor) != 0)
			return -1;
		if (s->sub == 8)
			s->state = S_REQ_VERSION_END;
		return 0;
	case S_REQ_VERSION_END:
		if (c == '\r') {
			s->state = S_LINE_LF;
			return 0;
		}
		if (c == '\n') {
			s->state = S_HDR_START;
			return 0;
		}
		return -1;
	}
	return -1;
}

int rt_http_req_in_header_block(const rt_http_req_t *p)
{
	return p->s.state >= S_LINE_LF && p->s.state <= S_HEAD_LF && !p->s.pending_end;
}

int rt_http_req_in_blank_line(const rt_http_req_t *p)
{
	return p->s.state == S_HEAD_LF && !p->s.pending_end;
}

uint64_t rt_http_req_body_left(const rt_http_req_t *p)
{
	return p->s.state == S_BODY && !p->s.pending_end ? p->s.remaining : 0;
}

static const hdr_sink_t *req_sink(rt_http_req_t *p, hdr_sink_t *k)
{
	*k = (hdr_sink_t){ &p->content_length, &p->has_content_length, &p->chunked, p->traceparent,
			   &p->traceparent_len, &p->traceparent_overlong, p->user_agent,
			   &p->user_agent_len };
	return k;
}

/* A request's head at once, when its request line is complete here: the line, then
 * every whole header line after it. The caller reports BEGIN with all of it; when the
 * head ended, its HEAD is owed to the next call. A framing error takes back all but the
 * request line: the next call meets it again where the byte loop would, inside the
 * header block (a client's stream tells a broken head from another protocol by that).
 * Returns bytes consumed, 0 to let the byte machine take the request line. */
static size_t request_head_fast(rt_http_req_t *p, const char *buf, size_t len)
{
	size_t line = request_line_fast(p, buf, len);
	if (line == 0 || line == len)
		return line;
	hdr_sink_t k;
	int head_end = 0;
	long n = header_lines_fast(&p->s, buf + line, len - line, req_sink(p, &k), &head_end);
	if (n < 0 || (head_end && req_head_done(p) == RT_HTTP_EV_ERROR)) {
		p->content_length = 0;
		p->has_content_length = p->chunked = p->conn_close = 0;
		p->traceparent_len = p->traceparent_overlong = p->user_agent_len = 0;
		state_reset(&p->s, S_HDR_START);
		p->s.head_bytes = (uint32_t)line;
		return line;
	}
	if (head_end)
		p->s.pending_head = 1;
	return line + (size_t)n;
}

static size_t req_feed_bytes(rt_http_req_t *p, const char *buf, size_t len, int *ev);

/* The calls that move no byte (an event owed, a stopped parser) return before the
 * frame and state of the byte loop are set up: a request's HEAD and END often are. */
size_t rt_http_req_feed(rt_http_req_t *p, const char *buf, size_t len, int *ev)
{
	rt_http_state_t *s = &p->s;
	*ev = RT_HTTP_EV_NONE;
	if (s->state == S_ERROR) {
		*ev = RT_HTTP_EV_ERROR;
		return 0;
	}
	if (s->pending_head) {
		s->pending_head = 0;
		*ev = RT_HTTP_EV_HEAD;
		return 0;
	}
	if (s->pending_end) {
		req_new_message(p);
		*ev = RT_HTTP_EV_END;
		return 0;
	}
	return req_feed_bytes(p, buf, len, ev);
}

static __attribute__((noinline)) size_t req_feed_bytes(rt_http_req_t *p, const char *buf,
							size_t len, int *ev)
{
	rt_http_state_t *s = &p->s;
	hdr_sink_t sink;
	const hdr_sink_t *k = NULL; /* made when a head's bytes come: a body needs none */
	size_t i = 0;
	while (i < len) {
		if (s->state >= S_BODY) {
			int done = 0, err = 0;
			i += body_feed(s, buf + i, len - i, &done, &err);
			if (err)
				goto error;
			if (done) {
				req_new_message(p);
				*ev = RT_HTTP_EV_END;
				return i;
			}
			continue;
		}
		if (s->state == S_REQ_START && buf[i] != '\r' && buf[i] != '\n') {
			size_t used = request_head_fast(p, buf + i, len - i);
			if (used > 0) {
				*ev = RT_HTTP_EV_BEGIN;
				return i + used;
			}
		}
		if (!k)
			k = req_sink(p, &sink);
		int head_end;
		long n = head_lines_fast(s, buf + i, len - i, k, &head_end);
		if (n < 0)
			goto error;
		i += (size_t)n;
		if (head_end) {
			*ev = req_head_done(p);
			if (*ev == RT_HTTP_EV_ERROR)
				goto error;
			return i;
		}
		if (n > 0)
			continue;
		unsigned char c = (unsigned char)buf[i++];
		if (s->state != S_REQ_START && ++s->head_bytes > RT_HTTP_HEADER_LIMIT)
			goto error;
		int rc;
		if (s->state < S_RESP_START) {
			rc = request_line_byte(p, c);
			if (rc < 0)
				goto error;
			if (rc == 1) {
				s->head_bytes = 1;
				*ev = RT_HTTP_EV_BEGIN;
				return i;
			}
			continue;
		}
		rc = header_byte(s, c, k);
		if (rc < 0)
			goto error;
		if (rc == 1) {
			*ev = req_head_done(p);
			if (*ev == RT_HTTP_EV_ERROR)
				goto error;
			return i;
		}
	}
	return i;
error:
	s->state = S_ERROR;
	*ev = RT_HTTP_EV_ERROR;
	return i;
}

/* ====================================================================== */
/* ---- response direction ---- */

void rt_http_resp_init(rt_http_resp_t *p)
{
	memset(p, 0, sizeof *p);
	state_reset(&p->s, S_RESP_START);
}

void rt_http_resp_expect(rt_http_resp_t *p, int request_was_head)
{
	p->expect_head = (uint8_t)(request_was_head != 0);
}

static void resp_new_message(rt_http_resp_t *p, int keep_begun)
{
	uint8_t begun = keep_begun ? p->s.begun : 0;
	state_reset(&p->s, S_RESP_START);
	p->s.begun = begun;
	/* status stays readable after END; the next head overwrites it */
	p->chunked = p->has_content_length = p->conn_close = p->http_minor = 0;
	p->content_length = 0;
	p->body_bytes = 0;
}

static int resp_head_done(rt_http_resp_t *p)
{
	rt_http_state_t *s = &p->s;
	p->conn_close = s->conn_close || (p->http_minor == 0 && !s->conn_keep);
	if (p->status >= 100 && p->status < 200 && p->status != 101) {
		resp_new_message(p, 1); /* interim: the real response follows */
		return RT_HTTP_EV_NONE;
	}
	if (p->status == 101) {
		s->state = S_UPGRADED;
		return RT_HTTP_EV_UPGRADE;
	}
	s->head_bytes = 0;
	if (p->expect_head || p->status == 204 || p->status == 304) {
		s->pending_end = 1;
	} else if (p->chunked) {
		s->state = S_CHUNK_SIZE;
		s->remaining = 0;
		s->sub = 0;
	} else if (p->has_content_length) {
		if (p->content_length == 0)
			s->pending_end = 1;
		s->state = S_BODY;
		s->remaining = p->content_length;
	} else {
		s->state = S_UNTIL_CLOSE;
	}
	return RT_HTTP_EV_HEAD;
}

/* The whole status line in one call when it is complete and regular; 0 otherwise
 * (the byte machine then takes it, and reports any error). */
static size_t status_line_fast(rt_http_resp_t *p, const char *buf, size_t len)
{
	const char *lf = memchr(buf, '\n', len);
	if (!lf)
		return 0;
	size_t n = (size_t)(lf - buf);
	if (n < 12 || memcmp(buf, "HTTP/1.", 7) != 0 || (buf[7] != '0' && buf[7] != '1') ||
	    buf[8] != ' ')
		return 0;
	for (int i = 9; i < 12; i++)
		if (buf[i] < '0' || buf[i] > '9')
			return 0;
	if (n > 12 && buf[12] != ' ' && buf[12] != '\r')
		return 0;
	uint16_t status = (uint16_t)((buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0'));
	if (status < 100)
		return 0;
	for (size_t i = 12; i < n; i++)
		if (((unsigned char)buf[i] < 0x20 && buf[i] != '\t' && !(buf[i] == '\r' && i == n - 1)) ||
		    buf[i] == 0x7f)
			return 0;
	p->status = status;
	p->http_minor = (uint8_t)(buf[7] - '0');
	p->s.state = S_HDR_START;
	p->s.head_bytes += (uint32_t)n + 1;
	return n + 1;
}

/* One byte of the status line. Returns -1 error, 1 BEGIN, 0 more. */
static int status_line_byte(rt_http_resp_t *p, unsigned char c)
{
	rt_http_state_t *s = &p->s;
	switch (s->state) {
	case S_RESP_START:
		if (c != 'H')
			return -1;
		s->sub = 1;
		s->state = S_RESP_VERSION;
		if (!s->begun) {
			s->begun = 1;
			return 1;
		}
		return 0;
	case S_RESP_VERSION:
		if (s->sub == 8) {
			if (c != ' ')
				return -1;
			s->state = S_STATUS;
			s->sub = 0;
			return 0;
		}
		return version_byte(s, c, &p->http_minor);
	case S_STATUS:
		if (s->sub < 3) {
			if (c < '0' || c > '9')
				return -1;
			if (s->sub == 0)
				p->status = 0;
			p->status = (uint16_t)(p->status * 10 + (c - '0'));
			s->sub++;
			return 0;
		}
		if (p->status < 100)
			return -1;
		if (c == ' ') {
			s->state = S_REASON;
			return 0;
		}
		/* the reason phrase may be omitted */
		__attribute__((fallthrough));
	case S_REASON:
		if (c == '\r')
			s->state = S_LINE_LF;
		else if (c == '\n')
			s->state = S_HDR_START;
		else if ((c < 0x20 && c != '\t') || c == 0x7f)
			return -1;
		return 0;
	}
	return -1;
}

static const hdr_sink_t *resp_sink(rt_http_resp_t *p, hdr_sink_t *k)
{
	*k = (hdr_sink_t){ &p->content_length, &p->has_content_length, &p->chunked, NULL, NULL, NULL,
			   NULL, NULL };
	return k;
}

/* A response's head at once, when its status line is complete here, as
 * request_head_fast() does. *ev: BEGIN for a first head (the event its end gave owed to
 * the next call), else that event itself; NONE when an interim head (1xx) ended or the
 * head goes on past these bytes. Returns bytes consumed, 0 to let the byte machine take
 * the status line. */
static size_t response_head_fast(rt_http_resp_t *p, const char *buf, size_t len, int *ev)
{
	rt_http_state_t *s = &p->s;
	size_t line = status_line_fast(p, buf, len);
	if (line == 0)
		return 0;
	int begin = !s->begun;
	s->begun = 1;
	*ev = begin ? RT_HTTP_EV_BEGIN : RT_HTTP_EV_NONE;
	if (line == len)
		return line;
	hdr_sink_t k;
	int head_end, done = RT_HTTP_EV_NONE;
	long n = header_lines_fast(s, buf + line, len - line, resp_sink(p, &k), &head_end);
	if (n < 0) {
		s->state = S_ERROR;
		if (!begin)
			*ev = RT_HTTP_EV_ERROR;
		return line;
	}
	if (head_end)
		done = resp_head_done(p); /* HEAD, UPGRADE (the state says so), or NONE */
	if (!begin)
		*ev = done;
	else if (done == RT_HTTP_EV_HEAD)
		s->pending_head = 1;
	return line + (size_t)n;
}

static size_t resp_feed_bytes(rt_http_resp_t *p, const char *buf, size_t len, int *ev);

/* As rt_http_req_feed: the calls that move no byte return first. */
size_t rt_http_resp_feed(rt_http_resp_t *p, const char *buf, size_t len, int *ev)
{
	rt_http_state_t *s = &p->s;
	*ev = RT_HTTP_EV_NONE;
	if (s->state == S_ERROR || s->state == S_UPGRADED) {
		*ev = s->state == S_ERROR ? RT_HTTP_EV_ERROR : RT_HTTP_EV_UPGRADE;
		return 0;
	}
	if (s->pending_head) {
		s->pending_head = 0;
		*ev = RT_HTTP_EV_HEAD;
		return 0;
	}
	if (s->pending_end) {
		resp_new_message(p, 0);
		*ev = RT_HTTP_EV_END;
		return 0;
	}
	return resp_feed_bytes(p, buf, len, ev);
}

static __attribute__((noinline)) size_t resp_feed_bytes(rt_http_resp_t *p, const char *buf,
							 size_t len, int *ev)
{
	rt_http_state_t *s = &p->s;
	hdr_sink_t sink;
	const hdr_sink_t *k = NULL; /* made when a head's bytes come: a body needs none */
	size_t i = 0;
	while (i < len) {
		if (s->state >= S_BODY) {
			int done = 0, err = 0;
			size_t used = body_feed(s, buf ? buf + i : NULL, len - i, &done, &err);
			i += used;
			p->body_bytes += used;
			if (err)
				goto error;
			if (done) {
				resp_new_message(p, 0);
				*ev = RT_HTTP_EV_END;
				return i;
			}
			continue;
		}
		if (!buf)
			goto error; /* opaque bytes outside a body */
		if (s->state == S_RESP_START) {
			size_t used = response_head_fast(p, buf + i, len - i, ev);
			i += used;
			if (*ev != RT_HTTP_EV_NONE)
				return i;
			if (used > 0)
				continue;
		}
		if (!k)
			k = resp_sink(p, &sink);
		int head_end;
		long n = head_lines_fast(s, buf + i, len - i, k, &head_end);
		if (n < 0)
			goto error;
		i += (size_t)n;
		if (head_end) {
			*ev = resp_head_done(p);
			if (*ev != RT_HTTP_EV_NONE)
				return i;
			continue;
		}
		if (n > 0)
			continue;
		unsigned char c = (unsigned char)buf[i++];
		if (++s->head_bytes > RT_HTTP_HEADER_LIMIT)
			goto error;
		int rc;
		if (s->state < S_LINE_LF) {
			rc = status_line_byte(p, c);
			if (rc < 0)
				goto error;
			if (rc == 1) {
				*ev = RT_HTTP_EV_BEGIN;
				return i;
			}
			continue;
		}
		rc = header_byte(s, c, k);
		if (rc < 0)
			goto error;
		if (rc == 1) {
			*ev = resp_head_done(p);
			if (*ev != RT_HTTP_EV_NONE)
				return i;
		}
	}
	return i;
error:
	s->state = S_ERROR;
	*ev = RT_HTTP_EV_ERROR;
	return i;
}

int rt_http_resp_eof(const rt_http_resp_t *p)
{
	return p->s.state == S_UNTIL_CLOSE;
}
