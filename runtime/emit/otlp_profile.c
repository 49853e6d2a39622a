/* otlp_profile.c: pprof -> OTLP profiles (see emit/otlp_profile.h). The pprof bytes
 * are unpacked with protobuf-c's code for Google's profile.proto and the request is
 * built with protobuf-c's code for runtime/proto/otlp_profiles.proto. Every table of the
 * dictionary starts with its zero value, as the schema requires; pprof's string table
 * is taken over whole (its index 0 is "" too), so pprof string indices stay valid. */
#include "emit/otlp_profile.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "base/hex.h"
#include "track/traceparent.h"
#include "otlp_profiles.pb-c.h"
#include "profile.pb-c.h"

#define PPROF_MAX (64u << 20) /* the largest unpacked profile we convert */

typedef Perftools__Profiles__Profile pprof_t;
typedef Otshim__Otlp__AnyValue any_t;
typedef Otshim__Otlp__KeyValueAndUnit attr_t;
typedef Otshim__Otlp__Link link_t;

/* ---- gunzip ---- */

static int gunzip(const uint8_t *in, size_t n, uint8_t **out, size_t *out_len)
{
	z_stream z;
	memset(&z, 0, sizeof z);
	if (inflateInit2(&z, 15 + 32) != Z_OK) /* gzip or zlib header */
		return -1;
	size_t cap = n * 4 + 4096, len = 0;
	uint8_t *buf = malloc(cap);
	int rc = Z_OK;
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)n;
	while (buf && rc == Z_OK) {
		if (len == cap) {
			uint8_t *grown = cap * 2 <= PPROF_MAX ? realloc(buf, cap * 2) : NULL;
			if (!grown)
				break;
			buf = grown;
			cap *= 2;
		}
		z.next_out = buf + len;
		z.avail_out = (uInt)(cap - len);
		rc = inflate(&z, Z_NO_FLUSH);
		len = cap - z.avail_out;
	}
	inflateEnd(&z);
	if (rc != Z_STREAM_END) {
		free(buf);
		return -1;
	}
	*out = buf;
	*out_len = len;
	return 0;
}

/* ---- a bump arena: the request's pieces live until it is packed ---- */

typedef struct block {
	struct block *next;
	size_t used, cap;
	_Alignas(16) unsigned char data[];
} block_t;

typedef struct build {
	block_t *blocks;
	int oom;
	const pprof_t *pp;
	char **strings;          /* pprof's table, then the strings we add */
	size_t nstrings, capstrings;
	attr_t **attrs;          /* attribute_table, [0] the zero value */
	size_t nattrs, capattrs;
	link_t **links;          /* link_table, [0] the zero value */
	size_t nlinks, caplinks;
} build_t;

static void *zalloc(build_t *b, size_t size)
{
	size = (size + 15) & ~(size_t)15;
	block_t *k = b->blocks;
	if (!k || k->cap - k->used < size) {
		size_t cap = size > 65536 ? size : 65536;
		k = malloc(sizeof *k + cap);
		if (!k) {
			b->oom = 1;
			return NULL;
		}
		k->next = b->blocks;
		k->used = 0;
		k->cap = cap;
		b->blocks = k;
	}
	void *p = k->data + k->used;
	k->used += size;
	memset(p, 0, size);
	return p;
}

/* Appends item to a growing array of pointers; its index, or 0 when out of memory. */
static int32_t push(build_t *b, void ***arr, size_t *n, size_t *cap, void *item)
{
	if (!item)
		return 0;
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 64;
		void **grown = realloc(*arr, c * sizeof *grown);
		if (!grown) {
			b->oom = 1;
			return 0;
		}
		*arr = grown;
		*cap = c;
	}
	(*arr)[*n] = item;
	return (int32_t)(*n)++;
}

static void build_free(build_t *b)
{
	while (b->blocks) {
		block_t *next = b->blocks->next;
		free(b->blocks);
		b->blocks = next;
	}
	free(b->strings);
	free(b->attrs);
	free(b->links);
}

