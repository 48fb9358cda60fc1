"""GET /v1/carbon/ledger from uploaded readings and recorded activity: every carrier, both
scope-2 methods, green meters, park = all enterprises, CSV, enterprise isolation; activity upload
rules (idempotent, audited revisions, all-or-nothing, problem+json naming row and field)."""

from __future__ import annotations

import pytest

from tests.carbon_api.carbon_api_helpers import (
    EF_HEAT,
    EF_LOC,
    EF_RES,
    K_ELEC,
    K_HEAT,
    C,
    ledger,
    ok,
    record,
    upload_readings,
)
from tests.conftest import auth, unique

T1 = "2026-04-03T10:00:00+08:00"
T2 = "2026-04-20T10:00:00+08:00"


@pytest.fixture
def firm(make_enterprise, make_meter, make_key):
    ent = make_enterprise()
    carriers = ["electricity_import", "electricity_export", "pv_generation", "natural_gas",
                "heat", "steam", "diesel", "gasoline", "lpg", "coal", "water"]
    meters = {c: make_meter(ent["code"], carrier=c)["code"] for c in carriers}
    return {"code": ent["code"], "meters": meters, "key": make_key("enterprise", ent["code"])}


def test_every_carrier_from_uploaded_readings(client, firm):
    m, key = firm["meters"], firm["key"]
    upload_readings(client, key, [
        (m["electricity_import"], T1, 1000), (m["electricity_import"], T2, 500),
        (m["electricity_export"], T1, 100), (m["pv_generation"], T1, 400),
        (m["natural_gas"], T1, 60), (m["natural_gas"], T2, 40),
        (m["heat"], T1, 2), (m["steam"], T1, 1), (m["diesel"], T1, 0.5),
        (m["gasoline"], T1, 0.2), (m["lpg"], T1, 0.1), (m["coal"], T1, 3), (m["water"], T1, 50),
    ])
    led = ok(ledger(client, key, "2026-04"))
    assert {k: led[k] for k in ("scope", "code", "period")} == {
        "scope": "enterprise", "code": firm["code"], "period": "2026-04"}
    assert led["factor_set"] == "cn-2026-11" and led["status"] == "open"
    assert led["inputs"]["energy"] == {
        "coal_t": 3.0, "diesel_t": 0.5, "electricity_export_kwh": 100.0,
        "electricity_import_kwh": 1500.0, "gasoline_t": 0.2, "heat_gj": 2.0, "lpg_t": 0.1,
        "natural_gas_nm3": 100.0, "pv_generation_kwh": 400.0, "steam_t": 1.0, "water_m3": 50.0}
    by = led["energy_by_carrier"]
    # electricity (当量值): import 1500 + PV 400 - export 100 = 1800 kWh x 0.1229 kgce/kWh
    assert by["electricity_import"]["tce"] - 0 == pytest.approx(1500 * K_ELEC)
    assert by["electricity_export"]["tce"] == pytest.approx(-100 * K_ELEC)
    assert by["pv_generation"]["tce"] == pytest.approx(400 * K_ELEC)
    assert by["natural_gas"]["tce"] == pytest.approx(100 * 1.33 / 1000)
    assert by["heat"]["tce"] == pytest.approx(2 * K_HEAT)
    assert by["steam"]["tce"] == pytest.approx(1 * 0.1286)  # GB/T 2589 128.6 kgce/t fallback
    assert by["diesel"]["tce"] == pytest.approx(0.5 * 1.4571)
    assert by["gasoline"]["tce"] == pytest.approx(0.2 * 1.4714)
    assert by["lpg"]["tce"] == pytest.approx(0.1 * 1.7143)
    assert by["coal"]["tce"] == pytest.approx(3 * 0.7143)
    assert by["water"]["tce"] == 0.0
    tce = (1800 * K_ELEC + 0.133 + 2 * K_HEAT + 0.1286 + 0.5 * 1.4571 + 0.2 * 1.4714
           + 0.1 * 1.7143 + 3 * 0.7143)
    assert led["energy_tce"] == pytest.approx(tce)
    fuels = (100 * 0.038931 * 15.3 / 1000 * 0.99 * C + 0.5 * 42.652 * 20.2 / 1000 * 0.98 * C
             + 0.2 * 43.070 * 18.9 / 1000 * 0.98 * C + 0.1 * 50.179 * 17.2 / 1000 * 0.98 * C
             + 3 * 20.908 * 26.37 / 1000 * 0.94 * C)
    # steam 1 t = 128.6 kgce / 34.12 kgce per GJ = 3.769 GJ; heat CO2 on 2 + 3.769 GJ
    heat = (2 + 0.1286 / K_HEAT) * EF_HEAT
    # net import 1500 - 100 = 1400 kWh = 1.4 MWh; no instruments: market = residual factor
    assert led["co2_by_source"] == pytest.approx({
        "fuels": fuels, "electricity": 1.4 * EF_RES, "heat": heat, "process": 0.0})
    assert led["co2_location_based_t"] == pytest.approx(fuels + heat + 1.4 * EF_LOC)
    assert led["co2_t"] == pytest.approx(fuels + heat + 1.4 * EF_RES)
    prov = led["provenance"]
    assert prov["meter_count"] == 11 and prov["readings"] == 13
    assert prov["factor_set"] == "cn-2026-11" and len(prov["reading_batches"]) == 1
    assert prov["months"] == {"2026-04": "live"}
    assert "no published provincial factor" in \
        led["factors_used"]["electricity_co2.national_average.2023"]["note"]


