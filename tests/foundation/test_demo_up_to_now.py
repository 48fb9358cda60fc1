"""The demo park's data end at the moment it is loaded (history before it), and the demo job adds
each ended quarter-hour afterwards, idempotently and with the values a load would have sent."""

from __future__ import annotations

import os
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta

import pandas as pd
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from app import migrate
from app.config import Settings
from app.db import make_engine
from app.demo import add_demo_readings, load_demo_park
from app.main import create_app
from app.models.readings import IngestBatch
from app.scheduler import SchedulerLeader
from app.scratch_db import scratch_database
from tests.conftest import auth

METER = "XZ-DATA-electricity_import"
PV_METER = "PV-QZ-WATER-1-gen"


def _quarter(t: datetime) -> pd.Timestamp:
    return pd.Timestamp(t).tz_convert("Asia/Shanghai").floor("15min")


def _last_point(client: TestClient, key: str, meter: str, start: pd.Timestamp,
                end: pd.Timestamp) -> pd.Timestamp:
    r = client.get(f"/v1/meters/{meter}/readings", headers=auth(key), params={
        "start": start.isoformat(), "end": end.isoformat(), "resolution": "raw"})
    assert r.status_code == 200, r.text
    return pd.Timestamp(r.json()["points"][-1]["start"])


def test_demo_ends_now_and_keeps_ticking(database_url):
    with ExitStack() as stack:
        url = stack.enter_context(scratch_database(database_url, "zcpark_demo_now"))
        engine = make_engine(url)
        stack.callback(engine.dispose)
        migrate.upgrade(engine, use_timescale=os.environ.get("ZCPARK_TIMESCALE", "auto"))
        settings = Settings(database_url=url, scheduler_enabled=False, aggregate_refresh="sync")
        before = datetime.now(UTC)
        with Session(engine) as session:
            key = load_demo_park(session, engine=engine, settings=settings)
            session.commit()
        after = datetime.now(UTC)
        # a window beyond the present, short enough for one raw answer (it is capped in points)
        far = _quarter(after) + timedelta(days=7)
        with TestClient(create_app(settings, engine=engine)) as client:
            for meter in (METER, PV_METER):
                last = _last_point(client, key, meter, _quarter(before) - timedelta(days=2), far)
                # the last reading is the quarter-hour that ended when the demo was loaded
                assert _quarter(before) - timedelta(minutes=15) <= last \
                    <= _quarter(after) - timedelta(minutes=15), (meter, last)
            # history from 1 January on
            first = client.get(f"/v1/meters/{METER}/readings", headers=auth(key), params={
                "start": "2025-12-31T00:00:00+08:00", "end": "2026-01-02T00:00:00+08:00",
                "resolution": "raw"}).json()["points"][0]["start"]
            assert pd.Timestamp(first) == pd.Timestamp("2026-01-01T00:00:00+08:00")
            alerts = client.get("/v1/alerts", headers=auth(key)).json()
            assert alerts
            # alerts on readings stop at the present; an instruction for the demo's upcoming
            # demand-response event is about that event's (future) window by design
            data_alerts = [a for a in alerts if a["kind"] != "dr_instruction"]
            assert all(pd.Timestamp(a["period_start"]) < pd.Timestamp(after)
                       for a in data_alerts), [
                a for a in data_alerts if pd.Timestamp(a["period_start"]) >= pd.Timestamp(after)]
            instructions = [a for a in alerts if a["kind"] == "dr_instruction"]
            assert instructions and any(pd.Timestamp(a["period_start"]) > pd.Timestamp(after)
                                        for a in instructions)

            # the service runs on: the demo job adds the quarter-hours that have ended
            later = after + timedelta(minutes=50)
            assert add_demo_readings(engine, settings, now=later) > 0
            for meter in (METER, PV_METER):
                last = _last_point(client, key, meter, _quarter(before) - timedelta(days=1), far)
                assert last == _quarter(later) - timedelta(minutes=15), (meter, last)
            with engine.connect() as conn:
                batches = conn.execute(select(func.count()).select_from(IngestBatch)).scalar()
                readings = conn.execute(text("SELECT count(*) FROM readings")).scalar()
                # the job sent the values a load would have sent: nothing was revised
                assert conn.execute(text("SELECT count(*) FROM reading_revisions")).scalar() == 0
            # a second run (or a second process) finds nothing missing
            assert add_demo_readings(engine, settings, now=later) == 0
            with engine.connect() as conn:
                assert conn.execute(select(func.count()).select_from(IngestBatch)).scalar() \
                    == batches
                assert conn.execute(text("SELECT count(*) FROM readings")).scalar() == readings

        # serve --demo runs that job every 15 minutes
        leader = SchedulerLeader(engine, settings.model_copy(update={"demo_readings": True}))
        try:
            assert leader._try_lead()
            assert leader.scheduler is not None
            job = leader.scheduler.get_job("demo_readings")
            assert job is not None and "0,15,30,45" in str(job.trigger)
        finally:
            leader.shutdown()
