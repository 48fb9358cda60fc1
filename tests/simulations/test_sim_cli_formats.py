"""`zcpark simulate` and `zcpark sweep` print tables that fit 80 columns (in a pipe too), with
units in the headers and no cut cells, and give CSV or JSON with --format."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from app.cli import cli
from tests.simulations.test_sim_cli import SCENARIO


def _fits(output: str, width: int = 80) -> None:
    lines = output.splitlines()
    assert lines
    too_wide = [line for line in lines if len(line) > width]
    assert not too_wide, too_wide
    assert "…" not in output, output


def test_simulate_table_fits_80_columns_and_formats(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps({**SCENARIO, "start_year": 2028, "end_year": 2029}),
                    encoding="utf-8")
    runner = CliRunner()
    common = ["simulate", str(path), "--out", str(tmp_path / "out"), "--no-plots"]
    r = runner.invoke(cli, common, env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.output
    _fits(r.output)
    for header in ("PV MWp", "load GWh", "CO2 mkt. kt", "tce/10k yuan", "cost M yuan"):
        assert header in r.output
    assert "2028" in r.output and "energy_intensity_2030" in r.output

    r = runner.invoke(cli, [*common, "--format", "csv"])
    assert r.exit_code == 0, r.output
    frame = pd.read_csv(io.StringIO(r.stdout))
    assert list(frame["year"]) == [2028, 2029]
    assert {"load_mwh", "energy_tce", "total_cost_yuan"} <= set(frame.columns)

    r = runner.invoke(cli, [*common, "--format", "json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert [y["year"] for y in doc["yearly"]] == [2028, 2029]
    assert doc["targets"] and "total_cost_yuan" in doc["summary"]


def test_sweep_table_fits_80_columns_and_formats(tmp_path: Path) -> None:
    (tmp_path / "base.json").write_text(json.dumps(SCENARIO), encoding="utf-8")
    (tmp_path / "sweep.yaml").write_text(
        "name: cli-sweep\nscenario: base.json\ngrid:\n  pv_scale: [0, 2]\n"
        "  \"storage.0.power_mw,storage.0.energy_mwh\": [[5, 20]]\n"
        "  dispatch.strategy: [optimal, rule]\n", encoding="utf-8")
    runner = CliRunner()
    common = ["sweep", str(tmp_path / "sweep.yaml"), "--out", str(tmp_path / "sw"),
              "--workers", "1"]
    r = runner.invoke(cli, common, env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.output
    table_part = r.output[r.output.index("cli-sweep: 4 cases"):]
    _fits(table_part)
    assert "cost M yuan" in table_part and "CO2 kt" in table_part

    r = runner.invoke(cli, [*common, "--format", "csv"])
    assert r.exit_code == 0, r.output
    frame = pd.read_csv(io.StringIO(r.stdout))
    assert sorted(frame["pv_scale"]) == [0, 0, 2, 2] and "total_cost_yuan" in frame.columns

    r = runner.invoke(cli, [*common, "--format", "json"])
    assert r.exit_code == 0, r.output
    assert len(json.loads(r.stdout)["cases"]) == 4
