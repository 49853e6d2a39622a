/* span.c: requests -> ExportTraceServiceRequest (see emit/span.h).
 * The resource and scope are protobuf-c messages packed once per process. Spans are
 * written straight to the wire format by the small writer below, with the same field
 * numbers (runtime/proto/otlp_trace.proto is the schema of record; the unit test
 * decodes our output with protobuf-c's code generated from it, the integration test
 * with OpenTelemetry's own). Why not protobuf-c for spans too: building and packing its
 * structs measured 3 us a span here, and a saturated service ends ~150 k requests a
 * second on one core, so that alone would cost the service half its throughput; the
 * direct writer measured 0.06 us a span and allocates nothing per span. */
#include "emit/span.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "otlp_trace.pb-c.h"

#define RES_MAX 64

typedef Otshim__Otlp__KeyValue kv_t;
typedef Otshim__Otlp__AnyValue any_t;

/* ---- resource attributes (protobuf-c) ---- */

typedef struct attrs {
	kv_t *kv;
	any_t *val;
	size_t n, cap;
} attrs_t;

static any_t *attr_add(attrs_t *a, const char *key)
{
	if (a->n >= a->cap)
		return NULL;
	kv_t *kv = &a->kv[a->n];
	any_t *v = &a->val[a->n++];
	otshim__otlp__key_value__init(kv);
	otshim__otlp__any_value__init(v);
	kv->key = (char *)key;
	kv->value = v;
	return v;
}

static void attr_str(attrs_t *a, const char *key, char *s)
{
	any_t *v = attr_add(a, key);
	if (!v)
		return;
	v->value_case = OTSHIM__OTLP__ANY_VALUE__VALUE_STRING_VALUE;
	v->string_value = s;
}

static void attr_int(attrs_t *a, const char *key, int64_t n)
{
	any_t *v = attr_add(a, key);
	if (!v)
		return;
	v->value_case = OTSHIM__OTLP__ANY_VALUE__VALUE_INT_VALUE;
	v->int_value = n;
}

/* ---- the resource ---- */

struct rt_span_resource {
	attrs_t attrs;
	kv_t kv[RES_MAX];
	any_t val[RES_MAX];
	char *strings[RES_MAX * 2];
	size_t nstrings;
	uint8_t *resource, *scope;     /* packed Resource and InstrumentationScope */
	size_t resource_len, scope_len;
};

static char *res_strdup(rt_span_resource_t *r, const char *s)
{
	char *d = strdup(s);
	if (d && r->nstrings < RES_MAX * 2)
		r->strings[r->nstrings++] = d;
	else if (d) {
		free(d);
		d = NULL;
	}
	return d ? d : (char *)"";
}

static int res_has(const rt_span_resource_t *r, const char *key)
{
	for (size_t i = 0; i < r->attrs.n; i++)
		if (strcmp(r->attrs.kv[i].key, key) == 0)
			return 1;
	return 0;
}

static void res_user_attr(const char *key, const char *value, void *arg)
{
	rt_span_resource_t *r = arg;
	if (!res_has(r, key))
		attr_str(&r->attrs, res_strdup(r, key), res_strdup(r, value));
}

static void exe_name(char *out, size_t cap)
{
	char path[4096];
	ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
	if (n <= 0) {
		snprintf(out, cap, "unknown");
		return;
	}
	path[n] = 0;
	const char *slash = strrchr(path, '/');
	snprintf(out, cap, "%.255s", slash ? slash + 1 : path);
}

static int pack_resource(rt_span_resource_t *r)
{
	kv_t *ptrs[RES_MAX];
	Otshim__Otlp__Resource res = OTSHIM__OTLP__RESOURCE__INIT;
	for (size_t i = 0; i < r->attrs.n; i++)
		ptrs[i] = &r->attrs.kv[i];
	res.n_attributes = r->attrs.n;
	res.attributes = ptrs;
	Otshim__Otlp__InstrumentationScope scope = OTSHIM__OTLP__INSTRUMENTATION_SCOPE__INIT;
	scope.name = (char *)"otshim";
	scope.version = (char *)RT_SPAN_SDK_VERSION;
	r->resource_len = otshim__otlp__resource__get_packed_size(&res);
	r->scope_len = otshim__otlp__instrumentation_scope__get_packed_size(&scope);
	r->resource = malloc(r->resource_len + 1);
	r->scope = malloc(r->scope_len + 1);
	if (!r->resource || !r->scope)
		return -1;
	otshim__otlp__resource__pack(&res, r->resource);
	otshim__otlp__instrumentation_scope__pack(&scope, r->scope);
	return 0;
}

