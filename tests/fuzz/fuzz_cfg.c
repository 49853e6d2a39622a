/* fuzz_cfg.c: libFuzzer target for the configuration parser (runtime/base/cfg.c, through
 * its pure entry rt_cfg_parse) and for rt_cfg_kv_parse. Owns "no environment can crash
 * the shim or leave a setting out of range"; table cases are tests/unit/test_cfg.c's.
 *
 * Input: lines, each a NAME=VALUE environment entry (a line without '=' is in the
 * environment's name list only, as a bare entry in environ is); "@cwd=DIR" sets the
 * working directory instead (made absolute, as getcwd's always is). Every entry is a
 * C string in its own exact-size block, cut at a NUL as the kernel would.
 *
 * Checked: every number within the range base/cfg.h documents, booleans 0 or 1, every
 * string NUL-terminated inside its array, paths absolute (or empty where allowed),
 * URLs http(s)://host..., batch <= queue; each report line non-empty and < 1000
 * bytes; the result is the same with and without a report callback (rt_cfg_load
 * parses twice). rt_cfg_kv_parse of the whole input and of each value passes on only
 * non-empty, trimmed keys < 256 bytes and values < 1024 bytes. */
#include "fuzz.h"

#include <stddef.h>

#include "base/cfg.h"

#define MAX_ENV 256

static char *env[MAX_ENV + 1];
static size_t nenv;
static char *cwd;

static const char *get(const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < nenv; i++)
		if (strncmp(env[i], name, n) == 0 && env[i][n] == '=')
			return env[i] + n + 1; /* the first, as getenv finds it */
	return NULL;
}

static size_t reports;

static void report(const char *line)
{
	size_t n = strlen(line);
	FUZZ_CHECK(n > 0 && n < 1000, "report line of %zu bytes: '%.200s'", n, line);
	reports++;
}

/* ---- ranges, from base/cfg.h ---- */

typedef struct range {
	const char *name;
	size_t off, size;
	uint64_t min, max;
} range_t;

#define R(field, lo, hi) { #field, offsetof(rt_cfg_t, field), sizeof(((rt_cfg_t *)0)->field), lo, hi }
static const range_t ranges[] = {
	R(enabled, 0, 1), R(slow_ms, 1, 86400000), R(cpu_hz, 1, 10000),
	R(heap_sample_bytes, 0, 1ull << 40), R(allocator_system, 0, 1),
	R(max_profiles_per_min, 0, 1000000), R(max_disk_mb, 0, 1ull << 30),
	R(pprof_allow_remote, 0, 1), R(continuous_sec, 0, 86400), R(log_level, 0, 3),
	R(record_query, 0, 1), R(traces_otlp, 0, 1), R(profiles_otlp, 0, 1),
	R(cpu_route_timer, 0, 1), R(threads_signal, 0, 64),
	R(otlp.timeout_ms, 1, 3600000), R(otlp.gzip, 0, 1), R(otlp.bsp_delay_ms, 1, 3600000),
	R(otlp.bsp_export_timeout_ms, 1, 3600000), R(otlp.bsp_queue, 1, 1000000),
	R(otlp.bsp_batch, 1, 1000000),
};

#define S(field) { #field, offsetof(rt_cfg_t, field), sizeof(((rt_cfg_t *)0)->field), 0, 0 }
static const range_t strings[] = {
	S(profile_dir), S(pprof_addr), S(otlp.endpoint), S(otlp.traces_url), S(otlp.profiles_url),
	S(otlp.headers), S(otlp.ca_file), S(otlp.client_cert), S(otlp.client_key),
	S(otlp.service_name), S(otlp.resource_attrs),
};

static uint64_t number(const rt_cfg_t *c, const range_t *r)
{
	const char *p = (const char *)c + r->off;
	uint32_t v32;
	uint64_t v64;
	if (r->size == sizeof v32) {
		memcpy(&v32, p, sizeof v32);
		return v32; /* int fields too: a negative one shows as huge, out of range */
	}
	memcpy(&v64, p, sizeof v64);
	return v64;
}

static void check_url(const char *what, const char *u)
{
	const char *host = strncmp(u, "http://", 7) == 0 ? u + 7 : strncmp(u, "https://", 8) == 0 ? u + 8 : NULL;
	FUZZ_CHECK(host && *host && *host != '/', "%s '%.200s' is not http(s)://host...", what, u);
}

