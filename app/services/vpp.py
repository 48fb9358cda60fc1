"""Flexible resources and the park's available flexibility.

Registered resources (curtailable and shiftable loads, behind-the-meter storage or PV) live in
``flex_resources``; the storage stations and PV arrays are read as resources from their own
tables. Availability per 15-minute step and kind:

- storage station: headroom of its published plan (or, without a plan, of an idle station at its
  initial SOC) to discharge more / charge less (``reduce_kw``) and the reverse (``increase_kw``),
  each bounded by the power limits of the station's safety window and by the energy between its
  SOC limits in one step;
- PV arrays: ``increase_kw`` = clear-sky expected output (pvlib), the most curtailment can add;
- registered loads: ``max_reduction_kw`` bounded by the meter's mean load in the same time-of-day
  slot over the 7 days before the window (or before now, for a window in the future).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from app.auth import Principal
from app.models import FlexResource, PvArray, StorageAsset
from app.params import check_window, invalid
from app.problems import Problem
from app.repositories import storage as storage_repo
from app.repositories import vpp as repo
from app.schemas.vpp import FlexResourceIn
from app.services import pv as pv_svc
from app.services import storage as storage_svc

STEP_MINUTES = 15
MAX_WINDOW_DAYS = 7
"""Longest window ``GET /v1/flex/available`` answers (672 steps)."""
PROFILE_DAYS = 7
"""Days of readings a registered load's recent mean load is taken from."""
LOAD_CARRIERS: dict[str, tuple[str, ...]] = {
    "curtailable": ("electricity_import",),
    "shiftable": ("electricity_import",),
    "storage": ("electricity_import", "electricity_export"),
    "pv_curtailment": ("pv_generation",),
}
"""Carriers (energy/data/units.yaml) of the meter a registered resource of each kind sits behind."""
FIELDS = ("kind", "max_reduction_kw", "min_notice_minutes", "max_duration_minutes",
          "max_events_per_month", "rebound_fraction", "cost_yuan_per_kwh")


# --- registration ----------------------------------------------------------------------------
def _owner(session: Session, principal: Principal, enterprise: str | None) -> tuple[int, str]:
    """(id, code) of the enterprise a resource is registered for."""
    if principal.role == "enterprise":
        assert principal.enterprise_id is not None and principal.enterprise_code is not None
        if enterprise is not None and enterprise != principal.enterprise_code:
            raise Problem(403, "An enterprise key registers resources of its own enterprise "
                          "only. / 企业密钥只能登记本企业的可调资源。")
        return principal.enterprise_id, principal.enterprise_code
    if enterprise is None:
        raise invalid("enterprise", "required for an operator key",
                      "enterprise: name the enterprise the resource belongs to. / 请指定企业。")
    row = repo.enterprise_by_code(session, enterprise)
    if row is None:
        raise invalid("enterprise", f"no enterprise {enterprise!r}")
    return row.id, row.code


def register_resource(session: Session, principal: Principal, body: FlexResourceIn
                      ) -> tuple[FlexResource, str]:
    """Create or update a registered resource; returns it and 'created', 'updated' or
    'unchanged' (the same body twice changes nothing)."""
    enterprise_id, enterprise_code = _owner(session, principal, body.enterprise)
    meter = repo.meter_of(session, enterprise_id, body.meter)
    if meter is None:
        raise invalid("meter", f"no meter {body.meter!r} of enterprise {enterprise_code}",
                      f"meter: enterprise {enterprise_code} has no meter {body.meter!r}; a "
                      "resource sits behind one of its own meters. / 资源须位于本企业的电表之后。")
    allowed = LOAD_CARRIERS[body.kind]
    if meter.carrier not in allowed:
        raise invalid("meter", f"carrier {meter.carrier} cannot measure a {body.kind} resource "
                      f"(needs {', '.join(allowed)})")
    values: dict[str, Any] = {f: getattr(body, f) for f in FIELDS}
    row = repo.lock_resource(session, enterprise_id, body.code)
    if row is None:
        row = repo.add_resource(session, FlexResource(
            code=body.code, enterprise_id=enterprise_id, meter_id=meter.id,
            created_by=principal.key_id, **values))
        return row, "created"
    same = row.meter_id == meter.id and all(getattr(row, f) == v for f, v in values.items())
    if same:
        return row, "unchanged"
    for f, v in values.items():
        setattr(row, f, v)
    row.meter_id = meter.id
    row.updated_at = datetime.now(UTC)
    session.flush()
    return row, "updated"


# --- listing ---------------------------------------------------------------------------------
def registered_json(row: FlexResource, enterprises: dict[int, str], meters: dict[int, str]
                    ) -> dict[str, Any]:
    return {"code": row.code, "enterprise": enterprises.get(row.enterprise_id),
            "kind": row.kind, "meter": meters.get(row.meter_id),
            **{f: getattr(row, f) for f in FIELDS if f != "kind"}, "derived_from": None}


