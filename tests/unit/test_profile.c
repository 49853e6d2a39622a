/* test_profile.c: the pprof builder (profile/profile.c). A profile is built from stacks
 * of this test's own functions (real return addresses, caught with
 * __builtin_return_address) and pseudo-frames, then encoded, gunzipped with zlib and
 * unpacked with protobuf-c's code generated from profile.proto: sample types, default
 * type, period, time and duration, comments; the string table (starts with "", no
 * string twice); samples with the same stack and labels merged by adding values,
 * different labels (string or numeric) or a different stack kept apart, an inexact
 * leaf symbolised at pc-1; every location's address, mapping (this executable, with a
 * build id) and function name, file and line (symbolisation through
 * profile/symbols.c). Then rt_profile_write_gz: the file is mode 0600, decodes to the
 * same profile, leaves no temporary behind, and a failed write leaves nothing; and,
 * when the go tool is installed, `go tool pprof -raw` reads the file and finds the
 * same samples, labels and function names. Last, a heap profile from a snapshot
 * (profile/heap_profile.c): live and freed bytes of two requests and of no request,
 * each request's under its own trace_id and span_id labels. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "t.h"
#include "profile/heap_profile.h"
#include "profile/profile.h"
#include "profile.pb-c.h"

typedef Perftools__Profiles__Profile pb_t;
typedef Perftools__Profiles__Sample pb_sample_t;
typedef Perftools__Profiles__Location pb_loc_t;

/* ---- a call chain of known functions: root_fn -> mid_fn -> leaf_fn ---- */

#define NOINL __attribute__((noinline, noclone))
static volatile int sinkv;
static uintptr_t ra_in_mid, ra_in_root; /* return addresses leaf_fn / mid_fn saw */
static int mid_call_line, root_call_line;

static const int leaf_first = __LINE__ + 1;
static NOINL int leaf_fn(int x)
{
	ra_in_mid = (uintptr_t)__builtin_return_address(0);
	sinkv = x;
	return sinkv * 3 + 1;
}
static const int leaf_last = __LINE__ - 1;

static NOINL int mid_fn(int x)
{
	ra_in_root = (uintptr_t)__builtin_return_address(0);
	int y = leaf_fn(x + 1); mid_call_line = __LINE__;
	sinkv = y;
	return sinkv + 2;
}

static NOINL int root_fn(int x)
{
	int y = mid_fn(x * 2); root_call_line = __LINE__;
	sinkv = y;
	return sinkv - 1;
}

/* ---- decoding ---- */

/* Gunzips a whole buffer; NULL on any error. */
static uint8_t *gunzip(const uint8_t *in, size_t n, size_t *out_len)
{
	z_stream z;
	memset(&z, 0, sizeof z);
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return NULL;
	size_t cap = 4096, len = 0;
	uint8_t *out = malloc(cap);
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)n;
	int rc = Z_OK;
	while (out && rc == Z_OK) {
		if (len == cap) {
			uint8_t *bigger = realloc(out, cap * 2);
			if (!bigger) {
				free(out);
				out = NULL;
				break;
			}
			out = bigger;
			cap *= 2;
		}
		z.next_out = out + len;
		z.avail_out = (uInt)(cap - len);
		rc = inflate(&z, Z_NO_FLUSH);
		len = cap - z.avail_out;
		if (rc == Z_BUF_ERROR && z.avail_out == 0)
			rc = Z_OK; /* needs more room */
	}
	int complete = rc == Z_STREAM_END && z.avail_in == 0;
	inflateEnd(&z);
	if (!complete) {
		free(out);
		return NULL;
	}
	*out_len = len;
	return out;
}

static pb_t *decode(const uint8_t *gz, size_t n)
{
	size_t len;
	uint8_t *raw = gunzip(gz, n, &len);
	if (!raw)
		return NULL;
	pb_t *pb = perftools__profiles__profile__unpack(NULL, len, raw);
	free(raw);
	return pb;
}

static const char *str(const pb_t *pb, int64_t i)
{
	return i >= 0 && (size_t)i < pb->n_string_table ? pb->string_table[i] : "(bad index)";
}

