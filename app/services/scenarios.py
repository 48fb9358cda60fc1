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
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.config import Settings
from app.problems import Problem
from app.repositories import scenarios as repo
from energy.tariffs import TARIFF_DIR
from simulations import (
    PLOT_NAMES,
    ScenarioError,
    SimulationError,
    parse_scenario,
    plot_png,
    run_scenario,
    series_csv,
)

log = logging.getLogger(__name__)
Artifacts = dict[str, tuple[str, bytes]]


def shipped_tariffs() -> list[str]:
    return sorted(p.stem for p in TARIFF_DIR.glob("*.yaml"))


def validate_posted(data: Any) -> dict[str, Any]:
    """Validate a scenario posted to the API; return it with defaults filled (JSON-ready).
    Server files cannot be named through the API: the load comes inline (``values_kw``) or
    synthetic, the tariff by a shipped name. Raises a 422 problem naming each bad field."""
    if not isinstance(data, dict):
        raise Problem(422, "The scenario must be a JSON object.", kind="validation",
                      errors=[{"field": "", "message": "expected an object"}])
    errors: list[dict[str, str]] = []
    load = data.get("load")
    if isinstance(load, dict) and load.get("csv") is not None:
        errors.append({"field": "load.csv", "message": "server files cannot be read through "
                                                       "the API; send the series as values_kw"})
    tariff = data.get("tariff")
    if isinstance(tariff, str) and tariff not in shipped_tariffs():
        errors.append({"field": "tariff",
                       "message": f"unknown tariff {tariff!r}; shipped: {shipped_tariffs()}"})
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
        raise Problem(422, "The scenario is invalid.", kind="validation", errors=errors)
    return scenario.to_dict()


def execute_run(scenario: dict[str, Any]) -> tuple[dict[str, Any], Artifacts]:
    """Run one scenario and render its artifacts (runs in the worker process)."""
    result = run_scenario(parse_scenario(scenario))
    artifacts: Artifacts = {"series.csv": ("text/csv", series_csv(result.series))}
    for name in PLOT_NAMES:
        artifacts[f"{name}.png"] = ("image/png", plot_png(result, name))
    return result.kpis, artifacts


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


def process_queue(engine: Engine, settings: Settings, max_runs: int | None = None) -> int:
    """Claim and run queued scenario runs until the queue is empty (or ``max_runs`` ran).
    The scheduler's job; returns the number of runs processed (done or failed)."""
    n = 0
    while max_runs is None or n < max_runs:
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
            with Session(engine) as session, session.begin():
                repo.finish_run(session, run_id, kpis, artifacts)
        n += 1
    return n
