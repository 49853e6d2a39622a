/* test_span.c: the OTLP span encoder. Requests built by hand go through
 * rt_span_rec_fill and rt_span_encode, and the bytes are decoded with protobuf-c's code
 * generated from runtime/proto/otlp_trace.proto (the schema of record): the envelope
 * (one ResourceSpans, one ScopeSpans, scope "otshim"), the resource (OTEL_SERVICE_NAME
 * over a service.name in the attributes, the user's attributes, process.*, host.name,
 * telemetry.sdk.*), and every field and attribute of each span, none missing and none
 * extra: ids, name, kind, times, flags, status, HTTP semantic conventions (unknown
 * methods, IPv4 and IPv6 peers, network.transport only for unix sockets, query and
 * user agent only when present), profile.* on a slow request, and strings too long for
 * the record kept apart and round-tripped exactly. Then a batch of 1000, the buffers
 * reused (same bytes for the same batch), and the records freed (ASan checks the
 * leaks). */
#include <arpa/inet.h>
#include <sys/un.h>
#include <unistd.h>

#include "t.h"
#include "emit/span.h"
#include "otlp_trace.pb-c.h"

typedef Otshim__Otlp__ExportTraceServiceRequest req_msg_t;
typedef Otshim__Otlp__Span span_msg_t;
typedef Otshim__Otlp__KeyValue kv_msg_t;
typedef Otshim__Otlp__AnyValue any_msg_t;

#define PROFILE_DIR "/var/tmp/otshim-profiles"

/* ---- requests and the spans we expect of them ---- */

/* A request as a test writes it: NULL strings are empty; addr NULL: no peer family. */
typedef struct tcase {
	const char *method, *path, *query, *ua;
	int http_minor;
	uint16_t status, local_port;
	int family;                   /* AF_INET, AF_INET6, AF_UNIX or 0 */
	const char *addr;
	uint16_t port;
	int has_parent;
	uint8_t trace_flags;
	int slow;                     /* 1: all files; 2: the CPU profile only, counts unknown */
	const char *want_addr;        /* the address as the span must show it (NULL: addr) */
} tcase_t;

static const tcase_t cases[] = {
	{ "GET", "/api/users", "id=7&x=y", "curl/8.5.0", 1, 200, 8080, AF_INET, "10.1.2.3", 54321, 0, 1, 0, NULL },
	{ "POST", "/submit", NULL, "Mozilla/5.0 (X11)", 0, 503, 80, AF_INET, "127.0.0.1", 40000, 1, 1, 0, NULL },
	{ "BREW", "/pot", NULL, NULL, 1, 418, 8080, AF_INET, "0.0.0.0", 0, 0, 0, 0, NULL },
	{ "DELETE", "/items/42", "force=1", "python-requests/2.31", 1, 500, 65535, AF_INET, "255.255.255.255", 65535, 0, 1, 0, NULL },
	{ "HEAD", "/", NULL, "probe", 1, 204, 443, AF_INET6, "::1", 443, 1, 0, 0, NULL },
	{ "PUT", "/v2/blob", "a=b", NULL, 1, 201, 8443, AF_INET6, "2001:db8:85a3:1:2:8a2e:370:7334", 61000, 0, 1, 0, NULL },
	{ "PATCH", "/x", NULL, NULL, 1, 0, 0, AF_INET6, "2001:0db8:0000:0000:0000:0000:0000:0001", 1, 0, 1, 0, "2001:db8::1" },
	{ "OPTIONS", "*", NULL, NULL, 1, 404, 8080, AF_UNIX, NULL, 0, 0, 1, 0, NULL },
	{ "GET", "/slow", "n=1", "wrk", 1, 200, 8080, AF_INET, "192.168.100.9", 1234, 1, 1, 1, NULL },
	{ "TRACE", "/slow2", NULL, NULL, 0, 599, 8080, 0, NULL, 0, 0, 1, 2, NULL },
	{ "CONNECT", "/t", NULL, NULL, 1, 200, 8080, AF_INET, "1.20.100.109", 9, 0, 1, 0, NULL },
};
#define NCASES (sizeof cases / sizeof cases[0])

static size_t slen(const char *s)
{
	return s ? strlen(s) : 0;
}

