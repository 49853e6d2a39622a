"""otshim_lib/config.py: what `otshim run` and `otshim doctor` share: every variable the
library reads with its default (the doctor's table), the options that set them, the
environment the command gets, and where the library is found."""
import os

# Every variable the library reads (runtime/base/cfg.c: its table, then the names it
# reads outside the table), with the library's default and what it means. The default
# is written as a user would set it; "" = unset or empty, "=NAME" = whatever NAME is
# (a signal-specific OpenTelemetry variable falls back to the generic one).
# tests/integration/install.sh checks this list and these defaults against cfg.c's
# table and set_defaults(), and that doc/otshim.1 names every one, so none can drift.
CONFIG = [
    ("OTSHIM_ENABLED", "1", "0: forward every call untouched, start nothing"),
    ("OTSHIM_PROFILE_DIR", "./profiles", "where files go (made absolute at start; created 0700)"),
    ("OTSHIM_SLOW_MS", "100", "a request in flight this long is slow"),
    ("OTSHIM_CPU_HZ", "1000", "SIGPROF rate while a slow request runs"),
    ("OTSHIM_HEAP_SAMPLE_BYTES", "524288", "mean bytes between heap samples; 0 off"),
    ("OTSHIM_ALLOCATOR", "jemalloc", "jemalloc or system"),
    ("OTSHIM_MAX_PROFILES_PER_MIN", "60", "profile sets a minute per process; more are dropped"),
    ("OTSHIM_MAX_DISK_MB", "1024", "size of the profile directory the shim will fill"),
    ("OTSHIM_PPROF_ADDR", "", "host:port to serve /debug/pprof/ on"),
    ("OTSHIM_PPROF_ALLOW_REMOTE", "0", "1: allow a non-loopback OTSHIM_PPROF_ADDR"),
    ("OTSHIM_THREADS_SIGNAL", "SIGRTMIN+7", "real-time signal for thread stacks; 0 off"),
    ("OTSHIM_CONTINUOUS_SEC", "0", "N>0: whole-process CPU+heap files every N s"),
    ("OTSHIM_LOG", "warn", "error, warn, info or debug"),
    ("OTSHIM_RECORD_QUERY", "0", "1: record the query string (url.query)"),
    ("OTSHIM_OUTBOUND", "1", "0: do not track connections the service opens (connect)"),
    ("OTSHIM_PROPAGATE", "0", "1: write traceparent into outbound HTTP/1.x request heads"),
    ("OTSHIM_CPU_ROUTE", "auto", "auto (perf_event, else timer) or timer"),
    ("OTSHIM_PROCESS_CPU_TIMER", "threads", "whole-process CPU: threads (never EINTR) or process"),
    ("OTSHIM_PYROSCOPE_URL", "", "Pyroscope server: every profile file pushed to its /ingest"),
    ("OTSHIM_PYROSCOPE_HEADERS", "", "key=value,... sent with each push (auth, X-Scope-OrgID)"),
    ("OTSHIM_LIB", "", "the library this command preloads (read by this command only)"),
    ("OTEL_TRACES_EXPORTER", "none", "otlp: one server span per request"),
    ("OTEL_PROFILES_EXPORTER", "none", "otlp: every profile file also sent as OTLP profiles"),
    ("OTEL_SDK_DISABLED", "false", "true: no OTLP export (spans, profiles)"),
    ("OTEL_SERVICE_NAME", "", "service.name of exported spans"),
    ("OTEL_RESOURCE_ATTRIBUTES", "", "key=value,... resource attributes"),
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318", "OTLP/HTTP base URL"),
    ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "", "spans URL (else ENDPOINT + /v1/traces)"),
    ("OTEL_EXPORTER_OTLP_PROFILES_ENDPOINT", "", "profiles URL (else ENDPOINT + /v1development/profiles)"),
    ("OTEL_EXPORTER_OTLP_HEADERS", "", "key=value,... sent with every export"),
    ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "=OTEL_EXPORTER_OTLP_HEADERS", "headers for spans"),
    ("OTEL_EXPORTER_OTLP_PROFILES_HEADERS", "=OTEL_EXPORTER_OTLP_HEADERS", "headers for profiles"),
    ("OTEL_EXPORTER_OTLP_TIMEOUT", "10000", "ms per export request"),
    ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "=OTEL_EXPORTER_OTLP_TIMEOUT", "ms per span export request"),
    ("OTEL_EXPORTER_OTLP_COMPRESSION", "none", "gzip or none"),
    ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "=OTEL_EXPORTER_OTLP_COMPRESSION", "gzip or none, for spans"),
    ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf", "the only protocol spoken"),
    ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf", "the only protocol spoken"),
    ("OTEL_EXPORTER_OTLP_CERTIFICATE", "", "CA bundle for https (else the system's)"),
    ("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "=OTEL_EXPORTER_OTLP_CERTIFICATE", "CA bundle, for spans"),
    ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "", "client certificate for mutual TLS"),
    ("OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE", "=OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "client certificate, for spans"),
    ("OTEL_EXPORTER_OTLP_CLIENT_KEY", "", "client key for mutual TLS"),
    ("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", "=OTEL_EXPORTER_OTLP_CLIENT_KEY", "client key, for spans"),
    ("OTEL_BSP_SCHEDULE_DELAY", "5000", "ms between span batches"),
    ("OTEL_BSP_EXPORT_TIMEOUT", "30000", "ms a batch is retried before it is dropped"),
    ("OTEL_BSP_MAX_QUEUE_SIZE", "2048", "spans queued before new ones are dropped"),
    ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "512", "spans per export request (<= queue size)"),
]

