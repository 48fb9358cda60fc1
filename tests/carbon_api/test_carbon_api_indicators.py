"""GET /v1/indicators and /v1/targets/status (hand-computed), and the monthly report."""

from __future__ import annotations

import pytest

from tests.carbon_api.carbon_api_helpers import (
    EF_LOC,
    EF_RES,
    K_ELEC,
    C,
    ok,
    record,
    upload_readings,
)
from tests.conftest import auth, unique

GAS_CO2_PER_NM3 = 0.038931 * 15.3 / 1000 * 0.99 * C  # GJ/Nm3 x tC/GJ x oxidation x 44/12


@pytest.fixture
def firm(client, make_enterprise, make_meter, make_key):
    ent = make_enterprise()
    code = ent["code"]
    grid, pv = make_meter(code)["code"], make_meter(code, carrier="pv_generation")["code"]
    gas = make_meter(code, carrier="natural_gas")["code"]
    key = make_key("enterprise", code)
    upload_readings(client, key, [
        (grid, "2025-06-01T00:00:00+08:00", 10_000),  # base year
        (grid, "2026-06-01T00:00:00+08:00", 8_000), (pv, "2026-06-01T12:00:00+08:00", 1_000),
        (gas, "2026-06-01T00:00:00+08:00", 100)])
    ok(record(client, key, [
        {"period": "2025", "quantity": "value_added_10k_yuan", "value": 20},
        {"period": "2026", "quantity": "value_added_10k_yuan", "value": 25},
        {"period": "2026", "quantity": "solid_waste_generated_t", "value": 100},
        {"period": "2026", "quantity": "solid_waste_utilised_t", "value": 90},
        {"period": "2026", "quantity": "solid_waste_utilised_from_storage_t", "value": 5},
        {"period": "2026", "quantity": "waste_heat_available_gj", "value": 50},
        {"period": "2026", "quantity": "waste_heat_used_gj", "value": 20},
        {"period": "2026", "quantity": "water_withdrawn_m3", "value": 300},
        {"period": "2026", "quantity": "water_reused_m3", "value": 900},
        {"period": "2026", "quantity": "cod_kg", "value": 2},
    ]))
    ok(client.post("/v1/carbon/instruments", headers=auth(key), json=[
        {"id": unique("GEC"), "kind": "gec", "period": "2026-06", "mwh": 2}]))
    return {"code": code, "key": key}


def _indicators(client, key, period, code):
    return ok(client.get("/v1/indicators", headers=auth(key),
                         params={"scope": "enterprise", "code": code, "period": period}))


def test_each_indicator_by_hand(client, firm):
    ans = _indicators(client, firm["key"], "2026", firm["code"])
    ind = ans["indicators"]
    energy = (8_000 + 1_000) * K_ELEC + 100 * 1.33 / 1000  # 1.1061 + 0.133 = 1.2391 tce
    # grid 8 MWh, 2 MWh covered by certificates -> 6 MWh at the residual factor
    co2 = 100 * GAS_CO2_PER_NM3 + 6 * EF_RES
    base = 10_000 * K_ELEC / 20  # 2025: 1.229 tce / 20 (10k yuan)
    assert ind["energy_tce"] == pytest.approx(energy)
    assert ind["energy_intensity_tce_per_10k_yuan"] == pytest.approx(energy / 25)
    assert ind["energy_intensity_base_tce_per_10k_yuan"] == pytest.approx(base)
    assert ind["energy_intensity_change_vs_base_pct"] == pytest.approx(
        (energy / 25 / base - 1) * 100)
    assert ind["co2_per_energy_t_per_tce"] == pytest.approx(co2 / energy)
    assert ind["co2_per_energy_location_based_t_per_tce"] == pytest.approx(
        (100 * GAS_CO2_PER_NM3 + 8 * EF_LOC) / energy)
    # clean: on-site PV 1,000 kWh + certificate-covered 2,000 kWh + natural gas 0.133 tce
    assert ind["clean_energy_share_pct"] == pytest.approx(
        (3_000 * K_ELEC + 0.133) / energy * 100)
    assert ind["solid_waste_utilisation_pct"] == pytest.approx(90 / (100 + 5) * 100)
    assert ind["waste_heat_utilisation_pct"] == pytest.approx(20 / 50 * 100)
    assert ind["water_reuse_pct"] == pytest.approx(900 / (900 + 300) * 100)
    assert ind["cod_intensity_kg_per_10k_yuan"] == pytest.approx(2 / 25)
    # as assessed (发改环资〔2024〕113号): the instrument-evidenced renewable electricity (1,000 kWh
    # on-site PV + 2,000 kWh of certificates, each claimed once) is deducted from the energy
    assert ind["energy_intensity_assessed_tce_per_10k_yuan"] == pytest.approx(
        (energy - 3_000 * K_ELEC) / 25)
    assert {t["value"] for t in ans["targets"]["energy_intensity_assessed_tce_per_10k_yuan"]} \
        >= {0.07}
    assert {t["value"] for t in ans["targets"]["solid_waste_utilisation_pct"]} == {97, 80}
    # A month lacks the yearly value added: intensity is None, never a fake 0.
    june = _indicators(client, firm["key"], "2026-06", firm["code"])["indicators"]
    assert june["energy_intensity_tce_per_10k_yuan"] is None
    assert june["cod_intensity_kg_per_10k_yuan"] is None


