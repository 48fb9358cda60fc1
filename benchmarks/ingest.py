"""Ingest and query benchmark (issue 2), all in one run against one PostgreSQL server.

Measures, in a fresh database:
1. raw COPY of 1,000,000 reading rows into ``readings`` (the reference; text CSV and binary);
2. ``POST /v1/readings`` of the same rows as one CSV batch (to a real uvicorn server over HTTP),
   and the same batch again (idempotent merge path);
3. a year of 15-minute readings for 500 meters (17.5 M rows) through the API, in batches;
4. query times: daily resolution over one year for one meter; park total by enterprise for the
   year over the 500 meters.

Usage: DATABASE_URL=postgresql://… python benchmarks/ingest.py [--meters 500] [--out FILE]
(without DATABASE_URL the embedded server is used).
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import socket
import statistics
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv
import uvicorn
from sqlalchemy import text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app import migrate
from app.auth import create_api_key
from app.config import Settings
from app.db import make_engine, readings_on_timescale
from app.main import create_app
from app.models import Enterprise, Meter
from app.scratch_db import scratch_database

YEAR_START = pd.Timestamp("2025-01-01", tz="Asia/Shanghai")  # a past year: no future readings


def csv_body(codes: list[str], starts: pd.DatetimeIndex, rng: np.random.Generator) -> bytes:
    """CSV ``meter,ts,value`` for every meter x start (values with 3 decimals)."""
    n = len(starts)
    ts_text = pa.array(starts.strftime("%Y-%m-%dT%H:%M:%S+08:00"), type=pa.string())
    values = np.round(rng.gamma(2.0, 20.0, n * len(codes)), 3)
    table = pa.table({
        "meter": pa.array(np.repeat(np.array(codes, dtype=object), n), type=pa.string()),
        "ts": pa.chunked_array([ts_text] * len(codes)),
        "value": pa.array(values.astype(str), type=pa.string()),
    })
    buf = io.BytesIO()
    pcsv.write_csv(table, buf, pcsv.WriteOptions(quoting_style="none"))
    return buf.getvalue()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--meters", type=int, default=500)
    ap.add_argument("--batch-meters", type=int, default=50)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    scratch = ExitStack()
    url = scratch.enter_context(scratch_database(os.environ.get("DATABASE_URL"), "zcpark_bench"))
    engine = make_engine(url)
    out: list[str] = []

    def report(line: str) -> None:
        print(line, flush=True)
        out.append(line)

    try:
        migrate.upgrade(engine, use_timescale=os.environ.get("ZCPARK_TIMESCALE", "auto"))
        with engine.connect() as c:
            timescale = readings_on_timescale(c)
            pg_version = c.execute(text("SHOW server_version")).scalar()
        with Session(engine) as s:
            ent_ids = []
            for i in range(10):
                e = Enterprise(code=f"BENCH-{i:02d}", name=f"bench {i}", zone="A区")
                s.add(e)
                s.flush()
                ent_ids.append(e.id)
            codes = [f"BM-{i:04d}" for i in range(args.meters)]
            s.add_all([Meter(code=c, enterprise_id=ent_ids[i % 10], carrier="electricity_import",
                             unit="kWh", canonical_unit="kWh", register="interval",
                             interval_minutes=15) for i, c in enumerate(codes)])
            s.flush()
            meter_ids = dict(s.execute(text("SELECT code, id FROM meters")).all())
            key = create_api_key(s, "operator", label="bench")
            s.commit()

        settings = Settings(database_url=url, scheduler_enabled=False,
                            max_body_bytes=1 << 31, max_batch_rows=5_000_000)
        app = create_app(settings, engine=engine)
        port = free_port()
        uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        threading.Thread(target=uv.run, daemon=True).start()
        while not uv.started:
            time.sleep(0.05)
        http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600,
                            headers={"Authorization": f"Bearer {key}"})
        rng = np.random.default_rng(42)

        report(f"server: PostgreSQL {pg_version}, layout: "
               f"{'TimescaleDB hypertable' if timescale else 'native RANGE partitions'}; "
               f"python {platform.python_version()}, {os.cpu_count()} cores")

        # --- 1 M rows: 100 meters x 10,000 intervals (104 days) -------------------------------
        starts = pd.date_range(YEAR_START, periods=10_000, freq="15min")
        mcodes = codes[:100]
        body = csv_body(mcodes, starts, rng)
        frame = pd.read_csv(io.BytesIO(body), engine="pyarrow")
        n = len(frame)
        frame["meter_id"] = frame["meter"].map(meter_ids)
        frame["start_ts"] = pd.to_datetime(frame["ts"], utc=True)
        copy_csv = io.StringIO()
        frame.assign(original_unit="kWh", quality="ok", batch_id=0)[
            ["meter_id", "start_ts", "value", "original_unit", "quality", "batch_id"]
        ].to_csv(copy_csv, index=False, header=False)
        copy_text = copy_csv.getvalue().encode()
        from app.repositories.pgcopy import COLUMNS, encode_readings

        copy_bin = encode_readings(frame.assign(original_unit="kWh", quality="ok",
                                                register_value=np.nan), 0)
        with engine.begin() as c:
            c.execute(text("SELECT zcpark_ensure_reading_partitions(:a, :b)"),
                      {"a": starts[0], "b": starts[-1]})

        def raw_copy(payload: bytes, fmt: str, cols: str) -> float:
            with engine.connect() as c:
                c.execute(text("TRUNCATE readings"))
                c.commit()
                raw = c.connection.driver_connection
                t = time.perf_counter()
                with raw.cursor() as cur, cur.copy(
                        f"COPY readings ({cols}) FROM STDIN (FORMAT {fmt})") as cp:
                    for i in range(0, len(payload), 8 << 20):
                        cp.write(payload[i:i + (8 << 20)])
                raw.commit()
                dt = time.perf_counter() - t
                c.execute(text("TRUNCATE readings"))
                c.commit()
            return dt

        t_csv = raw_copy(copy_text, "csv",
                         "meter_id, start_ts, value, original_unit, quality, batch_id")
        t_bin = raw_copy(copy_bin, "binary", ", ".join(COLUMNS))
        t_raw = min(t_csv, t_bin)
        report(f"raw COPY, {n:,} rows, text CSV: {t_csv:.2f} s = {n / t_csv:,.0f} rows/s")
        report(f"raw COPY, {n:,} rows, binary:   {t_bin:.2f} s = {n / t_bin:,.0f} rows/s")

        t = time.perf_counter()
        r = http.post("/v1/readings", content=body, headers={"content-type": "text/csv"})
        t_api = time.perf_counter() - t
        assert r.status_code == 200, r.text[:500]
        assert r.json()["inserted"] == n, r.json()
        report(f"POST /v1/readings, {n:,} rows ({len(body) / 1e6:.0f} MB CSV), new data: "
               f"{t_api:.2f} s = {n / t_api:,.0f} rows/s; ratio to the faster raw COPY: "
               f"{t_raw / t_api:.2f}x (goal >= 0.5x)")
        refresher = app.state.ingest_context.refresher
        if refresher is not None:
            refresher.wait()
            t_ready = time.perf_counter() - t
            report(f"  continuous aggregates refreshed (background) {t_ready:.2f} s after the "
                   f"upload started; upload-to-aggregates-ready rate {n / t_ready:,.0f} rows/s "
                   f"= {t_raw / t_ready:.2f}x raw COPY")
        t = time.perf_counter()
        r = http.post("/v1/readings", content=body, headers={"content-type": "text/csv"})
        t_again = time.perf_counter() - t
        assert r.json()["unchanged"] == n, r.json()
        report(f"same batch again (merge path, all unchanged): {t_again:.2f} s = "
               f"{n / t_again:,.0f} rows/s")
        with engine.begin() as c:
            c.execute(text("TRUNCATE readings, meter_days, reading_revisions"))

        # --- a year for all meters ---------------------------------------------------------------
        year = pd.date_range(YEAR_START, YEAR_START + pd.DateOffset(years=1), freq="15min",
                             inclusive="left")
        total, t_gen, t_post = 0, 0.0, 0.0
        for i in range(0, args.meters, args.batch_meters):
            t = time.perf_counter()
            body = csv_body(codes[i:i + args.batch_meters], year, rng)
            t_gen += time.perf_counter() - t
            t = time.perf_counter()
            r = http.post("/v1/readings", content=body, headers={"content-type": "text/csv"})
            t_post += time.perf_counter() - t
            assert r.status_code == 200, r.text[:500]
            total += r.json()["inserted"]
        if app.state.ingest_context.refresher is not None:
            t = time.perf_counter()
            app.state.ingest_context.refresher.wait()
            t_post += time.perf_counter() - t
        report(f"one year x {args.meters} meters = {total:,} rows through the API in "
               f"{-(-args.meters // args.batch_meters)} batches: {t_post:.1f} s = "
               f"{total / t_post:,.0f} rows/s (CSV generation {t_gen:.1f} s, not counted)")

        # --- queries ---------------------------------------------------------------------------
        params = {"start": "2025-01-01T00:00:00+08:00", "end": "2026-01-01T00:00:00+08:00"}

        def timed(path: str, p: dict[str, str], reps: int) -> float:
            times = []
            for _ in range(reps):
                t = time.perf_counter()
                r = http.get(path, params=p)
                times.append(time.perf_counter() - t)
                assert r.status_code == 200, r.text[:300]
            return statistics.median(times)

        t_day = timed(f"/v1/meters/{codes[7]}/readings", {**params, "resolution": "day"}, 21)
        report(f"daily resolution, one meter, one year (365 points), via HTTP: median "
               f"{t_day * 1000:.1f} ms (goal < 50 ms)")
        t_park = timed("/v1/park/energy", {**params, "by": "enterprise"}, 7)
        report(f"park total by enterprise, one year, {args.meters} meters ({total:,} rows): "
               f"median {t_park * 1000:.0f} ms (goal < 1 s)")
        uv.should_exit = True
    finally:
        engine.dispose()
        scratch.close()
    if args.out:
        Path(args.out).write_text("\n".join(out) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
