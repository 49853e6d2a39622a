#!/usr/bin/env python3
"""otlp_profiles_decode.py BODY [--proto-dir DIR]: the tests' independent oracle for an
OTLP profiles request (ExportProfilesServiceRequest, schema v1development). The wire
decoding is left to protoc and the upstream .proto files, not to code of ours, so a bug
in otshim's encoder cannot be mirrored by a bug in the test. protoc's text output is
parsed, the dictionary is checked (entry 0 of every table is the zero value, every index
is in range; else exit 1) and one JSON summary is printed: resource, scope and, per
Profile, its types, totals, leaf shares, per-function totals, links and sample attributes.
DIR defaults to $OTSHIM_OTLP_PROTO_DIR, else <repo>/../shared/otlp-proto. Without DIR or
protoc it prints one "SKIP: ..." line and exits 77. Importable: decode(body, proto_dir)."""
import argparse
import codecs
import json
import os
import re
import shutil
import subprocess
import sys

MESSAGE = "opentelemetry.proto.collector.profiles.v1development.ExportProfilesServiceRequest"
SERVICE = "opentelemetry/proto/collector/profiles/v1development/profiles_service.proto"
BYTES_FIELDS = {"trace_id", "span_id", "profile_id", "bytes_value", "original_payload"}


class Skip(Exception):
    """The oracle cannot run here (no .proto copy or no protoc): the test is skipped."""


class Invalid(Exception):
    """protoc could not decode the body, or the decoded dictionary breaks the schema."""


def default_proto_dir():
    here = os.path.dirname(os.path.abspath(__file__))
    return os.environ.get("OTSHIM_OTLP_PROTO_DIR") or \
        os.path.normpath(os.path.join(here, "..", "..", "..", "shared", "otlp-proto"))


def scalar(name, text):
    if text.startswith('"'):
        # protoc writes C escapes (\ooo octal for bytes); escape_decode reads exactly those.
        raw = codecs.escape_decode(text[1:-1].encode())[0]
        return raw.hex() if name in BYTES_FIELDS else raw.decode("utf-8", "replace")
    if text in ("true", "false"):
        return text == "true"
    for number in (lambda t: int(t, 0), float):
        try:
            return number(text)
        except ValueError:
            pass
    return text  # an enum name; none in this schema, kept as the name


def parse_text(text):
    """protoc's text format as nested dicts; every field maps to a list of its values,
    because repeated fields come as repeated keys and singular ones are lists of one."""
    root = {}
    stack = [root]  # the open blocks, innermost last
    for line in text.splitlines():
        s = line.strip()
        if not s:
            continue
        if s == "}":
            stack.pop()
            continue
        m = re.match(r"^(\w+) \{$", s)
        if m:
            child = {}
            stack[-1].setdefault(m.group(1), []).append(child)
            stack.append(child)
            continue
        m = re.match(r"^(\w+): (.*)$", s)
        if not m:
            raise Invalid("unparsed protoc line: " + s)
        stack[-1].setdefault(m.group(1), []).append(scalar(m.group(1), m.group(2)))
    return root


def one(msg, name, default=0):
    """A singular field: the last value given wins, as protobuf merges it."""
    values = msg.get(name)
    return values[-1] if values else default


def many(msg, name):
    return msg.get(name, [])


# The index fields of each dictionary table and the table each one points into.
REFS = {
    "mapping_table": [("filename_strindex", "string_table"),
                      ("attribute_indices", "attribute_table")],
    "location_table": [("mapping_index", "mapping_table"),
                       ("attribute_indices", "attribute_table")],
    "function_table": [("name_strindex", "string_table"), ("system_name_strindex", "string_table"),
                       ("filename_strindex", "string_table")],
    "attribute_table": [("key_strindex", "string_table"), ("unit_strindex", "string_table")],
    "stack_table": [("location_indices", "location_table")],
}
SAMPLE_REFS = [("stack_index", "stack_table"), ("link_index", "link_table"),
               ("attribute_indices", "attribute_table")]
