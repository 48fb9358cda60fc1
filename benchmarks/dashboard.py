"""Dashboard first screen on the demo park: browser render time, and the overview API against
the same day's figures summed straight from raw readings, in one run.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres python benchmarks/dashboard.py
    python benchmarks/dashboard.py            # embedded PostgreSQL, plain partitions

A scratch database gets the demo park (as `zcpark serve --demo`), uvicorn serves it on
127.0.0.1, headless Debian Chromium (playwright, no browser download) logs in with the operator
key and reloads the overview N times: time from navigation start to the balance chart painted
(`document.body.dataset.renderedAt`). Reference: the day view's park totals per carrier computed
with one SQL over `readings` (what the page would cost without the rollups), timed against
`GET /v1/overview?period=day` which reads the hourly/daily aggregates. Goal: first screen < 1 s.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import threading
import time
from contextlib import ExitStack
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import text
from sqlalchemy.orm import Session

from app import migrate
from app.config import Settings
from app.db import make_engine, readings_on_timescale
from app.demo import load_demo_park
from app.main import create_app
from app.repositories.readings import refresh_aggregates
from app.scratch_db import scratch_database

CHROMIUM = os.environ.get("ZCPARK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
TZ = ZoneInfo("Asia/Shanghai")
DAY = "2026-06-15"
RAW_DAY_SQL = (
    "SELECT m.carrier, date_bin('1 hour', r.start_ts, TIMESTAMPTZ '2000-01-01 00:00+08') AS h,"
    " sum(r.value) FROM readings r JOIN meters m ON m.id = r.meter_id"
    " WHERE r.start_ts >= :a AND r.start_ts < :b GROUP BY 1, 2"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _median_ms(fn, n: int) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reloads", type=int, default=7)
    ap.add_argument("--api-calls", type=int, default=15)
    args = ap.parse_args()

    scratch = ExitStack()
    url = scratch.enter_context(scratch_database(os.environ.get("DATABASE_URL"), "zcpark_bench"))
    engine = make_engine(url)
    uv = thread = None
    try:
        migrate.upgrade(engine, use_timescale=os.environ.get("ZCPARK_TIMESCALE", "auto"))
        settings = Settings(database_url=url, scheduler_enabled=False, aggregate_refresh="sync")
        t0 = time.perf_counter()
        with Session(engine) as session:
            key = load_demo_park(session, engine=engine, settings=settings)
            session.commit()
        with engine.connect() as conn:
            timescale = readings_on_timescale(conn)
            n_readings = conn.execute(text("SELECT count(*) FROM readings")).scalar()
        if timescale:
            refresh_aggregates(engine, datetime(2026, 1, 1, tzinfo=TZ),
                               datetime(2027, 1, 1, tzinfo=TZ))
        load_s = time.perf_counter() - t0

        import uvicorn

        port = _free_port()
        uv = uvicorn.Server(uvicorn.Config(create_app(settings, engine=engine), host="127.0.0.1",
                                           port=port, log_level="warning"))
        thread = threading.Thread(target=uv.run, daemon=True)
        thread.start()
        while not uv.started:
            time.sleep(0.05)
        site = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {key}"}

        with httpx.Client(base_url=site, headers=headers, timeout=60) as client:
            client.get("/v1/overview", params={"period": "day", "date": DAY}).raise_for_status()
            api_ms = _median_ms(lambda: client.get(
                "/v1/overview", params={"period": "day", "date": DAY}).raise_for_status(),
                args.api_calls)
        a = datetime.fromisoformat(f"{DAY}T00:00:00+08:00")
        b = datetime.fromisoformat("2026-06-16T00:00:00+08:00")
        with engine.connect() as conn:
            conn.execute(text(RAW_DAY_SQL), {"a": a, "b": b}).all()
            raw_ms = _median_ms(lambda: conn.execute(text(RAW_DAY_SQL), {"a": a, "b": b}).all(),
                                args.api_calls)
        # the year view is where the aggregates matter most
        ya, yb = datetime(2026, 1, 1, tzinfo=TZ), datetime(2027, 1, 1, tzinfo=TZ)
        raw_year_sql = RAW_DAY_SQL.replace("'1 hour'", "'1 day'")
        with engine.connect() as conn:
            raw_year_ms = _median_ms(lambda: conn.execute(
                text(raw_year_sql), {"a": ya, "b": yb}).all(), 3)
        with httpx.Client(base_url=site, headers=headers, timeout=60) as client:
            api_year_ms = _median_ms(lambda: client.get(
                "/v1/overview", params={"period": "year", "date": DAY}).raise_for_status(), 5)

        from playwright.sync_api import sync_playwright

        rendered: list[float] = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(site + "/")
            page.wait_for_selector("#login-key")
            page.fill("#login-key", key)
            page.click("#login-submit")
            page.wait_for_selector("body[data-rendered=overview]")
            for _ in range(args.reloads):
                page.reload()
                page.wait_for_selector("body[data-rendered=overview]")
                rendered.append(page.evaluate("() => Number(document.body.dataset.renderedAt)"))
            browser.close()

        with engine.connect() as conn:
            server_version = conn.execute(text("SHOW server_version")).scalar()
        layout = "TimescaleDB hypertable + continuous aggregates" if timescale else \
            "native partitions + meter-day rollup"
        print(f"server: PostgreSQL {server_version}, layout: {layout}; {n_readings:,} readings; "
              f"demo load {load_s:.1f} s")
        print(f"first screen (navigation start -> balance chart painted), {args.reloads} reloads: "
              f"median {statistics.median(rendered):.0f} ms, max {max(rendered):.0f} ms "
              "(goal < 1,000 ms)")
        print(f"GET /v1/overview?period=day over HTTP: median {api_ms:.1f} ms; the day's park "
              f"totals per carrier and hour from raw readings (one SQL, no HTTP): {raw_ms:.1f} ms")
        print(f"GET /v1/overview?period=year over HTTP: median {api_year_ms:.1f} ms; the year's "
              f"totals per carrier and day from raw readings: {raw_year_ms:.1f} ms; ratio "
              f"raw/overview {raw_year_ms / api_year_ms:.1f}x")
    finally:
        if uv is not None and thread is not None:
            uv.should_exit = True
            thread.join(timeout=10)
        engine.dispose()
        scratch.close()


if __name__ == "__main__":
    main()
