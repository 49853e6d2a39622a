/* test_h2_binding.c: a program that carries its own nghttp2 (Node.js does, and exports
 * it) must not get our HPACK calls: this program defines the five inflater functions
 * the HTTP/2 tracker uses, each of which only counts that it was called. The tracker
 * must decode a request with libnghttp2's own and never call these. */
#include <stdint.h>
#include <string.h>

#include "t.h"
#include "base/libnghttp2.h"
#include "track/h2.h"

static int program_copy_called;

int nghttp2_hd_inflate_new2(nghttp2_hd_inflater **out, nghttp2_mem *mem)
{
	(void)mem;
	program_copy_called++;
	*out = NULL;
	return NGHTTP2_ERR_NOMEM;
}

void nghttp2_hd_inflate_del(nghttp2_hd_inflater *inf)
{
	(void)inf;
	program_copy_called++;
}

rt_nghttp2_ssize_t RT_NGHTTP2_INFLATE(nghttp2_hd_inflater *inf, nghttp2_nv *nv, int *flags,
				     const uint8_t *in, size_t inlen, int final)
{
	(void)inf, (void)nv, (void)in, (void)inlen, (void)final;
	program_copy_called++;
	*flags = 0;
	return NGHTTP2_ERR_HEADER_COMP;
}

int nghttp2_hd_inflate_end_headers(nghttp2_hd_inflater *inf)
{
	(void)inf;
	program_copy_called++;
	return 0;
}

int nghttp2_hd_inflate_change_table_size(nghttp2_hd_inflater *inf, size_t size)
{
	(void)inf, (void)size;
	program_copy_called++;
	return 0;
}

int main(void)
{
	ok(rt_libnghttp2_resolve() == 0 && rt_libnghttp2_ready(), "libnghttp2's own decoder found");
	rt_h2_t h;
	if (!ok(rt_h2_init(&h) == 0, "inflaters made (by libnghttp2: this program's copy refuses)")) {
		is_int(program_copy_called, 0, "the program's own nghttp2 functions were never called");
		return done_testing();
	}
	/* The preface, an empty SETTINGS, then HEADERS on stream 1 (END_HEADERS,
	 * END_STREAM): indexed :method GET, :scheme http, :path /index.html. */
	static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
	static const uint8_t frames[] = { 0, 0, 0, 4, 0, 0, 0, 0, 0,   /* SETTINGS */
					  0, 0, 3, 1, 5, 0, 0, 0, 1,   /* HEADERS, 3 bytes */
					  0x82, 0x86, 0x85 };
	uint8_t in[sizeof preface - 1 + sizeof frames];
	memcpy(in, preface, sizeof preface - 1);
	memcpy(in + sizeof preface - 1, frames, sizeof frames);
	int ev = RT_H2_EV_NONE, got_headers = 0;
	size_t at = 0;
	while (at < sizeof in) {
		at += rt_h2_feed(&h, RT_H2_CLIENT, (const char *)in + at, sizeof in - at, &ev);
		if (ev == RT_H2_EV_HEADERS)
			got_headers = 1;
		if (ev == RT_H2_EV_ERROR || ev == RT_H2_EV_NONE)
			break;
	}
	ok(got_headers && h.ev_sid == 1 && h.req.method_len == 3 && memcmp(h.req.method, "GET", 3) == 0 &&
	   h.req.path_len == 11 && memcmp(h.req.path, "/index.html", 11) == 0,
	   "the request decoded: GET /index.html on stream 1");
	rt_h2_free(&h);
	is_int(program_copy_called, 0, "the program's own nghttp2 functions were never called");
	return done_testing();
}