# The options of run and doctor, and the variable each sets for the command only.
FLAGS = {"--slow-ms": "OTSHIM_SLOW_MS", "--dir": "OTSHIM_PROFILE_DIR",
         "--hz": "OTSHIM_CPU_HZ", "--log": "OTSHIM_LOG"}


def parse_bool(v):
    """As cfg.c's parse_bool: 1, 0, or None when it does not parse."""
    v = v.lower()
    if v in ("1", "true", "yes", "on"):
        return 1
    if v in ("0", "false", "no", "off"):
        return 0
    return None


def build_env(sets):
    """Our environment with the options' variables ({name: (value, option)}) set and
    the profile directory made absolute, as the command will get it."""
    env = dict(os.environ)
    for name, (val, _) in sets.items():
        env[name] = val
    d = env.get("OTSHIM_PROFILE_DIR") or "profiles"
    env["OTSHIM_PROFILE_DIR"] = os.path.abspath(d)
    return env


def enabled(env):
    v = env.get("OTSHIM_ENABLED")
    return v is None or parse_bool(v) != 0


def slow_ms_shown(env):
    v = env.get("OTSHIM_SLOW_MS", "")
    return v if v.isdigit() and 1 <= int(v) <= 86400000 else "100"


# ---- the library ----
# $OTSHIM_LIB, then ../build/libotshim.so next to the command (a checkout:
# scripts/otshim), then ../lib/libotshim.so (installed: $PREFIX/bin/otshim), then
# /usr/local/lib and /usr/lib. The full path is always what goes into LD_PRELOAD.

def lib_candidates(home):
    """HOME is the directory of the otshim command itself."""
    return [os.path.join(home, "..", "build", "libotshim.so"),
            os.path.join(home, "..", "lib", "libotshim.so"),
            "/usr/local/lib/libotshim.so", "/usr/lib/libotshim.so"]


def locate_lib(env, home):
    """(full path, None) or (None, why not)."""
    explicit = env.get("OTSHIM_LIB")
    if explicit:
        if not os.path.isfile(explicit):
            return None, "OTSHIM_LIB=%s: no such file" % explicit
        return os.path.realpath(explicit), None
    for c in lib_candidates(home):
        if os.path.isfile(c):
            return os.path.realpath(c), None
    return None, ("cannot find libotshim.so (looked in %s); build it with make, or set OTSHIM_LIB"
                  % ", ".join(os.path.normpath(c) for c in lib_candidates(home)))