VALUE_REFS = [("string_value_strindex", "string_table")]
TYPE_REFS = [("type_strindex", "string_table"), ("unit_strindex", "string_table")]


def validate(d, req):
    """The list of what breaks the dictionary rules (empty when all is well)."""
    errs = []
    for table in ("mapping_table", "location_table", "function_table", "link_table",
                  "string_table", "attribute_table", "stack_table"):
        rows = many(d, table)
        if not rows:
            errs.append("%s is empty: entry 0 (the zero value) must be present" % table)
        elif table == "string_table" and rows[0] != "":
            errs.append("string_table[0] is %r, not \"\"" % rows[0])
        elif table == "link_table" and any(set(v) - {"0"} for vs in rows[0].values() for v in vs):
            errs.append("link_table[0] is not the zero link: %r" % rows[0])
        elif table not in ("string_table", "link_table") and rows[0] != {}:
            errs.append("%s[0] is not the zero value: %r" % (table, rows[0]))

    def check(where, msg, refs):
        for field, table in refs:
            for index in many(msg, field):  # an absent field is 0, always in range
                if not 0 <= index < len(many(d, table)):
                    errs.append("%s.%s = %d is out of range for %s (%d entries)"
                                % (where, field, index, table, len(many(d, table))))

    for table, refs in REFS.items():
        for i, row in enumerate(many(d, table)):
            check("%s[%d]" % (table, i), row, refs)
            for ln in many(row, "lines"):
                check("%s[%d].lines" % (table, i), ln, [("function_index", "function_table")])
            check("%s[%d].value" % (table, i), one(row, "value", {}), VALUE_REFS)
    for rp in many(req, "resource_profiles"):
        for kv in many(one(rp, "resource", {}), "attributes"):
            check("resource.attributes", kv, [("key_strindex", "string_table")])
            check("resource.attributes.value", one(kv, "value", {}), VALUE_REFS)
        for sp in many(rp, "scope_profiles"):
            for p in many(sp, "profiles"):
                check("profile", p, [("attribute_indices", "attribute_table")])
                check("profile.sample_type", one(p, "sample_type", {}), TYPE_REFS)
                check("profile.period_type", one(p, "period_type", {}), TYPE_REFS)
                for s in many(p, "samples"):
                    check("sample", s, SAMPLE_REFS)
                    v, t = many(s, "values"), many(s, "timestamps_unix_nano")
                    if v and t and len(v) != len(t):
                        errs.append("sample has %d values but %d timestamps" % (len(v), len(t)))
    return errs


def any_value(v, strings):
    """An AnyValue as a Python value (bytes as hex; empty AnyValue as None)."""
    if "string_value" in v:
        return one(v, "string_value", "")
    if "string_value_strindex" in v:
        return strings[one(v, "string_value_strindex")]
    for field in ("int_value", "bool_value", "double_value", "bytes_value"):
        if field in v:
            return one(v, field)
    if "array_value" in v:
        return [any_value(x, strings) for x in many(one(v, "array_value"), "values")]
    if "kvlist_value" in v:
        return {kv_key(kv, strings): any_value(one(kv, "value", {}), strings)
                for kv in many(one(v, "kvlist_value"), "values")}
    return None


def kv_key(kv, strings):
    return one(kv, "key", "") or strings[one(kv, "key_strindex")]