static void check_cfg(const rt_cfg_t *c)
{
	for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
		uint64_t v = number(c, &ranges[i]);
		FUZZ_CHECK(v >= ranges[i].min && v <= ranges[i].max, "%s = %llu, not %llu..%llu",
			   ranges[i].name, (unsigned long long)v, (unsigned long long)ranges[i].min,
			   (unsigned long long)ranges[i].max);
	}
	for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
		FUZZ_CHECK(memchr((const char *)c + strings[i].off, 0, strings[i].size),
			   "%s not NUL-terminated", strings[i].name);
	FUZZ_CHECK(c->otlp.bsp_batch <= c->otlp.bsp_queue, "batch %u > queue %u", c->otlp.bsp_batch,
		   c->otlp.bsp_queue);
	FUZZ_CHECK(c->profile_dir[0] == '/', "profile dir '%.200s' not absolute", c->profile_dir);
	const char *files[] = { c->otlp.ca_file, c->otlp.client_cert, c->otlp.client_key };
	for (size_t i = 0; i < 3; i++)
		FUZZ_CHECK(!files[i][0] || files[i][0] == '/', "file '%.200s' not absolute", files[i]);
	check_url("endpoint", c->otlp.endpoint);
	check_url("traces url", c->otlp.traces_url);
	check_url("profiles url", c->otlp.profiles_url);
}

/* ---- rt_cfg_kv_parse ---- */

static size_t kv_members;

static void kv_each(const char *key, const char *value, void *arg)
{
	size_t kn = strlen(key), vn = strlen(value);
	(void)arg;
	FUZZ_CHECK(kn > 0 && kn < 256, "key of %zu bytes", kn);
	FUZZ_CHECK(vn < 1024, "value of %zu bytes", vn);
	FUZZ_CHECK(key[0] != ' ' && key[0] != '\t' && key[kn - 1] != ' ' && key[kn - 1] != '\t',
		   "key '%s' not trimmed", key);
	FUZZ_CHECK(!strchr(key, '=') && !strchr(key, ','), "key '%s' holds a separator", key);
	kv_members++;
}

static void kv(const char *list)
{
	size_t eqs = 0;
	for (const char *p = list; *p; p++)
		eqs += *p == '=';
	kv_members = 0;
	int rc = rt_cfg_kv_parse(list, kv_each, NULL);
	FUZZ_CHECK(rc == 0 || rc == -1, "kv_parse returned %d", rc);
	FUZZ_CHECK(kv_members <= eqs, "%zu members from %zu '='", kv_members, eqs);
}

/* ---- the target ---- */

static char *cstr(const uint8_t *p, size_t n)
{
	const uint8_t *nul = memchr(p, 0, n);
	if (nul)
		n = (size_t)(nul - p);
	char *s = malloc(n + 1);
	if (!s)
		abort();
	memcpy(s, p, n);
	s[n] = 0;
	return s;
}

static void split(const uint8_t *data, size_t size)
{
	nenv = 0;
	cwd = NULL;
	for (size_t at = 0; at < size && nenv < MAX_ENV;) {
		const uint8_t *lf = memchr(data + at, '\n', size - at);
		size_t n = lf ? (size_t)(lf - (data + at)) : size - at;
		if (n >= 5 && memcmp(data + at, "@cwd=", 5) == 0) {
			free(cwd);
			size_t m = n - 5 < RT_CFG_PATH_MAX - 2 ? n - 5 : RT_CFG_PATH_MAX - 2;
			char *d = cstr(data + at + 5, m);
			size_t cap = strlen(d) + 2;
			if (!(cwd = malloc(cap)))
				abort();
			snprintf(cwd, cap, "%s%s", d[0] == '/' ? "" : "/", d);
			free(d);
		} else {
			env[nenv++] = cstr(data + at, n);
		}
		at += n + 1;
	}
	env[nenv] = NULL;
	if (!cwd)
		cwd = fuzz_piece("/srv/app", sizeof "/srv/app");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fuzz_count_allocs_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static rt_cfg_t quiet, loud;
	split(data, size);
	rt_cfg_parse(&quiet, get, NULL, cwd, NULL);
	reports = 0;
	rt_cfg_parse(&loud, get, env, cwd, report);
	check_cfg(&loud);
	FUZZ_CHECK(memcmp(&quiet, &loud, sizeof quiet) == 0, "a report callback changed the result");
	char *all = cstr(data, size);
	kv(all);
	free(all);
	for (size_t i = 0; i < nenv; i++) {
		const char *eq = strchr(env[i], '=');
		if (eq)
			kv(eq + 1);
		free(env[i]);
	}
	free(cwd);
	return 0;
}
