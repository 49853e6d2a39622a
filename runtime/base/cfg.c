/* cfg.c: OTSHIM_* environment parsing and validation (see base/cfg.h). Every known
 * variable is a row of one table; a new feature adds its row here and nothing else
 * changes. Problems are reported, never fatal: the setting keeps its default. */
#include "base/cfg.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/log.h"

rt_cfg_t rt_cfg;

typedef void (*report_fn)(const char *line);

enum kind { K_BOOL, K_U32, K_U64, K_DIR, K_ALLOCATOR, K_ADDR, K_LOG, K_ROUTE, K_PROC_TIMER,
	    K_WRAPPER, K_URL, K_KV, K_NAME, K_GZIP, K_PROTOCOL, K_FILE };

typedef struct var {
	const char *name;
	enum kind kind;
	uint64_t min, max;     /* numbers */
	size_t offset;         /* field in rt_cfg_t */
	const char *expect;    /* what a valid value looks like, for messages */
} var_t;

#define F(field) offsetof(rt_cfg_t, field)
#define O(field) offsetof(rt_cfg_t, otlp.field)
#define MS "a whole number of milliseconds (1..3600000)"

static const var_t vars[] = {
	{ "OTSHIM_ENABLED", K_BOOL, 0, 1, F(enabled), "0 or 1" },
	{ "OTSHIM_PROFILE_DIR", K_DIR, 0, 0, F(profile_dir), "a directory path" },
	{ "OTSHIM_SLOW_MS", K_U32, 1, 86400000, F(slow_ms), "a whole number of milliseconds (1..86400000)" },
	{ "OTSHIM_CPU_HZ", K_U32, 1, 10000, F(cpu_hz), "a whole number of samples per second (1..10000)" },
	{ "OTSHIM_HEAP_SAMPLE_BYTES", K_U64, 0, 1ull << 40, F(heap_sample_bytes), "a whole number of bytes (0..2^40; 0 = off)" },
	{ "OTSHIM_ALLOCATOR", K_ALLOCATOR, 0, 0, F(allocator_system), "jemalloc or system" },
	{ "OTSHIM_MAX_PROFILES_PER_MIN", K_U32, 0, 1000000, F(max_profiles_per_min), "a whole number (0..1000000)" },
	{ "OTSHIM_MAX_DISK_MB", K_U64, 0, 1ull << 30, F(max_disk_mb), "a whole number of MiB (0..2^30)" },
	{ "OTSHIM_PPROF_ADDR", K_ADDR, 0, 0, F(pprof_addr), "host:port, e.g. 127.0.0.1:6060" },
	{ "OTSHIM_PPROF_ALLOW_REMOTE", K_BOOL, 0, 1, F(pprof_allow_remote), "0 or 1" },
	{ "OTSHIM_THREADS_SIGNAL", K_U32, 0, 64, F(threads_signal), "a real-time signal number (SIGRTMIN..SIGRTMAX; 0 = no thread profiles)" },
	{ "OTSHIM_CONTINUOUS_SEC", K_U32, 0, 86400, F(continuous_sec), "a whole number of seconds (0..86400; 0 = off)" },
	{ "OTSHIM_LOG", K_LOG, 0, 0, F(log_level), "error, warn, info or debug" },
	{ "OTSHIM_RECORD_QUERY", K_BOOL, 0, 1, F(record_query), "0 or 1" },
	{ "OTSHIM_OUTBOUND", K_BOOL, 0, 1, F(outbound), "0 or 1" },
	{ "OTSHIM_PROPAGATE", K_BOOL, 0, 1, F(propagate), "0 or 1" },
	{ "OTSHIM_CPU_ROUTE", K_ROUTE, 0, 0, F(cpu_route_timer), "auto or timer" },
	{ "OTSHIM_PROCESS_CPU_TIMER", K_PROC_TIMER, 0, 0, F(process_cpu_timer),
	  "threads or process" },
	/* OpenTelemetry's names; generic rows come before the signal-specific ones that
	 * override them. */
	{ "OTEL_EXPORTER_OTLP_ENDPOINT", K_URL, 0, 0, O(endpoint), "an http:// or https:// URL" },
	{ "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", K_URL, 0, 0, O(traces_url), "an http:// or https:// URL" },
	{ "OTEL_EXPORTER_OTLP_PROFILES_ENDPOINT", K_URL, 0, 0, O(profiles_url), "an http:// or https:// URL" },
	{ "OTEL_EXPORTER_OTLP_HEADERS", K_KV, 0, 0, O(headers), "a list key=value,key2=value2" },
	{ "OTEL_EXPORTER_OTLP_TRACES_HEADERS", K_KV, 0, 0, O(headers), "a list key=value,key2=value2" },
	{ "OTEL_EXPORTER_OTLP_PROFILES_HEADERS", K_KV, 0, 0, O(profiles_headers), "a list key=value,key2=value2" },
	{ "OTEL_EXPORTER_OTLP_TIMEOUT", K_U32, 1, 3600000, O(timeout_ms), MS },
	{ "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", K_U32, 1, 3600000, O(timeout_ms), MS },
	{ "OTEL_EXPORTER_OTLP_COMPRESSION", K_GZIP, 0, 0, O(gzip), "gzip or none" },
	{ "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", K_GZIP, 0, 0, O(gzip), "gzip or none" },
	{ "OTEL_EXPORTER_OTLP_PROTOCOL", K_PROTOCOL, 0, 0, 0, "http/protobuf (the only protocol otshim speaks)" },
	{ "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", K_PROTOCOL, 0, 0, 0, "http/protobuf (the only protocol otshim speaks)" },
	{ "OTEL_EXPORTER_OTLP_CERTIFICATE", K_FILE, 0, 0, O(ca_file), "a file path" },
	{ "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", K_FILE, 0, 0, O(ca_file), "a file path" },
	{ "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", K_FILE, 0, 0, O(client_cert), "a file path" },
	{ "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE", K_FILE, 0, 0, O(client_cert), "a file path" },
	{ "OTEL_EXPORTER_OTLP_CLIENT_KEY", K_FILE, 0, 0, O(client_key), "a file path" },
	{ "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", K_FILE, 0, 0, O(client_key), "a file path" },
	{ "OTEL_BSP_SCHEDULE_DELAY", K_U32, 1, 3600000, O(bsp_delay_ms), MS },
	{ "OTEL_BSP_EXPORT_TIMEOUT", K_U32, 1, 3600000, O(bsp_export_timeout_ms), MS },
	{ "OTEL_BSP_MAX_QUEUE_SIZE", K_U32, 1, 1000000, O(bsp_queue), "a whole number of spans (1..1000000)" },
	{ "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", K_U32, 1, 1000000, O(bsp_batch), "a whole number of spans (1..1000000)" },
	{ "OTEL_SERVICE_NAME", K_NAME, 0, 0, O(service_name), "a name of at most 255 bytes" },
	{ "OTEL_RESOURCE_ATTRIBUTES", K_KV, 0, 0, O(resource_attrs), "a list key=value,key2=value2" },
	{ "OTSHIM_PYROSCOPE_URL", K_URL, 0, 0, F(pyroscope_url), "an http:// or https:// URL" },
	{ "OTSHIM_PYROSCOPE_HEADERS", K_KV, 0, 0, F(pyroscope_headers), "a list key=value,key2=value2" },
	/* read by scripts/otshim, not by the library */
	{ "OTSHIM_LIB", K_WRAPPER, 0, 0, 0, "" },
};