def test_scope2_methods_with_instruments_and_green_meter(
        client, make_enterprise, make_meter, make_key):
    ent = make_enterprise()
    grid = make_meter(ent["code"])["code"]
    green = make_meter(ent["code"], green_direct_supply=True)["code"]
    key = make_key("enterprise", ent["code"])
    upload_readings(client, key, [(grid, T1, 8000), (green, T1, 2000)])
    gec = unique("GEC")
    r = client.post("/v1/carbon/instruments", headers=auth(key), json=[
        {"id": gec, "kind": "gec", "period": "2026-04", "mwh": 1.5},
        {"id": unique("TR"), "kind": "green_power_trade", "period": "2026-04", "mwh": 3},
        {"id": unique("DL"), "kind": "direct_supply", "period": "2026-04", "mwh": 2}])
    assert ok(r)["inserted"] == 3
    r = record(client, key, [{"period": "2026-04", "quantity": "process_co2_t", "value": 0.25}])
    assert ok(r) | {} and r.json()["inserted"] == 1
    led = ok(ledger(client, key, "2026-04", ent["code"]))
    s2 = led["scope2_electricity"]
    # grid basis 10,000 kWh; direct supply 2 MWh matched to the 2 MWh green meter,
    # trades 3 MWh, certificates 1.5 MWh -> 6.5 MWh at zero, 3.5 MWh at the residual factor
    assert s2["instruments"]["direct_green_supply"]["applied_mwh"] == pytest.approx(2.0)
    assert s2["zero_carbon_grid_kwh"] == pytest.approx(6500)
    assert s2["market_based_t"] == pytest.approx(3.5 * EF_RES)
    # location-based: the metered direct green line at 0 too (policy), the rest 8 MWh at the
    # grid average
    assert s2["location_based_t"] == pytest.approx(8.0 * EF_LOC)
    assert led["co2_t"] == pytest.approx(3.5 * EF_RES + 0.25)
    assert led["co2_location_based_t"] == pytest.approx(8.0 * EF_LOC + 0.25)
    assert led["co2_by_source"]["process"] == 0.25
    assert led["provenance"]["direct_green_metered_kwh"] == 2000
    # certificates beyond the grid electricity are not applied (no double counting)
    r = client.post("/v1/carbon/instruments", headers=auth(key), json=[
        {"id": gec, "kind": "gec", "period": "2026-04", "mwh": 10}])
    assert ok(r)["revised"] == 1
    led = ok(ledger(client, key, "2026-04"))
    assert led["scope2_electricity"]["market_based_t"] == 0.0
    assert led["unused_instruments_mwh"] == pytest.approx(10 - (10 - 2 - 3))
    assert any("unused_instruments_mwh" in w for w in led["warnings"])


