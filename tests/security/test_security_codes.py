"""Meter and PV-array codes are unique per enterprise: creating one with a code another
enterprise uses succeeds like any new code, so a key never learns what other tenants named
their meters and arrays. Operators and planners name the enterprise when a code is shared."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import auth, unique

DAY = "2026-04-01"
SPAN = {"start": f"{DAY}T00:00:00+08:00", "end": "2026-04-02T00:00:00+08:00"}


@pytest.fixture(scope="module")
def pair(client, operator_key, make_enterprise, make_meter, make_key) -> dict[str, Any]:
    a = make_enterprise(zone="A区")["code"]
    b = make_enterprise(zone="B区")["code"]
    meter = make_meter(b)["code"]
    array = unique("PV-B")
    r = client.post("/v1/pv/arrays", headers=auth(operator_key),
                    json={"code": array, "enterprise": b, "capacity_kwp": 100, "tilt_deg": 20})
    assert r.status_code == 201, r.text
    return {"a": a, "b": b, "meter": meter, "array": array,
            "a_key": auth(make_key("enterprise", a)), "b_key": auth(make_key("enterprise", b))}


def test_a_meter_code_another_enterprise_uses_is_not_revealed(client, pair, operator_key):
    a_key, code = pair["a_key"], pair["meter"]
    fresh = client.post("/v1/meters", headers=a_key,
                        json={"code": unique("M"), "carrier": "electricity_import"})
    taken_elsewhere = client.post("/v1/meters", headers=a_key,
                                  json={"code": code, "carrier": "electricity_import"})
    assert fresh.status_code == taken_elsewhere.status_code == 201, taken_elsewhere.text
    assert pair["b"] not in taken_elsewhere.text
    assert taken_elsewhere.json()["enterprise"] == pair["a"]
    # only the enterprise's own codes conflict
    again = client.post("/v1/meters", headers=a_key,
                        json={"code": code, "carrier": "electricity_import"})
    assert again.status_code == 409 and pair["b"] not in again.text

    # each key reads its own meter under the shared code
    assert client.get(f"/v1/meters/{code}", headers=a_key).json()["enterprise"] == pair["a"]
    assert client.get(f"/v1/meters/{code}",
                      headers=pair["b_key"]).json()["enterprise"] == pair["b"]
    # an operator sees both and names the enterprise
    op = auth(operator_key)
    ambiguous = client.get(f"/v1/meters/{code}", headers=op)
    assert ambiguous.status_code == 409
    assert ambiguous.json()["enterprises"] == sorted([pair["a"], pair["b"]])
    named = client.get(f"/v1/meters/{code}", headers=op, params={"enterprise": pair["b"]})
    assert named.status_code == 200 and named.json()["enterprise"] == pair["b"]


def test_uploads_under_a_shared_code_land_in_the_senders_meter(client, pair, operator_key):
    a_key, code = pair["a_key"], pair["meter"]
    if client.get(f"/v1/meters/{code}", headers=a_key).status_code == 404:
        assert client.post("/v1/meters", headers=a_key,
                           json={"code": code, "carrier": "electricity_import"}
                           ).status_code == 201
    csv = f"meter,ts,value\n{code},{DAY}T10:00:00+08:00,5\n"
    r = client.post("/v1/readings", content=csv,
                    headers={**a_key, "content-type": "text/csv"})
    assert r.status_code == 200, r.text
    op = auth(operator_key)

    def values(enterprise: str) -> list[float]:
        r = client.get(f"/v1/meters/{code}/readings", headers=op,
                       params={**SPAN, "enterprise": enterprise})
        assert r.status_code == 200, r.text
        return [p["value"] for p in r.json()["points"]]

    assert values(pair["a"]) == [5.0]
    assert values(pair["b"]) == []
    # an operator cannot upload under a code two enterprises use: the row is refused, not guessed
    r = client.post("/v1/readings", content=csv, headers={**op, "content-type": "text/csv"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "meter"
    assert values(pair["a"]) == [5.0]


def test_an_array_code_another_enterprise_uses_is_not_revealed(client, pair, operator_key):
    a_key, code = pair["a_key"], pair["array"]
    r = client.post("/v1/pv/arrays", headers=a_key,
                    json={"code": code, "capacity_kwp": 50, "tilt_deg": 10})
    assert r.status_code == 201, r.text
    assert pair["b"] not in r.text
    assert client.post("/v1/pv/arrays", headers=a_key,
                       json={"code": code, "capacity_kwp": 50, "tilt_deg": 10}
                       ).status_code == 409
    assert client.get(f"/v1/pv/arrays/{code}", headers=a_key).json()["capacity_kwp"] == 50
    op = auth(operator_key)
    assert client.get(f"/v1/pv/arrays/{code}", headers=op).status_code == 409
    b_array = client.get(f"/v1/pv/arrays/{code}", headers=op, params={"enterprise": pair["b"]})
    assert b_array.json()["capacity_kwp"] == 100
    est = client.get(f"/v1/pv/arrays/{code}/estimate", headers=op,
                     params={**SPAN, "resolution": "day", "enterprise": pair["a"]})
    assert est.status_code == 200 and est.json()["capacity_kwp"] == 50
    # the park estimate counts both arrays, each in its enterprise's zone
    park = client.get("/v1/pv/estimate", headers=op,
                      params={**SPAN, "resolution": "day", "weather": "clearsky"}).json()
    zones = {z["zone"]: z for z in park["zones"]}
    assert zones["A区"]["capacity_kwp"] >= 50 and zones["B区"]["capacity_kwp"] >= 100
    mine = client.get("/v1/pv/estimate", headers=a_key,
                      params={**SPAN, "resolution": "day", "weather": "clearsky"}).json()
    assert [z["capacity_kwp"] for z in mine["zones"]] == [50]
