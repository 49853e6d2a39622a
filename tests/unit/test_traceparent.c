/* test_traceparent.c: W3C traceparent validation and id generation. Only the one
 * valid shape passes; everything else (uppercase, wrong lengths, zero ids, other
 * versions, traversal and NUL tricks) is refused, so no such bytes reach a name. */
#include <regex.h>

#include "t.h"
#include "track/traceparent.h"

static const char *valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

static int parses(const char *s, size_t len)
{
	rt_trace_ctx_t c;
	return rt_traceparent_parse(s, len, &c) == 0;
}

int main(void)
{
	rt_trace_ctx_t c;
	char hex[33];
	ok(rt_traceparent_parse(valid, strlen(valid), &c) == 0, "the W3C example parses");
	rt_hex_encode(c.trace_id, 16, hex);
	is_str(hex, "4bf92f3577b34da6a3ce929d0e0e4736", "trace id round-trips");
	rt_hex_encode(c.parent_id, 8, hex);
	is_str(hex, "00f067aa0ba902b7", "parent id round-trips");
	is_int(c.flags, 1, "flags");

	static const char *bad[] = {
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", /* uppercase */
		"00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",  /* short trace id */
		"00-4bf92f3577b34da6a3ce929d0e0e47366-00f067aa0ba902b7-01",/* long trace id */
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01", /* zero trace id */
		"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", /* zero parent id */
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", /* version ff */
		"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", /* unknown version */
		"00-../../../../../../etc/passwd/../../-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
		"00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
		"004bf92f3577b34da6a3ce929d0e0e473600f067aa0ba902b701xxx",
		"", "00", "garbage",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ok(!parses(bad[i], strlen(bad[i])), "refused: '%s'", bad[i]);

	char nul[56];
	memcpy(nul, valid, 56);
	nul[10] = 0;
	ok(!parses(nul, 55), "a NUL inside is refused");
	ok(!parses(valid, 54), "a value one byte short is refused");

	regex_t re;
	regcomp(&re, "^[0-9a-f]{32}$", REG_EXTENDED | REG_NOSUB);
	uint8_t a[16], b[16];
	int distinct = 1, shaped = 1;
	for (int i = 0; i < 1000; i++) {
		rt_random_id(a, 16);
		rt_random_id(b, 16);
		distinct &= memcmp(a, b, 16) != 0;
		rt_hex_encode(a, 16, hex);
		shaped &= regexec(&re, hex, 0, NULL, 0) == 0 && strcmp(hex, "00000000000000000000000000000000");
	}
	ok(distinct, "1000 pairs of random ids all differ");
	ok(shaped, "random ids render as 32 lowercase hex, never all zero");
	regfree(&re);
	return done_testing();
}