def station_json(asset: StorageAsset, enterprise: str | None, power_meter: str | None
                 ) -> dict[str, Any]:
    window = storage_svc.station_window(asset)
    return {"code": f"storage:{asset.code}", "enterprise": enterprise, "kind": "storage",
            "meter": power_meter,
            "max_reduction_kw": min(window.power_discharge_max_mw,
                                    storage_svc.station_battery(asset).power_discharge_mw) * 1000.0,
            "min_notice_minutes": 0, "max_duration_minutes": None,
            "max_events_per_month": None, "rebound_fraction": 0.0,
            "cost_yuan_per_kwh": storage_svc.station_battery(asset).degradation_cost_yuan_per_mwh
            / 1000.0, "derived_from": "storage"}


def array_json(array: PvArray) -> dict[str, Any]:
    return {"code": f"pv:{array.code}", "enterprise": array.enterprise.code,
            "kind": "pv_curtailment", "meter": array.meter.code if array.meter else None,
            "max_reduction_kw": float(array.capacity_kwp), "min_notice_minutes": 0,
            "max_duration_minutes": None, "max_events_per_month": None,
            "rebound_fraction": 0.0, "cost_yuan_per_kwh": 0.0, "derived_from": "pv_array"}


def list_resources(session: Session, principal: Principal) -> list[dict[str, Any]]:
    """Every resource the caller may see: registered ones, stations and PV arrays."""
    rows = repo.list_resources(session, principal)
    stations = repo.list_stations(session, principal)
    arrays = repo.list_arrays(session, principal)
    enterprises = repo.enterprise_codes(
        session, {r.enterprise_id for r in rows}
        | {s.enterprise_id for s in stations if s.enterprise_id is not None})
    meters = repo.meter_codes(session, {r.meter_id for r in rows})
    out = [registered_json(r, enterprises, meters) for r in rows]
    for s in stations:
        power = storage_repo.telemetry_meters(session, s.id).get("power")
        out.append(station_json(s, enterprises.get(s.enterprise_id) if s.enterprise_id else None,
                                power.code if power else None))
    out.extend(array_json(a) for a in arrays)
    return out


# --- availability ----------------------------------------------------------------------------
@dataclass
class KindAvailability:
    kind: str
    reduce_kw: np.ndarray
    increase_kw: np.ndarray
    resources: int = 0
    notes: list[str] = field(default_factory=list)
    insufficient: bool = False

    def json(self, index: pd.DatetimeIndex) -> dict[str, Any]:
        return {"kind": self.kind, "resources": self.resources,
                "status": "insufficient data" if self.insufficient else "ok",
                "notes": self.notes,
                "steps": [{"start": t.to_pydatetime(), "reduce_kw": round(float(r), 3),
                           "increase_kw": round(float(i), 3)}
                          for t, r, i in zip(index, self.reduce_kw, self.increase_kw,
                                             strict=True)]}


def _index(start: datetime, end: datetime) -> pd.DatetimeIndex:
    check_window(start, end, max_days=MAX_WINDOW_DAYS)
    a, b = pd.Timestamp(start).tz_convert(storage_svc.TZ), pd.Timestamp(end).tz_convert(
        storage_svc.TZ)
    for name, t in (("start", a), ("end", b)):
        if t != t.floor(f"{STEP_MINUTES}min"):
            raise invalid(name, f"not on a {STEP_MINUTES}-minute boundary")
    return pd.date_range(a, b, freq=f"{STEP_MINUTES}min", inclusive="left")


def _plan_frame(session: Session, asset: StorageAsset, days: Sequence[date]
                ) -> pd.DataFrame | None:
    frames = []
    for day in days:
        plan = storage_repo.current_plan(session, asset.id, day)
        if plan is not None:
            frames.append(storage_svc.plan_schedule_frame(plan))
    if not frames:
        return None
    frame = pd.concat(frames).sort_index()
    return frame[~frame.index.duplicated(keep="last")]