static const pb_loc_t *loc_by_id(const pb_t *pb, uint64_t id)
{
	for (size_t i = 0; i < pb->n_location; i++)
		if (pb->location[i]->id == id)
			return pb->location[i];
	return NULL;
}

static const Perftools__Profiles__Function *fn_by_id(const pb_t *pb, uint64_t id)
{
	for (size_t i = 0; i < pb->n_function; i++)
		if (pb->function[i]->id == id)
			return pb->function[i];
	return NULL;
}

static const Perftools__Profiles__Mapping *map_by_id(const pb_t *pb, uint64_t id)
{
	for (size_t i = 0; i < pb->n_mapping; i++)
		if (pb->mapping[i]->id == id)
			return pb->mapping[i];
	return NULL;
}

/* The function name of a location's first line, or "". */
static const char *loc_fn_name(const pb_t *pb, const pb_loc_t *l)
{
	if (!l || l->n_line < 1)
		return "";
	const Perftools__Profiles__Function *f = fn_by_id(pb, l->line[0]->function_id);
	return f ? str(pb, f->name) : "";
}

/* The sample's stack as "f0;f1;..." (leaf first). */
static void stack_names(const pb_t *pb, const pb_sample_t *s, char *buf, size_t len)
{
	buf[0] = 0;
	for (size_t i = 0; i < s->n_location_id; i++) {
		size_t used = strlen(buf);
		snprintf(buf + used, len - used, "%s%s", i ? ";" : "",
			 loc_fn_name(pb, loc_by_id(pb, s->location_id[i])));
	}
}

/* Labels as "k=v,k=#n,..." in the order stored. */
static void label_text(const pb_t *pb, const pb_sample_t *s, char *buf, size_t len)
{
	buf[0] = 0;
	for (size_t i = 0; i < s->n_label; i++) {
		const Perftools__Profiles__Label *l = s->label[i];
		size_t used = strlen(buf);
		if (l->str)
			snprintf(buf + used, len - used, "%s%s=%s", i ? "," : "", str(pb, l->key),
				 str(pb, l->str));
		else
			snprintf(buf + used, len - used, "%s%s=#%lld", i ? "," : "", str(pb, l->key),
				 (long long)l->num);
	}
}

/* The one sample with this stack and these labels; NULL if none (or several: *count). */
static const pb_sample_t *find_sample(const pb_t *pb, const char *stack, const char *labels,
				      int *count)
{
	const pb_sample_t *found = NULL;
	char sb[512], lb[512];
	*count = 0;
	for (size_t i = 0; i < pb->n_sample; i++) {
		stack_names(pb, pb->sample[i], sb, sizeof sb);
		label_text(pb, pb->sample[i], lb, sizeof lb);
		if (strcmp(sb, stack) == 0 && strcmp(lb, labels) == 0) {
			found = pb->sample[i];
			++*count;
		}
	}
	return *count == 1 ? found : NULL;
}

/* ---- the profile under test ---- */

#define S1 "leaf_fn;mid_fn;root_fn"
#define S2 "mid_fn;root_fn"
#define PERIOD 1000000
#define TIME_NS 1700000000123456789ll
#define DURATION_NS 2500000000ll

static uintptr_t s1[3], s2[2];

