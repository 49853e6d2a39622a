#!/usr/bin/env python3
"""otshim_report.py: answers "which requests were slow and what were they doing" from
the files libotshim.so writes, with nothing but Python 3's standard library (no Go,
no pprof, no protobuf package: a small protobuf reader below decodes pprof).

    otshim_report.py report [DIR] [--json] [--since WHEN] [--path PREFIX] [--min-ms N] [--html]
    otshim_report.py flame FILE.pb.gz [--sample-index NAME] > out.svg

(`otshim report ...` and `otshim flame ...` run exactly these.)

report
    Reads DIR/index.jsonl (DIR defaults to $OTSHIM_PROFILE_DIR, else ./profiles) and
    the profiles its lines name. Prints every slow request, slowest first: start time,
    trace id, method, path, status, duration, CPU ms, allocated bytes, threads; then
    its top 5 functions by CPU (flat cpu/nanoseconds of the leaf function, from the cpu
    file) and its top 5 allocation sites by alloc_space (the leaf-most frame that is
    not an allocator, from the heap file). The heap file is a whole-process snapshot:
    when some of its samples carry the request's span_id, those are used ("this
    request"), else the whole snapshot ("whole process"), and the heading says which.
      --json          the same as one JSON document on stdout:
                      {"dir", "filters", "requests": [{<index line fields>, "files": {kind:
                      absolute path}, "cpu_sampled_ms", "top_cpu": [{"function", "cpu_ms",
                      "share"}], "alloc_scope": "request"|"process", "alloc_sampled_bytes",
                      "top_alloc": [{"function", "bytes", "share"}], "notes": [...]}],
                      "skipped": [{"file", "reason"}]}   (share is 0..1)
      --since WHEN    only requests that started at or after WHEN: ISO 8601
                      (2026-11-24T07:30:00Z, 2026-11-24; no zone means UTC) or relative
                      to now: -30s, -15m, -2h, -1d
      --path PREFIX   only requests whose path starts with PREFIX
      --min-ms N      only requests that took at least N ms
      --html          also write DIR/report.html: the table and, per request, its CPU
                      flame graph inlined as SVG; static, no external URL, works offline
    A line of index.jsonl that is not a JSON object, and a profile that is missing or
    not a readable pprof file, is skipped with one line on stderr naming it; the rest
    is still reported.

flame
    Writes to stdout a self-contained SVG flame graph of FILE (gzipped or plain pprof):
    one rect per frame, width = cumulative value, root at the bottom, colour from a
    hash of the function name; hover shows name, value and share (native tooltips and a
    details line), click zooms into a frame, click the bottom frame to zoom out.
    Frames narrower than 0.5 px are left out. The sample type is the profile's default
    (cpu/nanoseconds for cpu files, inuse_space for heap files, threads/count), or
    --sample-index NAME (e.g. alloc_space, samples) or a 0-based number.

Exit status
    0  report: at least one request reported (skipped-file notes may accompany it);
       flame: the SVG was written
    1  nothing to report: DIR does not exist, has no index.jsonl or an empty one, or no
       line passed the filters (with --html, a page saying so is still written);
       flame: FILE is missing or not a pprof profile
    2  usage: unknown option, bad value, unknown --sample-index
    3  report --html: DIR/report.html could not be written
"""
import argparse
import datetime as dt
import gzip
import html
import json
import math
import os
import re
import sys
import zlib

PROG = "otshim"
TOP_N = 5
HTML_FLAMES_MAX = 50  # the slowest requests that get a flame graph in report.html


def note(msg):
    print("%s: %s" % (PROG, msg), file=sys.stderr)


# ---------------------------------------------------------------------------
# pprof reader: protobuf wire format, just what profile.proto needs.
# Field numbers are google/pprof's proto/profile.proto.
# ---------------------------------------------------------------------------

class ProfileError(Exception):
    pass