/* Ids and times from the case index k and a batch position j, so each span is known. */
static void make_ids(size_t j, uint8_t *trace, uint8_t *span, uint8_t *parent)
{
	for (int i = 0; i < 16; i++)
		trace[i] = (uint8_t)(0x10 + i + 3 * j);
	for (int i = 0; i < 8; i++) {
		span[i] = (uint8_t)(0xa0 + i + 7 * j + (j >> 8));
		parent[i] = (uint8_t)(0x50 + i + 5 * j);
	}
	span[0] = (uint8_t)j;
	span[1] = (uint8_t)(j >> 8);
}

static uint64_t start_mono(size_t j)
{
	return 5000000000ull + j * 1000003ull;
}

static uint64_t end_mono(size_t j)
{
	return start_mono(j) + 1234567ull + j * 11;
}

static uint64_t start_real(size_t j)
{
	return 1700000000123456789ull + j * 999ull;
}

static void set_peer(rt_req_t *r, const tcase_t *c)
{
	memset(&r->peer, 0, sizeof r->peer);
	if (c->family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&r->peer;
		a->sin_family = AF_INET;
		a->sin_port = htons(c->port);
		inet_pton(AF_INET, c->addr, &a->sin_addr);
	} else if (c->family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&r->peer;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(c->port);
		inet_pton(AF_INET6, c->addr, &a->sin6_addr);
	} else if (c->family == AF_UNIX) {
		struct sockaddr_un *a = (struct sockaddr_un *)&r->peer;
		a->sun_family = AF_UNIX;
		strcpy(a->sun_path, "/run/app.sock");
	}
}

static rt_req_files_t *make_files(const tcase_t *c, size_t j)
{
	rt_req_files_t *f = calloc(1, sizeof *f);
	snprintf(f->cpu, sizeof f->cpu, "cpu-%zu.pb.gz", j);
	if (c->slow == 1) {
		snprintf(f->heap, sizeof f->heap, "heap-%zu.pb.gz", j);
		snprintf(f->threads, sizeof f->threads, "threads-%zu.txt", j);
		f->nthreads = 7;
	} else {
		f->nthreads = -1;
	}
	return f;
}

/* A finished request (calloc'd, free() it) for case c at batch position j. */
static rt_req_t *make_req(const tcase_t *c, size_t j)
{
	rt_req_t *r = calloc(1, sizeof *r);
	make_ids(j, r->ctx.trace_id, r->span_id, r->ctx.parent_id);
	r->has_parent = c->has_parent;
	r->ctx.flags = c->trace_flags;
	r->head_done = r->ids_ready = 1;
	r->method_len = (uint8_t)strlen(c->method);
	memcpy(r->method, c->method, r->method_len);
	r->path_len = (uint16_t)slen(c->path);
	memcpy(r->path, c->path ? c->path : "", r->path_len);
	r->query_len = (uint16_t)slen(c->query);
	memcpy(r->query, c->query ? c->query : "", r->query_len);
	r->user_agent_len = (uint8_t)slen(c->ua);
	memcpy(r->user_agent, c->ua ? c->ua : "", r->user_agent_len);
	r->http_minor = (uint8_t)c->http_minor;
	r->tls = (uint8_t)(j % 2); /* every other request came over TLS */
	r->status = c->status;
	r->local_port = c->local_port;
	set_peer(r, c);
	r->start_mono_ns = start_mono(j);
	r->end_mono_ns = end_mono(j);
	r->start_real_ns = start_real(j);
	r->alloc_bytes = c->slow == 1 ? 123456789 + (int64_t)j : -1;
	if (c->slow)
		r->files = make_files(c, j);
	return r;
}

/* A record (malloc'd to its exact size, so ASan sees any write past it) of r, with a
 * buffer of its own for strings that do not fit. */
static rt_span_rec_t *make_rec(rt_req_t *r)
{
	rt_span_rec_t *rec = malloc(sizeof *rec);
	size_t need = rt_span_rec_strings_len(r);
	memset(rec, 0xa5, sizeof *rec); /* a reused cell: nothing left over may show */
	rt_span_rec_fill(rec, r, need > RT_SPAN_INLINE ? malloc(need) : NULL);
	return rec;
}

/* ---- decoded attributes ---- */

enum { W_STR, W_INT, W_BOOL };

typedef struct want {
	const char *key;
	int type;
	char s[700];
	int64_t i;
} want_t;

typedef struct wants {
	want_t w[32];
	size_t n;
} wants_t;

