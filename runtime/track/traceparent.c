/* traceparent.c: W3C traceparent parsing and id generation (see track/traceparent.h).
 * The parser accepts exactly one shape, so whatever it returns is safe to print. */
#include "track/traceparent.h"

#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Lowercase hex only: W3C forbids uppercase, and we never want two spellings of an id. */
static int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int hex_decode(const char *s, size_t nbytes, uint8_t *out)
{
	for (size_t i = 0; i < nbytes; i++) {
		int hi = hex_val(s[2 * i]), lo = hex_val(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* "00-" 32 hex "-" 16 hex "-" 2 hex = 55 bytes. */
int rt_traceparent_parse(const char *s, size_t len, rt_trace_ctx_t *out)
{
	rt_trace_ctx_t c;
	uint8_t version;
	if (len != 55 || s[2] != '-' || s[35] != '-' || s[52] != '-')
		return -1;
	if (hex_decode(s, 1, &version) != 0 || version != 0)
		return -1;
	if (hex_decode(s + 3, 16, c.trace_id) != 0 || hex_decode(s + 36, 8, c.parent_id) != 0 ||
	    hex_decode(s + 53, 1, &c.flags) != 0)
		return -1;
	if (all_zero(c.trace_id, 16) || all_zero(c.parent_id, 8))
		return -1;
	*out = c;
	return 0;
}

/* Used only if getrandom fails (very old kernel, seccomp): still unique enough for
 * ids, which are identifiers, not secrets. */
static void fallback_random(uint8_t *out, size_t n)
{
	static __thread uint64_t state;
	if (state == 0) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		state = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^
			((uint64_t)syscall(SYS_gettid) << 16) ^ 0x9e3779b97f4a7c15ull;
	}
	for (size_t i = 0; i < n; i++) {
		state ^= state << 13;
		state ^= state >> 7;
		state ^= state << 17;
		out[i] = (uint8_t)(state >> 24);
	}
}

void rt_random_id(uint8_t *out, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = getrandom(out + got, n - got, GRND_NONBLOCK);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	if (got < n)
		fallback_random(out + got, n - got);
	if (all_zero(out, n))
		out[n - 1] = 1;
}
