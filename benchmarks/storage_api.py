"""Storage API overhead: POST /v1/storage/{code}/dispatch (inline inputs) vs the library call on
the same inputs, in one run. Needs a PostgreSQL: DATABASE_URL (a scratch database is created and
dropped) or, without it, the embedded server.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        /work/venv/bin/python benchmarks/storage_api.py
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pandas as pd
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app import migrate
from app.auth import create_api_key
from app.config import Settings
from app.db import make_engine
from app.main import create_app
from app.scratch_db import scratch_database
from energy.storage import DispatchSignals, default_station, optimize_dispatch
from energy.tariffs import load_tariff, price_series


def inputs(n: int, step_minutes: int) -> dict[str, list[float]]:
    rng = np.random.default_rng(7)
    idx = pd.date_range("2027-01-01", periods=n, freq=f"{step_minutes}min", tz="Asia/Shanghai")
    hour = idx.hour.to_numpy() + idx.minute.to_numpy() / 60
    load = 60 + 20 * np.sin(2 * np.pi * (hour - 8) / 24) + rng.normal(0, 3, n)
    pv = np.clip(np.cos(np.pi / 2 * (hour - 13.9) / 6.5), 0, None) * 90 * rng.uniform(0.3, 1, n)
    price = price_series(idx, load_tariff("example_tou_illustrative")).to_numpy()
    return {"load_mw": load.round(4).tolist(), "pv_mw": pv.round(4).tolist(),
            "price_yuan_per_mwh": price.tolist()}


def main() -> None:
    scratch = ExitStack()
    url = scratch.enter_context(scratch_database(os.environ.get("DATABASE_URL"), "zcpark_bench"))
    engine = make_engine(url)
    try:
        migrate.upgrade(engine)
        with Session(engine) as s, s.begin():
            key = create_api_key(s, "operator", label="bench")
        app = create_app(Settings(database_url=url, scheduler_enabled=False), engine=engine)
        hdr = {"Authorization": f"Bearer {key}"}
        print("| case | steps | HTTP s | library s | ratio | body MB | response MB |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        with TestClient(app) as client:
            r = client.post("/v1/storage", headers=hdr,
                            json={"code": "BENCH", "name": "bench", "zone": "B区"})
            assert r.status_code == 201, r.text
            for label, n, step in (("one day, 15 min", 96, 15), ("one year, hourly", 8760, 60),
                                   ("one year, 15 min", 35040, 15)):
                data = inputs(n, step)
                body = {"start": "2027-01-01T00:00:00+08:00", "step_minutes": step, **data}
                t0 = time.perf_counter()
                r = client.post("/v1/storage/BENCH/dispatch", headers=hdr, json=body)
                t_http = time.perf_counter() - t0
                assert r.status_code == 200, r.text[:500]
                idx = pd.date_range("2027-01-01", periods=n, freq=f"{step}min",
                                    tz="Asia/Shanghai")
                t0 = time.perf_counter()
                lib = optimize_dispatch(
                    DispatchSignals(
                        pd.Series(data["load_mw"], index=idx), np.array(data["pv_mw"]),
                        price_yuan_per_mwh=np.array(data["price_yuan_per_mwh"]), step_h=step / 60,
                    ),
                    default_station(),
                )
                t_lib = time.perf_counter() - t0
                rel = abs(r.json()["objective"] - lib.objective) / abs(lib.objective)
                assert rel < 1e-9, rel
                size_in = len(r.request.content) / 1e6
                size_out = len(r.content) / 1e6
                print(f"| {label} | {n} | {t_http:.2f} | {t_lib:.2f} | {t_http / t_lib:.1f}x "
                      f"| {size_in:.1f} | {size_out:.1f} |")
    finally:
        engine.dispose()
        scratch.close()


if __name__ == "__main__":
    main()
