/* profile.c: pprof profile builder (see profile/profile.h). Samples are aggregated by
 * (stack, labels) as they are added; symbolisation (rt_symbols), mappings from
 * /proc/self/maps and protobuf encoding happen once, at write time. */
#include "profile/profile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "base/owned_fds.h"
#include "base/util.h"
#include "profile.pb-c.h"
#include "profile/symbols.h"

/* ---- a small open-addressing hash index: 64-bit hash -> entry number + 1 ---- */

typedef struct index {
	uint64_t *hash;
	uint32_t *slot; /* entry + 1; 0 = empty */
	size_t cap;     /* power of two */
} index_t;

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	return h * 0xff51afd7ed558ccdull;
}

static uint64_t hash_bytes(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return h;
}

static int index_grow(index_t *ix)
{
	size_t cap = ix->cap ? ix->cap * 2 : 256;
	uint64_t *hash = calloc(cap, sizeof *hash);
	uint32_t *slot = calloc(cap, sizeof *slot);
	if (!hash || !slot) {
		free(hash);
		free(slot);
		return -1;
	}
	for (size_t i = 0; i < ix->cap; i++) {
		if (!ix->slot[i])
			continue;
		size_t j = ix->hash[i] & (cap - 1);
		while (slot[j])
			j = (j + 1) & (cap - 1);
		hash[j] = ix->hash[i];
		slot[j] = ix->slot[i];
	}
	free(ix->hash);
	free(ix->slot);
	ix->hash = hash;
	ix->slot = slot;
	ix->cap = cap;
	return 0;
}

static void index_free(index_t *ix)
{
	free(ix->hash);
	free(ix->slot);
	memset(ix, 0, sizeof *ix);
}

/* ---- the profile ---- */

typedef struct sample {
	size_t nlocs;
	uint64_t *locs;         /* location ids, leaf first */
	size_t nlabels;
	int64_t *labels;        /* triples: key string, str string (0 = numeric), num */
	int64_t *values;
} sample_t;

typedef struct location {
	uintptr_t addr;         /* symbolised address (pc-1 for return addresses) */
	int64_t name;           /* > 0: a pseudo-frame with this name and no address */
} location_t;

struct rt_profile {
	size_t ntypes;
	int64_t *types;         /* pairs of string ids: type, unit */
	int64_t default_type;
	int64_t period_type[2], period;
	int64_t time_nanos, duration_nanos;

	char **strings;
	size_t nstrings, strings_cap;
	index_t string_ix;

	sample_t *samples;
	size_t nsamples, samples_cap;
	index_t sample_ix;

	location_t *locs;
	size_t nlocs, locs_cap;
	index_t loc_ix;

	int64_t *comments;
	size_t ncomments, comments_cap;
};

/* The id of s in the string table, adding it if new; -1 on allocation failure. */
static int64_t intern(rt_profile_t *p, const char *s)
{
	size_t n = strlen(s);
	uint64_t h = hash_bytes(s, n);
	if ((p->nstrings + 1) * 2 > p->string_ix.cap && index_grow(&p->string_ix) != 0)
		return -1;
	size_t j = h & (p->string_ix.cap - 1);
	for (; p->string_ix.slot[j]; j = (j + 1) & (p->string_ix.cap - 1)) {
		uint32_t e = p->string_ix.slot[j] - 1;
		if (p->string_ix.hash[j] == h && strcmp(p->strings[e], s) == 0)
			return e;
	}
	if (rt_grow((void **)&p->strings, &p->strings_cap, p->nstrings + 1, sizeof *p->strings))
		return -1;
	char *copy = strdup(s);
	if (!copy)
		return -1;
	p->strings[p->nstrings] = copy;
	p->string_ix.hash[j] = h;
	p->string_ix.slot[j] = (uint32_t)++p->nstrings;
	return (int64_t)p->nstrings - 1;
}

