"""The overview's panels that come from other modules: the storage station's plan, PV
expected output and carbon indicators against targets.

Each function calls that module's own service code (so the dashboard shows exactly what its API
answers) and is only called when the module's routes are served (see
``app.routers.dashboard.available_modules``); the imports are local for that reason. An error of
a module becomes ``{"error": ...}`` in its panel instead of failing the whole overview.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from app.auth import Principal
from app.errors import DomainError
from app.problems import Problem, problem_of
from app.repositories.readings_store import ReadingsStore
from app.services.overview import TZ, Window, period_window

CARBON_HEADLINE: tuple[str, ...] = (
    "energy_intensity_tce_per_10k_yuan", "energy_intensity_change_vs_base_pct",
    "co2_per_energy_t_per_tce", "clean_energy_share_pct")
"""Indicators of the carbon panel: intensity vs ≤ 0.07 tce/10k yuan, its change vs 2025, the
zero-carbon park's core indicator tCO2/tce and the clean-energy share."""


def _guard(fn: Callable[[], dict[str, Any] | None]) -> dict[str, Any] | None:
    try:
        return fn()
    except (Problem, DomainError) as exc:
        return {"error": exc.detail}


# --------------------------------------------------------------------------- storage
def storage_summary(session: Session, principal: Principal, day: date,
                    now: datetime) -> dict[str, Any] | None:
    """The first station the caller may see: its plan for ``day`` and the planned state of
    charge at the current time of day (the interval holding it)."""
    from app.repositories import storage as storage_repo
    from app.services import storage as storage_svc

    def build() -> dict[str, Any] | None:
        assets = storage_repo.list_assets(session, principal)
        if not assets:
            return None
        asset = assets[0]
        battery = storage_svc.station_battery(asset)
        out: dict[str, Any] = {
            "code": asset.code, "name": asset.name, "zone": asset.zone,
            "power_mw": battery.power_discharge_mw, "energy_mwh": battery.energy_mwh,
            "day": day, "plan": None, "soc_mwh": None, "soc_pct": None, "at": None}
        plan = storage_repo.current_plan(session, asset.id, day)
        if plan is None:
            return out
        answer = storage_svc.plan_json(session, asset, plan)
        local_now = now.astimezone(TZ)
        at = datetime.combine(day, local_now.time(), tzinfo=TZ)
        step = timedelta(minutes=int(answer["step_minutes"]))
        rows = answer["schedule"]
        row = next((r for r in rows if _ts(r["start"]) <= at < _ts(r["start"]) + step), None)
        out["plan"] = {"id": answer["id"], "strategy": answer["strategy"],
                       "step_minutes": answer["step_minutes"], "created_at": answer["created_at"],
                       "kpis": answer["kpis"],
                       "schedule": [{k: r.get(k) for k in ("start", "charge_mw", "discharge_mw",
                                                           "soc_mwh")} for r in rows]}
        if row is not None:
            out.update(soc_mwh=row["soc_mwh"], at=at,
                       soc_pct=100.0 * row["soc_mwh"] / battery.energy_mwh)
        return out

    return _guard(build)


