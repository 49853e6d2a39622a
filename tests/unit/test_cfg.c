/* test_cfg.c: configuration parsing through rt_cfg_parse with a fake environment:
 * defaults, each bad value reported once with the default kept, ranges, relative
 * directories, boolean spellings, address validation, "did you mean"; the OTEL_*
 * settings (endpoint joining, signal-specific precedence, OTEL_SDK_DISABLED) and the
 * key=value list splitter rt_cfg_kv_parse. */
#include "t.h"
#include "base/cfg.h"
#include "base/log.h"
#include "sample/process_cpu.h"

static const char *const *env;
static char reports[16][600];
static int nreports;

static const char *fake_get(const char *name)
{
	size_t n = strlen(name);
	for (const char *const *e = env; e && *e; e++)
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

static void fake_report(const char *line)
{
	if (nreports < 16)
		snprintf(reports[nreports], sizeof reports[0], "%s", line);
	nreports++;
}

static rt_cfg_t parse(const char *const *e)
{
	rt_cfg_t c;
	env = e;
	nreports = 0;
	rt_cfg_parse(&c, fake_get, (char *const *)e, "/srv/app", fake_report);
	return c;
}

/* ---- OpenTelemetry settings ---- */

static int otlp_same(const rt_cfg_otlp_t *a, const rt_cfg_otlp_t *b)
{
	return strcmp(a->endpoint, b->endpoint) == 0 && strcmp(a->traces_url, b->traces_url) == 0 &&
	       strcmp(a->profiles_url, b->profiles_url) == 0 && strcmp(a->headers, b->headers) == 0 &&
	       a->timeout_ms == b->timeout_ms && a->gzip == b->gzip &&
	       a->bsp_delay_ms == b->bsp_delay_ms &&
	       a->bsp_export_timeout_ms == b->bsp_export_timeout_ms && a->bsp_queue == b->bsp_queue &&
	       a->bsp_batch == b->bsp_batch && strcmp(a->service_name, b->service_name) == 0 &&
	       strcmp(a->resource_attrs, b->resource_attrs) == 0;
}

static void test_otlp_defaults(void)
{
	rt_cfg_t c = parse((const char *const[]){ NULL });
	const rt_cfg_otlp_t *o = &c.otlp;
	is_str(o->traces_url, "http://localhost:4318/v1/traces", "OTLP: default traces URL");
	is_str(o->profiles_url, "http://localhost:4318/v1development/profiles",
	       "OTLP: default profiles URL");
	ok(o->timeout_ms == 10000 && o->bsp_delay_ms == 5000 && o->bsp_export_timeout_ms == 30000 &&
	   o->bsp_queue == 2048 && o->bsp_batch == 512 && o->gzip == 0,
	   "OTLP: default timeout, batch processor and compression");
	ok(o->service_name[0] == 0 && o->headers[0] == 0 && o->resource_attrs[0] == 0 &&
	   !c.traces_otlp && !c.profiles_otlp, "OTLP: no service name, headers or exporters by default");

	c = parse((const char *const[]){ "OTEL_TRACES_EXPORTER=otlp", "OTEL_PROFILES_EXPORTER=otlp",
					 "OTEL_BSP_SCHEDULE_DELAY=250", "OTEL_BSP_EXPORT_TIMEOUT=900",
					 "OTEL_BSP_MAX_QUEUE_SIZE=64", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE=64",
					 "OTEL_SERVICE_NAME=checkout", "OTEL_RESOURCE_ATTRIBUTES=a=1,b=2",
					 "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
					 "OTEL_EXPORTER_OTLP_COMPRESSION=gzip", NULL });
	ok(c.traces_otlp && c.profiles_otlp && o->bsp_delay_ms == 250 &&
	   o->bsp_export_timeout_ms == 900 && o->bsp_queue == 64 && o->bsp_batch == 64 && o->gzip == 1,
	   "OTLP: valid values are taken");
	ok(strcmp(o->service_name, "checkout") == 0 && strcmp(o->resource_attrs, "a=1,b=2") == 0,
	   "OTLP: service name and resource attributes kept as written");
	is_int(nreports, 0, "OTLP: and nothing is reported");
}

static void test_otlp_endpoints(void)
{
	rt_cfg_t c = parse((const char *const[]){ "OTEL_EXPORTER_OTLP_ENDPOINT=http://c:4318/", NULL });
	is_str(c.otlp.traces_url, "http://c:4318/v1/traces", "endpoint with a trailing slash: one slash");
	is_str(c.otlp.profiles_url, "http://c:4318/v1development/profiles", "and for profiles too");
	c = parse((const char *const[]){ "OTEL_EXPORTER_OTLP_ENDPOINT=https://c//", NULL });
	is_str(c.otlp.traces_url, "https://c/v1/traces", "several trailing slashes become one");
	c = parse((const char *const[]){ "OTEL_EXPORTER_OTLP_ENDPOINT=http://c/otlp", NULL });
	is_str(c.otlp.traces_url, "http://c/otlp/v1/traces", "a base path is kept");
	is_int(nreports, 0, "valid endpoints are not reported");

	c = parse((const char *const[]){ "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://t:9/custom/",
					 "OTEL_EXPORTER_OTLP_ENDPOINT=http://c:4318", NULL });
	is_str(c.otlp.traces_url, "http://t:9/custom/", "the traces endpoint is used verbatim and wins");
	is_str(c.otlp.profiles_url, "http://c:4318/v1development/profiles",
	       "while profiles still follow the generic endpoint");
	c = parse((const char *const[]){ "OTEL_EXPORTER_OTLP_PROFILES_ENDPOINT=http://p/x", NULL });
	ok(strcmp(c.otlp.profiles_url, "http://p/x") == 0 &&
	   strcmp(c.otlp.traces_url, "http://localhost:4318/v1/traces") == 0,
	   "the profiles endpoint is verbatim too and leaves traces alone");
}

/* The signal-specific variable wins whichever comes first in the environment. */
static void test_otlp_precedence(void)
{
	static const char *const gen_first[] = {
		"OTEL_EXPORTER_OTLP_TIMEOUT=3000", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT=7000",
		"OTEL_EXPORTER_OTLP_HEADERS=g=1", "OTEL_EXPORTER_OTLP_TRACES_HEADERS=t=2",
		"OTEL_EXPORTER_OTLP_COMPRESSION=none", "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION=gzip", NULL
	};
	static const char *const gen_last[] = {
		"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT=7000", "OTEL_EXPORTER_OTLP_TIMEOUT=3000",
		"OTEL_EXPORTER_OTLP_TRACES_HEADERS=t=2", "OTEL_EXPORTER_OTLP_HEADERS=g=1",
		"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION=gzip", "OTEL_EXPORTER_OTLP_COMPRESSION=none", NULL
	};
	const char *const *orders[] = { gen_first, gen_last };
	for (int i = 0; i < 2; i++) {
		rt_cfg_t c = parse(orders[i]);
		ok(c.otlp.timeout_ms == 7000 && strcmp(c.otlp.headers, "t=2") == 0 && c.otlp.gzip == 1 &&
		   nreports == 0, "signal-specific timeout, headers, compression win (generic %s)",
		   i ? "last" : "first");
	}
	rt_cfg_t c = parse((const char *const[]){ "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION=none",
						  "OTEL_EXPORTER_OTLP_COMPRESSION=gzip", NULL });
	is_int(c.otlp.gzip, 0, "a specific \"none\" beats a generic \"gzip\"");
	c = parse((const char *const[]){ "OTEL_EXPORTER_OTLP_TIMEOUT=3000",
					 "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT=soon", NULL });
	ok(c.otlp.timeout_ms == 3000 && nreports == 1 && strstr(reports[0], "using 3000"),
	   "a bad specific timeout falls back to the generic one, and says so");
}

static void test_otlp_disabled(void)
{
	static const char *const val[] = { "true", "TRUE", "false", "" };
	for (int i = 0; i < 4; i++) {
		char sdk[64];
		int on = i >= 2;
		snprintf(sdk, sizeof sdk, "OTEL_SDK_DISABLED=%s", val[i]);
		rt_cfg_t c = parse((const char *const[]){ "OTEL_TRACES_EXPORTER=otlp",
							  "OTEL_PROFILES_EXPORTER=otlp", sdk, NULL });
		ok(c.traces_otlp == on && c.profiles_otlp == on, "%s: exporters %s", sdk,
		   on ? "stay on" : "are off");
	}
}

static void test_otlp_bad(void)
{
	static const struct {
		const char *assign, *needle;
	} bad[] = {
		{ "OTEL_EXPORTER_OTLP_ENDPOINT=localhost:4318", "OTEL_EXPORTER_OTLP_ENDPOINT=\"localhost:4318\"" },
		{ "OTEL_EXPORTER_OTLP_ENDPOINT=ftp://x", "OTEL_EXPORTER_OTLP_ENDPOINT=\"ftp://x\"" },
		{ "OTEL_EXPORTER_OTLP_ENDPOINT=http://", "OTEL_EXPORTER_OTLP_ENDPOINT=\"http://\"" },
		{ "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=x", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=\"x\"" },
		{ "OTEL_EXPORTER_OTLP_TIMEOUT=abc", "OTEL_EXPORTER_OTLP_TIMEOUT=\"abc\"" },
		{ "OTEL_EXPORTER_OTLP_TIMEOUT=0", "OTEL_EXPORTER_OTLP_TIMEOUT=\"0\"" },
		{ "OTEL_BSP_MAX_QUEUE_SIZE=-1", "OTEL_BSP_MAX_QUEUE_SIZE=\"-1\"" },
		{ "OTEL_BSP_SCHEDULE_DELAY=5s", "OTEL_BSP_SCHEDULE_DELAY=\"5s\"" },
		{ "OTEL_EXPORTER_OTLP_COMPRESSION=zstd", "OTEL_EXPORTER_OTLP_COMPRESSION=\"zstd\"" },
		{ "OTEL_EXPORTER_OTLP_PROTOCOL=grpc", "OTEL_EXPORTER_OTLP_PROTOCOL=\"grpc\"" },
		{ "OTEL_EXPORTER_OTLP_HEADERS=novalue", "OTEL_EXPORTER_OTLP_HEADERS=\"novalue\"" },
		{ "OTEL_EXPORTER_OTLP_HEADERS==v", "OTEL_EXPORTER_OTLP_HEADERS=\"=v\"" },
		{ "OTEL_EXPORTER_OTLP_HEADERS=k=%zz", "OTEL_EXPORTER_OTLP_HEADERS=\"k=%zz\"" },
		{ "OTEL_RESOURCE_ATTRIBUTES=a=1,b", "OTEL_RESOURCE_ATTRIBUTES=\"a=1,b\"" },
		{ "OTEL_TRACES_EXPORTER=jaeger", "OTEL_TRACES_EXPORTER=\"jaeger\"" },
		{ "OTEL_PROFILES_EXPORTER=pyroscope", "OTEL_PROFILES_EXPORTER=\"pyroscope\"" },
	};
	rt_cfg_t d = parse((const char *const[]){ NULL });
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		rt_cfg_t c = parse((const char *const[]){ bad[i].assign, NULL });
		int named = nreports == 1 && strstr(reports[0], bad[i].needle) != NULL;
		ok(named && otlp_same(&c.otlp, &d.otlp) && !c.traces_otlp && !c.profiles_otlp,
		   "%s: one line naming it, defaults kept", bad[i].assign);
		if (!named)
			diag("got %d reports: '%s'", nreports, nreports ? reports[0] : "");
	}

	rt_cfg_t c = parse((const char *const[]){ "OTEL_BSP_MAX_EXPORT_BATCH_SIZE=4096",
						  "OTEL_BSP_MAX_QUEUE_SIZE=100", NULL });
	ok(c.otlp.bsp_batch == 100 && c.otlp.bsp_queue == 100, "a batch larger than the queue is cut to it");
	ok(nreports == 1 && strstr(reports[0], "OTEL_BSP_MAX_EXPORT_BATCH_SIZE=4096") &&
	   strstr(reports[0], "using 100"), "with one line saying so: %s", nreports ? reports[0] : "");

	/* The longest endpoint taken leaves room for the longest path appended to it. */
	char endpoint[RT_CFG_URL_MAX + 64] = "OTEL_EXPORTER_OTLP_ENDPOINT=http://";
	size_t pre = strlen("OTEL_EXPORTER_OTLP_ENDPOINT="), n = strlen(endpoint);
	size_t longest = RT_CFG_URL_MAX - strlen("/v1development/profiles") - 1;
	memset(endpoint + n, 'h', longest - strlen("http://"));
	endpoint[pre + longest] = 0;
	c = parse((const char *const[]){ endpoint, NULL });
	ok(nreports == 0 && strlen(c.otlp.profiles_url) == RT_CFG_URL_MAX - 1 &&
	   strcmp(c.otlp.endpoint, endpoint + pre) == 0, "a %zu-byte endpoint is taken", longest);
	endpoint[pre + longest] = 'h';
	endpoint[pre + longest + 1] = 0;
	c = parse((const char *const[]){ endpoint, NULL });
	ok(nreports == 1 && strstr(reports[0], "OTEL_EXPORTER_OTLP_ENDPOINT=") &&
	   otlp_same(&c.otlp, &d.otlp), "one byte more is refused, not left with an empty URL");
	memset(endpoint + pre + longest, 'h', RT_CFG_URL_MAX - 1 - longest);
	endpoint[pre + RT_CFG_URL_MAX - 1] = 0;
	c = parse((const char *const[]){ endpoint, NULL });
	ok(nreports == 1 && otlp_same(&c.otlp, &d.otlp), "as is a %d-byte one", RT_CFG_URL_MAX - 1);
}

