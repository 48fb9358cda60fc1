"""The storage station: register, dispatch, published plans, telemetry, health,
resilience. Enterprise keys see only stations of their own enterprise (others read as 404)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from app.auth import OperatorDep, PrincipalDep, SessionDep
from app.models import StorageCapacityTest
from app.params import Day, Instant
from app.problems import Problem, invalid
from app.schemas.storage import (
    CapacityTestIn,
    CapacityTestOut,
    DispatchIn,
    DispatchOut,
    HealthOut,
    PlanOut,
    ResilienceOut,
    StorageIn,
    StorageOut,
    TelemetryUploadOut,
)
from app.services import storage as svc
from app.services import storage_ops as ops

router = APIRouter(prefix="/v1/storage", tags=["storage"])


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(name: str, value: datetime) -> datetime:
    if value.tzinfo is None:
        raise invalid(name, "naive timestamp", f"{name} needs a UTC offset.")
    return value


@router.post("", status_code=201, response_model=StorageOut)
def register(body: StorageIn, session: SessionDep, _: OperatorDep) -> dict[str, Any]:
    """Register a station (operators). Battery fields override the default 63 MW / 252 MWh LFP
    station; three telemetry meters ``<code>-power|soc|temperature`` are created with it."""
    asset = svc.register_station(session, body)
    return svc.station_json(session, asset)


@router.get("", response_model=list[StorageOut])
def list_stations(session: SessionDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    return [svc.station_json(session, a) for a in svc.list_assets(session, principal)]


@router.get("/{code}", response_model=StorageOut)
def get_station(code: str, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    return svc.station_json(session, svc.get_asset(session, principal, code))


@router.post("/{code}/dispatch", response_model=DispatchOut)
def dispatch(code: str, body: DispatchIn, request: Request, session: SessionDep,
             principal: PrincipalDep) -> JSONResponse:
    """Schedule the station over a horizon (optimal LP, rolling horizon or rule baseline).

    Inline: give ``load_mw`` (and ``pv_mw``, ``price_yuan_per_mwh`` or ``tariff``,
    ``grid_tco2_per_mwh`` ...) of one length; ``start`` + ``step_minutes`` place them in time.
    Stored: omit ``load_mw``; the park's meters give load and PV over ``horizon_hours`` from
    ``start`` (actuals for the past, else the load and PV forecasts of ``GET /v1/forecasts``
    issued at min(start, now)).
    Nothing is stored; a plan is published by ``POST .../plan`` or the daily job.
    """
    asset = svc.get_asset(session, principal, code)
    max_steps = request.app.state.settings.storage_max_steps
    answer = svc.dispatch(session.connection(), asset, body, _now(), max_steps)
    # Serialised directly: validating a year of 15-minute rows through the response model
    # would double the request time (benchmarks/RESULTS_storage_api.md); the shape is the same.
    return JSONResponse(answer)


@router.post("/{code}/plan", status_code=201, response_model=PlanOut)
def publish_plan(code: str, request: Request, session: SessionDep, principal: OperatorDep,
                 day: Day | None = None, strategy: Literal["optimal", "rule"] = "optimal",
                 step_minutes: Literal[15, 30, 60] = 15,
                 forecast: Literal["auto", "actual", "forecast", "seasonal_naive"] = "auto"
                 ) -> dict[str, Any]:
    """Publish a plan for ``day`` (default tomorrow, Asia/Shanghai) now, as the daily job does.
    ``forecast=auto``: the meters' actuals for a past day, else the load and PV forecasts
    (named in the plan's inputs)."""
    asset = svc.get_asset(session, principal, code)
    now = _now()
    plan = svc.publish_plan(session, asset, day or svc.tomorrow(now), now=now,
                            max_steps=request.app.state.settings.storage_max_steps,
                            key_id=principal.key_id, step_minutes=step_minutes,
                            strategy=strategy, forecast=forecast)
    return svc.plan_json(session, asset, plan)


@router.get("/{code}/plan", response_model=PlanOut)
def current_plan(code: str, session: SessionDep, principal: PrincipalDep,
                 day: Day | None = None) -> dict[str, Any]:
    """The newest plan published for ``day``; without ``day``: today's (Asia/Shanghai), else the
    latest published one (e.g. tomorrow's, published this afternoon)."""
    asset = svc.get_asset(session, principal, code)
    if day is not None:
        return svc.plan_json(session, asset, svc.current_plan_for(session, asset, day))
    plan = svc.current_plan(session, asset.id, _now().astimezone(svc.TZ).date())
    plan = plan or svc.latest_plan(session, asset.id)
    if plan is None:
        raise Problem(404, f"No plan published for {code} yet.")
    return svc.plan_json(session, asset, plan)


def _telemetry_rows(body: bytes, content_type: str) -> pd.DataFrame:
    kind = content_type.split(";")[0].strip().lower()
    try:
        if kind.endswith("json"):
            data = json.loads(body)
            if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
                raise ValueError("send a JSON array of objects")
            return pd.DataFrame(data).apply(
                lambda col: col.map(lambda v: "" if v is None or v != v else str(v)))
        return pd.read_csv(io.BytesIO(body), dtype=str, keep_default_na=False)
    except (ValueError, pd.errors.ParserError) as exc:
        raise Problem(400, f"Cannot read the telemetry: {exc}") from None


@router.post("/{code}/telemetry", response_model=TelemetryUploadOut)
async def upload_telemetry(code: str, request: Request, session: SessionDep,
                           principal: PrincipalDep) -> dict[str, Any]:
    """Station telemetry (CSV or JSON rows ``ts, power_mw, soc_pct, temperature_c``; power MW,
    + discharge / - charge; SOC %; enclosure temperature degC) through the meters' ingest path
    (all-or-nothing, idempotent, revisions audited), then a safety check of its range."""
    if principal.role == "planner":
        raise Problem(403, "Planners cannot upload telemetry.")
    asset = svc.get_asset(session, principal, code)
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    rows = _telemetry_rows(body, content_type)
    ctx = request.app.state.ingest_context
    return await run_in_threadpool(ops.upload_telemetry, ctx, principal, asset, rows,
                                   content_type or "text/csv", body)


@router.post("/{code}/safety-check")
def safety_check(code: str, session: SessionDep, principal: OperatorDep,
                 start: Annotated[Instant, Query()],
                 end: Annotated[Instant, Query()]) -> dict[str, int]:
    """Run the scheduled safety check now for [start, end) (operators)."""
    asset = svc.get_asset(session, principal, code)
    return {"opened": ops.safety_check(session, asset, _aware("start", start),
                                       _aware("end", end))}


@router.post("/{code}/capacity-tests", status_code=201, response_model=CapacityTestOut)
def add_capacity_test(code: str, body: CapacityTestIn, session: SessionDep,
                      principal: PrincipalDep) -> dict[str, Any]:
    """Record a measured full-discharge capacity (MWh); it calibrates the SOH estimate."""
    if principal.role == "planner":
        raise Problem(403, "Planners cannot record capacity tests.")
    asset = svc.get_asset(session, principal, code)
    test = svc.add_capacity_test(session, StorageCapacityTest(
        asset_id=asset.id, tested_on=body.tested_on,
        measured_capacity_mwh=body.measured_capacity_mwh, note=body.note,
        created_by=principal.key_id))
    return {"id": test.id, "tested_on": test.tested_on,
            "measured_capacity_mwh": test.measured_capacity_mwh,
            "soh_pct": 100.0 * test.measured_capacity_mwh / svc.station_battery(asset).energy_mwh}


@router.get("/{code}/health", response_model=HealthOut, response_model_exclude_unset=True)
def health(code: str, session: SessionDep, principal: PrincipalDep,
           years: Annotated[int, Query(ge=1, le=30)] = 15) -> dict[str, Any]:
    """State of health from measured throughput and capacity tests, and its projection."""
    return ops.health(session, svc.get_asset(session, principal, code), _now(), years)


@router.get("/{code}/resilience", response_model=ResilienceOut)
def resilience(code: str, session: SessionDep, principal: PrincipalDep,
               start: Annotated[Instant, Query(description="outage start, on the plan grid")],
               critical_load_mw: Annotated[float, Query(ge=0)],
               max_hours: Annotated[float, Query(gt=0, le=24 * 14)] = 72.0) -> dict[str, Any]:
    """Hours the station carries ``critical_load_mw`` through a grid outage from ``start``,
    starting from the current plan's state of charge at that moment."""
    asset = svc.get_asset(session, principal, code)
    return ops.resilience(session, asset, _aware("start", start), critical_load_mw, max_hours)
