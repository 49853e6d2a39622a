/* rt_span.c: requests -> ExportTraceServiceRequest (see rt_span.h). Each batch builds
 * its protobuf-c structs in arrays made for the batch and its strings in one arena, so
 * a batch costs a handful of allocations whatever its size. */
#include "rt_span.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "otlp_trace.pb-c.h"

#define ATTRS_MAX 24 /* per span; the most set_attrs can add is 20 */
#define RES_MAX 64

typedef Otshim__Otlp__KeyValue kv_t;
typedef Otshim__Otlp__AnyValue any_t;

/* ---- string arena: one block per batch ---- */

typedef struct arena {
	char *p;
	size_t used, cap;
} arena_t;

static char *arena_put(arena_t *a, const char *s, size_t n)
{
	if (a->used + n + 1 > a->cap)
		return (char *)""; /* sized up front: cannot happen, but never overflow */
	char *d = a->p + a->used;
	memcpy(d, s, n);
	d[n] = 0;
	a->used += n + 1;
	return d;
}

/* ---- attributes ---- */

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

static void attr_bool(attrs_t *a, const char *key, int b)
{
	any_t *v = attr_add(a, key);
	if (!v)
		return;
	v->value_case = OTSHIM__OTLP__ANY_VALUE__VALUE_BOOL_VALUE;
	v->bool_value = b != 0;
}

/* ---- the resource ---- */

struct rt_span_resource {
	attrs_t attrs;
	kv_t kv[RES_MAX];
	any_t val[RES_MAX];
	char *strings[RES_MAX * 2];
	size_t nstrings;
	char sdk_version[16];
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
	attr_str(&r->attrs, "telemetry.sdk.name", (char *)"otshim");
	attr_str(&r->attrs, "telemetry.sdk.version", (char *)RT_SPAN_SDK_VERSION);
	return r;
}

void rt_span_resource_free(rt_span_resource_t *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nstrings; i++)
		free(r->strings[i]);
	free(r);
}

/* ---- one span ---- */

static const char *const known_methods[] = { "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT",
					     "OPTIONS", "TRACE", "PATCH" };

static int method_known(const rt_req_t *r)
{
	for (size_t i = 0; i < sizeof known_methods / sizeof *known_methods; i++)
		if (strlen(known_methods[i]) == r->method_len &&
		    memcmp(known_methods[i], r->method, r->method_len) == 0)
			return 1;
	return 0;
}

/* The peer as text and port; 0 when the family has neither. */
static int peer_text(const rt_req_t *r, char *out, size_t cap, int *port)
{
	const struct sockaddr_storage *ss = &r->peer;
	*port = -1;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)ss;
		*port = ntohs(in->sin_port);
		return inet_ntop(AF_INET, &in->sin_addr, out, (socklen_t)cap) != NULL;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)ss;
		*port = ntohs(in6->sin6_port);
		return inet_ntop(AF_INET6, &in6->sin6_addr, out, (socklen_t)cap) != NULL;
	}
	return 0;
}

static char *join_dir(arena_t *a, const char *dir, const char *name)
{
	char path[RT_CFG_PATH_MAX + 160];
	int n = snprintf(path, sizeof path, "%s/%s", dir, name);
	return arena_put(a, path, n > 0 && (size_t)n < sizeof path ? (size_t)n : 0);
}

