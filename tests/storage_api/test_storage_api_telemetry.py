"""Telemetry through the meters' ingest path, storage_safety alerts, state of health."""

from datetime import datetime

import pytest

from app.scheduler import storage_safety_job
from tests.conftest import auth
from tests.storage_api.helpers import register


def _csv(rows):
    return "ts,power_mw,soc_pct,temperature_c\n" + "\n".join(",".join(map(str, r))
                                                             for r in rows) + "\n"


def _post(client, key, code, text):
    return client.post(f"/v1/storage/{code}/telemetry", content=text.encode(),
                       headers={**auth(key), "content-type": "text/csv"})


def _alerts(client, key, meter):
    return client.get("/v1/alerts", params={"meter": meter}, headers=auth(key)).json()


def test_temperature_out_of_window_raises_one_storage_safety_alert(client, operator_key):
    st = register(client, operator_key)
    rows = [(f"2026-01-05T10:{m:02d}:00+08:00", -20.0, 60.0, t)
            for m, t in zip((0, 15, 30, 45), (30.0, 46.5, 47.0, 30.0), strict=True)]
    r = _post(client, operator_key, st["code"], _csv(rows))
    assert r.status_code == 200, r.text
    assert r.json()["inserted"] == 12 and r.json()["safety_alerts_opened"] == 1
    alerts = _alerts(client, operator_key, st["telemetry_meters"]["temperature"])
    assert len(alerts) == 1
    a = alerts[0]
    assert a["kind"] == "storage_safety" and "47 degC above the safe maximum 45" in a["message"]
    # 02:15 UTC, shown with the park's offset like every timestamp of an answer
    assert a["period_start"] == "2026-01-05T10:15:00+08:00"
    assert a["period_end"] == "2026-01-05T10:45:00+08:00"
    # idempotent upload, and the scheduled check does not duplicate the alert
    again = _post(client, operator_key, st["code"], _csv(rows))
    assert again.json()["unchanged"] == 12 and again.json()["safety_alerts_opened"] == 0
    assert len(_alerts(client, operator_key, st["telemetry_meters"]["temperature"])) == 1
    # the readings are ordinary meter readings (hourly bucket = mean of the interval means)
    s = client.get(f"/v1/meters/{st['telemetry_meters']['temperature']}/readings",
                   headers=auth(operator_key), params={
                       "start": "2026-01-05T10:00:00+08:00", "end": "2026-01-05T11:00:00+08:00",
                       "resolution": "hour"}).json()
    assert s["points"][0]["value"] == pytest.approx((30 + 46.5 + 47 + 30) / 4)


def test_soc_and_power_excursions_and_the_scheduled_check(client, operator_key, engine):
    st = register(client, operator_key, safety={"soc_min_pct": 10.0})
    # via the generic readings upload (same ingest path), then the scheduled job finds them
    soc, power = st["telemetry_meters"]["soc"], st["telemetry_meters"]["power"]
    body = (f"meter,ts,value\n{soc},2026-02-01T03:00:00+08:00,9.5\n"
            f"{soc},2026-02-01T03:15:00+08:00,20\n"
            f"{power},2026-02-01T03:00:00+08:00,-70\n")  # charging 70 MW > 63 x 1.05
    r = client.post("/v1/readings", content=body,
                    headers={**auth(operator_key), "content-type": "text/csv"})
    assert r.status_code == 200, r.text
    opened = storage_safety_job(engine, now=datetime.fromisoformat("2026-02-01T12:00:00+08:00"))
    assert opened >= 2
    assert "SOC 9.5 % below the safe minimum 10 %" in _alerts(client, operator_key, soc)[0][
        "message"]
    assert "power -70 MW below the safe minimum -66.15 MW" in _alerts(client, operator_key,
                                                                     power)[0]["message"]
    # other tests' stations may open their own alerts; ours are not opened twice
    storage_safety_job(engine, now=datetime.fromisoformat("2026-02-01T12:00:00+08:00"))
    assert len(_alerts(client, operator_key, soc)) == 1
    assert len(_alerts(client, operator_key, power)) == 1


