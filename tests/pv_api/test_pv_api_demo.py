"""The demo PV loader (in its own database): arrays in every zone, the soiled one raises alerts."""

from __future__ import annotations

from contextlib import ExitStack

import numpy as np
import pandas as pd
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app import migrate
from app.auth import Principal, create_api_key
from app.config import Settings
from app.db import make_engine
from app.demo import SEED, DemoContext, load_enterprises_and_meters
from app.demo.pv import ARRAYS, SOILED, load_pv_park
from app.main import create_app
from app.models import ApiKey
from app.scratch_db import scratch_database
from tests.conftest import auth


def test_demo_park_pv(database_url):
    scratch = ExitStack()
    url = scratch.enter_context(scratch_database(database_url, "zcpark_demo"))
    engine = make_engine(url)
    try:
        # plain tables: a year of continuous-aggregate refreshes is not what this test is about
        migrate.upgrade(engine, use_timescale="off")
        settings = Settings(database_url=url, scheduler_enabled=False, aggregate_refresh="sync")
        with Session(engine) as session:
            # the PV loader on the demo enterprises (their consumption readings are not needed)
            key = create_api_key(session, "operator", label="demo")
            session.commit()
            key_id = session.query(ApiKey.id).filter_by(label="demo").scalar()
            ctx = DemoContext(session=session, engine=engine, settings=settings,
                              principal=Principal(key_id=key_id, role="operator"),
                              rng=np.random.default_rng(SEED),
                              end=pd.Timestamp("2027-01-01", tz="Asia/Shanghai"))
            load_enterprises_and_meters(ctx)
            load_pv_park(ctx)
        with TestClient(create_app(settings, engine=engine)) as client:
            arrays = client.get("/v1/pv/arrays", headers=auth(key)).json()
            assert {a["code"] for a in arrays} == {a[0] for a in ARRAYS}
            assert {a["zone"] for a in arrays} == {"A区", "B区", "综合保税区", "聂当工业园"}
            alerts = [a for a in client.get("/v1/alerts", headers=auth(key)).json()
                      if a["kind"] == "pv_underperformance"]
            soiled_meter = next(a["meter"] for a in arrays if a["code"] == SOILED)
            assert alerts and {a["meter"] for a in alerts} == {soiled_meter}
            # a healthy array performs at 94-98 % of expected, day after day
            healthy = next(a["code"] for a in arrays if a["code"] != SOILED)
            days = client.get(f"/v1/pv/arrays/{healthy}/performance", headers=auth(key), params={
                "start": "2026-06-01T00:00:00+08:00", "end": "2026-06-08T00:00:00+08:00"}).json()
            prs = pd.Series([d["pr"] for d in days["days"] if d["expected_kwh"] > 0])
            assert len(prs) == 7 and prs.between(0.9, 1.0).all()
            zones = client.get("/v1/pv/estimate", headers=auth(key), params={
                "start": "2026-01-01T00:00:00+08:00", "end": "2027-01-01T00:00:00+08:00",
                "resolution": "month", "weather": "measured"}).json()["zones"]
            assert len(zones) == 4 and all(len(z["points"]) == 12 for z in zones)
    finally:
        engine.dispose()
        scratch.close()