static void want_str(wants_t *ws, const char *key, const char *s, size_t n)
{
	want_t *w = &ws->w[ws->n++];
	w->key = key;
	w->type = W_STR;
	snprintf(w->s, sizeof w->s, "%.*s", (int)n, s ? s : "");
}

static int wanted(const wants_t *ws, const char *key)
{
	for (size_t i = 0; i < ws->n; i++)
		if (strcmp(ws->w[i].key, key) == 0)
			return 1;
	return 0;
}

static void want_int(wants_t *ws, const char *key, int type, int64_t i)
{
	want_t *w = &ws->w[ws->n++];
	w->key = key;
	w->type = type;
	w->i = i;
}

/* What the semantic conventions want on c's span. */
static void span_wants(wants_t *ws, const tcase_t *c, const rt_req_t *r, size_t j)
{
	static const char *known[] = { "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT",
				       "OPTIONS", "TRACE", "PATCH" };
	int is_known = 0;
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		is_known |= strcmp(c->method, known[i]) == 0;
	ws->n = 0;
	want_str(ws, "http.request.method", is_known ? c->method : "_OTHER", 16);
	if (!is_known)
		want_str(ws, "http.request.method_original", c->method, 16);
	want_str(ws, "url.path", r->path, r->path_len);
	if (r->query_len)
		want_str(ws, "url.query", r->query, r->query_len);
	if (r->tls)
		want_str(ws, "url.scheme", "https", 5);
	else
		want_str(ws, "url.scheme", "http", 4);
	if (c->status)
		want_int(ws, "http.response.status_code", W_INT, c->status);
	if (c->status >= 500) {
		char code[8];
		snprintf(code, sizeof code, "%u", c->status);
		want_str(ws, "error.type", code, strlen(code));
	}
	if (c->local_port)
		want_int(ws, "server.port", W_INT, c->local_port);
	if (c->family == AF_INET || c->family == AF_INET6) {
		const char *a = c->want_addr ? c->want_addr : c->addr;
		want_str(ws, "network.peer.address", a, strlen(a));
		want_int(ws, "network.peer.port", W_INT, c->port);
		/* no network.transport: tcp is the convention's default, only unix is said */
	} else if (c->family == AF_UNIX) {
		want_str(ws, "network.transport", "unix", 4);
	}
	want_str(ws, "network.protocol.version", c->http_minor ? "1.1" : "1.0", 3);
	if (r->user_agent_len)
		want_str(ws, "user_agent.original", r->user_agent, r->user_agent_len);
	if (c->slow) {
		char p[200];
		want_int(ws, "profile.triggered", W_BOOL, 1);
		snprintf(p, sizeof p, PROFILE_DIR "/cpu-%zu.pb.gz", j);
		want_str(ws, "profile.cpu.path", p, strlen(p));
		if (c->slow == 1) {
			snprintf(p, sizeof p, PROFILE_DIR "/heap-%zu.pb.gz", j);
			want_str(ws, "profile.heap.path", p, strlen(p));
			snprintf(p, sizeof p, PROFILE_DIR "/threads-%zu.txt", j);
			want_str(ws, "profile.threads.path", p, strlen(p));
			want_int(ws, "profile.heap.alloc_bytes", W_INT, 123456789 + (int64_t)j);
			want_int(ws, "process.thread.count", W_INT, 7);
		}
	}
}

static const any_msg_t *find_attr(kv_msg_t **kv, size_t n, const char *key, int *count)
{
	const any_msg_t *v = NULL;
	*count = 0;
	for (size_t i = 0; i < n; i++)
		if (kv[i]->key && strcmp(kv[i]->key, key) == 0) {
			v = kv[i]->value;
			++*count;
		}
	return v;
}

/* Every wanted attribute once with its value, and nothing else. The number of
 * problems; with verbose, each is said. */
