"""Demand-response events: validation, idempotent intake with versions, and their answers.

One intake for both doors (``POST /v1/dr/events`` and the OpenADR VEN): the same event id with
the same content changes nothing; changed content becomes the next version (every version is
kept in ``dr_event_versions``). Writes are serialised by a transaction-level advisory lock, so
two clients sending one event at once store it once, and the overlap check cannot race.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from app.models import DrEvent, DrEventVersion
from app.params import invalid
from app.problems import Problem, field_problem
from app.repositories import vpp as repo
from app.schemas.vpp import DrEventIn
from energy.grid_connection import GridConnection, lhasa_etdz_connection

STEP_MINUTES = 15
"""Events start and end on the 15-minute grid the park's plans use."""
MAX_EVENT_HOURS = 24
"""Longest event accepted."""
MAX_LEAD_DAYS = 366
"""Furthest ahead an event may start."""
NOTICE_CLOCK_SKEW = timedelta(minutes=5)
"""How far in the future ``notified_at`` may lie (clocks of the grid and the park differ)."""
CONTENT = ("status", "start_ts", "end_ts", "direction", "target_kw", "price_yuan_per_kwh",
           "notified_at")


@dataclass(frozen=True)
class EventContent:
    """What one version of an event says."""

    id: str
    start_ts: datetime
    end_ts: datetime
    direction: str
    target_kw: float
    price_yuan_per_kwh: float
    notified_at: datetime
    status: str = "active"

    @classmethod
    def of(cls, body: DrEventIn) -> EventContent:
        return cls(body.id, body.start, body.end, body.direction, float(body.target_kw),
                   float(body.price_yuan_per_kwh), body.notified_at)

    def values(self) -> dict[str, Any]:
        return {c: getattr(self, c) for c in CONTENT}


def connection(import_limit_kw: float | None = None) -> GridConnection:
    """The park's grid connection (data file), with the settings' override if given."""
    base = lhasa_etdz_connection()
    if import_limit_kw is None:
        return base
    return GridConnection(import_limit_kw, base.export_limit_kw, "settings", base.name)


def validate(ev: EventContent, now: datetime, grid: GridConnection) -> None:
    """Refuse an event the park cannot take: 422 naming the field."""
    if ev.end_ts <= ev.start_ts:
        raise invalid("end", "not after start",
                      "end must be after start. / 结束时间须晚于开始时间。")
    if ev.end_ts - ev.start_ts > timedelta(hours=MAX_EVENT_HOURS):
        raise invalid("end", f"event longer than {MAX_EVENT_HOURS} hours")
    for name, t in (("start", ev.start_ts), ("end", ev.end_ts)):
        if t.timestamp() % (STEP_MINUTES * 60) != 0:
            raise invalid(name, f"not on a {STEP_MINUTES}-minute boundary")
    if ev.status == "active" and ev.start_ts <= now:
        raise invalid("start", "in the past",
                      f"start {ev.start_ts.isoformat()} has passed; an event must start in the "
                      "future. / 事件开始时间已过。")
    if ev.start_ts > now + timedelta(days=MAX_LEAD_DAYS):
        raise invalid("start", f"more than {MAX_LEAD_DAYS} days ahead")
    if ev.notified_at > now + NOTICE_CLOCK_SKEW:
        raise invalid("notified_at", "in the future")
    if ev.notified_at > ev.start_ts:
        raise invalid("notified_at", "after the event's start")
    limit = grid.limit_kw(ev.direction)
    if ev.target_kw > limit:
        raise invalid("target_kw", f"beyond the park's grid connection ({limit:g} kW)",
                      f"target_kw {ev.target_kw:g} kW is beyond what the park's grid connection "
                      f"carries ({limit:g} kW). / 目标超出园区并网容量。")


def intake(session: Session, ev: EventContent, *, source: str, now: datetime,
           grid: GridConnection, key_id: int | None = None,
           detail: dict[str, Any] | None = None) -> tuple[DrEvent, str]:
    """Store ``ev``; returns the event and 'created', 'updated' or 'unchanged'."""
    repo.lock_events(session)
    current = repo.get_event(session, ev.id)
    if current is not None and all(getattr(current, c) == v for c, v in ev.values().items()):
        return current, "unchanged"
    validate(ev, now, grid)
    if ev.status == "active":
        other = repo.overlapping(session, ev.start_ts, ev.end_ts, ev.id)
        if other is not None:
            raise field_problem(409, "overlapping-event", "start",
                                f"overlaps event {other.id!r}",
                                f"The event overlaps event {other.id!r} "
                                f"({other.start_ts.isoformat()} – {other.end_ts.isoformat()}); "
                                "nothing was stored. / 与已有需求响应事件时间重叠，未写入。")
    if current is None:
        version = 1
        current = repo.add_event(session, DrEvent(id=ev.id, version=1, source=source,
                                                  **ev.values()))
        outcome = "created"
    else:
        version = current.version + 1
        repo.update_event(session, ev.id, {**ev.values(), "version": version, "source": source})
        session.refresh(current)
        outcome = "updated"
    repo.add_version(session, DrEventVersion(event_id=ev.id, version=version, source=source,
                                             api_key_id=key_id, detail=detail or {},
                                             **ev.values()))
    return current, outcome


def cancel(session: Session, event_id: str, *, source: str, now: datetime, grid: GridConnection,
           detail: dict[str, Any] | None = None) -> tuple[DrEvent, str] | None:
    """Mark a stored event cancelled (a new version); None when no such event is stored."""
    repo.lock_events(session)
    current = repo.get_event(session, event_id)
    if current is None:
        return None
    ev = EventContent(current.id, current.start_ts, current.end_ts, current.direction,
                      current.target_kw, current.price_yuan_per_kwh, current.notified_at,
                      status="cancelled")
    return intake(session, ev, source=source, now=now, grid=grid, detail=detail)


def event_json(row: DrEvent, versions: list[DrEventVersion] | None = None,
               changed: bool | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row.id, "version": row.version, "status": row.status, "start": row.start_ts,
        "end": row.end_ts, "direction": row.direction, "target_kw": row.target_kw,
        "price_yuan_per_kwh": row.price_yuan_per_kwh, "notified_at": row.notified_at,
        "source": row.source, "created_at": row.created_at, "updated_at": row.updated_at,
        "changed": changed}
    if versions is not None:
        out["versions"] = [{"version": v.version, "status": v.status, "start": v.start_ts,
                            "end": v.end_ts, "direction": v.direction, "target_kw": v.target_kw,
                            "price_yuan_per_kwh": v.price_yuan_per_kwh,
                            "notified_at": v.notified_at, "source": v.source,
                            "received_at": v.received_at} for v in versions]
    return out


def get_event(session: Session, event_id: str) -> dict[str, Any]:
    row = repo.get_event(session, event_id)
    if row is None:
        raise Problem(404, f"No demand-response event {event_id!r}.")
    return event_json(row, list(repo.versions(session, event_id)))


def list_events(session: Session, start: datetime | None, end: datetime | None
                ) -> Sequence[DrEvent]:
    """Events meeting [start, end) (all without bounds), by start."""
    return repo.list_events(session, start, end)
