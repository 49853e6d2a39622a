"""otshim_lib/analysis.py: what one slow request was doing, from its index line and the
profiles the line names: how its time split on and off CPU and its top waits (from the
wall file, wall.py), its top functions by CPU (flat: the leaf frame of each cpu
sample) and its top allocation sites by alloc_space (the leaf-most frame that is not
the allocator). The heap file is a whole-process snapshot, so when some of its samples
carry the request's span_id only those count. The result is the plain dict that
report.py, html_report.py and --json print; decoding the files is pprof.py's job."""
import os
import re

from .pprof import ProfileError, load_profile
from .wall import wall_summary

TOP_N = 5

# Frames that are the allocator itself, not the code that asked for memory.
ALLOCATOR = re.compile(
    r"^(__libc_|__GI_|__|je_|rt_|otshim_)?(malloc|calloc|realloc|reallocarray|free|"
    r"posix_memalign|aligned_alloc|memalign|valloc|pvalloc|strdup|strndup)(@.*)?$"
    r"|^operator new|^_Zn[wa]|jemalloc|^rt_heap_|^rt_alloc_")


def leaf(frames):
    return frames[0] if frames else "?"


def alloc_site(frames):
    for name in frames:
        if not ALLOCATOR.search(name):
            return name
    return leaf(frames)


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


def analyse(rec, directory, skipped):
    """One request: its index fields (in their order) plus "files" (absolute paths),
    "notes", "top_cpu", "cpu_sampled_ms", "top_alloc", "alloc_sampled_bytes",
    "alloc_scope", "_cpu_profile" (the Profile, for the HTML flame graph, or None), and
    from the wall file "wall_ms", "on_cpu_ms", "off_cpu_ms", "off_cpu_share",
    "waited_ms", "top_waits" and "_wall_profile". The sampled totals, the scope and the
    wall numbers stay None when there is no such profile (an index line written before
    wall profiles existed has no wall file)."""
    out = {k: v for k, v in rec.items() if k != "_line"}
    files = rec.get("files") if isinstance(rec.get("files"), dict) else {}
    out["files"] = {k: os.path.join(directory, v) for k, v in files.items() if isinstance(v, str)}
    out["notes"] = []
    out["top_cpu"], out["cpu_sampled_ms"] = [], None
    out["top_alloc"], out["alloc_sampled_bytes"], out["alloc_scope"] = [], None, None
    out["_cpu_profile"] = None
    out.update(dict.fromkeys(WALL_KEYS))
    out["top_waits"], out["_wall_profile"] = [], None
    cpu = load_kind(out, "cpu", skipped)
    if cpu:
        add_cpu(out, cpu)
    wall = load_kind(out, "wall", skipped)
    if wall:
        add_wall(out, wall)
    heap = load_kind(out, "heap", skipped)
    if heap:
        add_alloc(out, heap, rec.get("span_id"))
    return out


def load_kind(out, kind, skipped):
    """The Profile of out's file KIND; None when there is none or it cannot be read
    (then skipped and out's notes say why)."""
    path = out["files"].get(kind)
    if not path:
        return None
    try:
        return load_profile(path)
    except ProfileError as e:
        skipped.add(path, str(e))
        out["notes"].append("%s profile skipped: %s" % (kind, e))
        return None


WALL_KEYS = ("wall_ms", "on_cpu_ms", "off_cpu_ms", "off_cpu_share", "waited_ms")


def add_wall(out, wall):
    summary = wall_summary(wall)
    if summary is None:
        out["notes"].append("wall profile has no wall/nanoseconds sample type")
        return
    out.update(summary)
    out["_wall_profile"] = wall


def add_cpu(out, cpu):
    idx = cpu.sample_index_or_default("cpu")
    total, top = top_by(cpu.samples, idx, leaf)
    scale = 1e6 if cpu.sample_types[idx][1] == "nanoseconds" else 1
    out["cpu_sampled_ms"] = total / scale
    # CPU the thread's clock measured but no sample caught is one pseudo-frame with no
    # stack ("[on CPU, not sampled]"): alone, it leaves nothing to rank or draw.
    if all(frames[:1] and frames[0].startswith("[") for frames, values, _ in cpu.samples
           if values[idx] > 0):
        top = []
    out["top_cpu"] = [{"function": f, "cpu_ms": v / scale, "share": v / total} for f, v in top]
    out["_cpu_profile"] = cpu


def add_alloc(out, heap, span):
    try:
        idx = heap.sample_index("alloc_space")
    except KeyError:
        out["notes"].append("heap profile has no alloc_space")
        return
    mine = [s for s in heap.samples if span and s[2].get("span_id") == span and s[1][idx] > 0]
    out["alloc_scope"] = "request" if mine else "process"
    total, top = top_by(mine or heap.samples, idx, alloc_site)
    out["alloc_sampled_bytes"] = total
    out["top_alloc"] = [{"function": f, "bytes": v, "share": v / total} for f, v in top]
