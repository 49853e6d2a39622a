/* fuzz_traceparent.c: libFuzzer target for rt_traceparent_parse (runtime/track/traceparent.c)
 * and for what its ids become: file names. Owns the property that no traceparent can
 * place a file outside OTSHIM_PROFILE_DIR; table cases are tests/unit/test_traceparent.c's.
 *
 * Input: a traceparent header value, used twice. Directly: anything accepted is
 * version 00, round-trips byte for byte to "00-<32 hex>-<16 hex>-<2 hex>" in lowercase,
 * has neither id all zero, and a refused value leaves *out untouched. Then as the
 * value of a traceparent header in a request parsed by track/http.c, taken as track/request.c
 * takes it (trimmed, not overlong, parsed, else fresh random ids). Whichever ids
 * result are rendered into the four per-request file names by the shim's own name
 * builder (emit/file_names.c), and each name must be a fixed length of [0-9a-z.-] with no '/', no "..",
 * no NUL before its end, and stay directly inside the profile directory. */
#include "fuzz.h"

#include "emit/file_names.h"
#include "track/http.h"
#include "track/traceparent.h"

#define DIR "/var/lib/svc/profiles"
#define UNIX_SEC 1700000000ull /* ten digits, as every time until 2286 */

static int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* One name made as the writer makes it, checked. */
static void check_name(const char *kind, const rt_ids_hex_t *id)
{
	char name[RT_FILE_NAME_MAX], path[sizeof DIR + RT_FILE_NAME_MAX + 1];
	rt_file_name_request(name, kind, id, UNIX_SEC);
	size_t want = strlen(kind) + 1 + 32 + 1 + 16 + 1 + 10 + sizeof ".pb.gz" - 1;
	FUZZ_CHECK(strlen(name) == want, "name '%s' is %zu bytes, not %zu", name, strlen(name), want);
	FUZZ_CHECK(!strstr(name, ".."), "name '%s' has ..", name);
	for (const char *c = name; *c; c++)
		FUZZ_CHECK((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') || *c == '-' ||
				   *c == '.',
			   "name '%s' has byte 0x%02x", name, (unsigned char)*c);
	snprintf(path, sizeof path, "%s/%s", DIR, name);
	FUZZ_CHECK(strrchr(path, '/') == path + strlen(DIR), "path '%s' leaves %s", path, DIR);
}

/* The writer's names for these ids. The span id is random in the shim; the parent id
 * stands in for it here. */
static void check_names(const rt_trace_ctx_t *c)
{
	rt_ids_hex_t id;
	rt_ids_hex(c->trace_id, c->parent_id, c->parent_id, &id);
	check_name("cpu", &id);
	check_name("heap", &id);
	check_name("threads", &id);
	check_name("threadcreate", &id);
}

/* Ids the parser accepted from s[0..len). */
static void check_accepted(const rt_trace_ctx_t *c, const char *s, size_t len)
{
	char t[33], p[17], f[3], again[64];
	FUZZ_CHECK(!all_zero(c->trace_id, 16) && !all_zero(c->parent_id, 8), "all-zero id accepted");
	rt_hex_encode(c->trace_id, 16, t);
	rt_hex_encode(c->parent_id, 8, p);
	rt_hex_encode(&c->flags, 1, f);
	int n = snprintf(again, sizeof again, "00-%s-%s-%s", t, p, f);
	FUZZ_CHECK(n == 55 && len == 55 && memcmp(again, s, 55) == 0,
		   "accepted '%.*s' does not round-trip (got '%s')", (int)(len < 80 ? len : 80), s,
		   again);
	check_names(c);
}

static void direct(const uint8_t *data, size_t size)
{
	char *s = fuzz_piece(data, size);
	rt_trace_ctx_t c, before;
	memset(&c, 0xa5, sizeof c);
	before = c;
	int rc;
	FUZZ_NO_ALLOC("rt_traceparent_parse", rc = rt_traceparent_parse(s, size, &c));
	FUZZ_CHECK(rc == 0 || rc == -1, "returned %d", rc);
	if (rc == 0)
		check_accepted(&c, s, size);
	else
		FUZZ_CHECK(memcmp(&c, &before, sizeof c) == 0, "refused, but *out was changed");
	free(s);
}

/* As a header, the way rt_req_head() takes it. Returns 1 when the ids were continued. */
static int via_request(const uint8_t *data, size_t size, rt_trace_ctx_t *c)
{
	static const char pre[] = "GET / HTTP/1.1\r\ntraceparent: ", post[] = "\r\n\r\n";
	size_t n = sizeof pre - 1 + size + sizeof post - 1;
	char *req = malloc(n);
	static rt_http_req_t p;
	int ev = RT_HTTP_EV_NONE, has_parent = 0;
	if (!req)
		abort();
	memcpy(req, pre, sizeof pre - 1);
	memcpy(req + sizeof pre - 1, data, size);
	memcpy(req + n - (sizeof post - 1), post, sizeof post - 1);
	rt_http_req_init(&p);
	/* until the HEAD, which a BEGIN may owe to a call with no bytes left */
	for (size_t at = 0; (at < n || ev == RT_HTTP_EV_BEGIN) && ev != RT_HTTP_EV_HEAD &&
			    ev != RT_HTTP_EV_ERROR;)
		at += rt_http_req_feed(&p, req + at, n - at, &ev);
	if (ev == RT_HTTP_EV_HEAD) {
		FUZZ_CHECK(p.traceparent_len <= RT_HTTP_TRACEPARENT_MAX, "tp_len %u", p.traceparent_len);
		has_parent = p.traceparent_len > 0 && !p.traceparent_overlong &&
			     rt_traceparent_parse(p.traceparent, p.traceparent_len, c) == 0;
		if (has_parent)
			check_accepted(c, p.traceparent, p.traceparent_len);
	}
	if (!has_parent) {
		rt_random_id(c->trace_id, sizeof c->trace_id);
		rt_random_id(c->parent_id, sizeof c->parent_id);
		FUZZ_CHECK(!all_zero(c->trace_id, 16) && !all_zero(c->parent_id, 8), "zero random id");
		check_names(c);
	}
	free(req);
	return has_parent;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fuzz_count_allocs_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rt_trace_ctx_t direct_ids, header_ids;
	direct(data, size);
	int continued = via_request(data, size, &header_ids);
	/* A value the parser takes as is must be taken the same way from a header. */
	if (rt_traceparent_parse((const char *)data, size, &direct_ids) == 0)
		FUZZ_CHECK(continued && memcmp(&direct_ids, &header_ids, sizeof direct_ids) == 0,
			   "valid traceparent not continued from a request");
	return 0;
}