def _ts(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


# --------------------------------------------------------------------------- PV
def _pv_estimate(session: Session, principal: Principal, start: datetime, end: datetime,
                 resolution: str) -> tuple[str, dict[datetime, float], float]:
    """(weather used, {bucket start: expected kWh}, capacity kWp): the PV API's park estimate
    of the metered arrays with measured weather (the arrays' stations), the typical year when
    none is measured."""
    from app.services.pv import park_estimate

    last: Problem | None = None
    for weather in ("measured", "typical"):
        try:
            answer = park_estimate(session, principal, start, end, resolution, weather,
                                   metered_only=True)
        except (Problem, DomainError) as exc:
            last = problem_of(exc)
            continue
        series: dict[datetime, float] = {}
        for zone in answer.zones:
            for p in zone.points:
                series[p.start] = series.get(p.start, 0.0) + p.value
        return weather, series, sum(z.capacity_kwp for z in answer.zones)
    assert last is not None
    raise last


PV_RESOLUTION = {"hour": "hour", "day": "day", "month": "month"}


def _measured_kwh(session: Session, meter_ids: list[int | None], start: datetime,
                  end: datetime, store: ReadingsStore) -> dict[datetime, float]:
    """{local day start: kWh} summed over the given generation meters."""
    out: dict[datetime, float] = {}
    conn = session.connection()
    for meter_id in meter_ids:
        if meter_id is None:
            continue
        for bucket, value, _quality, _n in store.meter_series(conn, meter_id, start, end, "day"):
            key = _ts(bucket).astimezone(TZ)
            out[key] = out.get(key, 0.0) + float(value)
    return out


def pv_expected(session: Session, principal: Principal, period: str,
                day: date, *, store: ReadingsStore) -> dict[str, Any] | None:
    """Expected PV output of the metered arrays, and their measured output: today's, this
    month's, and one expected value per balance bucket (day, week and month periods; the
    year's would need a year of irradiance per request). ``arrays`` says how many arrays both
    cover."""

    def build() -> dict[str, Any] | None:
        from app.repositories import pv as pv_repo

        month = period_window("month", day)
        weather, by_day, capacity = _pv_estimate(session, principal, month.start, month.end,
                                                 "day")
        if not capacity:
            return None
        today = datetime(day.year, day.month, day.day, tzinfo=TZ)
        # measured on the same arrays as expected: their generation meters only (a PV meter
        # without a registered array has nothing to be compared with)
        arrays = [r for r in pv_repo.list_arrays(session, principal) if r.meter_id is not None]
        measured = _measured_kwh(session, [r.meter_id for r in arrays], month.start, month.end,
                                 store)
        out: dict[str, Any] = {
            "weather": weather, "capacity_kwp": capacity, "arrays": len(arrays),
            "today_expected_kwh": by_day.get(today, 0.0),
            "month_expected_kwh": sum(by_day.values()),
            "today_measured_kwh": measured.get(today, 0.0),
            "month_measured_kwh": sum(measured.values()), "series": None}
        window: Window = period_window(period, day)
        if period != "year":
            series = by_day if period == "month" else _pv_estimate(
                session, principal, window.start, window.end, PV_RESOLUTION[window.bucket])[1]
            out["series"] = [{"start": b, "expected_kwh": series.get(b, 0.0)}
                             for b in window.buckets()]
        return out

    return _guard(build)


# --------------------------------------------------------------------------- carbon
def carbon_summary(session: Session, principal: Principal, year: int, *,
                   store: ReadingsStore) -> dict[str, Any] | None:
    """The year's CO2 by both scope-2 methods, the headline indicators with their targets, and
    each target's phase status with the trend projected to the phase end."""
    from app.services import carbon as carbon_svc
    from app.services.carbon_periods import parse_period

    def build() -> dict[str, Any] | None:
        if principal.role == "enterprise":
            entity = carbon_svc.Entity("enterprise", str(principal.enterprise_code),
                                       principal.enterprise_id)
        else:
            entity = carbon_svc.Entity("park", "park")
        conn = session.connection()
        period = parse_period(str(year))
        ledger = carbon_svc.ledger(conn, entity, period, store=store,
                                   with_batches=False)
        indicators = carbon_svc.indicators(conn, entity, period, store=store)
        status = carbon_svc.targets_status(conn, entity, year, store=store)
        values = indicators.get("indicators", {})
        return {
            "scope": entity.scope, "code": entity.code, "period": period.label,
            "factor_set": ledger.get("factor_set"), "ledger_status": indicators.get(
                "ledger_status"),
            "energy_tce": ledger.get("energy_tce"), "co2_t": ledger.get("co2_t"),
            "co2_location_based_t": ledger.get("co2_location_based_t"),
            "co2_market_based_t": ledger.get("co2_market_based_t"),
            "indicators": [{"name": n, "value": values.get(n),
                            "null_reason": indicators.get("null_reasons", {}).get(n),
                            "targets": indicators.get("targets", {}).get(n, [])}
                           for n in CARBON_HEADLINE],
            "coverage": indicators.get("coverage"),
            "status": [r for r in status.get("status", [])
                       if r.get("indicator") in CARBON_HEADLINE],
            "history": status.get("history", {}),
            "warnings": indicators.get("warnings", []),
        }

    return _guard(build)