static int check_attrs(kv_msg_t **kv, size_t n, const wants_t *ws, int verbose)
{
	int bad = 0;
	for (size_t i = 0; i < ws->n; i++) {
		const want_t *w = &ws->w[i];
		int count;
		const any_msg_t *v = find_attr(kv, n, w->key, &count);
		int good = count == 1 && v;
		if (good && w->type == W_STR)
			good = v->value_case == OTSHIM__OTLP__ANY_VALUE__VALUE_STRING_VALUE &&
			       strcmp(v->string_value, w->s) == 0;
		else if (good && w->type == W_INT)
			good = v->value_case == OTSHIM__OTLP__ANY_VALUE__VALUE_INT_VALUE &&
			       v->int_value == w->i;
		else if (good)
			good = v->value_case == OTSHIM__OTLP__ANY_VALUE__VALUE_BOOL_VALUE &&
			       v->bool_value == (w->i != 0);
		if (!good && verbose) {
			diag("attribute %s: %d found, want one %s", w->key, count,
			     w->type == W_STR ? w->s : "number");
			if (v && v->value_case == OTSHIM__OTLP__ANY_VALUE__VALUE_STRING_VALUE)
				diag("  got '%s'", v->string_value);
			else if (v)
				diag("  got case %d, int %lld", (int)v->value_case, (long long)v->int_value);
		}
		bad += !good;
	}
	if (n != ws->n) {
		bad++;
		if (verbose) {
			diag("%zu attributes, want %zu:", n, ws->n);
			for (size_t i = 0; i < n; i++)
				diag("  %s", kv[i]->key);
		}
	}
	return bad;
}

/* ---- one span ---- */

/* Every field of s against case c, made at batch position j from r. The number of
 * problems; with verbose, an ok line for each part. */
static int check_span(const span_msg_t *s, const tcase_t *c, const rt_req_t *r, size_t j,
		      int verbose)
{
	uint8_t trace[16], span[8], parent[8];
	char name[RT_HTTP_METHOD_MAX + 1 + RT_HTTP_PATH_MAX + 1];
	wants_t ws;
	int bad = 0, part;
	const char *what = c->method;
	make_ids(j, trace, span, parent);
	snprintf(name, sizeof name, "%s%s%.*s", c->method, r->path_len ? " " : "", (int)r->path_len,
		 r->path);
	uint32_t flags = c->trace_flags | 0x100u | (c->has_parent ? 0x200u : 0);

#define PART(cond, ...)                                 \
	do {                                            \
		part = !!(cond);                        \
		bad += !part;                           \
		if (verbose)                            \
			ok(part, __VA_ARGS__);          \
	} while (0)
	PART(s->trace_id.len == 16 && memcmp(s->trace_id.data, trace, 16) == 0 &&
	     s->span_id.len == 8 && memcmp(s->span_id.data, span, 8) == 0,
	     "%s %s: trace id and span id", what, c->path);
	PART(c->has_parent ? s->parent_span_id.len == 8 && memcmp(s->parent_span_id.data, parent, 8) == 0
			   : s->parent_span_id.len == 0,
	     "%s %s: parent span id %s", what, c->path, c->has_parent ? "set" : "absent");
	PART(s->name && strcmp(s->name, name) == 0, "%s %s: name '%.40s'", what, c->path, name);
	PART(s->kind == OTSHIM__OTLP__SPAN__SPAN_KIND__SPAN_KIND_SERVER && s->kind == 2,
	     "%s %s: kind SERVER", what, c->path);
	PART(s->start_time_unix_nano == start_real(j) &&
	     s->end_time_unix_nano == start_real(j) + (end_mono(j) - start_mono(j)),
	     "%s %s: start and end times", what, c->path);
	PART(s->flags == flags, "%s %s: flags 0x%x", what, c->path, flags);
	if (c->status >= 500)
		PART(s->status && s->status->code == OTSHIM__OTLP__STATUS__STATUS_CODE__STATUS_CODE_ERROR &&
		     s->status->message && s->status->message[0] == 0,
		     "%s %s: status %u is ERROR", what, c->path, c->status);
	else
		PART(s->status == NULL, "%s %s: status %u leaves the span status unset", what, c->path,
		     c->status);
	span_wants(&ws, c, r, j);
	int abad = check_attrs(s->attributes, s->n_attributes, &ws, verbose);
	PART(abad == 0, "%s %s: its %zu attributes, each once, no others", what, c->path, ws.n);
#undef PART
	return bad;
}

/* ---- encoding and decoding ---- */

static req_msg_t *encode_decode(const rt_span_resource_t *res, rt_span_rec_t *const *recs, size_t n,
				rt_span_buf_t *buf, const uint8_t **data, size_t *len)
{
	if (rt_span_encode(res, recs, n, PROFILE_DIR, buf, data, len) != 0)
		return NULL;
	return otshim__otlp__export_trace_service_request__unpack(NULL, *len, *data);
}

/* The one ScopeSpans of m, or NULL when the envelope is not one ResourceSpans holding
 * one ScopeSpans from scope otshim. */
