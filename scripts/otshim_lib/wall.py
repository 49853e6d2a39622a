"""otshim_lib/wall.py: what a wall profile (wall-<trace>-<span>-<unix>.pb.gz) says about
its request: how its time split on and off CPU (the samples' state label), which waits
took it (the off-CPU samples' wait and peer labels) and in which of the service's
functions (the innermost real frame of those samples); and, for the flame graph, its
samples with the wait on top of the stack. The library's pseudo-frames
("[on CPU, between samples]", ...) are time that nothing else accounts for: they count
in the split, never as a function. Reading the file is pprof.py's job."""
import re

TOP_WAITS = 5

# A wall profile: its sample types, as runtime/emit/wall_profile.c writes them.
WALL_TYPE = ("wall", "nanoseconds")


def is_wall(prof):
    return WALL_TYPE in prof.sample_types


def pseudo(name):
    """The library's pseudo-frames are bracketed; no function's name is."""
    return name.startswith("[")


# A sanitizer's interceptor (ASan, TSan) stands between the service and the call when
# its runtime is preloaded first: the frame that called the wait is then its, not the
# service's.
INTERCEPTOR = re.compile(r"^_{2,3}interceptor_|^__(asan|tsan|ubsan|sanitizer)[_:]")


def service_frame(frames):
    """The innermost frame that is a function of the service: where it waited."""
    for name in frames:
        if not pseudo(name) and name != "?" and not name.startswith("0x") \
                and not INTERCEPTOR.search(name):
            return name
    return frames[0] if frames else "?"


def wait_frame(labels):
    """The frame the flame graph puts on top of a wait: "[recv 127.0.0.1:5432]"."""
    peer = labels.get("peer")
    return "[%s %s]" % (labels["wait"], peer) if peer else "[%s]" % labels["wait"]


def off_cpu(labels):
    return labels.get("state") == "off-cpu"


def wall_summary(prof):
    """{"wall_ms", "on_cpu_ms", "off_cpu_ms", "off_cpu_share", "waited_ms",
    "top_waits": [{"wait", "peer", "function", "ms", "share"}]}: shares are of the
    profile's total (the request's duration); waited_ms is the off-CPU time inside the
    calls the library timed; a (wait, peer) pair's function is the one most of its time
    was waited in. None when the profile has no wall/nanoseconds sample type."""
    if not is_wall(prof):
        return None
    idx = prof.sample_types.index(WALL_TYPE)
    total = on = off = waited = 0
    pairs = {}  # (wait, peer) -> {function: ns}
    for frames, values, labels in prof.samples:
        v = values[idx]
        if v <= 0:
            continue
        total += v
        if labels.get("state") == "on-cpu":
            on += v
        elif off_cpu(labels):
            off += v
            if "wait" in labels or frames[:1] == ["[waits at further call sites]"]:
                waited += v
        if off_cpu(labels) and "wait" in labels:
            funcs = pairs.setdefault((labels["wait"], labels.get("peer", "")), {})
            name = service_frame(frames)
            funcs[name] = funcs.get(name, 0) + v
    ranked = sorted(pairs.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
    tops = []
    for (wait, peer), funcs in ranked[:TOP_WAITS]:
        ns = sum(funcs.values())
        function = sorted(funcs.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
        tops.append({"wait": wait, "peer": peer, "function": function, "ms": ns / 1e6,
                     "share": ns / total})
    return {"wall_ms": total / 1e6, "on_cpu_ms": on / 1e6, "off_cpu_ms": off / 1e6,
            "off_cpu_share": off / total if total else 0.0, "waited_ms": waited / 1e6,
            "top_waits": tops}


def flame_samples(prof):
    """The samples for a flame graph: each wait's sample gets the wait (and its peer)
    as a frame above the function that waited."""
    return [([wait_frame(labels)] + frames if off_cpu(labels) and "wait" in labels else frames,
             values, labels) for frames, values, labels in prof.samples]
