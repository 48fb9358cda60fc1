"""Factors a verifier can choose and see: GET /v1/carbon/factor-sets; ledger, indicators and
report under factor_set= and basis= (echoed); the CSV carries every factor with unit and
source; value added in 万元; the zh report in Chinese throughout."""

from __future__ import annotations

import re

import pytest

from tests.carbon_api.carbon_api_helpers import K_ELEC, ledger, ok, record, upload_readings
from tests.conftest import auth

GEN_COAL_2022 = 300.7e-6  # tce/kWh: 300.7 gce/kWh, 等价值 (the only year in cn-2026-11)


def test_factor_sets_are_listed_with_sources(client, make_enterprise, make_key):
    key = make_key("enterprise", make_enterprise()["code"])
    sets = ok(client.get("/v1/carbon/factor-sets", headers=auth(key)))
    cn = next(s for s in sets if s["version"] == "cn-2026-11")
    assert cn["default"] is True and 2023 in cn["electricity_factor_years"]
    res = next(f for f in cn["key_factors"] if f["key"].startswith("electricity_co2.national_res"))
    assert res["value"] == 0.6096 and res["unit"] == "tCO2/MWh" and "MEE" in res["source"]


def test_basis_and_factor_set_are_chosen_and_echoed(client, make_enterprise, make_meter,
                                                    make_key):
    ent = make_enterprise()
    m = make_meter(ent["code"])["code"]
    key = make_key("enterprise", ent["code"])
    upload_readings(client, key, [(m, "2026-07-03T10:00:00+08:00", 1000)])
    ok(record(client, key, [{"period": "2026-07", "quantity": "value_added_10k_yuan",
                             "value": 2}]))
    cal = ok(ledger(client, key, "2026-07"))
    assert (cal["basis"], cal["basis_zh"], cal["factor_set"]) == ("calorific", "当量值",
                                                                  "cn-2026-11")
    assert cal["energy_tce"] == pytest.approx(1000 * K_ELEC)
    eq = ok(ledger(client, key, "2026-07", basis="equivalent", factor_set="cn-2026-11"))
    assert (eq["basis"], eq["basis_zh"]) == ("equivalent", "等价值")
    assert eq["energy_tce"] == pytest.approx(1000 * GEN_COAL_2022)
    assert eq["recomputed"]["from_basis"] == "calorific"
    assert eq["co2_t"] == pytest.approx(cal["co2_t"])  # CO2 does not depend on the tce basis
    ind = ok(client.get("/v1/indicators", headers=auth(key), params={
        "scope": "enterprise", "period": "2026-07", "basis": "equivalent"}))
    assert ind["basis"] == "equivalent"
    assert ind["indicators"]["energy_intensity_tce_per_10k_yuan"] == pytest.approx(
        1000 * GEN_COAL_2022 / 2)
    r = ledger(client, key, "2026-07", factor_set="cn-1999-01")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "factor_set"
    r = ledger(client, key, "2026-07", basis="joules")
    assert r.status_code == 422

    csv_text = ledger(client, key, "2026-07", format="csv").text
    lines = csv_text.splitlines()
    assert any(",activity,value_added_10k_yuan,2.0,万元" in x for x in lines)
    assert not any("yuan" in x.rsplit(",", 1)[-1] for x in lines)
    factor = [x for x in lines if ",factor,electricity_co2.national_residual.2023," in x]
    assert factor and factor[0].endswith(",0.6096,tCO2/MWh")
    source = [x for x in lines if ",factor_source,electricity_co2.national_residual.2023," in x]
    assert source and "MEE" in source[0] and "(2023)" in source[0]
    assert any(",provenance,basis,calorific 当量值," in x for x in lines)


def test_zh_report_is_chinese_throughout(client, operator_key, make_enterprise, make_meter):
    ent = make_enterprise()
    m = make_meter(ent["code"])["code"]
    upload_readings(client, operator_key, [(m, "2026-02-03T00:00:00+08:00", 500)])
    html = client.get("/v1/carbon/report", headers=auth(operator_key),
                      params={"period": "2026-02", "lang": "zh"}).text
    assert "电力（购入）" in html and "万元" in html and "当量值" in html
    assert "本月更正记录" in html and "单位工业增加值能耗 ≤0.07" in html
    text = re.sub(r"<svg.*?</svg>", "", html, flags=re.S)  # plots are checked elsewhere
    for english in ("10k yuan", "electricity_import", "energy_intensity_2030", "phase_1",
                    "no_data", "on_track", "off_track", "incomplete", "insufficient_data"):
        assert english not in text, english
    en = client.get("/v1/carbon/report", headers=auth(operator_key),
                    params={"period": "2026-02", "lang": "en", "basis": "equivalent"}).text
    assert "Electricity import" in en and "equivalent" in en