def read_varint(buf, pos):
    """Decodes one base-128 varint at buf[pos]; returns (value, next position)."""
    value = shift = 0
    while True:
        if pos >= len(buf):
            raise ProfileError("truncated varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise ProfileError("varint longer than 10 bytes")


def fields(buf):
    """Yields (field number, wire type, value) for each field of one message.
    value is an int for varint/fixed fields, a bytes slice for length-delimited ones."""
    pos, end = 0, len(buf)
    while pos < end:
        key, pos = read_varint(buf, pos)
        num, wire = key >> 3, key & 7
        if wire == 0:  # varint
            value, pos = read_varint(buf, pos)
        elif wire == 1:  # 64-bit
            if pos + 8 > end:
                raise ProfileError("truncated fixed64")
            value, pos = int.from_bytes(buf[pos:pos + 8], "little"), pos + 8
        elif wire == 2:  # length-delimited: bytes, string, sub-message, packed repeated
            n, pos = read_varint(buf, pos)
            if pos + n > end:
                raise ProfileError("truncated field %d (needs %d bytes, %d left)" % (num, n, end - pos))
            value, pos = buf[pos:pos + n], pos + n
        elif wire == 5:  # 32-bit
            if pos + 4 > end:
                raise ProfileError("truncated fixed32")
            value, pos = int.from_bytes(buf[pos:pos + 4], "little"), pos + 4
        else:
            raise ProfileError("bad wire type %d for field %d" % (wire, num))
        if num == 0:
            raise ProfileError("field number 0")
        yield num, wire, value


def ints(wire, value):
    """A repeated integer field arrives packed (one length-delimited run of varints)
    or as single varints; both decode to a list."""
    if wire != 2:
        return [value]
    out, pos = [], 0
    while pos < len(value):
        v, pos = read_varint(value, pos)
        out.append(v)
    return out


def signed(v):
    """int64 fields are sent as two's complement in 64 bits."""
    return v - (1 << 64) if v >= 1 << 63 else v


class Profile:
    """The parts of a pprof profile the report and the flame graph use."""

    def __init__(self, data):
        if data[:2] == b"\x1f\x8b":
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError, zlib.error) as e:
                raise ProfileError("bad gzip data (%s)" % e)
        strings, sample_types, raw_samples = [], [], []
        raw_locations, raw_functions, comments = [], [], []
        self.default_sample_type = 0
        self.period_type = None
        for num, wire, value in fields(data):
            if num == 6 and wire == 2:
                strings.append(bytes(value).decode("utf-8", "replace"))
            elif num == 1 and wire == 2:
                sample_types.append(self._value_type(value))
            elif num == 2 and wire == 2:
                raw_samples.append(value)
            elif num == 4 and wire == 2:
                raw_locations.append(value)
            elif num == 5 and wire == 2:
                raw_functions.append(value)
            elif num == 11 and wire == 2:
                self.period_type = self._value_type(value)
            elif num == 13:
                comments.extend(ints(wire, value))
            elif num == 14 and wire == 0:
                self.default_sample_type = value
        if not strings or strings[0] != "":
            raise ProfileError("not a pprof profile (string table must start with \"\")")
        self.strings = strings
        s = self.string
        self.sample_types = [(s(t), s(u)) for t, u in sample_types]
        if not self.sample_types:
            raise ProfileError("not a pprof profile (no sample types)")
        if self.period_type:
            self.period_type = (s(self.period_type[0]), s(self.period_type[1]))
        self.default_sample_type = s(self.default_sample_type)
        self.comments = [s(c) for c in comments]

        functions = {}  # id -> name
        for buf in raw_functions:
            fid = name = 0
            for num, wire, value in fields(buf):
                if num == 1:
                    fid = value
                elif num == 2:
                    name = value
            functions[fid] = s(name) or "?"
        self.locations = {}  # id -> function names, innermost (inlined) first
        for buf in raw_locations:
            lid, address, names = 0, 0, []
            for num, wire, value in fields(buf):
                if num == 1:
                    lid = value
                elif num == 3:
                    address = value
                elif num == 4 and wire == 2:
                    for lnum, _, lvalue in fields(value):
                        if lnum == 1:
                            names.append(functions.get(lvalue, "?"))
            self.locations[lid] = names or ["0x%x" % address]
        self.samples = []  # (frames leaf first, values, {label key: str value})
        for buf in raw_samples:
            loc_ids, values, labels = [], [], {}
            for num, wire, value in fields(buf):
                if num == 1:
                    loc_ids.extend(ints(wire, value))
                elif num == 2:
                    values.extend(signed(v) for v in ints(wire, value))
                elif num == 3 and wire == 2:
                    key = sval = 0
                    for lnum, _, lvalue in fields(value):
                        if lnum == 1:
                            key = lvalue
                        elif lnum == 2:
                            sval = lvalue
                    if sval:
                        labels[s(key)] = s(sval)
            if len(values) != len(self.sample_types):
                raise ProfileError("a sample has %d values for %d sample types"
                                   % (len(values), len(self.sample_types)))
            frames = []
            for lid in loc_ids:
                frames.extend(self.locations.get(lid, ["?"]))
            self.samples.append((frames, values, labels))

    def _value_type(self, buf):
        vt = [0, 0]
        for num, _, value in fields(buf):
            if num in (1, 2):
                vt[num - 1] = value
        return vt

    def string(self, i):
        if not 0 <= i < len(self.strings):
            raise ProfileError("string index %d out of range" % i)
        return self.strings[i]

    def sample_index(self, name=None):
        """The index of sample type NAME (a type name or a number); without NAME, the
        profile's default_sample_type, else the last one, as pprof chooses."""
        types = [t for t, _ in self.sample_types]
        if name is None:
            name = self.default_sample_type if self.default_sample_type in types else types[-1]
        if name in types:
            return types.index(name)
        if re.fullmatch(r"\d+", str(name)) and int(name) < len(types):
            return int(name)
        raise KeyError(name)