static rt_profile_t *build(void)
{
	static const rt_value_type_t types[] = { { "samples", "count" }, { "cpu", "nanoseconds" } };
	rt_profile_t *p = rt_profile_new(types, 2, "cpu");
	if (!p)
		return NULL;
	rt_profile_set_period(p, "cpu", "nanoseconds", PERIOD);
	rt_profile_set_time(p, TIME_NS, DURATION_NS);
	rt_profile_add_comment(p, "first comment");
	rt_profile_add_comment(p, "second comment");

	const rt_label_t t1[] = { { "trace_id", "t1", 0 }, { "span_id", "s1", 0 } };
	const rt_label_t t2[] = { { "trace_id", "t2", 0 }, { "span_id", "s1", 0 } };
	const rt_label_t n42[] = { { "thread", NULL, 42 } };
	const rt_label_t n43[] = { { "thread", NULL, 43 } };
	const rt_label_t mixed[] = { { "trace_id", "t1", 0 }, { "bytes", NULL, 4096 } };
	int rc = 0;
	/* S1 with t1: three adds (one with an inexact leaf one byte in: the same
	 * location), one sample of their sums. */
	rc |= rt_profile_add_sample(p, s1, 3, 1, (const int64_t[]){ 1, 10 }, t1, 2);
	rc |= rt_profile_add_sample(p, s1, 3, 1, (const int64_t[]){ 1, 5 }, t1, 2);
	uintptr_t inexact[3] = { s1[0] + 1, s1[1], s1[2] };
	rc |= rt_profile_add_sample(p, inexact, 3, 0, (const int64_t[]){ 2, 20 }, t1, 2);
	/* S1 again: another trace id, no labels, numeric labels 42 and 43 (twice). */
	rc |= rt_profile_add_sample(p, s1, 3, 1, (const int64_t[]){ 1, 7 }, t2, 2);
	rc |= rt_profile_add_sample(p, s1, 3, 1, (const int64_t[]){ 1, 3 }, NULL, 0);
	rc |= rt_profile_add_sample(p, s1, 3, 1, (const int64_t[]){ 1, 42 }, n42, 1);
	rc |= rt_profile_add_sample(p, s1, 3, 1, (const int64_t[]){ 1, 43 }, n43, 1);
	rc |= rt_profile_add_sample(p, s1, 3, 1, (const int64_t[]){ 1, 43 }, n43, 1);
	/* S2, mixed labels. */
	rc |= rt_profile_add_sample(p, s2, 2, 1, (const int64_t[]){ 1, 100 }, mixed, 2);
	/* A pseudo-frame, twice. */
	rc |= rt_profile_add_sample_frame(p, "[no answer]", (const int64_t[]){ 1, 0 }, t1, 2);
	rc |= rt_profile_add_sample_frame(p, "[no answer]", (const int64_t[]){ 1, 0 }, t1, 2);
	if (rc != 0) {
		rt_profile_free(p);
		return NULL;
	}
	return p;
}
#define NSAMPLES 7 /* S1/t1, S1/t2, S1/-, S1/42, S1/43, S2/mixed, frame/t1 */

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int is_hex(const char *s, size_t min)
{
	size_t n = strlen(s);
	if (n < min)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static void check_values(const pb_t *pb, const char *stack, const char *labels, int64_t count,
			 int64_t cpu, const char *what)
{
	int n;
	const pb_sample_t *s = find_sample(pb, stack, labels, &n);
	if (!ok(s && s->n_value == 2 && s->value[0] == count && s->value[1] == cpu,
		"%s: one sample [%s] {%s} = %lld, %lld", what, stack, labels, (long long)count,
		(long long)cpu)) {
		diag("found %d such samples", n);
		if (s)
			diag("values %lld, %lld", (long long)s->value[0],
			     s->n_value > 1 ? (long long)s->value[1] : -1ll);
	}
}

/* Every check on a decoded profile; tag says which encoding it came from. */
static void check_profile(const pb_t *pb, const char *tag)
{
	diag("%s", tag);
	/* header */
	is_str(str(pb, 0), "", "string 0 is \"\"");
	ok(pb->n_sample_type == 2 && !strcmp(str(pb, pb->sample_type[0]->type), "samples") &&
		   !strcmp(str(pb, pb->sample_type[0]->unit), "count") &&
		   !strcmp(str(pb, pb->sample_type[1]->type), "cpu") &&
		   !strcmp(str(pb, pb->sample_type[1]->unit), "nanoseconds"),
	   "sample types samples/count, cpu/nanoseconds, in order");
	is_str(str(pb, pb->default_sample_type), "cpu", "default sample type");
	ok(pb->period_type && !strcmp(str(pb, pb->period_type->type), "cpu") &&
		   !strcmp(str(pb, pb->period_type->unit), "nanoseconds"),
	   "period type cpu/nanoseconds");
	is_int(pb->period, PERIOD, "period");
	is_int(pb->time_nanos, TIME_NS, "time_nanos");
	is_int(pb->duration_nanos, DURATION_NS, "duration_nanos");
	ok(pb->n_comment == 2 && !strcmp(str(pb, pb->comment[0]), "first comment") &&
		   !strcmp(str(pb, pb->comment[1]), "second comment"),
	   "both comments, in order");

	/* string table: each string once */
	int dups = 0, t1s = 0;
	for (size_t i = 0; i < pb->n_string_table; i++) {
		if (!strcmp(pb->string_table[i], "t1"))
			t1s++;
		for (size_t j = i + 1; j < pb->n_string_table; j++)
			if (!strcmp(pb->string_table[i], pb->string_table[j])) {
				if (dups++ < 5)
					diag("string %zu and %zu are both '%s'", i, j, pb->string_table[i]);
			}
	}
	is_int(dups, 0, "no string twice in the string table");
	is_int(t1s, 1, "\"t1\", used by three samples, is stored once");

	/* samples */
	is_int(pb->n_sample, NSAMPLES, "samples with equal stacks and labels merged, others apart");
	check_values(pb, S1, "trace_id=t1,span_id=s1", 4, 35, "same stack and labels (an inexact leaf at +1 too) summed");
	check_values(pb, S1, "trace_id=t2,span_id=s1", 1, 7, "another trace id");
	check_values(pb, S1, "", 1, 3, "no labels");
	check_values(pb, S1, "thread=#42", 1, 42, "numeric label 42");
	check_values(pb, S1, "thread=#43", 2, 86, "numeric label 43, twice");
	check_values(pb, S2, "trace_id=t1,bytes=#4096", 1, 100, "another stack, string and numeric labels");
	check_values(pb, "[no answer]", "trace_id=t1,span_id=s1", 2, 0, "pseudo-frame, twice");

	/* locations of S1 and S2 */
	int n;
	const pb_sample_t *s = find_sample(pb, S1, "", &n);
	const pb_sample_t *m = find_sample(pb, S2, "trace_id=t1,bytes=#4096", &n);
	if (!s || !m || s->n_location_id != 3 || m->n_location_id != 2) {
		ok(0, "the stacks are there to check");
		return;
	}
	const pb_loc_t *leaf = loc_by_id(pb, s->location_id[0]);
	const pb_loc_t *mid = loc_by_id(pb, s->location_id[1]);
	const pb_loc_t *root = loc_by_id(pb, s->location_id[2]);
	const pb_loc_t *mid_leaf = loc_by_id(pb, m->location_id[0]);
	is_int(leaf->address, s1[0], "an exact leaf's location is its pc");
	is_int(mid->address, s1[1] - 1, "a return address's location is pc-1 (in the call)");
	is_int(root->address, s1[2] - 1, "the outer return address too");
	is_int(mid_leaf->address, s2[0], "S2's leaf: mid_fn's entry");
	ok(m->location_id[1] == s->location_id[2], "one location for one address, shared by stacks");
	size_t nlocs = pb->n_location;
	is_int(nlocs, 5, "locations: leaf, two call sites, mid_fn's entry, the pseudo-frame");

	char exe[PATH_MAX];
	ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
	exe[k > 0 ? k : 0] = 0;
	const pb_loc_t *mine[] = { leaf, mid, root, mid_leaf };
	int mapped = 1, buildid = 1, funcs = 1;
	for (size_t i = 0; i < 4; i++) {
		const Perftools__Profiles__Mapping *mp = map_by_id(pb, mine[i]->mapping_id);
		if (!mp || mine[i]->address < mp->memory_start || mine[i]->address >= mp->memory_limit ||
		    strcmp(str(pb, mp->filename), exe) != 0) {
			mapped = 0;
			diag("location %llu (0x%llx): mapping %llu %s", (unsigned long long)mine[i]->id,
			     (unsigned long long)mine[i]->address,
			     (unsigned long long)mine[i]->mapping_id, mp ? str(pb, mp->filename) : "none");
		}
		if (!mp || !is_hex(str(pb, mp->build_id), 16))
			buildid = 0;
		if (!mp || !mp->has_functions)
			funcs = 0;
	}
	ok(mapped, "each address lies in the mapping of this executable (%s)", exe);
	ok(buildid, "that mapping carries a build id");
	ok(funcs, "and says functions are named (pprof must not re-symbolise)");

	const pb_loc_t *pseudo = NULL;
	for (size_t i = 0; i < pb->n_location; i++)
		if (!strcmp(loc_fn_name(pb, pb->location[i]), "[no answer]"))
			pseudo = pb->location[i];
	ok(pseudo && pseudo->address == 0 && pseudo->mapping_id == 0,
	   "the pseudo-frame has a name, no address and no mapping");

	/* file and line, from the test's own DWARF */
	const Perftools__Profiles__Function *lf = fn_by_id(pb, leaf->line[0]->function_id);
	const Perftools__Profiles__Function *mf = fn_by_id(pb, mid->line[0]->function_id);
	ok(lf && mf && ends_with(str(pb, lf->filename), "tests/unit/test_profile.c") &&
		   str(pb, lf->filename)[0] == '/' && lf->filename == mf->filename,
	   "functions' file is this source, as an absolute path");
	if (lf)
		diag("file %s", str(pb, lf->filename));
	ok(leaf->line[0]->line >= leaf_first && leaf->line[0]->line <= leaf_last,
	   "the leaf's line is inside leaf_fn (%d..%d): %lld", leaf_first, leaf_last,
	   (long long)leaf->line[0]->line);
	is_int(mid->line[0]->line, mid_call_line, "a call site's line is the call's line (in mid_fn)");
	is_int(root->line[0]->line, root_call_line, "and in root_fn");
	int fn_names = 0;
	for (size_t i = 0; i < pb->n_function; i++)
		if (!strcmp(str(pb, pb->function[i]->name), "mid_fn"))
			fn_names++;
	is_int(fn_names, 1, "mid_fn (two locations) is one function");
	ok(mid_leaf->line[0]->function_id == mid->line[0]->function_id,
	   "both mid_fn locations point at it");
}

/* ---- files ---- */

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	if (!d)
		return -1;
	for (struct dirent *e; (e = readdir(d)) != NULL;)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* The function name pprof -raw gives location id in its "Locations" section
 * ("     1: 0x55f1... M=1 leaf_fn /path/file.c:41 s=0"), into name. */
static int pprof_loc_name(const char *out, unsigned id, char *name, size_t len)
{
	const char *sec = strstr(out, "\nLocations\n");
	for (const char *line = sec; line && *line; line = strchr(line + 1, '\n')) {
		unsigned got;
		char fn[128];
		if (sscanf(line, " %u: %*s M=%*d %127s", &got, fn) == 2 && got == id) {
			snprintf(name, len, "%s", fn);
			return 0;
		}
	}
	return -1;
}

/* `go tool pprof -raw` reads the file. Its "Samples:" section gives each sample as
 * "<values>: <location ids>" and, on the next line when it has any, its labels
 * ("span_id:[s1] trace_id:[t1]"); its "Locations" section names the functions. */
static void check_with_pprof(const char *path, const char *dir)
{
	if (!t_have("go")) {
		skip("go tool pprof -raw reads the file", "the go command is not installed");
		skip("pprof: the merged sample's values, labels and stack", "no go command");
		skip("pprof: the pseudo-frame", "no go command");
		skip("pprof: the period", "no go command");
		return;
	}
	char cmd[8192];
	/* HOME and pprof's temp dir in ours: pprof may want to write there. */
	snprintf(cmd, sizeof cmd, "HOME='%s' PPROF_TMPDIR='%s' go tool pprof -raw '%s' 2>&1", dir,
		 dir, path);
	int st;
	char *out = t_command(cmd, &st);
	int ran = out && WIFEXITED(st) && WEXITSTATUS(st) == 0 && strstr(out, "\nSamples:\n");
	if (!ok(ran, "go tool pprof -raw reads the file")) {
		diag("status %d, output:\n%s", st, out ? out : "(none)");
		free(out);
		return;
	}
	/* the sample 4, 35 */
	int found = 0, labels = 0;
	char stack[256] = "";
	const char *sec = strstr(out, "\nSamples:\n"), *locs = strstr(out, "\nLocations\n");
	for (const char *line = sec + 1; line && line < locs; line = strchr(line + 1, '\n')) {
		long long a, b;
		int used;
		if (sscanf(line, " %lld %lld:%n", &a, &b, &used) != 2 || a != 4 || b != 35)
			continue;
		found++;
		const char *ids = line + used, *eol = strchr(line + 1, '\n');
		unsigned id;
		int k;
		while (ids < eol && sscanf(ids, " %u%n", &id, &k) == 1) {
			char fn[128] = "?";
			pprof_loc_name(out, id, fn, sizeof fn);
			size_t n = strlen(stack);
			snprintf(stack + n, sizeof stack - n, "%s%s", n ? ";" : "", fn);
			ids += k;
		}
		const char *next_eol = eol ? strchr(eol + 1, '\n') : NULL;
		if (eol && next_eol) {
			char lab[256];
			snprintf(lab, sizeof lab, "%.*s", (int)(next_eol - eol - 1), eol + 1);
			labels = strstr(lab, "trace_id:[t1]") && strstr(lab, "span_id:[s1]");
		}
	}
	if (!ok(found == 1 && labels && !strcmp(stack, S1),
		"pprof: the merged sample's values, labels and stack (%s)", stack))
		diag("pprof -raw said:\n%s", out);
	ok(strstr(out, " [no answer] ") != NULL, "pprof: the pseudo-frame");
	ok(strstr(out, "\nPeriod: 1000000\n") != NULL, "pprof: the period");
	free(out);
}

static void test_files(rt_profile_t *p)
{
	char dir[] = "/tmp/otshim-test-profile-XXXXXX";
	if (!mkdtemp(dir)) {
		ok(0, "mkdtemp: %s", strerror(errno));
		return;
	}
	char path[256], bad[256];
	snprintf(path, sizeof path, "%s/cpu-test.pb.gz", dir);
	snprintf(bad, sizeof bad, "%s/missing/cpu.pb.gz", dir);

	is_int(rt_profile_write_gz(p, path), 0, "rt_profile_write_gz");
	struct stat st;
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "the file is there, mode 0600");
	is_int(count_entries(dir), 1, "and nothing else (no temporary left)");
	size_t len = 0;
	uint8_t *gz = (uint8_t *)t_read_file(path, &len);
	pb_t *pb = gz ? decode(gz, len) : NULL;
	free(gz);
	if (ok(pb != NULL, "the file gunzips and unpacks")) {
		check_profile(pb, "the file written");
		perftools__profiles__profile__free_unpacked(pb, NULL);
	}

	is_int(rt_profile_write_gz(p, bad), -1, "writing into a missing directory fails");
	is_int(count_entries(dir), 1, "and leaves nothing behind");

	check_with_pprof(path, dir);

	char cmd[512];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
}

