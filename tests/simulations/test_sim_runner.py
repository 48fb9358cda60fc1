"""The scenario runner: accounting equals carbon/ done directly, storage never raises the optimal
cost, the energy balance closes every year, costs and factor paths by hand, result files."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from carbon import Activity, compute_ledger, load_factor_set, load_policy
from simulations import (
    PLOT_NAMES,
    ScenarioResult,
    load_scenario,
    parse_scenario,
    run_scenario,
    write_results,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "simulations" / "examples"
LOAD_KW = 10_000.0  # a flat 10 MW park load


def flat_scenario(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "flat",
        "start_year": 2026, "end_year": 2028, "base_year": 2025,
        "load": {"kind": "series", "values_kw": [LOAD_KW] * 24},
        "fuels": {"base": {"natural_gas_m3": 1.0e6}},
        "pv": [], "direct_lines": [], "storage": [],
        "value_added": {"base_10k_yuan": 20_000, "growth_pct_per_year": 10},
        "green_certificates": {"mwh_by_year": {2027: 1000}},
    }
    data.update(changes)
    return data


@pytest.fixture(scope="module")
def plan() -> ScenarioResult:
    return run_scenario(load_scenario(EXAMPLES / "plan_as_written.yaml"))


def test_no_pv_no_storage_reproduces_carbon_accounting_directly() -> None:
    result = run_scenario(parse_scenario(flat_scenario()))
    fs, policy = load_factor_set(), load_policy()
    for year, hours in ((2026, 8760), (2027, 8760), (2028, 8784)):  # 2028 is a leap year
        direct = compute_ledger(
            {"electricity_import_kwh": LOAD_KW * hours, "natural_gas_m3": 1.0e6},
            Activity(green_certificates_mwh=1000 if year == 2027 else 0,
                     value_added_10k_yuan=20_000 * 1.1 ** (year - 2025)),
            fs, policy, period=str(year), scope="park")
        row = result.yearly.loc[year]
        assert row["grid_import_mwh"] == pytest.approx(LOAD_KW * hours / 1000)
        assert row["energy_tce"] == pytest.approx(direct.energy_tce, rel=1e-12)
        assert row["co2_location_based_t"] == pytest.approx(direct.co2_location_based_t,
                                                            rel=1e-12)
        assert row["co2_market_based_t"] == pytest.approx(direct.co2_market_based_t, rel=1e-12)
        assert row["energy_intensity_tce_per_10k_yuan"] == pytest.approx(
            direct.energy_tce / (20_000 * 1.1 ** (year - 2025)), rel=1e-12)
    # certificates lower the market-based figure only: 1,000 MWh at the residual factor
    residual = fs.electricity_co2("national_residual", 2027).value
    y26, y27 = result.yearly.loc[2026], result.yearly.loc[2027]
    assert y26["co2_market_based_t"] - y27["co2_market_based_t"] == pytest.approx(
        1000 * residual)


def test_grid_factor_path_is_interpolated_between_given_years() -> None:
    # path 0.50 (2025) -> 0.40 (2030): 2027 = 0.50 - 2/5 x 0.10 = 0.46 tCO2/MWh
    result = run_scenario(parse_scenario(flat_scenario(
        fuels={"base": {}}, green_certificates={},
        grid_emission_factors={"location_tco2_per_mwh": {2025: 0.5, 2030: 0.4}})))
    y27 = result.yearly.loc[2027]
    assert y27["co2_location_based_t"] == pytest.approx(87_600 * 0.46)
    assert y27["co2_market_based_t"] == pytest.approx(87_600 * 0.46)  # residual = same path
    assert result.kpis["base_year"]["co2_t"] == pytest.approx(87_600 * 0.50)


def one_year_pv_case(storage: list[dict[str, Any]]) -> dict[str, Any]:
    return flat_scenario(
        start_year=2029, end_year=2029, fuels={"base": {}}, green_certificates={},
        load={"kind": "synthetic", "segments": [
            {"industry": "manufacturing_day", "base_energy_mwh": 200_000},
            {"industry": "data_centre", "base_energy_mwh": 100_000}]},
        pv=[{"year": 2026, "capacity_kwp": 80_000}],
        dispatch={"strategy": "optimal"}, storage=storage)


def test_adding_storage_never_raises_the_optimal_cost() -> None:
    # Without standing losses (self-discharge, auxiliary load) an idle battery is feasible, so
    # the LP with storage can never cost more than without; a larger station (power and energy
    # scaled together, SOC limits in %) contains the smaller one's schedules.
    no_standing = {"self_discharge_pct_per_day": 0.0, "aux_load_mw": 0.0}
    costs = []
    for power_mw, energy_mwh in ((0, 0), (31.5, 126), (63, 252), (126, 504)):
        storage = [{"power_mw": power_mw, "energy_mwh": energy_mwh, "in_service_year": 2029,
                    "parameters": no_standing}]
        r = run_scenario(parse_scenario(one_year_pv_case(storage)), keep_series=False)
        costs.append(r.kpis["summary"]["total_energy_cost_yuan"])
    assert all(b <= a + 1e-6 * abs(a) for a, b in itertools.pairwise(costs)), costs
    assert costs[-1] < costs[0]  # and the station does earn something here


def test_energy_balance_closes_every_year(plan: ScenarioResult) -> None:
    s = plan.series
    supply = s["pv_mw"] + s["direct_line_mw"] + s["discharge_mw"] + s["grid_import_mw"]
    use = (s["load_mw"] + s["storage_aux_mw"] + s["charge_mw"] + s["grid_export_mw"]
           + s["pv_curtailed_mw"] + s["direct_curtailed_mw"])
    assert (supply - use).abs().max() < 1e-6
    for year, part in s.groupby(s.index.year):
        assert supply[part.index].sum() == pytest.approx(use[part.index].sum(), rel=1e-12)
        assert plan.yearly.loc[year, "load_mwh"] == pytest.approx(part["load_mw"].sum())
    assert (s[["grid_import_mw", "grid_export_mw", "charge_mw", "discharge_mw"]] >= -1e-9).all() \
        .all()
    assert (s["pv_curtailed_mw"] <= s["pv_mw"] + 1e-9).all()
    assert (s["grid_export_mw"] <= 30 + 1e-9).all()  # the example's export limit
    assert plan.kpis["summary"]["max_balance_residual_mwh"] < 1e-6
    # storage only from 2029; the series covers 2026-2030 hour by hour (2028 is a leap year)
    assert len(s) == 4 * 8760 + 8784
    assert s.loc[s.index.year < 2029, ["charge_mw", "discharge_mw"]].to_numpy().max() == 0
    assert s.loc[s.index.year >= 2029, "soc_mwh"].max() <= 252 * 0.95 + 1e-6


def test_plan_reports_both_phases_and_json_ready_kpis(plan: ScenarioResult) -> None:
    t = plan.targets
    intensity = t[t["target_id"] == "energy_intensity_2030"]
    assert set(intensity["phase"]) == {"phase_1", "phase_2"}
    assert set(intensity["evaluation_year"]) == {2028, 2030}
    assert set(t["status"]) <= {"achieved", "missed", "no_data"}
    kpis = json.loads(json.dumps(plan.kpis, allow_nan=False))
    assert kpis["years"]["2029"]["storage_energy_mwh"] == 252
    assert kpis["years"]["2028"]["pv_capacity_kwp"] == 140_000
    # PV in the typical Lhasa year: a plausible specific yield for 3,650 m (1,400-2,000 kWh/kWp)
    assert 1400 < plan.yearly.loc[2028, "pv_mwh"] * 1000 / 140_000 < 2000


def test_capex_annuity_and_direct_line_cost_by_hand() -> None:
    r = run_scenario(parse_scenario(flat_scenario(
        start_year=2029, end_year=2029, fuels={"base": {}}, green_certificates={},
        pv=[{"year": 2026, "capacity_kwp": 1000, "capex_yuan_per_kwp": 3000}],
        costs={"discount_rate_pct": 6, "pv_lifetime_years": 25},
        direct_lines=[{"power_mw": 2, "annual_energy_mwh": 8760, "start_year": 2029,
                       "price_yuan_per_mwh": 300}])), keep_series=False)
    y = r.yearly.loc[2029]
    crf = 0.06 / (1 - 1.06 ** -25)  # = 0.078227
    assert y["pv_annuity_yuan"] == pytest.approx(1000 * 3000 * crf)
    # flat line: 8,760 MWh over 8,760 h = 1 MW, all used by the 10 MW load
    assert y["direct_delivered_mwh"] == pytest.approx(8760)
    assert y["direct_line_cost_yuan"] == pytest.approx(8760 * 300)


def test_solar_shaped_direct_line_delivers_its_annual_energy_within_its_power() -> None:
    r = run_scenario(parse_scenario(flat_scenario(
        start_year=2029, end_year=2029, load={"kind": "series", "values_kw": [80_000] * 24},
        direct_lines=[{"power_mw": 40, "annual_energy_mwh": 80_000, "start_year": 2029,
                       "shape": "solar"}])))
    line = r.series["direct_line_mw"]
    assert line.sum() == pytest.approx(80_000, rel=1e-6)
    assert line.max() <= 40 + 1e-9
    assert line.iloc[:6].max() == 0  # nothing at night (00:00-06:00 local)


def test_quarter_hour_steps_keep_the_annual_energy() -> None:
    data = one_year_pv_case([])
    hourly = run_scenario(parse_scenario(data), keep_series=False).yearly.loc[2029]
    quarter = run_scenario(parse_scenario({**data, "step": "15min"}),
                           keep_series=False).yearly.loc[2029]
    assert quarter["load_mwh"] == pytest.approx(hourly["load_mwh"])
    assert quarter["pv_mwh"] == pytest.approx(hourly["pv_mwh"], rel=0.03)


def test_result_files_and_plots(plan: ScenarioResult, tmp_path: Path) -> None:
    paths = write_results(plan, tmp_path)
    assert json.loads(paths["kpis"].read_text(encoding="utf-8"))["scenario"] == "plan_as_written"
    series = pd.read_csv(paths["series"])
    assert len(series) == len(plan.series)
    assert series["time"].iloc[0] == "2026-01-01T00:00:00+08:00"
    for name in PLOT_NAMES:
        png = paths[name].read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    ledgers = json.loads(paths["ledgers"].read_text(encoding="utf-8"))
    assert sorted(ledgers) == ["2025", "2026", "2027", "2028", "2029", "2030"]
    assert ledgers["2030"]["co2_t"] == pytest.approx(plan.yearly.loc[2030, "co2_t"])
    assert "electricity_co2.national_average.2030" in ledgers["2030"]["factors_used"]
    parquet = write_results(plan, tmp_path / "pq", series_format="parquet", plots=False)
    pd.testing.assert_frame_equal(pd.read_parquet(parquet["series"]), plan.series,
                                  check_freq=False)


def test_infeasible_year_is_reported_with_the_year() -> None:
    from simulations import SimulationError

    data = flat_scenario(grid={"import_limit_mw": 5}, start_year=2026, end_year=2026)
    with pytest.raises(SimulationError, match="import limit"):
        run_scenario(parse_scenario(data))
    data["storage"] = [{"power_mw": 1, "energy_mwh": 4, "in_service_year": 2026}]
    with pytest.raises(SimulationError, match="2026: dispatch infeasible"):
        run_scenario(parse_scenario(data))


def test_investment_of_the_examples_by_hand() -> None:
    from simulations.runner import investment_yuan

    # plan: 140,000 kWp x 3,200 yuan + 252,000 kWh x 900 yuan = 448.0 M + 226.8 M
    assert investment_yuan(load_scenario(EXAMPLES / "plan_as_written.yaml")) == \
        pytest.approx(674.8e6)
    # cheaper: 70,000 kWp x 3,200 + 126,000 kWh x 900 = 224.0 M + 113.4 M
    assert investment_yuan(load_scenario(EXAMPLES / "cheaper_variant.yaml")) == \
        pytest.approx(337.4e6)


def test_load_csv_relative_to_the_file_rescaled_and_grown(tmp_path: Path) -> None:
    # 8,760 hourly values alternating 1,000 and 3,000 kW: 17,520 MWh in 2025, rescaled to
    # 20,000 MWh, then +5 % a year -> 2026: 21,000 MWh.
    pd.DataFrame({"load_kw": [1000.0, 3000.0] * 4380}).to_csv(tmp_path / "load.csv",
                                                              index=False)
    (tmp_path / "s.json").write_text(json.dumps(flat_scenario(
        start_year=2026, end_year=2026, fuels={"base": {}}, green_certificates={},
        load={"kind": "series", "csv": "load.csv", "base_energy_mwh": 20_000,
              "growth_pct_per_year": 5})), encoding="utf-8")
    r = run_scenario(load_scenario(tmp_path / "s.json"))
    assert r.kpis["summary"]["total_co2_t"] > 0
    assert r.yearly.loc[2026, "load_mwh"] == pytest.approx(21_000)
    assert r.series["load_mw"].iloc[1] == pytest.approx(3 * r.series["load_mw"].iloc[0])


def test_strategy_none_ignores_the_storage() -> None:
    data = flat_scenario(start_year=2029, end_year=2029, dispatch={"strategy": "none"},
                         storage=[{"power_mw": 5, "energy_mwh": 20, "in_service_year": 2029}],
                         costs={"storage_capex_yuan_per_kwh": 1000})
    r = run_scenario(parse_scenario(data))
    assert r.yearly.loc[2029, "charge_mwh"] == 0
    assert r.yearly.loc[2029, "storage_annuity_yuan"] == 0
    assert r.kpis["summary"]["investment_yuan"] == 0