def _storage(session: Session, stations: Sequence[StorageAsset], index: pd.DatetimeIndex
             ) -> KindAvailability:
    out = KindAvailability("storage", np.zeros(len(index)), np.zeros(len(index)), len(stations))
    hours = STEP_MINUTES / 60.0
    days = sorted({t.date() for t in index})
    for asset in stations:
        battery = storage_svc.station_battery(asset)
        window = storage_svc.station_window(asset, battery)
        soc_min = max(window.soc_min_pct, battery.soc_min_pct) / 100 * battery.energy_mwh
        soc_max = min(window.soc_max_pct, battery.soc_max_pct) / 100 * battery.energy_mwh
        charge = np.zeros(len(index))
        discharge = np.zeros(len(index))
        soc = np.full(len(index), battery.soc_initial_pct / 100 * battery.energy_mwh)
        plan = _plan_frame(session, asset, days)
        if plan is not None:
            step = plan.reindex(index, method="ffill")
            covered = step.notna().all(axis=1).to_numpy() if not step.empty else None
            charge = step.get("charge_mw", pd.Series(0.0, index=index)).fillna(0).to_numpy()
            discharge = step.get("discharge_mw", pd.Series(0.0, index=index)).fillna(0).to_numpy()
            if "soc_mwh" in step:
                soc = step["soc_mwh"].fillna(pd.Series(soc, index=index)).to_numpy()
            if covered is not None and not covered.all():
                out.notes.append(f"storage:{asset.code}: no published plan for some steps; "
                                 "those assume an idle station at its initial SOC")
        else:
            out.notes.append(f"storage:{asset.code}: no published plan; an idle station at its "
                             f"initial SOC ({battery.soc_initial_pct:g} %) is assumed")
        p_discharge = min(battery.power_discharge_mw, window.power_discharge_max_mw)
        p_charge = min(battery.power_charge_mw, window.power_charge_max_mw)
        more_discharge = np.minimum(p_discharge - discharge + charge,
                                    np.maximum(soc - soc_min, 0) * battery.eta_discharge / hours
                                    + charge)
        more_charge = np.minimum(p_charge - charge + discharge,
                                 np.maximum(soc_max - soc, 0) / battery.eta_charge / hours
                                 + discharge)
        out.reduce_kw += np.maximum(more_discharge, 0) * 1000.0
        out.increase_kw += np.maximum(more_charge, 0) * 1000.0
    if stations:
        out.notes.append("storage: each step's bound alone; energy limits are shared across "
                         "consecutive steps of one event")
    return out


def _pv(session: Session, principal: Principal, index: pd.DatetimeIndex) -> KindAvailability:
    arrays = list(repo.list_arrays(session, principal))
    out = KindAvailability("pv_curtailment", np.zeros(len(index)), np.zeros(len(index)),
                           len(arrays))
    if not arrays:
        return out
    a, b = index[0], index[-1] + pd.Timedelta(minutes=STEP_MINUTES)
    weather = pv_svc.load_weather(session, "clearsky", a, b, "15min")
    # keyed by row id: array codes are unique per enterprise only
    library = [dataclasses.replace(pv_svc.library_array(r), code=str(r.id)) for r in arrays]
    energy = pv_svc.estimate(library, weather, a, b, "15min")
    out.increase_kw += energy.sum(axis=1).reindex(index, fill_value=0.0).to_numpy() * (
        60.0 / STEP_MINUTES)
    out.notes.append("pv_curtailment: clear-sky expected output (pvlib), an upper bound")
    return out


def _registered(session: Session, rows: Sequence[FlexResource], index: pd.DatetimeIndex,
                now: datetime) -> dict[str, KindAvailability]:
    kinds = {k: KindAvailability(k, np.zeros(len(index)), np.zeros(len(index)))
             for k in ("curtailable", "shiftable")}
    before = min(index[0].to_pydatetime(), now)
    profile = repo.load_profile_kw(session, [r.meter_id for r in rows],
                                   before - timedelta(days=PROFILE_DAYS), before, STEP_MINUTES)
    minutes = (index.hour * 60 + index.minute).to_numpy()
    for r in rows:
        k = kinds.setdefault(r.kind, KindAvailability(r.kind, np.zeros(len(index)),
                                                      np.zeros(len(index))))
        k.resources += 1
        mine = profile[profile["meter_id"] == r.meter_id]
        if mine.empty:
            k.insufficient = True
            k.notes.append(f"{r.code}: no readings of its meter in the {PROFILE_DAYS} days "
                           "before; counted as 0")
            continue
        slot_minutes = int(mine["slot_minutes"].iloc[0])
        by_slot = dict(zip(mine["slot"].astype(int), mine["kw"].astype(float), strict=True))
        load = np.array([by_slot.get(int(m - m % slot_minutes), 0.0) for m in minutes])
        bound = np.minimum(float(r.max_reduction_kw), np.maximum(load, 0.0))
        if r.kind in ("curtailable", "shiftable"):
            k.reduce_kw += bound
        elif r.kind == "pv_curtailment":
            k.increase_kw += bound
        else:  # behind-the-meter storage: either way up to its declared power
            k.reduce_kw += float(r.max_reduction_kw)
            k.increase_kw += float(r.max_reduction_kw)
    return kinds


def available(session: Session, principal: Principal, start: datetime, end: datetime,
              now: datetime) -> dict[str, Any]:
    """GET /v1/flex/available: flexibility per kind and 15-minute step of [start, end)."""
    index = _index(start, end)
    storage = _storage(session, repo.list_stations(session, principal), index)
    pv = _pv(session, principal, index)
    registered = _registered(session, repo.list_resources(session, principal), index, now)
    for kind, extra in (("storage", storage), ("pv_curtailment", pv)):
        if kind in registered:
            extra.reduce_kw += registered[kind].reduce_kw
            extra.increase_kw += registered[kind].increase_kw
            extra.resources += registered[kind].resources
            extra.notes += registered[kind].notes
            extra.insufficient |= registered[kind].insufficient
            del registered[kind]
    kinds = [registered["curtailable"], registered["shiftable"], storage, pv]
    return {"start": index[0].to_pydatetime(), "end": end, "step_minutes": STEP_MINUTES,
            "kinds": [k.json(index) for k in kinds]}
