"""Flexible resources: registration (scoped, idempotent, concurrent, hostile input), the list
with stations and PV arrays read as resources, and the park's available flexibility per step."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import auth, unique


def resource(meter: str, **fields: Any) -> dict[str, Any]:
    body = {"code": unique("FLEX"), "kind": "curtailable", "meter": meter,
            "max_reduction_kw": 40.0, "min_notice_minutes": 30, "max_duration_minutes": 120,
            "max_events_per_month": 4, "rebound_fraction": 0.0, "cost_yuan_per_kwh": 0.8}
    body.update(fields)
    return body


@pytest.fixture(scope="module")
def two(make_enterprise, make_meter, make_key) -> dict[str, Any]:
    a, b = make_enterprise()["code"], make_enterprise(zone="B区")["code"]
    return {"a": a, "b": b, "a_meter": make_meter(a)["code"], "b_meter": make_meter(b)["code"],
            "a_key": make_key("enterprise", enterprise=a),
            "b_key": make_key("enterprise", enterprise=b)}


def test_an_enterprise_registers_its_own_resource_once_and_updates_it(client, two):
    key = auth(two["a_key"])
    body = resource(two["a_meter"])
    r = client.post("/v1/flex/resources", json=body, headers=key)
    assert r.status_code == 201, r.text
    assert r.json()["enterprise"] == two["a"] and r.json()["meter"] == two["a_meter"]
    again = client.post("/v1/flex/resources", json=body, headers=key)
    assert again.status_code == 200 and again.json() == r.json()
    changed = client.post("/v1/flex/resources", json={**body, "max_reduction_kw": 55.5},
                          headers=key)
    assert changed.status_code == 200 and changed.json()["max_reduction_kw"] == 55.5
    mine = [x for x in client.get("/v1/flex/resources", headers=key).json()
            if x["code"] == body["code"]]
    assert len(mine) == 1 and mine[0]["max_reduction_kw"] == 55.5
    theirs = client.get("/v1/flex/resources", headers=auth(two["b_key"])).text
    assert body["code"] not in theirs and two["a_meter"] not in theirs


def test_another_enterprises_meter_or_enterprise_is_refused(client, two, operator_key, engine):
    key = auth(two["a_key"])
    code = unique("FLEX")
    r = client.post("/v1/flex/resources", json=resource(two["b_meter"], code=code), headers=key)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["field"] == "meter"
    r = client.post("/v1/flex/resources",
                    json=resource(two["b_meter"], code=code, enterprise=two["b"]), headers=key)
    assert r.status_code == 403, r.text
    r = client.post("/v1/flex/resources", json=resource(two["a_meter"], code=code),
                    headers=auth(operator_key))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "enterprise"
    without_meter = resource(two["a_meter"], code=code)
    del without_meter["meter"]
    r = client.post("/v1/flex/resources", json=without_meter, headers=key)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "meter"
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM flex_resources WHERE code = :c"),
                           {"c": code}) == 0


@pytest.mark.parametrize("field,value", [
    ("code", "bad\u0000code"), ("max_reduction_kw", 1e300), ("max_reduction_kw", -1),
    ("rebound_fraction", 1.5), ("min_notice_minutes", 10**12), ("kind", "nuclear"),
    ("meter", "x" * 5000), ("cost_yuan_per_kwh", "NaN"),
])
def test_hostile_fields_are_named_and_store_nothing(client, two, engine, field, value):
    body = {**resource(two["a_meter"]), field: value}
    count = "SELECT count(*) FROM flex_resources"
    with engine.connect() as conn:
        before = conn.scalar(text(count))
    r = client.post("/v1/flex/resources", json=body, headers=auth(two["a_key"]))
    assert r.status_code == 422, r.text
    assert field in str(r.json())
    with engine.connect() as conn:
        assert conn.scalar(text(count)) == before


def test_a_pv_curtailment_resource_needs_a_pv_meter(client, two):
    r = client.post("/v1/flex/resources", json=resource(two["a_meter"], kind="pv_curtailment"),
                    headers=auth(two["a_key"]))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "meter"


def test_concurrent_registrations_store_one_row(client, two, engine):
    body = resource(two["a_meter"])
    key = auth(two["a_key"])
    with ThreadPoolExecutor(6) as pool:
        codes = list(pool.map(lambda _: client.post("/v1/flex/resources", json=body,
                                                    headers=key).status_code, range(6)))
    assert sorted(codes) == [200] * 5 + [201]
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM flex_resources WHERE code = :c"),
                           {"c": body["code"]}) == 1


def _quarter(t: datetime) -> datetime:
    return t.replace(minute=t.minute - t.minute % 15, second=0, microsecond=0)


def test_available_flexibility_is_bounded_by_recent_load_storage_and_pv(
        client, operator_key, make_enterprise, make_meter, make_key):
    ent = make_enterprise(zone="B区")["code"]
    key = auth(make_key("enterprise", enterprise=ent))
    op = auth(operator_key)
    meter = make_meter(ent)["code"]
    # a steady 100 kW load (25 kWh a quarter hour) over the last 8 days
    now = _quarter(datetime.now(UTC))
    rows = [f"{meter},{(now - timedelta(minutes=15 * i)).isoformat()},25"
            for i in range(1, 8 * 96)]
    r = client.post("/v1/readings", content="meter,ts,value\n" + "\n".join(rows),
                    headers={**op, "content-type": "text/csv"})
    assert r.status_code == 200, r.text
    for kind, kw in (("curtailable", 40.0), ("shiftable", 500.0)):
        r = client.post("/v1/flex/resources", json=resource(meter, kind=kind,
                                                            max_reduction_kw=kw), headers=key)
        assert r.status_code == 201, r.text
    station = unique("BESS")
    r = client.post("/v1/storage", headers=op, json={
        "code": station, "name": "s", "zone": "B区", "enterprise": ent,
        "battery": {"power_charge_mw": 1, "power_discharge_mw": 1, "energy_mwh": 2}})
    assert r.status_code == 201, r.text
    array = unique("PV")
    r = client.post("/v1/pv/arrays", headers=op, json={
        "code": array, "enterprise": ent, "capacity_kwp": 100, "tilt_deg": 20})
    assert r.status_code == 201, r.text

    listed = {x["code"]: x for x in client.get("/v1/flex/resources", headers=key).json()}
    assert listed[f"storage:{station}"]["derived_from"] == "storage"
    assert listed[f"pv:{array}"]["kind"] == "pv_curtailment"

    tomorrow = (now + timedelta(days=1)).astimezone(UTC).replace(hour=0, minute=0)
    r = client.get("/v1/flex/available", headers=key, params={
        "start": tomorrow.isoformat(), "end": (tomorrow + timedelta(days=1)).isoformat()})
    assert r.status_code == 200, r.text
    kinds = {k["kind"]: k for k in r.json()["kinds"]}
    assert all(len(k["steps"]) == 96 for k in kinds.values())
    assert {s["reduce_kw"] for s in kinds["curtailable"]["steps"]} == {40.0}
    assert {s["reduce_kw"] for s in kinds["shiftable"]["steps"]} == {100.0}  # bounded by load
    # an idle 1 MW / 2 MWh station at 50 % SOC: 1 MW either way in any single step
    assert {(s["reduce_kw"], s["increase_kw"]) for s in kinds["storage"]["steps"]} == {
        (1000.0, 1000.0)}
    pv = {s["start"][11:16]: s["increase_kw"] for s in kinds["pv_curtailment"]["steps"]}
    # 08:00 UTC is 16:00 in Lhasa's clock (UTC+8): sun up; 20:00 UTC is 04:00: dark
    assert 0 < max(pv.values()) <= 100 and pv["20:00"] == 0.0
    other = client.get("/v1/flex/available", headers=auth(make_key(
        "enterprise", enterprise=make_enterprise()["code"])), params={
        "start": tomorrow.isoformat(), "end": (tomorrow + timedelta(hours=1)).isoformat()})
    assert all(s["reduce_kw"] == 0 for k in other.json()["kinds"] for s in k["steps"])


def test_available_flexibility_says_when_a_meter_has_no_recent_readings(
        client, make_enterprise, make_meter, make_key):
    ent = make_enterprise()["code"]
    key = auth(make_key("enterprise", enterprise=ent))
    r = client.post("/v1/flex/resources", json=resource(make_meter(ent)["code"]), headers=key)
    assert r.status_code == 201
    start = _quarter(datetime.now(UTC)) + timedelta(hours=1)
    r = client.get("/v1/flex/available", headers=key, params={
        "start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()})
    curtailable = next(k for k in r.json()["kinds"] if k["kind"] == "curtailable")
    assert curtailable["status"] == "insufficient data" and curtailable["notes"]


@pytest.mark.parametrize("params,field", [
    ({"start": "2026-03-02T00:07:00+08:00", "end": "2026-03-02T01:00:00+08:00"}, "start"),
    ({"start": "2026-03-02T00:00:00+08:00", "end": "2026-03-01T00:00:00+08:00"}, "end"),
    ({"start": "2026-03-02T00:00:00+08:00", "end": "2026-04-02T00:00:00+08:00"}, "end"),
    ({"start": "9999-03-02T00:00:00+08:00", "end": "9999-03-03T00:00:00+08:00"}, "start"),
])
def test_bad_windows_are_named(client, operator_key, params, field):
    r = client.get("/v1/flex/available", headers=auth(operator_key), params=params)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == field


def test_a_published_plan_shapes_the_stations_flexibility(client, operator_key, make_enterprise,
                                                         make_key, make_meter):
    ent = make_enterprise()["code"]
    key = auth(make_key("enterprise", enterprise=ent))
    op = auth(operator_key)
    station = unique("BESS")
    r = client.post("/v1/storage", headers=op, json={
        "code": station, "name": "s", "zone": "A区", "enterprise": ent,
        "battery": {"power_charge_mw": 1, "power_discharge_mw": 1, "energy_mwh": 2}})
    assert r.status_code == 201, r.text
    day = (datetime.now(UTC) + timedelta(days=2)).astimezone(UTC).date()
    # the plan forecasts the day from the same day a week before: a load with a daily shape
    meter = make_meter(ent)["code"]
    week_ago = datetime.fromisoformat(f"{day - timedelta(days=7)}T00:00:00+08:00")
    rows = [f"{meter},{(week_ago + timedelta(minutes=15 * i)).isoformat()},"
            f"{100 + 150 * (32 <= i < 88)}" for i in range(96)]
    r = client.post("/v1/readings", content="meter,ts,value\n" + "\n".join(rows),
                    headers={**op, "content-type": "text/csv"})
    assert r.status_code == 200, r.text
    r = client.post(f"/v1/storage/{station}/plan", headers=op, params={"day": day.isoformat()})
    assert r.status_code == 201, r.text
    plan = r.json()
    rows = plan["schedule"] if isinstance(plan["schedule"], list) else None
    assert rows, plan.keys()
    start = datetime.fromisoformat(rows[0]["start"])
    r = client.get("/v1/flex/available", headers=key, params={
        "start": start.isoformat(), "end": (start + timedelta(days=1)).isoformat()})
    assert r.status_code == 200, r.text
    storage = next(k for k in r.json()["kinds"] if k["kind"] == "storage")
    assert not any("no published plan" in n for n in storage["notes"]), storage["notes"]
    by_start = {datetime.fromisoformat(s["start"]): s for s in storage["steps"]}
    for row in rows:
        step = by_start[datetime.fromisoformat(row["start"])]
        charge, discharge = row["charge_mw"] * 1000, row["discharge_mw"] * 1000
        # stopping a planned charge adds to what the station can take off the park's draw
        assert step["reduce_kw"] >= charge - 1e-3 and step["reduce_kw"] <= 2000 + 1e-3
        assert step["increase_kw"] >= discharge - 1e-3 and step["increase_kw"] <= 2000 + 1e-3
        if discharge > 0.5:
            assert step["reduce_kw"] <= 1000 - discharge + 1e-3
    assert any(r["charge_mw"] > 0 for r in rows) or any(r["discharge_mw"] > 0 for r in rows)
