#!/usr/bin/env python3
"""check_config_docs.py ROOT WRAPPER: the otshim command's doctor table (CONFIG in
WRAPPER, scripts/otshim) lists exactly the variables the library reads -- those in
the configuration table of runtime/base/cfg.c and every OTSHIM_*/OTEL_* name literal
in the library's sources -- each with the default set_defaults() gives, and the man
page (doc/otshim.1) has an entry for each that states its default. Prints a count and
one "not: ..." line per fault; exits 1 if there is any."""
import glob
import importlib.machinery
import importlib.util
import os
import re
import sys

root, wrapper = sys.argv[1:3]
cfg = open(os.path.join(root, "runtime/base/cfg.c")).read()
# the configuration table: name, kind, min, max, field
rows = re.findall(r'\{\s*"([A-Z0-9_]+)",\s*(K_\w+),\s*([^,]+),\s*([^,]+),\s*([^,]+),', cfg)
table = [r[0] for r in rows]
# every exact name literal in the library's sources (names read outside the table too)
code = set()
sources = glob.glob(os.path.join(root, "runtime/**/*.c"), recursive=True) + glob.glob(os.path.join(root, "shim/*.c"))
for f in sources:
    code |= set(re.findall(r'"((?:OTSHIM|OTEL)_[A-Z0-9_]+)"', open(f).read()))
loader = importlib.machinery.SourceFileLoader("otshim_cli", wrapper)
mod = importlib.util.module_from_spec(importlib.util.spec_from_loader("otshim_cli", loader))
loader.exec_module(mod)
doctor = {n: d for n, d, _ in mod.CONFIG}
man = open(os.path.join(root, "doc/otshim.1")).read().replace("\\-", "-")
fails = 0


def fail(msg):
    global fails
    fails += 1
    print("not: " + msg)


names = set(table) | code
print("%d variables: %d in the configuration table, %d in the library's code" % (len(names), len(table), len(code)))
for n in sorted(names - set(doctor)):
    fail("%s is read by the library but missing from the doctor's table" % n)
for n in sorted(set(doctor) - names):
    fail("the doctor's table has %s, which nothing reads" % n)
# the library's defaults, from set_defaults()
body = cfg[cfg.index("static void set_defaults"):]
body = body[:body.index("\n}\n")]
cval = {f: v.strip() for f, v in re.findall(r"c->([\w.]+)\s*=\s*([^;]+);", body)}
cval.update(re.findall(r'snprintf\(c->([\w.]+),[^"]*"([^"]*)"', body))
seen = {}
# Signal-specific variables with a field of their own that derive_otlp() fills from the
# generic variable when unset (checked: derive_otlp names both).
FALLS_BACK = {"OTEL_EXPORTER_OTLP_PROFILES_HEADERS": "OTEL_EXPORTER_OTLP_HEADERS"}
for name, kind, _, _, fexpr in rows:
    m = re.match(r"([FO])\((\w+)\)", fexpr.strip())
    field = (("otlp." if m.group(1) == "O" else "") + m.group(2)) if m else None
    if kind == "K_WRAPPER":
        continue
    derive = cfg[cfg.index("static void derive_otlp"):]
    derive = derive[:derive.index("\n}\n")]
    if kind == "K_PROTOCOL":
        want = "http/protobuf"
    elif (name in FALLS_BACK and '"%s"' % FALLS_BACK[name] in derive
          and field.split(".")[-1] in derive):
        want = "=" + FALLS_BACK[name]
    elif field in seen:
        want = "=" + seen[field]
    else:
        raw = cval.get(field, "0" if kind in ("K_BOOL", "K_U32", "K_U64", "K_ALLOCATOR", "K_ROUTE", "K_PROC_TIMER", "K_GZIP") else "")
        raw = re.sub(r"\((?:u?int\d+_t)\)", "", raw).replace(" ", "").strip("()")
        want = {"K_ALLOCATOR": {"0": "jemalloc", "1": "system"}, "K_ROUTE": {"0": "auto", "1": "timer"},
                "K_PROC_TIMER": {"0": "threads", "1": "process"},
                "K_GZIP": {"0": "none", "1": "gzip"}}.get(kind, {}).get(raw, raw)
        if kind == "K_LOG":
            want = raw.replace("RT_LOG_", "").lower()
        if kind == "K_DIR":
            want = want.replace("%s/", "./")
    if field and field not in seen:
        seen[field] = name
    if doctor.get(name) != want:
        fail("%s: the doctor's default %r, cfg.c's %r" % (name, doctor.get(name), want))
# the man page: an entry per variable (.TP then .B NAME) whose text gives the default
for n in sorted(names | set(doctor)):
    m = re.search(r"^\.TP\n\.B %s\n(.*?)(?=^\.(?:TP|SH|SS)\b)" % n, man, re.S | re.M)
    if not m:
        fail("doc/otshim.1 has no entry for %s" % n)
        continue
    d = doctor.get(n, "")
    want = d[1:] if d.startswith("=") else d
    if "Default" not in m.group(1) or (want and want not in m.group(1)):
        fail("doc/otshim.1's entry for %s does not give its default %r" % (n, want or "(unset)"))
sys.exit(1 if fails else 0)
