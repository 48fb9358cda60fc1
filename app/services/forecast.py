"""Forecasts of load (park, zone, enterprise, meter) and PV (array) on stored readings, with the
backtested skill of the method on the target's own history. The maths is energy.forecasting.

A forecast is issued at its *origin* = min(start, now) and reads only readings before it, so a
forecast with a past ``start`` is what would have been said then and can be checked against
what the meters read later. The storage plans read their load and PV forecasts here too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from app.auth import Principal
from app.models import PvArray
from app.params import invalid
from app.problems import Problem
from app.repositories import core as core_repo
from app.repositories import forecast as repo
from app.repositories import pv as pv_repo
from energy.forecasting import (
    Forecast,
    InsufficientHistory,
    Skill,
    backtest,
    forecast_load,
    forecast_pv,
    load_forecaster,
    naive_forecaster,
)
from energy.forecasting.rolling_origin import ForecastFn
from energy.site import PARK_TZ

TZ = PARK_TZ
ORIGIN = pd.Timestamp("2000-01-01 00:00", tz=TZ)
MAX_HORIZON_HOURS = 72.0
"""Longest forecast answered (three days; the model's leads are trained per request)."""
MAX_START_AHEAD_HOURS = 48.0
"""A start further beyond now than this is refused: nothing is known about it yet."""
HISTORY_DAYS = 112
"""Days of readings a load model is fitted on (16 weeks)."""
SKILL_DAYS = 14
"""Days of the rolling-origin backtest that states a forecast's skill."""
PV_HISTORY_DAYS = 90


@dataclass
class ForecastTarget:
    """What is forecast: its series is read for ``enterprise_ids`` (None: the park) or from
    ``meter_id`` / ``array``."""

    kind: str
    code: str | None
    quantity: str
    unit: str
    step_minutes: int
    enterprise_ids: list[int] | None = None
    meter_id: int | None = None
    array: PvArray | None = None
    notes: list[str] = field(default_factory=list)


def resolve_target(session: Session, principal: Principal, kind: str, code: str | None,
                   enterprise: str | None = None) -> ForecastTarget:
    """The caller's view of ``kind``/``code``: an enterprise key reaches only itself, its meters
    and arrays (anything else reads as absent, 404); park and zones are for other roles (403)."""
    if kind in ("park", "zone") and principal.role == "enterprise":
        raise Problem(403, f"An enterprise key forecasts its own enterprise, meters and arrays, "
                           f"not the {kind}.")
    if kind == "park":
        return ForecastTarget("park", None, "load", "kWh", 15)
    if code is None and not (kind == "enterprise" and principal.enterprise_code):
        raise invalid("code", f"required for target={kind}")
    if kind == "zone":
        assert code is not None
        ids = repo.zone_enterprise_ids(session, code)
        if not ids:
            raise Problem(404, f"No zone {code!r}; zones: {', '.join(repo.zones(session))}.")
        return ForecastTarget("zone", code, "load", "kWh", 15, enterprise_ids=ids)
    if kind == "enterprise":
        ent = core_repo.get_enterprise(session, principal, code or principal.enterprise_code
                                       or "")
        return ForecastTarget("enterprise", ent.code, "load", "kWh", 15,
                              enterprise_ids=[ent.id])
    if kind == "meter":
        assert code is not None
        meter = core_repo.get_meter(session, principal, code, enterprise)
        step = int(meter.interval_minutes)
        if step <= 0 or 1440 % step:
            raise invalid("code", f"meter {code!r} has {step}-minute intervals, which do not "
                          "divide a day: no forecast")
        return ForecastTarget("meter", meter.code, meter.carrier, meter.canonical_unit, step,
                              meter_id=meter.id)
    assert code is not None
    array = pv_repo.get_array(session, principal, code, enterprise)
    if array.meter_id is None:
        raise invalid("code", f"PV array {code!r} has no generation meter: nothing to learn "
                      "its sky from (register the array with its 'meter')")
    step = int(array.meter.interval_minutes) if array.meter else 15
    if step <= 0 or 1440 % step:
        raise invalid("code", f"the meter of {code!r} has {step}-minute intervals")
    return ForecastTarget("array", array.code, "pv_generation", "kWh", step,
                          meter_id=array.meter_id, array=array)


def horizon_index(start: datetime, horizon_hours: float, step_minutes: int, now: datetime
                  ) -> pd.DatetimeIndex:
    """Interval starts of the answer; 422 naming the field for a start off the step grid, a
    horizon beyond the cap or not a whole number of steps, a start too far ahead."""
    if not 0 < horizon_hours <= MAX_HORIZON_HOURS:
        raise invalid("horizon_hours", f"must be within (0, {MAX_HORIZON_HOURS:g}] hours")
    first = pd.Timestamp(start).tz_convert(TZ)
    if (first - ORIGIN) % pd.Timedelta(minutes=step_minutes):
        raise invalid("start", f"must lie on the target's {step_minutes}-minute grid "
                      "(Asia/Shanghai)")
    if first > pd.Timestamp(now) + pd.Timedelta(hours=MAX_START_AHEAD_HOURS):
        raise invalid("start", f"more than {MAX_START_AHEAD_HOURS:g} hours after now: "
                      "nothing is known about it yet")
    steps = horizon_hours * 60 / step_minutes
    if abs(steps - round(steps)) > 1e-9 or round(steps) < 1:
        raise invalid("horizon_hours", f"must be a whole number (at least one) of "
                      f"{step_minutes}-minute steps")
    return pd.date_range(first, periods=round(steps), freq=f"{step_minutes}min")


def origin_of(start: datetime, now: datetime, step_minutes: int) -> pd.Timestamp:
    """min(start, now), now floored to the step: readings before it are the history."""
    t = pd.Timestamp(now).tz_convert(TZ).floor(f"{step_minutes}min")
    return min(pd.Timestamp(start).tz_convert(TZ), t)


def _history(conn: Connection, target: ForecastTarget, origin: pd.Timestamp, days: int
             ) -> tuple[pd.Series, int]:
    a = (origin - pd.Timedelta(days=days)).to_pydatetime()
    b = origin.to_pydatetime()
    if target.kind in ("park", "zone", "enterprise"):
        load, _pv, meters = repo.load_bins_kwh(conn, target.enterprise_ids, a, b,
                                               target.step_minutes)
        return load.tz_convert(TZ), meters
    assert target.meter_id is not None
    s = repo.meter_bins(conn, target.meter_id, a, b, target.step_minutes)
    return s.tz_convert(TZ), 1


def _skill(skill: Skill | None, why: str | None = None) -> dict[str, Any]:
    if skill is None or skill.origins == 0 or skill.mase_week is None:
        return {"status": "insufficient data", "method": why or (skill.method if skill else ""),
                "origins": skill.origins if skill else 0, "points": skill.points if skill else 0,
                "first_day": None, "last_day": None, "issue_hours_before": 12.0,
                "mase_week": None, "mase_day": None, "nmae": None, "nmae_week_naive": None,
                "nmae_day_naive": None, "p10_p90_coverage": None}
    d = skill.to_dict()
    d.pop("seconds")
    return {"status": "ok", **d}


def _array_expected_kwh(arrays: list[PvArray], index: pd.DatetimeIndex) -> pd.Series:
    """Clear-sky energy (kWh per interval) of ``arrays`` summed, on ``index``."""
    from app.services.pv import library_array, site
    from energy.pv import estimate_power_kw
    from energy.weather.clearsky import clearsky_weather

    step = index[1] - index[0] if len(index) > 1 else pd.Timedelta(minutes=15)
    weather = clearsky_weather(site(), index[0], index[-1] + step,
                               freq=f"{int(step / pd.Timedelta(minutes=1))}min")
    kw = estimate_power_kw([library_array(a) for a in arrays], weather, site())
    return (kw.sum(axis=1) * (step / pd.Timedelta(hours=1))).reindex(index)


def _pv_fn(expected: pd.Series) -> ForecastFn:
    """The PV forecast of one array's clear-sky ``expected`` energy, for the backtest."""

    def fn(past: pd.Series, origin: pd.Timestamp, index: pd.DatetimeIndex) -> Forecast:
        return forecast_pv(past, expected, origin, index, history_days=PV_HISTORY_DAYS)
    return fn


def forecast(session: Session, principal: Principal, kind: str, code: str | None,
             start: datetime, horizon_hours: float, now: datetime,
             enterprise: str | None = None) -> dict[str, Any]:
    """GET /v1/forecasts."""
    target = resolve_target(session, principal, kind, code, enterprise)
    index = horizon_index(start, horizon_hours, target.step_minutes, now)
    origin = origin_of(start, now, target.step_minutes)
    conn = session.connection()
    if target.kind == "array":
        assert target.array is not None
        days = PV_HISTORY_DAYS + SKILL_DAYS
        history, meters = _history(conn, target, origin, days)
        step = pd.Timedelta(minutes=target.step_minutes)
        span = pd.date_range(origin.normalize() - pd.Timedelta(days=days), index[-1] + step,
                             freq=step, inclusive="left")
        expected = _array_expected_kwh([target.array], span)
        fn = _pv_fn(expected)
    else:
        history, meters = _history(conn, target, origin, HISTORY_DAYS + SKILL_DAYS)
        fn = load_forecaster(refit_every_days=SKILL_DAYS, lead_days=2,
                             history_days=HISTORY_DAYS)
    if history.empty:
        raise invalid("start", f"no readings of this {target.kind} before {origin.isoformat()}: "
                      "nothing to forecast from")
    try:
        if target.kind == "array":
            fc = fn(history, origin, index)
        else:
            fc = forecast_load(history, origin, index)
    except InsufficientHistory as exc:
        raise invalid("start", f"{exc} (before {origin.isoformat()})") from None
    try:
        skill = backtest(history, fn, days=SKILL_DAYS, end=origin,
                         step=pd.Timedelta(minutes=target.step_minutes))
        skill_out = _skill(skill)
    except (InsufficientHistory, ValueError) as exc:
        skill_out = _skill(None, f"no backtest: {exc}")
    frame = fc.frame()
    points = [{"start": t.isoformat(), "p50": _num(r.p50), "p10": _num(r.p10),
               "p90": _num(r.p90)} for t, r in zip(index, frame.itertuples(), strict=True)]
    return {
        "target": target.kind, "code": target.code, "quantity": target.quantity,
        "unit": target.unit, "step_minutes": target.step_minutes,
        "start": index[0].isoformat(), "horizon_hours": horizon_hours,
        "origin": origin.isoformat(), "method": fc.method, "notes": target.notes + fc.notes,
        "history": {"start": history.index[0].isoformat() if len(history) else None,
                    "end": origin.isoformat(), "intervals": int(history.notna().sum()),
                    "meters": meters},
        "skill": skill_out, "points": points,
    }


def _num(x: float) -> float | None:
    return round(float(x), 6) if np.isfinite(x) else None


# --- storage plans ---------------------------------------------------------------------------
def scope_forecasts(conn: Connection, enterprise_ids: list[int] | None,
                    index: pd.DatetimeIndex, origin: pd.Timestamp, step_minutes: int,
                    *, pv: bool, method: str = "model") -> tuple[np.ndarray, np.ndarray,
                                                                 dict[str, Any]]:
    """(load kWh, PV kWh per step, provenance) forecast on ``index`` from the readings before
    ``origin`` of the enterprises (None: the park). Load = import + PV − export, by the load
    model (``method="model"``) or the weekly seasonal naive (``"seasonal_naive"``). PV: the
    metered arrays' clear-sky output × the forecast clear-sky index when the scope has metered
    arrays (model), else the weekly seasonal naive of its PV meters (0 where none). Raises
    InsufficientHistory when the load cannot be forecast."""
    if index[-1] - origin > pd.Timedelta(hours=MAX_HORIZON_HOURS + MAX_START_AHEAD_HOURS):
        raise InsufficientHistory(
            f"stored forecasts reach {MAX_HORIZON_HOURS + MAX_START_AHEAD_HOURS:g} hours past "
            "their origin at most; pose a longer horizon's load inline")
    a = (origin - pd.Timedelta(days=HISTORY_DAYS)).to_pydatetime()
    load, pv_hist, meters = repo.load_bins_kwh(conn, enterprise_ids, a, origin.to_pydatetime(),
                                               step_minutes)
    load, pv_hist = load.tz_convert(TZ), pv_hist.tz_convert(TZ)
    if load.empty:
        raise InsufficientHistory(f"no electricity_import readings before {origin.isoformat()}")
    if method == "seasonal_naive":
        lf = naive_forecaster("week")(load, origin, index)
        missing = int(np.isnan(lf.p50).sum())
        if missing:
            raise InsufficientHistory(f"no electricity_import readings a week before {missing} "
                                      f"of {len(index)} steps")
    else:
        lf = forecast_load(load, origin, index)
    prov: dict[str, Any] = {
        "origin": origin.isoformat(), "history_from": load.index[0].isoformat(),
        "history_intervals": len(load), "meters": meters,
        "load_forecast": {"method": lf.method, "notes": lf.notes, "note": skill_note()},
    }
    pv_kwh = np.zeros(len(index))
    if pv and not pv_hist.empty:
        with Session(bind=conn) as session:
            arrays = list(repo.metered_arrays(session, enterprise_ids))
            try:
                if arrays and method == "model":
                    step = pd.Timedelta(minutes=step_minutes)
                    span = pd.date_range(
                        origin.normalize() - pd.Timedelta(days=PV_HISTORY_DAYS),
                        index[-1] + step, freq=step, inclusive="left")
                    pf = forecast_pv(pv_hist, _array_expected_kwh(arrays, span), origin, index,
                                     history_days=PV_HISTORY_DAYS)
                else:
                    pf = naive_forecaster("week")(pv_hist, origin, index)
                pv_kwh = np.nan_to_num(pf.p50)
                prov["pv_forecast"] = {"method": pf.method, "arrays": len(arrays),
                                       "notes": pf.notes}
            except InsufficientHistory as exc:
                prov["pv_forecast"] = {"method": "none: 0", "notes": [str(exc)]}
    return lf.p50, pv_kwh, prov


def skill_note(days: int = SKILL_DAYS) -> str:
    return (f"skill: GET /v1/forecasts (rolling-origin backtest over the {days} days before the "
            "origin)")
