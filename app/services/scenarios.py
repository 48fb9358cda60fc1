"""Scenario runs behind the API: validation of a posted scenario and the queue worker.

The worker runs in the process elected to run the scheduler (app/scheduler.py): a job claims
queued rows (``SELECT … FOR UPDATE SKIP LOCKED``), runs each scenario in a separate worker process
(a one-process pool, so a long run neither holds the API's GIL nor brings the API down if it
crashes) and stores KPIs (jsonb) and artifacts (bytea: ``series.csv`` and the plots' PNGs). A
failing run records its error. Queued rows survive a restart and are picked up by the next
leader; a running row whose lease passed (its worker died) is claimed again.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.config import Settings
from app.problems import Problem, invalid, invalid_fields
from app.repositories import scenarios as repo
from app.repositories.scenarios import get_artifact as get_artifact
from app.repositories.scenarios import get_run as get_run
from app.repositories.scenarios import list_runs as list_runs
from app.repositories.scenarios import queue_run as queue_run
from app.services import registry
from energy.site import PARK_TZ
from simulations import (
    PLOT_NAMES,
    ScenarioError,
    SimulationError,
    parse_scenario,
    plot_png,
    run_scenario,
    series_csv,
)
from simulations.sensitivity import TORNADO_PLOTS, run_sensitivity, sensitivity_csv, tornado_png

log = logging.getLogger(__name__)
Artifacts = dict[str, tuple[str, bytes]]


def _resolve_registry_names(data: dict[str, Any], session: Session | None
                            ) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """Replace the tariff and accounting-policy names of a posted scenario by their registry
    content (shipped or uploaded), so the worker needs neither files nor the database for them.
    A field that would name a server file is an error, whatever exists there."""
    errors: list[dict[str, str]] = []
    out = dict(data)
    conn = session.connection() if session is not None else None

    def lookup(kind: str, name: object, field: str) -> dict[str, Any] | None:
        if conn is None:  # no database: shipped entries only
            shipped = (registry.shipped_tariffs() if kind == registry.TARIFF
                       else registry.shipped_policies())
            if isinstance(name, str) and name in shipped:
                return (registry.shipped_tariff_document(name) if kind == registry.TARIFF
                        else registry.shipped_policy_document(name))
            raise registry.unknown(kind, field)
        return registry.document(conn, kind, name, field)

    tariff = data.get("tariff", "example_tou_illustrative")
    if not isinstance(tariff, str):
        errors.append({"field": "tariff", "message": "give a tariff name (GET /v1/tariffs)"})
    else:
        try:
            doc = lookup(registry.TARIFF, tariff, "tariff")
        except Problem as exc:
            errors.extend({"field": e["field"], "message": e["message"]} for e in exc.errors or [])
        else:
            if tariff not in registry.shipped_tariffs():
                out["tariff"] = doc  # an uploaded tariff travels as content
    policy = data.get("accounting_policy")
    if isinstance(policy, dict):
        settings = dict(policy)
        if "path" in settings:
            errors.append({"field": "accounting_policy.path",
                           "message": "server files cannot be named through the API; choose a "
                                      "policy by name (accounting_policy.policy, GET "
                                      "/v1/accounting-policies)"})
        elif "policy" in settings:
            name = settings.pop("policy")
            try:
                doc = lookup(registry.POLICY, name, "accounting_policy.policy")
                resolved = registry.parse_policy(doc).to_dict()
            except Problem as exc:
                errors.extend({"field": e["field"], "message": e["message"]}
                              for e in exc.errors or [])
            except registry.PolicyError as exc:
                errors.append({"field": "accounting_policy.policy", "message": str(exc)})
            else:
                unknown = sorted(set(settings) - set(resolved))
                if unknown:
                    errors.append({"field": "accounting_policy",
                                   "message": f"unknown policy settings: {unknown}"})
                out["accounting_policy"] = {**resolved, **settings}
    return out, errors


def validate_posted(data: Any, session: Session | None = None) -> dict[str, Any]:
    """Validate a scenario posted to the API; return it with defaults filled (JSON-ready).
    Server files cannot be named through the API: the load comes inline (``values_kw``) or
    synthetic, the tariff and the accounting policy by registry name (``GET /v1/tariffs``,
    ``accounting_policy: {policy: <name>, ...overrides}``). Raises a 422 problem naming each
    bad field."""
    if not isinstance(data, dict):
        raise invalid("body", "expected an object", "The scenario must be a JSON object.")
    errors: list[dict[str, str]] = []
    load = data.get("load")
    if isinstance(load, dict) and load.get("csv") is not None:
        errors.append({"field": "load.csv", "message": "server files cannot be read through "
                                                       "the API; send the series as values_kw"})
    data, name_errors = _resolve_registry_names(data, session)
    errors.extend(name_errors)
    if not errors:
        try:
            scenario = parse_scenario(data)
        except ScenarioError as exc:
            errors = exc.errors
        else:
            from carbon import PolicyError, load_policy

            try:
                load_policy(**scenario.accounting_policy)
            except (PolicyError, TypeError) as exc:
                errors = [{"field": "accounting_policy", "message": str(exc)}]
    if errors:
        raise invalid_fields(errors, "The scenario is invalid.")
    return scenario.to_dict()


READINGS_LOAD_KEYS = {"kind", "year", "zone", "enterprises", "growth_pct_per_year",
                      "min_coverage_pct"}


def _readings_load_errors(load: dict[str, Any]) -> list[dict[str, str]]:
    errors = [{"field": f"load.{k}", "message": "unknown field for kind 'readings'; allowed: "
               f"{sorted(READINGS_LOAD_KEYS)}"} for k in load if k not in READINGS_LOAD_KEYS]
    year = load.get("year")
    if not isinstance(year, int) or not 2000 <= year <= 2100:
        errors.append({"field": "load.year", "message": "give the year of readings (2000-2100)"})
    ents = load.get("enterprises")
    if ents is not None and not (isinstance(ents, list) and all(isinstance(e, str) for e in ents)):
        errors.append({"field": "load.enterprises", "message": "a list of enterprise codes"})
    for key, lo, hi in (("growth_pct_per_year", -99.0, 1000.0), ("min_coverage_pct", 0.0, 100.0)):
        v = load.get(key)
        if v is not None and not (isinstance(v, int | float) and lo <= v <= hi):
            errors.append({"field": f"load.{key}", "message": f"a number in [{lo:g}, {hi:g}]"})
    return errors


def resolve_readings_load(session: Session, data: Any, tz: str = PARK_TZ) -> Any:
    """Turn ``load: {kind: readings, year, zone?, enterprises?, growth_pct_per_year?,
    min_coverage_pct? (95)}`` into a series load from the readings the service holds: the hourly
    electricity consumption (import + PV generation − export) of the meters in scope over that
    local year. An hour is metered when every electricity carrier in scope has a reading there;
    the others take the year's mean for the same hour of day; fewer
    than ``min_coverage_pct`` % of hours with readings is an error. The series is laid on the
    simulated years with the growth, counted from the readings' year. Other loads pass through."""
    load = data.get("load") if isinstance(data, dict) else None
    if not (isinstance(load, dict) and load.get("kind") == "readings"):
        return data
    errors = _readings_load_errors(load)
    if errors:
        raise invalid_fields(errors, "The scenario is invalid.")
    import numpy as np
    import pandas as pd

    year = int(load["year"])
    index = pd.date_range(f"{year}-01-01", f"{year + 1}-01-01", freq="1h", tz=tz,
                          inclusive="left")
    rows = repo.hourly_electricity_kwh(session, index[0].to_pydatetime(),
                                       (index[-1] + pd.Timedelta("1h")).to_pydatetime(),
                                       load.get("zone"), load.get("enterprises"))
    consumption = pd.Series(np.nan, index=index)
    if rows:
        frame = pd.DataFrame(rows, columns=["hour", "carrier", "kwh"])
        frame["hour"] = pd.to_datetime(frame["hour"], utc=True).dt.tz_convert(tz)
        wide = frame.pivot_table(index="hour", columns="carrier", values="kwh", aggfunc="sum")
        wide = wide.reindex(columns=list(repo.ELECTRICITY_CARRIERS), fill_value=0.0)
        consumption = (wide["electricity_import"] + wide["pv_generation"]
                       - wide["electricity_export"]).reindex(index)
    coverage_pct = 100.0 * float(consumption.notna().mean())
    need = float(load.get("min_coverage_pct", 95.0))
    if coverage_pct < need:
        raise invalid("load.year", f"readings in scope cover {coverage_pct:.1f} % of the hours "
                      f"of {year} (need {need:g} %)", "The scenario is invalid.")
    hour_mean = consumption.groupby(index.hour).transform("mean")
    kw = consumption.fillna(hour_mean).clip(lower=0.0).to_numpy()  # 1-h steps: kWh = mean kW
    growth = float(load.get("growth_pct_per_year", 0.0))
    base_year = int(data.get("base_year", 2025))
    base_energy_mwh = kw.sum() / 1000.0 / (1 + growth / 100) ** (year - base_year)
    if data.get("step") == "15min":
        kw = np.repeat(kw, 4)
    scope = ", ".join(filter(None, [load.get("zone"), *(load.get("enterprises") or [])]))
    note = (f"load from readings {year} ({scope or 'whole park'}; {coverage_pct:.1f} % of hours "
            "metered)")
    return {**data, "load": {"kind": "series", "values_kw": [round(float(v), 3) for v in kw],
                             "base_energy_mwh": base_energy_mwh, "growth_pct_per_year": growth},
            "description": " ".join(filter(None, [data.get("description"), note]))}