rt_span_resource_t *rt_span_resource_new(const rt_cfg_otlp_t *cfg)
{
	rt_span_resource_t *r = calloc(1, sizeof *r);
	char exe[256], host[256], svc[300];
	if (!r)
		return NULL;
	r->attrs = (attrs_t){ r->kv, r->val, 0, RES_MAX };
	exe_name(exe, sizeof exe);
	/* OTEL_SERVICE_NAME wins over a service.name in OTEL_RESOURCE_ATTRIBUTES. */
	if (cfg->service_name[0])
		attr_str(&r->attrs, "service.name", res_strdup(r, cfg->service_name));
	rt_cfg_kv_parse(cfg->resource_attrs, res_user_attr, r);
	if (!res_has(r, "service.name")) {
		snprintf(svc, sizeof svc, "unknown_service:%s", exe);
		attr_str(&r->attrs, "service.name", res_strdup(r, svc));
	}
	if (!res_has(r, "process.pid"))
		attr_int(&r->attrs, "process.pid", (int64_t)getpid());
	if (!res_has(r, "process.executable.name"))
		attr_str(&r->attrs, "process.executable.name", res_strdup(r, exe));
	if (!res_has(r, "host.name") && gethostname(host, sizeof host) == 0) {
		host[sizeof host - 1] = 0;
		attr_str(&r->attrs, "host.name", res_strdup(r, host));
	}
	if (!res_has(r, "telemetry.sdk.name"))
		attr_str(&r->attrs, "telemetry.sdk.name", (char *)"otshim");
	if (!res_has(r, "telemetry.sdk.version"))
		attr_str(&r->attrs, "telemetry.sdk.version", (char *)RT_SPAN_SDK_VERSION);
	if (pack_resource(r) != 0) {
		rt_span_resource_free(r);
		return NULL;
	}
	return r;
}

const char *rt_span_resource_service(const rt_span_resource_t *res)
{
	for (size_t i = 0; i < res->attrs.n; i++)
		if (strcmp(res->attrs.kv[i].key, "service.name") == 0)
			return res->attrs.val[i].string_value;
	return "unknown_service";
}

void rt_span_resource_packed(const rt_span_resource_t *res, const uint8_t **resource,
			     size_t *resource_len, const uint8_t **scope, size_t *scope_len)
{
	*resource = res->resource;
	*resource_len = res->resource_len;
	*scope = res->scope;
	*scope_len = res->scope_len;
}

void rt_span_resource_free(rt_span_resource_t *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nstrings; i++)
		free(r->strings[i]);
	free(r->resource);
	free(r->scope);
	free(r);
}

/* ---- the wire writer ---- */

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

/* Grows b to hold n more bytes; on failure marks it and every later write is a no-op. */
static int room(rt_pbuf_t *b, size_t n)
{
	if (b->oom)
		return 0;
	if (b->len + n <= b->cap)
		return 1;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->len + n)
		cap *= 2;
	uint8_t *p = realloc(b->p, cap);
	if (!p) {
		b->oom = 1;
		return 0;
	}
	b->p = p;
	b->cap = cap;
	return 1;
}

static inline size_t varint_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* The writers take and return a cursor into a buffer the caller made room in, with
 * room(), for an upper bound of what it writes: one check a span, not one a byte. A
 * cursor in a local, not a length in the buffer struct, because every byte store
 * through a uint8_t pointer may alias that struct and forces it back to memory. */
