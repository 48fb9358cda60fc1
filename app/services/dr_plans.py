"""Demand-response plans and settlements: inputs read from the park's tables, computed by
energy.vpp (baseline, HiGHS plan, settlement), stored with their provenance.

Plan: every registered flexible load (its recent mean load in the slot bounds what it can shed),
every PV array (clear-sky expected output bounds its curtailment) and every storage station (on
top of its published day-ahead plan, within its SOC and safety window) is offered to the LP; the
park's expected import over the plan horizon is its similar-day baseline (no forecast is used).
Each enterprise with an instruction gets a ``dr_instruction`` alert with the earliest deadline.

Settlement: after the event, from the meters: each resource the plan called (every registered
resource and PV array without a plan) at its meter (a PV meter as generation), each of their
enterprises at its import less export meters, and the park as the sum of those enterprises (the
park has no connection meter of its own).

A plan and a settlement are made once per event version: a repeated request or job run finds
them and changes nothing (an advisory lock per event serialises concurrent callers).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from app.auth import Principal
from app.models import DrEvent, DrPlan, Meter, StorageAsset
from app.params import invalid
from app.problems import Problem
from app.repositories import dr_plans as repo
from app.repositories import storage as storage_repo
from app.repositories import vpp as vpp_repo
from app.services import dr_events
from app.services import pv as pv_svc
from app.services import storage as storage_svc
from app.services.jobs import once
from energy.site import PARK_ZONE
from energy.tariffs import price_series
from energy.vpp.baseline import BaselineRules, dr_baseline
from energy.vpp.plan import PlanError, PlanInputs, PlanResult, PlanSettings, plan_event, plan_index
from energy.vpp.resources import EventSignal, FlexResource, StorageResource
from energy.vpp.settlement import MeteredResource, Settlement, settle_event

TZ = PARK_ZONE
STEP = pd.Timedelta(minutes=15)
PROFILE_DAYS = 7
"""Days of readings a registered load's mean load per slot is taken from (its shedding bound)."""
SETTLE_AFTER = timedelta(hours=2)
"""The settlement job waits this long after an event for late readings."""
DEFAULT_TARIFF = "example_tou_illustrative"
"""Tariff of the energy term when the park has no storage station naming one."""
IMPORT, EXPORT = "electricity_import", "electricity_export"
FAILED = "failed"


def _ts(x: datetime | pd.Timestamp) -> pd.Timestamp:
    return pd.Timestamp(x).tz_convert(TZ)


def _iso(x: Any) -> str | None:
    return None if x is None or x is pd.NaT else pd.Timestamp(x).tz_convert(TZ).isoformat()


def _num(x: Any) -> float | None:
    """A finite float or None (NaN, None, inf)."""
    if x is None:
        return None
    v = float(x)
    return v if math.isfinite(v) else None


def signal(event: DrEvent) -> EventSignal:
    return EventSignal(_ts(event.start_ts), _ts(event.end_ts), event.direction,
                       float(event.target_kw), float(event.price_yuan_per_kwh),
                       _ts(event.notified_at))


def _event(session: Session, event_id: str) -> DrEvent:
    row = vpp_repo.get_event(session, event_id)
    if row is None:
        raise Problem(404, f"No demand-response event {event_id!r}. / 无此需求响应事件。")
    return row


