"""Stored inputs, the daily plan job, the current plan and outage resilience from it."""

from datetime import datetime

import pytest

from app.scheduler import storage_plan_job
from tests.conftest import auth
from tests.storage_api.helpers import register

DAY_READ = "2025-05-04"  # a week before the planned day: the only history the forecast has
IMPORT_KWH = 5000.0  # per 15 min = 20 MW
PV_KWH = 1000.0  # per 15 min between 10:00 and 16:00 = 4 MW


def _upload_day(client, key, imp, pv, day=DAY_READ):
    lines = ["meter,ts,value"]
    for q in range(96):
        ts = f"{day}T{q // 4:02d}:{q % 4 * 15:02d}:00+08:00"
        lines.append(f"{imp},{ts},{IMPORT_KWH}")
        lines.append(f"{pv},{ts},{PV_KWH if 40 <= q < 64 else 0.0}")
    r = client.post("/v1/readings", content="\n".join(lines) + "\n",
                    headers={**auth(key), "content-type": "text/csv"})
    assert r.status_code == 200, r.text


@pytest.fixture(scope="module")
def station(client, operator_key, make_enterprise, make_meter):
    ent = make_enterprise(zone="B区")["code"]
    imp = make_meter(ent, "electricity_import", unit="kWh")["code"]
    pv = make_meter(ent, "pv_generation", unit="kWh")["code"]
    _upload_day(client, operator_key, imp, pv)
    return {**register(client, operator_key, enterprise=ent), "test_meters": (imp, pv)}


def test_stored_past_horizon_uses_the_meters_as_actuals(client, operator_key, station):
    r = client.post(f"/v1/storage/{station['code']}/dispatch", headers=auth(operator_key), json={
        "start": f"{DAY_READ}T00:00:00+08:00", "step_minutes": 60, "horizon_hours": 24})
    assert r.status_code == 200, r.text
    out = r.json()
    rows = out["schedule"]
    # load = import + PV generation: 4 x 5000 kWh/h = 20 MW at night; 20 + 4 = 24 MW at noon
    assert rows[3]["load_mw"] == pytest.approx(20.0) and rows[3]["pv_mw"] == 0.0
    assert rows[12]["load_mw"] == pytest.approx(24.0) and rows[12]["pv_mw"] == pytest.approx(4.0)
    assert out["inputs"]["forecast"] == "actual" and out["inputs"]["scope"] == "enterprise"
    # energy balance at every step: load + charge + export = pv + discharge + import
    for row in rows:
        assert row["load_mw"] + row["charge_mw"] + row["grid_export_mw"] + row[
            "pv_curtailed_mw"] == pytest.approx(row["pv_mw"] + row["discharge_mw"]
                                                + row["grid_import_mw"], abs=1e-6)


def test_stored_horizon_without_readings_names_the_load(client, operator_key, station):
    r = client.post(f"/v1/storage/{station['code']}/dispatch", headers=auth(operator_key), json={
        "start": "2025-06-04T00:00:00+08:00", "step_minutes": 60, "horizon_hours": 24})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "load_mw"


def test_plan_job_publishes_tomorrow_and_get_returns_it(client, operator_key, station, engine,
                                                        settings):
    code = station["code"]
    assert client.get(f"/v1/storage/{code}/plan", params={"day": "2025-05-11"},
                      headers=auth(operator_key)).status_code == 404
    now = datetime.fromisoformat("2025-05-10T17:00:00+08:00")
    published = storage_plan_job(engine, settings, now=now)
    assert published[code].isdigit(), published[code]
    r = client.get(f"/v1/storage/{code}/plan", params={"day": "2025-05-11"},
                   headers=auth(operator_key))
    assert r.status_code == 200, r.text
    plan = r.json()
    assert plan["published_by"] == "scheduler" and plan["day"] == "2025-05-11"
    # one day of history: too short for the model, the forecast falls back to the week-ago
    # day and the plan's provenance says so
    assert plan["inputs"]["forecast"] == "forecast"
    assert plan["inputs"]["load_forecast"]["method"] == "seasonal naive (one week)"
    assert "fewer than 21 days" in plan["inputs"]["load_forecast"]["notes"][0]
    assert plan["inputs"]["origin"].startswith("2025-05-10T17:00:00+08:00")
    assert plan["inputs"]["read_from"].startswith("2025-05-04T00:00:00+08:00")
    assert len(plan["schedule"]) == 96 and plan["step_minutes"] == 15
    assert plan["schedule"][0]["start"].startswith("2025-05-11T00:00:00+08:00")
    assert plan["schedule"][44]["load_mw"] == pytest.approx(24.0)  # 11:00 = last week's 11:00
    assert plan["kpis"]["final_soc_shortfall_mwh"] == 0.0
    # CO2 of the plan = grid import x the factor set's grid factor named in the provenance
    factor = plan["inputs"]["grid_factor"]
    assert factor["unit"] == "tCO2/MWh"
    import_mwh = sum(row["grid_import_mw"] * 0.25 for row in plan["schedule"])
    assert plan["kpis"]["co2_t"] == pytest.approx(import_mwh * factor["value"])
    # an operator re-publishes: the newer plan is the current one
    again = client.post(f"/v1/storage/{code}/plan", params={"day": "2025-05-11",
                                                           "strategy": "rule",
                                                           "forecast": "seasonal_naive"},
                        headers=auth(operator_key))
    assert again.status_code == 201, again.text
    cur = client.get(f"/v1/storage/{code}/plan", params={"day": "2025-05-11"},
                     headers=auth(operator_key)).json()
    assert cur["id"] == again.json()["id"] and cur["strategy"] == "rule"
    assert cur["published_by"].startswith("key ")


