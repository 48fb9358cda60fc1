"""Station operations: telemetry upload (the meters' ingest path), safety alerts, state of health
and outage resilience from the published plan."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy.orm import Session

from app.auth import Principal
from app.errors import DomainError
from app.models import StorageAsset
from app.problems import Problem, invalid, problem_of
from app.repositories import storage as repo
from app.services.ingest import RawBatch
from app.services.readings import IngestContext, ingest_frame
from app.services.storage import (
    TZ,
    current_plan_for,
    plan_schedule_frame,
    station_battery,
    station_window,
)
from energy.storage import (
    BatterySpec,
    outage_endurance_h,
    planned_soc_mwh,
    soh_estimate,
    soh_projection,
)
from energy.storage.degradation import load_ageing_model
from energy.storage.safety import excursions

TELEMETRY_FIELDS = {"power_mw": "power", "soc_pct": "soc", "temperature_c": "temperature"}
SAFETY_LOOKBACK = timedelta(days=1)
"""Telemetry read before a checked range so an excursion keeps its true start (one alert)."""
LABELS = {"soc_pct": ("SOC", "%"), "temperature_c": ("temperature", "degC"),
          "power_mw": ("power", "MW")}


# --- telemetry -------------------------------------------------------------------------------
def telemetry_batch(asset_code: str, rows: pd.DataFrame
                    ) -> tuple[RawBatch, np.ndarray, np.ndarray]:
    """Rows ``ts, power_mw, soc_pct, temperature_c`` (strings, blanks allowed) -> a readings batch
    of the station's telemetry meters (``<code>-power`` ...), with the telemetry row number and
    column of each reading (to name them in errors)."""
    meters, ts, values, src_rows, src_cols = [], [], [], [], []
    for col, quantity in TELEMETRY_FIELDS.items():
        if col not in rows:
            continue
        vals = rows[col]
        keep = vals.notna() & (vals.astype(str).str.strip() != "")
        k = int(keep.sum())
        meters += [f"{asset_code}-{quantity}"] * k
        ts += rows.loc[keep, "ts"].astype(str).tolist()
        values += vals[keep].astype(str).tolist()
        src_rows += (np.flatnonzero(keep.to_numpy()) + 1).tolist()
        src_cols += [col] * k
    if not meters:
        raise invalid("power_mw", "no values",
                      "No telemetry values: send power_mw, soc_pct or temperature_c.")
    raw = RawBatch(
        frame=pd.DataFrame({"row": np.arange(1, len(meters) + 1, dtype=np.int64),
                            "meter": pd.Categorical(meters)}),
        ts=pa.chunked_array([pa.array(ts, type=pa.string())]),
        value=pa.chunked_array([pa.array(values, type=pa.string())]),
    )
    return raw, np.asarray(src_rows), np.asarray(src_cols, dtype=object)


def _renamed(problem: Problem, src_rows: np.ndarray, src_cols: np.ndarray) -> Problem:
    """Errors of the readings batch restated as telemetry rows and columns."""
    for err in problem.errors or []:
        pos = err.get("row")
        if pos is not None and 1 <= pos <= len(src_rows):
            err["row"] = int(src_rows[pos - 1])
            if err.get("field") in ("value", "unit", "quality"):
                err["field"] = str(src_cols[pos - 1])
    return problem


def upload_telemetry(ctx: IngestContext, principal: Principal, asset: StorageAsset,
                     rows: pd.DataFrame, content_type: str, body: bytes) -> dict[str, Any]:
    """Store telemetry through the meters' ingest path, then check its range for excursions."""
    if "ts" not in rows:
        raise invalid("ts", "missing column", "Each row needs ts.")
    raw, src_rows, src_cols = telemetry_batch(asset.code, rows)
    try:
        answer = ingest_frame(ctx, principal, raw, content_type=content_type,
                              payload_sha256=hashlib.sha256(body).hexdigest())
    except (Problem, DomainError) as exc:
        raise _renamed(problem_of(exc), src_rows, src_cols) from None
    times = pd.to_datetime(rows["ts"].astype(str), utc=True, format="ISO8601")
    with Session(ctx.engine) as session, session.begin():
        fresh = session.get(StorageAsset, asset.id)
        assert fresh is not None
        opened = safety_check(session, fresh, times.min().to_pydatetime(),
                              (times.max() + pd.Timedelta(days=1)).to_pydatetime())
    return {**answer, "safety_alerts_opened": opened}


