"""Scenario runs for planners and operators (enterprises: 403): queue, status, series, plots."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Response
from pydantic import BaseModel

from app.auth import Principal, SessionDep, require_roles
from app.models.simulations import ScenarioRun
from app.params import IdPath
from app.problems import Problem
from app.services import scenarios as scenarios_svc
from app.services.scenarios import SENSITIVITY_KEY, resolve_readings_load, validate_posted
from simulations import PLOT_NAMES
from simulations.sensitivity import TORNADO_PLOTS

router = APIRouter(prefix="/v1", tags=["scenarios"])
PlannerDep = Annotated[Principal, Depends(require_roles("planner", "operator"))]


class ScenarioRunOut(BaseModel):
    id: int
    name: str
    status: str  # queued | running | done | failed
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    kpis: dict[str, Any] | None
    links: dict[str, Any]


def run_out(run: ScenarioRun, with_kpis: bool = True) -> ScenarioRunOut:
    base = f"/v1/scenarios/{run.id}"
    links: dict[str, Any] = {"self": base}
    if run.status == "done":
        links["series"] = f"{base}/series"
        links["plots"] = {name: f"{base}/plots/{name}" for name in PLOT_NAMES}
    kpis = run.kpis if with_kpis else ({"summary": run.kpis.get("summary")} if run.kpis else None)
    return ScenarioRunOut(id=run.id, name=run.name, status=run.status,
                          created_at=run.created_at, started_at=run.started_at,
                          finished_at=run.finished_at, error=run.error, kpis=kpis, links=links)


@router.post("/scenarios", status_code=202, response_model=ScenarioRunOut)
def queue_scenario(body: Annotated[Any, Body(description="a scenario (simulations/examples)")],
                   session: SessionDep, principal: PlannerDep, response: Response,
                   sensitivity: Annotated[bool, Query(
                       description="also run the one-at-a-time sensitivity (tornado)")] = False,
                   ) -> ScenarioRunOut:
    """Validate and queue a scenario run (202); a worker runs it outside the request.
    ``load: {kind: readings, year, zone?, enterprises?}`` takes the load from the readings.
    ``sensitivity=true`` adds ``kpis.sensitivity``, ``/sensitivity`` (CSV) and the tornado
    plots ``tornado_<metric>``."""
    scenario = validate_posted(resolve_readings_load(session, body), session)
    if sensitivity:
        scenario[SENSITIVITY_KEY] = True
    run = scenarios_svc.queue_run(session, scenario["name"], scenario, principal.key_id)
    response.headers["Location"] = f"/v1/scenarios/{run.id}"
    return run_out(run)


@router.get("/scenarios", response_model=list[ScenarioRunOut])
def list_scenarios(session: SessionDep, _: PlannerDep) -> list[ScenarioRunOut]:
    """The latest 100 runs (KPIs reduced to their summary)."""
    return [run_out(r, with_kpis=False) for r in scenarios_svc.list_runs(session)]


@router.get("/scenarios/{run_id}", response_model=ScenarioRunOut)
def get_scenario(run_id: IdPath, session: SessionDep, _: PlannerDep) -> ScenarioRunOut:
    """Status (queued | running | done | failed), KPIs when done, the error when failed."""
    return run_out(scenarios_svc.get_run(session, run_id))


def _done(session: SessionDep, run_id: int) -> ScenarioRun:
    run = scenarios_svc.get_run(session, run_id)
    if run.status != "done":
        raise Problem(409, f"Scenario run {run_id} is {run.status}; results exist once done.",
                      run_status=run.status)
    return run


@router.get("/scenarios/{run_id}/series", response_class=Response,
            responses={200: {"content": {"text/csv": {}}}})
def get_series(run_id: IdPath, session: SessionDep, _: PlannerDep) -> Response:
    """Per-step series of every simulated year as CSV (time = interval start with offset)."""
    _done(session, run_id)
    art = scenarios_svc.get_artifact(session, run_id, "series.csv")
    return Response(art.content, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="scenario-{run_id}-series.csv"'})


@router.get("/scenarios/{run_id}/plots/{name}", response_class=Response,
            responses={200: {"content": {"image/png": {}}}})
def get_plot(run_id: IdPath, name: str, session: SessionDep, _: PlannerDep,
             lang: Literal["zh", "en"] = "zh") -> Response:
    """A plot as PNG: energy_balance_week, soc, monthly_mix or carbon_path; ``lang``: labels in
    Chinese (zh, default) or English (en)."""
    name = name.removesuffix(".png")
    names = (*PLOT_NAMES, *TORNADO_PLOTS)
    if name not in names:
        raise Problem(404, f"No plot {name!r}; plots: {', '.join(names)}.")
    _done(session, run_id)
    art = scenarios_svc.get_artifact(session, run_id,
                                     f"{name}.png" if lang == "zh" else f"{name}.en.png")
    return Response(art.content, media_type="image/png")


@router.get("/scenarios/{run_id}/sensitivity", response_class=Response,
            responses={200: {"content": {"text/csv": {}}}})
def get_sensitivity(run_id: IdPath, session: SessionDep, _: PlannerDep) -> Response:
    """The sensitivity table as CSV (runs queued with ``sensitivity=true``)."""
    _done(session, run_id)
    art = scenarios_svc.get_artifact(session, run_id, "sensitivity.csv")
    return Response(art.content, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="scenario-{run_id}-sensitivity.csv"'})