def summarize_profile(p, d):
    strings, funcs = many(d, "string_table"), many(d, "function_table")
    locs, stacks, links = many(d, "location_table"), many(d, "stack_table"), many(d, "link_table")
    attrs = many(d, "attribute_table")

    def attr(i):
        a = attrs[i]
        return strings[one(a, "key_strindex")], any_value(one(a, "value", {}), strings)

    def fname(line):
        return strings[one(funcs[one(line, "function_index")], "name_strindex")]

    def vtype(name):
        vt = one(p, name, {})
        return [strings[one(vt, "type_strindex")], strings[one(vt, "unit_strindex")]]

    total, unlinked, leaf, ftotal, linked, sattrs = 0, 0, {}, {}, {}, {}
    for s in many(p, "samples"):
        # A sample without values counts 1 per timestamp, as the schema tells consumers.
        values = many(s, "values")
        value = sum(values) if values else len(many(s, "timestamps_unix_nano"))
        total += value
        frames = [locs[i] for i in many(stacks[one(s, "stack_index")], "location_indices")]
        # The leaf is the first location; its first line is the innermost (inlined) function.
        first = many(frames[0], "lines") if frames else []
        name = fname(first[0]) if first else "?"
        leaf[name] = leaf.get(name, 0) + value
        for f in set(fname(ln) for loc in frames for ln in many(loc, "lines")):
            ftotal[f] = ftotal.get(f, 0) + value
        li = one(s, "link_index")
        if li == 0:
            unlinked += value
        else:
            key = "%s/%s" % (one(links[li], "trace_id", ""), one(links[li], "span_id", ""))
            linked[key] = linked.get(key, 0) + value
        for i in many(s, "attribute_indices"):
            k, v = attr(i)
            v = v if isinstance(v, str) else json.dumps(v)
            per = sattrs.setdefault(k, {})
            per[v] = per.get(v, 0) + value
    return {"sample_type": vtype("sample_type"), "period_type": vtype("period_type"),
            "period": one(p, "period"), "time_unix_nano": one(p, "time_unix_nano"),
            "duration_nano": one(p, "duration_nano"), "profile_id": one(p, "profile_id", ""),
            "attributes": dict(attr(i) for i in many(p, "attribute_indices")),
            "samples": len(many(p, "samples")), "total": total,
            "leaf_share": {f: (v / total if total else 0) for f, v in leaf.items()},
            "functions_total": ftotal, "links": linked, "unlinked": unlinked,
            "sample_attributes": sattrs}


def decode(body, proto_dir=None):
    """The summary dict of one request body; raises Skip or Invalid."""
    proto_dir = proto_dir or default_proto_dir()
    if not os.path.isfile(os.path.join(proto_dir, SERVICE)):
        raise Skip("%s absent (the upstream OTLP .proto copy)" % proto_dir)
    if not shutil.which("protoc"):
        raise Skip("protoc absent (it decodes the OTLP body)")
    r = subprocess.run(["protoc", "--decode=" + MESSAGE, "-I", proto_dir,
                        os.path.join(proto_dir, SERVICE)], input=body, capture_output=True)
    if r.returncode != 0:
        raise Invalid("protoc failed to decode: " + r.stderr.decode(errors="replace").strip())
    req = parse_text(r.stdout.decode())
    d = one(req, "dictionary", {})
    errs = validate(d, req)
    if errs:
        raise Invalid("\n".join(errs))
    strings = many(d, "string_table")
    out = {"resource": {}, "scope": None, "profiles": []}
    for rp in many(req, "resource_profiles"):
        for kv in many(one(rp, "resource", {}), "attributes"):
            out["resource"][kv_key(kv, strings)] = any_value(one(kv, "value", {}), strings)
        for sp in many(rp, "scope_profiles"):
            sc = one(sp, "scope", {})  # otshim sends one scope; the first one is kept
            out["scope"] = out["scope"] or {"name": one(sc, "name", ""),
                                            "version": one(sc, "version", "")}
            out["profiles"] += [summarize_profile(p, d) for p in many(sp, "profiles")]
    out["scope"] = out["scope"] or {"name": "", "version": ""}
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("body")
    ap.add_argument("--proto-dir")
    args = ap.parse_args()
    try:
        with open(args.body, "rb") as f:
            print(json.dumps(decode(f.read(), args.proto_dir), indent=1, sort_keys=True))
    except Skip as e:
        print("SKIP: %s" % e)
        sys.exit(77)
    except Invalid as e:
        print(e)
        sys.exit(1)


if __name__ == "__main__":
    main()