def test_quarter_and_year_sum_months_and_csv(client, make_enterprise, make_meter, make_key):
    ent = make_enterprise()
    m = make_meter(ent["code"])["code"]
    key = make_key("enterprise", ent["code"])
    upload_readings(client, key, [(m, "2026-01-10T00:00:00+08:00", 100),
                                  (m, "2026-03-31T23:45:00+08:00", 50),
                                  (m, "2026-04-01T00:00:00+08:00", 7)])
    q1 = ok(ledger(client, key, "2026-Q1"))
    assert q1["inputs"]["energy"]["electricity_import_kwh"] == 150.0
    year = ok(ledger(client, key, "2026"))
    assert year["inputs"]["energy"]["electricity_import_kwh"] == 157.0
    assert year["energy_tce"] == pytest.approx(157 * K_ELEC)
    r = ledger(client, key, "2026-Q1", format="csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    lines = r.text.splitlines()
    assert lines[0] == "scope,code,period,factor_set,section,key,value,unit"
    row = next(x for x in lines if ",total,energy_tce," in x)
    assert float(row.split(",")[6]) == pytest.approx(150 * K_ELEC)
    assert any(",input,electricity_import_kwh,150.0,kwh" in x for x in lines)


def test_park_is_all_enterprises(client, make_enterprise, make_meter, operator_key):
    # A month no other test uses: the park is exactly these two enterprises.
    a, b = make_enterprise(), make_enterprise()
    ma, mb = make_meter(a["code"])["code"], make_meter(b["code"], carrier="diesel")["code"]
    upload_readings(client, operator_key, [(ma, "2021-07-02T00:00:00+08:00", 2000),
                                           (mb, "2021-07-02T00:00:00+08:00", 1.0)])
    record(client, operator_key, [
        {"enterprise": a["code"], "period": "2021-07", "quantity": "value_added_10k_yuan",
         "value": 100},
        {"enterprise": b["code"], "period": "2021-07", "quantity": "value_added_10k_yuan",
         "value": 300}])
    park = ok(ledger(client, operator_key, "2021-07", scope="park"))
    assert park["code"] == "park"
    assert park["energy_tce"] == pytest.approx(2000 * K_ELEC + 1.4571)
    assert park["inputs"]["activity"]["value_added_10k_yuan"] == 400.0
    ind = ok(client.get("/v1/indicators", params={"scope": "park", "period": "2021-07"},
                        headers=auth(operator_key)))
    assert ind["indicators"]["energy_intensity_tce_per_10k_yuan"] == pytest.approx(
        (2000 * K_ELEC + 1.4571) / 400)


def test_enterprise_sees_only_its_own(client, make_enterprise, make_key, operator_key):
    mine, other = make_enterprise(), make_enterprise()
    key = make_key("enterprise", mine["code"])
    assert ledger(client, key, "2026-04").status_code == 200  # own, code implied
    r = ledger(client, key, "2026-04", other["code"])
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem")
    assert ledger(client, key, "2026-04", scope="park").status_code == 403
    for path, params in (("/v1/indicators", {"period": "2026"}),
                         ("/v1/targets/status", {"as_of": "2026"})):
        r = client.get(path, params={"scope": "enterprise", "code": other["code"], **params},
                       headers=auth(key))
        assert r.status_code == 404
    r = record(client, key, [{"enterprise": other["code"], "period": "2026-04",
                              "quantity": "process_co2_t", "value": 1}])
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "enterprise"
    assert ok(ledger(client, operator_key, "2026-04", other["code"]))["code"] == other["code"]
    assert client.get("/v1/carbon/report", params={"period": "2026-04"},
                      headers=auth(key)).status_code == 403


def test_activity_idempotent_audited_all_or_nothing(client, make_enterprise, make_key):
    ent = make_enterprise()
    key, key2 = make_key("enterprise", ent["code"]), make_key("operator")
    rows = [{"enterprise": ent["code"], "period": "2026", "quantity": "value_added_10k_yuan",
             "value": 5000},
            {"enterprise": ent["code"], "period": "2026-Q2", "quantity": "cod_kg", "value": 12}]
    first = ok(record(client, key, rows))
    assert (first["inserted"], first["unchanged"], first["revised"]) == (2, 0, 0)
    again = ok(record(client, key, rows))
    assert (again["inserted"], again["unchanged"], again["revised"]) == (0, 2, 0)
    csv_body = f"enterprise,period,quantity,value\n{ent['code']},2026,value_added_10k_yuan,5200\n"
    r = client.post("/v1/carbon/activity", content=csv_body.encode(),
                    headers={**auth(key2), "content-type": "text/csv"})
    assert ok(r)["revised"] == 1
    revs = ok(client.get("/v1/carbon/activity/revisions", params={"enterprise": ent["code"]},
                         headers=auth(key)))
    assert len(revs) == 1
    assert (revs[0]["old_value"], revs[0]["new_value"]) == (5000, 5200)
    assert revs[0]["revised_by_key_prefix"] == key2[:8] and revs[0]["revised_at"]
    assert revs[0]["old_batch"] == first["batch"]
    bad = [{"period": "2026-05", "quantity": "process_co2_t", "value": 1},
           {"period": "2026-13", "quantity": "process_co2_t", "value": 1},
           {"period": "2026-05", "quantity": "co2_kg", "value": 1},
           {"period": "2026-06", "quantity": "process_co2_t", "value": -3},
           {"period": "2026-05", "quantity": "process_co2_t", "value": 2}]
    r = record(client, key, bad)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    got = {(e["row"], e["field"]) for e in r.json()["errors"]}
    assert got == {(2, "period"), (3, "quantity"), (4, "value"), (5, "quantity")}
    listed = ok(client.get("/v1/carbon/activity", params={"enterprise": ent["code"]},
                           headers=auth(key)))
    assert {(x["period"], x["quantity"], x["value"]) for x in listed} == {
        ("2026", "value_added_10k_yuan", 5200.0), ("2026-Q2", "cod_kg", 12.0)}


def test_bad_query_parameters_are_problems(client, operator_key):
    r = client.get("/v1/carbon/ledger", params={"scope": "park", "period": "2026-13"},
                   headers=auth(operator_key))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "period"
    r = client.get("/v1/carbon/ledger", params={"scope": "zone", "period": "2026"},
                   headers=auth(operator_key))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "scope"
