"""Scenario and sweep files: validation names the field; examples load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulations import ScenarioError, load_scenario, load_sweep, parse_scenario
from simulations.scenario import set_dotted

EXAMPLES = Path(__file__).resolve().parents[2] / "simulations" / "examples"

MINIMAL = {
    "load": {"kind": "synthetic",
             "segments": [{"industry": "manufacturing_day", "base_energy_mwh": 1000}]},
    "value_added": {"base_10k_yuan": 1000},
}


def fields_of(exc: pytest.ExceptionInfo[ScenarioError]) -> dict[str, str]:
    return {e["field"]: e["message"] for e in exc.value.errors}


def test_examples_load_with_the_plan_defaults() -> None:
    plan = load_scenario(EXAMPLES / "plan_as_written.yaml")
    assert plan.years == [2026, 2027, 2028, 2029, 2030]
    assert [(u.power_mw, u.energy_mwh, u.in_service_year) for u in plan.storage] == \
        [(63, 252, 2029)]
    cheap = load_scenario(EXAMPLES / "cheaper_variant.yaml")
    assert sum(b.capacity_kwp for b in cheap.pv) < sum(b.capacity_kwp for b in plan.pv)


def test_defaults_are_the_plan_years_and_the_63mw_252mwh_station_from_2029() -> None:
    s = parse_scenario(MINIMAL)
    assert (s.start_year, s.end_year, s.base_year) == (2026, 2030, 2025)
    assert [(u.power_mw, u.energy_mwh, u.in_service_year) for u in s.storage] == \
        [(63.0, 252.0, 2029)]
    assert s.dispatch.strategy == "optimal"


def test_malformed_yaml_file_names_every_bad_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "load:\n"
        "  kind: synthetic\n"
        "  segments:\n"
        "    - {industry: steelworks, base_energy_mwh: 100}\n"
        "value_added: {base_10k_yuan: 500}\n"
        "pv:\n"
        "  - {year: 2026, capacity_kwp: 100}\n"
        "  - {year: 2027, capacity_kwp: -5}\n"
        "dispatch: {strategy: clever}\n"
        "storage_size: 3\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as exc:
        load_scenario(bad)
    f = fields_of(exc)
    assert "steelworks" in f["load.segments.0.industry"]
    assert "greater than or equal to 0" in f["pv.1.capacity_kwp"]
    assert "dispatch.strategy" in f
    assert "storage_size" in f
    assert "pv.1.capacity_kwp" in str(exc.value)


def test_malformed_json_file_names_the_field(tmp_path: Path) -> None:
    data = {**MINIMAL, "start_year": 2030, "end_year": 2026,
            "direct_lines": [{"power_mw": 1, "annual_energy_mwh": 10000, "start_year": 2029}]}
    path = tmp_path / "s.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ScenarioError) as exc:
        load_scenario(path)
    f = fields_of(exc)
    # 1 MW can deliver at most 8,760 MWh a year
    assert "exceeds power_mw" in f["direct_lines.0"]
    assert f["end_year"] == "end_year 2026 is before start_year 2030"


def test_syntax_error_and_missing_required_field(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("load: [unclosed\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"broken\.yaml"):
        load_scenario(path)
    with pytest.raises(ScenarioError) as exc:
        parse_scenario({"load": MINIMAL["load"]})
    assert fields_of(exc)["value_added"] == "Field required"


def test_unknown_storage_parameter_and_policy_setting_are_named() -> None:
    with pytest.raises(ScenarioError) as exc:
        parse_scenario({**MINIMAL, "storage": [{"power_mw": 1, "energy_mwh": 4,
                                                "in_service_year": 2027,
                                                "parameters": {"colour": "red"}}]})
    assert "colour" in fields_of(exc)["storage.0.parameters"]


def test_series_load_needs_exactly_one_source() -> None:
    with pytest.raises(ScenarioError) as exc:
        parse_scenario({**MINIMAL, "load": {"kind": "series"}})
    assert "exactly one of csv, values_kw" in fields_of(exc)["load"]


def test_set_dotted_changes_a_copy_and_rejects_missing_list_items() -> None:
    data = {"storage": [{"energy_mwh": 252}], "dispatch": {}}
    out = set_dotted(data, "storage.0.energy_mwh", 504)
    assert out["storage"][0]["energy_mwh"] == 504
    assert data["storage"][0]["energy_mwh"] == 252
    assert set_dotted(data, "dispatch.strategy", "rule")["dispatch"] == {"strategy": "rule"}
    with pytest.raises(ScenarioError) as exc:
        set_dotted(data, "storage.3.energy_mwh", 1)
    assert exc.value.errors[0]["field"] == "storage.3"


def test_sweep_file_errors_name_the_grid_field_and_the_case(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(json.dumps(MINIMAL), encoding="utf-8")
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text("scenario: base.yaml\ngrid:\n  pv_scale: 2\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as exc:
        load_sweep(sweep)
    assert fields_of(exc)["grid.pv_scale"] == "must be a non-empty list"
    sweep.write_text("scenario: base.yaml\ngrid:\n  dispatch.strategy: [optimal, magic]\n",
                     encoding="utf-8")
    with pytest.raises(ScenarioError) as exc:
        load_sweep(sweep)
    (field,) = fields_of(exc)
    assert field.startswith("case 1 {'dispatch.strategy': 'magic'}: dispatch.strategy")


def test_example_sweep_expands_to_the_grid_product() -> None:
    spec = load_sweep(EXAMPLES / "sweep_pv_storage.yaml")
    cases = spec.cases()
    assert len(cases) == 4 * 3 * 2
    last = cases[-1]
    assert last["values"] == {"pv_scale": 1.5, "storage.0.power_mw": 126,
                              "storage.0.energy_mwh": 504, "dispatch.strategy": "rule"}
    assert last["scenario"]["storage"][0]["energy_mwh"] == 504
    assert last["scenario"]["pv_scale"] == 1.5
