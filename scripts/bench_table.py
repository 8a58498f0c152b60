#!/usr/bin/env python3
"""Turn criterion's saved estimates into the README's markdown tables.

usage: python3 scripts/bench_table.py PREFIX [--realtime RATE]

Reads target/criterion/*/*/new/{benchmark,estimates}.json for every group
whose id starts with PREFIX, and prints one table per operation: rows are
the sizes, columns the implementations, cells the median throughput
(samples/s, or x realtime at RATE Hz of input).
"""
import glob
import json
import os
import sys
from collections import OrderedDict

root = os.path.join(os.path.dirname(__file__), "..", "target", "criterion")
prefix = sys.argv[1] if len(sys.argv) > 1 else ""
realtime = None
if "--realtime" in sys.argv:
    realtime = float(sys.argv[sys.argv.index("--realtime") + 1])

rows = OrderedDict()
for bj in sorted(glob.glob(os.path.join(root, "*", "*", "new", "benchmark.json"))):
    b = json.load(open(bj))
    if not b["group_id"].startswith(prefix):
        continue
    est = json.load(open(os.path.join(os.path.dirname(bj), "estimates.json")))
    ns = est["median"]["point_estimate"]
    elems = b["throughput"]["Elements"]
    op, _, size = b["group_id"].partition("/")
    rows.setdefault(op, OrderedDict()).setdefault(size, OrderedDict())[b["value_str"] or b["function_id"]] = elems / (ns * 1e-9)


def fmt(v):
    if realtime:
        return f"{v / realtime:,.0f}x"
    return f"{v / 1e9:.2f} G" if v >= 1e9 else f"{v / 1e6:.0f} M"


for op, sizes in rows.items():
    cols = []
    for s in sizes.values():
        for c in s:
            if c not in cols:
                cols.append(c)
    print(f"\n**{op}** ({'x realtime' if realtime else 'samples/s'}, median)\n")
    print("| size | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for size, vals in sizes.items():
        print(f"| {size} | " + " | ".join(fmt(vals[c]) if c in vals else "-" for c in cols) + " |")