static void test_empty(void)
{
	static const rt_value_type_t types[] = { { "alloc_space", "bytes" } };
	rt_profile_t *p = rt_profile_new(types, 1, NULL);
	uint8_t *gz = NULL;
	size_t len = 0;
	ok(p && rt_profile_sample_count(p) == 0, "an empty profile");
	is_int(p ? rt_profile_encode_gz(p, &gz, &len) : -1, 0, "encodes");
	pb_t *pb = gz ? decode(gz, len) : NULL;
	ok(pb && pb->n_sample == 0 && pb->n_location == 0 && pb->n_sample_type == 1 &&
		   !strcmp(str(pb, pb->sample_type[0]->type), "alloc_space") &&
		   pb->default_sample_type == 0,
	   "to no samples, one sample type, no default type");
	if (pb)
		perftools__profiles__profile__free_unpacked(pb, NULL);
	free(gz);
	rt_profile_free(p);
}

/* The label key's value on sample x, or "" when it has none. */
static const char *label_of(const pb_t *pb, const pb_sample_t *x, const char *key)
{
	for (size_t i = 0; i < x->n_label; i++)
		if (!strcmp(str(pb, x->label[i]->key), key))
			return str(pb, x->label[i]->str);
	return "";
}

static void test_heap_profile(void)
{
	/* Rate 1: every block stands for itself, so sums are exact. */
	rt_heap_stack_t stacks[1] = { { .npcs = 3, .pcs = s1, .freed_objects = 1, .freed_bytes = 1000 } };
	rt_heap_ids_t ids[2] = { { { 0xaa }, { 0x01 } }, { { 0xbb }, { 0x02 } } };
	rt_heap_block_t blocks[3] = { { .size = 1 << 20, .label = 1 }, { .size = 1 << 20, .label = 2 },
				      { .size = 1 << 20 } };
	rt_heap_freed_t freed[2] = { { 0, 1, 2, 3000 }, { 0, 2, 1, 500 } };
	rt_heap_snapshot_t s = { .stacks = stacks, .nstacks = 1, .blocks = blocks, .nblocks = 3,
				 .freed = freed, .nfreed = 2, .labels = ids, .nlabels = 2, .rate = 1 };
	rt_profile_t *p = rt_heap_profile_build(&s, "alloc_space");
	uint8_t *gz = NULL;
	size_t len = 0;
	pb_t *pb = p && rt_profile_encode_gz(p, &gz, &len) == 0 ? decode(gz, len) : NULL;
	if (!ok(pb != NULL, "a heap profile built and decoded")) {
		free(gz);
		rt_profile_free(p);
		return;
	}
	/* alloc_space, inuse_space by trace id: aa.., bb.., none. */
	static const char *traces[3] = { "aa000000000000000000000000000000",
					  "bb000000000000000000000000000000", "" };
	static const char *spans[3] = { "0100000000000000", "0200000000000000", "" };
	int64_t alloc[3] = { 0 }, inuse[3] = { 0 };
	int bad = 0;
	for (size_t i = 0; i < pb->n_sample; i++) {
		const pb_sample_t *x = pb->sample[i];
		int k = 0;
		while (k < 3 && strcmp(label_of(pb, x, "trace_id"), traces[k]))
			k++;
		if (k == 3 || strcmp(label_of(pb, x, "span_id"), spans[k]) || x->n_value != 4) {
			bad++;
			continue;
		}
		alloc[k] += x->value[1];
		inuse[k] += x->value[3];
	}
	ok(!bad, "every sample labelled with one request's trace and span ids, or with none");
	ok(alloc[0] == (1 << 20) + 3000 && inuse[0] == 1 << 20,
	   "a request's alloc_space: its live and its freed bytes; inuse_space: its live ones");
	ok(alloc[1] == (1 << 20) + 500 && inuse[1] == 1 << 20, "the other request's apart");
	ok(alloc[2] == (1 << 20) + 1000 && inuse[2] == 1 << 20, "and what no request allocated");
	perftools__profiles__profile__free_unpacked(pb, NULL);
	free(gz);
	rt_profile_free(p);
}