/* ---- rt_cfg_kv_parse ---- */

static char kv_seen[4096];

static void kv_collect(const char *key, const char *value, void *arg)
{
	size_t n = strlen(kv_seen);
	snprintf(kv_seen + n, sizeof kv_seen - n, "(%s,%s)", key, value);
	(*(int *)arg)++;
}

static int kv(const char *list, int *calls)
{
	kv_seen[0] = 0;
	*calls = 0;
	return rt_cfg_kv_parse(list, kv_collect, calls);
}

static void test_kv_parse(void)
{
	int calls;
	is_int(kv("a=1, b = two ,c=%20x%2C", &calls), 0, "kv: a well-formed list parses");
	is_str(kv_seen, "(a,1)(b,two)(c, x,)", "kv: trimmed and decoded, in order");
	is_int(kv(",,a=1,", &calls), 0, "kv: empty members are skipped");
	ok(calls == 1 && strcmp(kv_seen, "(a,1)") == 0, "kv: leaving the one real member: %s", kv_seen);
	ok(kv(" , 	,", &calls) == 0 && calls == 0, "kv: blanks-only members are empty too");
	ok(kv("", &calls) == 0 && calls == 0, "kv: an empty list is fine");
	ok(kv("k=", &calls) == 0 && strcmp(kv_seen, "(k,)") == 0, "kv: a value may be empty");
	ok(kv("k=a=b", &calls) == 0 && strcmp(kv_seen, "(k,a=b)") == 0, "kv: only the first '=' splits");
	ok(kv("k=%41%62", &calls) == 0 && strcmp(kv_seen, "(k,Ab)") == 0, "kv: escapes in either case");

	is_int(kv("novalue", &calls), -1, "kv: a member without '=' fails");
	ok(kv("a=1,bad,c=3", &calls) == -1 && strcmp(kv_seen, "(a,1)") == 0,
	   "kv: members before the bad one were passed on, none after");
	is_int(kv("=v", &calls), -1, "kv: an empty key fails");
	is_int(kv(" =v", &calls), -1, "kv: a blank key fails");
	is_int(kv("k=%4", &calls), -1, "kv: a truncated escape fails");
	is_int(kv("k=%", &calls), -1, "kv: a lone '%' fails");
	is_int(kv("k=%4g", &calls), -1, "kv: a non-hex escape fails");
	is_int(kv("k=%00", &calls), -1, "kv: %00 fails");

	char list[1400];
	memset(list, 'k', 300);
	snprintf(list + 300, sizeof list - 300, "=v");
	is_int(kv(list, &calls), -1, "kv: a 300-byte key fails");
	memset(list, 'k', 255);
	snprintf(list + 255, sizeof list - 255, "=v");
	ok(kv(list, &calls) == 0 && calls == 1, "kv: a 255-byte key is the longest taken");
	memset(list, 'k', 256);
	snprintf(list + 256, sizeof list - 256, "=v");
	is_int(kv(list, &calls), -1, "kv: a 256-byte key fails");
	snprintf(list, sizeof list, "k=");
	memset(list + 2, 'v', 1023);
	list[2 + 1023] = 0;
	ok(kv(list, &calls) == 0 && calls == 1, "kv: a 1023-byte value is the longest taken");
	snprintf(list, sizeof list, "k=");
	memset(list + 2, 'v', 1024);
	list[2 + 1024] = 0;
	is_int(kv(list, &calls), -1, "kv: a 1024-byte value fails");
}

