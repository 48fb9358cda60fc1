"""Roofs and rooftop potential through HTTP."""

from __future__ import annotations

import pytest

from energy.pv.arrays import pv_defaults
from tests.conftest import auth

PACKING_KWP_PER_M2 = float(pv_defaults()["rooftop"]["packing_kwp_per_m2"])
DEFAULT_USABLE = float(pv_defaults()["rooftop"]["usable_share"])


def _roof(client, key, **body):
    r = client.post("/v1/pv/roofs", json=body, headers=auth(key))
    assert r.status_code == 201, r.text
    return r.json()


def test_rooftop_potential_per_enterprise(client, operator_key, make_enterprise, make_key):
    ent = make_enterprise(zone="聂当工业园")["code"]
    other = make_enterprise(zone="聂当工业园")["code"]
    key = make_key("enterprise", ent)
    _roof(client, key, name="仓库", roof_area_m2=1000.0, usable_share=0.5)
    _roof(client, key, name="厂房", roof_area_m2=2000.0)  # no survey share: the default
    _roof(client, operator_key, enterprise=other, name="办公楼", roof_area_m2=800.0,
          usable_share=0.4)
    r = client.get("/v1/pv/potential", params={"by": "enterprise"}, headers=auth(key))
    assert r.status_code == 200, r.text
    body = r.json()
    assert [row["enterprise"] for row in body["rows"]] == [ent]  # its own roofs only
    row = body["rows"][0]
    # installable = area × usable share × packing: 1000 × 0.5 × p + 2000 × default × p
    expected_kwp = (1000.0 * 0.5 + 2000.0 * DEFAULT_USABLE) * PACKING_KWP_PER_M2
    assert row["installable_kwp"] == pytest.approx(expected_kwp)
    assert row["roofs"] == 2 and row["roof_area_m2"] == pytest.approx(3000.0)
    assert row["annual_yield_kwh"] == pytest.approx(
        row["installable_kwp"] * row["specific_yield_kwh_per_kwp"])
    # flat-ish (10°) roofs on the typical Lhasa year: at least the ≈1,500 kWh/kWp reported by
    # plateau plants near Lhasa, and below the clear-sky ceiling of such an array (~2,400)
    assert 1450.0 < row["specific_yield_kwh_per_kwp"] < 2400.0
    assert body["total"]["installable_kwp"] == pytest.approx(expected_kwp)

    everyone = client.get("/v1/pv/potential", params={"by": "enterprise"},
                          headers=auth(operator_key)).json()
    by_ent = {x["enterprise"]: x for x in everyone["rows"]}
    assert by_ent[other]["installable_kwp"] == pytest.approx(800.0 * 0.4 * PACKING_KWP_PER_M2)
    zones = client.get("/v1/pv/potential", params={"by": "zone"},
                       headers=auth(operator_key)).json()
    nd = next(z for z in zones["rows"] if z["zone"] == "聂当工业园")
    assert nd["installable_kwp"] >= expected_kwp + 800.0 * 0.4 * PACKING_KWP_PER_M2 - 1e-6

    mine = client.get("/v1/pv/roofs", headers=auth(key)).json()
    assert {x["name"] for x in mine} == {"仓库", "厂房"}


def test_roof_validation_and_isolation(client, operator_key, make_enterprise, make_key):
    ent, other = make_enterprise()["code"], make_enterprise()["code"]
    key = make_key("enterprise", ent)
    for body, field in (({"name": "a", "roof_area_m2": -5}, "roof_area_m2"),
                        ({"name": "a", "roof_area_m2": 100, "usable_share": 1.5}, "usable_share"),
                        ({"roof_area_m2": 100}, "name")):
        r = client.post("/v1/pv/roofs", json=body, headers=auth(key))
        assert r.status_code == 422
        assert field in [e["field"] for e in r.json()["errors"]]
    r = client.post("/v1/pv/roofs", json={"enterprise": other, "name": "x", "roof_area_m2": 10},
                    headers=auth(key))
    assert r.status_code == 404
    _roof(client, key, name="屋顶", roof_area_m2=100.0)
    r = client.post("/v1/pv/roofs", json={"name": "屋顶", "roof_area_m2": 50.0},
                    headers=auth(key))
    assert r.status_code == 409
    r = client.post("/v1/pv/roofs", json={"name": "op", "roof_area_m2": 50.0},
                    headers=auth(operator_key))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "enterprise"


def test_potential_gives_p50_and_p90_yields(client, operator_key, make_enterprise):
    ent = make_enterprise()["code"]
    _roof(client, operator_key, enterprise=ent, name="厂房", roof_area_m2=4000.0,
          usable_share=0.5, tilt_deg=25.0, azimuth_deg=180.0)
    body = client.get("/v1/pv/potential", params={"by": "enterprise"},
                      headers=auth(operator_key)).json()
    row = next(x for x in body["rows"] if x["enterprise"] == ent)
    # P50 = the typical year's yield; P90 = P50 (1 - 1.2816 x 0.031) with the plateau's
    # inter-annual variability of annual GHI (data file)
    assert row["p50_kwh"] == pytest.approx(row["annual_yield_kwh"])
    assert row["p90_kwh"] == pytest.approx(row["annual_yield_kwh"] * (1 - 1.2816 * 0.031),
                                           rel=1e-4)
    assert body["total"]["p90_kwh"] < body["total"]["p50_kwh"]