# --- safety ----------------------------------------------------------------------------------
def safety_check(session: Session, asset: StorageAsset, start: datetime, end: datetime) -> int:
    """Open one ``storage_safety`` alert per excursion of SOC, temperature or power outside the
    station's safe window that reaches into [start, end). Re-running opens nothing new."""
    meters = repo.telemetry_meters(session, asset.id)
    conn = session.connection()
    tele = repo.telemetry_frame(conn, meters, start - SAFETY_LOOKBACK, end)
    if tele.empty:
        return 0
    step = pd.Timedelta(minutes=min(m.interval_minutes for m in meters.values()))
    grid = pd.date_range(tele.index.min(), tele.index.max(), freq=step)
    tele = tele.reindex(grid.union(tele.index))  # gaps become NaN and end a run
    window = station_window(asset)
    found = excursions(tele, window, step)
    found = found[found["end"] > pd.Timestamp(start)]
    by_col = {col: meters[q] for col, q in TELEMETRY_FIELDS.items() if q in meters}
    alerts = []
    for ex in found.itertuples():
        label, unit = LABELS[ex.quantity]
        word = "below the safe minimum" if ex.side == "low" else "above the safe maximum"
        alerts.append({
            "meter_id": by_col[ex.quantity].id, "enterprise_id": asset.enterprise_id,
            "start": ex.start.to_pydatetime(), "end": ex.end.to_pydatetime(), "steps": ex.steps,
            "message": (f"storage {asset.code}: {label} {ex.extreme:g} {unit} {word} "
                        f"{ex.limit:g} {unit} for {ex.steps} interval(s) from "
                        f"{ex.start.tz_convert(TZ).isoformat()}"),
        })
    return repo.open_safety_alerts(conn, alerts)


def safety_job(session: Session, now: datetime | None = None,
               lookback: timedelta = timedelta(hours=24)) -> int:
    """Scheduled: check every station's telemetry of the last ``lookback``."""
    now = now or datetime.now(UTC)
    return sum(safety_check(session, a, now - lookback, now) for a in repo.all_assets(session))


# --- health ----------------------------------------------------------------------------------
def health(session: Session, asset: StorageAsset, now: datetime, years: int = 15
           ) -> dict[str, Any]:
    """SOH from measured throughput and time in service (SAM calendar fade, cycle fade calibrated
    to LFP cycle life), calibrated to capacity tests; projection under the current plan's daily
    cycle through the same ageing function (energy.storage.degradation.soh_at)."""
    battery = station_battery(asset)
    meters = repo.telemetry_meters(session, asset.id)
    summary = repo.telemetry_summary(session.connection(), meters)
    first = asset.commissioned_on or (summary["first"].astimezone(TZ).date()
                                      if summary["first"] else None)
    tests = repo.capacity_tests(session, asset.id)
    today = now.astimezone(TZ).date()
    out: dict[str, Any] = {
        "asset": asset.code, "nameplate_mwh": battery.energy_mwh, "in_service_since": first,
        "throughput_mwh": summary["throughput_mwh"], "telemetry_readings": summary["readings"],
        "mean_temperature_c": summary["mean_temperature_c"],
        "mean_soc_pct": summary["mean_soc_pct"],
        "capacity_tests": [{"tested_on": t.tested_on, "measured_capacity_mwh":
                            t.measured_capacity_mwh, "soh_pct": 100.0 * t.measured_capacity_mwh
                            / battery.energy_mwh} for t in tests],
        "end_of_life_soh_pct": load_ageing_model().end_of_life_soh_pct,
    }
    if first is None:
        out["soh"] = None
        out["note"] = "no telemetry and no commissioning date: nothing to estimate from"
        return out
    days = max((today - first).days, 1)
    cap = None
    if tests:
        cap = pd.Series([t.measured_capacity_mwh for t in tests],
                        index=[max((t.tested_on - first).days, 1) for t in tests], dtype=float)
    est = soh_estimate(
        summary["throughput_mwh"], days, battery.energy_mwh,
        mean_temperature_c=summary["mean_temperature_c"] if summary["mean_temperature_c"]
        is not None else 25.0,
        mean_soc_frac=(summary["mean_soc_pct"] / 100.0) if summary["mean_soc_pct"] is not None
        else 0.5, capacity_tests=cap)
    out["days_in_service"] = days
    out["soh"] = est
    out["soh_pct"] = est.get("calibrated_soh_pct", est["model_soh_pct"])
    out["projection"] = _projection(session, asset, battery.energy_mwh, today, years,
                                    summary["mean_temperature_c"],
                                    est.get("calibration_factor", 1.0))
    return out