SENSITIVITY_KEY = "sensitivity"
"""Key of the stored run document asking for a sensitivity run beside the scenario."""


def execute_run(scenario: dict[str, Any]) -> tuple[dict[str, Any], Artifacts]:
    """Run one scenario and render its artifacts (runs in the worker process); with
    ``sensitivity: true`` in the stored document also the one-at-a-time sensitivity."""
    scenario = dict(scenario)
    with_sensitivity = bool(scenario.pop(SENSITIVITY_KEY, False))
    parsed = parse_scenario(scenario)
    result = run_scenario(parsed)
    artifacts: Artifacts = {"series.csv": ("text/csv", series_csv(result.series))}
    for name in PLOT_NAMES:  # Chinese labels (default) and English ones
        artifacts[f"{name}.png"] = ("image/png", plot_png(result, name, "zh"))
        artifacts[f"{name}.en.png"] = ("image/png", plot_png(result, name, "en"))
    kpis = result.kpis
    if with_sensitivity:
        table = run_sensitivity(parsed, workers=1)
        kpis = {**kpis, "sensitivity": [
            {k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}
            for row in table.to_dict(orient="records")]}
        artifacts["sensitivity.csv"] = ("text/csv", sensitivity_csv(table))
        for name, metric in TORNADO_PLOTS.items():
            artifacts[f"{name}.png"] = ("image/png", tornado_png(table, metric, "zh"))
            artifacts[f"{name}.en.png"] = ("image/png", tornado_png(table, metric, "en"))
    return kpis, artifacts