static void test_otlp_tls_files(void)
{
	rt_cfg_t c = parse((const char *const[]){ NULL });
	ok(!c.otlp.ca_file[0] && !c.otlp.client_cert[0] && !c.otlp.client_key[0],
	   "no TLS files by default (the system's CAs)");
	c = parse((const char *const[]){ "OTEL_EXPORTER_OTLP_CERTIFICATE=certs/ca.pem",
					 "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY=/k.pem",
					 "OTEL_EXPORTER_OTLP_CLIENT_KEY=/generic.pem",
					 "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE=/c.pem", NULL });
	is_str(c.otlp.ca_file, "/srv/app/certs/ca.pem", "a relative CA file is made absolute");
	is_str(c.otlp.client_key, "/k.pem", "the traces client key wins over the generic one");
	is_str(c.otlp.client_cert, "/c.pem", "the client certificate is taken");
	is_int(nreports, 0, "and nothing is reported");
	c = parse((const char *const[]){ "OTEL_EXPORTER_OTLP_CERTIFICATE=", NULL });
	ok(nreports == 1 && !c.otlp.ca_file[0], "an empty certificate path is reported, none used");
}

int main(void)
{
	rt_cfg_t c = parse((const char *const[]){ NULL });
	ok(c.enabled == 1 && c.slow_ms == 100 && c.cpu_hz == 1000 && c.heap_sample_bytes == 524288 &&
	   c.max_profiles_per_min == 60 && c.max_disk_mb == 1024 && c.continuous_sec == 0 &&
	   c.log_level == RT_LOG_WARN && !c.record_query && !c.traces_otlp && c.pprof_addr[0] == 0,
	   "defaults match the documented ones");
	is_str(c.profile_dir, "/srv/app/profiles", "default directory is ./profiles, made absolute");
	is_int(nreports, 0, "no complaints about an empty environment");

	c = parse((const char *const[]){ "OTSHIM_SLOW_MS=250", "OTSHIM_CPU_HZ=97", "OTSHIM_ENABLED=off",
					 "OTSHIM_PROFILE_DIR=out/p", "OTSHIM_RECORD_QUERY=TRUE",
					 "OTSHIM_PPROF_ADDR=[::1]:6060", "OTSHIM_LOG=debug",
					 "OTEL_TRACES_EXPORTER=otlp", NULL });
	ok(c.slow_ms == 250 && c.cpu_hz == 97 && !c.enabled && c.record_query && c.traces_otlp &&
	   c.log_level == RT_LOG_DEBUG, "valid values are taken");
	is_str(c.profile_dir, "/srv/app/out/p", "a relative directory is joined to the cwd");
	is_str(c.pprof_addr, "[::1]:6060", "an IPv6 endpoint is accepted");
	is_int(nreports, 0, "and nothing is reported");

	static const struct {
		const char *assign, *needle;
	} bad[] = {
		{ "OTSHIM_SLOW_MS=abc", "OTSHIM_SLOW_MS=\"abc\" is not a whole number of milliseconds" },
		{ "OTSHIM_SLOW_MS=0", "OTSHIM_SLOW_MS=\"0\"" },
		{ "OTSHIM_SLOW_MS=-5", "OTSHIM_SLOW_MS=\"-5\"" },
		{ "OTSHIM_SLOW_MS=10ms", "OTSHIM_SLOW_MS=\"10ms\"" },
		{ "OTSHIM_CPU_HZ=100000", "OTSHIM_CPU_HZ=\"100000\"" },
		{ "OTSHIM_CPU_HZ=99999999999999999999999", "OTSHIM_CPU_HZ=" },
		{ "OTSHIM_ENABLED=maybe", "OTSHIM_ENABLED=\"maybe\" is not 0 or 1" },
		{ "OTSHIM_ALLOCATOR=tcmalloc", "OTSHIM_ALLOCATOR=\"tcmalloc\" is not jemalloc or system" },
		{ "OTSHIM_PPROF_ADDR=6060", "OTSHIM_PPROF_ADDR=\"6060\"" },
		{ "OTSHIM_PPROF_ADDR=host:70000", "OTSHIM_PPROF_ADDR=\"host:70000\"" },
		{ "OTSHIM_LOG=loud", "OTSHIM_LOG=\"loud\"" },
		{ "OTSHIM_PROCESS_CPU_TIMER=Process", "OTSHIM_PROCESS_CPU_TIMER=\"Process\" is not threads or process; using threads" },
		{ "OTEL_TRACES_EXPORTER=zipkin", "OTEL_TRACES_EXPORTER=\"zipkin\" is not supported" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		c = parse((const char *const[]){ bad[i].assign, NULL });
		ok(nreports == 1 && strstr(reports[0], bad[i].needle) != NULL,
		   "%s: one clear line", bad[i].assign);
		if (nreports != 1 || !strstr(reports[0], bad[i].needle))
			diag("got %d reports: '%s'", nreports, reports[0]);
	}
	c = parse((const char *const[]){ NULL });
	is_int(c.process_cpu_timer, RT_PROCESS_CPU_THREADS, "whole-process CPU: per-thread timers by default");
	c = parse((const char *const[]){ "OTSHIM_PROCESS_CPU_TIMER=process", NULL });
	ok(c.process_cpu_timer == RT_PROCESS_CPU_PROCESS && nreports == 0, "OTSHIM_PROCESS_CPU_TIMER=process is taken");
	c = parse((const char *const[]){ "OTSHIM_PROCESS_CPU_TIMER=threads", NULL });
	ok(c.process_cpu_timer == RT_PROCESS_CPU_THREADS && nreports == 0, "and threads");
	c = parse((const char *const[]){ "OTSHIM_SLOW_MS=abc", "OTSHIM_CPU_HZ=0", NULL });
	ok(c.slow_ms == 100 && c.cpu_hz == 1000, "bad values fall back to the defaults");
	ok(strstr(reports[0], "using 100") != NULL, "and the line says which value is used");

	c = parse((const char *const[]){ "OTSHIM_SLOWMS=10", NULL });
	is_int(nreports, 1, "an unknown OTSHIM_ name is reported");
	ok(strstr(reports[0], "did you mean OTSHIM_SLOW_MS?") != NULL, "with a suggestion: %s", reports[0]);
	c = parse((const char *const[]){ "OTSHIM_COMPLETELY_DIFFERENT=1", "PATH=/bin", NULL });
	ok(nreports == 1 && strstr(reports[0], "unknown variable OTSHIM_COMPLETELY_DIFFERENT") &&
	   !strstr(reports[0], "did you mean"), "no suggestion when nothing is close; other names ignored");

	char longdir[RT_CFG_PATH_MAX + 100] = "OTSHIM_PROFILE_DIR=/";
	memset(longdir + strlen(longdir), 'd', RT_CFG_PATH_MAX + 50);
	longdir[sizeof longdir - 1] = 0;
	c = parse((const char *const[]){ longdir, NULL });
	ok(nreports == 1 && strcmp(c.profile_dir, "/srv/app/profiles") == 0,
	   "an overlong directory is refused with the default kept");

	test_otlp_defaults();
	test_otlp_endpoints();
	test_otlp_precedence();
	test_otlp_disabled();
	test_otlp_bad();
	test_kv_parse();
	test_otlp_tls_files();
	return done_testing();
}