def _projection(session: Session, asset: StorageAsset, energy_mwh: float, today: date,
                years: int, temperature_c: float | None, scale: float) -> dict[str, Any]:
    plan = repo.latest_plan(session, asset.id)
    if plan is None:
        return {"basis": None, "note": "no published plan to project the operating cycle from"}
    sched = plan_schedule_frame(plan)
    per_day = len(sched)
    index = pd.date_range(sched.index[0], periods=per_day * 365,
                          freq=f"{plan.step_minutes}min")
    soc = pd.Series(np.tile(sched["soc_mwh"].to_numpy(), 365), index=index)
    temp = 25.0 if temperature_c is None else float(temperature_c)
    proj = soh_projection(soc, energy_mwh, temp, years=years)
    fade = 100.0 - proj["soh_pct"]
    soh = 100.0 - scale * fade
    eol = load_ageing_model().end_of_life_soh_pct
    below = soh[soh < eol]
    return {
        "basis": f"plan of {plan.day.isoformat()} repeated daily, {temp:g} degC enclosure",
        "calibration_factor": scale,
        "years": [{"year": int(y), "soh_pct": float(v), "efc": float(e)}
                  for y, v, e in zip(proj.index, soh, proj["efc"], strict=True)],
        "end_of_life_year": int(below.index[0]) if len(below) else None,
    }


# --- resilience ------------------------------------------------------------------------------
def resilience(session: Session, asset: StorageAsset, start: datetime, critical_load_mw: float,
               max_hours: float) -> dict[str, Any]:
    """Hours the station (with the plan's PV) carries ``critical_load_mw`` through an outage
    starting at ``start``, from the planned SOC at that moment. Beyond the plan's horizon no PV
    is assumed (conservative)."""
    ts = pd.Timestamp(start).tz_convert(TZ)
    plan = current_plan_for(session, asset, ts.date())
    sched = plan_schedule_frame(plan)
    step = pd.Timedelta(minutes=plan.step_minutes)
    if ts not in sched.index:
        raise invalid("start", "not on the plan grid", "start must be an interval start of the "
                      f"plan ({plan.step_minutes}-minute steps)")
    battery = BatterySpec.from_dict(plan.battery)
    soc0 = planned_soc_mwh(sched, ts, battery.soc_initial_mwh)
    n = int(np.ceil(pd.Timedelta(hours=max_hours) / step))
    index = pd.date_range(ts, periods=n, freq=step)
    pv = sched["pv_mw"].reindex(index).fillna(0.0)
    hours = outage_endurance_h(soc0, critical_load_mw, pv, battery)
    return {"asset": asset.code, "start": ts.to_pydatetime(), "plan_id": plan.id,
            "plan_day": plan.day, "critical_load_mw": critical_load_mw,
            "soc_start_mwh": soc0, "hours": hours, "capped_at_hours": max_hours,
            "capped": bool(hours >= max_hours - 1e-9),
            "assumption": "PV as planned within the plan's day, none after it"}

