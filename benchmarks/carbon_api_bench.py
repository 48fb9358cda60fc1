"""Carbon API read path on the demo park: a ledger from the day rollups (what the service does)
against the same energy totals summed from the raw readings (the reference), in one run, same
database; plus the month close and the target status.

Run (from the repository root): PYTHONPATH=. /work/venv/bin/python benchmarks/carbon_api_bench.py
[--database-url URL]
(no URL: the embedded PostgreSQL, plain partitioned tables; a URL with TimescaleDB: hypertable
and continuous aggregates). A fresh database is created and dropped.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from app import migrate
from app.config import Settings
from app.db import make_engine, readings_on_timescale
from app.scratch_db import scratch_database

RAW_SQL = """
SELECT m.carrier, sum(r.value), count(*) FROM readings r JOIN meters m ON m.id = r.meter_id
WHERE r.start_ts >= CAST(:a AS timestamp) AT TIME ZONE 'Asia/Shanghai'
  AND r.start_ts < CAST(:b AS timestamp) AT TIME ZONE 'Asia/Shanghai' GROUP BY 1 ORDER BY 1
"""


def timed(fn: Callable[[], Any], repeat: int = 5) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--database-url")
    args = ap.parse_args()
    scratch = ExitStack()
    url = scratch.enter_context(scratch_database(args.database_url, "zcpark_bench"))
    engine = make_engine(url)
    try:
        migrate.upgrade(engine)
        from app import demo
        from app.repositories.readings import refresh_aggregates
        from app.repositories.readings_store import readings_store
        from app.services import carbon as svc
        from app.services.carbon_periods import parse_period

        settings = Settings(database_url=url, aggregate_refresh="sync")
        t = time.perf_counter()
        with Session(engine) as s:
            demo.load_demo_park(s, engine=engine, settings=settings)
        load_s = time.perf_counter() - t
        with engine.connect() as c:
            ts = readings_on_timescale(c)
            store = readings_store(c)
            n = c.execute(text("SELECT count(*) FROM readings")).scalar()
        if ts:
            refresh_aggregates(engine, datetime(2025, 1, 1, tzinfo=UTC),
                               datetime(2027, 1, 1, tzinfo=UTC))
        park = svc.Entity("park", "park")
        rows = []
        with engine.connect() as c:
            for label in ("2026-06", "2026"):
                p = parse_period(label)
                ref_s, ref = timed(lambda p=p: c.execute(text(RAW_SQL),
                                                         {"a": p.start, "b": p.end}).all())
                lite_s, led = timed(lambda p=p: svc.ledger(c, park, p, store=store,
                                                           use_frozen=False,
                                                           with_batches=False))
                full_s, _ = timed(lambda p=p: svc.ledger(c, park, p, store=store,
                                                         use_frozen=False), repeat=3)
                raw_kwh = next(v for k, v, _ in ref if k == "electricity_import")
                got = led["inputs"]["energy"]["electricity_import_kwh"]
                assert abs(raw_kwh - got) <= 1e-6 * raw_kwh, (raw_kwh, got)
                rows.append((label, ref_s, lite_s, full_s))
            st_s, _ = timed(lambda: svc.targets_status(c, park, 2026, store=store), repeat=3)
        from app.services.carbon import close_period, reopen_period
        close_times = []
        for _ in range(3):
            t = time.perf_counter()
            close_period(engine, "2026-11", api_key_id=None, actor="bench", store=store)
            close_times.append(time.perf_counter() - t)
            reopen_period(engine, "2026-11", api_key_id=None, actor="bench",  # type: ignore[arg-type]
                          reason="benchmark")
        layout = "TimescaleDB (readings_daily)" if ts else "plain PostgreSQL (meter_days)"
        print(f"layout: {layout}; readings: {n:,}; demo load {load_s:.1f} s (sync refresh)")
        print("| period | raw-readings sum (ref) s | ledger from rollups s | ratio ref/ledger |"
              " ledger + batch provenance s |")
        print("|---|---|---|---|---|")
        for label, ref_s, lite_s, full_s in rows:
            print(f"| park {label} | {ref_s:.3f} | {lite_s:.3f} | {ref_s / lite_s:.1f}x |"
                  f" {full_s:.3f} |")
        print(f"target status (park, 2025–2026, both target sets): {st_s:.3f} s")
        print(f"close one month (park + {len(demo.ENTERPRISES)} enterprises, incl. aggregate"
              f" refresh): {statistics.median(close_times):.3f} s")
    finally:
        engine.dispose()
        scratch.close()


if __name__ == "__main__":
    main()
