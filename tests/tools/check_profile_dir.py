#!/usr/bin/env python3
"""check_profile_dir.py DIR: every line of DIR/index.jsonl (if any) is whole JSON
naming files that exist in DIR, and every otshim-stats-*.json there is JSON. Exits 1
(with a traceback) at the first that is not."""
import glob
import json
import os
import sys

d = sys.argv[1]
index = os.path.join(d, "index.jsonl")
if os.path.exists(index):
    for line in open(index, "rb").read().split(b"\n")[:-1]:
        for f in json.loads(line)["files"].values():
            assert os.path.exists(os.path.join(d, f)), f
for f in glob.glob(os.path.join(d, "otshim-stats-*.json")):
    json.load(open(f))
