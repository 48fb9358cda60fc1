"""Cost of the JSON depth guard (every JSON body is measured before a route parses it) against
parsing the same body with json.loads, and against the guard's previous implementation (kept
below as the reference): a readings upload of N records.

Paired fresh-process runs (benchmarks/harness.py): median (min–max), peak RSS growth, load
average. Run from the repository root:

    python benchmarks/input_guard.py [--records 1000000] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.edge import _KEEP_JSON_STRUCTURE, json_depth
from benchmarks.harness import TABLE_HEADER, machine_line, paired


def body(records: int) -> bytes:
    return json.dumps([{"meter": f"M-{i % 500:03d}", "ts": "2026-03-01T00:15:00+08:00",
                        "value": 12.5 + i} for i in range(records)]).encode()


def previous_json_depth(body: bytes) -> int:
    """The guard as it was: cumulative sums over every structural byte."""
    if b"\\" in body:
        body = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    kept = body.translate(None, _KEEP_JSON_STRUCTURE)
    if not kept:
        return 0
    v = np.frombuffer(kept, np.uint8)
    outside_string = (np.cumsum(v == ord('"'), dtype=np.int32) & 1) == 0
    step = (((v == ord("[")) | (v == ord("{"))).astype(np.int8)
            - ((v == ord("]")) | (v == ord("}"))).astype(np.int8))
    step[~outside_string] = 0
    return int(np.cumsum(step, dtype=np.int32).max(initial=0))


def depth_side(records: int) -> Callable[[], int]:
    b = body(records)
    return lambda: json_depth(b)


def previous_side(records: int) -> Callable[[], int]:
    b = body(records)
    return lambda: previous_json_depth(b)


def loads_side(records: int) -> Callable[[], int]:
    b = body(records)
    return lambda: len(json.loads(b))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    b = body(args.records)
    assert json_depth(b) == previous_json_depth(b) == 2
    kw = {"records": args.records}
    vs_loads = paired("benchmarks.input_guard:depth_side", "benchmarks.input_guard:loads_side",
                      runs=args.runs, ours_kwargs=kw, ref_kwargs=kw)
    vs_prev = paired("benchmarks.input_guard:depth_side", "benchmarks.input_guard:previous_side",
                     runs=args.runs, ours_kwargs=kw, ref_kwargs=kw)
    print(f"{len(b) / 1e6:.1f} MB, {args.records:,} records. {machine_line()}\n")
    print(TABLE_HEADER)
    print(vs_loads.row("json_depth vs json.loads of the same body"))
    print(vs_prev.row("json_depth vs its previous implementation"))


if __name__ == "__main__":
    main()
