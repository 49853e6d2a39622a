#!/usr/bin/env python3
"""pprof_raw.py FILE [KEY=VALUE]: reads a profile through `go tool pprof -raw` (the real
client) and prints a JSON summary: sample types, totals per type, sample count (rows),
the share of each leaf function per type, the share of the samples whose stack holds a
function anywhere ("stack_share"), and the set of label values seen on samples (plus
how many samples lack each label). With KEY=VALUE, of the samples carrying that label
only."""
import json
import re
import subprocess
import sys


def summarize(path, focus=None):
    out = subprocess.run(["go", "tool", "pprof", "-raw", path], capture_output=True,
                         text=True, check=True).stdout
    lines = out.splitlines()
    i = lines.index("Samples:")
    types = [t.replace("[dflt]", "") for t in lines[i + 1].split()]
    samples = []
    j = i + 2
    while j < len(lines) and lines[j] != "Locations":
        m = re.match(r"\s+([-\d\s]+):\s*([\d\s]*)$", lines[j])
        if m:
            vals = [int(v) for v in m.group(1).split()]
            locs = [int(x) for x in m.group(2).split()]
            samples.append({"values": vals, "locs": locs, "labels": {}})
        elif samples and ":[" in lines[j]:
            for k, v in re.findall(r"(\S+):\[([^\]]*)\]", lines[j]):
                samples[-1]["labels"][k] = v
        j += 1
    funcs = {}
    j += 1
    while j < len(lines) and lines[j] != "Mappings":
        m = re.match(r"\s+(\d+): 0x[0-9a-f]+ M=\d+ (\S+)", lines[j])
        if m:
            funcs[int(m.group(1))] = m.group(2)
        j += 1
    if focus:
        k, v = focus.split("=", 1)
        samples = [s for s in samples if s["labels"].get(k) == v]
    totals = [sum(s["values"][k] for s in samples) for k in range(len(types))]
    anywhere = {}
    for s in samples:
        for name in set(funcs.get(l, "?") for l in s["locs"]):
            acc = anywhere.setdefault(name, [0] * len(types))
            for k in range(len(types)):
                acc[k] += s["values"][k]
    leaf = {}
    for s in samples:
        name = funcs.get(s["locs"][0], "?") if s["locs"] else "?"
        acc = leaf.setdefault(name, [0] * len(types))
        for k in range(len(types)):
            acc[k] += s["values"][k]
    labels, missing = {}, {}
    keys = set(k for s in samples for k in s["labels"])
    for k in keys:
        labels[k] = sorted(set(s["labels"].get(k) for s in samples if k in s["labels"]))
        missing[k] = sum(1 for s in samples if k not in s["labels"])
    return {"types": types, "totals": totals, "rows": len(samples),
            "leaf_share": {f: [v[k] / totals[k] if totals[k] else 0 for k in range(len(types))]
                           for f, v in leaf.items()},
            "stack_share": {f: [v[k] / totals[k] if totals[k] else 0 for k in range(len(types))]
                            for f, v in anywhere.items()},
            "labels": labels, "unlabelled": missing}


if __name__ == "__main__":
    print(json.dumps(summarize(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)))
