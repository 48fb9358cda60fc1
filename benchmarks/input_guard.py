"""Cost of the JSON depth guard against parsing the same body: a readings upload of N records.

    PYTHONPATH=. python benchmarks/input_guard.py --records 1000000
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

from app.edge import json_depth


def best_of(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    body = json.dumps([{"meter": f"M-{i % 500:03d}", "ts": "2026-03-01T00:15:00+08:00",
                        "value": 12.5 + i} for i in range(args.records)]).encode()
    guard = best_of(lambda: json_depth(body), args.repeats)
    parse = best_of(lambda: json.loads(body), args.repeats)
    print(f"{len(body) / 1e6:.1f} MB, {args.records:,} records: json_depth {guard:.3f} s, "
          f"json.loads {parse:.3f} s, ratio {guard / parse:.2f}")


if __name__ == "__main__":
    main()
