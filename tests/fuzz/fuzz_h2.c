/* fuzz_h2.c: libFuzzer target for the HTTP/2 frame parser (runtime/track/h2.c) and
 * the HPACK inflater it drives. The unit cases are tests/unit/test_h2.c's.
 *
 * Input: byte 0 picks how the streams are cut into reads (whole, byte by byte, random
 * sizes seeded by byte 1). The rest is the client's stream (it should begin with the
 * preface), then optionally MARKER and the server's stream; pieces of the two are fed
 * alternately, as a server reads and writes.
 *
 * Checked, for every feed: it never consumes more than given; RT_H2_EV_NONE only once
 * all is consumed; ERROR is final (nothing consumed after it); fields are within their
 * arrays; the inflaters never hold more than RT_H2_HPACK_MEM_MAX. */
#include "fuzz.h"

#include "base/libnghttp2.h"
#include "track/h2.h"

#define MARKER "\0SERVER\0"
#define MARKER_LEN (sizeof MARKER - 1)

static size_t piece(uint8_t mode, uint32_t *rng, size_t left)
{
	size_t n = mode == 0 ? left : mode == 1 ? 1 : 1 + fuzz_rand(rng) % 4096;
	return n < left ? n : left;
}

static void check_fields(const rt_h2_t *h)
{
	FUZZ_CHECK(h->req.method_len < RT_HTTP_METHOD_MAX, "method_len %u", h->req.method_len);
	FUZZ_CHECK(h->req.path_len <= RT_HTTP_PATH_MAX, "path_len %u", h->req.path_len);
	FUZZ_CHECK(h->req.query_len <= RT_HTTP_QUERY_MAX, "query_len %u", h->req.query_len);
	FUZZ_CHECK(h->req.traceparent_len <= RT_HTTP_TRACEPARENT_MAX, "tp_len %u",
		   h->req.traceparent_len);
	FUZZ_CHECK(h->req.user_agent_len <= RT_HTTP_UA_MAX, "ua_len %u", h->req.user_agent_len);
	FUZZ_CHECK(h->grpc_status >= -1 && h->grpc_status < 256, "grpc_status %d", h->grpc_status);
	FUZZ_CHECK(h->mem_used <= RT_H2_HPACK_MEM_MAX, "inflaters hold %zu", h->mem_used);
}

/* Feeds one piece; returns 1 once the parser is dead. */
static int feed(rt_h2_t *h, int dir, const uint8_t *p, size_t n)
{
	while (n > 0) {
		int ev = -1;
		size_t used = rt_h2_feed(h, dir, (const char *)p, n, &ev);
		FUZZ_CHECK(used <= n, "consumed %zu of %zu", used, n);
		FUZZ_CHECK(ev != RT_H2_EV_NONE || used == n, "NONE with %zu left", n - used);
		check_fields(h);
		if (ev == RT_H2_EV_ERROR) {
			FUZZ_CHECK(h->err != RT_H2_ERR_NONE, "ERROR without a reason");
			int ev2;
			FUZZ_CHECK(rt_h2_feed(h, 1 - dir, (const char *)p, n, &ev2) == 0 &&
				   ev2 == RT_H2_EV_ERROR, "consumed after an error");
			return 1;
		}
		p += used;
		n -= used;
	}
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* The HPACK decoder is libnghttp2's, looked up once as the library's start does. */
	if (rt_libnghttp2_resolve() != 0) {
		fprintf(stderr, "fuzz_h2: libnghttp2 could not be loaded\n");
		abort();
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	uint8_t mode = data[0] % 3;
	uint32_t rng = data[1] | 1u;
	data += 2;
	size -= 2;
	const uint8_t *cli = data, *srv = NULL;
	size_t ncli = size, nsrv = 0;
	for (size_t i = 0; i + MARKER_LEN <= size; i++) {
		if (memcmp(data + i, MARKER, MARKER_LEN) == 0) {
			ncli = i;
			srv = data + i + MARKER_LEN;
			nsrv = size - i - MARKER_LEN;
			break;
		}
	}
	rt_h2_t h;
	if (rt_h2_init(&h) != 0)
		return 0;
	int dead = 0;
	while (!dead && (ncli || nsrv)) {
		size_t k = piece(mode, &rng, ncli);
		if (k) {
			dead = feed(&h, RT_H2_CLIENT, cli, k);
			cli += k;
			ncli -= k;
		}
		k = piece(mode, &rng, nsrv);
		if (!dead && k) {
			dead = feed(&h, RT_H2_SERVER, srv, k);
			srv += k;
			nsrv -= k;
		}
	}
	rt_h2_free(&h);
	return 0;
}