#define NVARS (sizeof vars / sizeof vars[0])

static void set_defaults(rt_cfg_t *c, const char *cwd)
{
	memset(c, 0, sizeof *c);
	c->enabled = 1;
	c->outbound = 1;
	snprintf(c->profile_dir, sizeof c->profile_dir, "%s/profiles",
		 cwd && *cwd && strcmp(cwd, "/") ? cwd : "");
	c->slow_ms = 100;
	c->cpu_hz = 1000;
	c->heap_sample_bytes = 524288;
	c->max_profiles_per_min = 60;
	c->max_disk_mb = 1024;
	c->log_level = RT_LOG_WARN;
	c->threads_signal = (uint32_t)(SIGRTMIN + 7);
	snprintf(c->otlp.endpoint, sizeof c->otlp.endpoint, "http://localhost:4318");
	c->otlp.timeout_ms = 10000;
	c->otlp.bsp_delay_ms = 5000;
	c->otlp.bsp_export_timeout_ms = 30000;
	c->otlp.bsp_queue = 2048;
	c->otlp.bsp_batch = 512;
}

static void complain(report_fn report, const var_t *v, const char *value, const char *fallback)
{
	char line[600];
	if (!report)
		return;
	snprintf(line, sizeof line, "%s=\"%.200s\" is not %s; using %s", v->name, value, v->expect,
		 fallback);
	report(line);
}