int main(void)
{
	sinkv = root_fn(1);
	s1[0] = (uintptr_t)&leaf_fn;
	s1[1] = ra_in_mid;
	s1[2] = ra_in_root;
	s2[0] = (uintptr_t)&mid_fn;
	s2[1] = ra_in_root;
	ok(ra_in_mid > (uintptr_t)&mid_fn && ra_in_root > (uintptr_t)&root_fn,
	   "return addresses caught (past their functions' entries)");

	rt_profile_t *p = build();
	if (!ok(p != NULL, "profile built, every sample added"))
		return done_testing();
	is_int(rt_profile_sample_count(p), NSAMPLES, "rt_profile_sample_count counts merged samples");

	uint8_t *gz = NULL;
	size_t len = 0;
	is_int(rt_profile_encode_gz(p, &gz, &len), 0, "rt_profile_encode_gz");
	ok(len > 2 && gz[0] == 0x1f && gz[1] == 0x8b, "gzip magic");
	pb_t *pb = gz ? decode(gz, len) : NULL;
	if (ok(pb != NULL, "gunzips and unpacks as a perftools.profiles.Profile")) {
		check_profile(pb, "rt_profile_encode_gz");
		perftools__profiles__profile__free_unpacked(pb, NULL);
	}
	free(gz);

	test_files(p);
	rt_profile_free(p);
	test_empty();
	test_heap_profile();
	return done_testing();
}
