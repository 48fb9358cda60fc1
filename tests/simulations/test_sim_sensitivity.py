"""Sensitivity runs whose slopes are known by hand: the certificate price moves the total cost by
exactly Δprice × certificates; the value-added growth moves the final-year intensity by exactly
the ratio of the value added; inputs a scenario does not have are left out."""

from __future__ import annotations

import pandas as pd
import pytest

from simulations import parse_scenario
from simulations.sensitivity import run_sensitivity, sensitivity_ranges, tornado_png
from tests.simulations.test_sim_runner import flat_scenario


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    scenario = parse_scenario(flat_scenario(
        end_year=2027, green_certificates={"mwh_by_year": {2027: 1000},
                                           "price_yuan_per_mwh": 40.0},
        grid_emission_factors={"location_tco2_per_mwh": {2025: 0.55, 2030: 0.45}}))
    return run_sensitivity(scenario, workers=1)


def _row(table: pd.DataFrame, parameter: str, side: str) -> pd.Series:
    return table[(table["parameter"] == parameter) & (table["side"] == side)].iloc[0]


def test_certificate_price_slope_is_the_certificate_volume(table: pd.DataFrame) -> None:
    spec = sensitivity_ranges()["certificate_price"]
    for side in ("low", "high"):
        row = _row(table, "certificate_price", side)
        assert row["delta_total_cost_yuan"] == pytest.approx(1000 * 40.0 * (spec[side] - 1))
        assert row["delta_final_year_co2_per_energy_t_per_tce"] == pytest.approx(0.0, abs=1e-12)


def test_value_added_growth_scales_the_intensity_by_the_value_added_ratio(
        table: pd.DataFrame) -> None:
    base = _row(table, "base", "base")["final_year_energy_intensity_tce_per_10k_yuan"]
    for side in ("low", "high"):
        pp = sensitivity_ranges()["value_added_growth"][side]
        row = _row(table, "value_added_growth", side)
        # flat_scenario: 10 %/yr from 2025; the final year 2027 is two years on
        expected = base * (1.10 / (1.10 + pp / 100)) ** 2
        assert row["final_year_energy_intensity_tce_per_10k_yuan"] == pytest.approx(expected)


def test_grid_factor_moves_co2_and_absent_inputs_are_left_out(table: pd.DataFrame) -> None:
    lo, hi = _row(table, "grid_factor", "low"), _row(table, "grid_factor", "high")
    assert lo["delta_final_year_co2_per_energy_t_per_tce"] < 0 < hi[
        "delta_final_year_co2_per_energy_t_per_tce"]
    # the flat scenario has no PV and no storage: those rows are not invented
    assert not table["parameter"].isin(["pv_yield", "storage_efficiency"]).any()


def test_tornado_plot(table: pd.DataFrame) -> None:
    for lang in ("zh", "en"):
        assert tornado_png(table, "total_cost_yuan", lang)[:4] == b"\x89PNG"
