"""The energy-intensity path sees renewable electricity as China assesses it: evidenced renewable
electricity is deducted from the energy assessed (发改环资〔2024〕113号, total and intensity;
发改运行〔2022〕1258号, total only), claimed once, and the consumed intensity is reported beside."""

from __future__ import annotations

import pytest

from carbon import Activity, compute_indicators, compute_ledger, load_factor_set, load_policy
from simulations import parse_scenario, run_scenario
from tests.simulations.test_sim_runner import LOAD_KW, flat_scenario

K_ELEC_TCE_PER_KWH = 0.1229 / 1000  # GB/T 2589 当量值


def test_small_ledger_by_hand_under_each_rule() -> None:
    fs = load_factor_set()
    energy = {"electricity_import_kwh": 800_000, "pv_generation_kwh": 200_000}
    activity = Activity(green_certificates_mwh=100, value_added_10k_yuan=1_000)
    consumed = 1_000_000 * K_ELEC_TCE_PER_KWH
    evidenced = (200_000 + 100_000) * K_ELEC_TCE_PER_KWH  # on-site PV + certificates, once each
    out = {}
    for rule in ("non_fossil_2024", "new_renewable_2022", "none"):
        led = compute_ledger(energy, activity, fs, load_policy(energy_assessment_rule=rule),
                             period="2026", scope="park")
        ind = compute_indicators(led)
        assert led.energy_tce == pytest.approx(consumed)
        assert ind.energy_intensity_tce_per_10k_yuan == pytest.approx(consumed / 1_000)
        out[rule] = (led.energy_tce_assessed, ind.energy_intensity_assessed_tce_per_10k_yuan)
    assert out["non_fossil_2024"] == pytest.approx(
        (consumed - evidenced, (consumed - evidenced) / 1_000))
    assert out["new_renewable_2022"] == pytest.approx((consumed - evidenced, consumed / 1_000))
    assert out["none"] == pytest.approx((consumed, consumed / 1_000))


def test_certificates_lower_the_assessed_intensity_of_a_scenario_once() -> None:
    """flat_scenario buys 1,000 MWh of certificates in 2027 only; no gas is deducted."""
    result = run_scenario(parse_scenario(flat_scenario()))
    y26, y27 = result.yearly.loc[2026], result.yearly.loc[2027]
    assert y26["energy_intensity_assessed_tce_per_10k_yuan"] == pytest.approx(
        y26["energy_intensity_tce_per_10k_yuan"])
    deducted = 1_000 * 1_000 * K_ELEC_TCE_PER_KWH
    assert y27["energy_tce_assessed"] == pytest.approx(y27["energy_tce"] - deducted)
    assert y27["energy_intensity_assessed_tce_per_10k_yuan"] == pytest.approx(
        (y27["energy_tce"] - deducted) / y27["value_added_10k_yuan"])
    assert LOAD_KW * 8760 / 1000 > 1_000  # the certificates cover part of the grid electricity
    summary = result.kpis["summary"]
    assert summary["final_year_energy_intensity_assessed_tce_per_10k_yuan"] == pytest.approx(
        result.yearly.loc[2028, "energy_intensity_assessed_tce_per_10k_yuan"])
    intensity_targets = [t for t in result.kpis["targets"]
                         if t["target_id"].startswith("energy_intensity")]
    assert intensity_targets and all(
        t["indicator"] == "energy_intensity_assessed_tce_per_10k_yuan" for t in intensity_targets)
