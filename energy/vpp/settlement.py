"""Settlement of a demand-response event from metered series.

Delivered power per resource, enterprise and the park is baseline - actual for a ``reduce`` event
and actual - baseline for an ``increase`` event (import-oriented: a generation meter counts as
negative import). Delivered energy sums over the event's 15-minute steps; the park's delivery
ratio is delivered energy / (target_kw x duration). The park is paid the event price on its
delivered energy, capped at ``max_paid_ratio`` of the target and nothing below ``min_paid_ratio``
(data/dr_practice.yaml); the payment is split among enterprises, and among resources, by their
positive delivered energy. A line never claims more than its data: a baseline with fewer days
than required or an event step without a reading makes it "incomplete"; no baseline or no reading
at all makes it "insufficient data" (no figure).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from energy.vpp.baseline import (
    DEFAULT_STEP,
    DEFAULT_TZ,
    STATUS_INCOMPLETE,
    STATUS_INSUFFICIENT,
    STATUS_OK,
    BaselineRules,
    dr_baseline,
    practice,
)
from energy.vpp.resources import EventSignal

PARK = "park"
LINE_COLUMNS = ["level", "code", "enterprise", "baseline_kwh", "actual_kwh", "delivered_kwh",
                "planned_kwh", "delivery_ratio", "revenue_yuan", "status", "baseline_days",
                "adjustment_factor", "missing_steps"]


@dataclass(frozen=True)
class SettlementRules:
    """Payment rules (defaults from data/dr_practice.yaml)."""

    max_paid_ratio: float = 1.2
    min_paid_ratio: float = 0.0

    @classmethod
    def from_practice(cls) -> SettlementRules:
        raw = practice()["settlement"]
        return cls(max_paid_ratio=float(raw["max_paid_ratio"]),
                   min_paid_ratio=float(raw["min_paid_ratio"]))


@dataclass(frozen=True)
class MeteredResource:
    """A resource, its enterprise and the meter that measures it. ``generation``: the meter
    reads output (PV), so it counts as negative import. ``share``: this resource's part of a
    meter shared with others."""

    code: str
    enterprise: str
    meter: str
    generation: bool = False
    share: float = 1.0


@dataclass
class Settlement:
    """One event's settlement: lines per resource, enterprise and the park, and park steps."""

    event: EventSignal
    target_kwh: float
    delivered_kwh: float
    delivery_ratio: float | None
    paid_kwh: float
    revenue_yuan: float | None
    shortfall_kwh: float
    status: str
    lines: pd.DataFrame
    park_steps: pd.DataFrame  # baseline_kw, actual_kw, delivered_kw, shortfall_kw
    method: dict[str, Any] = field(default_factory=dict)


def _import_frame(
    load_kw: pd.DataFrame,
    resources: Sequence[MeteredResource],
    enterprise_meters: Mapping[str, Sequence[str]],
    park_kw: pd.Series | None,
) -> tuple[pd.DataFrame, list[tuple[str, str, str]]]:
    """Columns to settle: one per resource meter, enterprise total and the park (import kW).
    A sum is missing (NaN) in an interval where any of its meters is."""
    pos = {str(c): j for j, c in enumerate(load_kw.columns)}
    gen = {r.meter for r in resources if r.generation}
    sign = np.array([-1.0 if str(c) in gen else 1.0 for c in load_kw.columns])
    imp = np.ascontiguousarray(load_kw.to_numpy(dtype=float).T)  # (meters, time)
    if gen:
        imp = imp * sign[:, None]  # a new array: never write into the caller's frame
    names: list[str] = []
    keys: list[tuple[str, str, str]] = []  # (column, level, code)
    picks: list[int] = []
    for r in resources:
        if r.meter not in pos:
            raise ValueError(f"resource {r.code}: meter {r.meter!r} has no series")
        col = f"m:{r.meter}"
        if col not in names:
            names.append(col)
            picks.append(pos[r.meter])
        keys.append((col, "resource", r.code))
    groups: list[list[int]] = []
    for ent, meters in enterprise_meters.items():
        missing = [m for m in meters if m not in pos]
        if missing:
            raise ValueError(f"enterprise {ent}: meters without a series: {missing[:3]}")
        names.append(f"e:{ent}")
        groups.append([pos[m] for m in meters])
        keys.append((f"e:{ent}", "enterprise", ent))
    if park_kw is None:
        groups.append(sorted({j for g in groups for j in g}))
    names.append("park")
    keys.append(("park", PARK, PARK))
    # Plain sums (NaN propagates: a gap in one meter is a gap in the total).
    out = np.empty((len(names), imp.shape[1]))
    out[: len(picks)] = imp[picks]
    sizes = [len(g) for g in groups]
    nonempty = [k for k, n in enumerate(sizes) if n]
    if nonempty:  # one gather, then one reduceat over the consecutive groups
        order = np.concatenate([groups[k] for k in nonempty])
        starts = np.cumsum([0] + [sizes[k] for k in nonempty[:-1]])
        out[[len(picks) + k for k in nonempty]] = np.add.reduceat(imp[order], starts, axis=0)
    for k, n in enumerate(sizes):
        if not n:
            out[len(picks) + k] = np.nan  # no meter: no data
    if park_kw is not None:
        out[-1] = park_kw.reindex(load_kw.index).to_numpy(dtype=float)
    return pd.DataFrame(out.T, index=load_kw.index, columns=names), keys


