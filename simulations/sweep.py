"""Sweeps: a grid over scenario fields (dotted paths), run in parallel, one table, Pareto front.

Sweep file (YAML or JSON)::

    scenario: plan_as_written.yaml      # path (relative to the sweep file) or an inline mapping
    set: {end_year: 2030}               # optional: fixed changes for every case
    grid:                               # the cartesian product of these values
      pv_scale: [0, 0.5, 1.0]
      dispatch.strategy: [optimal, rule]
      "storage.0.power_mw,storage.0.energy_mwh": [[0, 0], [63, 252], [126, 504]]   # zipped paths
    executor: process                   # 'process' (default, all cores) or 'dask'
    workers: null                       # process-pool size (default: all cores)
    dask_scheduler_address: null        # e.g. tcp://10.0.0.5:8786 (the `dask` extra)

Each case is validated like a scenario file (errors name the case and the field); a case that
fails to simulate is kept in the table with its error. A case is ``feasible`` when it ran and
misses no binding target. The cost–carbon Pareto front minimises ``total_cost_yuan`` and
``total_co2_t`` (both summed over the simulated years) over the feasible cases only: a cheap case
that misses a binding target is no option for the plan, so it is shown apart, never on the front.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from simulations.runner import SimulationError, run_scenario
from simulations.scenario import (
    Scenario,
    ScenarioError,
    parse_scenario,
    read_mapping,
    set_dotted,
)

SUMMARY_COLUMNS = (
    "total_cost_yuan", "investment_yuan", "total_energy_cost_yuan", "total_co2_t",
    "total_co2_location_based_t",
    "final_year_co2_t", "final_year_energy_intensity_tce_per_10k_yuan",
    "final_year_energy_intensity_assessed_tce_per_10k_yuan",
    "final_year_co2_per_energy_t_per_tce", "final_year_clean_energy_share_pct",
    "final_year_renewable_electricity_share_pct", "pv_capacity_final_kwp",
    "storage_energy_final_mwh", "pv_curtailed_total_mwh", "targets_achieved",
    "targets_evaluated",
)

Executor = Literal["process", "dask"]


@dataclass
class SweepSpec:
    """A parsed sweep: the base scenario (validated, defaults filled) and the grid."""

    name: str
    base: dict[str, Any]
    grid: dict[str, list[Any]]
    fixed: dict[str, Any] = field(default_factory=dict)
    executor: Executor = "process"
    workers: int | None = None
    dask_scheduler_address: str | None = None

    def cases(self) -> list[dict[str, Any]]:
        """One dict per case: {"case": i, "values": {path: value}, "scenario": mapping}."""
        keys = list(self.grid)
        out = []
        for i, combo in enumerate(itertools.product(*(self.grid[k] for k in keys))):
            data = dict(self.base)
            values: dict[str, Any] = {}
            for path, value in self.fixed.items():
                data = set_dotted(data, path, value)
            for key, value in zip(keys, combo, strict=True):
                paths = key.split(",")
                vals = value if len(paths) > 1 else [value]
                for p, v in zip(paths, vals, strict=True):
                    data = set_dotted(data, p.strip(), v)
                    values[p.strip()] = v
            data["name"] = f"{self.name}-{i:04d}"
            out.append({"case": i, "values": values, "scenario": data})
        return out


def parse_sweep(data: Mapping[str, Any], base_dir: Path | None = None) -> SweepSpec:
    """Validate a sweep mapping (ScenarioError naming the field, e.g. ``grid.pv_scale``)."""
    errors: list[dict[str, str]] = []
    allowed = {"name", "scenario", "set", "grid", "executor", "workers",
               "dask_scheduler_address"}
    errors += [{"field": k, "message": "unknown sweep field"} for k in data if k not in allowed]
    scen = data.get("scenario")
    base_dir = base_dir or Path.cwd()
    if isinstance(scen, str):
        path = base_dir / scen
        raw = read_mapping(path)
        scen_dir = path.parent
    elif isinstance(scen, Mapping):
        raw, scen_dir = dict(scen), base_dir
    else:
        raise ScenarioError([{"field": "scenario",
                              "message": "give a scenario file path or a mapping"}], "sweep")
    try:
        base = parse_scenario(raw, base_dir=scen_dir).to_dict()
    except ScenarioError as exc:
        raise ScenarioError([{"field": f"scenario.{e['field']}".rstrip("."),
                              "message": e["message"]} for e in exc.errors], "sweep") from None
    grid = data.get("grid")
    if not isinstance(grid, Mapping) or not grid:
        errors.append({"field": "grid", "message": "give at least one field with a list of values"})
        grid = {}
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            errors.append({"field": f"grid.{key}", "message": "must be a non-empty list"})
        elif "," in key and not all(isinstance(v, list) and len(v) == len(key.split(","))
                                    for v in values):
            errors.append({"field": f"grid.{key}",
                           "message": f"each value must be a list of {len(key.split(','))}"})
    fixed = data.get("set") or {}
    if not isinstance(fixed, Mapping):
        errors.append({"field": "set", "message": "must be a mapping of dotted paths to values"})
        fixed = {}
    executor = data.get("executor", "process")
    if executor not in ("process", "dask"):
        errors.append({"field": "executor", "message": "use 'process' or 'dask'"})
    workers = data.get("workers")
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        errors.append({"field": "workers", "message": "must be a positive integer"})
    if errors:
        raise ScenarioError(errors, "sweep")
    spec = SweepSpec(name=str(data.get("name") or base["name"]), base=base,
                     grid={k: list(v) for k, v in grid.items()}, fixed=dict(fixed),
                     executor=executor, workers=workers,
                     dask_scheduler_address=data.get("dask_scheduler_address"))
    # validate every case up front: a bad value names the case and its field
    case_errors = []
    for c in spec.cases():
        try:
            parse_scenario(c["scenario"])
        except ScenarioError as exc:
            case_errors += [{"field": f"case {c['case']} {c['values']}: {e['field']}",
                             "message": e["message"]} for e in exc.errors]
    if case_errors:
        raise ScenarioError(case_errors[:20], "sweep")
    return spec


def load_sweep(path: str | Path) -> SweepSpec:
    p = Path(path)
    return parse_sweep(read_mapping(p, "sweep"), base_dir=p.parent)


def run_case(case: Mapping[str, Any]) -> dict[str, Any]:
    """Run one case (top-level, picklable): its grid values, summary KPIs, status and time."""
    t0 = time.perf_counter()
    row: dict[str, Any] = {"case": case["case"], **case["values"]}
    try:
        result = run_scenario(parse_scenario(case["scenario"]), keep_series=False)
    except (ScenarioError, SimulationError) as exc:
        row.update({"status": "failed", "error": str(exc)})
    else:
        s = result.kpis["summary"]
        row.update({k: s.get(k) for k in SUMMARY_COLUMNS})
        row["binding_targets_missed"] = len(s["binding_targets_missed"])
        row.update({"status": "done", "error": ""})
    row["seconds"] = time.perf_counter() - t0
    return row


def _process_pool(cases: list[dict[str, Any]], workers: int | None) -> Iterator[dict[str, Any]]:
    with ProcessPoolExecutor(max_workers=workers or os.cpu_count()) as pool:
        futures = [pool.submit(run_case, c) for c in cases]
        for fut in as_completed(futures):
            yield fut.result()


def _dask(cases: list[dict[str, Any]], address: str | None) -> Iterator[dict[str, Any]]:
    try:
        from dask.distributed import Client
        from dask.distributed import as_completed as dask_completed
    except ImportError as exc:  # pragma: no cover - depends on the optional extra
        raise SimulationError("executor 'dask' needs the `dask` extra "
                              "(pip install 'zcpark[dask]')") from exc
    if not address:
        raise SimulationError("executor 'dask' needs a scheduler address "
                              "(dask_scheduler_address)")
    with Client(address) as client:
        futures = client.map(run_case, cases, pure=False)
        for fut in dask_completed(futures):
            yield fut.result()


def run_cases(cases: list[dict[str, Any]], executor: Executor = "process",
              workers: int | None = None, scheduler_address: str | None = None,
              on_done: Callable[[dict[str, Any]], None] | None = None) -> pd.DataFrame:
    """Run cases on the process pool (``workers=1``: in this process, serially) or Dask."""
    rows: Iterable[dict[str, Any]]
    if executor == "dask":
        rows = _dask(cases, scheduler_address)
    elif workers == 1:
        rows = (run_case(c) for c in cases)
    else:
        rows = _process_pool(cases, workers)
    out = []
    for row in rows:
        out.append(row)
        if on_done is not None:
            on_done(row)
    table = pd.DataFrame(out).sort_values("case").reset_index(drop=True)
    return mark_pareto(table)


def run_sweep(spec: SweepSpec, *, executor: Executor | None = None, workers: int | None = None,
              scheduler_address: str | None = None, progress: bool = False) -> pd.DataFrame:
    """Run every case of ``spec``; one row per case with ``pareto`` marked (see module doc).
    Arguments override the spec's executor, workers and scheduler address."""
    cases = spec.cases()
    executor = executor or spec.executor
    workers = workers or spec.workers
    address = scheduler_address or spec.dask_scheduler_address
    if not progress:
        return run_cases(cases, executor, workers, address)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress("[progress.description]{task.description}", BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn()) as bar:
        task = bar.add_task(f"sweep {spec.name} ({executor})", total=len(cases))
        return run_cases(cases, executor, workers, address,
                         on_done=lambda _row: bar.advance(task))