# --- readings as 15-minute power --------------------------------------------------------------
def kw_frame(session: Session, meters: Sequence[Meter], start: pd.Timestamp, end: pd.Timestamp
             ) -> pd.DataFrame:
    """Interval-mean kW per meter (columns: meter id) on the 15-minute grid of [start, end).
    A step is NaN unless every reading inside it is present; a reading longer than a step
    counts as its mean power in each step it covers."""
    idx = pd.date_range(start, end, freq=STEP, inclusive="left")
    out = pd.DataFrame(np.nan, index=idx, columns=[m.id for m in meters])
    raw = repo.readings_kw(session, [m.id for m in meters], start.to_pydatetime(),
                           end.to_pydatetime())
    for mid, g in raw.groupby("meter_id"):
        interval = int(g["interval_minutes"].iloc[0])
        s = pd.Series(g["kw"].to_numpy(dtype=float),
                      index=pd.DatetimeIndex(g["start_ts"]).tz_convert(TZ))
        if interval <= 15:
            grp = s.groupby(s.index.floor("15min"))
            full = grp.count() >= max(15 // max(interval, 1), 1)
            out[mid] = grp.mean()[full].reindex(idx)
        else:
            reps = interval // 15
            stamps = s.index.repeat(reps) + pd.TimedeltaIndex(
                np.tile(np.arange(reps) * STEP, len(s)))
            spread = pd.Series(np.repeat(s.to_numpy(), reps), index=stamps)
            out[mid] = spread[~spread.index.duplicated()].reindex(idx)
    return out


def _lookback_start(t0: pd.Timestamp, rules: BaselineRules) -> pd.Timestamp:
    return t0.normalize() - pd.Timedelta(days=rules.max_lookback_days + 1)


def _event_days(session: Session, ev: EventSignal, rules: BaselineRules) -> list[Any]:
    starts = repo.earlier_event_days(session, ev.start.to_pydatetime(),
                                     _lookback_start(ev.start, rules).to_pydatetime())
    return sorted({_ts(s).date() for s in starts if _ts(s).date() < ev.start.date()})


def _reporting(session: Session, meters: Sequence[Meter], start: pd.Timestamp,
               end: pd.Timestamp, notes: list[str]) -> tuple[list[Meter], pd.DataFrame]:
    """The grid meters that read anything in [start, end) and their kW frame. A meter silent over
    the whole window (a historical or daily-register meter no longer read at 15 minutes) is not
    part of the connection then; counting it would leave every day with a gap. Named in notes."""
    frame = kw_frame(session, meters, start, end)
    silent = [m for m in meters if not frame[m.id].notna().any()]
    if silent:
        codes = ", ".join(m.code for m in silent[:5]) + (" …" if len(silent) > 5 else "")
        notes.append(f"{len(silent)} grid meter(s) without readings in the baseline window left "
                     f"out: {codes} / {len(silent)} 个无读数的电表未计入")
    kept = [m for m in meters if m not in silent]
    return kept, frame[[m.id for m in kept]]


def _park_import(frame: pd.DataFrame, meters: Sequence[Meter]) -> pd.Series:
    sign = np.array([-1.0 if m.carrier == EXPORT else 1.0 for m in meters])
    if not len(meters):
        return pd.Series(np.nan, index=frame.index)
    return pd.Series((frame.to_numpy() * sign[None, :]).sum(axis=1), index=frame.index)


# --- plan inputs -------------------------------------------------------------------------------
@dataclasses.dataclass
class _Built:
    inputs: PlanInputs
    keys: dict[str, tuple[int | None, str, str, int]]  # LP code -> (enterprise id, code, kind,
    # notice minutes)
    provenance: dict[str, Any]


def _tariff_name(stations: Sequence[StorageAsset]) -> str:
    return stations[0].tariff if stations else DEFAULT_TARIFF


def _day_ahead(session: Session, asset: StorageAsset, index: pd.DatetimeIndex,
               notes: list[str]) -> tuple[np.ndarray, float | None]:
    """Day-ahead power (kW, + discharge) of the station over ``index`` from its published plans,
    and its SOC (kWh) before the first step; idle where no plan is published."""
    frames = []
    for day in sorted({t.date() for t in index} | {(index[0] - STEP).date()}):
        plan = storage_repo.current_plan(session, asset.id, day)
        if plan is not None:
            frames.append(storage_svc.plan_schedule_frame(plan))
    if not frames:
        notes.append(f"storage:{asset.code}: no published day-ahead plan; idle at its initial "
                     "SOC assumed / 无日前计划，按初始荷电状态空闲处理")
        return np.zeros(len(index)), None
    frame = pd.concat(frames).sort_index()
    frame = frame[~frame.index.duplicated(keep="last")]
    frame.index = pd.DatetimeIndex(frame.index).tz_convert(TZ)
    step = frame.reindex(index, method="ffill")
    power = ((step.get("discharge_mw", 0.0) - step.get("charge_mw", 0.0)) * 1000.0)
    power = pd.Series(power, index=index).fillna(0.0).to_numpy(dtype=float)
    soc = None
    before = frame[frame.index < index[0]]
    if "soc_mwh" in frame and not before.empty:
        soc = float(before["soc_mwh"].iloc[-1]) * 1000.0
    if np.isnan(step.to_numpy(dtype=float)).any():
        notes.append(f"storage:{asset.code}: day-ahead plan covers part of the horizon; idle "
                     "elsewhere")
    return power, soc


def build_inputs(session: Session, event: DrEvent, now: datetime) -> _Built:
    """Everything the LP needs, read from the park's tables."""
    ev = signal(event)
    settings = PlanSettings.from_practice()
    index = plan_index(ev, settings)
    ev_index = index[(index >= ev.start) & (index < ev.end)]
    rules = BaselineRules.from_practice()
    notes: list[str] = []
    t_from = _lookback_start(index[0], rules)
    grid_meters, frame = _reporting(session, repo.meters(session, [IMPORT, EXPORT]), t_from,
                                    index[-1] + STEP, notes)
    park = _park_import(frame, grid_meters).rename("park")
    event_days = _event_days(session, ev, rules)
    base = dr_baseline(park.to_frame(), index[0], index[-1] + STEP, event_days=event_days,
                       rules=rules)
    expected = base.baseline_kw["park"].to_numpy(dtype=float)
    have_expected = bool(np.isfinite(expected).all())
    if not have_expected:
        notes.append("park baseline: insufficient data; the connection limit is not checked / "
                     "园区基线数据不足，未校核并网容量")
        expected = np.zeros(len(index))
    stations = storage_repo.all_assets(session)
    tariff_name = _tariff_name(stations)
    tariff = storage_svc.get_tariff(session.connection(), tariff_name)
    price = price_series(index, tariff).to_numpy() / 1000.0
    enterprises = repo.enterprises(session)
    keys: dict[str, tuple[int | None, str, str, int]] = {}
    resources: list[FlexResource] = []
    month_start = ev.start.normalize().replace(day=1)
    called = repo.events_called(session, month_start.to_pydatetime(), ev.start.to_pydatetime())
    rows = repo.all_resources(session)
    before = min(ev.start.to_pydatetime(), now)
    profile = vpp_repo.load_profile_kw(session, [r.meter_id for r in rows],
                                       before - timedelta(days=PROFILE_DAYS), before, 15)
    minutes = (ev_index.hour * 60 + ev_index.minute).to_numpy()
    for r in rows:
        if r.kind == "storage":
            notes.append(f"{r.code}: behind-the-meter storage is not planned (no day-ahead "
                         "plan or SOC is known)")
            continue
        key = f"{r.enterprise_id}:{r.code}"
        keys[key] = (r.enterprise_id, r.code, r.kind, int(r.min_notice_minutes))
        mine = profile[profile["meter_id"] == r.meter_id]
        if mine.empty:
            avail = np.zeros(len(ev_index))
            notes.append(f"{r.code}: no readings of its meter in the {PROFILE_DAYS} days before; "
                         "nothing to shed assumed / 近期无读数，按不可调处理")
        else:
            slot = int(mine["slot_minutes"].iloc[0])
            by_slot = dict(zip(mine["slot"].astype(int), mine["kw"].astype(float), strict=True))
            avail = np.array([by_slot.get(int(m - m % slot), 0.0) for m in minutes])
        resources.append(FlexResource(
            code=key, enterprise=enterprises.get(r.enterprise_id, ""), kind=r.kind,
            max_reduction_kw=float(r.max_reduction_kw),
            min_notice_minutes=float(r.min_notice_minutes),
            max_duration_minutes=float(r.max_duration_minutes),
            max_events_per_month=int(r.max_events_per_month),
            events_this_month=called.get((r.enterprise_id, r.code), 0),
            rebound_fraction=float(r.rebound_fraction),
            cost_yuan_per_kwh=float(r.cost_yuan_per_kwh),
            available_kw=np.maximum(avail, 0.0)))
    arrays = repo.all_arrays(session) if ev.direction == "increase" else []
    if arrays:
        a, b = ev_index[0], ev_index[-1] + STEP
        weather = pv_svc.load_weather(session, "clearsky", a, b, "15min")
        library = [dataclasses.replace(pv_svc.library_array(x), code=str(x.id)) for x in arrays]
        energy = pv_svc.estimate(library, weather, a, b, "15min")
        for x in arrays:
            key = f"{x.enterprise_id}:pv:{x.code}"
            keys[key] = (x.enterprise_id, f"pv:{x.code}", "pv_curtailment", 0)
            out_kw = energy[str(x.id)].reindex(ev_index, fill_value=0.0).to_numpy() * 4.0
            resources.append(FlexResource(
                code=key, enterprise=enterprises.get(x.enterprise_id, ""),
                kind="pv_curtailment", max_reduction_kw=float(x.capacity_kwp),
                available_kw=out_kw))
        notes.append("pv_curtailment: bounded by the clear-sky expected output (pvlib)")
    storage: list[StorageResource] = []
    for asset in stations:
        spec = storage_svc.station_battery(asset)
        window = storage_svc.station_window(asset, spec)
        da, soc0 = _day_ahead(session, asset, index, notes)
        key = f"{asset.enterprise_id}:storage:{asset.code}"
        keys[key] = (asset.enterprise_id, f"storage:{asset.code}", "storage", 0)
        res = StorageResource.from_battery(
            key, enterprises.get(asset.enterprise_id or -1, "park"), spec, da,
            soc_start_kwh=soc0, safety=window)
        soc = res.soc_path_kwh(da, settings.step_h)
        if (soc < res.soc_min_kwh - 1e-3).any() or (soc > res.soc_max_kwh + 1e-3).any() or (
                da > res.power_discharge_kw + 1e-6).any() or (-da > res.power_charge_kw + 1e-6
                                                              ).any():
            notes.append(f"storage:{asset.code}: its day-ahead plan leaves the safe window "
                         "from this SOC; planned from idle instead")
            res = dataclasses.replace(res, day_ahead_kw=np.zeros(len(index)),
                                      soc_start_kwh=min(max(res.soc_start_kwh, res.soc_min_kwh),
                                                        res.soc_max_kwh))
        storage.append(res)
    grid = dr_events.connection()
    inputs = PlanInputs(
        event=ev, baseline_kw=expected, tariff_yuan_per_kwh=price, resources=resources,
        storage=storage, expected_kw=expected if have_expected else None,
        import_limit_kw=grid.import_limit_kw if have_expected else None,
        export_limit_kw=grid.export_limit_kw if have_expected else None, settings=settings)
    prov = {
        "baseline": {**base.method(), "days": [d.isoformat() for d in base.days_used["park"]],
                     "status": base.status["park"]},
        "expected_import": "the park's similar-day baseline over the horizon (no forecast)",
        "tariff": {"name": tariff.name, "version": tariff.version},
        "grid_connection": {"import_limit_kw": grid.import_limit_kw,
                            "export_limit_kw": grid.export_limit_kw, "version": grid.version},
        "meters": len(grid_meters),
        "notes": notes,
        "planned_at": _iso(now),
    }
    return _Built(inputs, keys, prov)


# --- plan --------------------------------------------------------------------------------------
def _instructions(result: PlanResult, built: _Built) -> list[dict[str, Any]]:
    """Instruction rows: kW per resource and step, + = less draw at its meter (a load shed, PV
    curtailed... for PV the meter reads less output), - = more (rebound, extra charging).
    Storage rows are the deviation from its day-ahead plan; deadline = step start - notice."""
    out: list[dict[str, Any]] = []
    store = {s.code: s for s in built.inputs.storage}
    for key, col in result.instructions_kw.items():
        eid, code, kind, notice = built.keys[key]
        power = col.to_numpy(dtype=float).copy()
        if key in store:
            power = power - store[key].day_ahead_kw
        if key in result.rebound_kw:
            power = power - result.rebound_kw[key].to_numpy(dtype=float)
        for t, p in zip(result.index, power, strict=True):
            if abs(p) < 1e-6:
                continue
            out.append({"resource_code": code, "resource_kind": kind, "enterprise_id": eid,
                        "step_start": t.to_pydatetime(), "power_kw": round(float(p), 3),
                        "deadline": (t - pd.Timedelta(minutes=notice)).to_pydatetime()})
    return out


def _alert_text(event: DrEvent, ent_lines: list[dict[str, Any]]) -> str:
    codes = sorted({x["resource_code"] for x in ent_lines})
    peak = max(abs(x["power_kw"]) for x in ent_lines)
    first = min(x["step_start"] for x in ent_lines)
    last = max(x["step_start"] for x in ent_lines) + STEP
    deadline = min(x["deadline"] for x in ent_lines)
    verb, verb_zh = (("reduce", "削减") if event.direction == "reduce" else ("raise", "提升"))
    span = f"{_ts(first):%m-%d %H:%M}–{_ts(last):%H:%M}"
    return (f"DR event {event.id} v{event.version}: {verb} draw by up to {peak:,.0f} kW with "
            f"{', '.join(codes[:5])}{' …' if len(codes) > 5 else ''}, {span}; act by "
            f"{_ts(deadline):%m-%d %H:%M}. / 需求响应事件 {event.id}（第{event.version}版）："
            f"{span} {verb_zh}用电最多 {peak:,.0f} kW，请于 {_ts(deadline):%m-%d %H:%M} 前执行。")


def make_plan(session: Session, event_id: str, now: datetime) -> tuple[DrPlan, str]:
    """The current plan of the event's current version: made now ('created') or found
    ('unchanged'). Call inside the transaction that should commit it."""
    repo.lock_event(session, event_id)
    event = _event(session, event_id)
    current = repo.current_plan(session, event_id)
    if current is not None and current.event_version == event.version:
        return current, "unchanged"
    if event.status != "active":
        raise Problem(409, f"Event {event_id!r} is {event.status}; it is not planned. / "
                      "事件已取消，不再编制计划。")
    if _ts(event.end_ts) <= _ts(now):
        raise Problem(409, f"Event {event_id!r} has ended; it is settled, not planned. / "
                      "事件已结束。")
    built = build_inputs(session, event, now)
    prov = dict(built.provenance)
    try:
        result = plan_event(built.inputs)
    except PlanError as exc:
        repo.supersede_plans(session, event_id)
        plan = repo.add_plan(session, DrPlan(
            event_id=event_id, event_version=event.version, status=FAILED,
            shortfall_kw=float(event.target_kw), objective=None,
            provenance={**prov, "error": str(exc)}), [])
        return plan, "created"
    lines = _instructions(result, built)
    prov.update(_plan_provenance(result, built))
    repo.supersede_plans(session, event_id)
    plan = repo.add_plan(session, DrPlan(
        event_id=event_id, event_version=event.version, status=result.status,
        shortfall_kw=float(result.shortfall_kw.max()) if len(result.shortfall_kw) else 0.0,
        objective=_num(result.cost_yuan), provenance=prov), lines)
    by_ent: dict[int, list[dict[str, Any]]] = {}
    for x in lines:
        if x["enterprise_id"] is not None:
            by_ent.setdefault(x["enterprise_id"], []).append(x)
    for eid, ent_lines in by_ent.items():
        repo.open_alert(session, eid, event.start_ts, event.end_ts, _alert_text(event, ent_lines))
    return plan, "created"


def _plan_provenance(result: PlanResult, built: _Built) -> dict[str, Any]:
    summary = []
    for row in result.summary.itertuples():
        eid, code, kind, _ = built.keys[row.code]
        summary.append({"enterprise_id": eid, "code": code, "kind": kind,
                        "energy_kwh": round(float(row.energy_kwh), 3),
                        "max_kw": round(float(row.max_kw), 3),
                        "rebound_kwh": round(float(row.rebound_kwh), 3),
                        "cost_yuan": round(float(row.cost_yuan), 2)})
    unavailable = []
    for key, why in result.unavailable.items():
        eid, code, kind, _ = built.keys[key]
        unavailable.append({"enterprise_id": eid, "code": code, "kind": kind, "reason": why})
    expected = built.inputs.expected_kw
    base = (pd.Series(expected, index=result.index).reindex(result.event_index)
            if expected is not None and len(expected) == len(result.index) else None)
    return {
        "steps": [{"start": _iso(t), "required_kw": round(float(r), 3),
                   "delivered_kw": round(float(d), 3), "shortfall_kw": round(float(s), 3),
                   "baseline_kw": _round(base.get(t)) if base is not None else None}
                  for t, r, d, s in zip(result.event_index, result.required_kw,
                                        result.delivered_kw, result.shortfall_kw, strict=True)],
        "shortfall_kwh": round(result.shortfall_kwh, 3),
        "cost_yuan": round(result.cost_yuan, 2),
        "resources": summary,
        "unavailable": unavailable,
    }


def plan_json(session: Session, principal: Principal, event_id: str) -> dict[str, Any]:
    """GET /v1/dr/events/{id}/plan: an enterprise key sees only its own instructions."""
    event = _event(session, event_id)
    plan = repo.current_plan(session, event_id)
    if plan is None:
        raise Problem(404, f"Event {event_id!r} has no plan yet (plans are made by the plan "
                      "job or POST …/plan). / 该事件尚无计划。")
    own = principal.enterprise_id if principal.role == "enterprise" else None
    rows = repo.instructions(session, plan.id, own)
    enterprises = repo.enterprises(session)
    prov = dict(plan.provenance or {})
    lines: dict[tuple[int | None, str], dict[str, Any]] = {}
    for r in rows:
        line = lines.setdefault((r.enterprise_id, r.resource_code), {
            "code": r.resource_code, "kind": r.resource_kind,
            "enterprise": enterprises.get(r.enterprise_id) if r.enterprise_id else None,
            "deadline": r.deadline, "steps": []})
        line["deadline"] = min(line["deadline"], r.deadline)
        line["steps"].append({"start": r.step_start, "power_kw": r.power_kw})
    summary = {(s["enterprise_id"], s["code"]): s for s in prov.get("resources", [])}
    for k, line in lines.items():
        s = summary.get(k, {})
        line.update({"energy_kwh": s.get("energy_kwh"), "max_kw": s.get("max_kw"),
                     "rebound_kwh": s.get("rebound_kwh"), "cost_yuan": s.get("cost_yuan")})
    unavailable = [{"code": u["code"], "kind": u["kind"], "reason": u["reason"],
                    "enterprise": enterprises.get(u["enterprise_id"])}
                   for u in prov.get("unavailable", [])
                   if own is None or u["enterprise_id"] == own]
    return {
        "event_id": event_id, "event_version": plan.event_version,
        "current_event_version": event.version, "plan_id": plan.id,
        "created_at": plan.created_at, "status": plan.status,
        "direction": event.direction, "target_kw": event.target_kw,
        "shortfall_kw": plan.shortfall_kw, "shortfall_kwh": prov.get("shortfall_kwh"),
        "cost_yuan": plan.objective if own is None else None,
        "steps": prov.get("steps", []),
        "instructions": list(lines.values()),
        "unavailable": unavailable,
        "baseline": prov.get("baseline"),
        "notes": prov.get("notes", []) if own is None else [],
        "error": prov.get("error"),
    }


# --- settlement ---------------------------------------------------------------------------------
def make_settlement(session: Session, event_id: str, now: datetime) -> tuple[Settlement | None,
                                                                            str]:
    """Settle the event's current version once ('created'), or find it settled ('unchanged')."""
    repo.lock_event(session, event_id)
    event = _event(session, event_id)
    if repo.settlement_lines(session, event_id, event.version):
        return None, "unchanged"
    if event.status != "active":
        raise Problem(409, f"Event {event_id!r} is {event.status}; there is nothing to settle. "
                      "/ 事件已取消，无需结算。")
    if _ts(event.end_ts) > _ts(now):
        raise Problem(409, f"Event {event_id!r} ends at {_iso(event.end_ts)}; it is settled "
                      "after that. / 事件结束后方可结算。")
    ev = signal(event)
    rules = BaselineRules.from_practice()
    enterprises = repo.enterprises(session)
    grid_meters = list(repo.meters(session, [IMPORT, EXPORT]))
    flex = [r for r in repo.all_resources(session)]
    arrays = [a for a in repo.all_arrays(session) if a.meter_id is not None]
    by_id = {m.id: m for m in grid_meters}
    extra_ids = ({r.meter_id for r in flex} | {a.meter_id for a in arrays}) - set(by_id)
    extra = [m for m in repo.meters(session) if m.id in extra_ids]
    all_meters = grid_meters + extra
    frame = kw_frame(session, all_meters, _lookback_start(ev.start, rules), ev.end)
    # a grid meter silent over the whole window is not part of its enterprise's total then
    grid_meters = [m for m in grid_meters if frame[m.id].notna().any()]
    carriers = {m.id: m.carrier for m in all_meters}
    frame.columns = [str(c) for c in frame.columns]
    for m in grid_meters:  # export meters count as negative import in the totals
        if m.carrier == EXPORT:
            frame[str(m.id)] = -frame[str(m.id)]
    resources = [MeteredResource(f"{r.enterprise_id}:{r.code}",
                                 enterprises.get(r.enterprise_id, ""), str(r.meter_id),
                                 generation=carriers.get(r.meter_id) == "pv_generation")
                 for r in flex if r.kind != "storage"]
    resources += [MeteredResource(f"{a.enterprise_id}:pv:{a.code}", enterprises.get(
        a.enterprise_id, ""), str(a.meter_id), generation=True) for a in arrays]
    plan = repo.current_plan(session, event_id)
    planned: dict[str, float] = {}
    if plan is not None and plan.event_version == event.version and plan.status != FAILED:
        for s in (plan.provenance or {}).get("resources", []):
            if s["kind"] != "storage" and abs(float(s["energy_kwh"])) > 0:
                planned[f"{s['enterprise_id']}:{s['code']}"] = float(s["energy_kwh"])
    # Who is settled: the resources the plan called (all of them without a plan) and their
    # enterprises; the park line is the sum of those enterprises' connections.
    if planned:
        resources = [r for r in resources if r.code in planned]
    participants = {int(r.code.split(":", 1)[0]) for r in resources}
    ent_meters: dict[str, list[str]] = {}
    for m in grid_meters:
        if m.enterprise_id in participants:
            ent_meters.setdefault(enterprises.get(m.enterprise_id, ""), []).append(str(m.id))
    settlement = settle_event(ev, frame, resources, ent_meters, planned_kwh=planned,
                              event_days=_event_days(session, ev, rules), baseline_rules=rules)
    ent_ids = {v: k for k, v in enterprises.items()}
    out = []
    for line in settlement.lines.itertuples():
        if line.level == "resource":
            eid, code = line.code.split(":", 1)
            eid_v, code_v = int(eid), code
        elif line.level == "enterprise":
            eid_v, code_v = ent_ids.get(line.code), None
        else:
            eid_v, code_v = None, None
        plan_kwh = _num(line.planned_kwh)
        delivered = _num(line.delivered_kwh)
        shortfall = (settlement.shortfall_kwh if line.level == "park" else
                     max(plan_kwh - delivered, 0.0) if plan_kwh is not None
                     and delivered is not None else None)
        out.append({
            "event_id": event_id, "event_version": event.version, "resource_code": code_v,
            "enterprise_id": eid_v, "baseline_kwh": _num(line.baseline_kwh),
            "actual_kwh": _num(line.actual_kwh), "delivered_kwh": delivered,
            "revenue_yuan": _num(line.revenue_yuan), "shortfall_kwh": _num(shortfall),
            "method": {"level": line.level, "status": line.status,
                       "delivery_ratio": _num(line.delivery_ratio), "planned_kwh": plan_kwh,
                       "baseline_days": list(line.baseline_days),
                       "adjustment_factor": _num(line.adjustment_factor),
                       "missing_steps": int(line.missing_steps),
                       "price_yuan_per_kwh": ev.price_yuan_per_kwh,
                       "paid_kwh": settlement.paid_kwh if line.level == "park" else None,
                       "steps": _park_steps(settlement) if line.level == "park" else None,
                       "baseline": settlement.method if line.level == "park" else None,
                       "settled_at": _iso(now)},
        })
    repo.replace_settlement(session, event_id, event.version, out)
    return settlement, "created"


def _round(x: Any) -> float | None:
    v = _num(x)
    return None if v is None else round(v, 3)


def _park_steps(settlement: Settlement) -> list[dict[str, Any]]:
    """The park's baseline, actual and delivered kW per step of the event (None: no data)."""
    steps = settlement.park_steps
    return [{"start": _iso(t), **{c: _round(steps.at[t, c]) if c in steps.columns else None
                                 for c in ("baseline_kw", "actual_kw", "delivered_kw")}}
            for t in steps.index]


SETTLEMENT_COLUMNS = ["level", "enterprise", "resource", "status", "baseline_kwh", "actual_kwh",
                      "delivered_kwh", "planned_kwh", "delivery_ratio", "revenue_yuan",
                      "shortfall_kwh", "baseline_days", "missing_steps"]


def settlement_json(session: Session, principal: Principal, event_id: str) -> dict[str, Any]:
    """GET /v1/dr/events/{id}/settlement: an enterprise key sees its own lines and the park's."""
    event = _event(session, event_id)
    own = principal.enterprise_id if principal.role == "enterprise" else None
    rows = repo.settlement_lines(session, event_id, event.version, own)
    if not rows:
        raise Problem(404, f"Event {event_id!r} (version {event.version}) is not settled yet. / "
                      "该事件尚未结算。")
    enterprises = repo.enterprises(session)
    lines = []
    park: dict[str, Any] = {}
    for r in rows:
        m = r.method or {}
        line = {"level": m.get("level"), "enterprise": enterprises.get(r.enterprise_id)
                if r.enterprise_id else None, "resource": r.resource_code,
                "status": m.get("status"), "baseline_kwh": r.baseline_kwh,
                "actual_kwh": r.actual_kwh, "delivered_kwh": r.delivered_kwh,
                "planned_kwh": m.get("planned_kwh"), "delivery_ratio": m.get("delivery_ratio"),
                "revenue_yuan": r.revenue_yuan, "shortfall_kwh": r.shortfall_kwh,
                "baseline_days": m.get("baseline_days", []),
                "missing_steps": m.get("missing_steps")}
        lines.append(line)
        if m.get("level") == "park":
            park = {**line, "paid_kwh": m.get("paid_kwh"), "method": m.get("baseline"),
                    "steps": m.get("steps") or [],
                    "settled_at": m.get("settled_at")}
    return {
        "event_id": event_id, "event_version": event.version, "direction": event.direction,
        "start": event.start_ts, "end": event.end_ts, "target_kw": event.target_kw,
        "price_yuan_per_kwh": event.price_yuan_per_kwh,
        "status": park.get("status"), "target_kwh": park.get("planned_kwh"),
        "delivered_kwh": park.get("delivered_kwh"), "delivery_ratio": park.get("delivery_ratio"),
        "paid_kwh": park.get("paid_kwh"), "revenue_yuan": park.get("revenue_yuan"),
        "shortfall_kwh": park.get("shortfall_kwh"), "method": park.get("method"),
        "settled_at": park.get("settled_at"), "steps": park.get("steps", []), "lines": lines,
    }


def settlement_csv(answer: dict[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(SETTLEMENT_COLUMNS)
    for line in answer["lines"]:
        w.writerow(["" if line.get(c) is None else
                    ";".join(line[c]) if isinstance(line.get(c), list) else line[c]
                    for c in SETTLEMENT_COLUMNS])
    return buf.getvalue()


def month_window(month: str) -> tuple[datetime, datetime]:
    """[first, next first) of a ``YYYY-MM`` month in the park's time zone."""
    try:
        first = pd.Timestamp(f"{month}-01").tz_localize(TZ)
    except (ValueError, TypeError):
        raise invalid("month", "not a YYYY-MM month") from None
    if len(month) != 7 or not 2000 <= first.year <= 2100:
        raise invalid("month", "not a YYYY-MM month between 2000 and 2100")
    return first.to_pydatetime(), (first + pd.offsets.MonthBegin(1)).to_pydatetime()


def summary_json(session: Session, principal: Principal, month: str) -> dict[str, Any]:
    """GET /v1/dr/summary: the month's events with the park's settlement, and totals per
    enterprise (an enterprise key: its own)."""
    start, end = month_window(month)
    own = principal.enterprise_id if principal.role == "enterprise" else None
    enterprises = repo.enterprises(session)
    events = repo.events_in(session, start, end)
    settled = repo.settled_lines_in(session, start, end, own)
    park = {e.id: s for e, s in settled if s.enterprise_id is None}
    per_ent: dict[str, dict[str, Any]] = {}
    for _e, s in settled:
        if s.enterprise_id is None:
            continue
        code = enterprises.get(s.enterprise_id, "")
        agg = per_ent.setdefault(code, {"enterprise": code, "events": 0, "delivered_kwh": 0.0,
                                        "revenue_yuan": 0.0, "incomplete": 0})
        agg["events"] += 1
        agg["delivered_kwh"] += s.delivered_kwh or 0.0
        agg["revenue_yuan"] += s.revenue_yuan or 0.0
        agg["incomplete"] += int((s.method or {}).get("status") != "ok")
    rows = []
    for e in events:
        s = park.get(e.id)
        m = (s.method or {}) if s is not None else {}
        rows.append({"event_id": e.id, "version": e.version, "status": e.status,
                     "start": e.start_ts, "end": e.end_ts, "direction": e.direction,
                     "target_kw": e.target_kw, "price_yuan_per_kwh": e.price_yuan_per_kwh,
                     "settled": s is not None,
                     "settlement_status": m.get("status"),
                     "delivered_kwh": s.delivered_kwh if s else None,
                     "delivery_ratio": m.get("delivery_ratio"),
                     "revenue_yuan": s.revenue_yuan if s else None,
                     "shortfall_kwh": s.shortfall_kwh if s else None})
    settled_rows = [r for r in rows if r["settled"]]
    return {
        "month": month, "events": rows,
        "totals": {"events": len(rows), "settled": len(settled_rows),
                   "delivered_kwh": sum(r["delivered_kwh"] or 0.0 for r in settled_rows),
                   "revenue_yuan": sum(r["revenue_yuan"] or 0.0 for r in settled_rows),
                   "shortfall_kwh": sum(r["shortfall_kwh"] or 0.0 for r in settled_rows),
                   "status": "ok" if all(r["settlement_status"] == "ok" for r in settled_rows)
                   and len(settled_rows) == len([r for r in rows if r["status"] == "active"
                                                 and _ts(r["end"]) <= _ts(datetime.now(UTC))])
                   else "incomplete"},
        "enterprises": sorted(per_ent.values(), key=lambda x: x["enterprise"]),
    }


# --- jobs ---------------------------------------------------------------------------------------
def plan_job(session_factory: Any, now: datetime | None = None) -> dict[str, str]:
    """Plan every active event whose current version has no plan: one transaction per event,
    once per (event, version) (``job_runs`` key ``dr_plan`` / ``<id> v<version>``)."""
    now = now or datetime.now(UTC)
    return _once_per_event_version(session_factory, "dr_plan", repo.events_to_plan, now,
                                   lambda session, event_id: _job_plan(session, event_id, now))


def _once_per_event_version(session_factory: Any, job: str,
                            events: Callable[[Session, datetime], Sequence[Any]],
                            due: datetime, run: Callable[[Session, str], str]
                            ) -> dict[str, str]:
    """``run`` for each event ``events(session, due)`` lists, in its own transaction, once per
    (event, version) under ``job_runs`` key ``job`` / ``<id> v<version>``."""
    with session_factory() as session:
        todo = [(e.id, e.version) for e in events(session, due)]
    out: dict[str, str] = {}
    for event_id, version in todo:
        with session_factory() as session, session.begin():
            res = once(session, job, f"{event_id} v{version}",
                       lambda s=session, i=event_id: run(s, i))
        out[event_id] = res or "ran already"
    return out


def _job_plan(session: Session, event_id: str, now: datetime) -> str:
    try:
        plan, outcome = make_plan(session, event_id, now)
    except Problem as exc:
        return f"skipped: {exc.detail}"
    return f"{outcome} plan {plan.id} ({plan.status})"


def settlement_job(session_factory: Any, now: datetime | None = None) -> dict[str, str]:
    """Settle every active event ended ``SETTLE_AFTER`` ago whose current version is not settled
    (``job_runs`` key ``dr_settlement`` / ``<id> v<version>``)."""
    now = now or datetime.now(UTC)
    return _once_per_event_version(
        session_factory, "dr_settlement", repo.events_to_settle, now - SETTLE_AFTER,
        lambda session, event_id: _job_settle(session, event_id, now))


def _job_settle(session: Session, event_id: str, now: datetime) -> str:
    try:
        s, outcome = make_settlement(session, event_id, now)
    except Problem as exc:
        return f"skipped: {exc.detail}"
    return outcome if s is None else f"{outcome} ({s.status}, ratio {s.delivery_ratio})"

