"""Browser-test fixtures: the demo park in its own database behind a real uvicorn on 127.0.0.1,
and headless Debian chromium driven by playwright (no browser download, ever)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

CHROMIUM = os.environ.get("ZCPARK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


@dataclass
class DemoServer:
    base_url: str
    operator_key: str
    enterprise_key: str
    enterprise: str
    engine: Engine
    alert_id: int

    def get(self, path: str, key: str | None = None, **params: Any) -> Any:
        import httpx

        r = httpx.get(self.base_url + path, params=params,
                      headers={"Authorization": f"Bearer {key or self.operator_key}"}, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _open_demo_alert(base_url: str, key: str) -> int:
    """A realistic open alert: a new steam meter of GY-BEER skipped one quarter-hour."""
    import httpx

    h = {"Authorization": f"Bearer {key}"}
    r = httpx.post(base_url + "/v1/meters", headers=h, timeout=30, json={
        "code": "GY-BEER-steam-2", "enterprise": "GY-BEER", "carrier": "steam",
        "name": "高原啤酒 二号蒸汽表"})
    assert r.status_code == 201, r.text
    rows = "meter,ts,value\n" + "".join(f"GY-BEER-steam-2,2026-11-20T08:{m:02d}:00+08:00,0.4\n"
                                        for m in (0, 30, 45))
    r = httpx.post(base_url + "/v1/readings", headers={**h, "content-type": "text/csv"},
                   content=rows.encode(), timeout=30)
    assert r.status_code == 200, r.text
    r = httpx.post(base_url + "/v1/alerts/check", headers=h, timeout=30, params={
        "start": "2026-11-20T08:00:00+08:00", "end": "2026-11-20T09:00:00+08:00"})
    assert r.status_code == 200 and r.json()["opened"] == 1, r.text
    alerts = httpx.get(base_url + "/v1/alerts", headers=h, timeout=30,
                       params={"meter": "GY-BEER-steam-2"}).json()
    return int(alerts[0]["id"])


def _settle_aggregates(engine: Engine) -> None:
    """TimescaleDB: one refresh of the continuous aggregates over the demo year after every
    loader's batch, so the figures the page and the API read are final, not mid-refresh. (The
    loaders' background refreshes may still run: retry while TimescaleDB says one is.)"""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from sqlalchemy.exc import DBAPIError

    from app.db import readings_on_timescale
    from app.repositories.readings import refresh_aggregates

    with engine.connect() as conn:
        if not readings_on_timescale(conn):
            return
    tz = ZoneInfo("Asia/Shanghai")
    deadline = time.monotonic() + 180
    while True:
        try:
            refresh_aggregates(engine, datetime(2026, 1, 1, tzinfo=tz),
                               datetime(2027, 1, 1, tzinfo=tz))
            return
        except DBAPIError as exc:
            if "already in progress" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@pytest.fixture(scope="session")
def demo_server(database_url: str) -> Iterator[DemoServer]:
    """The demo park (loaded once, ~20 s) in a database of its own, so other tests' data never
    mix with its figures, served by uvicorn in a thread."""
    import uvicorn

    from app import migrate
    from app.auth import create_api_key
    from app.config import Settings
    from app.db import make_engine
    from app.demo import load_demo_park
    from app.main import create_app
    from app.models import Enterprise
    from app.scratch_db import scratch_database

    scratch = ExitStack()
    url = scratch.enter_context(scratch_database(database_url, "zcpark_dash"))
    engine = make_engine(url)
    server: uvicorn.Server | None = None
    thread: threading.Thread | None = None
    try:
        migrate.upgrade(engine, use_timescale=os.environ.get("ZCPARK_TIMESCALE", "auto"))
        settings = Settings(database_url=url, scheduler_enabled=False)
        with Session(engine) as session:
            operator_key = load_demo_park(session, engine=engine, settings=settings)
            ent_id = session.query(Enterprise.id).filter_by(code="BS-ELEC").scalar()
            enterprise_key = create_api_key(session, "enterprise", ent_id, label="browser")
            session.commit()
        _settle_aggregates(engine)
        if importlib.util.find_spec("app.services.scenarios") is not None:
            # Issue 5 is live: run one of the demo's queued scenarios here (the scheduler is
            # off in tests) so the scenarios view has a finished run to show.
            from app.services.scenarios import process_queue

            process_queue(engine, settings.model_copy(update={"scenario_executor": "inline"}),
                          max_runs=1)
        port = _free_port()
        server = uvicorn.Server(uvicorn.Config(create_app(settings, engine=engine),
                                               host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        base_url = f"http://127.0.0.1:{port}"
        alert_id = _open_demo_alert(base_url, operator_key)
        yield DemoServer(base_url, operator_key, enterprise_key, "BS-ELEC", engine, alert_id)
    finally:
        if server is not None and thread is not None:
            server.should_exit = True
            thread.join(timeout=10)
        engine.dispose()
        scratch.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        pytest.skip(f"no chromium at {CHROMIUM} (apt-get install chromium fonts-noto-cjk)")
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="playwright is not installed (pip install '.[test]')")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, demo_server: DemoServer) -> Iterator[Any]:
    """A fresh tab (its own sessionStorage) on a 1600×1000 screen; fails on any page error."""
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, locale="zh-CN",
                                  timezone_id="Europe/London")
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda e: errors.append(str(e)))
    # Console errors (a CSP violation, a script error) fail the test; HTTP statuses of fetches
    # are asserted by the tests themselves (an enterprise key is meant to get a 404).
    tab.on("console", lambda m: errors.append(m.text)
           if m.type == "error" and "Failed to load resource" not in m.text else None)
    yield tab
    context.close()
    assert not errors, f"errors in the page: {errors}"


def screenshot(tab: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    tab.screenshot(path=str(path), full_page=True)
    return path