rt_profile_t *rt_profile_new(const rt_value_type_t *types, size_t ntypes, const char *default_type)
{
	rt_profile_t *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->types = calloc(ntypes * 2 + 1, sizeof *p->types);
	if (!p->types || intern(p, "") != 0)
		goto fail;
	p->ntypes = ntypes;
	for (size_t i = 0; i < ntypes; i++) {
		p->types[2 * i] = intern(p, types[i].type);
		p->types[2 * i + 1] = intern(p, types[i].unit);
		if (p->types[2 * i] < 0 || p->types[2 * i + 1] < 0)
			goto fail;
	}
	if (default_type && (p->default_type = intern(p, default_type)) < 0)
		goto fail;
	return p;
fail:
	rt_profile_free(p);
	return NULL;
}

void rt_profile_free(rt_profile_t *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nstrings; i++)
		free(p->strings[i]);
	for (size_t i = 0; i < p->nsamples; i++) {
		free(p->samples[i].locs);
		free(p->samples[i].labels);
		free(p->samples[i].values);
	}
	free(p->strings);
	free(p->samples);
	free(p->locs);
	free(p->comments);
	free(p->types);
	index_free(&p->string_ix);
	index_free(&p->sample_ix);
	index_free(&p->loc_ix);
	free(p);
}

void rt_profile_set_period(rt_profile_t *p, const char *type, const char *unit, int64_t period)
{
	p->period_type[0] = intern(p, type);
	p->period_type[1] = intern(p, unit);
	p->period = period;
}

void rt_profile_set_time(rt_profile_t *p, int64_t time_nanos, int64_t duration_nanos)
{
	p->time_nanos = time_nanos;
	p->duration_nanos = duration_nanos;
}

void rt_profile_add_comment(rt_profile_t *p, const char *comment)
{
	int64_t id = intern(p, comment);
	if (id < 0 || rt_grow((void **)&p->comments, &p->comments_cap, p->ncomments + 1,
			   sizeof *p->comments))
		return;
	p->comments[p->ncomments++] = id;
}

size_t rt_profile_sample_count(const rt_profile_t *p)
{
	return p->nsamples;
}

/* ---- samples ---- */

/* Location id (1-based) for a symbolisation address, adding it if new; 0 on failure. */
static uint64_t location_for(rt_profile_t *p, uintptr_t addr)
{
	uint64_t h = mix(0, addr);
	if ((p->nlocs + 1) * 2 > p->loc_ix.cap && index_grow(&p->loc_ix) != 0)
		return 0;
	size_t j = h & (p->loc_ix.cap - 1);
	for (; p->loc_ix.slot[j]; j = (j + 1) & (p->loc_ix.cap - 1)) {
		uint32_t e = p->loc_ix.slot[j] - 1;
		if (p->locs[e].addr == addr)
			return e + 1;
	}
	if (rt_grow((void **)&p->locs, &p->locs_cap, p->nlocs + 1, sizeof *p->locs))
		return 0;
	p->locs[p->nlocs].addr = addr;
	p->locs[p->nlocs].name = 0;
	p->loc_ix.hash[j] = h;
	p->loc_ix.slot[j] = (uint32_t)++p->nlocs;
	return p->nlocs;
}

static int same_sample(const sample_t *s, const uint64_t *locs, size_t nlocs,
		       const int64_t *labels, size_t nlabels)
{
	return s->nlocs == nlocs && s->nlabels == nlabels &&
	       memcmp(s->locs, locs, nlocs * sizeof *locs) == 0 &&
	       memcmp(s->labels, labels, nlabels * 3 * sizeof *labels) == 0;
}

static int sample_insert(rt_profile_t *p, uint64_t h, size_t j, const uint64_t *locs,
			 size_t nlocs, const int64_t *labels, size_t nlabels, const int64_t *values)
{
	if (rt_grow((void **)&p->samples, &p->samples_cap, p->nsamples + 1, sizeof *p->samples))
		return -1;
	sample_t *s = &p->samples[p->nsamples];
	s->locs = malloc((nlocs ? nlocs : 1) * sizeof *locs);
	s->labels = malloc((nlabels ? nlabels : 1) * 3 * sizeof *labels);
	s->values = malloc(p->ntypes * sizeof *values);
	if (!s->locs || !s->labels || !s->values) {
		free(s->locs);
		free(s->labels);
		free(s->values);
		return -1;
	}
	memcpy(s->locs, locs, nlocs * sizeof *locs);
	memcpy(s->labels, labels, nlabels * 3 * sizeof *labels);
	memcpy(s->values, values, p->ntypes * sizeof *values);
	s->nlocs = nlocs;
	s->nlabels = nlabels;
	p->sample_ix.hash[j] = h;
	p->sample_ix.slot[j] = (uint32_t)++p->nsamples;
	return 0;
}

