/* test_otlp_profile.c: pprof -> OTLP profiles. Profiles built with rt_profile (real
 * stacks of this program, and named pseudo-frames) are encoded, converted with
 * rt_otlp_profile_encode, and the request is read back with protobuf-c's code generated
 * from runtime/proto/otlp_profiles.proto: one Profile per sample type with the same
 * values, every dictionary table starting with its zero value, every index in range,
 * links from the trace_id/span_id labels, other labels as attributes under OpenTelemetry's
 * names, the profile's own attributes, and the resource given. (The integration test
 * decodes the same bytes with protoc and the upstream schema, which this cannot: this
 * checks the structure, that one the field numbers.) Then bad input: not gzip, gzip of
 * garbage, truncated, and a pprof whose sample names a location that does not exist:
 * each refused with -1, nothing leaked (ASan). */
#include <stdint.h>
#include <zlib.h>

#include "t.h"
#include "emit/otlp_profile.h"
#include "profile/profile.h"
#include "otlp_profiles.pb-c.h"
#include "otlp_trace.pb-c.h"
#include "profile.pb-c.h"

typedef Otshim__Otlp__ExportProfilesServiceRequest req_t;
typedef Otshim__Otlp__ProfilesDictionary dict_t;

#define TRACE "0af7651916cd43dd8448eb211c80319c"
#define SPAN "b7ad6b7169203331"

static uint8_t resource[256], scope[64];
static size_t resource_len, scope_len;

static void make_resource(void)
{
	Otshim__Otlp__AnyValue v = OTSHIM__OTLP__ANY_VALUE__INIT;
	Otshim__Otlp__KeyValue kv = OTSHIM__OTLP__KEY_VALUE__INIT, *kvs[1] = { &kv };
	Otshim__Otlp__Resource res = OTSHIM__OTLP__RESOURCE__INIT;
	Otshim__Otlp__InstrumentationScope sc = OTSHIM__OTLP__INSTRUMENTATION_SCOPE__INIT;
	v.value_case = OTSHIM__OTLP__ANY_VALUE__VALUE_STRING_VALUE;
	v.string_value = (char *)"unit-test";
	kv.key = (char *)"service.name";
	kv.value = &v;
	res.attributes = kvs;
	res.n_attributes = 1;
	sc.name = (char *)"otshim";
	sc.version = (char *)"0.1.0";
	resource_len = otshim__otlp__resource__pack(&res, resource);
	scope_len = otshim__otlp__instrumentation_scope__pack(&sc, scope);
}

__attribute__((noinline)) static void leaf_fn(uintptr_t *pcs)
{
	pcs[0] = (uintptr_t)&leaf_fn; /* an exact leaf: the function's first instruction */
	pcs[1] = (uintptr_t)__builtin_return_address(0);
}

/* The CPU profile of a slow request: two stacks under its ids, one of another thread
 * with thread labels. */
static rt_profile_t *cpu_profile(void)
{
	static const rt_value_type_t types[] = { { "samples", "count" }, { "cpu", "nanoseconds" } };
	rt_profile_t *p = rt_profile_new(types, 2, "cpu");
	uintptr_t pcs[2];
	leaf_fn(pcs);
	rt_profile_set_period(p, "cpu", "nanoseconds", 1000000);
	rt_profile_set_time(p, 1700000000000000000LL, 300000000);
	rt_label_t ids[2] = { { "trace_id", TRACE, 0 }, { "span_id", SPAN, 0 } };
	rt_label_t thread[2] = { { "thread_name", "worker-1", 0 }, { "thread_id", "4242", 0 } };
	int64_t a[2] = { 7, 7000000 }, b[2] = { 3, 3000000 }, c[2] = { 5, 5000000 };
	rt_profile_add_sample(p, pcs, 2, 1, a, ids, 2);
	rt_profile_add_sample_frame(p, "burn", b, ids, 2);
	rt_profile_add_sample_frame(p, "other", c, thread, 2);
	return p;
}

