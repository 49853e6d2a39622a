#!/usr/bin/env python3
"""alloc_workload.py dict|json|pool: a Python workload heavy on allocation, printing a
result that depends only on what it computed, for alloc.sh to compare with and without
the shim (run with PYTHONMALLOC=malloc, every object goes through malloc):
  dict  a dict of 10^6 entries ("1000000 5888890")
  json  100,000 records through json.dumps/loads, and their digest
  pool  8 threads making and dropping blocks of up to 300 KB, and their digests"""
import concurrent.futures as cf
import hashlib
import json
import sys


def dict_workload():
    d = {i: str(i) for i in range(10**6)}
    print(len(d), sum(len(v) for v in d.values()))


def json_workload():
    x = [{"id": i, "name": "n%d" % i, "tags": [str(j) for j in range(i % 10)], "f": i / 3, "s": "\u00e9" * (i % 7)}
         for i in range(100000)]
    s = json.dumps(x)
    y = json.loads(s)
    print(y == x, len(s), hashlib.sha256(json.dumps(y, sort_keys=True).encode()).hexdigest())


def work(k):
    keep, h = [], hashlib.sha256()
    for i in range(2000):
        b = bytes([(i + k) % 256]) * (1 + (i * 7919 + k * 104729) % 300000)
        keep.append(b)
        d = {j: [j] * (j % 5) for j in range(i % 50)}
        h.update(b[-16:] + repr(sorted(d.items())[-1:]).encode())
        if len(keep) > 20:
            keep.pop(0)
    return h.hexdigest(), keep


def pool_workload():
    with cf.ThreadPoolExecutor(8) as ex:
        res = list(ex.map(work, range(32)))
    print(len(res), sum(len(b) for _, keep in res for b in keep),
          hashlib.sha256("".join(h for h, _ in res).encode()).hexdigest())


{"dict": dict_workload, "json": json_workload, "pool": pool_workload}[sys.argv[1]]()