/* Location id of a pseudo-frame (few per profile: a linear search); 0 on failure. */
static uint64_t location_named(rt_profile_t *p, const char *frame)
{
	int64_t name = intern(p, frame);
	if (name <= 0)
		return 0;
	for (size_t i = 0; i < p->nlocs; i++)
		if (p->locs[i].name == name)
			return i + 1;
	if (rt_grow((void **)&p->locs, &p->locs_cap, p->nlocs + 1, sizeof *p->locs))
		return 0;
	p->locs[p->nlocs].addr = 0;
	p->locs[p->nlocs].name = name;
	return ++p->nlocs;
}

static int add_locations(rt_profile_t *p, const uint64_t *locs, size_t npcs, uint64_t h,
			 const int64_t *values, const rt_label_t *labels, size_t nlabels);

int rt_profile_add_sample(rt_profile_t *p, const uintptr_t *pcs, size_t npcs, int leaf_is_exact,
			  const int64_t *values, const rt_label_t *labels, size_t nlabels)
{
	uint64_t locs[256];
	uint64_t h = 0;
	if (npcs > 256)
		npcs = 256;
	for (size_t i = 0; i < npcs; i++) {
		/* A return address points after the call; pc-1 is inside the call's line. */
		uintptr_t a = (i == 0 && leaf_is_exact) ? pcs[i] : pcs[i] - 1;
		if (!(locs[i] = location_for(p, a)))
			return -1;
		h = mix(h, locs[i]);
	}
	return add_locations(p, locs, npcs, h, values, labels, nlabels);
}

int rt_profile_add_sample_frame(rt_profile_t *p, const char *frame, const int64_t *values,
				const rt_label_t *labels, size_t nlabels)
{
	uint64_t loc = location_named(p, frame);
	if (!loc)
		return -1;
	return add_locations(p, &loc, 1, mix(0, loc), values, labels, nlabels);
}

/* Adds (or merges) a sample with the given location ids, whose hash so far is h. */
static int add_locations(rt_profile_t *p, const uint64_t *locs, size_t npcs, uint64_t h,
			 const int64_t *values, const rt_label_t *labels, size_t nlabels)
{
	int64_t lab[3 * 16];
	if (nlabels > 16)
		nlabels = 16;
	for (size_t i = 0; i < nlabels; i++) {
		lab[3 * i] = intern(p, labels[i].key);
		lab[3 * i + 1] = labels[i].str ? intern(p, labels[i].str) : 0;
		lab[3 * i + 2] = labels[i].str ? 0 : labels[i].num;
		if (lab[3 * i] < 0 || lab[3 * i + 1] < 0)
			return -1;
		h = mix(mix(mix(h, (uint64_t)lab[3 * i]), (uint64_t)lab[3 * i + 1]), (uint64_t)lab[3 * i + 2]);
	}
	if ((p->nsamples + 1) * 2 > p->sample_ix.cap && index_grow(&p->sample_ix) != 0)
		return -1;
	size_t j = h & (p->sample_ix.cap - 1);
	for (; p->sample_ix.slot[j]; j = (j + 1) & (p->sample_ix.cap - 1)) {
		sample_t *s = &p->samples[p->sample_ix.slot[j] - 1];
		if (p->sample_ix.hash[j] == h && same_sample(s, locs, npcs, lab, nlabels)) {
			for (size_t v = 0; v < p->ntypes; v++)
				s->values[v] += values[v];
			return 0;
		}
	}
	return sample_insert(p, h, j, locs, npcs, lab, nlabels, values);
}

/* ---- encoding ---- */

typedef struct mapping {
	uint64_t start, limit, offset;
	int64_t filename, build_id;
} mapping_t;