static void set_attrs(attrs_t *a, arena_t *ar, const rt_req_t *r, const char *dir)
{
	char *method = arena_put(ar, r->method, r->method_len);
	char peer[INET6_ADDRSTRLEN];
	int port;
	if (method_known(r)) {
		attr_str(a, "http.request.method", method);
	} else {
		attr_str(a, "http.request.method", (char *)"_OTHER");
		attr_str(a, "http.request.method_original", method);
	}
	attr_str(a, "url.path", arena_put(ar, r->path, r->path_len));
	if (r->query_len)
		attr_str(a, "url.query", arena_put(ar, r->query, r->query_len));
	attr_str(a, "url.scheme", (char *)"http");
	if (r->status) {
		attr_int(a, "http.response.status_code", r->status);
		if (r->status >= 500) {
			char code[8];
			int n = snprintf(code, sizeof code, "%u", r->status);
			attr_str(a, "error.type", arena_put(ar, code, (size_t)n));
		}
	}
	if (r->local_port)
		attr_int(a, "server.port", r->local_port);
	if (peer_text(r, peer, sizeof peer, &port)) {
		attr_str(a, "network.peer.address", arena_put(ar, peer, strlen(peer)));
		attr_int(a, "network.peer.port", port);
		attr_str(a, "network.transport", (char *)"tcp");
	} else if (r->peer.ss_family == AF_UNIX) {
		attr_str(a, "network.transport", (char *)"unix");
	}
	attr_str(a, "network.protocol.version", (char *)(r->http_minor ? "1.1" : "1.0"));
	if (r->user_agent_len)
		attr_str(a, "user_agent.original", arena_put(ar, r->user_agent, r->user_agent_len));
	const rt_req_files_t *f = r->files;
	if (!f || !f->cpu[0])
		return;
	attr_bool(a, "profile.triggered", 1);
	attr_str(a, "profile.cpu.path", join_dir(ar, dir, f->cpu));
	if (f->heap[0])
		attr_str(a, "profile.heap.path", join_dir(ar, dir, f->heap));
	if (f->threads[0])
		attr_str(a, "profile.threads.path", join_dir(ar, dir, f->threads));
	if (r->alloc_bytes >= 0)
		attr_int(a, "profile.heap.alloc_bytes", r->alloc_bytes);
	if (f->nthreads >= 0)
		attr_int(a, "process.thread.count", f->nthreads);
}

/* Strings one span may put in the arena, NULs included. */
static size_t span_arena_need(const rt_req_t *r, const char *dir)
{
	size_t n = 2 * (r->method_len + 1) + r->path_len + 2 + r->path_len + 1 + r->query_len + 1 +
		   8 + INET6_ADDRSTRLEN + 1 + r->user_agent_len + 1;
	if (r->files)
		n += 3 * (strlen(dir) + 1 + 128 + 1);
	return n;
}

static void set_span(Otshim__Otlp__Span *sp, Otshim__Otlp__Status *st, attrs_t *a, arena_t *ar,
		     const rt_req_t *r, const char *dir)
{
	char name[RT_HTTP_METHOD_MAX + 1 + RT_HTTP_PATH_MAX + 1];
	otshim__otlp__span__init(sp);
	otshim__otlp__status__init(st);
	sp->trace_id = (ProtobufCBinaryData){ 16, (uint8_t *)r->ctx.trace_id };
	sp->span_id = (ProtobufCBinaryData){ 8, (uint8_t *)r->span_id };
	if (r->has_parent)
		sp->parent_span_id = (ProtobufCBinaryData){ 8, (uint8_t *)r->ctx.parent_id };
	/* Low byte: W3C trace flags; 0x100: the next bit is meaningful; 0x200: the parent
	 * came from another process (a traceparent header). */
	sp->flags = (uint32_t)(r->ctx.flags & 0xff) | 0x100u | (r->has_parent ? 0x200u : 0);
	int n = snprintf(name, sizeof name, "%.*s%s%.*s", (int)r->method_len, r->method,
			 r->path_len ? " " : "", (int)r->path_len, r->path);
	sp->name = arena_put(ar, name, n > 0 ? (size_t)n : 0);
	sp->kind = OTSHIM__OTLP__SPAN__SPAN_KIND__SPAN_KIND_SERVER;
	sp->start_time_unix_nano = r->start_real_ns;
	sp->end_time_unix_nano = r->start_real_ns + (r->end_mono_ns - r->start_mono_ns);
	set_attrs(a, ar, r, dir);
	sp->n_attributes = a->n;
	sp->attributes = malloc(a->n * sizeof *sp->attributes);
	if (!sp->attributes)
		sp->n_attributes = 0;
	for (size_t i = 0; i < sp->n_attributes; i++)
		sp->attributes[i] = &a->kv[i];
	if (r->status >= 500)
		st->code = OTSHIM__OTLP__STATUS__STATUS_CODE__STATUS_CODE_ERROR;
	sp->status = st;
}