def load_profile(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ProfileError(e.strerror or str(e))
    if not data:
        raise ProfileError("empty file")
    return Profile(data)


# ---------------------------------------------------------------------------
# what a profile says: top functions
# ---------------------------------------------------------------------------

# Frames that are the allocator itself, not the code that asked for memory.
ALLOCATOR = re.compile(
    r"^(__libc_|__GI_|__|je_|rt_|otshim_)?(malloc|calloc|realloc|reallocarray|free|"
    r"posix_memalign|aligned_alloc|memalign|valloc|pvalloc|strdup|strndup)(@.*)?$"
    r"|^operator new|^_Zn[wa]|jemalloc|^rt_heap_|^rt_alloc_")


def alloc_site(frames):
    for name in frames:
        if not ALLOCATOR.search(name):
            return name
    return frames[0] if frames else "?"


def top_by(samples, idx, key, n=TOP_N):
    """Sums value idx per key(frames); returns (total, [(name, value)] largest first)."""
    acc, total = {}, 0
    for frames, values, _ in samples:
        v = values[idx]
        if v <= 0:
            continue
        total += v
        name = key(frames)
        acc[name] = acc.get(name, 0) + v
    ranked = sorted(acc.items(), key=lambda kv: (-kv[1], kv[0]))
    return total, ranked[:n]


def leaf(frames):
    return frames[0] if frames else "?"


# ---------------------------------------------------------------------------
# formatting
# ---------------------------------------------------------------------------

def fmt_bytes(n):
    if n is None:
        return "-"
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return "%d B" % n if unit == "B" else "%.1f %s" % (n, unit)
        n /= 1024
    return "%.1f TiB" % n


def fmt_ms(ms):
    if ms is None:
        return "-"
    return "%.1f ms" % ms


def fmt_value(v, unit):
    if unit == "nanoseconds":
        ms = v / 1e6
        return "%.2f s" % (ms / 1e3) if ms >= 1e4 else "%.2f ms" % ms
    if unit == "bytes":
        return fmt_bytes(v)
    return "%d" % v


def printable(s, limit=None):
    """No terminal control bytes from a request's path reach the screen."""
    s = "" if s is None else str(s)
    s = re.sub(r"[\x00-\x1f\x7f]", lambda m: "\\x%02x" % ord(m.group()), s)
    if limit and len(s) > limit:
        s = s[:limit - 1] + "\u2026"
    return s


# ---------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------

def parse_when(text, now=None):
    """--since: ISO 8601, or -N followed by s, m, h or d (relative to now). UTC."""
    now = now or dt.datetime.now(dt.timezone.utc)
    m = re.fullmatch(r"-(\d+(?:\.\d+)?)([smhd])", text.strip())
    if m:
        secs = float(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
        return now - dt.timedelta(seconds=secs)
    return parse_iso(text)


def parse_iso(text):
    t = str(text).strip()
    if t.endswith(("Z", "z")):
        t = t[:-1] + "+00:00"
    when = dt.datetime.fromisoformat(t)  # ValueError when it is not ISO 8601
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when


class Skipped:
    def __init__(self):
        self.items = []

    def add(self, what, reason):
        self.items.append({"file": what, "reason": reason})
        note("skipped %s: %s" % (what, reason))


def read_index(directory, skipped):
    """The index lines as dicts, in file order; corrupt lines are skipped with a note.
    Returns None when there is no index.jsonl."""
    path = os.path.join(directory, "index.jsonl")
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return None
    except OSError as e:
        skipped.add(path, e.strerror or str(e))
        return []
    records = []
    for n, line in enumerate(raw.split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line.decode("utf-8"))
            why = None if isinstance(rec, dict) else "a JSON %s" % type(rec).__name__
        except UnicodeDecodeError:
            why = "not UTF-8"
        except ValueError as e:  # json.JSONDecodeError
            why = getattr(e, "msg", str(e))
        if why:
            skipped.add("%s line %d" % (path, n), "not a JSON object (%s)" % why)
            continue
        if not isinstance(rec.get("trace_id"), str) or number(rec.get("duration_ms")) is None:
            skipped.add("%s line %d" % (path, n), "not an index line (no trace_id or duration_ms)")
            continue
        rec["_line"] = n
        records.append(rec)
    return records


def number(v):
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def analyse(rec, directory, skipped):
    """One request: its index fields plus what its cpu and heap files say."""
    out = {k: v for k, v in rec.items() if k != "_line"}
    files = rec.get("files") if isinstance(rec.get("files"), dict) else {}
    out["files"] = {k: os.path.join(directory, v) for k, v in files.items() if isinstance(v, str)}
    out["notes"] = []
    out["top_cpu"], out["cpu_sampled_ms"] = [], None
    out["top_alloc"], out["alloc_sampled_bytes"], out["alloc_scope"] = [], None, None
    out["_cpu_profile"] = None

    def load(kind):
        path = out["files"].get(kind)
        if not path:
            return None
        try:
            return load_profile(path)
        except ProfileError as e:
            skipped.add(path, str(e))
            out["notes"].append("%s profile skipped: %s" % (kind, e))
            return None

    cpu = load("cpu")
    if cpu:
        try:
            idx = cpu.sample_index("cpu")
        except KeyError:
            idx = cpu.sample_index()
        total, top = top_by(cpu.samples, idx, leaf)
        unit = cpu.sample_types[idx][1]
        scale = 1e6 if unit == "nanoseconds" else 1
        out["cpu_sampled_ms"] = total / scale
        out["top_cpu"] = [{"function": f, "cpu_ms": v / scale, "share": v / total} for f, v in top]
        out["_cpu_profile"] = cpu
    heap = load("heap")
    if heap:
        try:
            idx = heap.sample_index("alloc_space")
        except KeyError:
            idx = None
            out["notes"].append("heap profile has no alloc_space")
        if idx is not None:
            span = rec.get("span_id")
            mine = [s for s in heap.samples if span and s[2].get("span_id") == span and s[1][idx] > 0]
            out["alloc_scope"] = "request" if mine else "process"
            total, top = top_by(mine or heap.samples, idx, alloc_site)
            out["alloc_sampled_bytes"] = total
            out["top_alloc"] = [{"function": f, "bytes": v, "share": v / total} for f, v in top]
    return out


def select(records, since, prefix, min_ms, skipped):
    out = []
    for rec in records:
        if min_ms is not None and (number(rec.get("duration_ms")) or 0) < min_ms:
            continue
        if prefix is not None and not str(rec.get("path", "")).startswith(prefix):
            continue
        if since is not None:
            try:
                if parse_iso(rec.get("time", "")) < since:
                    continue
            except ValueError:
                skipped.add("index.jsonl line %d" % rec["_line"], "bad time %r" % rec.get("time"))
                continue
        out.append(rec)
    out.sort(key=lambda r: (-(number(r.get("duration_ms")) or 0), str(r.get("time", ""))))
    return out


COLUMNS = [("TIME", "time", "<"), ("TRACE ID", "trace_id", "<"), ("METHOD", "method", "<"),
           ("PATH", "path", "<"), ("STATUS", "status", ">"), ("DURATION", "duration", ">"),
           ("CPU", "cpu", ">"), ("ALLOC", "alloc", ">"), ("THREADS", "threads", ">")]


def row_cells(r):
    return {"time": printable(r.get("time", "-")), "trace_id": printable(r.get("trace_id", "-")),
            "method": printable(r.get("method", "-"), 10), "path": printable(r.get("path", "-"), 48),
            "status": str(r.get("status", "-")),
            "duration": fmt_ms(number(r.get("duration_ms"))), "cpu": fmt_ms(number(r.get("cpu_ms"))),
            "alloc": fmt_bytes(number(r.get("alloc_bytes"))),
            "threads": str(r.get("threads", "-"))}


def print_text(reqs, directory, filtered):
    cells = [row_cells(r) for r in reqs]
    width = {key: max([len(head)] + [len(c[key]) for c in cells]) for head, key, _ in COLUMNS}

    def line(values):
        return "  ".join(("%-*s" if al == "<" else "%*s") % (width[key], values[key])
                         for _, key, al in COLUMNS).rstrip()

    n = len(reqs)
    print("%d slow request%s in %s%s, slowest first" % (n, "" if n == 1 else "s", directory,
                                                        " (filtered)" if filtered else ""))
    print()
    print(line({key: head for head, key, _ in COLUMNS}))
    for r, c in zip(reqs, cells):
        print(line(c))
        if r["cpu_sampled_ms"] is not None:
            if r["top_cpu"]:
                print("    top CPU (flat, %s sampled):" % fmt_ms(r["cpu_sampled_ms"]))
                for t in r["top_cpu"]:
                    print("      %5.1f%%  %10s  %s" % (100 * t["share"], fmt_ms(t["cpu_ms"]), printable(t["function"])))
            else:
                print("    top CPU: no samples (the request waited rather than computed)")
        if r["alloc_sampled_bytes"] is not None:
            scope = "this request" if r["alloc_scope"] == "request" else "whole process"
            if r["top_alloc"]:
                print("    top allocation (alloc_space, %s, %s sampled):" % (scope, fmt_bytes(r["alloc_sampled_bytes"])))
                for t in r["top_alloc"]:
                    print("      %5.1f%%  %10s  %s" % (100 * t["share"], fmt_bytes(t["bytes"]), printable(t["function"])))
            else:
                print("    top allocation (alloc_space, %s): no samples" % scope)
        for msg in r["notes"]:
            print("    note: %s" % msg)
        print()


def json_doc(reqs, directory, filters, skipped):
    clean = [{k: v for k, v in r.items() if not k.startswith("_")} for r in reqs]
    return {"dir": directory, "filters": filters, "requests": clean, "skipped": skipped.items}


# ---------------------------------------------------------------------------
# flame graph (SVG)
# ---------------------------------------------------------------------------

WIDTH, FRAME_H, FONT, CHAR_W, PAD = 1200, 17, 12, 7.0, 10
MIN_PX = 0.5


def xml_text(s):
    s = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "?", str(s))
    return html.escape(s, quote=True)


def colour(name, palette):
    """A stable colour per function name (FNV-1a), in the profile kind's palette."""
    h = 2166136261
    for b in name.encode("utf-8", "replace"):
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    v1, v2, v3 = (h & 0xFF) / 255, ((h >> 8) & 0xFF) / 255, ((h >> 16) & 0xFF) / 255
    if palette == "mem":
        r, g, b = 40 * v3, 160 + 60 * v1, 40 + 100 * v2
    elif palette == "threads":
        r, g, b = 60 + 60 * v3, 150 + 60 * v1, 190 + 50 * v2
    else:  # cpu: the classic warm palette
        r, g, b = 205 + 50 * v3, 230 * v1, 55 * v2
    return "rgb(%d,%d,%d)" % (r, g, b)


def fit(name, px):
    n = int((px - 6) // CHAR_W)
    if n < 3:
        return ""
    return name if len(name) <= n else name[:n - 2] + ".."


FLAME_JS = r"""
(function () {
  var svg = document.getElementById('%(id)s');
  if (!svg) return;
  var W = %(w)d, PAD = %(pad)d, CW = %(cw)s, EPS = 1e-9;
  var det = svg.querySelector('.fg-details');
  var frames = Array.prototype.slice.call(svg.querySelectorAll('g.fg-f'));
  function num(g, k) { return parseFloat(g.getAttribute('data-' + k)); }
  function fit(name, px) {
    var n = Math.floor((px - 6) / CW);
    if (n < 3) return '';
    return name.length <= n ? name : name.slice(0, n - 2) + '..';
  }
  function place(g, x, w) {
    var r = g.querySelector('rect'), t = g.querySelector('text'), px = w * (W - 2 * PAD);
    r.setAttribute('x', (PAD + x * (W - 2 * PAD)).toFixed(2));
    r.setAttribute('width', Math.max(px - 0.5, 0.1).toFixed(2));
    t.setAttribute('x', (PAD + x * (W - 2 * PAD) + 3).toFixed(2));
    t.textContent = fit(g.getAttribute('data-n'), px);
    g.style.display = '';
  }
  function zoom(target) {
    var x0 = num(target, 'x'), w0 = num(target, 'w'), d0 = num(target, 'd');
    frames.forEach(function (g) {
      var x = num(g, 'x'), w = num(g, 'w'), d = num(g, 'd');
      if (d < d0 && x <= x0 + EPS && x + w >= x0 + w0 - EPS) {
        place(g, 0, 1); g.classList.add('fg-anc');
      } else if (d >= d0 && x >= x0 - EPS && x + w <= x0 + w0 + EPS) {
        place(g, (x - x0) / w0, w / w0); g.classList.remove('fg-anc');
      } else {
        g.style.display = 'none';
      }
    });
  }
  frames.forEach(function (g) {
    g.addEventListener('mouseover', function () {
      g.classList.add('fg-hl');
      if (det) det.textContent = g.querySelector('title').textContent;
    });
    g.addEventListener('mouseout', function () {
      g.classList.remove('fg-hl');
      if (det) det.textContent = det.getAttribute('data-idle');
    });
    g.addEventListener('click', function () { zoom(g); });
  });
})();
"""


def flame_svg(prof, idx, svg_id="fg", standalone=True, heading=None):
    """An SVG flame graph of sample type idx. Root ("all") at the bottom."""
    stype, unit = prof.sample_types[idx]
    palette = "mem" if unit == "bytes" or stype.endswith("_objects") else \
        "threads" if stype in ("threads", "threadcreate", "goroutine") else "cpu"
    root = {"name": "all", "value": 0, "kids": {}}
    for frames, values, _ in prof.samples:
        v = values[idx]
        if v <= 0:
            continue
        root["value"] += v
        node = root
        for name in reversed(frames):
            kid = node["kids"].get(name)
            if kid is None:
                kid = node["kids"][name] = {"name": name, "value": 0, "kids": {}}
            kid["value"] += v
            node = kid
    total = root["value"]
    span = WIDTH - 2 * PAD
    rects = []  # (depth, x fraction, w fraction, name, value)

    def walk(node, depth, x):
        rects.append((depth, x, node["value"] / total, node["name"], node["value"]))
        for kid in sorted(node["kids"].values(), key=lambda k: k["name"]):
            w = kid["value"] / total
            if w * span >= MIN_PX:
                walk(kid, depth + 1, x)
            x += w

    if total > 0:
        walk(root, 0, 0.0)
    depth = max((r[0] for r in rects), default=0)
    top = 48 if heading is None else 36
    height = top + (depth + 1) * FRAME_H + 30
    title = "%s (%s), total %s" % (stype, unit, fmt_value(total, unit))
    idle = "hover a frame for its name and share; click to zoom, click the bottom frame to zoom out"
    out = []
    if standalone:
        out.append('<?xml version="1.0" encoding="UTF-8"?>\n')
        out.append('<svg xmlns="http://www.w3.org/2000/svg" id="%s" width="%d" height="%d" '
                   'viewBox="0 0 %d %d" class="otshim-flame">\n' % (svg_id, WIDTH, height, WIDTH, height))
    else:
        out.append('<svg id="%s" width="100%%" viewBox="0 0 %d %d" class="otshim-flame" '
                   'role="img">\n' % (svg_id, WIDTH, height))
    out.append('<style>#%(id)s text{font-family:Verdana,"DejaVu Sans",sans-serif;font-size:%(f)dpx;fill:#000}'
               '#%(id)s .fg-f{cursor:pointer}#%(id)s .fg-f text{pointer-events:none}'
               '#%(id)s .fg-hl rect{stroke:#000;stroke-width:1.2}#%(id)s .fg-anc rect{opacity:.6}'
               '#%(id)s .fg-head{font-size:%(h)dpx}</style>\n'
               % {"id": svg_id, "f": FONT, "h": FONT + 3})
    out.append('<rect x="0" y="0" width="%d" height="%d" fill="#f8f8f4"/>\n' % (WIDTH, height))
    if heading is None:
        out.append('<text class="fg-head" x="%d" y="22">Flame graph: %s</text>\n' % (PAD, xml_text(title)))
        sub = "; ".join(prof.comments)
        out.append('<text x="%d" y="40">%s</text>\n' % (PAD, xml_text(fit(sub, span * 1.0))))
    else:
        out.append('<text class="fg-head" x="%d" y="22">%s</text>\n' % (PAD, xml_text(heading + " \u2014 " + title)))
    if total <= 0:
        out.append('<text x="%d" y="%d">no samples with a positive %s value</text>\n'
                   % (PAD, top + FRAME_H - 4, xml_text(stype)))
    for d, x, w, name, value in rects:
        px = w * span
        y = top + (depth - d) * FRAME_H
        tip = "%s \u2014 %s, %.2f%% of %s" % (name, fmt_value(value, unit), 100 * w, stype)
        out.append('<g class="fg-f" data-n="%s" data-x="%.9f" data-w="%.9f" data-d="%d"><title>%s</title>'
                   '<rect x="%.2f" y="%d" width="%.2f" height="%d" rx="2" fill="%s"/>'
                   '<text x="%.2f" y="%d">%s</text></g>\n'
                   % (xml_text(name), x, w, d, xml_text(tip),
                      PAD + x * span, y, max(px - 0.5, 0.1), FRAME_H - 1,
                      "rgb(200,200,200)" if d == 0 else colour(name, palette),
                      PAD + x * span + 3, y + FRAME_H - 5, xml_text(fit(name, px))))
    out.append('<text class="fg-details" x="%d" y="%d" data-idle="%s">%s</text>\n'
               % (PAD, height - 10, xml_text(idle), xml_text(idle)))
    out.append("<script><![CDATA[%s]]></script>\n"
               % (FLAME_JS % {"id": svg_id, "w": WIDTH, "pad": PAD, "cw": repr(CHAR_W)}))
    out.append("</svg>\n")
    return "".join(out)


# ---------------------------------------------------------------------------
# HTML report
# ---------------------------------------------------------------------------

CSS = """
body{font-family:"DejaVu Sans",Verdana,sans-serif;margin:24px;color:#222;background:#fff}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 6px;border-top:1px solid #ccc;padding-top:14px}
p.meta{color:#555;margin:2px 0 14px}
table{border-collapse:collapse;font-size:13px}
th,td{padding:4px 10px;border-bottom:1px solid #e4e4e4;text-align:left;vertical-align:top;white-space:nowrap}
th{background:#f0f0ec} td.n{text-align:right;font-variant-numeric:tabular-nums}
td.id,code{font-family:"DejaVu Sans Mono",monospace;font-size:12px}
.tops{display:flex;gap:40px;margin:8px 0}
.tops table{font-size:12px;min-width:300px}
caption{text-align:left;font-weight:bold;padding:2px 0 4px}
.notes{color:#a33}
.empty{color:#666;font-style:italic}
"""


def html_report(reqs, directory, filters, skipped, n_all):
    e = html.escape
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    out = ['<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
           '<title>otshim report: %d slow requests</title><style>%s</style></head><body>\n' % (len(reqs), CSS),
           '<h1>otshim report</h1>\n<p class="meta">%d slow request%s in <code>%s</code>%s, slowest first; '
           'written %s.</p>\n' % (len(reqs), "" if len(reqs) == 1 else "s", e(directory),
                                  " (%d of %d after filters: %s)" % (len(reqs), n_all, e(json.dumps(filters)))
                                  if filters else "", now)]
    if skipped.items:
        out.append('<ul class="notes">%s</ul>\n' % "".join(
            "<li>skipped %s: %s</li>" % (e(s["file"]), e(s["reason"])) for s in skipped.items))
    if not reqs:
        out.append('<p class="empty">No slow requests to show.</p>\n</body></html>\n')
        return "".join(out)
    out.append('<table id="requests"><thead><tr><th>#</th>%s<th>top CPU function</th></tr></thead><tbody>\n'
               % "".join("<th>%s</th>" % e(h.lower()) for h, _, _ in COLUMNS))
    for i, r in enumerate(reqs, 1):
        c = row_cells(r)
        tc = r["top_cpu"][0] if r["top_cpu"] else None
        out.append('<tr class="req" data-trace="%s"><td><a href="#r%d">%d</a></td>%s<td>%s</td></tr>\n' % (
            e(str(r.get("trace_id", ""))), i, i,
            "".join('<td class="%s">%s</td>' % ("id" if k == "trace_id" else "n" if al == ">" else "", e(c[k]))
                    for _, k, al in COLUMNS),
            "%s (%.1f%%)" % (e(tc["function"]), 100 * tc["share"]) if tc else "-"))
    out.append("</tbody></table>\n")
    for i, r in enumerate(reqs, 1):
        c = row_cells(r)
        out.append('<h2 id="r%d">%d. %s %s &mdash; %s, status %s</h2>\n' % (
            i, i, e(c["method"]), e(str(r.get("path", "-"))), e(c["duration"]), e(c["status"])))
        out.append('<p class="meta">started %s &middot; trace <code>%s</code> span <code>%s</code> &middot; '
                   'CPU %s &middot; allocated %s &middot; %s threads &middot; files: %s</p>\n' % (
                       e(c["time"]), e(c["trace_id"]), e(str(r.get("span_id", "-"))), e(c["cpu"]), e(c["alloc"]),
                       e(c["threads"]), ", ".join('<a href="%s">%s</a>' % (e(os.path.relpath(p, directory)), e(k))
                                                  for k, p in sorted(r["files"].items()))))
        out.append('<div class="tops">')
        if r["cpu_sampled_ms"] is not None:
            out.append(top_table("top CPU (%s sampled)" % fmt_ms(r["cpu_sampled_ms"]),
                                 [(t["function"], fmt_ms(t["cpu_ms"]), t["share"]) for t in r["top_cpu"]]))
        if r["alloc_sampled_bytes"] is not None:
            scope = "this request" if r["alloc_scope"] == "request" else "whole process"
            out.append(top_table("top allocation (alloc_space, %s)" % scope,
                                 [(t["function"], fmt_bytes(t["bytes"]), t["share"]) for t in r["top_alloc"]]))
        out.append("</div>\n")
        for msg in r["notes"]:
            out.append('<p class="notes">%s</p>\n' % e(msg))
        prof = r["_cpu_profile"]
        if prof is None:
            out.append('<p class="empty">no CPU profile to draw</p>\n')
        elif i > HTML_FLAMES_MAX:
            out.append('<p class="empty">flame graph left out (only the %d slowest get one here); '
                       'run <code>otshim flame %s</code></p>\n'
                       % (HTML_FLAMES_MAX, e(os.path.basename(r["files"]["cpu"]))))
        elif r["cpu_sampled_ms"] == 0:
            out.append('<p class="empty">no CPU samples: the request waited rather than computed</p>\n')
        else:
            try:
                idx = prof.sample_index("cpu")
            except KeyError:
                idx = prof.sample_index()
            out.append(flame_svg(prof, idx, svg_id="fg%d" % i, standalone=False,
                                 heading="CPU flame graph, trace %s" % r.get("trace_id", "?")))
    out.append("</body></html>\n")
    return "".join(out)


def top_table(caption, rows):
    e = html.escape
    if not rows:
        return '<table><caption>%s</caption><tr><td class="empty">no samples</td></tr></table>' % e(caption)
    return '<table><caption>%s</caption>%s</table>' % (e(caption), "".join(
        '<tr><td class="n">%.1f%%</td><td class="n">%s</td><td><code>%s</code></td></tr>' % (100 * s, e(v), e(f))
        for f, v, s in rows))


def write_atomic(path, text):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------
# commands
# ---------------------------------------------------------------------------

def cmd_report(args):
    directory = args.dir or os.environ.get("OTSHIM_PROFILE_DIR") or "profiles"
    directory = os.path.abspath(directory)
    since = None
    if args.since is not None:
        try:
            since = parse_when(args.since)
        except ValueError:
            note("report: --since %r is neither ISO 8601 (2026-11-24T07:30:00Z) nor -N[smhd]" % args.since)
            return 2
    if not os.path.isdir(directory):
        what = "is not a directory" if os.path.exists(directory) else "does not exist"
        note("no profile directory: %s %s (pass DIR, or set OTSHIM_PROFILE_DIR)" % (directory, what))
        return 1
    skipped = Skipped()
    records = read_index(directory, skipped)
    filters = {k: v for k, v in (("since", args.since), ("path", args.path), ("min_ms", args.min_ms))
               if v is not None}
    reqs, empty_msg = [], None
    if records is None:
        empty_msg = "no slow requests recorded in %s (no index.jsonl)" % directory
    elif not records:
        empty_msg = "no slow requests recorded in %s (index.jsonl is empty)" % directory
        if skipped.items:
            empty_msg = "no readable slow request in %s (every line of index.jsonl was skipped)" % directory
    else:
        chosen = select(records, since, args.path, args.min_ms, skipped)
        if not chosen:
            empty_msg = "no slow request in %s matches %s (%d recorded)" % (
                directory, " ".join("--%s %s" % (k.replace("_", "-"), v) for k, v in filters.items()),
                len(records))
        reqs = [analyse(r, directory, skipped) for r in chosen]
    status = 0
    if args.html:
        out = os.path.join(directory, "report.html")
        try:
            write_atomic(out, html_report(reqs, directory, filters, skipped,
                                          len(records) if records else 0))
            note("wrote %s (%d slow request%s)" % (out, len(reqs), "" if len(reqs) == 1 else "s"))
        except OSError as e:
            note("cannot write %s: %s" % (out, e.strerror or e))
            status = 3
    if args.json:
        json.dump(json_doc(reqs, directory, filters, skipped), sys.stdout, indent=1)
        sys.stdout.write("\n")
    if empty_msg:
        note(empty_msg)
        return status or 1
    if not args.json and not args.html:
        print_text(reqs, directory, bool(filters))
    return status


def cmd_flame(args):
    try:
        prof = load_profile(args.file)
    except ProfileError as e:
        note("flame: cannot read %s: %s" % (args.file, e))
        return 1
    try:
        idx = prof.sample_index(args.sample_index)
    except KeyError:
        note("flame: %s has no sample type %r; it has: %s" % (
            args.file, args.sample_index, ", ".join(t for t, _ in prof.sample_types)))
        return 2
    sys.stdout.write(flame_svg(prof, idx))
    return 0


def main(argv):
    # "--since -15m" would look like an option to argparse; glue it to its flag.
    fixed, i = [], 0
    while i < len(argv):
        if argv[i] == "--since" and i + 1 < len(argv):
            fixed.append("--since=" + argv[i + 1])
            i += 2
            continue
        fixed.append(argv[i])
        i += 1
    parser = argparse.ArgumentParser(prog=PROG, description="slow-request reports and flame graphs "
                                     "from otshim's profiles (see the header of %s)" % os.path.basename(__file__))
    sub = parser.add_subparsers(dest="command", metavar="{report,flame}")
    rep = sub.add_parser("report", help="list slow requests and what they were doing")
    rep.add_argument("dir", nargs="?", metavar="DIR",
                     help="profile directory (default $OTSHIM_PROFILE_DIR, else ./profiles)")
    rep.add_argument("--json", action="store_true", help="one JSON document on stdout")
    rep.add_argument("--since", metavar="WHEN", help="ISO 8601 time, or -Ns/-Nm/-Nh/-Nd before now")
    rep.add_argument("--path", metavar="PREFIX", help="only paths starting with PREFIX")
    rep.add_argument("--min-ms", type=float, metavar="N", help="only requests of at least N ms")
    rep.add_argument("--html", action="store_true", help="also write DIR/report.html")
    fl = sub.add_parser("flame", help="SVG flame graph of one profile, to stdout")
    fl.add_argument("file", metavar="FILE.pb.gz")
    fl.add_argument("--sample-index", metavar="NAME", help="sample type (default: the profile's default)")
    args = parser.parse_args(fixed)
    if args.command == "report":
        return cmd_report(args)
    if args.command == "flame":
        return cmd_flame(args)
    parser.print_usage(sys.stderr)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BrokenPipeError:
        sys.exit(0)
