"""Registering stations and inline dispatch through HTTP, checked against the library."""

import numpy as np
import pandas as pd
import pytest

from energy.storage import DispatchSignals, default_station, optimize_dispatch, rule_based_dispatch
from tests.conftest import auth
from tests.storage_api.helpers import register

PRICES = [250.0] * 8 + [550.0] * 8 + [900.0] * 8  # yuan/MWh, one day at hourly steps
LOAD = [40.0] * 24


def test_register_defaults_to_the_63_mw_252_mwh_station(client, operator_key):
    st = register(client, operator_key)
    b = st["battery"]
    assert (b["power_charge_mw"], b["power_discharge_mw"], b["energy_mwh"]) == (63.0, 63.0, 252.0)
    assert set(st["telemetry_meters"]) == {"power", "soc", "temperature"}
    got = client.get(f"/v1/storage/{st['code']}", headers=auth(operator_key)).json()
    assert got == st
    # the telemetry meters are ordinary meters with the telemetry carriers
    m = client.get(f"/v1/meters/{st['telemetry_meters']['soc']}", headers=auth(operator_key))
    assert m.json()["carrier"] == "battery_soc" and m.json()["unit"] == "pct"


def test_register_rejects_unknown_battery_fields_and_tariffs(client, operator_key):
    r = client.post("/v1/storage", headers=auth(operator_key), json={
        "code": "BESS-bad", "name": "x", "zone": "B区", "battery": {"power_mwh": 3}})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "battery"
    r = client.post("/v1/storage", headers=auth(operator_key), json={
        "code": "BESS-bad", "name": "x", "zone": "B区", "tariff": "no_such_tariff"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "tariff"


def test_inline_optimal_dispatch_matches_the_library(client, operator_key):
    st = register(client, operator_key)
    body = {"start": "2026-03-02T00:00:00+08:00", "step_minutes": 60, "strategy": "optimal",
            "load_mw": LOAD, "pv_mw": [0.0] * 24, "price_yuan_per_mwh": PRICES,
            "grid_tco2_per_mwh": 0.5, "carbon_price_yuan_per_tco2": 80.0}
    r = client.post(f"/v1/storage/{st['code']}/dispatch", json=body, headers=auth(operator_key))
    assert r.status_code == 200, r.text
    out = r.json()
    idx = pd.date_range("2026-03-02", periods=24, freq="1h", tz="Asia/Shanghai")
    lib = optimize_dispatch(
        DispatchSignals(
            pd.Series(LOAD, index=idx), np.zeros(24), price_yuan_per_mwh=np.array(PRICES),
            grid_tco2_per_mwh=0.5, carbon_price_yuan_per_tco2=80.0, step_h=1.0,
        ),
        default_station(),
    )
    assert out["objective"] == pytest.approx(lib.objective, rel=1e-9)
    sched = pd.DataFrame(out["schedule"])
    assert list(sched.columns[:6]) == ["start", "charge_mw", "discharge_mw", "soc_mwh",
                                       "grid_import_mw", "grid_export_mw"]
    for col in ("charge_mw", "discharge_mw", "soc_mwh", "grid_import_mw", "grid_export_mw"):
        np.testing.assert_allclose(sched[col], lib.schedule[col], atol=1e-6)
    assert pd.Timestamp(sched["start"][0]) == idx[0]
    assert out["kpis"]["co2_t"] == pytest.approx(lib.kpis["co2_t"])
    # a 63 MW / 252 MWh station arbitrages 250 -> 900 yuan/MWh: it discharges in the peak hours
    assert sched["discharge_mw"][16:].sum() > 100


def test_inline_rule_dispatch_matches_the_library_with_the_station_tariff(client, operator_key):
    st = register(client, operator_key, battery={"power_charge_mw": 10, "power_discharge_mw": 10,
                                                 "energy_mwh": 40})
    load = [20.0] * 96
    pv = [0.0] * 40 + [30.0] * 24 + [0.0] * 32
    body = {"start": "2026-03-02T00:00:00+08:00", "step_minutes": 15, "strategy": "rule",
            "load_mw": load, "pv_mw": pv}
    r = client.post(f"/v1/storage/{st['code']}/dispatch", json=body, headers=auth(operator_key))
    assert r.status_code == 200, r.text
    from energy.tariffs import load_tariff

    idx = pd.date_range("2026-03-02", periods=96, freq="15min", tz="Asia/Shanghai")
    battery = default_station().with_(power_charge_mw=10, power_discharge_mw=10, energy_mwh=40)
    lib = rule_based_dispatch(
        DispatchSignals(
            pd.Series(load, index=idx), np.array(pv),
            tariff=load_tariff("example_tou_illustrative"), step_h=0.25,
        ),
        battery,
    )
    assert r.json()["objective"] == pytest.approx(lib.objective, rel=1e-9)
    assert r.json()["inputs"]["tariff"] == "example_tou_illustrative"


def test_rolling_with_a_window_over_the_whole_day_equals_the_optimum(client, operator_key):
    st = register(client, operator_key)
    base = {"start": "2026-03-02T00:00:00+08:00", "step_minutes": 60, "load_mw": LOAD,
            "price_yuan_per_mwh": PRICES}
    opt = client.post(f"/v1/storage/{st['code']}/dispatch", headers=auth(operator_key),
                      json={**base, "strategy": "optimal"}).json()
    rol = client.post(f"/v1/storage/{st['code']}/dispatch", headers=auth(operator_key),
                      json={**base, "strategy": "rolling",
                            "rolling": {"window_hours": 24, "commit_hours": 24}}).json()
    assert rol["objective"] == pytest.approx(opt["objective"], rel=1e-9)
    short = client.post(f"/v1/storage/{st['code']}/dispatch", headers=auth(operator_key),
                        json={**base, "strategy": "rolling",
                              "rolling": {"window_hours": 6, "commit_hours": 3}}).json()
    assert short["objective"] >= opt["objective"] - 1e-6


def test_unreachable_final_soc_is_a_422_problem_naming_the_reason(client, operator_key):
    st = register(client, operator_key)
    # 2 hours at 10 MW of charge power cannot lift 252 MWh from 50 % to 95 %.
    body = {"start": "2026-03-02T00:00:00+08:00", "step_minutes": 60, "load_mw": [10.0, 10.0],
            "price_yuan_per_mwh": [300.0, 300.0],
            "battery": {"power_charge_mw": 10, "soc_final_pct": 95}}
    r = client.post(f"/v1/storage/{st['code']}/dispatch", json=body, headers=auth(operator_key))
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    p = r.json()
    assert p["type"].endswith("dispatch-infeasible")
    assert "final state of charge" in p["reason"] and "unreachable" in p["reason"]


def test_mismatched_lengths_name_the_field(client, operator_key):
    st = register(client, operator_key)
    body = {"start": "2026-03-02T00:00:00+08:00", "step_minutes": 60, "load_mw": LOAD,
            "pv_mw": [0.0] * 23, "price_yuan_per_mwh": PRICES}
    r = client.post(f"/v1/storage/{st['code']}/dispatch", json=body, headers=auth(operator_key))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "pv_mw"
    body = {**body, "pv_mw": None, "price_yuan_per_mwh": PRICES[:5]}
    r = client.post(f"/v1/storage/{st['code']}/dispatch", json=body, headers=auth(operator_key))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "price_yuan_per_mwh"
    body = {**body, "price_yuan_per_mwh": None, "start": "2026-03-02T00:20:00+08:00"}
    r = client.post(f"/v1/storage/{st['code']}/dispatch", json=body, headers=auth(operator_key))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "start"


def test_horizon_above_the_limit_is_413(make_app, operator_key):
    from fastapi.testclient import TestClient

    small = make_app(storage_max_steps=48)
    with TestClient(small) as c:
        st = register(c, operator_key)
        body = {"start": "2026-03-02T00:00:00+08:00", "step_minutes": 60, "load_mw": [1.0] * 49}
        r = c.post(f"/v1/storage/{st['code']}/dispatch", json=body, headers=auth(operator_key))
        assert r.status_code == 413
        body = {"start": "2026-03-02T00:00:00+08:00", "step_minutes": 60, "horizon_hours": 49}
        r = c.post(f"/v1/storage/{st['code']}/dispatch", json=body, headers=auth(operator_key))
        assert r.status_code == 413


def test_enterprises_cannot_see_or_dispatch_the_park_station(
    client, operator_key, make_key, make_enterprise
):
    st = register(client, operator_key)
    ent = make_enterprise()["code"]
    ent_key = make_key("enterprise", ent)
    body = {"start": "2026-03-02T00:00:00+08:00", "step_minutes": 60, "load_mw": LOAD,
            "price_yuan_per_mwh": PRICES}
    code = st["code"]
    assert client.get(f"/v1/storage/{code}", headers=auth(ent_key)).status_code == 404
    assert client.post(f"/v1/storage/{code}/dispatch", json=body,
                       headers=auth(ent_key)).status_code == 404
    assert client.get(f"/v1/storage/{code}/plan", headers=auth(ent_key)).status_code == 404
    assert client.get(f"/v1/storage/{code}/health", headers=auth(ent_key)).status_code == 404
    assert code not in {s["code"] for s in client.get("/v1/storage",
                                                       headers=auth(ent_key)).json()}
    planner = make_key("planner")
    assert client.get(f"/v1/storage/{code}", headers=auth(planner)).status_code == 200
    assert client.post(f"/v1/storage/{code}/dispatch", json=body,
                       headers=auth(planner)).status_code == 200
    # registering is for operators only
    r = client.post("/v1/storage", headers=auth(planner),
                    json={"code": "BESS-x", "name": "x", "zone": "B区"})
    assert r.status_code == 403
    # an enterprise sees the station it owns
    own = register(client, operator_key, enterprise=ent)
    assert client.get(f"/v1/storage/{own['code']}", headers=auth(ent_key)).status_code == 200
    assert [s["code"] for s in client.get("/v1/storage", headers=auth(ent_key)).json()] == [
        own["code"]]
