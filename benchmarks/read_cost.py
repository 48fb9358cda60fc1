"""Work per read request, this tree against another checkout of the service (the reference,
e.g. the main branch before a change), on one demo-park database.

Each side runs in a fresh process (benchmarks/harness.py, paired, order alternating): it imports
the service from its own tree, builds the app on the given database (scheduler off), warms every
route once with one key, then times ``--rounds`` sequential rounds of the four routes of
benchmarks/read_load.py through the in-process ASGI client. One client, so the time is the work
a request costs (Python and database), which is what bounds latency once 16 clients queue on 2
cores; medians (min–max) of the paired runs, peak RSS growth, load average.

The database must hold the demo park and be migrated for both trees (a newer migration adds
tables the older code ignores). Run from the repository root:

    python benchmarks/read_cost.py --database-url postgresql://.../DB --key-file KEY \\
        --reference /work/main [--rounds 20] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.harness import TABLE_HEADER, machine_line, paired  # noqa: E402
from benchmarks.read_load import ROUTES  # noqa: E402


def side(root: str, url: str, key: str, rounds: int) -> Callable[[], dict[str, float]]:
    """The timed call of the tree at ``root``: ``rounds`` rounds of every route."""
    sys.path.insert(0, root)
    for name in [m for m in sys.modules if m == "app" or m.startswith("app.")]:
        del sys.modules[name]
    os.environ["ZCPARK_DATABASE_URL"] = url
    os.environ["ZCPARK_SCHEDULER_ENABLED"] = "false"
    from fastapi.testclient import TestClient

    from app.config import Settings
    from app.main import create_app

    app = create_app(Settings(database_url=url, scheduler_enabled=False))
    assert Path(sys.modules["app"].__file__ or "").resolve().is_relative_to(Path(root).resolve())
    client = TestClient(app)
    headers = {"authorization": f"Bearer {key}"}
    for path, params in ROUTES.values():
        client.get(path, params=params, headers=headers).raise_for_status()

    def call() -> dict[str, float]:
        per: dict[str, float] = {}
        for _ in range(rounds):
            for name, (path, params) in ROUTES.items():
                t0 = time.perf_counter()
                client.get(path, params=params, headers=headers).raise_for_status()
                per[name] = per.get(name, 0.0) + time.perf_counter() - t0
        return {k: 1000 * v / rounds for k, v in per.items()}

    return call


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--key-file", required=True, help="a file holding an operator key")
    ap.add_argument("--reference", required=True, help="root of the other checkout")
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    key = Path(args.key_file).read_text(encoding="utf-8").strip()
    common = {"url": args.database_url, "key": key, "rounds": args.rounds}
    r = paired("benchmarks.read_cost:side", "benchmarks.read_cost:side", runs=args.runs,
               ours_kwargs={"root": str(HERE.parent), **common},
               ref_kwargs={"root": str(Path(args.reference).resolve()), **common})
    print(f"{args.rounds} sequential rounds of the four routes, one client, in-process;"
          f" {args.runs} paired fresh-process runs. {machine_line()}\n")
    print(TABLE_HEADER)
    print(r.row(f"{args.rounds} rounds of the four routes"))
    print("\n| route | ours ms per request, median (min–max) | reference ms | ratio |")
    print("| --- | --- | --- | --- |")
    res: dict[str, Any] = r.results
    for name in ROUTES:
        o = sorted(x[name] for x in res["ours"])
        f = sorted(x[name] for x in res["ref"])
        mo, mf = o[len(o) // 2], f[len(f) // 2]
        print(f"| {name} | {mo:.1f} ({o[0]:.1f}–{o[-1]:.1f}) | {mf:.1f} ({f[0]:.1f}–{f[-1]:.1f})"
              f" | {mf / mo:.1f}× |")


if __name__ == "__main__":
    main()