/* ---- the batch ---- */

typedef struct batch {
	Otshim__Otlp__Span *spans;
	Otshim__Otlp__Span **span_ptrs;
	Otshim__Otlp__Status *status;
	kv_t *kv;
	any_t *val;
	arena_t arena;
} batch_t;

static void batch_free(batch_t *b, size_t n)
{
	if (b->spans)
		for (size_t i = 0; i < n; i++)
			free(b->spans[i].attributes);
	free(b->spans);
	free(b->span_ptrs);
	free(b->status);
	free(b->kv);
	free(b->val);
	free(b->arena.p);
}

int rt_span_encode(const rt_span_resource_t *res, rt_req_t *const *reqs, size_t n,
		   const char *dir, uint8_t **out, size_t *len)
{
	batch_t b = { 0 };
	int rc = -1;
	for (size_t i = 0; i < n; i++)
		b.arena.cap += span_arena_need(reqs[i], dir);
	b.spans = calloc(n, sizeof *b.spans);
	b.span_ptrs = calloc(n, sizeof *b.span_ptrs);
	b.status = calloc(n, sizeof *b.status);
	b.kv = calloc(n * ATTRS_MAX, sizeof *b.kv);
	b.val = calloc(n * ATTRS_MAX, sizeof *b.val);
	b.arena.p = malloc(b.arena.cap);
	if (!b.spans || !b.span_ptrs || !b.status || !b.kv || !b.val || !b.arena.p)
		goto out;
	for (size_t i = 0; i < n; i++) {
		attrs_t a = { b.kv + i * ATTRS_MAX, b.val + i * ATTRS_MAX, 0, ATTRS_MAX };
		set_span(&b.spans[i], &b.status[i], &a, &b.arena, reqs[i], dir);
		b.span_ptrs[i] = &b.spans[i];
	}

	Otshim__Otlp__Resource resource = OTSHIM__OTLP__RESOURCE__INIT;
	kv_t *res_kv[RES_MAX];
	for (size_t i = 0; i < res->attrs.n; i++)
		res_kv[i] = &res->attrs.kv[i];
	resource.n_attributes = res->attrs.n;
	resource.attributes = res_kv;
	Otshim__Otlp__InstrumentationScope scope = OTSHIM__OTLP__INSTRUMENTATION_SCOPE__INIT;
	scope.name = (char *)"otshim";
	scope.version = (char *)RT_SPAN_SDK_VERSION;
	Otshim__Otlp__ScopeSpans ss = OTSHIM__OTLP__SCOPE_SPANS__INIT, *ssp = &ss;
	ss.scope = &scope;
	ss.n_spans = n;
	ss.spans = b.span_ptrs;
	Otshim__Otlp__ResourceSpans rs = OTSHIM__OTLP__RESOURCE_SPANS__INIT, *rsp = &rs;
	rs.resource = &resource;
	rs.n_scope_spans = 1;
	rs.scope_spans = &ssp;
	Otshim__Otlp__ExportTraceServiceRequest req = OTSHIM__OTLP__EXPORT_TRACE_SERVICE_REQUEST__INIT;
	req.n_resource_spans = 1;
	req.resource_spans = &rsp;

	*len = otshim__otlp__export_trace_service_request__get_packed_size(&req);
	*out = malloc(*len ? *len : 1);
	if (!*out)
		goto out;
	otshim__otlp__export_trace_service_request__pack(&req, *out);
	rc = 0;
out:
	batch_free(&b, n);
	return rc;
}