/* Executable file mappings of this process. */
static size_t read_mappings(rt_profile_t *p, rt_symbols_t *sym, mapping_t **out)
{
	FILE *f = rt_owned_fd_fopen("/proc/self/maps");
	mapping_t *m = NULL;
	size_t n = 0, cap = 0;
	char line[4096 + 128];
	*out = NULL;
	if (!f)
		return 0;
	while (rt_owned_fd_fgets(line, sizeof line, f)) {
		unsigned long start, end, off;
		char perms[8], path[4096];
		path[0] = 0;
		if (sscanf(line, "%lx-%lx %7s %lx %*s %*s %4095[^\n]", &start, &end, perms, &off,
			   path) < 4)
			continue;
		if (perms[2] != 'x' || path[0] != '/')
			continue;
		if (rt_grow((void **)&m, &cap, n + 1, sizeof *m))
			break;
		char bid[130] = "";
		if (sym) /* none when libdw could not open the maps (fds closed under it) */
			rt_symbols_build_id(sym, start, bid, sizeof bid);
		m[n].start = start;
		m[n].limit = end;
		m[n].offset = off;
		m[n].filename = intern(p, path);
		m[n].build_id = intern(p, bid);
		n++;
	}
	rt_owned_fd_fclose(f);
	*out = m;
	return n;
}

static uint64_t mapping_of(const mapping_t *m, size_t n, uintptr_t addr)
{
	for (size_t i = 0; i < n; i++)
		if (addr >= m[i].start && addr < m[i].limit)
			return i + 1;
	return 0;
}

/* Everything the protobuf structs point to, freed together after packing. */
typedef struct arena {
	void **ptrs;
	size_t n, cap;
	int oom;
} arena_t;

static void *arena_alloc(arena_t *a, size_t size)
{
	void *p = calloc(1, size ? size : 1);
	if (!p || rt_grow((void **)&a->ptrs, &a->cap, a->n + 1, sizeof *a->ptrs)) {
		free(p);
		a->oom = 1;
		return NULL;
	}
	a->ptrs[a->n++] = p;
	return p;
}

static void arena_free(arena_t *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->ptrs[i]);
	free(a->ptrs);
}

/* Functions are deduplicated by (name, file) string ids. */
typedef struct funcs {
	Perftools__Profiles__Function **f;
	size_t n, cap;
	index_t ix;
} funcs_t;

static uint64_t function_for(funcs_t *fs, arena_t *a, int64_t name, int64_t file, int64_t start)
{
	uint64_t h = mix(mix(1, (uint64_t)name), (uint64_t)file);
	if ((fs->n + 1) * 2 > fs->ix.cap && index_grow(&fs->ix) != 0)
		return 0;
	size_t j = h & (fs->ix.cap - 1);
	for (; fs->ix.slot[j]; j = (j + 1) & (fs->ix.cap - 1)) {
		Perftools__Profiles__Function *f = fs->f[fs->ix.slot[j] - 1];
		if (f->name == name && f->filename == file)
			return f->id;
	}
	Perftools__Profiles__Function *f = arena_alloc(a, sizeof *f);
	if (!f || rt_grow((void **)&fs->f, &fs->cap, fs->n + 1, sizeof *fs->f))
		return 0;
	perftools__profiles__function__init(f);
	f->id = fs->n + 1;
	f->name = f->system_name = name;
	f->filename = file;
	f->start_line = start;
	fs->f[fs->n] = f;
	fs->ix.hash[j] = h;
	fs->ix.slot[j] = (uint32_t)++fs->n;
	return f->id;
}