static inline uint8_t *put_varint(uint8_t *o, uint64_t v)
{
	while (v >= 0x80) {
		*o++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*o++ = (uint8_t)v;
	return o;
}

static inline uint8_t *put_raw(uint8_t *o, const void *p, size_t n)
{
	memcpy(o, p, n);
	return o + n;
}

static inline uint8_t *put_tag(uint8_t *o, unsigned field, unsigned wire)
{
	return put_varint(o, (uint64_t)field << 3 | wire);
}

static inline uint8_t *put_len(uint8_t *o, unsigned field, const void *p, size_t n)
{
	o = put_tag(o, field, WT_LEN);
	o = put_varint(o, n);
	return put_raw(o, p, n);
}

static inline uint8_t *put_fixed(uint8_t *o, unsigned field, uint64_t v, size_t bytes)
{
	o = put_tag(o, field, bytes == 8 ? WT_I64 : WT_I32);
	for (size_t i = 0; i < bytes; i++)
		*o++ = (uint8_t)(v >> (8 * i));
	return o;
}

/* ---- span attributes: KeyValue (field 9 of Span) holding an AnyValue ---- */

#define SPAN_ATTRIBUTES 9
#define KEY(lit) lit, sizeof lit - 1
#define INLINE static inline __attribute__((always_inline)) /* keys are constants: fold them */

/* KeyValue{1: key, 2: AnyValue{...}} around an AnyValue body of any_len bytes. */
INLINE uint8_t *kv_head(uint8_t *o, const char *key, size_t klen, size_t any_len)
{
	size_t kv_len = 1 + varint_len(klen) + klen + 1 + varint_len(any_len) + any_len;
	o = put_tag(o, SPAN_ATTRIBUTES, WT_LEN);
	o = put_varint(o, kv_len);
	o = put_len(o, 1, key, klen);
	o = put_tag(o, 2, WT_LEN);
	return put_varint(o, any_len);
}

INLINE uint8_t *kv_str(uint8_t *o, const char *key, size_t klen, const char *s, size_t n)
{
	o = kv_head(o, key, klen, 1 + varint_len(n) + n);
	return put_len(o, 1, s, n); /* AnyValue.string_value */
}

INLINE uint8_t *kv_int(uint8_t *o, const char *key, size_t klen, int64_t v)
{
	o = kv_head(o, key, klen, 1 + varint_len((uint64_t)v));
	o = put_tag(o, 3, WT_VARINT); /* AnyValue.int_value */
	return put_varint(o, (uint64_t)v);
}

INLINE uint8_t *kv_bool(uint8_t *o, const char *key, size_t klen, int v)
{
	o = kv_head(o, key, klen, 2);
	o = put_tag(o, 2, WT_VARINT); /* AnyValue.bool_value */
	return put_varint(o, v != 0);
}

/* ---- records ---- */

size_t rt_span_rec_strings_len(const rt_req_t *r)
{
	return (size_t)r->path_len + r->query_len + r->user_agent_len;
}

void rt_span_rec_fill(rt_span_rec_t *rec, rt_req_t *r, char *long_buf)
{
	char *dst = long_buf ? long_buf : rec->strings;
	rec->long_strings = long_buf;
	memcpy(dst, r->path, r->path_len);
	memcpy(dst + r->path_len, r->query, r->query_len);
	memcpy(dst + r->path_len + r->query_len, r->user_agent, r->user_agent_len);
	rec->path_len = r->path_len;
	rec->query_len = r->query_len;
	rec->ua_len = r->user_agent_len;
	memcpy(rec->method, r->method, r->method_len);
	rec->method_len = r->method_len;
	rec->start_mono_ns = r->start_mono_ns;
	rec->end_mono_ns = r->end_mono_ns;
	rec->start_real_ns = r->start_real_ns;
	memcpy(rec->trace_id, r->ctx.trace_id, 16);
	memcpy(rec->span_id, r->span_id, 8);
	memcpy(rec->parent_id, r->ctx.parent_id, 8);
	rec->has_parent = (uint8_t)r->has_parent;
	rec->trace_flags = r->ctx.flags;
	rec->http_minor = r->http_minor;
	rec->http2 = r->multiplexed;
	rec->has_grpc_status = r->has_grpc_status;
	rec->grpc_status = r->grpc_status;
	rec->tls = r->tls;
	rec->status = r->status;
	rec->local_port = r->local_port;
	rec->peer.family = r->peer.ss_family;
	if (r->peer.ss_family == AF_INET)
		memcpy(&rec->peer.v4, &r->peer, sizeof rec->peer.v4);
	else if (r->peer.ss_family == AF_INET6)
		memcpy(&rec->peer.v6, &r->peer, sizeof rec->peer.v6);
	rec->alloc_bytes = r->alloc_bytes;
	rec->files = r->files;
	rec->kind = RT_SPAN_SERVER;
	rec->call_failed = 0;
	rec->db_system = NULL;
	r->files = NULL;
}

size_t rt_span_rec_call_strings_len(const rt_call_t *c)
{
	return (size_t)c->path_len + c->query_len + c->peer.text_len;
}

void rt_span_rec_fill_call(rt_span_rec_t *rec, const rt_call_t *c, char *long_buf)
{
	char *dst = long_buf ? long_buf : rec->strings;
	rec->long_strings = long_buf;
	memcpy(dst, c->path, c->path_len);
	memcpy(dst + c->path_len, c->query, c->query_len);
	memcpy(dst + c->path_len + c->query_len, c->peer.text, c->peer.text_len);
	rec->path_len = c->path_len;
	rec->query_len = c->query_len;
	rec->ua_len = c->peer.text_len;
	memcpy(rec->method, c->method, c->method_len);
	rec->method_len = c->method_len;
	rec->start_mono_ns = c->start_mono_ns;
	rec->end_mono_ns = c->end_mono_ns;
	rec->start_real_ns = 0;
	memcpy(rec->trace_id, c->parent.trace_id, 16);
	memcpy(rec->span_id, c->span_id, 8);
	memcpy(rec->parent_id, c->parent.span_id, 8);
	rec->has_parent = 1;
	rec->trace_flags = c->parent.flags;
	rec->http_minor = 1;
	rec->status = c->status;
	rec->local_port = c->peer.port;
	rec->kind = c->kind;
	rec->call_failed = c->failed;
	rec->db_system = c->peer.db_system;
	rec->peer.family = c->peer.addr.family;
	if (c->peer.addr.family == AF_INET)
		rec->peer.v4 = c->peer.addr.v4;
	else if (c->peer.addr.family == AF_INET6)
		rec->peer.v6 = c->peer.addr.v6;
	rec->alloc_bytes = -1;
	rec->files = NULL;
}

void rt_span_rec_free(rt_span_rec_t *rec)
{
	free(rec->files);
	free(rec->long_strings);
	rec->files = NULL;
	rec->long_strings = NULL;
}

/* ---- one span ---- */

static int method_known(const char *m, size_t n)
{
	switch (n) {
	case 3: return !memcmp(m, "GET", 3) || !memcmp(m, "PUT", 3);
	case 4: return !memcmp(m, "HEAD", 4) || !memcmp(m, "POST", 4);
	case 5: return !memcmp(m, "TRACE", 5) || !memcmp(m, "PATCH", 5);
	case 6: return !memcmp(m, "DELETE", 6);
	case 7: return !memcmp(m, "CONNECT", 7) || !memcmp(m, "OPTIONS", 7);
	}
	return 0;
}

/* The peer's address as text, its length (0 when the family has none) and port. */
static size_t peer_text(const rt_span_rec_t *r, char *out, int *port)
{
	if (r->peer.family == AF_INET) {
		/* By hand: inet_ntop formats through sprintf, a fifth of a span's cost. */
		const uint8_t *a = (const uint8_t *)&r->peer.v4.sin_addr;
		char *o = out;
		*port = ntohs(r->peer.v4.sin_port);
		for (int i = 0; i < 4; i++) {
			if (a[i] >= 100)
				*o++ = (char)('0' + a[i] / 100);
			if (a[i] >= 10)
				*o++ = (char)('0' + a[i] / 10 % 10);
			*o++ = (char)('0' + a[i] % 10);
			*o++ = '.';
		}
		return (size_t)(o - out - 1);
	}
	if (r->peer.family == AF_INET6) {
		*port = ntohs(r->peer.v6.sin6_port);
		if (!inet_ntop(AF_INET6, &r->peer.v6.sin6_addr, out, INET6_ADDRSTRLEN))
			return 0;
		return strlen(out);
	}
	return 0;
}

static uint8_t *kv_file(uint8_t *o, const char *key, size_t klen, const char *dir,
		    const char *name)
{
	char path[RT_CFG_PATH_MAX + 160];
	int n = snprintf(path, sizeof path, "%s/%s", dir, name);
	/* names fit their 128-byte fields, as span_bound counted */
	if (n > 0 && (size_t)n < sizeof path)
		o = kv_str(o, key, klen, path, (size_t)n);
	return o;
}

static uint8_t *put_http_attrs(uint8_t *o, const rt_span_rec_t *r)
{
	const char *strings = r->long_strings ? r->long_strings : r->strings;
	char peer[INET6_ADDRSTRLEN];
	int port = 0;
	if (method_known(r->method, r->method_len)) {
		o = kv_str(o, KEY("http.request.method"), r->method, r->method_len);
	} else {
		o = kv_str(o, KEY("http.request.method"), KEY("_OTHER"));
		o = kv_str(o, KEY("http.request.method_original"), r->method, r->method_len);
	}
	o = kv_str(o, KEY("url.path"), strings, r->path_len);
	if (r->query_len)
		o = kv_str(o, KEY("url.query"), strings + r->path_len, r->query_len);
	if (r->tls)
		o = kv_str(o, KEY("url.scheme"), KEY("https"));
	else
		o = kv_str(o, KEY("url.scheme"), KEY("http"));
	if (r->status) {
		o = kv_int(o, KEY("http.response.status_code"), r->status);
		if (r->status >= 500) {
			char code[8];
			int n = snprintf(code, sizeof code, "%u", r->status);
			o = kv_str(o, KEY("error.type"), code, (size_t)n);
		}
	}
	if (r->local_port)
		o = kv_int(o, KEY("server.port"), r->local_port);
	size_t peer_len = peer_text(r, peer, &port);
	if (peer_len) {
		o = kv_str(o, KEY("network.peer.address"), peer, peer_len);
		o = kv_int(o, KEY("network.peer.port"), port);
	} else if (r->peer.family == AF_UNIX) {
		/* tcp is the convention's default; only the exception is said (bytes count:
		 * a saturated service ships hundreds of megabytes of spans a minute) */
		o = kv_str(o, KEY("network.transport"), KEY("unix"));
	}
	if (r->has_grpc_status)
		o = kv_int(o, KEY("rpc.grpc.status_code"), r->grpc_status);
	if (r->http2)
		o = kv_str(o, KEY("network.protocol.version"), KEY("2"));
	else if (r->http_minor)
		o = kv_str(o, KEY("network.protocol.version"), KEY("1.1"));
	else
		o = kv_str(o, KEY("network.protocol.version"), KEY("1.0"));
	if (r->ua_len)
		o = kv_str(o, KEY("user_agent.original"), strings + r->path_len + r->query_len, r->ua_len);
	return o;
}

/* A client span's attributes: the HTTP client convention's, or, for another
 * protocol, the peer's (and db.system where the port names one). */
static uint8_t *put_client_attrs(uint8_t *o, const rt_span_rec_t *r)
{
	const char *strings = r->long_strings ? r->long_strings : r->strings;
	char addr[INET6_ADDRSTRLEN];
	int port = 0;
	size_t addr_len = peer_text(r, addr, &port);
	if (r->kind == RT_CALL_HTTP) {
		if (method_known(r->method, r->method_len)) {
			o = kv_str(o, KEY("http.request.method"), r->method, r->method_len);
		} else {
			o = kv_str(o, KEY("http.request.method"), KEY("_OTHER"));
			o = kv_str(o, KEY("http.request.method_original"), r->method, r->method_len);
		}
		/* url.full: the address connected to (the Host header is not kept) */
		char url[RT_SPAN_INLINE + RT_CALL_PATH_MAX + RT_CALL_QUERY_MAX + 80];
		size_t n = 0;
		if (addr_len && r->peer.family == AF_INET6)
			n = (size_t)snprintf(url, sizeof url, "http://[%.*s]:%d", (int)addr_len, addr, port);
		else if (addr_len)
			n = (size_t)snprintf(url, sizeof url, "http://%.*s:%d", (int)addr_len, addr, port);
		else
			n = (size_t)snprintf(url, sizeof url, "http://localhost");
		n += (size_t)snprintf(url + n, sizeof url - n, "%.*s", (int)r->path_len, strings);
		if (r->query_len)
			n += (size_t)snprintf(url + n, sizeof url - n, "?%.*s", (int)r->query_len,
					      strings + r->path_len);
		o = kv_str(o, KEY("url.full"), url, n < sizeof url ? n : sizeof url - 1);
		if (r->status)
			o = kv_int(o, KEY("http.response.status_code"), r->status);
	} else if (r->db_system) {
		o = kv_str(o, KEY("db.system"), r->db_system, strlen(r->db_system));
	}
	if (addr_len) {
		o = kv_str(o, KEY("server.address"), addr, addr_len);
		o = kv_int(o, KEY("server.port"), port);
		o = kv_str(o, KEY("network.peer.address"), addr, addr_len);
		o = kv_int(o, KEY("network.peer.port"), port);
	} else if (r->peer.family == AF_UNIX) {
		o = kv_str(o, KEY("network.transport"), KEY("unix"));
		if (r->ua_len)
			o = kv_str(o, KEY("network.peer.address"), strings + r->path_len + r->query_len,
				   r->ua_len);
	}
	if (r->status >= 500) {
		char code[8];
		int n = snprintf(code, sizeof code, "%u", r->status);
		o = kv_str(o, KEY("error.type"), code, (size_t)n);
	} else if (r->call_failed) {
		o = kv_str(o, KEY("error.type"), KEY("connection_error"));
	}
	return o;
}

/* A client span's name: "<METHOD>" for HTTP; else db.system, or the peer. */
static uint8_t *put_client_name(uint8_t *o, const rt_span_rec_t *r)
{
	const char *strings = r->long_strings ? r->long_strings : r->strings;
	if (r->kind == RT_CALL_HTTP)
		return put_len(o, 5, r->method, r->method_len);
	if (r->db_system)
		return put_len(o, 5, r->db_system, strlen(r->db_system));
	if (r->ua_len)
		return put_len(o, 5, strings + r->path_len + r->query_len, r->ua_len);
	return put_len(o, 5, "connect", 7);
}

static uint8_t *put_profile_attrs(uint8_t *o, const rt_span_rec_t *r, const char *dir)
{
	const rt_req_files_t *f = r->files;
	if (!f || !f->cpu[0])
		return o;
	o = kv_bool(o, KEY("profile.triggered"), 1);
	o = kv_file(o, KEY("profile.cpu.path"), dir, f->cpu);
	if (f->wall[0])
		o = kv_file(o, KEY("profile.wall.path"), dir, f->wall);
	if (f->heap[0])
		o = kv_file(o, KEY("profile.heap.path"), dir, f->heap);
	if (f->threads[0])
		o = kv_file(o, KEY("profile.threads.path"), dir, f->threads);
	if (r->alloc_bytes >= 0)
		o = kv_int(o, KEY("profile.heap.alloc_bytes"), r->alloc_bytes);
	if (f->nthreads >= 0)
		o = kv_int(o, KEY("process.thread.count"), f->nthreads);
	if (f->downstream[0])
		o = kv_str(o, KEY("otshim.downstream"), f->downstream, strlen(f->downstream));
	return o;
}

/* The most bytes put_span_body can write for r: every field and attribute at its
 * longest (tags and length varints 11 bytes each, numbers 10). */
static size_t span_bound(const rt_span_rec_t *r, const char *dir)
{
	size_t strings = 2 * r->method_len + 2 * r->path_len + r->query_len + r->ua_len +
			 INET6_ADDRSTRLEN + 8;
	size_t keys = 560; /* the attribute names and fixed values */
	size_t files = r->files ? 3 * (strlen(dir) + 1 + sizeof r->files->cpu) +
				  sizeof r->files->downstream + 32 : 0;
	if (r->kind != RT_SPAN_SERVER) /* url.full, the address twice, db.system */
		strings += 2 * (r->path_len + r->query_len) + 4 * INET6_ADDRSTRLEN + 128;
	return strings + keys + files + 24 * (4 * 11 + 10) + 64;
}

/* Span's fields in field-number order, into b (emptied first). */
static void put_span_body(rt_pbuf_t *b, const rt_span_rec_t *r, const char *dir)
{
	const char *path = r->long_strings ? r->long_strings : r->strings;
	b->len = 0;
	if (!room(b, span_bound(r, dir)))
		return;
	uint8_t *o = b->p;
	o = put_len(o, 1, r->trace_id, 16);
	o = put_len(o, 2, r->span_id, 8);
	if (r->has_parent)
		o = put_len(o, 4, r->parent_id, 8);
	if (r->kind != RT_SPAN_SERVER) {
		o = put_client_name(o, r);
		o = put_tag(o, 6, WT_VARINT);
		o = put_varint(o, OTSHIM__OTLP__SPAN__SPAN_KIND__SPAN_KIND_CLIENT);
		o = put_fixed(o, 7, r->start_real_ns, 8);
		o = put_fixed(o, 8, r->start_real_ns + (r->end_mono_ns - r->start_mono_ns), 8);
		o = put_client_attrs(o, r);
		if (r->status >= 500 || r->call_failed) {
			static const uint8_t error_status[] = { 3 << 3 | WT_VARINT,
				OTSHIM__OTLP__STATUS__STATUS_CODE__STATUS_CODE_ERROR };
			o = put_len(o, 15, error_status, sizeof error_status);
		}
		/* the parent is this process's own server span: not remote */
		o = put_fixed(o, 16, (uint32_t)r->trace_flags | 0x100u, 4);
		b->len = (size_t)(o - b->p);
		return;
	}
	/* name: "<METHOD> <path>" */
	size_t name_len = r->method_len + (r->path_len ? 1 + r->path_len : 0);
	o = put_tag(o, 5, WT_LEN);
	o = put_varint(o, name_len);
	o = put_raw(o, r->method, r->method_len);
	if (r->path_len) {
		o = put_raw(o, " ", 1);
		o = put_raw(o, path, r->path_len);
	}
	o = put_tag(o, 6, WT_VARINT);
	o = put_varint(o, OTSHIM__OTLP__SPAN__SPAN_KIND__SPAN_KIND_SERVER);
	o = put_fixed(o, 7, r->start_real_ns, 8);
	o = put_fixed(o, 8, r->start_real_ns + (r->end_mono_ns - r->start_mono_ns), 8);
	o = put_http_attrs(o, r);
	o = put_profile_attrs(o, r, dir);
	/* gRPC: any status but OK is an error, whatever the HTTP status (200) says */
	if (r->status >= 500 || (r->has_grpc_status && r->grpc_status != 0)) {
		static const uint8_t error_status[] = { 3 << 3 | WT_VARINT,
			OTSHIM__OTLP__STATUS__STATUS_CODE__STATUS_CODE_ERROR };
		o = put_len(o, 15, error_status, sizeof error_status);
	}
	/* Low byte: W3C trace flags; 0x100: the next bit is meaningful; 0x200: the parent
	 * came from another process (a traceparent header). */
	o = put_fixed(o, 16, (uint32_t)r->trace_flags | 0x100u | (r->has_parent ? 0x200u : 0), 4);
	b->len = (size_t)(o - b->p);
}

/* ---- the batch ---- */

/* Longest envelope: three tags, three length varints, resource and scope fields. */
static size_t envelope_max(const rt_span_resource_t *res)
{
	return 3 * (1 + 10) + 2 * (1 + 10) + res->resource_len + res->scope_len;
}

int rt_span_encode(const rt_span_resource_t *res, rt_span_rec_t *const *recs, size_t n,
		   const char *dir, rt_span_buf_t *buf, const uint8_t **data, size_t *len)
{
	rt_pbuf_t *out = &buf->out, *span = &buf->scratch;
	/* The spans go after room for the envelope, which is written last, just before
	 * them, once their total length is known: the batch is never copied. */
	size_t front = envelope_max(res);
	out->len = 0;
	out->oom = span->oom = 0;
	if (!room(out, front))
		return -1;
	out->len = front;
	for (size_t i = 0; i < n; i++) {
		put_span_body(span, recs[i], dir);
		if (span->oom || !room(out, span->len + 11))
			return -1;
		uint8_t *o = put_len(out->p + out->len, 2, span->p, span->len); /* ScopeSpans.spans */
		out->len = (size_t)(o - out->p);
	}
	if (out->oom || span->oom)
		return -1;
	size_t spans_len = out->len - front;
	size_t ss_len = 1 + varint_len(res->scope_len) + res->scope_len + spans_len;
	size_t rs_len = 1 + varint_len(res->resource_len) + res->resource_len + 1 +
			varint_len(ss_len) + ss_len;
	/* ExportTraceServiceRequest{1: ResourceSpans{1: resource, 2: ScopeSpans{1: scope,
	 * 2: the spans}}}: the envelope is built apart, then put right before them. */
	rt_pbuf_t env = { 0 };
	if (!room(&env, front))
		return -1;
	uint8_t *o = env.p;
	o = put_tag(o, 1, WT_LEN);
	o = put_varint(o, rs_len);
	o = put_len(o, 1, res->resource, res->resource_len);
	o = put_tag(o, 2, WT_LEN);
	o = put_varint(o, ss_len);
	o = put_len(o, 1, res->scope, res->scope_len);
	env.len = (size_t)(o - env.p);
	int rc = -1;
	if (!env.oom && env.len <= front) {
		memcpy(out->p + front - env.len, env.p, env.len);
		*data = out->p + front - env.len;
		*len = env.len + spans_len;
		rc = 0;
	}
	free(env.p);
	return rc;
}

void rt_span_buf_free(rt_span_buf_t *buf)
{
	free(buf->out.p);
	free(buf->scratch.p);
	memset(buf, 0, sizeof *buf);
}