def mark_pareto(table: pd.DataFrame, cost: str = "total_cost_yuan",
                carbon: str = "total_co2_t") -> pd.DataFrame:
    """Add ``feasible`` (ran, no binding target missed) and ``pareto`` (bool): a feasible case
    that no other feasible case matches in cost and carbon while beating it in one of the two."""
    out = table.copy()
    out["pareto"] = False
    missed = (pd.to_numeric(out["binding_targets_missed"], errors="coerce").fillna(0)
              if "binding_targets_missed" in out else pd.Series(0, index=out.index))
    out["feasible"] = out["status"].eq("done") & missed.eq(0)
    if cost not in out or carbon not in out:
        return out
    ok = out["feasible"] & out[cost].notna() & out[carbon].notna()
    sub = out.loc[ok, [cost, carbon]].astype(float)
    if sub.empty:
        return out
    c = sub[cost].to_numpy()
    e = sub[carbon].to_numpy()
    dominated = ((c[None, :] <= c[:, None]) & (e[None, :] <= e[:, None])
                 & ((c[None, :] < c[:, None]) | (e[None, :] < e[:, None]))).any(axis=1)
    out.loc[sub.index[np.flatnonzero(~dominated)], "pareto"] = True
    return out


def case_label(row: Mapping[str, Any], lang: str = "zh") -> str:
    """A case named by its swept values ("方案3：光伏×1，储能 63 MW/252 MWh，优化调度")."""
    from simulations.plot_text import check_lang, text

    lg = check_lang(lang)
    fields = set(Scenario.model_fields)
    params = {k: v for k, v in row.items() if k.split(".")[0] in fields}
    power = next((k for k in params if k.startswith("storage.") and k.endswith(".power_mw")), None)
    energy = power.removesuffix("power_mw") + "energy_mwh" if power else None
    parts: list[str] = []
    for key, value in params.items():
        if key == "pv_scale":
            parts.append(text("pv_scale", lg, v=f"{float(value):g}"))
        elif key == power:
            e = params.get(energy) if energy else None
            parts.append(text("no_storage", lg) if not value and not e else text(
                "storage", lg, p=f"{float(value):g}", e="?" if e is None else f"{float(e):g}"))
        elif key == energy and power is not None:
            continue
        elif key == "dispatch.strategy" and value in ("optimal", "rule"):
            parts.append(text(str(value), lg))
        else:
            parts.append(f"{key.rsplit('.', 1)[-1]}={value}")
    head = text("case", lg, case=row["case"])
    colon, comma = ("：", "，") if lg == "zh" else (": ", ", ")
    return head + (colon + comma.join(parts) if parts else "")


