"""Enterprises, meters, keys, problem+json and tenant isolation, through HTTP."""

from __future__ import annotations

from tests.conftest import auth, unique


def test_health_checks_the_database(client):
    r = client.get("/health")
    assert r.status_code == 200
    assert r.json()["database"] == "ok"


def test_openapi_docs_are_served(client):
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert "/v1/readings" in paths and "/v1/park/energy" in paths


def test_missing_and_unknown_keys_get_401_problem(client):
    r = client.get("/v1/meters")
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert {"type", "title", "status", "detail"} <= r.json().keys()
    r = client.get("/v1/meters", headers=auth("zcp_not-a-real-key"))
    assert r.status_code == 401


def test_operator_creates_enterprise_with_issue_shape(client, operator_key):
    code = unique("ENT")
    body = {"code": code, "name": "拉萨示范企业", "zone": "聂当工业园", "industry": "cement"}
    r = client.post("/v1/enterprises", json=body, headers=auth(operator_key))
    assert r.status_code == 201
    assert r.json() == body
    again = client.post("/v1/enterprises", json=body, headers=auth(operator_key))
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")


def test_enterprise_zone_must_be_one_of_the_four(client, operator_key):
    body = {"code": unique("ENT"), "name": "x", "zone": "C区"}
    r = client.post("/v1/enterprises", json=body, headers=auth(operator_key))
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert any(e["field"] == "zone" for e in r.json()["errors"])


def test_only_operators_create_enterprises(client, make_enterprise, make_key):
    ent = make_enterprise()
    for key in (make_key("enterprise", ent["code"]), make_key("planner")):
        body = {"code": unique("ENT"), "name": "x", "zone": "A区"}
        assert client.post("/v1/enterprises", json=body, headers=auth(key)).status_code == 403


def test_enterprise_key_sees_only_its_own_enterprise_and_meters(
    client, make_enterprise, make_meter, make_key
):
    mine, other = make_enterprise(), make_enterprise(zone="B区")
    my_meter, other_meter = make_meter(mine["code"]), make_meter(other["code"])
    key = make_key("enterprise", mine["code"])
    assert [e["code"] for e in client.get("/v1/enterprises", headers=auth(key)).json()] == [
        mine["code"]]
    assert [m["code"] for m in client.get("/v1/meters", headers=auth(key)).json()] == [
        my_meter["code"]]
    assert client.get(f"/v1/meters/{other_meter['code']}", headers=auth(key)).status_code == 404
    assert client.get(f"/v1/enterprises/{other['code']}", headers=auth(key)).status_code == 404
    r = client.get(f"/v1/meters/{other_meter['code']}/readings", headers=auth(key),
                   params={"start": "2026-01-01T00:00:00+08:00",
                           "end": "2026-01-02T00:00:00+08:00"})
    assert r.status_code == 404


def test_meter_shape_and_enterprise_adds_own_meter(client, make_enterprise, make_key):
    ent, other = make_enterprise(), make_enterprise()
    key = make_key("enterprise", ent["code"])
    code = unique("M")
    r = client.post("/v1/meters", headers=auth(key), json={
        "code": code, "carrier": "natural_gas", "register": "cumulative", "interval_minutes": 60})
    assert r.status_code == 201, r.text
    body = r.json()
    assert {k: body[k] for k in ("code", "enterprise", "carrier", "unit", "register",
                                  "interval_minutes")} == {
        "code": code, "enterprise": ent["code"], "carrier": "natural_gas", "unit": "Nm3",
        "register": "cumulative", "interval_minutes": 60}
    # Another enterprise's code reads as absent, the same as a code that does not exist.
    r = client.post("/v1/meters", headers=auth(key), json={
        "code": unique("M"), "enterprise": other["code"], "carrier": "water"})
    assert r.status_code == 404


def test_meter_rejects_unknown_carrier_and_foreign_unit(client, make_enterprise, operator_key):
    ent = make_enterprise()
    r = client.post("/v1/meters", headers=auth(operator_key), json={
        "code": unique("M"), "enterprise": ent["code"], "carrier": "plutonium"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "carrier"
    r = client.post("/v1/meters", headers=auth(operator_key), json={
        "code": unique("M"), "enterprise": ent["code"], "carrier": "water", "unit": "kWh"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "unit"


def test_planner_reads_but_cannot_write(client, make_enterprise, make_meter, make_key):
    ent = make_enterprise()
    meter = make_meter(ent["code"])
    key = make_key("planner")
    assert client.get(f"/v1/meters/{meter['code']}", headers=auth(key)).status_code == 200
    r = client.post("/v1/readings", headers={**auth(key), "content-type": "text/csv"},
                    content=f"meter,ts,value\n{meter['code']},2026-01-01T00:00:00+08:00,1\n")
    assert r.status_code == 403