def settle_event(
    event: EventSignal,
    load_kw: pd.DataFrame,
    resources: Sequence[MeteredResource],
    enterprise_meters: Mapping[str, Sequence[str]],
    *,
    park_kw: pd.Series | None = None,
    planned_kwh: Mapping[str, float] | None = None,
    event_days: Iterable[dt.date] = (),
    baseline_rules: BaselineRules | None = None,
    rules: SettlementRules | None = None,
    tz: str = DEFAULT_TZ,
    step: pd.Timedelta = DEFAULT_STEP,
) -> Settlement:
    """Settle ``event`` from ``load_kw`` (interval-mean kW per meter, history and event day, on a
    regular time-zone-aware index; NaN or an absent interval = no reading).

    ``enterprise_meters``: each enterprise's meters (its total load). ``park_kw``: the grid
    connection meter (default: the sum of all enterprise meters). ``planned_kwh``: planned energy
    per resource/enterprise code, for their delivery ratio. ``event_days``: earlier events' dates.
    """
    rules = rules or SettlementRules()
    t0, t1 = pd.Timestamp(event.start), pd.Timestamp(event.end)
    # Only the look-back window and the event day are read.
    lookback = (baseline_rules or BaselineRules()).max_lookback_days + 1
    first = max(load_kw.index.min(), t0.tz_convert(tz).normalize() - pd.Timedelta(days=lookback))
    full = pd.date_range(first.floor(step), t1, freq=step, inclusive="left")
    window = load_kw.loc[full[0] : full[-1]]
    if not window.index.equals(full):
        window = window.reindex(full)
    frame, keys = _import_frame(window, resources, enterprise_meters, park_kw)
    base = dr_baseline(frame, t0, t1, event_days=event_days, rules=baseline_rules, tz=tz,
                       step=step)
    slots = base.baseline_kw.index
    actual = frame.reindex(slots)
    sign = 1.0 if event.direction == "reduce" else -1.0
    b = base.baseline_kw.to_numpy()
    a = actual.to_numpy()
    delivered = sign * (b - a)
    dt_h = step / pd.Timedelta(hours=1)
    missing = np.isnan(a).sum(axis=0)
    sum_b, sum_a, sum_d = (np.nansum(x, axis=0) * dt_h for x in (b, a, delivered))
    col_pos = {c: j for j, c in enumerate(frame.columns)}
    shares = {r.code: r.share for r in resources}
    ent_of = {r.code: r.enterprise for r in resources}
    planned = planned_kwh or {}
    rows: list[list[Any]] = []
    for col, level, code in keys:
        j = col_pos[col]
        bstat = base.status[col]
        if bstat == STATUS_INSUFFICIENT or missing[j] == len(slots):
            status = STATUS_INSUFFICIENT
        elif bstat == STATUS_INCOMPLETE or missing[j] > 0:
            status = STATUS_INCOMPLETE
        else:
            status = STATUS_OK
        k = shares.get(code, 1.0) if level == "resource" else 1.0
        known = status != STATUS_INSUFFICIENT
        e_base = float(sum_b[j] * k) if known else None
        e_act = float(sum_a[j] * k) if known else None
        e_del = float(sum_d[j] * k) if known else None
        plan = planned.get(code)
        ratio = (e_del / plan if e_del is not None and plan else None)
        rows.append([level, code, ent_of.get(code, code if level == "enterprise" else None),
                     e_base, e_act, e_del, plan, ratio, None, status,
                     [d.isoformat() for d in base.days_used[col]], base.adjustment_factor[col],
                     int(missing[j])])
    lines = pd.DataFrame(rows, columns=LINE_COLUMNS)
    park = lines[lines["level"] == PARK].iloc[0]
    target_kwh = event.target_kw * len(slots) * dt_h
    park_known = park["status"] != STATUS_INSUFFICIENT
    delivered_kwh = float(park["delivered_kwh"]) if park_known else 0.0
    ratio = delivered_kwh / target_kwh if park_known else None
    if not park_known or (ratio is not None and ratio < rules.min_paid_ratio):
        paid = 0.0
    else:
        paid = float(np.clip(delivered_kwh, 0.0, rules.max_paid_ratio * target_kwh))
    revenue = paid * event.price_yuan_per_kwh if park_known else None
    lines.loc[lines["level"] == PARK, "delivery_ratio"] = ratio
    lines.loc[lines["level"] == PARK, "planned_kwh"] = target_kwh
    lines.loc[lines["level"] == PARK, "revenue_yuan"] = revenue
    for level in ("enterprise", "resource"):
        sel = lines["level"] == level
        pos = lines.loc[sel, "delivered_kwh"].astype(float).fillna(0.0).clip(lower=0.0)
        total = float(pos.sum())
        if revenue is not None:
            lines.loc[sel, "revenue_yuan"] = (revenue * pos / total) if total > 0 else 0.0
    jp = col_pos["park"]
    park_del = delivered[:, jp]
    park_steps = pd.DataFrame({
        "baseline_kw": b[:, jp], "actual_kw": a[:, jp], "delivered_kw": park_del,
        "shortfall_kw": np.maximum(event.target_kw - park_del, 0.0),
    }, index=slots)
    return Settlement(
        event=event,
        target_kwh=target_kwh,
        delivered_kwh=delivered_kwh,
        delivery_ratio=ratio,
        paid_kwh=paid,
        revenue_yuan=revenue,
        shortfall_kwh=max(target_kwh - delivered_kwh, 0.0) if park_known else target_kwh,
        status=str(park["status"]),
        lines=lines,
        park_steps=park_steps,
        method=base.method(),
    )


def monthly_summary(settlements: Sequence[Settlement]) -> dict[str, pd.DataFrame]:
    """A month of settlements: one row per event, and totals per enterprise."""
    ev_rows = [{
        "start": s.event.start, "end": s.event.end, "direction": s.event.direction,
        "target_kwh": s.target_kwh, "delivered_kwh": s.delivered_kwh,
        "delivery_ratio": s.delivery_ratio, "revenue_yuan": s.revenue_yuan,
        "shortfall_kwh": s.shortfall_kwh, "status": s.status,
    } for s in settlements]
    ent = [s.lines[s.lines["level"] == "enterprise"] for s in settlements]
    if ent:
        cat = pd.concat(ent)
        per_ent = cat.groupby("code").agg(
            delivered_kwh=("delivered_kwh", "sum"), revenue_yuan=("revenue_yuan", "sum"),
            events=("status", "size"),
            incomplete=("status", lambda x: int((x != STATUS_OK).sum())))
    else:
        per_ent = pd.DataFrame(columns=["delivered_kwh", "revenue_yuan", "events", "incomplete"])
    return {"events": pd.DataFrame(ev_rows), "enterprises": per_ent}
