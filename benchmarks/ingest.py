"""Ingest benchmark: ``POST /v1/readings`` to a separately running ``zcpark serve`` against raw
binary COPY of the same rows into the same table, with the server's memory beside the time.

Set-up (not timed): a fresh database on ``DATABASE_URL``'s server (layout from
``ZCPARK_TIMESCALE``), 200 meters, the monthly partitions, the batch written to a CSV file and
the same rows to a binary COPY file; ``zcpark serve --workers 1`` started as its own process
and warmed with one small upload. Then ``--runs`` pairs, alternating which side goes first, each
side in a fresh process (benchmarks/harness.py): the HTTP client posting the CSV file (every row
new), and psycopg's binary COPY of the same rows; ``readings`` is emptied before each side.
While the upload runs the server's resident memory is sampled every 10 ms: peak above its idle
size before the upload, and what is left above idle 3 s after the answer.

``--year``: afterwards, a year of 15-minute readings of 500 meters (17.5 M rows) is posted in 10
batches of 50 meters by one client process; the time counts until the continuous aggregates are
materialised on TimescaleDB.

Usage: DATABASE_URL=postgresql://… ZCPARK_TIMESCALE=on|off python benchmarks/ingest.py
[--rows 2000000] [--runs 5] [--year] [--out FILE]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app import migrate
from app.auth import create_api_key
from app.db import make_engine, readings_on_timescale
from app.models import Enterprise, Meter
from app.repositories.pgcopy import encode_readings
from app.scratch_db import scratch_database
from benchmarks.harness import Stats, machine_line, run_once
from tests.live_server import free_port

YEAR_START = pd.Timestamp("2025-01-01", tz="Asia/Shanghai")  # a past year: no future readings
INTERVALS = 10_000  # per meter in the timed batch: 104 days of 15-minute readings


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


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class PeakSampler:
    """The highest resident memory of ``pid`` while running, sampled every 10 ms."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mib(self.pid))
            time.sleep(0.01)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def wait_for_refreshes(engine: Engine) -> None:
    """Until no continuous-aggregate refresh runs (the server refreshes after answering)."""
    while True:
        with engine.connect() as c:
            busy = c.execute(text("SELECT count(*) FROM pg_stat_activity WHERE query LIKE"
                                  " 'CALL refresh_continuous_aggregate%' AND state = 'active'"
                                  " AND pid <> pg_backend_pid()"
                                  " AND datname = current_database()")).scalar_one()
        if not busy:
            return
        time.sleep(0.2)


def empty(engine: Engine) -> None:
    wait_for_refreshes(engine)
    with engine.begin() as c:
        c.execute(text("TRUNCATE readings, meter_days, reading_revisions"))


