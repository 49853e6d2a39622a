/* cfg.h: the shim's configuration, read once from the environment into
 * one read-only struct. Parsing and validation live in base/cfg.c; every other module
 * only reads rt_cfg. A bad value gets one clear stderr line naming the variable, the
 * value and what is expected, and that setting keeps its default (or turns off). An
 * unknown OTSHIM_* name gets a "did you mean" warning. */
#ifndef RT_CFG_H
#define RT_CFG_H

#include <stdint.h>

#define RT_CFG_PATH_MAX 4096

#define RT_CFG_URL_MAX 1024
#define RT_CFG_KV_MAX 2048

/* OTLP/HTTP export, named and defaulted as the OpenTelemetry SDK specification names
 * them; a signal-specific variable (..._TRACES_...) wins over the generic one. */
typedef struct rt_cfg_otlp {
	char endpoint[RT_CFG_URL_MAX];         /* OTEL_EXPORTER_OTLP_ENDPOINT, default http://localhost:4318 */
	char traces_url[RT_CFG_URL_MAX];       /* ..._TRACES_ENDPOINT, else endpoint + /v1/traces */
	char profiles_url[RT_CFG_URL_MAX];     /* ..._PROFILES_ENDPOINT, else endpoint + /v1development/profiles */
	char headers[RT_CFG_KV_MAX];           /* ..._HEADERS: "k=v,k2=v2", values percent-encoded */
	char profiles_headers[RT_CFG_KV_MAX];  /* ..._PROFILES_HEADERS, else the generic ones */
	uint32_t timeout_ms;                   /* ..._TIMEOUT, default 10000 */
	int gzip;                              /* ..._COMPRESSION: "gzip" (1) or "none" (0, default) */
	uint32_t bsp_delay_ms;                 /* OTEL_BSP_SCHEDULE_DELAY, default 5000 */
	uint32_t bsp_export_timeout_ms;        /* OTEL_BSP_EXPORT_TIMEOUT, default 30000 */
	uint32_t bsp_queue;                    /* OTEL_BSP_MAX_QUEUE_SIZE, default 2048 */
	uint32_t bsp_batch;                    /* OTEL_BSP_MAX_EXPORT_BATCH_SIZE, default 512, <= queue */
	char ca_file[RT_CFG_PATH_MAX];         /* ..._CERTIFICATE: CA bundle for https, "" = system's */
	char client_cert[RT_CFG_PATH_MAX];     /* ..._CLIENT_CERTIFICATE: for mutual TLS, "" = none */
	char client_key[RT_CFG_PATH_MAX];      /* ..._CLIENT_KEY */
	char service_name[256];                /* OTEL_SERVICE_NAME, "" = unknown_service:<exe> */
	char resource_attrs[RT_CFG_KV_MAX];    /* OTEL_RESOURCE_ATTRIBUTES, "k=v,..." */
} rt_cfg_otlp_t;

typedef struct rt_cfg {
	int enabled;                   /* OTSHIM_ENABLED: 0/1, default 1 */
	char profile_dir[RT_CFG_PATH_MAX]; /* OTSHIM_PROFILE_DIR, made absolute, default "<cwd>/profiles" */
	uint32_t slow_ms;              /* OTSHIM_SLOW_MS, 1..86400000, default 100 */
	uint32_t cpu_hz;               /* OTSHIM_CPU_HZ, 1..10000, default 1000 */
	uint64_t heap_sample_bytes;    /* OTSHIM_HEAP_SAMPLE_BYTES, 0 (off)..1<<40, default 524288 */
	int allocator_system;          /* OTSHIM_ALLOCATOR: "jemalloc" (0, default) or "system" (1) */
	uint32_t max_profiles_per_min; /* OTSHIM_MAX_PROFILES_PER_MIN, 0..1000000, default 60 */
	uint64_t max_disk_mb;          /* OTSHIM_MAX_DISK_MB, 0..1<<30, default 1024 */
	char pprof_addr[256];          /* OTSHIM_PPROF_ADDR, "" when unset; "host:port" validated */
	int pprof_allow_remote;        /* OTSHIM_PPROF_ALLOW_REMOTE: 0/1, default 0 (loopback only) */
	uint32_t continuous_sec;       /* OTSHIM_CONTINUOUS_SEC, 0..86400, default 0 */
	int log_level;                 /* OTSHIM_LOG: error/warn/info/debug -> RT_LOG_*, default warn */
	int record_query;              /* OTSHIM_RECORD_QUERY: 0/1, default 0 */
	int outbound;                  /* OTSHIM_OUTBOUND: track connections the service opens, default 1 */
	int propagate;                 /* OTSHIM_PROPAGATE: write traceparent into outbound heads, default 0 */
	int traces_otlp;               /* OTEL_TRACES_EXPORTER == "otlp" (and OTEL_SDK_DISABLED unset) */
	int profiles_otlp;             /* OTEL_PROFILES_EXPORTER == "otlp" (and OTEL_SDK_DISABLED unset) */
	char pyroscope_url[RT_CFG_URL_MAX];     /* OTSHIM_PYROSCOPE_URL: push pprof files there, "" = off */
	char pyroscope_headers[RT_CFG_KV_MAX];  /* OTSHIM_PYROSCOPE_HEADERS: "k=v,..." (auth, tenant) */
	rt_cfg_otlp_t otlp;            /* the OTLP exporter's settings (OTEL_*) */
	int cpu_route_timer;           /* OTSHIM_CPU_ROUTE=timer: skip perf_event (tests, odd kernels) */
	int process_cpu_timer;         /* OTSHIM_PROCESS_CPU_TIMER: 0 threads, 1 process
	                                  (the RT_PROCESS_CPU_* of sample/process_cpu.h) */
	uint32_t threads_signal;       /* OTSHIM_THREADS_SIGNAL: real-time signal for thread stacks,
	                                  0 = off, default SIGRTMIN+7 */
} rt_cfg_t;

extern rt_cfg_t rt_cfg;

/* Fills rt_cfg from getenv(), logging problems with rt_log (and setting rt_log_level
 * first from OTSHIM_LOG). Call once, from initialisation, before any thread of ours
 * exists. Never fails: every problem falls back to the default. */
void rt_cfg_load(void);

/* Pure core of rt_cfg_load for tests and fuzzing: reads variables through get(name)
 * instead of getenv, and names of all variables through the NULL-terminated envp
 * (for the unknown-name check; may be NULL). Problems are reported through
 * report(line) (one call per problem, a complete line without the prefix or newline);
 * report may be NULL. cwd makes a relative profile dir absolute. */
void rt_cfg_parse(rt_cfg_t *out, const char *(*get)(const char *name), char *const *envp,
		  const char *cwd, void (*report)(const char *line));

/* Splits a W3C-baggage-style list ("k=v, k2 = v2"; values percent-encoded), as
 * OTEL_EXPORTER_OTLP_HEADERS and OTEL_RESOURCE_ATTRIBUTES are written, calling
 * each(key, value, arg) with NUL-terminated, trimmed, decoded strings (at most 255 and
 * 1023 bytes). Returns 0, or -1 at the first malformed member (those before it were
 * passed on). Pure; any thread. */
int rt_cfg_kv_parse(const char *list, void (*each)(const char *key, const char *value, void *arg),
		    void *arg);

#endif