def test_bad_telemetry_rows_are_rejected_naming_row_and_field(client, operator_key):
    st = register(client, operator_key)
    r = _post(client, operator_key, st["code"],
              _csv([("2026-01-05T10:00:00+08:00", 1.0, "x", 20.0)]))
    assert r.status_code == 422
    assert r.json()["errors"] == [{"row": 1, "field": "soc_pct", "message": "not a finite number"}]
    r = client.post(f"/v1/storage/{st['code']}/telemetry", headers=auth(operator_key),
                    json=[{"ts": "2026-01-05T10:00:00+08:00", "soc_pct": 55.0}])
    assert r.status_code == 200 and r.json()["inserted"] == 1


def test_health_from_throughput_and_capacity_tests(client, operator_key, make_key):
    st = register(client, operator_key, commissioned_on="2025-01-05")
    code = st["code"]
    # 4 intervals of 40 MW charge then 4 of 40 MW discharge: 8 x 40 x 0.25 h = 80 MWh throughput
    rows = [(f"2026-01-06T0{h}:{m:02d}:00+08:00", p, 50.0, 25.0)
            for h, p in ((1, -40.0), (2, 40.0)) for m in (0, 15, 30, 45)]
    assert _post(client, operator_key, code, _csv(rows)).status_code == 200
    h = client.get(f"/v1/storage/{code}/health", headers=auth(operator_key)).json()
    assert h["throughput_mwh"] == pytest.approx(80.0)
    assert h["soh"]["efc"] == pytest.approx(80.0 / (2 * 252.0))
    assert 90.0 < h["soh"]["model_soh_pct"] < 100.0
    r = client.post(f"/v1/storage/{code}/capacity-tests", headers=auth(operator_key),
                    json={"tested_on": "2026-01-05", "measured_capacity_mwh": 240.0})
    assert r.status_code == 201 and r.json()["soh_pct"] == pytest.approx(100 * 240 / 252)
    h = client.get(f"/v1/storage/{code}/health", headers=auth(operator_key)).json()
    assert h["soh"]["latest_test_soh_pct"] == pytest.approx(100 * 240 / 252)
    # the model fade is scaled to the test; the answer is the calibrated SOH of today, below
    # the tested 95.2 % because ageing went on after the test
    soh = h["soh"]
    assert h["soh_pct"] == soh["calibrated_soh_pct"] == pytest.approx(
        100 - soh["calibration_factor"] * (100 - soh["model_soh_pct"]))
    assert h["soh_pct"] < 100 * 240 / 252
    assert client.post(f"/v1/storage/{code}/capacity-tests", headers=auth(make_key("planner")),
                       json={"tested_on": "2026-01-05",
                             "measured_capacity_mwh": 240.0}).status_code == 403


def test_owner_enterprise_uploads_its_telemetry_and_others_see_nothing(
    client, operator_key, make_key, make_enterprise
):
    owner, other = make_enterprise()["code"], make_enterprise()["code"]
    st = register(client, operator_key, enterprise=owner)
    own_key, other_key = make_key("enterprise", owner), make_key("enterprise", other)
    hot = _csv([("2026-03-01T12:00:00+08:00", 0.0, 50.0, 50.0)])
    assert _post(client, other_key, st["code"], hot).status_code == 404
    r = _post(client, own_key, st["code"], hot)
    assert r.status_code == 200 and r.json()["safety_alerts_opened"] == 1
    meter = st["telemetry_meters"]["temperature"]
    assert [a["kind"] for a in _alerts(client, own_key, meter)] == ["storage_safety"]
    assert all(a["kind"] != "storage_safety" or a["meter"] != meter
               for a in client.get("/v1/alerts", headers=auth(other_key)).json())
    assert client.post(f"/v1/storage/{st['code']}/telemetry", content=hot.encode(), headers={
        **auth(make_key("planner")), "content-type": "text/csv"}).status_code == 403
