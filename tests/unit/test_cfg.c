/* test_cfg.c: configuration parsing through rt_cfg_parse with a fake environment:
 * defaults, each bad value reported once with the default kept, ranges, relative
 * directories, boolean spellings, address validation, "did you mean". */
#include "t.h"
#include "rt_cfg.h"
#include "rt_log.h"

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

int main(void)
{
	rt_cfg_t c = parse((const char *const[]){ NULL });
	ok(c.enabled == 1 && c.slow_ms == 100 && c.cpu_hz == 1000 && c.heap_sample_bytes == 524288 &&
	   c.max_profiles_per_min == 60 && c.max_disk_mb == 1024 && c.continuous_sec == 0 &&
	   c.log_level == RT_LOG_WARN && !c.record_query && !c.traces_otlp && c.pprof_addr[0] == 0,
	   "defaults match SPEC section 1");
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
		{ "OTEL_TRACES_EXPORTER=zipkin", "OTEL_TRACES_EXPORTER=\"zipkin\" is not supported" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		c = parse((const char *const[]){ bad[i].assign, NULL });
		ok(nreports == 1 && strstr(reports[0], bad[i].needle) != NULL,
		   "%s: one clear line", bad[i].assign);
		if (nreports != 1 || !strstr(reports[0], bad[i].needle))
			diag("got %d reports: '%s'", nreports, reports[0]);
	}
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
	return done_testing();
}
