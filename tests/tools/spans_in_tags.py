#!/usr/bin/env python3
"""spans_in_tags.py INDEX TAGS: how many of INDEX's lines (index.jsonl) have their
span_id in TAGS (the output of `go tool pprof -tags` over continuous CPU profiles).
Prints "H of N"; exits 0 when at least three quarters do (and there is a line)."""
import json
import sys

index, tags_file = sys.argv[1], sys.argv[2]
tags = open(tags_file).read()
lines = [json.loads(l) for l in open(index)]
hit = [l for l in lines if l["span_id"] in tags]
print(len(hit), "of", len(lines))
sys.exit(0 if lines and len(hit) * 4 >= len(lines) * 3 else 1)
