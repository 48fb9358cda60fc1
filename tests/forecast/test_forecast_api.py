"""GET /v1/forecasts through HTTP: points with p10/p90 and backtested skill, a past start that
reads only what came before it, tenant scoping and the refusals of bad input."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.conftest import auth, unique
from tests.forecast.series import load_series

FIRST, DAYS = "2025-08-25", 49  # to 2025-10-12, over National Day and its make-up workdays
START = "2025-10-13T00:00:00+08:00"  # a Monday after the holiday week
URL = "/v1/forecasts"


def _csv(meter: str, s: pd.Series) -> str:
    ts = s.index.strftime("%Y-%m-%dT%H:%M:%S+08:00")
    return "meter,ts,value\n" + "".join(
        f"{meter},{t},{v:.4f}\n" for t, v in zip(ts, s.to_numpy(), strict=True))


def _upload(client, key: str, body: str) -> None:
    r = client.post("/v1/readings", content=body,
                    headers={**auth(key), "content-type": "text/csv"})
    assert r.status_code == 200, r.text


@pytest.fixture(scope="module")
def world(client, operator_key, make_enterprise, make_meter, make_key) -> dict[str, Any]:
    a = make_enterprise(zone="聂当工业园")["code"]
    b = make_enterprise(zone="聂当工业园")["code"]
    a_meter = make_meter(a, unit="kWh")["code"]
    b_meter = make_meter(b, unit="kWh")["code"]
    series = load_series(FIRST, DAYS, seed=11)
    _upload(client, operator_key, _csv(a_meter, series))
    _upload(client, operator_key, _csv(b_meter, load_series(FIRST, DAYS, seed=12) * 0.5))
    return {"a": a, "b": b, "a_meter": a_meter, "b_meter": b_meter, "series": series,
            "a_key": make_key("enterprise", enterprise=a)}


def test_enterprise_day_ahead_with_intervals_and_skill(client, operator_key, world):
    r = client.get(URL, headers=auth(operator_key),
                   params={"target": "enterprise", "code": world["a"], "start": START})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["target"] == "enterprise" and out["code"] == world["a"]
    assert out["quantity"] == "load" and out["unit"] == "kWh" and out["step_minutes"] == 15
    assert out["method"].startswith("lightgbm")
    assert out["origin"].startswith("2025-10-13T00:00:00")
    assert out["history"]["meters"] == 1 and out["history"]["intervals"] > 40 * 96
    points = out["points"]
    assert len(points) == 96 and points[0]["start"].startswith("2025-10-13T00:00:00+08:00")
    p = {k: np.array([x[k] for x in points]) for k in ("p10", "p50", "p90")}
    assert (p["p10"] <= p["p50"]).all() and (p["p50"] <= p["p90"]).all()
    # a workday after the holiday week: the day shift is there (the week-ago day had none)
    assert p["p50"][48] > 2 * p["p50"][8]
    skill = out["skill"]
    assert skill["status"] == "ok" and skill["origins"] == 14
    assert skill["last_day"] == "2025-10-12" and skill["mase_week"] < 1.0
    assert skill["mase_day"] < 1.0 and 0 < skill["nmae"] < skill["nmae_week_naive"]


def test_a_past_start_reads_only_readings_before_it(client, operator_key, world):
    params = {"target": "meter", "code": world["a_meter"], "start": "2025-10-09T06:00:00+08:00",
              "horizon_hours": 12}
    first = client.get(URL, headers=auth(operator_key), params=params)
    assert first.status_code == 200, first.text
    assert first.json()["origin"].startswith("2025-10-09T06:00:00")
    # the meter's readings after the start are revised to ten times their value
    later = world["series"]["2025-10-09 06:00":"2025-10-10 23:45"] * 10.0
    _upload(client, operator_key, _csv(world["a_meter"], later))
    again = client.get(URL, headers=auth(operator_key), params=params)
    assert again.status_code == 200
    assert again.json()["points"] == first.json()["points"]
    # ... whereas a start after the revision sees it
    moved = client.get(URL, headers=auth(operator_key), params={
        **params, "start": "2025-10-11T00:00:00+08:00"}).json()
    assert moved["points"] != first.json()["points"]


def test_zone_and_park_sum_their_enterprises(client, operator_key, world):
    for target, code in (("zone", "聂当工业园"), ("park", None)):
        params = {"target": target, "start": START, "horizon_hours": 6}
        if code:
            params["code"] = code
        r = client.get(URL, headers=auth(operator_key), params=params)
        assert r.status_code == 200, (target, r.text)
        assert len(r.json()["points"]) == 24 and r.json()["history"]["meters"] >= 2


def test_an_enterprise_sees_only_itself(client, world):
    key = auth(world["a_key"])
    own = client.get(URL, headers=key, params={"target": "enterprise", "start": START,
                                               "horizon_hours": 3})
    assert own.status_code == 200 and own.json()["code"] == world["a"]
    assert client.get(URL, headers=key, params={"target": "meter", "code": world["a_meter"],
                                                "start": START, "horizon_hours": 3}
                      ).status_code == 200
    for params in ({"target": "enterprise", "code": world["b"]},
                   {"target": "meter", "code": world["b_meter"]}):
        r = client.get(URL, headers=key, params={**params, "start": START})
        assert r.status_code == 404, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert world["b"] not in r.text or params["target"] == "enterprise"
    for target in ("park", "zone"):
        r = client.get(URL, headers=key, params={"target": target, "code": "聂当工业园",
                                                 "start": START})
        assert r.status_code == 403, r.text


@pytest.mark.parametrize(("params", "status", "field"), [
    ({"horizon_hours": 1000}, 422, "horizon_hours"),
    ({"horizon_hours": 0.1}, 422, "horizon_hours"),
    ({"horizon_hours": 1e-300}, 422, "horizon_hours"),
    ({"start": "2099-01-01T00:00:00+08:00"}, 422, "start"),
    ({"start": "2025-10-13T00:05:00+08:00"}, 422, "start"),
    ({"start": "2025-10-13T00:00:00"}, 422, "start"),
    ({"code": "M\x00X"}, 422, "code"),
    ({"target": "galaxy"}, 422, "target"),
    ({"target": "meter", "code": None}, 422, "code"),
    ({"start": "2020-01-01T00:00:00+08:00"}, 422, "start"),  # nothing before it
])
def test_bad_input_is_a_problem_naming_the_field(client, operator_key, world, params, status,
                                                 field):
    query = {"target": "meter", "code": world["a_meter"], "start": START, **params}
    query = {k: v for k, v in query.items() if v is not None}
    r = client.get(URL, headers=auth(operator_key), params=query)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert field in r.text


def test_unknown_codes_are_not_found(client, operator_key):
    for target in ("enterprise", "meter", "array", "zone"):
        r = client.get(URL, headers=auth(operator_key),
                       params={"target": target, "code": unique("NOPE"), "start": START})
        assert r.status_code == 404, (target, r.text)


def test_array_pv_is_clear_sky_times_the_forecast_index(client, operator_key, world,
                                                        make_meter):
    from energy.pv import PVArray, estimate_power_kw
    from energy.pv.arrays import default_ac_kw
    from energy.site import lhasa_etdz
    from energy.weather.clearsky import clearsky_weather

    meter = make_meter(world["a"], carrier="pv_generation", unit="kWh")["code"]
    code = unique("PV-A")
    r = client.post("/v1/pv/arrays", headers=auth(operator_key), json={
        "code": code, "enterprise": world["a"], "capacity_kwp": 400, "tilt_deg": 15,
        "meter": meter})
    assert r.status_code == 201, r.text
    site = lhasa_etdz()
    index = pd.date_range("2025-09-01", "2025-10-13", freq="15min", tz="Asia/Shanghai",
                          inclusive="left")
    weather = clearsky_weather(site, index[0], index[-1] + pd.Timedelta(minutes=15), "15min")
    kw = estimate_power_kw([PVArray(code="x", capacity_kwp=400, ac_kw=default_ac_kw(400),
                                    tilt_deg=15)], weather, site)["x"].reindex(index)
    rng = np.random.default_rng(4)
    daily = np.repeat(rng.uniform(0.6, 0.95, len(index) // 96), 96)
    _upload(client, operator_key, _csv(meter, kw * 0.25 * daily))
    r = client.get(URL, headers=auth(world["a_key"]),
                   params={"target": "array", "code": code, "start": START})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["quantity"] == "pv_generation" and "clear-sky" in out["method"]
    p50 = np.array([p["p50"] for p in out["points"]])
    assert p50[8] == 0.0 and p50[56] > 0  # 02:00 dark, 14:00 bright
    assert all(p["p10"] <= p["p50"] <= p["p90"] for p in out["points"])
    assert out["skill"]["status"] == "ok" and out["skill"]["origins"] == 14
    # no generation meter: nothing to learn the sky from
    bare = unique("PV-A")
    assert client.post("/v1/pv/arrays", headers=auth(operator_key), json={
        "code": bare, "enterprise": world["a"], "capacity_kwp": 50, "tilt_deg": 10}
        ).status_code == 201
    r = client.get(URL, headers=auth(operator_key),
                   params={"target": "array", "code": bare, "start": START})
    assert r.status_code == 422 and "generation meter" in r.text