def test_target_status_per_phase(client, firm):
    ans = ok(client.get("/v1/targets/status", headers=auth(firm["key"]),
                        params={"scope": "enterprise", "as_of": "2026-11-25"}))
    assert ans["as_of_year"] == 2026 and sorted(ans["history"]) == ["2025", "2026"]
    rows = {(r["target_id"], r["phase"]): r for r in ans["status"]}
    i25 = 10_000 * K_ELEC / 20
    # judged on the assessed intensity: 3,000 kWh of evidenced renewables deducted (2025 has none)
    i26 = ((8_000 + 1_000 - 3_000) * K_ELEC + 0.133) / 25
    r = rows[("energy_intensity_reduction_2026_2027", "phase_1")]
    target = i25 * (1 - 0.20)
    assert r["target_value"] == pytest.approx(target) and r["evaluation_year"] == 2027
    assert r["actual_value"] == pytest.approx(i26) and r["actual_year"] == 2026
    # 2026 has not ended on 2026-11-25 and has data for June only: a partial value is never
    # "met", and no complete year exists to project from
    assert r["status"] == "incomplete" and r["met_now"] is None and r["on_track"] is False
    assert r["projected_value"] is None and r["null_reasons"]["projected_value"]
    cov = r["coverage"]
    assert cov["complete"] is False and cov["months_with_data"] == ["2026-06"]
    assert "2026-12" in cov["months_missing"] and cov["value_added_present"] is True
    assert any("2027-01-01" in b for b in cov["incomplete_because"])
    assert ans["history"]["2025"]["coverage"]["months_with_data"] == ["2025-06"]
    r = rows[("solid_waste_utilisation_2030", "phase_2")]
    assert r["actual_value"] == pytest.approx(90 / 105 * 100)
    assert r["status"] == "incomplete" and r["required_yearly_change_pct"] is None


def test_monthly_report_html_in_both_languages(client, operator_key, make_enterprise,
                                               make_meter):
    ent = make_enterprise()
    m = make_meter(ent["code"])["code"]
    upload_readings(client, operator_key, [(m, "2023-02-03T00:00:00+08:00", 500)])
    for lang, needle in (("zh", "园区能碳月报"), ("en", "monthly report")):
        r = client.get("/v1/carbon/report", params={"period": "2023-02", "lang": lang},
                       headers=auth(operator_key))
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/html")
        assert needle in r.text and r.text.count("<svg") == 3
        assert ent["code"] in r.text
    r = client.get("/v1/carbon/report", params={"period": "2023"}, headers=auth(operator_key))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "period"


def test_report_without_a_cjk_font_falls_back_to_english_plot_labels(
        client, operator_key, monkeypatch):
    from matplotlib import font_manager

    from app.services import carbon_report

    monkeypatch.setattr(font_manager.fontManager, "ttflist",
                        [f for f in font_manager.fontManager.ttflist if "CJK" not in f.name
                         and f.name not in carbon_report.CJK_FONTS])
    # and none in the system's font folders either (the report looks there when the cache
    # lacks one)
    monkeypatch.setattr(font_manager, "findSystemFonts", lambda *args, **kwargs: [])
    carbon_report.cjk_font.cache_clear()
    try:
        r = client.get("/v1/carbon/report", params={"period": "2023-02", "lang": "zh"},
                       headers=auth(operator_key))
        assert r.status_code == 200
        assert "服务器无中文字体" in r.text and r.text.count("<svg") == 3
        assert "Monthly energy use (tce)" in r.text  # plot title in English
        assert "本月概览" in r.text  # tables stay Chinese
    finally:
        carbon_report.cjk_font.cache_clear()
