"""Virtual power plant SQL: flexible resources (registered ones, and the stations and arrays read
as resources), meter load profiles, and demand-response events with their versions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Select, select, text, update
from sqlalchemy.orm import Session

from app.auth import Principal
from app.models import (
    DrEvent,
    DrEventVersion,
    Enterprise,
    FlexResource,
    Meter,
    PvArray,
    StorageAsset,
)

EVENT_LOCK_KEY = 7_011_001
"""Transaction-level advisory lock taken by every event write: overlap checks and version
numbers are then decided one writer at a time."""


def _scope(stmt: Select, principal: Principal, column: Any) -> Select:
    """Enterprise keys see only rows of their own enterprise."""
    if principal.role == "enterprise":
        stmt = stmt.where(column == principal.enterprise_id)
    return stmt


# --- resources -------------------------------------------------------------------------------
def list_resources(session: Session, principal: Principal) -> Sequence[FlexResource]:
    stmt = select(FlexResource).order_by(FlexResource.enterprise_id, FlexResource.code)
    return session.scalars(_scope(stmt, principal, FlexResource.enterprise_id)).all()


def list_stations(session: Session, principal: Principal) -> Sequence[StorageAsset]:
    stmt = select(StorageAsset).order_by(StorageAsset.code)
    return session.scalars(_scope(stmt, principal, StorageAsset.enterprise_id)).all()


def list_arrays(session: Session, principal: Principal) -> Sequence[PvArray]:
    stmt = select(PvArray).order_by(PvArray.enterprise_id, PvArray.code)
    return session.scalars(_scope(stmt, principal, PvArray.enterprise_id)).unique().all()


def enterprise_codes(session: Session, ids: set[int]) -> dict[int, str]:
    rows = session.execute(select(Enterprise.id, Enterprise.code)
                           .where(Enterprise.id.in_(list(ids)))).all()
    return {int(i): str(c) for i, c in rows}


def meter_codes(session: Session, ids: set[int]) -> dict[int, str]:
    rows = session.execute(select(Meter.id, Meter.code).where(Meter.id.in_(list(ids)))).all()
    return {int(i): str(c) for i, c in rows}


def enterprise_by_code(session: Session, code: str) -> Enterprise | None:
    return session.scalar(select(Enterprise).where(Enterprise.code == code))


def meter_of(session: Session, enterprise_id: int, code: str) -> Meter | None:
    """The meter ``code`` of that enterprise (None when the enterprise has none by that code)."""
    return session.scalar(select(Meter).where(Meter.enterprise_id == enterprise_id,
                                              Meter.code == code))


def lock_resource(session: Session, enterprise_id: int, code: str) -> FlexResource | None:
    """The resource row, locked; concurrent registrations of one code take turns by the
    advisory lock on (enterprise, code) taken first (the row may not exist yet)."""
    session.execute(text("SELECT pg_advisory_xact_lock(:k, hashtext(:c))"),
                    {"k": enterprise_id, "c": code})
    return session.scalar(select(FlexResource).where(FlexResource.enterprise_id == enterprise_id,
                                                     FlexResource.code == code)
                          .with_for_update())


def add_resource(session: Session, row: FlexResource) -> FlexResource:
    session.add(row)
    session.flush()
    return row


def load_profile_kw(session: Session, meter_ids: Sequence[int], start: datetime,
                    end: datetime, step_minutes: int) -> pd.DataFrame:
    """Mean power (kW) per meter and local time-of-day slot (Asia/Shanghai) over [start, end),
    from the meters' interval energy (canonical kWh). A slot is ``max(interval, step)`` minutes
    long, starting at minutes-after-midnight ``slot``; columns meter_id, slot, slot_minutes, kw,
    days (how many days the slot has a reading)."""
    if not meter_ids:
        return pd.DataFrame(columns=["meter_id", "slot", "slot_minutes", "kw", "days"])
    rows = session.execute(text("""
        SELECT meter_id, slot, slot_minutes, avg(kw), count(DISTINCT day) FROM (
            SELECT r.meter_id, greatest(m.interval_minutes, :s) AS slot_minutes,
                   (floor((extract(hour FROM r.start_ts AT TIME ZONE 'Asia/Shanghai') * 60
                     + extract(minute FROM r.start_ts AT TIME ZONE 'Asia/Shanghai'))
                     / greatest(m.interval_minutes, :s)) * greatest(m.interval_minutes, :s)
                   )::int AS slot,
                   r.value * 60.0 / m.interval_minutes AS kw,
                   date_trunc('day', r.start_ts AT TIME ZONE 'Asia/Shanghai') AS day
            FROM readings r JOIN meters m ON m.id = r.meter_id
            WHERE r.meter_id = ANY(:m) AND r.start_ts >= :a AND r.start_ts < :b
        ) x GROUP BY 1, 2, 3
    """), {"m": list(meter_ids), "a": start, "b": end, "s": step_minutes}).all()
    return pd.DataFrame(rows, columns=["meter_id", "slot", "slot_minutes", "kw", "days"])


# --- events ----------------------------------------------------------------------------------
def lock_events(session: Session) -> None:
    """Serialise event writes (overlap check and versioning) for this transaction."""
    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": EVENT_LOCK_KEY})


def get_event(session: Session, event_id: str) -> DrEvent | None:
    return session.get(DrEvent, event_id)


def overlapping(session: Session, start: datetime, end: datetime, other_than: str
                ) -> DrEvent | None:
    """An active event other than ``other_than`` whose [start, end) meets [start, end)."""
    return session.scalar(select(DrEvent).where(
        DrEvent.status == "active", DrEvent.id != other_than, DrEvent.start_ts < end,
        DrEvent.end_ts > start).order_by(DrEvent.start_ts).limit(1))


def add_event(session: Session, event: DrEvent) -> DrEvent:
    session.add(event)
    session.flush()
    return event


def update_event(session: Session, event_id: str, values: dict[str, Any]) -> None:
    session.execute(update(DrEvent).where(DrEvent.id == event_id)
                    .values(**values, updated_at=text("clock_timestamp()")))
    session.flush()


def add_version(session: Session, version: DrEventVersion) -> None:
    session.add(version)
    session.flush()


def list_events(session: Session, start: datetime | None, end: datetime | None
                ) -> Sequence[DrEvent]:
    stmt = select(DrEvent).order_by(DrEvent.start_ts, DrEvent.id)
    if start is not None:
        stmt = stmt.where(DrEvent.end_ts > start)
    if end is not None:
        stmt = stmt.where(DrEvent.start_ts < end)
    return session.scalars(stmt).all()


def versions(session: Session, event_id: str) -> Sequence[DrEventVersion]:
    return session.scalars(select(DrEventVersion).where(DrEventVersion.event_id == event_id)
                           .order_by(DrEventVersion.version)).all()
