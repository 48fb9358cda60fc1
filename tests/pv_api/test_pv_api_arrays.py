"""PV arrays and weather stations through HTTP: create, read, validation, tenant isolation."""

from __future__ import annotations

import pytest

from tests.conftest import auth, unique
from tests.pv_api.pv_api_helpers import make_array, make_station


def test_operator_creates_and_reads_an_array(client, operator_key, make_enterprise, make_meter):
    ent = make_enterprise(zone="聂当工业园")["code"]
    meter = make_meter(ent, carrier="pv_generation")["code"]
    a = make_array(client, operator_key, ent, capacity_kwp=240.0, tilt_deg=10.0,
                   azimuth_deg=170.0, mounting="open_rack", meter=meter, install_year=2026)
    assert a["enterprise"] == ent
    assert a["zone"] == "聂当工业园"  # the zone is the enterprise's
    assert a["meter"] == meter
    # no AC rating given: DC/AC ratio 1.2 (pv_defaults.yaml) → 240 / 1.2 = 200 kW
    assert a["ac_kw"] == pytest.approx(200.0)
    # PVWatts default losses 2+3+0+2+2+0.5+1.5+1+3 % combined multiplicatively = 14.08 %
    assert a["total_loss_pct"] == pytest.approx(14.08, abs=0.005)
    r = client.get(f"/v1/pv/arrays/{a['code']}", headers=auth(operator_key))
    assert r.status_code == 200 and r.json() == a
    listed = client.get("/v1/pv/arrays", params={"enterprise": ent},
                        headers=auth(operator_key)).json()
    assert [x["code"] for x in listed] == [a["code"]]


def test_enterprise_sees_and_creates_only_its_own_arrays(client, operator_key, make_enterprise,
                                                         make_key):
    mine, other = make_enterprise()["code"], make_enterprise(zone="B区")["code"]
    key = make_key("enterprise", mine)
    own = make_array(client, key, None)  # an enterprise key needs no enterprise field
    assert own["enterprise"] == mine
    theirs = make_array(client, operator_key, other)
    r = client.post("/v1/pv/arrays", headers=auth(key),
                    json={"code": unique("PV"), "enterprise": other, "capacity_kwp": 10,
                          "tilt_deg": 10})
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert client.get(f"/v1/pv/arrays/{theirs['code']}", headers=auth(key)).status_code == 404
    codes = {x["code"] for x in client.get("/v1/pv/arrays", headers=auth(key)).json()}
    assert own["code"] in codes and theirs["code"] not in codes
    assert {x["enterprise"] for x in client.get("/v1/pv/arrays", headers=auth(key)).json()} == {
        mine}
    planner = make_key("planner")
    r = client.post("/v1/pv/arrays", headers=auth(planner),
                    json={"code": unique("PV"), "enterprise": mine, "capacity_kwp": 10,
                          "tilt_deg": 10})
    assert r.status_code == 403


@pytest.mark.parametrize(("change", "field"), [
    ({"tilt_deg": 95}, "tilt_deg"),
    ({"azimuth_deg": -5}, "azimuth_deg"),
    ({"capacity_kwp": 0}, "capacity_kwp"),
    ({"mounting": "tracker"}, "mounting"),
    ({"losses_pct": {"dust": 5}}, "losses_pct.dust"),
    ({"losses_pct": {"soiling": 120}}, "losses_pct.soiling"),
    ({"weather_station": "NO-SUCH-STATION"}, "weather_station"),
])
def test_invalid_array_names_the_field(client, operator_key, make_enterprise, change, field):
    ent = make_enterprise()["code"]
    body = {"code": unique("PV"), "enterprise": ent, "capacity_kwp": 10, "tilt_deg": 10, **change}
    r = client.post("/v1/pv/arrays", json=body, headers=auth(operator_key))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert field in [e["field"] for e in r.json()["errors"]]


def test_generation_meter_must_be_pv_and_the_enterprises_own(client, operator_key,
                                                             make_enterprise, make_meter):
    ent, other = make_enterprise()["code"], make_enterprise()["code"]
    grid = make_meter(ent, carrier="electricity_import")["code"]
    foreign = make_meter(other, carrier="pv_generation")["code"]
    for meter in (grid, foreign):
        r = client.post("/v1/pv/arrays", headers=auth(operator_key),
                        json={"code": unique("PV"), "enterprise": ent, "capacity_kwp": 10,
                              "tilt_deg": 10, "meter": meter})
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "meter"
    # one meter measures one array
    own = make_meter(ent, carrier="pv_generation")["code"]
    make_array(client, operator_key, ent, meter=own)
    r = client.post("/v1/pv/arrays", headers=auth(operator_key),
                    json={"code": unique("PV"), "enterprise": ent, "capacity_kwp": 10,
                          "tilt_deg": 10, "meter": own})
    assert r.status_code == 409


def test_duplicate_array_code_conflicts(client, operator_key, make_enterprise):
    ent = make_enterprise()["code"]
    a = make_array(client, operator_key, ent)
    r = client.post("/v1/pv/arrays", headers=auth(operator_key),
                    json={"code": a["code"], "enterprise": ent, "capacity_kwp": 10,
                          "tilt_deg": 10})
    assert r.status_code == 409


def test_weather_station_meters_must_carry_weather_quantities(client, operator_key,
                                                              make_enterprise, make_meter,
                                                              make_key):
    ent = make_enterprise()["code"]
    kwh = make_meter(ent, carrier="electricity_import")["code"]
    temp = make_meter(ent, carrier="temp_air")["code"]
    r = client.post("/v1/pv/weather-stations", headers=auth(operator_key),
                    json={"code": unique("WS"), "ghi_meter": kwh, "temp_air_meter": temp})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "ghi_meter"
    station = make_station(client, operator_key, make_meter, ent, ("ghi", "temp_air"))
    assert set(station["meters"]) == {"ghi", "temp_air"}
    # enterprises may read the park's stations but not register one
    key = make_key("enterprise", ent)
    codes = [s["code"] for s in client.get("/v1/pv/weather-stations", headers=auth(key)).json()]
    assert station["code"] in codes
    r = client.post("/v1/pv/weather-stations", headers=auth(key),
                    json={"code": unique("WS"), "ghi_meter": station["meters"]["ghi"],
                          "temp_air_meter": temp})
    assert r.status_code == 403
