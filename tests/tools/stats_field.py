#!/usr/bin/env python3
"""stats_field.py DIR FIELD: the sum of FIELD over every otshim-stats-*.json in DIR
(0 if there is none); fails, printing nothing, if a stats file lacks FIELD."""
import glob
import json
import os
import sys

d, field = sys.argv[1], sys.argv[2]
print(sum(json.load(open(f))[field] for f in glob.glob(os.path.join(d, "otshim-stats-*.json"))))