/* The index of s in the string table, added when it is one of ours and new. */
static int32_t string_index(build_t *b, const char *s)
{
	for (size_t i = b->pp->n_string_table; i < b->nstrings; i++)
		if (strcmp(b->strings[i], s) == 0)
			return (int32_t)i;
	return push(b, (void ***)&b->strings, &b->nstrings, &b->capstrings, (void *)s);
}

/* The attribute key=value (a string when str, else num with unit), added when new. */
static int32_t attr_index(build_t *b, const char *key, const char *str, int64_t num, int32_t unit)
{
	int32_t k = string_index(b, key);
	for (size_t i = 1; i < b->nattrs; i++) {
		const attr_t *a = b->attrs[i];
		if (a->key_strindex != k || a->unit_strindex != unit)
			continue;
		if (str ? a->value->value_case == OTSHIM__OTLP__ANY_VALUE__VALUE_STRING_VALUE &&
				  strcmp(a->value->string_value, str) == 0
			: a->value->value_case == OTSHIM__OTLP__ANY_VALUE__VALUE_INT_VALUE &&
				  a->value->int_value == num)
			return (int32_t)i;
	}
	attr_t *a = zalloc(b, sizeof *a);
	any_t *v = zalloc(b, sizeof *v);
	if (!a || !v)
		return 0;
	otshim__otlp__key_value_and_unit__init(a);
	otshim__otlp__any_value__init(v);
	a->key_strindex = k;
	a->unit_strindex = unit;
	a->value = v;
	if (str) {
		v->value_case = OTSHIM__OTLP__ANY_VALUE__VALUE_STRING_VALUE;
		v->string_value = (char *)str;
	} else {
		v->value_case = OTSHIM__OTLP__ANY_VALUE__VALUE_INT_VALUE;
		v->int_value = num;
	}
	return push(b, (void ***)&b->attrs, &b->nattrs, &b->capattrs, a);
}

/* The link to trace/span (hex), added when new; 0 (no link) when either is not an id. */
static int32_t link_index(build_t *b, const char *trace, const char *span)
{
	uint8_t t[16], s[8];
	if (!trace || !span || rt_hex_decode(trace, t, 16) != 0 || rt_hex_decode(span, s, 8) != 0)
		return 0;
	for (size_t i = 1; i < b->nlinks; i++)
		if (memcmp(b->links[i]->trace_id.data, t, 16) == 0 &&
		    memcmp(b->links[i]->span_id.data, s, 8) == 0)
			return (int32_t)i;
	link_t *l = zalloc(b, sizeof *l);
	uint8_t *bytes = zalloc(b, 24);
	if (!l || !bytes)
		return 0;
	otshim__otlp__link__init(l);
	memcpy(bytes, t, 16);
	memcpy(bytes + 16, s, 8);
	l->trace_id = (ProtobufCBinaryData){ 16, bytes };
	l->span_id = (ProtobufCBinaryData){ 8, bytes + 16 };
	return push(b, (void ***)&b->links, &b->nlinks, &b->caplinks, l);
}

/* pprof tables are referred to by id, usually 1..n in order; OTLP's by index, with the
 * zero value at 0, so entry i of pprof's table is index i + 1. 0 when id is unknown. */
#define FIND_ID(table, n, want)                                             \
	do {                                                                \
		if ((want) >= 1 && (want) <= (n) && (table)[(want)-1]->id == (want)) \
			return (int32_t)(want);                             \
		for (size_t i_ = 0; i_ < (n); i_++)                         \
			if ((table)[i_]->id == (want))                      \
				return (int32_t)(i_ + 1);                   \
		return 0;                                                   \
	} while (0)

static int32_t mapping_of(const pprof_t *pp, uint64_t id)
{
	FIND_ID(pp->mapping, pp->n_mapping, id);
}

static int32_t location_of(const pprof_t *pp, uint64_t id)
{
	FIND_ID(pp->location, pp->n_location, id);
}

static int32_t function_of(const pprof_t *pp, uint64_t id)
{
	FIND_ID(pp->function, pp->n_function, id);
}

