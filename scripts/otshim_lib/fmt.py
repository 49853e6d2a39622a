"""otshim_lib/fmt.py: how numbers, durations, byte counts and untrusted strings look on
screen, in report.html and in flame graph titles. Pure functions; which fields go where
is table.py's business."""
import re


def fmt_bytes(n):
    if n is None:
        return "-"
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return "%d B" % n if unit == "B" else "%.1f %s" % (n, unit)
        n /= 1024


def fmt_ms(ms):
    if ms is None:
        return "-"
    return "%.1f ms" % ms


def fmt_value(v, unit):
    """A sample value in its pprof unit: nanoseconds as ms or s, bytes as fmt_bytes."""
    if unit == "nanoseconds":
        ms = v / 1e6
        return "%.2f s" % (ms / 1e3) if ms >= 1e4 else "%.2f ms" % ms
    if unit == "bytes":
        return fmt_bytes(v)
    return "%d" % v


def slow_requests(n):
    return "%d slow request%s" % (n, "" if n == 1 else "s")


def printable(s, limit=None):
    """No terminal control bytes from a request's path reach the screen."""
    s = "" if s is None else str(s)
    s = re.sub(r"[\x00-\x1f\x7f]", lambda m: "\\x%02x" % ord(m.group()), s)
    if limit and len(s) > limit:
        s = s[:limit - 1] + "\u2026"
    return s
