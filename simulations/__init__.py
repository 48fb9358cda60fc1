"""Scenario simulations for planners (plain library: never imports app/ or a database).

Entry points:
    load_scenario(path) -> Scenario;  parse_scenario(mapping, base_dir=None) -> Scenario
        (ScenarioError.errors = [{"field": "pv.0.capacity_kwp", "message": ...}])
    run_scenario(scenario, keep_series=True) -> ScenarioResult(kpis, series, yearly, targets)
    write_results(result, out_dir, series_format="csv"|"parquet", plots=True, lang="zh"|"en")
        -> {name: path}
    plot_png(result, name, lang="zh") -> bytes   # name in PLOT_NAMES;  series_csv(series) -> bytes
    load_sweep(path) / parse_sweep(mapping) -> SweepSpec
    run_sweep(spec, executor=None, workers=None, scheduler_address=None, progress=False)
        -> DataFrame (one row per case, ``pareto`` marked)
    write_sweep(table, out_dir, title, lang="zh") -> {"results": csv, "pareto": png}
"""

from simulations.report import PLOT_NAMES, plot_png, series_csv, write_results
from simulations.runner import ScenarioResult, SimulationError, run_scenario
from simulations.scenario import (
    Scenario,
    ScenarioError,
    load_scenario,
    parse_scenario,
)
from simulations.sweep import (
    SweepSpec,
    load_sweep,
    mark_pareto,
    parse_sweep,
    run_sweep,
    write_sweep,
)

__all__ = [
    "PLOT_NAMES",
    "Scenario",
    "ScenarioError",
    "ScenarioResult",
    "SimulationError",
    "SweepSpec",
    "load_scenario",
    "load_sweep",
    "mark_pareto",
    "parse_scenario",
    "parse_sweep",
    "plot_png",
    "run_scenario",
    "run_sweep",
    "series_csv",
    "write_results",
    "write_sweep",
]
