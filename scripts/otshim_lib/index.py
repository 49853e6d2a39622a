"""otshim_lib/index.py: reads DIR/index.jsonl (one JSON object per slow request, written
by runtime/emit/writer.c) and applies the --since, --path and --min-ms filters, slowest
first. A line that is not an index line is skipped with a note. Reading the profiles a
line names is analysis.py's job."""
import datetime as dt
import json
import os
import re


def number(v):
    """V when it is a JSON number (not a bool), else None."""
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def duration_ms(rec):
    return number(rec.get("duration_ms")) or 0


# ---- --since ----

def parse_when(text, now=None):
    """--since: ISO 8601, or -N followed by s, m, h or d (relative to now). UTC.
    ValueError when it is neither."""
    now = now or dt.datetime.now(dt.timezone.utc)
    m = re.fullmatch(r"-(\d+(?:\.\d+)?)([smhd])", text.strip())
    if m:
        secs = float(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
        return now - dt.timedelta(seconds=secs)
    return parse_iso(text)


def parse_iso(text):
    """An ISO 8601 time (Z allowed; no zone means UTC); ValueError when it is not one."""
    t = str(text).strip()
    if t.endswith(("Z", "z")):
        t = t[:-1] + "+00:00"
    when = dt.datetime.fromisoformat(t)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when


# ---- index.jsonl ----

def read_index(directory, skipped):
    """The index lines as dicts, in file order, each with "_line" (its line number);
    a line that is not an index line goes to skipped. None when there is no index.jsonl."""
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
        rec, why = parse_line(line)
        if why:
            skipped.add("%s line %d" % (path, n), why)
            continue
        rec["_line"] = n
        records.append(rec)
    return records


def parse_line(line):
    """(the index line as a dict, None), or (None, why it is not one)."""
    try:
        rec = json.loads(line.decode("utf-8"))
        why = None if isinstance(rec, dict) else "a JSON %s" % type(rec).__name__
    except UnicodeDecodeError:
        why = "not UTF-8"
    except ValueError as e:  # json.JSONDecodeError
        why = getattr(e, "msg", str(e))
    if why:
        return None, "not a JSON object (%s)" % why
    if not isinstance(rec.get("trace_id"), str) or number(rec.get("duration_ms")) is None:
        return None, "not an index line (no trace_id or duration_ms)"
    return rec, None


# ---- filters ----

def select(records, since, prefix, min_ms, skipped):
    """The records that pass every filter given (None = no filter), slowest first;
    ties in start order."""
    out = [rec for rec in records if passes(rec, since, prefix, min_ms, skipped)]
    out.sort(key=lambda r: (-duration_ms(r), str(r.get("time", ""))))
    return out


def passes(rec, since, prefix, min_ms, skipped):
    if min_ms is not None and duration_ms(rec) < min_ms:
        return False
    if prefix is not None and not str(rec.get("path", "")).startswith(prefix):
        return False
    if since is None:
        return True
    try:
        return parse_iso(rec.get("time", "")) >= since
    except ValueError:
        skipped.add("index.jsonl line %d" % rec["_line"], "bad time %r" % rec.get("time"))
        return False