static int build_locations(rt_profile_t *p, Perftools__Profiles__Profile *pb, arena_t *a,
			   funcs_t *fs, const mapping_t *maps, size_t nmaps, rt_symbols_t *sym,
			   int *with_lines)
{
	pb->n_location = p->nlocs;
	pb->location = arena_alloc(a, p->nlocs * sizeof *pb->location);
	for (size_t i = 0; i < p->nlocs && !a->oom; i++) {
		Perftools__Profiles__Location *l = arena_alloc(a, sizeof *l);
		Perftools__Profiles__Line *ln = arena_alloc(a, sizeof *ln);
		Perftools__Profiles__Line **lines = arena_alloc(a, sizeof *lines);
		if (!l || !ln || !lines)
			return -1;
		perftools__profiles__location__init(l);
		perftools__profiles__line__init(ln);
		l->id = i + 1;
		l->address = p->locs[i].addr;
		rt_symbol_t s = { 0 };
		if (p->locs[i].name > 0) {
			s.function = p->strings[p->locs[i].name];
		} else {
			l->mapping_id = mapping_of(maps, nmaps, p->locs[i].addr);
			if (sym)
				rt_symbols_lookup(sym, p->locs[i].addr, &s);
		}
		char unknown[64];
		if (!s.function) {
			/* Unnamed code (stripped, JIT): name it by module and address so
			 * distinct frames stay distinct. */
			snprintf(unknown, sizeof unknown, "0x%lx", (unsigned long)p->locs[i].addr);
			s.function = unknown;
		}
		int64_t name = intern(p, s.function);
		int64_t file = intern(p, s.file ? s.file : "");
		if (name < 0 || file < 0)
			return -1;
		if (s.file)
			*with_lines = 1;
		ln->function_id = function_for(fs, a, name, file, 0);
		ln->line = s.line;
		lines[0] = ln;
		l->n_line = 1;
		l->line = lines;
		pb->location[i] = l;
	}
	return a->oom ? -1 : 0;
}

static int build_samples(rt_profile_t *p, Perftools__Profiles__Profile *pb, arena_t *a)
{
	pb->n_sample = p->nsamples;
	pb->sample = arena_alloc(a, p->nsamples * sizeof *pb->sample);
	for (size_t i = 0; i < p->nsamples && !a->oom; i++) {
		sample_t *s = &p->samples[i];
		Perftools__Profiles__Sample *ps = arena_alloc(a, sizeof *ps);
		if (!ps)
			return -1;
		perftools__profiles__sample__init(ps);
		ps->n_location_id = s->nlocs;
		ps->location_id = s->locs;
		ps->n_value = p->ntypes;
		ps->value = s->values;
		ps->n_label = s->nlabels;
		ps->label = arena_alloc(a, s->nlabels * sizeof *ps->label);
		for (size_t k = 0; k < s->nlabels && !a->oom; k++) {
			Perftools__Profiles__Label *lb = arena_alloc(a, sizeof *lb);
			if (!lb)
				return -1;
			perftools__profiles__label__init(lb);
			lb->key = s->labels[3 * k];
			lb->str = s->labels[3 * k + 1];
			lb->num = s->labels[3 * k + 2];
			ps->label[k] = lb;
		}
		pb->sample[i] = ps;
	}
	return a->oom ? -1 : 0;
}

static int build_header(rt_profile_t *p, Perftools__Profiles__Profile *pb, arena_t *a)
{
	pb->n_sample_type = p->ntypes;
	pb->sample_type = arena_alloc(a, p->ntypes * sizeof *pb->sample_type);
	for (size_t i = 0; i < p->ntypes && !a->oom; i++) {
		Perftools__Profiles__ValueType *vt = arena_alloc(a, sizeof *vt);
		if (!vt)
			return -1;
		perftools__profiles__value_type__init(vt);
		vt->type = p->types[2 * i];
		vt->unit = p->types[2 * i + 1];
		pb->sample_type[i] = vt;
	}
	Perftools__Profiles__ValueType *pt = arena_alloc(a, sizeof *pt);
	if (!pt)
		return -1;
	perftools__profiles__value_type__init(pt);
	pt->type = p->period_type[0];
	pt->unit = p->period_type[1];
	pb->period_type = pt;
	pb->period = p->period;
	pb->time_nanos = p->time_nanos;
	pb->duration_nanos = p->duration_nanos;
	pb->default_sample_type = p->default_type;
	pb->n_comment = p->ncomments;
	pb->comment = p->comments;
	return a->oom ? -1 : 0;
}