static int64_t total(const Otshim__Otlp__Profile *p)
{
	int64_t t = 0;
	for (size_t i = 0; i < p->n_samples; i++)
		for (size_t j = 0; j < p->samples[i]->n_values; j++)
			t += p->samples[i]->values[j];
	return t;
}

static const char *str(const dict_t *d, int32_t i)
{
	return i >= 0 && (size_t)i < d->n_string_table ? d->string_table[i] : "(out of range)";
}

/* Every index the request uses is inside its table. */
static int indices_ok(const req_t *r)
{
	const dict_t *d = r->dictionary;
	const Otshim__Otlp__ScopeProfiles *sp = r->resource_profiles[0]->scope_profiles[0];
	for (size_t i = 0; i < d->n_stack_table; i++)
		for (size_t j = 0; j < d->stack_table[i]->n_location_indices; j++)
			if ((size_t)d->stack_table[i]->location_indices[j] >= d->n_location_table)
				return 0;
	for (size_t i = 0; i < d->n_location_table; i++) {
		const Otshim__Otlp__Location *l = d->location_table[i];
		if ((size_t)l->mapping_index >= d->n_mapping_table)
			return 0;
		for (size_t j = 0; j < l->n_lines; j++)
			if (l->lines[j]->function_index <= 0 ||
			    (size_t)l->lines[j]->function_index >= d->n_function_table)
				return 0;
	}
	for (size_t i = 0; i < sp->n_profiles; i++)
		for (size_t j = 0; j < sp->profiles[i]->n_samples; j++) {
			const Otshim__Otlp__Sample *s = sp->profiles[i]->samples[j];
			if ((size_t)s->stack_index >= d->n_stack_table ||
			    (size_t)s->link_index >= d->n_link_table)
				return 0;
			for (size_t k = 0; k < s->n_attribute_indices; k++)
				if ((size_t)s->attribute_indices[k] >= d->n_attribute_table)
					return 0;
		}
	return 1;
}

/* The value of attribute key among indices (string or int, as text), or NULL. */
static const char *attr(const dict_t *d, const int32_t *ix, size_t n, const char *key, char *buf)
{
	for (size_t i = 0; i < n; i++) {
		const Otshim__Otlp__KeyValueAndUnit *a = d->attribute_table[ix[i]];
		if (strcmp(str(d, a->key_strindex), key) != 0 || !a->value)
			continue;
		if (a->value->value_case == OTSHIM__OTLP__ANY_VALUE__VALUE_STRING_VALUE)
			return a->value->string_value;
		snprintf(buf, 32, "%lld", (long long)a->value->int_value);
		return buf;
	}
	return NULL;
}

