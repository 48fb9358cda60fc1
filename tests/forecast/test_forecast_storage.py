"""Storage plans and the rolling horizon read the load forecast of GET /v1/forecasts and name it
in their provenance."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from app.scheduler import storage_plan_job
from tests.conftest import auth
from tests.forecast.series import load_series
from tests.forecast.test_forecast_api import _csv, _upload
from tests.storage_api.helpers import register

FIRST, DAYS = "2025-08-25", 49  # to 2025-10-12
DAY = "2025-10-13"


@pytest.fixture(scope="module")
def station(client, operator_key, make_enterprise, make_meter) -> dict[str, Any]:
    ent = make_enterprise(zone="B区")["code"]
    meter = make_meter(ent, unit="kWh")["code"]
    _upload(client, operator_key, _csv(meter, load_series(FIRST, DAYS, seed=21, base_kwh=4000)))
    return {**register(client, operator_key, enterprise=ent), "enterprise": ent}


def test_a_dispatch_on_the_forecast_plans_on_the_forecasts_points(client, operator_key,
                                                                   station):
    start = f"{DAY}T00:00:00+08:00"
    r = client.post(f"/v1/storage/{station['code']}/dispatch", headers=auth(operator_key),
                    json={"start": start, "step_minutes": 15, "horizon_hours": 24,
                          "forecast": "forecast"})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["inputs"]["forecast"] == "forecast"
    assert out["inputs"]["load_forecast"]["method"].startswith("lightgbm")
    assert out["inputs"]["origin"].startswith(start[:19])
    fc = client.get("/v1/forecasts", headers=auth(operator_key), params={
        "target": "enterprise", "code": station["enterprise"], "start": start}).json()
    assert fc["method"] == out["inputs"]["load_forecast"]["method"]
    # kWh per 15 minutes -> MW: x 4 / 1000
    planned = [row["load_mw"] for row in out["schedule"]]
    assert planned == pytest.approx([p["p50"] * 4 / 1000 for p in fc["points"]], rel=1e-6)


def test_the_plan_job_publishes_on_the_forecast_and_names_it(client, operator_key, station,
                                                            engine, settings):
    now = datetime.fromisoformat("2025-10-12T17:00:00+08:00")
    published = storage_plan_job(engine, settings, now=now)
    assert published[station["code"]].isdigit(), published[station["code"]]
    plan = client.get(f"/v1/storage/{station['code']}/plan", params={"day": DAY},
                      headers=auth(operator_key)).json()
    inputs = plan["inputs"]
    assert inputs["forecast"] == "forecast" and inputs["scope"] == "enterprise"
    assert inputs["load_forecast"]["method"].startswith("lightgbm")
    assert inputs["origin"].startswith("2025-10-12T17:00:00+08:00")
    assert inputs["read_from"].startswith(FIRST) and inputs["read_to"] == inputs["origin"]
    # a Monday after the holiday week: the day shift is planned for (the week before had none)
    load = [row["load_mw"] for row in plan["schedule"]]
    assert load[48] > 2 * load[8]
    # a second run publishes nothing new
    assert storage_plan_job(engine, settings, now=now)[station["code"]] == "published already"