def start_server(url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": url, "ZCPARK_SCHEDULER_ENABLED": "false",
           "ZCPARK_MAX_BODY_BYTES": str(1 << 31), "ZCPARK_MAX_BATCH_ROWS": "5000000"}
    zcpark = Path(sys.executable).parent / "zcpark"
    proc = subprocess.Popen([str(zcpark), "serve", "--workers", "1", "--port", str(port)],
                            env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"zcpark serve did not start: {log.read_text()[-2000:]}")
        time.sleep(0.3)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--year", action="store_true")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    meters_n = args.rows // INTERVALS

    stack = ExitStack()
    url = stack.enter_context(scratch_database(os.environ.get("DATABASE_URL"), "zcpark_bench"))
    tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="zcpark-ingest-")))
    engine = make_engine(url)
    out: list[str] = []

    def report(line: str) -> None:
        print(line, flush=True)
        out.append(line)

    proc = None
    try:
        migrate.upgrade(engine, use_timescale=os.environ.get("ZCPARK_TIMESCALE", "auto"))
        with engine.connect() as c:
            timescale = readings_on_timescale(c)
            pg_version = c.execute(text("SHOW server_version")).scalar()
        year_meters = 500 if args.year else 0
        with Session(engine) as s:
            ents = [Enterprise(code=f"BENCH-{i:02d}", name=f"bench {i}", zone="A区")
                    for i in range(10)]
            s.add_all(ents)
            s.flush()
            codes = [f"BM-{i:04d}" for i in range(max(meters_n, year_meters))]
            s.add_all([Meter(code=c, enterprise_id=ents[i % 10].id, carrier="electricity_import",
                             unit="kWh", canonical_unit="kWh", register="interval",
                             interval_minutes=15) for i, c in enumerate(codes)])
            s.flush()
            meter_ids = dict(s.execute(text("SELECT code, id FROM meters")).all())
            key = create_api_key(s, "operator", label="bench")
            s.commit()

        rng = np.random.default_rng(42)
        starts = pd.date_range(YEAR_START, periods=INTERVALS, freq="15min")
        body = csv_body(codes[:meters_n], starts, rng)
        csv_path = tmp / "batch.csv"
        csv_path.write_bytes(body)
        frame = pd.read_csv(io.BytesIO(body), engine="pyarrow")
        n = len(frame)
        frame = pd.DataFrame({"meter_id": frame["meter"].map(meter_ids).astype("int32"),
                              "start_ts": pd.to_datetime(frame["ts"], utc=True),
                              "value": frame["value"], "original_unit": "kWh", "quality": "ok",
                              "register_value": np.nan})
        copy_path = tmp / "batch.copy"
        copy_path.write_bytes(encode_readings(frame, 0))
        del frame
        with engine.begin() as c:
            c.execute(text("SELECT zcpark_ensure_reading_partitions(:a, :b)"),
                      {"a": YEAR_START, "b": YEAR_START + pd.DateOffset(years=1)})

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        proc = start_server(url, port, tmp / "serve.log")
        warm = csv_body(codes[:2], starts[:96], rng)
        r = httpx.post(base + "/v1/readings", content=warm, timeout=120,
                       headers={"Authorization": f"Bearer {key}", "content-type": "text/csv"})
        assert r.status_code == 200, r.text
        report(f"server: PostgreSQL {pg_version}, layout: "
               f"{'TimescaleDB hypertable' if timescale else 'native RANGE partitions'}; "
               f"{machine_line()}")
        report(f"batch: {n:,} rows ({meters_n} meters x {INTERVALS:,} intervals), "
               f"{len(body) / 1e6:.0f} MB CSV, {copy_path.stat().st_size / 1e6:.0f} MB binary COPY")
        del body

        api_s, copy_s, ratios, peaks, afters, idles = [], [], [], [], [], []
        load0 = os.getloadavg()[0]
        for i in range(args.runs):
            order = ("api", "copy") if i % 2 == 0 else ("copy", "api")
            for side in order:
                empty(engine)
                if side == "copy":
                    res = run_once("benchmarks.ingest_sides:raw_copy",
                                   {"dsn": url.replace("postgresql+psycopg://", "postgresql://"),
                                    "path": str(copy_path)}, warmup=False)
                    copy_s.append(res["seconds"])
                    continue
                time.sleep(1.0)
                idle = rss_mib(proc.pid)
                with PeakSampler(proc.pid) as sampler:
                    res = run_once("benchmarks.ingest_sides:post_csv",
                                   {"base_url": base, "key": key, "path": str(csv_path),
                                    "rows": n}, warmup=False)
                time.sleep(3.0)
                api_s.append(res["seconds"])
                idles.append(idle)
                peaks.append(sampler.peak - idle)
                afters.append(rss_mib(proc.pid) - idle)
            ratios.append(copy_s[-1] / api_s[-1])
            report(f"  pair {i + 1}/{args.runs}: API {api_s[-1]:.2f} s, raw COPY "
                   f"{copy_s[-1]:.2f} s, ratio {ratios[-1]:.2f}x; server idle {idle:.0f} MiB, "
                   f"peak +{peaks[-1]:.0f} MiB, after +{afters[-1]:.0f} MiB")
        load1 = os.getloadavg()[0]
        a, c_, q = Stats(api_s), Stats(copy_s), Stats(ratios)
        report(f"POST /v1/readings, {n:,} rows: {a.fmt()} = {n / a.median:,.0f} rows/s")
        report(f"raw binary COPY, same rows:     {c_.fmt()} = {n / c_.median:,.0f} rows/s")
        report(f"API / raw COPY throughput: {q.median:.2f}x ({min(ratios):.2f}-{max(ratios):.2f})"
               f" (goal >= 0.8x)")
        report(f"server memory: idle {statistics.median(idles):.0f} MiB; peak above idle "
               f"{Stats(peaks).fmt('MiB', 0)} (goal <= 256 MiB); 3 s after the answer "
               f"{Stats(afters).fmt('MiB', 0)} above idle (goal <= 50 MiB)")
        report(f"load average (1 min) {load0:.1f} -> {load1:.1f}")

        if args.year:
            empty(engine)
            year = pd.date_range(YEAR_START, YEAR_START + pd.DateOffset(years=1), freq="15min",
                                 inclusive="left")
            total, t_post = 0, 0.0
            for i in range(0, 500, 50):
                path = tmp / "year.csv"
                path.write_bytes(csv_body(codes[i:i + 50], year, rng))
                res = run_once("benchmarks.ingest_sides:post_csv",
                               {"base_url": base, "key": key, "path": str(path),
                                "rows": 50 * len(year)}, warmup=False)
                t_post += res["seconds"]
                total += res["result"]["inserted"]
            t = time.perf_counter()
            wait_for_refreshes(engine)
            t_ready = t_post + time.perf_counter() - t
            report(f"a year x 500 meters = {total:,} rows in 10 batches of 50 meters: uploads "
                   f"{t_post:.1f} s = {total / t_post:,.0f} rows/s; with the continuous "
                   f"aggregates materialised {t_ready:.1f} s (load average "
                   f"{os.getloadavg()[0]:.1f})")
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)
        engine.dispose()
        stack.close()
    if args.out:
        Path(args.out).write_text("\n".join(out) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