static void test_cpu(void)
{
	rt_profile_t *p = cpu_profile();
	uint8_t *gz, *out;
	size_t len, out_len;
	char buf[32];
	ok(rt_profile_encode_gz(p, &gz, &len) == 0, "the pprof profile encodes");
	rt_profile_free(p);
	rt_otlp_profile_about_t about = { "cpu", "slow_request", 4242, "worker-1" };
	is_int(rt_otlp_profile_encode(gz, len, &about, resource, resource_len, scope, scope_len,
				      &out, &out_len), 0, "converted");
	free(gz);
	req_t *r = otshim__otlp__export_profiles_service_request__unpack(NULL, out_len, out);
	free(out);
	if (!ok(r && r->dictionary && r->n_resource_profiles == 1 &&
		r->resource_profiles[0]->n_scope_profiles == 1, "one resource, one scope, a dictionary"))
		return;
	const dict_t *d = r->dictionary;
	const Otshim__Otlp__ResourceProfiles *rp = r->resource_profiles[0];
	const Otshim__Otlp__ScopeProfiles *sp = rp->scope_profiles[0];
	ok(rp->resource && rp->resource->n_attributes == 1 &&
	   strcmp(rp->resource->attributes[0]->value->string_value, "unit-test") == 0,
	   "the resource is the one given");
	ok(sp->scope && strcmp(sp->scope->name, "otshim") == 0, "the scope is the one given");
	ok(d->n_string_table > 0 && d->string_table[0][0] == 0 && d->n_mapping_table > 0 &&
	   d->n_location_table > 0 && d->n_function_table > 0 && d->n_link_table > 0 &&
	   d->n_attribute_table > 0 && d->n_stack_table > 0, "every table has its entry 0");
	ok(d->mapping_table[0]->memory_limit == 0 && d->location_table[0]->n_lines == 0 &&
	   d->function_table[0]->name_strindex == 0 && d->link_table[0]->trace_id.len == 0 &&
	   d->attribute_table[0]->key_strindex == 0 && d->stack_table[0]->n_location_indices == 0,
	   "and it is the zero value");
	ok(indices_ok(r), "every index is in its table");
	is_int(sp->n_profiles, 2, "one Profile per sample type");
	is_str(str(d, sp->profiles[0]->sample_type->type_strindex), "samples", "profile 0 is samples");
	is_str(str(d, sp->profiles[1]->sample_type->type_strindex), "cpu", "profile 1 is cpu");
	is_str(str(d, sp->profiles[1]->sample_type->unit_strindex), "nanoseconds", "in nanoseconds");
	is_int(total(sp->profiles[0]), 15, "samples total kept");
	is_int(total(sp->profiles[1]), 15000000, "cpu total kept");
	is_int(sp->profiles[1]->period, 1000000, "period kept");
	is_str(str(d, sp->profiles[1]->period_type->type_strindex), "cpu", "period type kept");
	ok(sp->profiles[1]->time_unix_nano == 1700000000000000000ull &&
	   sp->profiles[1]->duration_nano == 300000000, "time and duration kept");
	ok(sp->profiles[0]->profile_id.len == 16 &&
	   memcmp(sp->profiles[0]->profile_id.data, sp->profiles[1]->profile_id.data, 16) != 0,
	   "each profile has its own 16-byte id");
	const Otshim__Otlp__Profile *cpu = sp->profiles[1];
	int64_t linked = 0, unlinked = 0;
	int thread_attrs = 0;
	for (size_t i = 0; i < cpu->n_samples; i++) {
		const Otshim__Otlp__Sample *s = cpu->samples[i];
		if (s->link_index) {
			const Otshim__Otlp__Link *l = d->link_table[s->link_index];
			ok(l->trace_id.len == 16 && l->span_id.len == 8 && l->trace_id.data[0] == 0x0a &&
			   l->trace_id.data[15] == 0x9c && l->span_id.data[0] == 0xb7 &&
			   l->span_id.data[7] == 0x31, "a linked sample's link is the trace and span");
			linked += s->values[0];
			is_int(s->n_attribute_indices, 0, "and its ids are not also attributes");
		} else {
			unlinked += s->values[0];
			const char *name = attr(d, s->attribute_indices, s->n_attribute_indices,
						"thread.name", buf);
			thread_attrs += name && strcmp(name, "worker-1") == 0;
			const char *tid = attr(d, s->attribute_indices, s->n_attribute_indices,
					       "thread.id", buf);
			thread_attrs += tid && strcmp(tid, "4242") == 0;
		}
	}
	is_int(linked, 10000000, "the samples labelled with the ids are linked");
	is_int(unlinked, 5000000, "the other one is not");
	is_int(thread_attrs, 2, "thread_name and thread_id labels become thread.name and thread.id");
	is_int(d->n_link_table, 2, "one link besides the zero one (shared by both samples)");
	is_str(attr(d, cpu->attribute_indices, cpu->n_attribute_indices, "otshim.profile.kind", buf),
	       "cpu", "the profile's kind");
	is_str(attr(d, cpu->attribute_indices, cpu->n_attribute_indices, "otshim.profile.source", buf),
	       "slow_request", "its source");
	is_str(attr(d, cpu->attribute_indices, cpu->n_attribute_indices, "thread.name", buf),
	       "worker-1", "the serving thread's name");
	is_str(attr(d, cpu->attribute_indices, cpu->n_attribute_indices, "thread.id", buf), "4242",
	       "and id");
	int named = 0;
	for (size_t i = 1; i < d->n_function_table; i++)
		named += strcmp(str(d, d->function_table[i]->name_strindex), "leaf_fn") == 0 ||
			 strcmp(str(d, d->function_table[i]->name_strindex), "burn") == 0;
	is_int(named, 2, "function names survive (a symbolised one and a pseudo-frame)");
	otshim__otlp__export_profiles_service_request__free_unpacked(r, NULL);
}