/* ---- value parsers: 0 = ok ---- */

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_bool(const char *s, int *out)
{
	static const char *yes[] = { "1", "true", "yes", "on" }, *no[] = { "0", "false", "no", "off" };
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return *out = 1, 0;
		if (strcasecmp(s, no[i]) == 0)
			return *out = 0, 0;
	}
	return -1;
}

static int parse_log(const char *s, int *out)
{
	static const char *names[] = { "error", "warn", "info", "debug" };
	for (int i = 0; i < 4; i++)
		if (strcasecmp(s, names[i]) == 0)
			return *out = i, 0;
	if (strcasecmp(s, "warning") == 0)
		return *out = RT_LOG_WARN, 0;
	return -1;
}

/* host:port with port 1..65535; host non-empty; an IPv6 host in brackets. */
static int parse_addr(const char *s)
{
	const char *colon;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close == s + 1 || close[1] != ':')
			return -1;
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || colon == s || memchr(s, ':', (size_t)(colon - s)))
			return -1;
	}
	uint64_t port;
	return parse_u64(colon + 1, 1, 65535, &port);
}

static void kv_ignore(const char *k, const char *v, void *arg)
{
	(void)k, (void)v, (void)arg;
}

/* http:// or https://, then a host: "https:///x" has none (found by tests/fuzz/fuzz_cfg),
 * and as an endpoint join_url's trailing-slash trim would make it "https:/v1/traces". */
static int parse_url(const char *s)
{
	const char *host = NULL;
	if (strncmp(s, "http://", 7) == 0)
		host = s + 7;
	else if (strncmp(s, "https://", 8) == 0)
		host = s + 8;
	return host && *host && *host != '/' ? 0 : -1;
}

static void parse_var(rt_cfg_t *c, const var_t *v, const char *val, const char *cwd,
		      report_fn report)
{
	char *field = (char *)c + v->offset;
	char fallback[64];
	uint64_t n;
	int b;
	switch (v->kind) {
	case K_BOOL:
		if (parse_bool(val, &b) == 0)
			*(int *)field = b;
		else
			complain(report, v, val, *(int *)field ? "1" : "0");
		return;
	case K_U32:
		if (parse_u64(val, v->min, v->max, &n) == 0) {
			*(uint32_t *)field = (uint32_t)n;
			return;
		}
		snprintf(fallback, sizeof fallback, "%u", *(uint32_t *)field);
		complain(report, v, val, fallback);
		return;
	case K_U64:
		if (parse_u64(val, v->min, v->max, &n) == 0) {
			*(uint64_t *)field = n;
			return;
		}
		snprintf(fallback, sizeof fallback, "%llu", (unsigned long long)*(uint64_t *)field);
		complain(report, v, val, fallback);
		return;
	case K_DIR: {
		int n2;
		if (!*val)
			return;
		if (val[0] == '/')
			n2 = snprintf(field, RT_CFG_PATH_MAX, "%s", val);
		else
			n2 = snprintf(field, RT_CFG_PATH_MAX, "%s/%s", cwd ? cwd : ".", val);
		if (n2 >= RT_CFG_PATH_MAX) {
			snprintf(field, RT_CFG_PATH_MAX, "%s/profiles", cwd ? cwd : ".");
			complain(report, v, val, "./profiles (the path is too long)");
		}
		return;
	}
	case K_ALLOCATOR:
		if (strcmp(val, "jemalloc") == 0 || strcmp(val, "system") == 0)
			*(int *)field = strcmp(val, "system") == 0;
		else
			complain(report, v, val, "jemalloc");
		return;
	case K_ADDR:
		if (parse_addr(val) == 0 && strlen(val) < sizeof c->pprof_addr)
			snprintf(field, sizeof c->pprof_addr, "%s", val);
		else
			complain(report, v, val, "no endpoint");
		return;
	case K_LOG:
		if (parse_log(val, &b) == 0)
			*(int *)field = b;
		else
			complain(report, v, val, "warn");
		return;
	case K_WRAPPER:
		return;
	case K_ROUTE:
		if (strcmp(val, "auto") == 0 || strcmp(val, "timer") == 0)
			*(int *)field = strcmp(val, "timer") == 0;
		else
			complain(report, v, val, "auto");
		return;
	case K_PROC_TIMER: {
		static const char *const names[] = { "threads", "process" }; /* RT_PROCESS_CPU_* */
		for (int i = 0; i < 2; i++)
			if (strcmp(val, names[i]) == 0) {
				*(int *)field = i;
				return;
			}
		complain(report, v, val, "threads");
		return;
	}
	case K_URL: {
		/* The generic endpoint must leave room for the longest path derive_otlp appends. */
		size_t room = field == c->otlp.endpoint
				      ? RT_CFG_URL_MAX + 1 - sizeof "/v1development/profiles"
				      : RT_CFG_URL_MAX;
		if (parse_url(val) == 0 && strlen(val) < room)
			snprintf(field, RT_CFG_URL_MAX, "%s", val);
		else
			complain(report, v, val, *field ? field : "the default");
		return;
	}
	case K_KV:
		if (strlen(val) < RT_CFG_KV_MAX && rt_cfg_kv_parse(val, kv_ignore, NULL) == 0)
			snprintf(field, RT_CFG_KV_MAX, "%s", val);
		else
			complain(report, v, val, *field ? field : "none");
		return;
	case K_FILE: {
		/* Made absolute now, like the profile directory: a later chdir must not move it. */
		int n2 = val[0] == '/' ? snprintf(field, RT_CFG_PATH_MAX, "%s", val)
				       : snprintf(field, RT_CFG_PATH_MAX, "%s/%s", cwd ? cwd : ".", val);
		if (!*val || n2 >= RT_CFG_PATH_MAX) {
			field[0] = 0;
			complain(report, v, val, "none");
		}
		return;
	}
	case K_NAME:
		if (strlen(val) < sizeof c->otlp.service_name)
			snprintf(field, sizeof c->otlp.service_name, "%s", val);
		else
			complain(report, v, val, "unknown_service:<executable>");
		return;
	case K_GZIP:
		if (strcmp(val, "gzip") == 0 || strcmp(val, "none") == 0)
			*(int *)field = strcmp(val, "gzip") == 0;
		else
			complain(report, v, val, *(int *)field ? "gzip" : "none");
		return;
	case K_PROTOCOL:
		if (strcmp(val, "http/protobuf") != 0)
			complain(report, v, val, "http/protobuf");
		return;
	}
}

