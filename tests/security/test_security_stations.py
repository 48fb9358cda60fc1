"""Weather stations are park-shared or private to their enterprise: another enterprise never
lists, attaches or reads a private station's measured weather."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import auth, unique
from tests.pv_api.pv_api_helpers import clear_day_weather, make_station, upload_weather

DAY = "2026-05-07"
SPAN = {"start": f"{DAY}T00:00:00+08:00", "end": "2026-05-08T00:00:00+08:00",
        "resolution": "day", "weather": "measured"}


@pytest.fixture(scope="module")
def world(client, operator_key, make_enterprise, make_meter, make_key) -> dict[str, Any]:
    a = make_enterprise()["code"]
    b = make_enterprise()["code"]
    ops = make_enterprise()["code"]
    private = make_station(client, operator_key, make_meter, b, ("ghi", "temp_air"))
    # B's station measured a dull day (GHI × 0.3); the park's shared station a clear one
    upload_weather(client, operator_key, private,
                   clear_day_weather(DAY).assign(ghi=lambda w: w["ghi"] * 0.3))
    body: dict[str, Any] = {"code": unique("WS-PARK"), "shared": True}
    for q in ("ghi", "temp_air"):
        body[f"{q}_meter"] = make_meter(ops, carrier=q)["code"]
    r = client.post("/v1/pv/weather-stations", json=body, headers=auth(operator_key))
    assert r.status_code == 201, r.text
    shared = r.json()
    return {"a": a, "b": b, "a_key": make_key("enterprise", a), "b_key": make_key("enterprise", b),
            "private": private, "shared": shared}


def test_a_private_station_is_listed_only_to_its_enterprise(client, world, operator_key):
    private = world["private"]
    assert world["shared"].get("shared") is True and private.get("shared") is False
    listing = client.get("/v1/pv/weather-stations", headers=auth(world["a_key"]))
    assert listing.status_code == 200
    assert private["code"] not in listing.text
    for meter in private["meters"].values():
        assert meter not in listing.text
    assert world["b"] not in listing.text
    # the shared station is listed to A, without its owner or meters
    mine = {s["code"]: s for s in listing.json()}
    assert mine[world["shared"]["code"]]["meters"] == {}
    assert mine[world["shared"]["code"]]["enterprise"] is None
    own = client.get("/v1/pv/weather-stations", headers=auth(world["b_key"])).json()
    assert {s["code"]: s for s in own}[private["code"]]["meters"] == private["meters"]
    everything = client.get("/v1/pv/weather-stations", headers=auth(operator_key)).text
    assert private["code"] in everything


def test_another_enterprise_cannot_attach_a_private_station(client, world, operator_key):
    def attach(key: str, station: str) -> Any:
        return client.post("/v1/pv/arrays", headers=auth(key), json={
            "code": unique("PV"), "enterprise": world["a"], "capacity_kwp": 50,
            "tilt_deg": 20, "weather_station": station})

    foreign = attach(world["a_key"], world["private"]["code"])
    missing = attach(world["a_key"], unique("NO-SUCH-WS"))
    assert foreign.status_code == missing.status_code == 422
    assert foreign.json() == missing.json()  # the same answer as for a station that isn't there
    # not even an operator may attach B's private station to A's array
    assert attach(operator_key, world["private"]["code"]).status_code == 422
    ok = attach(world["a_key"], world["shared"]["code"])
    assert ok.status_code == 201, ok.text
    # B attaches its own station
    own = client.post("/v1/pv/arrays", headers=auth(world["b_key"]), json={
        "code": unique("PV"), "capacity_kwp": 50, "tilt_deg": 20,
        "weather_station": world["private"]["code"]})
    assert own.status_code == 201, own.text


def test_measured_weather_of_a_private_station_is_never_read_for_another_enterprise(
        client, engine, world, operator_key):
    # B's own array reads its station's dull day
    b_array = client.post("/v1/pv/arrays", headers=auth(world["b_key"]), json={
        "code": unique("PV"), "capacity_kwp": 100, "tilt_deg": 20,
        "weather_station": world["private"]["code"]}).json()
    b_est = client.get(f"/v1/pv/arrays/{b_array['code']}/estimate", params=SPAN,
                       headers=auth(world["b_key"]))
    assert b_est.status_code == 200, b_est.text
    assert b_est.json()["weather_station"] == world["private"]["code"]
    # an A array linked to B's private station (e.g. before the station was made private)
    a_array = client.post("/v1/pv/arrays", headers=auth(world["a_key"]), json={
        "code": unique("PV"), "capacity_kwp": 100, "tilt_deg": 20}).json()
    with engine.begin() as conn:
        conn.execute(text(
            "UPDATE pv_arrays SET weather_station_id = (SELECT id FROM weather_stations"
            " WHERE code = :ws) WHERE code = :a"),
            {"ws": world["private"]["code"], "a": a_array["code"]})
    for key in (world["a_key"], operator_key):
        r = client.get(f"/v1/pv/arrays/{a_array['code']}/estimate", params=SPAN,
                       headers=auth(key))
        # either no measured weather at all, or the park's shared station's: never B's
        assert world["private"]["code"] not in r.text
        if r.status_code == 200:
            assert r.json()["weather_station"] != world["private"]["code"]
            assert r.json()["total"] != pytest.approx(b_est.json()["total"])
        else:
            assert r.status_code == 422


def test_an_operator_shares_a_station_and_makes_it_private_again(client, world, make_enterprise,
                                                                 make_meter, operator_key):
    c = make_enterprise()["code"]
    station = make_station(client, operator_key, make_meter, c, ("ghi", "temp_air"))
    a_key = auth(world["a_key"])

    def listed() -> bool:
        codes = [s["code"] for s in client.get("/v1/pv/weather-stations", headers=a_key).json()]
        return station["code"] in codes

    assert not listed()
    path = f"/v1/pv/weather-stations/{station['code']}"
    r = client.patch(path, headers=auth(operator_key), json={"shared": True})
    assert r.status_code == 200 and r.json()["shared"] is True
    assert listed()
    assert client.patch(path, headers=a_key, json={"shared": False}).status_code == 403
    client.patch(path, headers=auth(operator_key), json={"shared": False})
    assert not listed()
    assert client.patch("/v1/pv/weather-stations/NO-SUCH", headers=auth(operator_key),
                        json={"shared": True}).status_code == 404