static int build_mappings(Perftools__Profiles__Profile *pb, arena_t *a, const mapping_t *m,
			  size_t n, int with_lines)
{
	pb->n_mapping = n;
	pb->mapping = arena_alloc(a, n * sizeof *pb->mapping);
	for (size_t i = 0; i < n && !a->oom; i++) {
		Perftools__Profiles__Mapping *pm = arena_alloc(a, sizeof *pm);
		if (!pm)
			return -1;
		perftools__profiles__mapping__init(pm);
		pm->id = i + 1;
		pm->memory_start = m[i].start;
		pm->memory_limit = m[i].limit;
		pm->file_offset = m[i].offset;
		pm->filename = m[i].filename;
		pm->build_id = m[i].build_id;
		/* Functions are named here, so pprof must not re-symbolise. */
		pm->has_functions = 1;
		pm->has_filenames = pm->has_line_numbers = (protobuf_c_boolean)with_lines;
		pb->mapping[i] = pm;
	}
	return a->oom ? -1 : 0;
}

static int gzip_buf(const uint8_t *in, size_t n, uint8_t **out, size_t *out_len)
{
	z_stream z;
	memset(&z, 0, sizeof z);
	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	size_t cap = deflateBound(&z, n) + 64;
	uint8_t *buf = malloc(cap);
	if (!buf) {
		deflateEnd(&z);
		return -1;
	}
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)n;
	z.next_out = buf;
	z.avail_out = (uInt)cap;
	int rc = deflate(&z, Z_FINISH);
	deflateEnd(&z);
	if (rc != Z_STREAM_END) {
		free(buf);
		return -1;
	}
	*out = buf;
	*out_len = z.total_out;
	return 0;
}

int rt_profile_encode_gz(rt_profile_t *p, uint8_t **out, size_t *out_len)
{
	Perftools__Profiles__Profile pb = PERFTOOLS__PROFILES__PROFILE__INIT;
	arena_t a = { 0 };
	funcs_t fs = { 0 };
	mapping_t *maps = NULL;
	int with_lines = 0, rc = -1;
	rt_symbols_t *sym = rt_symbols_acquire();

	size_t nmaps = read_mappings(p, sym, &maps);
	if (build_header(p, &pb, &a) || build_locations(p, &pb, &a, &fs, maps, nmaps, sym, &with_lines) ||
	    build_samples(p, &pb, &a) || build_mappings(&pb, &a, maps, nmaps, with_lines))
		goto out;
	pb.n_function = fs.n;
	pb.function = fs.f;
	/* Packed last: symbolising above added strings. */
	pb.n_string_table = p->nstrings;
	pb.string_table = p->strings;
	size_t len = perftools__profiles__profile__get_packed_size(&pb);
	uint8_t *raw = malloc(len ? len : 1);
	if (!raw)
		goto out;
	perftools__profiles__profile__pack(&pb, raw);
	rc = gzip_buf(raw, len, out, out_len);
	free(raw);
out:
	rt_symbols_release();
	free(maps);
	free(fs.f);
	index_free(&fs.ix);
	arena_free(&a);
	return rc;
}

/* ---- files ---- */

int rt_profile_write_gz(rt_profile_t *p, const char *path)
{
	uint8_t *gz;
	size_t len;
	if (rt_profile_encode_gz(p, &gz, &len) != 0)
		return -1;
	int rc = rt_profile_write_bytes(gz, len, path);
	free(gz);
	return rc;
}

int rt_profile_write_bytes(const uint8_t *gz, size_t len, const char *path)
{
	static unsigned long counter;
	char tmp[4096 + 64];
	if (rt_fsize_allows(len) != 0)
		return -1;
	const char *slash = strrchr(path, '/');
	int dir_len = slash ? (int)(slash - path) : 1;
	const char *dir = slash ? path : ".";
	snprintf(tmp, sizeof tmp, "%.*s/.%s.tmp.%d.%lu", dir_len, dir, slash ? slash + 1 : path,
		 (int)getpid(), __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED));
	int fd = RT_OWNED_FD_OPEN(open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
	int rc = -1;
	if (fd >= 0) {
		rc = rt_write_all(fd, gz, len);
		if (rt_owned_fd_close(fd) != 0)
			rc = -1;
		if (rc == 0 && rename(tmp, path) != 0)
			rc = -1;
		if (rc != 0) {
			int saved = errno;
			unlink(tmp);
			errno = saved;
		}
	}
	return rc;
}
