#!/usr/bin/env python3
"""wall_whole_check.py FILE SECONDS: checks a whole-process wall profile of srv_wait
(tests/integration/wall.sh) as `go tool pprof -raw` reads it, printing one line per
failed promise (exit 1 if any): types samples/count and wall/nanoseconds; the samples
under wait_in_sleep are off CPU with wait clock_nanosleep or nanosleep, those under
wait_in_mutex off CPU with wait futex, those under burn_cpu on CPU; each of the three
adds up to SECONDS of wall time within 25 %."""
import sys

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from wall_check import samples  # noqa: E402


def main():
    path, secs = sys.argv[1], float(sys.argv[2])
    types, rows = samples(path)
    bad = []
    if types != ["samples/count", "wall/nanoseconds"]:
        bad.append(f"sample types are {types}")
    want = {"wait_in_sleep": ("off-cpu", ("clock_nanosleep", "nanosleep")),
            "wait_in_mutex": ("off-cpu", ("futex",)),
            "burn_cpu": ("on-cpu", (None,))}
    for func, (state, waits) in want.items():
        mine = [r for r in rows if func in r["funcs"]]
        total = sum(r["values"][1] for r in mine) / 1e9
        if abs(total - secs) > 0.25 * secs:
            bad.append(f"{func}: {total:.2f} s of wall time, not ~{secs} s")
        wrong = [r["labels"] for r in mine
                 if r["labels"].get("state") != state or r["labels"].get("wait") not in waits]
        right = sum(r["values"][1] for r in mine if r["labels"] not in wrong) / 1e9
        if total and right < 0.9 * total:
            bad.append(f"{func}: only {right:.2f} of {total:.2f} s labelled state={state}"
                       f" wait={waits}; others: {wrong[:3]}")
    for b in bad:
        print(b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