static size_t gzip_bytes(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
	z_stream z;
	memset(&z, 0, sizeof z);
	deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)n;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	deflate(&z, Z_FINISH);
	size_t got = z.total_out;
	deflateEnd(&z);
	return got;
}

static int convert(const uint8_t *gz, size_t len)
{
	uint8_t *out = NULL;
	size_t out_len;
	rt_otlp_profile_about_t about = { "cpu", "endpoint", 0, NULL };
	int rc = rt_otlp_profile_encode(gz, len, &about, resource, resource_len, scope, scope_len,
					&out, &out_len);
	free(out);
	return rc;
}

static void test_bad_input(void)
{
	static uint8_t gz[4096];
	uint8_t garbage[64];
	for (size_t i = 0; i < sizeof garbage; i++)
		garbage[i] = (uint8_t)(i * 37 + 11);
	is_int(convert(garbage, sizeof garbage), -1, "not gzip: refused");
	size_t n = gzip_bytes(garbage, sizeof garbage, gz, sizeof gz);
	is_int(convert(gz, n), -1, "gzip of garbage: refused");

	rt_profile_t *p = cpu_profile();
	uint8_t *good;
	size_t len;
	rt_profile_encode_gz(p, &good, &len);
	rt_profile_free(p);
	is_int(convert(good, len / 2), -1, "a truncated file: refused");
	is_int(convert(good, len), 0, "the whole file: converted");
	free(good);

	/* A pprof profile whose sample names location 99, which it does not have. */
	Perftools__Profiles__Profile pp = PERFTOOLS__PROFILES__PROFILE__INIT;
	Perftools__Profiles__ValueType vt = PERFTOOLS__PROFILES__VALUE_TYPE__INIT, *vts[1] = { &vt };
	Perftools__Profiles__Sample s = PERFTOOLS__PROFILES__SAMPLE__INIT, *ss[1] = { &s };
	char *strings[] = { (char *)"", (char *)"cpu", (char *)"nanoseconds" };
	uint64_t loc = 99;
	int64_t value = 5;
	vt.type = 1;
	vt.unit = 2;
	s.location_id = &loc;
	s.n_location_id = 1;
	s.value = &value;
	s.n_value = 1;
	pp.sample_type = vts;
	pp.n_sample_type = 1;
	pp.sample = ss;
	pp.n_sample = 1;
	pp.string_table = strings;
	pp.n_string_table = 3;
	uint8_t raw[512];
	size_t raw_len = perftools__profiles__profile__pack(&pp, raw);
	n = gzip_bytes(raw, raw_len, gz, sizeof gz);
	is_int(convert(gz, n), -1, "a sample naming a location that does not exist: refused");
	loc = 0;
	s.n_location_id = 0;
	vt.type = 7; /* out of the string table */
	raw_len = perftools__profiles__profile__pack(&pp, raw);
	n = gzip_bytes(raw, raw_len, gz, sizeof gz);
	is_int(convert(gz, n), -1, "a sample type naming a string that does not exist: refused");
}

int main(void)
{
	make_resource();
	test_cpu();
	test_bad_input();
	return done_testing();
}