static const Otshim__Otlp__ScopeSpans *the_scope(const req_msg_t *m)
{
	if (!m || m->n_resource_spans != 1 || !m->resource_spans[0]->resource ||
	    m->resource_spans[0]->n_scope_spans != 1)
		return NULL;
	const Otshim__Otlp__ScopeSpans *ss = m->resource_spans[0]->scope_spans[0];
	if (!ss->scope || strcmp(ss->scope->name, "otshim") != 0 ||
	    strcmp(ss->scope->version, RT_SPAN_SDK_VERSION) != 0)
		return NULL;
	return ss;
}

/* ---- the resource ---- */

static void exe_basename(char *out, size_t cap)
{
	char path[4096];
	ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
	path[n > 0 ? n : 0] = 0;
	const char *slash = strrchr(path, '/');
	snprintf(out, cap, "%.255s", slash ? slash + 1 : path); /* as emit/span.c cuts it */
}

/* Encodes one plain span under a resource made from service_name and attrs, and checks
 * the resource's attributes: the base ones, plus extra (the user's). */
static void test_resource(const char *label, const char *service_name, const char *attrs,
			  const char *want_service, const wants_t *extra)
{
	rt_cfg_otlp_t cfg;
	memset(&cfg, 0, sizeof cfg);
	snprintf(cfg.service_name, sizeof cfg.service_name, "%s", service_name);
	snprintf(cfg.resource_attrs, sizeof cfg.resource_attrs, "%s", attrs);
	rt_span_resource_t *res = rt_span_resource_new(&cfg);
	if (!ok(res != NULL, "resource, %s: made", label))
		return;
	rt_req_t *r = make_req(&cases[0], 0);
	rt_span_rec_t *rec = make_rec(r);
	rt_span_buf_t buf = { 0 };
	const uint8_t *data;
	size_t len;
	req_msg_t *m = encode_decode(res, &rec, 1, &buf, &data, &len);
	ok(m != NULL, "resource, %s: the request decodes", label);
	const Otshim__Otlp__ScopeSpans *ss = the_scope(m);
	ok(ss != NULL, "resource, %s: one ResourceSpans, one ScopeSpans, scope otshim %s", label,
	   RT_SPAN_SDK_VERSION);
	if (ss) {
		const Otshim__Otlp__Resource *rs = m->resource_spans[0]->resource;
		char exe[256], host[256];
		wants_t ws = *extra;
		exe_basename(exe, sizeof exe);
		/* The defaults, unless the user's attributes set them. */
		want_str(&ws, "service.name", want_service, strlen(want_service));
		if (!wanted(&ws, "process.pid"))
			want_int(&ws, "process.pid", W_INT, getpid());
		if (!wanted(&ws, "process.executable.name"))
			want_str(&ws, "process.executable.name", exe, strlen(exe));
		if (!wanted(&ws, "host.name") && gethostname(host, sizeof host) == 0) {
			host[sizeof host - 1] = 0;
			want_str(&ws, "host.name", host, strlen(host));
		}
		if (!wanted(&ws, "telemetry.sdk.name"))
			want_str(&ws, "telemetry.sdk.name", "otshim", 6);
		if (!wanted(&ws, "telemetry.sdk.version"))
			want_str(&ws, "telemetry.sdk.version", RT_SPAN_SDK_VERSION,
				 strlen(RT_SPAN_SDK_VERSION));
		ok(check_attrs(rs->attributes, rs->n_attributes, &ws, 1) == 0,
		   "resource, %s: service.name '%s', the user's attributes, process.pid %d, "
		   "telemetry.sdk.name, each once", label, want_service, (int)getpid());
		ok(ss->n_spans == 1 && check_span(ss->spans[0], &cases[0], r, 0, 0) == 0,
		   "resource, %s: and the span under it", label);
	}
	if (m)
		otshim__otlp__export_trace_service_request__free_unpacked(m, NULL);
	rt_span_rec_free(rec);
	free(rec);
	free(r);
	rt_span_buf_free(&buf);
	rt_span_resource_free(res);
}