_pool: ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()


def _executor() -> ProcessPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(max_workers=1,
                                        mp_context=multiprocessing.get_context("spawn"))
        return _pool


def shutdown_worker_pool() -> None:
    """Stop the worker process (called when the scheduler shuts down)."""
    global _pool
    with _pool_lock:
        if _pool is not None:
            _pool.shutdown(wait=False, cancel_futures=True)
            _pool = None


def _run(scenario: dict[str, Any], settings: Settings) -> tuple[dict[str, Any], Artifacts]:
    if settings.scenario_executor == "inline":
        return execute_run(scenario)
    try:
        return _executor().submit(execute_run, scenario).result(
            timeout=settings.scenario_lease_minutes * 60)
    except BrokenProcessPool:
        shutdown_worker_pool()  # the worker process died: start a fresh one next time
        raise


def describe(exc: BaseException) -> str:
    if isinstance(exc, ScenarioError | SimulationError):
        return str(exc)
    if isinstance(exc, TimeoutError):
        return "the run exceeded its lease (scenario_lease_minutes)"
    return f"{type(exc).__name__}: {exc}"


def process_queue(engine: Engine, settings: Settings, max_runs: int | None = None,
                  keep_going: Callable[[], bool] | None = None) -> int:
    """Claim and run queued scenario runs until the queue is empty (or ``max_runs`` ran, or
    ``keep_going()`` is false: the scheduler's process no longer leads). The scheduler's job;
    returns the number of runs processed (done or failed)."""
    n = 0
    while (max_runs is None or n < max_runs) and (keep_going is None or keep_going()):
        with Session(engine) as session, session.begin():
            claimed = repo.claim_next(session, settings.scenario_lease_minutes)
        if claimed is None:
            break
        run_id, scenario = claimed
        try:
            kpis, artifacts = _run(scenario, settings)
        except Exception as exc:  # every failure is recorded on the run
            log.warning("scenario run %s failed: %s", run_id, describe(exc))
            with Session(engine) as session, session.begin():
                repo.fail_run(session, run_id, describe(exc))
        else:
            try:
                with Session(engine) as session, session.begin():
                    repo.finish_run(session, run_id, kpis, artifacts)
            except Exception as exc:  # e.g. results that cannot be stored: say so on the run
                log.exception("storing scenario run %s failed", run_id)
                with Session(engine) as session, session.begin():
                    repo.fail_run(session, run_id, f"results could not be stored: "
                                                   f"{describe(exc)}")
        n += 1
    return n