/* ---- unknown names ---- */

static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[64];
	if (la >= 63 || lb >= 63)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

static void check_unknown(const char *entry, report_fn report)
{
	char name[64], line[256];
	const char *eq = strchr(entry, '=');
	size_t n = eq ? (size_t)(eq - entry) : strlen(entry);
	if (strncmp(entry, "OTSHIM_", 7) != 0 || n >= sizeof name || !report)
		return;
	memcpy(name, entry, n);
	name[n] = 0;
	const char *best = NULL;
	size_t best_d = 4;
	for (size_t i = 0; i < NVARS; i++) {
		if (strcmp(name, vars[i].name) == 0)
			return;
		size_t d = edit_distance(name, vars[i].name);
		if (d < best_d) {
			best_d = d;
			best = vars[i].name;
		}
	}
	if (best)
		snprintf(line, sizeof line, "unknown variable %s; did you mean %s?", name, best);
	else
		snprintf(line, sizeof line, "unknown variable %s (ignored)", name);
	report(line);
}

/* ---- OpenTelemetry ---- */

/* OTEL_*_EXPORTER: 1 for "otlp", 0 for unset, "none" or anything else (reported). */
static int parse_exporter(const char *(*get)(const char *), const char *name, const char *what,
			  report_fn report)
{
	const char *v = get(name);
	if (v && strcmp(v, "otlp") == 0)
		return 1;
	if (v && *v && strcmp(v, "none") != 0 && report) {
		char line[400];
		snprintf(line, sizeof line, "%s=\"%.200s\" is not supported (otlp or none); %s are "
			 "not exported", name, v, what);
		report(line);
	}
	return 0;
}

/* Joins the generic endpoint and a signal's path the way the SDK specification does:
 * the path is appended, with exactly one slash between. */
static void join_url(char *out, const char *base, const char *path)
{
	size_t n = strlen(base);
	while (n > 0 && base[n - 1] == '/')
		n--;
	if (snprintf(out, RT_CFG_URL_MAX, "%.*s/%s", (int)n, base, path) >= RT_CFG_URL_MAX)
		out[0] = 0;
}

