"""Measured against expected through HTTP: daily PR, clear days, pv_underperformance alerts, the
daily job and its configurable share."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from app.services.pv import performance_job
from tests.conftest import auth
from tests.pv_api.pv_api_helpers import (
    clear_day_weather,
    estimate,
    make_array,
    make_station,
    post_csv,
    upload_weather,
)


def _span(day: str) -> tuple[str, str]:
    d = pd.Timestamp(day)
    return f"{day}T00:00:00+08:00", f"{(d + pd.Timedelta('1D')).date()}T00:00:00+08:00"


def _upload_generation(client, key, array, day, factor, drop=0):
    """Readings of the array's meter = factor × its clear-sky estimate, per 15 minutes (the
    station sends clear-sky weather on these days, so that is also the measured-weather
    expectation); ``drop`` daytime intervals left out."""
    est = estimate(client, key, array["code"], *_span(day), resolution="15min").json()
    frame = pd.DataFrame({"meter": array["meter"], "ts": [p["start"] for p in est["points"]],
                          "value": np.round([factor * p["value"] for p in est["points"]], 4)})
    if drop:
        frame = frame.drop(frame.index[48:48 + drop])  # from 12:00 local
    post_csv(client, key, frame)
    return est["total"]


@pytest.fixture
def park(client, operator_key, make_enterprise, make_meter, make_key):
    ent = make_enterprise(zone="A区")["code"]
    station = make_station(client, operator_key, make_meter, ent)
    arrays = {}
    for name in ("clean", "soiled", "down"):
        meter = make_meter(ent, carrier="pv_generation")["code"]
        arrays[name] = make_array(client, operator_key, ent, capacity_kwp=80.0, tilt_deg=20.0,
                                  meter=meter, weather_station=station["code"])
    return {"ent": ent, "station": station, "arrays": arrays, "key": make_key("enterprise", ent)}


def _alerts(client, key, meter):
    r = client.get("/v1/alerts", params={"meter": meter}, headers=auth(key))
    assert r.status_code == 200, r.text
    return [a for a in r.json() if a["kind"] == "pv_underperformance"]


def test_soiled_and_dead_arrays_raise_alerts_on_a_clear_day(client, operator_key, park,
                                                            make_enterprise, make_key):
    day = "2026-03-12"
    upload_weather(client, operator_key, park["station"], clear_day_weather(day))
    factors = {"clean": 0.97, "soiled": 0.6, "down": 0.0}
    for name, f in factors.items():
        _upload_generation(client, operator_key, park["arrays"][name], day, f)
    for name, f in factors.items():
        r = client.get(f"/v1/pv/arrays/{park['arrays'][name]['code']}/performance",
                       params=dict(zip(("start", "end"), _span(day), strict=True)),
                       headers=auth(park["key"]))
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["alert_share_of_expected"] == pytest.approx(0.8)  # pv_defaults.yaml
        (d,) = body["days"]
        assert d["day"] == day and d["clear_day"] is True and d["complete"] is True
        assert d["pr"] == pytest.approx(f, abs=1e-3)
        assert d["measured_kwh"] == pytest.approx(f * d["expected_kwh"], rel=1e-3, abs=0.01)
    r = client.post("/v1/pv/performance/check", params={"first_day": day},
                    headers=auth(operator_key))
    assert r.status_code == 200, r.text
    assert r.json()["opened"] >= 2
    assert _alerts(client, park["key"], park["arrays"]["clean"]["meter"]) == []
    (soiled,) = _alerts(client, park["key"], park["arrays"]["soiled"]["meter"])
    assert pd.Timestamp(soiled["period_start"]) == pd.Timestamp(day, tz="Asia/Shanghai")
    assert soiled["enterprise"] == park["ent"] and "PR 0.60" in soiled["message"]
    (down,) = _alerts(client, park["key"], park["arrays"]["down"]["meter"])
    assert "no output" in down["message"]
    # re-running the check opens nothing new for these arrays
    client.post("/v1/pv/performance/check", params={"first_day": day},
                headers=auth(operator_key))
    assert len(_alerts(client, park["key"], park["arrays"]["soiled"]["meter"])) == 1
    # another enterprise sees neither the alerts nor the array
    stranger = make_key("enterprise", make_enterprise()["code"])
    assert all(a["meter"] != park["arrays"]["soiled"]["meter"]
               for a in client.get("/v1/alerts", headers=auth(stranger)).json())
    r = client.get(f"/v1/pv/arrays/{park['arrays']['soiled']['code']}/performance",
                   params=dict(zip(("start", "end"), _span(day), strict=True)),
                   headers=auth(stranger))
    assert r.status_code == 404
    # enterprises may not run the park-wide check
    assert client.post("/v1/pv/performance/check", params={"first_day": day},
                       headers=auth(park["key"])).status_code == 403


def test_no_alert_on_a_cloudy_or_incomplete_day(client, operator_key, park):
    cloudy, gappy = "2026-03-14", "2026-03-15"
    w = clear_day_weather(cloudy)
    # a steady overcast day: 35 % of clear-sky irradiance
    upload_weather(client, operator_key, park["station"],
                   w.assign(ghi=w["ghi"] * 0.35, dni=w["dni"] * 0.1, dhi=w["dhi"] * 2.0))
    _upload_generation(client, operator_key, park["arrays"]["soiled"], cloudy, 0.2)
    upload_weather(client, operator_key, park["station"], clear_day_weather(gappy))
    _upload_generation(client, operator_key, park["arrays"]["soiled"], gappy, 0.6, drop=4)
    r = client.get(f"/v1/pv/arrays/{park['arrays']['soiled']['code']}/performance",
                   params={"start": _span(cloudy)[0], "end": _span(gappy)[1]},
                   headers=auth(operator_key))
    days = {d["day"]: d for d in r.json()["days"]}
    assert days[cloudy]["clear_day"] is False and days[cloudy]["complete"] is True
    assert days[gappy]["clear_day"] is True and days[gappy]["complete"] is False
    client.post("/v1/pv/performance/check", params={"first_day": cloudy, "last_day": gappy},
                headers=auth(operator_key))
    assert _alerts(client, operator_key, park["arrays"]["soiled"]["meter"]) == []


def test_alert_share_is_configurable(client, make_app, operator_key, park):
    day = "2026-03-20"
    upload_weather(client, operator_key, park["station"], clear_day_weather(day))
    _upload_generation(client, operator_key, park["arrays"]["soiled"], day, 0.6)
    meter = park["arrays"]["soiled"]["meter"]
    with TestClient(make_app(pv_alert_share_of_expected=0.5)) as lenient:
        r = lenient.get(f"/v1/pv/arrays/{park['arrays']['soiled']['code']}/performance",
                        params=dict(zip(("start", "end"), _span(day), strict=True)),
                        headers=auth(operator_key))
        assert r.json()["alert_share_of_expected"] == 0.5
        lenient.post("/v1/pv/performance/check", params={"first_day": day},
                     headers=auth(operator_key))
    assert _alerts(client, operator_key, meter) == []  # 60 % of expected is above 50 %
    client.post("/v1/pv/performance/check", params={"first_day": day},
                headers=auth(operator_key))
    assert len(_alerts(client, operator_key, meter)) == 1  # but below the default 80 %


def test_daily_job_checks_yesterday(client, engine, operator_key, park):
    yesterday = str((pd.Timestamp.now(tz="Asia/Shanghai").normalize()
                     - pd.Timedelta("1D")).date())
    upload_weather(client, operator_key, park["station"], clear_day_weather(yesterday))
    _upload_generation(client, operator_key, park["arrays"]["soiled"], yesterday, 0.5)
    _upload_generation(client, operator_key, park["arrays"]["clean"], yesterday, 0.98)
    result = performance_job(engine)
    assert result["checked"] >= 2
    (alert,) = _alerts(client, operator_key, park["arrays"]["soiled"]["meter"])
    assert pd.Timestamp(alert["period_start"]) == pd.Timestamp(yesterday, tz="Asia/Shanghai")
    assert _alerts(client, operator_key, park["arrays"]["clean"]["meter"]) == []


def test_performance_needs_a_generation_meter(client, operator_key, make_enterprise):
    a = make_array(client, operator_key, make_enterprise()["code"])
    r = client.get(f"/v1/pv/arrays/{a['code']}/performance", headers=auth(operator_key),
                   params={"start": "2026-03-01T00:00:00+08:00",
                           "end": "2026-03-02T00:00:00+08:00"})
    assert r.status_code == 409
    assert r.headers["content-type"].startswith("application/problem+json")


def test_the_elected_scheduler_runs_the_job_daily(engine, settings):
    from app.scheduler import SchedulerLeader

    leader = SchedulerLeader(engine, settings.model_copy(update={"pv_performance_hour": 3}))
    try:
        assert leader._try_lead()
        assert leader.scheduler is not None
        job = leader.scheduler.get_job("pv_performance")
        assert job.func is performance_job
        fields = {f.name: str(f) for f in job.trigger.fields}
        assert (fields["hour"], fields["minute"], fields["day"]) == ("3", "5", "*")
    finally:
        leader.shutdown()