def pareto_figure(table: pd.DataFrame, title: str = "sweep", lang: str = "zh") -> Any:
    """The cost–carbon Figure: feasible cases, infeasible ones apart, the front with its points
    named by their swept values; labels in ``lang`` (drawn with a CJK font for 'zh')."""
    import matplotlib

    matplotlib.use("Agg")

    from simulations.plot_text import check_lang, plot_style

    lg = check_lang(lang)
    with plot_style(lg):
        return _pareto_axes(table, title, lg)


def _pareto_axes(table: pd.DataFrame, title: str, lg: Any) -> Any:
    import matplotlib.pyplot as plt

    from simulations.plot_text import text

    done = table[table["status"] == "done"]
    feasible = done["feasible"] if "feasible" in done else pd.Series(True, index=done.index)
    fig, ax = plt.subplots(figsize=(10, 6.5))
    ax.scatter(done.loc[feasible, "total_cost_yuan"] / 1e6,
               done.loc[feasible, "total_co2_t"] / 1e3, s=18, c="#7f7f7f",
               label=text("feasible_case", lg))
    if (~feasible).any():
        ax.scatter(done.loc[~feasible, "total_cost_yuan"] / 1e6,
                   done.loc[~feasible, "total_co2_t"] / 1e3, s=22, marker="x", c="#c0392b",
                   label=text("infeasible_case", lg))
    front = done[done["pareto"]].sort_values("total_cost_yuan")
    ax.plot(front["total_cost_yuan"] / 1e6, front["total_co2_t"] / 1e3, "o-", c="#e73f74",
            label=text("front", lg))
    for r in front.to_dict(orient="records"):
        row = {str(k): v for k, v in r.items()}
        ax.annotate(case_label(row, lg), (row["total_cost_yuan"] / 1e6, row["total_co2_t"] / 1e3),
                    fontsize=7, xytext=(4, 4), textcoords="offset points")
    ax.set_xlabel(text("cost_axis", lg))
    ax.set_ylabel(text("co2_total_axis", lg))
    ax.set_title(text("pareto_title", lg, title=title, n=len(done),
                      k=int(np.sum(done["pareto"]))))
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def pareto_png(table: pd.DataFrame, title: str = "sweep", lang: str = "zh") -> bytes:
    """:func:`pareto_figure` as PNG bytes."""
    import io

    import matplotlib.pyplot as plt

    from simulations.plot_text import check_lang, plot_style

    with plot_style(check_lang(lang)):
        fig = pareto_figure(table, title, lang)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100)
        plt.close(fig)
    return buf.getvalue()


def write_sweep(table: pd.DataFrame, out_dir: str | Path, title: str = "sweep",
                lang: str = "zh") -> dict[str, Path]:
    """Write results.csv and pareto.png (labelled in ``lang``) under ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"results": out / "results.csv", "pareto": out / "pareto.png"}
    table.to_csv(paths["results"], index=False)
    paths["pareto"].write_bytes(pareto_png(table, title, lang))
    return paths