/* A pprof string index, or -1 when it is out of the table. */
static int32_t str_ok(const pprof_t *pp, int64_t i)
{
	return i >= 0 && (uint64_t)i < pp->n_string_table ? (int32_t)i : -1;
}

/* ---- the dictionary's tables ---- */

static int build_mappings(build_t *b, Otshim__Otlp__ProfilesDictionary *d)
{
	const pprof_t *pp = b->pp;
	d->n_mapping_table = pp->n_mapping + 1;
	d->mapping_table = zalloc(b, d->n_mapping_table * sizeof *d->mapping_table);
	for (size_t i = 0; d->mapping_table && i < d->n_mapping_table; i++) {
		Otshim__Otlp__Mapping *m = zalloc(b, sizeof *m);
		if (!m)
			return -1;
		otshim__otlp__mapping__init(m);
		d->mapping_table[i] = m;
		if (i == 0)
			continue;
		const Perftools__Profiles__Mapping *pm = pp->mapping[i - 1];
		if (str_ok(pp, pm->filename) < 0 || str_ok(pp, pm->build_id) < 0)
			return -1;
		m->memory_start = pm->memory_start;
		m->memory_limit = pm->memory_limit;
		m->file_offset = pm->file_offset;
		m->filename_strindex = (int32_t)pm->filename;
		if (pm->build_id) {
			m->attribute_indices = zalloc(b, sizeof *m->attribute_indices);
			if (!m->attribute_indices)
				return -1;
			m->attribute_indices[0] = attr_index(b, "process.executable.build_id.gnu",
							     pp->string_table[pm->build_id], 0, 0);
			m->n_attribute_indices = 1;
		}
	}
	return d->mapping_table && !b->oom ? 0 : -1;
}

static int build_functions(build_t *b, Otshim__Otlp__ProfilesDictionary *d)
{
	const pprof_t *pp = b->pp;
	d->n_function_table = pp->n_function + 1;
	d->function_table = zalloc(b, d->n_function_table * sizeof *d->function_table);
	for (size_t i = 0; d->function_table && i < d->n_function_table; i++) {
		Otshim__Otlp__Function *f = zalloc(b, sizeof *f);
		if (!f)
			return -1;
		otshim__otlp__function__init(f);
		d->function_table[i] = f;
		if (i == 0)
			continue;
		const Perftools__Profiles__Function *pf = pp->function[i - 1];
		if (str_ok(pp, pf->name) < 0 || str_ok(pp, pf->system_name) < 0 ||
		    str_ok(pp, pf->filename) < 0)
			return -1;
		f->name_strindex = (int32_t)pf->name;
		f->system_name_strindex = (int32_t)pf->system_name;
		f->filename_strindex = (int32_t)pf->filename;
		f->start_line = pf->start_line;
	}
	return d->function_table ? 0 : -1;
}

static int build_locations(build_t *b, Otshim__Otlp__ProfilesDictionary *d)
{
	const pprof_t *pp = b->pp;
	d->n_location_table = pp->n_location + 1;
	d->location_table = zalloc(b, d->n_location_table * sizeof *d->location_table);
	for (size_t i = 0; d->location_table && i < d->n_location_table; i++) {
		Otshim__Otlp__Location *l = zalloc(b, sizeof *l);
		if (!l)
			return -1;
		otshim__otlp__location__init(l);
		d->location_table[i] = l;
		if (i == 0)
			continue;
		const Perftools__Profiles__Location *pl = pp->location[i - 1];
		l->mapping_index = pl->mapping_id ? mapping_of(pp, pl->mapping_id) : 0;
		if (pl->mapping_id && !l->mapping_index)
			return -1;
		l->address = pl->address;
		l->n_lines = pl->n_line;
		l->lines = zalloc(b, (pl->n_line + 1) * sizeof *l->lines);
		Otshim__Otlp__Line *lines = zalloc(b, (pl->n_line + 1) * sizeof *lines);
		if (!l->lines || !lines)
			return -1;
		for (size_t j = 0; j < pl->n_line; j++) {
			otshim__otlp__line__init(&lines[j]);
			lines[j].function_index = function_of(pp, pl->line[j]->function_id);
			lines[j].line = pl->line[j]->line;
			if (!lines[j].function_index)
				return -1;
			l->lines[j] = &lines[j];
		}
	}
	return d->location_table ? 0 : -1;
}

