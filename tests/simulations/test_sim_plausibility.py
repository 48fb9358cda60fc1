"""Implausible inputs are flagged, with the reason and the plausible range, in the KPIs (and so
in kpis.json and the scenario API): a 40 MW solar-shaped line delivering 150 GWh a year, and a
storage round trip of 89.8 % with no auxiliary load at 3,650 m."""

from __future__ import annotations

from simulations import parse_scenario, run_scenario
from simulations.plausibility import input_warnings
from tests.simulations.test_sim_runner import flat_scenario


def _fields(warnings: list[dict]) -> set[str]:
    return {w["field"] for w in warnings}


def test_solar_line_beyond_plateau_full_load_hours_is_flagged() -> None:
    lines = [{"power_mw": 40, "annual_energy_mwh": 150_000, "start_year": 2026,
              "shape": "solar"}]
    warnings = input_warnings(parse_scenario(flat_scenario(direct_lines=lines)))
    (w,) = [w for w in warnings if w["field"] == "direct_lines.0.annual_energy_mwh"]
    assert w["value"] == 3750.0  # 150,000 MWh / 40 MW
    assert (w["plausible_min"], w["plausible_max"]) == (1200, 2000)
    assert "above the plausible range" in w["message"] and w["sources"]
    ok = [{"power_mw": 40, "annual_energy_mwh": 66_000, "start_year": 2026, "shape": "solar"}]
    assert "direct_lines.0.annual_energy_mwh" not in _fields(
        input_warnings(parse_scenario(flat_scenario(direct_lines=ok))))


def test_lossless_storage_round_trip_is_flagged_and_a_plausible_one_is_not() -> None:
    default = [{"power_mw": 63, "energy_mwh": 252, "in_service_year": 2026}]
    (w,) = input_warnings(parse_scenario(flat_scenario(storage=default)))
    assert w["field"] == "storage.0.parameters" and w["value"] > 0.88
    with_aux = [{**default[0], "parameters": {"eta_charge": 0.93, "eta_discharge": 0.93,
                                               "aux_load_mw": 0.3}}]
    assert input_warnings(parse_scenario(flat_scenario(storage=with_aux))) == []


def test_warnings_reach_the_kpis() -> None:
    lines = [{"power_mw": 5, "annual_energy_mwh": 30_000, "start_year": 2026, "shape": "solar"}]
    result = run_scenario(parse_scenario(flat_scenario(direct_lines=lines, end_year=2026)))
    assert "direct_lines.0.annual_energy_mwh" in _fields(result.kpis["warnings"])
