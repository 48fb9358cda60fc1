"""Estimates through HTTP: clear sky, typical year, measured weather uploaded as meters; by zone."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.conftest import auth
from tests.pv_api.pv_api_helpers import (
    clear_day_weather,
    estimate,
    make_array,
    make_station,
    points_series,
    upload_weather,
)

SPRING = ("2026-04-10T00:00:00+08:00", "2026-04-11T00:00:00+08:00")


def test_clear_sky_day_hour_by_hour(client, operator_key, make_enterprise):
    ent = make_enterprise()["code"]
    a = make_array(client, operator_key, ent, capacity_kwp=100.0, ac_kw=70.0, tilt_deg=25.0)
    r = estimate(client, operator_key, a["code"], *SPRING)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["array"], body["unit"], body["resolution"], body["weather"]) == (
        a["code"], "kWh", "hour", "clearsky")
    assert len(body["points"]) == 24
    assert body["points"][0]["start"] == "2026-04-10T00:00:00+08:00"  # local buckets, with offset
    s = points_series(body)
    assert (s.between_time("00:00", "06:00") == 0).all()  # night in Lhasa (sunrise ≈ 07:40 CST)
    assert (s.between_time("21:00", "23:00") == 0).all()
    # solar noon ≈ 13:55 CST: the day's energy is centred there (hour midpoints weighted by kWh)
    centre_h = float(((s.index.hour + 0.5) * s).sum() / s.sum())
    assert 13.4 < centre_h < 14.4
    # the inverter clips at 70 kW: at most 70 kWh in an hour, and reached in a clear spring noon
    assert s.max() <= 70.0 + 1e-6
    assert s.max() > 65.0
    assert body["total"] == pytest.approx(s.sum())
    day = estimate(client, operator_key, a["code"], *SPRING, resolution="day").json()
    assert [p["start"] for p in day["points"]] == ["2026-04-10T00:00:00+08:00"]
    assert day["points"][0]["value"] == pytest.approx(s.sum(), rel=1e-9)


def test_typical_year_by_month_below_the_clear_sky_ceiling(client, operator_key,
                                                           make_enterprise):
    ent = make_enterprise()["code"]
    a = make_array(client, operator_key, ent, capacity_kwp=50.0, tilt_deg=30.0)
    year = ("2026-01-01T00:00:00+08:00", "2027-01-01T00:00:00+08:00")
    typ = estimate(client, operator_key, a["code"], *year, resolution="month", weather="typical")
    cs = estimate(client, operator_key, a["code"], *year, resolution="month", weather="clearsky")
    assert typ.status_code == 200 and cs.status_code == 200
    t, c = points_series(typ.json()), points_series(cs.json())
    assert len(t) == 12 and t.index[0] == pd.Timestamp("2026-01-01T00:00:00+08:00")
    assert (t < c).all()  # clear sky is a ceiling, month by month
    # specific yield of a south-facing 30° array on the typical year: at least the ≈1,500 kWh/kWp
    # that plateau plants near Lhasa report, below the clear-sky ceiling (library test cites them)
    specific = typ.json()["total"] / 50.0
    assert 1500.0 <= specific < cs.json()["total"] / 50.0


def test_measured_weather_uploaded_as_meters(client, operator_key, make_enterprise, make_meter):
    ent = make_enterprise()["code"]
    station = make_station(client, operator_key, make_meter, ent)  # all five quantities
    a = make_array(client, operator_key, ent, weather_station=station["code"])
    day = "2026-05-03"
    w = clear_day_weather(day)
    upload_weather(client, operator_key, station, w)
    span = ("2026-05-03T00:00:00+08:00", "2026-05-04T00:00:00+08:00")
    measured = estimate(client, operator_key, a["code"], *span, weather="measured")
    assert measured.status_code == 200, measured.text
    m = measured.json()
    assert m["weather_station"] == station["code"] and m["weather_intervals_missing"] == 0
    clear = estimate(client, operator_key, a["code"], *span, weather="clearsky",
                     resolution="15min").json()
    # the station sent the clear-sky values themselves (to 4 decimals): the same energy
    assert m["total"] == pytest.approx(clear["total"], rel=1e-4)

    # a second station with only GHI and temperature: DNI/DHI come from DIRINT; a steady
    # half-clear day (GHI × 0.5) yields roughly half, and intervals not sent are reported
    half = make_station(client, operator_key, make_meter, ent, ("ghi", "temp_air"))
    b = make_array(client, operator_key, ent, weather_station=half["code"])
    w2 = w.assign(ghi=w["ghi"] * 0.5).iloc[:-8]  # the last two hours (night) not sent
    upload_weather(client, operator_key, half, w2)
    r = estimate(client, operator_key, b["code"], *span, weather="measured").json()
    assert r["weather_intervals_missing"] == 8
    assert 0.3 * clear["total"] < r["total"] < 0.6 * clear["total"]


def test_estimate_rejects_bad_windows(client, operator_key, make_enterprise, make_meter):
    ent = make_enterprise()["code"]
    hourly = make_station(client, operator_key, make_meter, ent, ("ghi", "temp_air"),
                          interval_minutes=60)
    a = make_array(client, operator_key, ent, weather_station=hourly["code"])
    upload_weather(client, operator_key, hourly, clear_day_weather("2026-06-01", "1h"))
    cases = [
        ({"start": "2026-06-01T00:00:00", "end": "2026-06-02T00:00:00+08:00"}, "start"),
        ({"start": "2026-06-02T00:00:00+08:00", "end": "2026-06-01T00:00:00+08:00"}, "end"),
        ({"start": "2026-06-01T10:00:00+08:00", "end": "2026-06-02T00:00:00+08:00",
          "resolution": "day"}, "start"),
        ({"start": "2026-06-01T00:00:00+08:00", "end": "2029-06-01T00:00:00+08:00",
          "resolution": "month"}, "end"),
        ({"start": "2026-06-01T00:00:00+08:00", "end": "2026-06-02T00:00:00+08:00",
          "resolution": "15min", "weather": "measured"}, "resolution"),  # station is hourly
        ({"start": "2026-07-01T00:00:00+08:00", "end": "2026-07-02T00:00:00+08:00",
          "weather": "measured"}, "weather"),  # nothing measured then
        ({"start": "2026-06-01T00:00:00+08:00", "end": "2026-06-02T00:00:00+08:00",
          "weather": "satellite"}, "weather"),
    ]
    for params, field in cases:
        r = client.get(f"/v1/pv/arrays/{a['code']}/estimate", params=params,
                       headers=auth(operator_key))
        assert r.status_code == 422, (params, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert field in [e["field"] for e in r.json()["errors"]], (params, r.json())
    ok = client.get(f"/v1/pv/arrays/{a['code']}/estimate", headers=auth(operator_key), params={
        "start": "2026-06-01T00:00:00+08:00", "end": "2026-06-02T00:00:00+08:00",
        "weather": "measured"})
    assert ok.status_code == 200 and ok.json()["total"] > 0


def test_park_estimate_by_zone_and_tenancy(client, operator_key, make_enterprise, make_key):
    ent_a, ent_b = make_enterprise(zone="综合保税区")["code"], make_enterprise(zone="B区")["code"]
    x = make_array(client, operator_key, ent_a, capacity_kwp=30.0)
    y = make_array(client, operator_key, ent_a, capacity_kwp=20.0, azimuth_deg=90.0)
    z = make_array(client, operator_key, ent_b, capacity_kwp=40.0)
    per = {a["code"]: estimate(client, operator_key, a["code"], *SPRING, resolution="day")
           .json()["total"] for a in (x, y, z)}
    r = client.get("/v1/pv/estimate", headers=auth(operator_key),
                   params={"by": "zone", "start": SPRING[0], "end": SPRING[1]})
    assert r.status_code == 200, r.text
    zones = {zn["zone"]: zn for zn in r.json()["zones"]}
    # other tests' arrays are in the park too: the park's zones hold at least ours
    assert zones["综合保税区"]["total"] >= per[x["code"]] + per[y["code"]] - 1e-6
    key = make_key("enterprise", ent_a)
    mine = client.get("/v1/pv/estimate", headers=auth(key),
                      params={"by": "zone", "start": SPRING[0], "end": SPRING[1]}).json()
    assert [zn["zone"] for zn in mine["zones"]] == ["综合保税区"]
    only = mine["zones"][0]
    assert only["arrays"] == 2 and only["capacity_kwp"] == pytest.approx(50.0)
    assert only["total"] == pytest.approx(per[x["code"]] + per[y["code"]], rel=1e-9)
    assert only["points"][0]["value"] == pytest.approx(only["total"])
    assert client.get(f"/v1/pv/arrays/{z['code']}/estimate", headers=auth(key), params={
        "start": SPRING[0], "end": SPRING[1]}).status_code == 404


def test_typical_estimate_gives_the_arrays_annual_p50_p90(client, operator_key,
                                                           make_enterprise):
    ent = make_enterprise()["code"]
    a = make_array(client, operator_key, ent, capacity_kwp=50.0, tilt_deg=30.0)
    year = ("2026-01-01T00:00:00+08:00", "2027-01-01T00:00:00+08:00")
    body = estimate(client, operator_key, a["code"], *year, resolution="month",
                    weather="typical").json()
    assert body["annual_year"] == 2026
    assert body["annual_p50_kwh"] == pytest.approx(body["total"], rel=1e-6)
    assert body["annual_p90_kwh"] == pytest.approx(body["total"] * (1 - 1.2816 * 0.031), rel=1e-4)
    # a one-day window still reports the whole year's figures; clear sky has none
    day = estimate(client, operator_key, a["code"], *SPRING, weather="typical").json()
    assert day["annual_p50_kwh"] == pytest.approx(body["annual_p50_kwh"])
    assert estimate(client, operator_key, a["code"], *SPRING).json()["annual_p50_kwh"] is None