/* ---- samples ---- */

/* What one pprof sample becomes, shared by the profiles of every sample type. */
typedef struct sample_parts {
	int32_t link;
	int32_t *attrs;
	size_t nattrs;
} sample_parts_t;

/* OpenTelemetry's names for the labels otshim's profiles carry. */
static const char *attr_name(const char *label)
{
	if (strcmp(label, "thread_name") == 0)
		return "thread.name";
	if (strcmp(label, "thread_id") == 0)
		return "thread.id";
	return label;
}

static int all_digits(const char *s)
{
	if (!*s || strlen(s) > 18)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

static int build_sample_parts(build_t *b, const Perftools__Profiles__Sample *ps, sample_parts_t *out)
{
	const pprof_t *pp = b->pp;
	const char *trace = NULL, *span = NULL;
	out->attrs = zalloc(b, (ps->n_label + 1) * sizeof *out->attrs);
	out->nattrs = 0;
	if (!out->attrs)
		return -1;
	for (size_t i = 0; i < ps->n_label; i++) {
		const Perftools__Profiles__Label *l = ps->label[i];
		if (str_ok(pp, l->key) < 0 || str_ok(pp, l->str) < 0 || str_ok(pp, l->num_unit) < 0)
			return -1;
		const char *key = pp->string_table[l->key];
		const char *str = l->str ? pp->string_table[l->str] : NULL;
		if (str && strcmp(key, "trace_id") == 0) {
			trace = str;
			continue;
		}
		if (str && strcmp(key, "span_id") == 0) {
			span = str;
			continue;
		}
		const char *name = attr_name(key);
		int32_t a = str && strcmp(name, "thread.id") == 0 && all_digits(str)
				    ? attr_index(b, name, NULL, strtoll(str, NULL, 10), 0)
				    : attr_index(b, name, str, l->num, str ? 0 : (int32_t)l->num_unit);
		if (a)
			out->attrs[out->nattrs++] = a;
	}
	out->link = link_index(b, trace, span);
	return b->oom ? -1 : 0;
}

/* The profile of sample type t: the pprof samples with a value of that type (pprof
 * sample i's stack is stack_table[i + 1]). */
static Otshim__Otlp__Profile *build_profile(build_t *b, size_t t, const sample_parts_t *parts,
					    int32_t *pattrs, size_t npattrs)
{
	const pprof_t *pp = b->pp;
	Otshim__Otlp__Profile *p = zalloc(b, sizeof *p);
	Otshim__Otlp__ValueType *st = zalloc(b, sizeof *st), *pt = zalloc(b, sizeof *pt);
	uint8_t *id = zalloc(b, 16);
	if (!p || !st || !pt || !id)
		return NULL;
	otshim__otlp__profile__init(p);
	otshim__otlp__value_type__init(st);
	otshim__otlp__value_type__init(pt);
	if (str_ok(pp, pp->sample_type[t]->type) < 0 || str_ok(pp, pp->sample_type[t]->unit) < 0)
		return NULL;
	st->type_strindex = (int32_t)pp->sample_type[t]->type;
	st->unit_strindex = (int32_t)pp->sample_type[t]->unit;
	p->sample_type = st;
	if (pp->period_type) {
		if (str_ok(pp, pp->period_type->type) < 0 || str_ok(pp, pp->period_type->unit) < 0)
			return NULL;
		pt->type_strindex = (int32_t)pp->period_type->type;
		pt->unit_strindex = (int32_t)pp->period_type->unit;
		p->period_type = pt;
	}
	p->period = pp->period;
	p->time_unix_nano = (uint64_t)pp->time_nanos;
	p->duration_nano = (uint64_t)pp->duration_nanos;
	rt_random_id(id, 16);
	p->profile_id = (ProtobufCBinaryData){ 16, id };
	p->attribute_indices = pattrs;
	p->n_attribute_indices = npattrs;
	p->samples = zalloc(b, (pp->n_sample + 1) * sizeof *p->samples);
	Otshim__Otlp__Sample *samples = zalloc(b, (pp->n_sample + 1) * sizeof *samples);
	if (!p->samples || !samples)
		return NULL;
	for (size_t i = 0; i < pp->n_sample; i++) {
		if (!pp->sample[i]->value[t])
			continue;
		Otshim__Otlp__Sample *s = &samples[p->n_samples];
		otshim__otlp__sample__init(s);
		s->stack_index = (int32_t)(i + 1);
		s->attribute_indices = parts[i].attrs;
		s->n_attribute_indices = parts[i].nattrs;
		s->link_index = parts[i].link;
		s->values = &pp->sample[i]->value[t];
		s->n_values = 1;
		p->samples[p->n_samples++] = s;
	}
	return p;
}

/* The stack table: [0] empty, then pprof sample i's stack at i + 1. */
static Otshim__Otlp__Stack **build_stacks(build_t *b, Otshim__Otlp__ProfilesDictionary *d)
{
	const pprof_t *pp = b->pp;
	Otshim__Otlp__Stack **stacks = zalloc(b, (pp->n_sample + 1) * sizeof *stacks);
	Otshim__Otlp__Stack *all = zalloc(b, (pp->n_sample + 1) * sizeof *all);
	if (!stacks || !all)
		return NULL;
	for (size_t i = 0; i <= pp->n_sample; i++) {
		otshim__otlp__stack__init(&all[i]);
		stacks[i] = &all[i];
		if (i == 0)
			continue;
		const Perftools__Profiles__Sample *ps = pp->sample[i - 1];
		all[i].location_indices = zalloc(b, (ps->n_location_id + 1) * sizeof(int32_t));
		if (!all[i].location_indices)
			return NULL;
		all[i].n_location_indices = ps->n_location_id;
		for (size_t j = 0; j < ps->n_location_id; j++)
			if (!(all[i].location_indices[j] = location_of(pp, ps->location_id[j])))
				return NULL;
	}
	d->stack_table = stacks;
	d->n_stack_table = pp->n_sample + 1;
	return stacks;
}

/* The profile's own attributes: its kind and source, and the serving thread. */
static size_t profile_attrs(build_t *b, const rt_otlp_profile_about_t *about, int32_t *out)
{
	size_t n = 0;
	if (about->kind)
		out[n++] = attr_index(b, "otshim.profile.kind", about->kind, 0, 0);
	if (about->source)
		out[n++] = attr_index(b, "otshim.profile.source", about->source, 0, 0);
	if (about->thread_name && about->thread_name[0])
		out[n++] = attr_index(b, "thread.name", about->thread_name, 0, 0);
	if (about->tid)
		out[n++] = attr_index(b, "thread.id", NULL, about->tid, 0);
	return n;
}

static int build_request(build_t *b, const rt_otlp_profile_about_t *about,
			 Otshim__Otlp__Resource *resource, Otshim__Otlp__InstrumentationScope *scope,
			 uint8_t **out, size_t *out_len)
{
	const pprof_t *pp = b->pp;
	Otshim__Otlp__ProfilesDictionary dict = OTSHIM__OTLP__PROFILES_DICTIONARY__INIT;
	Otshim__Otlp__ScopeProfiles sp = OTSHIM__OTLP__SCOPE_PROFILES__INIT;
	Otshim__Otlp__ResourceProfiles rp = OTSHIM__OTLP__RESOURCE_PROFILES__INIT;
	Otshim__Otlp__ExportProfilesServiceRequest req =
		OTSHIM__OTLP__EXPORT_PROFILES_SERVICE_REQUEST__INIT;
	Otshim__Otlp__Link zero_link = OTSHIM__OTLP__LINK__INIT;
	attr_t zero_attr = OTSHIM__OTLP__KEY_VALUE_AND_UNIT__INIT;
	for (size_t i = 0; i < pp->n_string_table; i++)
		push(b, (void ***)&b->strings, &b->nstrings, &b->capstrings, pp->string_table[i]);
	if (!pp->n_string_table || pp->string_table[0][0])
		return -1; /* pprof's string 0 is "" too */
	push(b, (void ***)&b->attrs, &b->nattrs, &b->capattrs, &zero_attr);
	push(b, (void ***)&b->links, &b->nlinks, &b->caplinks, &zero_link);
	if (b->oom || build_mappings(b, &dict) || build_functions(b, &dict) ||
	    build_locations(b, &dict))
		return -1;
	Otshim__Otlp__Stack **stacks = build_stacks(b, &dict);
	sample_parts_t *parts = zalloc(b, (pp->n_sample + 1) * sizeof *parts);
	if (!stacks || !parts)
		return -1;
	for (size_t i = 0; i < pp->n_sample; i++)
		if (pp->sample[i]->n_value != pp->n_sample_type ||
		    build_sample_parts(b, pp->sample[i], &parts[i]) != 0)
			return -1;
	int32_t pattrs[4];
	size_t npattrs = profile_attrs(b, about, pattrs);
	int32_t *pattrs_kept = zalloc(b, sizeof pattrs);
	sp.profiles = zalloc(b, (pp->n_sample_type + 1) * sizeof *sp.profiles);
	if (!pattrs_kept || !sp.profiles || b->oom)
		return -1;
	memcpy(pattrs_kept, pattrs, sizeof pattrs);
	for (size_t t = 0; t < pp->n_sample_type; t++)
		if (!(sp.profiles[sp.n_profiles++] = build_profile(b, t, parts, pattrs_kept, npattrs)))
			return -1;
	sp.scope = scope;
	Otshim__Otlp__ScopeProfiles *sps[1] = { &sp };
	rp.resource = resource;
	rp.scope_profiles = sps;
	rp.n_scope_profiles = 1;
	Otshim__Otlp__ResourceProfiles *rps[1] = { &rp };
	req.resource_profiles = rps;
	req.n_resource_profiles = 1;
	dict.string_table = b->strings;
	dict.n_string_table = b->nstrings;
	dict.attribute_table = b->attrs;
	dict.n_attribute_table = b->nattrs;
	dict.link_table = b->links;
	dict.n_link_table = b->nlinks;
	req.dictionary = &dict;
	if (b->oom)
		return -1;
	*out_len = otshim__otlp__export_profiles_service_request__get_packed_size(&req);
	if (!(*out = malloc(*out_len + 1)))
		return -1;
	otshim__otlp__export_profiles_service_request__pack(&req, *out);
	return 0;
}

int rt_otlp_profile_encode(const uint8_t *pprof_gz, size_t len, const rt_otlp_profile_about_t *about,
			   const uint8_t *resource, size_t resource_len, const uint8_t *scope,
			   size_t scope_len, uint8_t **out, size_t *out_len)
{
	uint8_t *raw;
	size_t raw_len;
	if (gunzip(pprof_gz, len, &raw, &raw_len) != 0)
		return -1;
	pprof_t *pp = perftools__profiles__profile__unpack(NULL, raw_len, raw);
	free(raw);
	Otshim__Otlp__Resource *res = otshim__otlp__resource__unpack(NULL, resource_len, resource);
	Otshim__Otlp__InstrumentationScope *sc =
		otshim__otlp__instrumentation_scope__unpack(NULL, scope_len, scope);
	build_t b = { .pp = pp };
	int rc = pp && res && sc ? build_request(&b, about, res, sc, out, out_len) : -1;
	build_free(&b);
	if (sc)
		otshim__otlp__instrumentation_scope__free_unpacked(sc, NULL);
	if (res)
		otshim__otlp__resource__free_unpacked(res, NULL);
	if (pp)
		perftools__profiles__profile__free_unpacked(pp, NULL);
	return rc;
}
