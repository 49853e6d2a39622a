#!/usr/bin/env python3
"""otlp_vs_pprof.py OTLP_BODY PPROF_FILE [--trace T --span S]: checks that one OTLP
profiles request says what the pprof file it was made from says. The OTLP side is read
by otlp_profiles_decode.py (protoc and the upstream .proto), the pprof side by
`go tool pprof -raw`, so neither side is read by otshim's own code.
One line per check, "ok WHAT" or "not ok WHAT: DETAIL":
  - each pprof sample type has exactly one OTLP profile of the same [type, unit],
    and no OTLP profile lacks a pprof sample type;
  - that profile's total equals the pprof total for the type, exactly;
  - the top 3 leaf functions by value agree: every name in either side's top 3 has
    the same share on both sides within 0.001 (so a tie at third place is no failure);
  - with --trace/--span (hex), every sample of every profile is linked to that span.
Exit 1 if any check failed, 77 (after a "SKIP: ..." line) if the OTLP oracle or
`go` is not available here, else 0."""
import argparse
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otlp_profiles_decode  # noqa: E402

TOLERANCE = 0.001
# A location's first line in -raw: "  ID: 0xADDR [M=N ][[F] ]NAME FILE:LINE s=N[(SYSNAME)]".
# pprof_raw.py reads NAME as one word after M=; otshim's own frames ("[otshim thread:
# not signalled]", no mapping) and C++ names have spaces, so the name is read here whole.
LOCATION = re.compile(r"^\s+(\d+): 0x[0-9a-f]+ (?:M=\d+ )?(?:\[F\] )?(.*)$")
SAMPLE = re.compile(r"^\s+([-\d\s]+):\s*([\d\s]*)$")  # "VALUES: LOCATION IDS"
# pprof shows a function's name demangled and, when they differ, the name the file
# holds in parentheses ("(SYSNAME)"): OTLP carries the latter, so that one is compared.
LINE = re.compile(r"^(.*) \S*:-?\d+ s=-?\d+(?:\((.*)\))?$")


def pprof_side(path):
    """Sample types, totals per type and leaf shares per type of one pprof file."""
    out = subprocess.run(["go", "tool", "pprof", "-raw", path], capture_output=True,
                         text=True, check=True).stdout.splitlines()
    locations = out.index("Locations") if "Locations" in out else len(out)
    mappings = out.index("Mappings") if "Mappings" in out else len(out)
    i = out.index("Samples:")
    types = [t.replace("[dflt]", "").rsplit("/", 1) for t in out[i + 1].split()]
    samples, names = [], {}
    for line in out[i + 2:locations]:
        m = SAMPLE.match(line)
        if m:  # the label lines under a sample do not match
            samples.append(([int(v) for v in m.group(1).split()], m.group(2).split()))
    for line in out[locations + 1:mappings]:
        m = LOCATION.match(line)  # inlined callers' lines do not match: the leaf is Line[0]
        if m:
            first = LINE.match(m.group(2))
            # A line without a function ("??") is function_table[0] in OTLP, named "";
            # a location without lines is "?" on both sides.
            names[m.group(1)] = (first.group(2) or first.group(1)) if first else \
                ("" if m.group(2) == "??" else "?")
    totals = [sum(v[k] for v, _ in samples) for k in range(len(types))]
    leaf = [{} for _ in types]
    for values, locs in samples:
        name = names.get(locs[0], "?") if locs else "?"
        for k, v in enumerate(values):
            leaf[k][name] = leaf[k].get(name, 0) + v
    shares = [{f: (v / totals[k] if totals[k] else 0) for f, v in leaf[k].items()}
              for k in range(len(types))]
    return types, totals, shares


def top3(shares):
    return [name for name, _ in sorted(shares.items(), key=lambda kv: (-kv[1], kv[0]))[:3]]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("otlp_body")
    ap.add_argument("pprof_file")
    ap.add_argument("--trace")
    ap.add_argument("--span")
    ap.add_argument("--proto-dir")
    args = ap.parse_args()
    if (args.trace is None) != (args.span is None):
        ap.error("--trace and --span go together")

    try:
        with open(args.otlp_body, "rb") as f:
            otlp = otlp_profiles_decode.decode(f.read(), args.proto_dir)
    except otlp_profiles_decode.Skip as e:
        print("SKIP: %s" % e)
        sys.exit(77)
    except otlp_profiles_decode.Invalid as e:
        print("not ok OTLP body decodes and its dictionary is valid: %s"
              % str(e).replace("\n", "; "))
        sys.exit(1)
    if not shutil.which("go"):
        print("SKIP: go absent (go tool pprof reads the pprof side)")
        sys.exit(77)
    try:
        pprof_types, pprof_totals, pprof_shares = pprof_side(args.pprof_file)
    except subprocess.CalledProcessError as e:
        print("not ok go tool pprof -raw reads %s: %s"
              % (args.pprof_file, e.stderr.strip().replace("\n", "; ")))
        sys.exit(1)
    except ValueError as e:  # no "Samples:" line
        print("not ok go tool pprof -raw output of %s: %s" % (args.pprof_file, e))
        sys.exit(1)

    failed = []

    def report(ok, what, detail=""):
        print("ok %s" % what if ok else "not ok %s: %s" % (what, detail))
        if not ok:
            failed.append(what)

    for k, (typ, unit) in enumerate(pprof_types):
        name = "%s/%s" % (typ, unit)
        matches = [p for p in otlp["profiles"] if p["sample_type"] == [typ, unit]]
        report(len(matches) == 1, "one OTLP profile of type %s" % name,
               "found %d" % len(matches))
        if len(matches) != 1:
            continue
        p = matches[0]
        report(p["total"] == pprof_totals[k], "%s total" % name,
               "OTLP %d, pprof %d" % (p["total"], pprof_totals[k]))
        pshares = pprof_shares[k]
        oshares = p["leaf_share"]
        names = top3(pshares) + [f for f in top3(oshares) if f not in top3(pshares)]
        off = ["%s OTLP %.4f pprof %.4f" % (f, oshares.get(f, 0), pshares.get(f, 0))
               for f in names if abs(oshares.get(f, 0) - pshares.get(f, 0)) > TOLERANCE]
        report(not off, "%s top 3 leaf functions" % name,
               "; ".join(off) + " (pprof top %s, OTLP top %s)" % (top3(pshares), top3(oshares)))
    extra = [p["sample_type"] for p in otlp["profiles"] if p["sample_type"] not in pprof_types]
    report(not extra, "every OTLP profile has a pprof sample type", "extra %s" % extra)

    if args.trace is not None:
        want = "%s/%s" % (args.trace.lower(), args.span.lower())
        for p in otlp["profiles"]:
            name = "/".join(p["sample_type"])
            others = {k: v for k, v in p["links"].items() if k != want}
            report(p["unlinked"] == 0 and not others, "%s samples all linked to %s" % (name, want),
                   "unlinked %d, other links %s" % (p["unlinked"], others))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
