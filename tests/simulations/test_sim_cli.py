"""`zcpark simulate` and `zcpark sweep`: summary printed, results written, bad files named."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from app.cli import cli

SCENARIO = {
    "name": "cli-case",
    "start_year": 2029, "end_year": 2029,
    "load": {"kind": "synthetic",
             "segments": [{"industry": "data_centre", "base_energy_mwh": 50_000}]},
    "pv": [{"year": 2027, "capacity_kwp": 10_000}],
    "storage": [{"power_mw": 5, "energy_mwh": 20, "in_service_year": 2029}],
    "value_added": {"base_10k_yuan": 80_000},
}


def test_simulate_prints_the_summary_and_writes_results(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps(SCENARIO), encoding="utf-8")
    out = tmp_path / "out"
    r = CliRunner().invoke(cli, ["simulate", str(path), "--out", str(out)],
                           env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "cli-case: yearly results" in r.output
    assert "energy_intensity_2030" in r.output
    kpis = json.loads((out / "kpis.json").read_text(encoding="utf-8"))
    assert kpis["summary"]["storage_energy_final_mwh"] == 20
    assert len(pd.read_csv(out / "series.csv")) == 8760
    assert (out / "carbon_path.png").stat().st_size > 10_000


def test_simulate_names_the_bad_field_and_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("load: {kind: synthetic, segments: [{industry: data_centre, "
                    "base_energy_mwh: 1}]}\nvalue_added: {base_10k_yuan: 1}\n"
                    "storage: [{power_mw: 5, energy_mwh: 20}]\n", encoding="utf-8")
    r = CliRunner().invoke(cli, ["simulate", str(path)])
    assert r.exit_code == 2
    assert "storage.0.in_service_year: Field required" in r.output


def test_sweep_writes_the_table_and_the_pareto_plot(tmp_path: Path) -> None:
    (tmp_path / "base.json").write_text(json.dumps(SCENARIO), encoding="utf-8")
    (tmp_path / "sweep.yaml").write_text(
        "name: cli-sweep\nscenario: base.json\ngrid:\n  pv_scale: [0, 2]\n", encoding="utf-8")
    out = tmp_path / "sw"
    r = CliRunner().invoke(cli, ["sweep", str(tmp_path / "sweep.yaml"), "--out", str(out),
                                 "--workers", "1"], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "cli-sweep: 2 cases" in r.output
    table = pd.read_csv(out / "results.csv")
    assert list(table["pv_scale"]) == [0, 2]
    assert table["pareto"].any()
    assert (out / "pareto.png").read_bytes()[:4] == b"\x89PNG"


def test_simulate_warns_of_implausible_inputs_and_writes_the_sensitivity(tmp_path: Path) -> None:
    """The default station's 89.8 % round trip with no auxiliary load is flagged on stderr and
    in kpis.json; --sensitivity writes the table and the tornado plots."""
    path = tmp_path / "s.json"
    path.write_text(json.dumps(SCENARIO), encoding="utf-8")
    out = tmp_path / "out"
    r = CliRunner().invoke(cli, ["simulate", str(path), "--out", str(out), "--no-plots",
                                 "--sensitivity"], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "warning storage.0.parameters" in r.output  # CliRunner mixes stderr in
    kpis = json.loads((out / "kpis.json").read_text(encoding="utf-8"))
    assert [w["field"] for w in kpis["warnings"]] == ["storage.0.parameters"]
    table = pd.read_csv(out / "sensitivity.csv")
    assert table.loc[0, "parameter"] == "base" and "storage_efficiency" in set(table["parameter"])
    assert (out / "tornado_total_cost_yuan.png").read_bytes()[:4] == b"\x89PNG"