def test_resilience_counts_hours_from_the_planned_soc(client, operator_key, station, engine,
                                                      settings):
    code = station["code"]
    storage_plan_job(engine, settings, now=datetime.fromisoformat("2025-05-10T17:00:00+08:00"))
    r = client.get(f"/v1/storage/{code}/resilience", headers=auth(operator_key), params={
        "start": "2025-05-11T00:00:00+08:00", "critical_load_mw": 10})
    assert r.status_code == 200, r.text
    res = r.json()
    # Planned SOC at 00:00 is the initial 50 % of 252 MWh = 126 MWh; usable down to 15 % (37.8):
    # (126 - 37.8) x 0.9479 / 10 MW = 8.36 h, before the PV of 10:00 (self-discharge ~0.1 %/day
    # changes the third decimal only).
    assert res["soc_start_mwh"] == pytest.approx(126.0)
    assert res["hours"] == pytest.approx((126 - 37.8) * 0.9479 / 10, rel=1e-3)
    # more than the discharge power: not carried at all
    r = client.get(f"/v1/storage/{code}/resilience", headers=auth(operator_key), params={
        "start": "2025-05-11T00:00:00+08:00", "critical_load_mw": 70})
    assert r.json()["hours"] == 0.0
    r = client.get(f"/v1/storage/{code}/resilience", headers=auth(operator_key), params={
        "start": "2025-05-11T00:05:00+08:00", "critical_load_mw": 10})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "start"


def test_only_operators_publish_plans(client, make_key, station):
    r = client.post(f"/v1/storage/{station['code']}/plan", params={"day": "2025-05-11"},
                    headers=auth(make_key("planner")))
    assert r.status_code == 403


def test_pv_from_the_model_needs_a_capacity_and_is_zero_at_night(client, operator_key, station):
    url = f"/v1/storage/{station['code']}/dispatch"
    body = {"start": f"{DAY_READ}T00:00:00+08:00", "step_minutes": 60, "horizon_hours": 24,
            "pv_source": "model"}
    r = client.post(url, headers=auth(operator_key), json=body)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "pv_capacity_kwp"
    r = client.post(url, headers=auth(operator_key), json={**body, "pv_capacity_kwp": 10000})
    assert r.status_code == 200, r.text
    pv = [row["pv_mw"] for row in r.json()["schedule"]]
    assert pv[2] == 0.0 and pv[22] == 0.0  # 02:00 and 22:00 local
    # 10 MWp (8.33 MW AC) on a May day in Lhasa peaks in the early afternoon, within the AC limit
    assert 3.0 < max(pv) <= 10000 / 1.2 / 1000 + 1e-9
    assert 12 <= pv.index(max(pv)) <= 15


def test_rolling_on_stored_actuals_plans_on_the_forecast(client, operator_key, station):
    url = f"/v1/storage/{station['code']}/dispatch"
    body = {"start": f"{DAY_READ}T00:00:00+08:00", "step_minutes": 60, "horizon_hours": 24,
            "strategy": "rolling", "rolling": {"window_hours": 12, "commit_hours": 3}}
    # no readings before the start yet: perfect foresight, said so
    r = client.post(url, headers=auth(operator_key), json=body)
    assert r.status_code == 200, r.text
    assert r.json()["inputs"]["rolling_forecast"].startswith("perfect foresight")
    # the week before: the same meters, another shape (imports at night only)
    imp, _pv = station["test_meters"]
    lines = ["meter,ts,value"] + [
        f"{imp},2025-04-27T{q // 4:02d}:{q % 4 * 15:02d}:00+08:00,{IMPORT_KWH * (q < 32)}"
        for q in range(96)]
    assert client.post("/v1/readings", content="\n".join(lines) + "\n", headers={
        **auth(operator_key), "content-type": "text/csv"}).status_code == 200
    r = client.post(url, headers=auth(operator_key), json=body)
    out = r.json()
    # a week of history is too short for the model: the forecast is last week's day, named
    assert out["inputs"]["rolling_forecast"] == "seasonal naive (one week)"
    assert out["inputs"]["rolling_forecast_provenance"]["origin"].startswith(
        f"{DAY_READ}T00:00:00+08:00")
    # realised on the actual load: load_mw is still this day's 20/24 MW
    assert out["schedule"][3]["load_mw"] == pytest.approx(20.0)
    kpis = out["kpis"]
    # last week's forecast has no load in the evening peak, so the plan holds back discharge
    # there that the actual 20 MW load would have paid for: value is lost
    assert kpis["value_lost_vs_perfect_yuan"] > 1000.0
    assert out["objective"] == pytest.approx(kpis["perfect_objective"]
                                             + kpis["value_lost_vs_perfect_yuan"])