static void test_resources(void)
{
	wants_t user = { .n = 0 };
	char svc[300], exe[256];
	want_str(&user, "deployment.environment", "test", 4);
	want_str(&user, "team", "core team", 9);
	test_resource("OTEL_SERVICE_NAME set", "checkout",
		      "service.name=from-attrs,deployment.environment=test,team=core%20team", "checkout",
		      &user);
	test_resource("service.name in the attributes only", "",
		      "deployment.environment=test,service.name=from-attrs,team=core%20team",
		      "from-attrs", &user);
	exe_basename(exe, sizeof exe);
	snprintf(svc, sizeof svc, "unknown_service:%s", exe);
	wants_t none = { .n = 0 };
	test_resource("neither", "", "", svc, &none);
	/* The user's value of a default attribute replaces it: never two of one key. */
	wants_t over = { .n = 0 };
	want_str(&over, "telemetry.sdk.name", "custom-sdk", 10);
	want_str(&over, "telemetry.sdk.version", "9.9", 3);
	want_str(&over, "host.name", "h1", 2);
	test_resource("defaults overridden", "svc",
		      "telemetry.sdk.name=custom-sdk,host.name=h1,telemetry.sdk.version=9.9", "svc",
		      &over);
}

/* ---- spans ---- */

/* Each case on its own, every part said. */
static void test_cases(rt_span_resource_t *res)
{
	for (size_t k = 0; k < NCASES; k++) {
		const tcase_t *c = &cases[k];
		rt_req_t *r = make_req(c, k);
		rt_req_files_t *files = r->files;
		rt_span_rec_t *rec = make_rec(r);
		if (c->slow)
			ok(r->files == NULL && rec->files == files,
			   "%s %s: rt_span_rec_fill takes the request's files", c->method, c->path);
		rt_span_buf_t buf = { 0 };
		const uint8_t *data;
		size_t len;
		req_msg_t *m = encode_decode(res, &rec, 1, &buf, &data, &len);
		const Otshim__Otlp__ScopeSpans *ss = the_scope(m);
		if (ok(ss && ss->n_spans == 1, "%s %s: encodes and decodes to one span", c->method, c->path))
			check_span(ss->spans[0], c, r, k, 1);
		if (m)
			otshim__otlp__export_trace_service_request__free_unpacked(m, NULL);
		rt_span_rec_free(rec);
		ok(rec->files == NULL && rec->long_strings == NULL, "%s %s: rt_span_rec_free empties it",
		   c->method, c->path);
		rt_span_rec_free(rec); /* twice is harmless */
		free(rec);
		free(r);
		rt_span_buf_free(&buf);
	}
}

static void fill_pattern(char *dst, size_t n, const char *alphabet)
{
	size_t an = strlen(alphabet);
	for (size_t i = 0; i < n; i++)
		dst[i] = alphabet[(i * 7 + i / 13) % an];
}

/* Strings around the inline room: path + query + user agent at RT_SPAN_INLINE (kept
 * inline), one over it, and every field at its longest. */
static void test_long_strings(rt_span_resource_t *res)
{
	static const struct {
		size_t path, query, ua;
		int want_long;
	} sizes[] = {
		{ 200, 40, 16, 0 },       /* 256: just fits */
		{ 200, 40, 17, 1 },       /* 257 */
		{ 1, 0, 0, 0 },
		{ 512, 0, 0, 1 },
		{ 0 + 100, 512, 0, 1 },
		{ RT_HTTP_PATH_MAX, RT_HTTP_QUERY_MAX, RT_HTTP_UA_MAX, 1 },
	};
	tcase_t c = cases[0];
	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
		rt_req_t *r = make_req(&c, k);
		r->path_len = (uint16_t)sizes[k].path;
		r->query_len = (uint16_t)sizes[k].query;
		r->user_agent_len = (uint8_t)sizes[k].ua;
		fill_pattern(r->path, r->path_len, "/abcdefghijklmnopqrstuvwxyz0123456789-_.~");
		r->path[0] = '/';
		fill_pattern(r->query, r->query_len, "ABCDEFGHIJKLMNOPQRSTUVWXYZ=&%+");
		fill_pattern(r->user_agent, r->user_agent_len, "Mozilla/5.0 (compatible; ua) ");
		size_t total = sizes[k].path + sizes[k].query + sizes[k].ua;
		ok(rt_span_rec_strings_len(r) == total, "long %zu+%zu+%zu: strings_len %zu", sizes[k].path,
		   sizes[k].query, sizes[k].ua, total);
		rt_span_rec_t *rec = make_rec(r);
		ok((rec->long_strings != NULL) == sizes[k].want_long, "long %zu+%zu+%zu: %s", sizes[k].path,
		   sizes[k].query, sizes[k].ua, sizes[k].want_long ? "kept apart" : "kept inline");
		rt_span_buf_t buf = { 0 };
		const uint8_t *data;
		size_t len;
		req_msg_t *m = encode_decode(res, &rec, 1, &buf, &data, &len);
		const Otshim__Otlp__ScopeSpans *ss = the_scope(m);
		ok(ss && ss->n_spans == 1 && check_span(ss->spans[0], &c, r, k, 0) == 0,
		   "long %zu+%zu+%zu: name, url.path, url.query, user_agent.original round-trip exactly",
		   sizes[k].path, sizes[k].query, sizes[k].ua);
		if (m)
			otshim__otlp__export_trace_service_request__free_unpacked(m, NULL);
		rt_span_rec_free(rec);
		free(rec);
		free(r);
		rt_span_buf_free(&buf);
	}
}