static void derive_otlp(rt_cfg_t *c, const char *(*get)(const char *), report_fn report)
{
	rt_cfg_otlp_t *o = &c->otlp;
	const char *off = get("OTEL_SDK_DISABLED");
	if (off && strcasecmp(off, "true") == 0)
		c->traces_otlp = c->profiles_otlp = 0;
	if (!o->traces_url[0])
		join_url(o->traces_url, o->endpoint, "v1/traces");
	if (!o->profiles_url[0])
		join_url(o->profiles_url, o->endpoint, "v1development/profiles");
	/* Profiles take the generic headers, not the traces-specific ones (already
	 * reported once if bad). */
	const char *generic = get("OTEL_EXPORTER_OTLP_HEADERS");
	if (!get("OTEL_EXPORTER_OTLP_PROFILES_HEADERS") && generic &&
	    strlen(generic) < RT_CFG_KV_MAX && rt_cfg_kv_parse(generic, kv_ignore, NULL) == 0)
		snprintf(o->profiles_headers, sizeof o->profiles_headers, "%s", generic);
	if (o->bsp_batch > o->bsp_queue) {
		if (report) {
			char line[200];
			snprintf(line, sizeof line, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE=%u is larger than "
				 "OTEL_BSP_MAX_QUEUE_SIZE=%u; using %u", o->bsp_batch, o->bsp_queue,
				 o->bsp_queue);
			report(line);
		}
		o->bsp_batch = o->bsp_queue;
	}
}

static int unhex(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch |= 0x20;
	return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* Copies s[0..n) trimmed of blanks into out (cap bytes), percent-decoding if asked.
 * Returns 0, or -1 when it is empty (for keys), too long or badly encoded. */
static int kv_copy(const char *s, size_t n, char *out, size_t cap, int decode, int allow_empty)
{
	while (n && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (!n && !allow_empty)
		return -1;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		int ch = (unsigned char)s[i];
		if (decode && ch == '%') {
			int hi = i + 2 < n ? unhex(s[i + 1]) : -1;
			int lo = hi >= 0 ? unhex(s[i + 2]) : -1;
			if (lo < 0)
				return -1;
			ch = hi * 16 + lo;
			i += 2;
		}
		if (ch == 0 || o + 1 >= cap)
			return -1;
		out[o++] = (char)ch;
	}
	out[o] = 0;
	return 0;
}

int rt_cfg_kv_parse(const char *list, void (*each)(const char *, const char *, void *), void *arg)
{
	char key[256], value[1024];
	const char *p = list;
	while (*p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		const char *eq = memchr(p, '=', n);
		/* An empty member (a stray or trailing comma) is skipped, as baggage allows. */
		if (!eq) {
			if (kv_copy(p, n, key, sizeof key, 0, 1) != 0 || key[0])
				return -1;
		} else {
			if (kv_copy(p, (size_t)(eq - p), key, sizeof key, 0, 0) != 0 ||
			    kv_copy(eq + 1, n - (size_t)(eq - p) - 1, value, sizeof value, 1, 1) != 0)
				return -1;
			each(key, value, arg);
		}
		p += n + (end ? 1 : 0);
	}
	return 0;
}

/* ---- entry points ---- */

void rt_cfg_parse(rt_cfg_t *out, const char *(*get)(const char *name), char *const *envp,
		  const char *cwd, report_fn report)
{
	set_defaults(out, cwd);
	/* OTSHIM_LOG first, so the level applies to the other messages. */
	for (size_t pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < NVARS; i++) {
			if ((vars[i].kind == K_LOG) != (pass == 0))
				continue;
			const char *val = get(vars[i].name);
			if (val)
				parse_var(out, &vars[i], val, cwd, report);
		}
	out->traces_otlp = parse_exporter(get, "OTEL_TRACES_EXPORTER", "spans", report);
	out->profiles_otlp = parse_exporter(get, "OTEL_PROFILES_EXPORTER", "profiles", report);
	derive_otlp(out, get, report);
	for (; envp && *envp; envp++)
		check_unknown(*envp, report);
}

static const char *env_get(const char *name)
{
	return getenv(name);
}

static int report_level;

static void env_report(const char *line)
{
	rt_log(report_level, "%s", line);
}

void rt_cfg_load(void)
{
	extern char **environ;
	char cwd[RT_CFG_PATH_MAX];
	if (!getcwd(cwd, sizeof cwd))
		snprintf(cwd, sizeof cwd, "/tmp");
	/* Levels first: parse silently to learn OTSHIM_LOG, then for real. */
	rt_cfg_parse(&rt_cfg, env_get, NULL, cwd, NULL);
	rt_log_level = rt_cfg.log_level;
	report_level = RT_LOG_WARN;
	rt_cfg_parse(&rt_cfg, env_get, environ, cwd, env_report);
}
