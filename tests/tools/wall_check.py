#!/usr/bin/env python3
"""wall_check.py FILE FUNC WAIT PEER_RE DURATION_MS TRACE SPAN: checks a wall profile as
`go tool pprof -raw` (the real client) reads it, printing one line per failed promise
and exiting 1 if any failed:
  - sample types samples/count, wall/nanoseconds, and the wall total equal to the
    request's duration (DURATION_MS from its index line, within 1 ms);
  - at least 250 ms of it off CPU, and at least 80 % of the total in samples whose stack
    holds FUNC, labelled state=off-cpu, wait=WAIT and (unless PEER_RE is '-') a peer
    matching PEER_RE;
  - every sample labelled trace_id=TRACE, span_id=SPAN, and state on-cpu or off-cpu."""
import re
import subprocess
import sys


def samples(path):
    out = subprocess.run(["go", "tool", "pprof", "-raw", path], capture_output=True,
                         text=True, check=True).stdout
    lines = out.splitlines()
    i = lines.index("Samples:")
    types = [t.replace("[dflt]", "") for t in lines[i + 1].split()]
    rows, j = [], i + 2
    while lines[j] != "Locations":
        m = re.match(r"\s+([-\d\s]+):\s*([\d\s]*)$", lines[j])
        if m:
            rows.append({"values": [int(v) for v in m.group(1).split()],
                         "locs": [int(x) for x in m.group(2).split()], "labels": {}})
        elif rows and ":[" in lines[j]:
            # key:[value] pairs; a value may hold brackets itself (pipe:[123])
            rows[-1]["labels"].update(re.findall(r"(\w+):\[(.*?)\](?= \w+:\[|$)",
                                                 lines[j].strip()))
        j += 1
    funcs, j = {}, j + 1
    while j < len(lines) and lines[j] != "Mappings":
        m = re.match(r"\s+(\d+): 0x[0-9a-f]+ M=\d+ (\S+)", lines[j])
        if m:
            funcs[int(m.group(1))] = m.group(2)
        elif lines[j].strip() and funcs:  # inlined frames: more names for the last location
            last = max(funcs)
            funcs[last] += " " + lines[j].split()[0]
        j += 1
    for r in rows:
        r["funcs"] = " ".join(funcs.get(loc, "?") for loc in r["locs"]).split()
    return types, rows


def main():
    path, func, wait, peer_re, dur_ms, trace, span = sys.argv[1:8]
    types, rows = samples(path)
    bad = []
    if types != ["samples/count", "wall/nanoseconds"]:
        bad.append(f"sample types are {types}")
    w = types.index("wall/nanoseconds") if "wall/nanoseconds" in types else 1
    total = sum(r["values"][w] for r in rows)
    if abs(total / 1e6 - float(dur_ms)) > 1.0:
        bad.append(f"wall total {total / 1e6:.1f} ms is not the request's {dur_ms} ms")
    off = sum(r["values"][w] for r in rows if r["labels"].get("state") == "off-cpu")
    if off < 250e6:
        bad.append(f"only {off / 1e6:.1f} ms off CPU")
    under = sum(r["values"][w] for r in rows
                if func in r["funcs"] and r["labels"].get("state") == "off-cpu"
                and r["labels"].get("wait") == wait
                and (peer_re == "-" or re.fullmatch(peer_re, r["labels"].get("peer", ""))))
    if total == 0 or under < 0.8 * total:
        bad.append(f"{under / 1e6:.1f} of {total / 1e6:.1f} ms under {func} with wait={wait}"
                   f" peer~{peer_re}; samples: " +
                   "; ".join(f"{r['values'][w] / 1e6:.1f}ms {r['labels']} {r['funcs'][:3]}"
                             for r in rows))
    for r in rows:
        l = r["labels"]
        if l.get("trace_id") != trace or l.get("span_id") != span or \
                l.get("state") not in ("on-cpu", "off-cpu"):
            bad.append(f"a sample labelled {l}")
            break
    for b in bad:
        print(b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