/* ---- batches ---- */

#define BATCH_N 1000

static void test_batch(rt_span_resource_t *res)
{
	static rt_req_t *reqs[BATCH_N];
	static rt_span_rec_t *recs[BATCH_N];
	rt_span_buf_t buf = { 0 };
	const uint8_t *data;
	size_t len, bad = 0;
	for (size_t j = 0; j < BATCH_N; j++) {
		reqs[j] = make_req(&cases[j % NCASES], j);
		if (j % 97 == 5) { /* some long ones among them */
			reqs[j]->path_len = RT_HTTP_PATH_MAX;
			fill_pattern(reqs[j]->path, RT_HTTP_PATH_MAX, "/pqrstuvw");
		}
		recs[j] = make_rec(reqs[j]);
	}
	req_msg_t *m = encode_decode(res, recs, BATCH_N, &buf, &data, &len);
	const Otshim__Otlp__ScopeSpans *ss = the_scope(m);
	ok(ss && ss->n_spans == BATCH_N, "batch: %d records encode (%zu bytes) and decode to %d spans",
	   BATCH_N, len, BATCH_N);
	for (size_t j = 0; ss && j < ss->n_spans && j < BATCH_N; j++)
		bad += check_span(ss->spans[j], &cases[j % NCASES], reqs[j], j, 0) != 0;
	ok(ss && bad == 0, "batch: every span whole and in order (%zu wrong)", bad);
	if (m)
		otshim__otlp__export_trace_service_request__free_unpacked(m, NULL);

	/* The same buffers again: a small batch in between, then the same batch. */
	uint8_t *first = malloc(len);
	size_t first_len = len;
	memcpy(first, data, len);
	m = encode_decode(res, &recs[3], 1, &buf, &data, &len);
	ss = the_scope(m);
	ok(ss && ss->n_spans == 1 && len < first_len &&
	   check_span(ss->spans[0], &cases[3 % NCASES], reqs[3], 3, 0) == 0,
	   "batch: then one record in the same buffers is one span, nothing left over");
	if (m)
		otshim__otlp__export_trace_service_request__free_unpacked(m, NULL);
	ok(rt_span_encode(res, recs, BATCH_N, PROFILE_DIR, &buf, &data, &len) == 0 &&
	   len == first_len && memcmp(data, first, len) == 0,
	   "batch: encoding the same batch again gives the same bytes");
	ok(rt_span_encode(res, recs, BATCH_N, PROFILE_DIR, &buf, &data, &len) == 0 &&
	   len == first_len && memcmp(data, first, len) == 0, "batch: and again");
	free(first);

	for (size_t j = 0; j < BATCH_N; j++) {
		rt_span_rec_free(recs[j]);
		free(recs[j]);
		free(reqs[j]);
	}
	rt_span_buf_free(&buf);
	ok(buf.out.p == NULL && buf.scratch.p == NULL && buf.out.cap == 0,
	   "batch: rt_span_buf_free empties the buffers");
}

int main(void)
{
	rt_cfg_otlp_t cfg;
	memset(&cfg, 0, sizeof cfg);
	snprintf(cfg.service_name, sizeof cfg.service_name, "unit");
	test_resources();
	rt_span_resource_t *res = rt_span_resource_new(&cfg);
	if (!ok(res != NULL, "resource made"))
		return done_testing();
	test_cases(res);
	test_long_strings(res);
	test_batch(res);
	rt_span_resource_free(res);
	return done_testing();
}
