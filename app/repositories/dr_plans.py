"""SQL of demand-response plans, instructions, settlements and their alerts, and the meter
readings they are computed from."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from app.models import (
    Alert,
    DrEvent,
    DrInstruction,
    DrPlan,
    DrSettlement,
    Enterprise,
    FlexResource,
    Meter,
    PvArray,
)

PLAN_LOCK_KEY = 7_012_001
"""Advisory lock (with the event id's hash) serialising plan and settlement writes of one event."""


def lock_event(session: Session, event_id: str) -> None:
    session.execute(text("SELECT pg_advisory_xact_lock(:k, hashtext(:e))"),
                    {"k": PLAN_LOCK_KEY, "e": event_id})


def current_plan(session: Session, event_id: str) -> DrPlan | None:
    return session.scalar(select(DrPlan).where(DrPlan.event_id == event_id,
                                               DrPlan.superseded_at.is_(None)))


def supersede_plans(session: Session, event_id: str) -> None:
    session.execute(update(DrPlan).where(DrPlan.event_id == event_id,
                                         DrPlan.superseded_at.is_(None))
                    .values(superseded_at=func.clock_timestamp()))
    session.flush()


def add_plan(session: Session, plan: DrPlan, instructions: list[dict[str, Any]]) -> DrPlan:
    session.add(plan)
    session.flush()
    if instructions:
        session.execute(insert(DrInstruction), [{**i, "plan_id": plan.id} for i in instructions])
    return plan


def instructions(session: Session, plan_id: int, enterprise_id: int | None
                 ) -> Sequence[DrInstruction]:
    """A plan's instructions; only one enterprise's when ``enterprise_id`` is given."""
    stmt = select(DrInstruction).where(DrInstruction.plan_id == plan_id)
    if enterprise_id is not None:
        stmt = stmt.where(DrInstruction.enterprise_id == enterprise_id)
    return session.scalars(stmt.order_by(DrInstruction.resource_code,
                                         DrInstruction.step_start)).all()


def events_called(session: Session, month_start: datetime, before: datetime
                  ) -> dict[tuple[int | None, str], int]:
    """How many events of [month_start, before) each resource had an instruction in (current
    plans of active events): (enterprise id, resource code) -> count."""
    rows = session.execute(
        select(DrInstruction.enterprise_id, DrInstruction.resource_code,
               func.count(func.distinct(DrPlan.event_id)))
        .join(DrPlan, DrPlan.id == DrInstruction.plan_id)
        .join(DrEvent, DrEvent.id == DrPlan.event_id)
        .where(DrPlan.superseded_at.is_(None), DrEvent.status == "active",
               DrEvent.start_ts >= month_start, DrEvent.start_ts < before,
               DrInstruction.power_kw != 0)
        .group_by(DrInstruction.enterprise_id, DrInstruction.resource_code)).all()
    return {(e, str(c)): int(n) for e, c, n in rows}


def earlier_event_days(session: Session, before: datetime, since: datetime) -> list[datetime]:
    """Start times of active events in [since, before) (their days are not baseline days)."""
    return list(session.scalars(select(DrEvent.start_ts).where(
        DrEvent.status == "active", DrEvent.start_ts >= since, DrEvent.start_ts < before)))


def events_in(session: Session, start: datetime, end: datetime) -> Sequence[DrEvent]:
    return session.scalars(select(DrEvent).where(DrEvent.start_ts >= start,
                                                 DrEvent.start_ts < end)
                           .order_by(DrEvent.start_ts, DrEvent.id)).all()


def events_to_plan(session: Session, now: datetime) -> Sequence[DrEvent]:
    """Active events not yet ended whose current version has no current plan."""
    planned = select(DrPlan.event_id).where(DrPlan.superseded_at.is_(None),
                                            DrPlan.event_version == DrEvent.version)
    return session.scalars(select(DrEvent).where(
        DrEvent.status == "active", DrEvent.end_ts > now, ~DrEvent.id.in_(planned))
        .order_by(DrEvent.start_ts)).all()


def events_to_settle(session: Session, ended_before: datetime) -> Sequence[DrEvent]:
    """Active events ended before ``ended_before`` whose current version is not settled."""
    settled = select(DrSettlement.event_id).where(
        DrSettlement.event_version == DrEvent.version)
    return session.scalars(select(DrEvent).where(
        DrEvent.status == "active", DrEvent.end_ts <= ended_before, ~DrEvent.id.in_(settled))
        .order_by(DrEvent.start_ts)).all()


def meters(session: Session, carriers: Sequence[str] | None = None) -> Sequence[Meter]:
    stmt = select(Meter).order_by(Meter.id)
    if carriers:
        stmt = stmt.where(Meter.carrier.in_(list(carriers)))
    return session.scalars(stmt).all()


def enterprises(session: Session) -> dict[int, str]:
    return {int(i): str(c) for i, c in session.execute(select(Enterprise.id, Enterprise.code))}


def readings_kw(session: Session, meter_ids: Sequence[int], start: datetime, end: datetime
                ) -> pd.DataFrame:
    """Readings of [start, end) as interval-mean power: columns meter_id, start_ts,
    interval_minutes, kw (canonical kWh x 60 / interval minutes)."""
    cols = ["meter_id", "start_ts", "interval_minutes", "kw"]
    if not meter_ids:
        return pd.DataFrame(columns=cols)
    rows = session.execute(text("""
        SELECT r.meter_id, r.start_ts, m.interval_minutes, r.value * 60.0 / m.interval_minutes
        FROM readings r JOIN meters m ON m.id = r.meter_id
        WHERE r.meter_id = ANY(:m) AND r.start_ts >= :a AND r.start_ts < :b
    """), {"m": list(meter_ids), "a": start, "b": end}).all()
    return pd.DataFrame(rows, columns=cols)


def settlement_lines(session: Session, event_id: str, version: int,
                     enterprise_id: int | None = None) -> Sequence[DrSettlement]:
    """Lines of one event version; with ``enterprise_id``: that enterprise's lines and the
    park line."""
    stmt = select(DrSettlement).where(DrSettlement.event_id == event_id,
                                      DrSettlement.event_version == version)
    if enterprise_id is not None:
        stmt = stmt.where((DrSettlement.enterprise_id == enterprise_id)
                          | (DrSettlement.enterprise_id.is_(None)
                             & DrSettlement.resource_code.is_(None)))
    return session.scalars(stmt.order_by(DrSettlement.id)).all()


def replace_settlement(session: Session, event_id: str, version: int,
                       lines: list[dict[str, Any]]) -> None:
    session.execute(delete(DrSettlement).where(DrSettlement.event_id == event_id,
                                               DrSettlement.event_version == version))
    if lines:
        session.execute(insert(DrSettlement), lines)


def settled_lines_in(session: Session, start: datetime, end: datetime,
                     enterprise_id: int | None) -> list[tuple[DrEvent, DrSettlement]]:
    """Settlement lines of the current versions of events starting in [start, end): park and
    enterprise lines (one enterprise's with ``enterprise_id``)."""
    stmt = (select(DrEvent, DrSettlement)
            .join(DrSettlement, (DrSettlement.event_id == DrEvent.id)
                  & (DrSettlement.event_version == DrEvent.version))
            .where(DrEvent.start_ts >= start, DrEvent.start_ts < end,
                   DrSettlement.resource_code.is_(None))
            .order_by(DrEvent.start_ts, DrSettlement.id))
    if enterprise_id is not None:
        stmt = stmt.where(DrSettlement.enterprise_id.is_(None)
                          | (DrSettlement.enterprise_id == enterprise_id))
    return [(e, s) for e, s in session.execute(stmt).all()]


def open_alert(session: Session, enterprise_id: int, start: datetime, end: datetime,
               message: str) -> bool:
    """A ``dr_instruction`` alert for the enterprise, unless the same one is open already."""
    exists = session.scalar(select(Alert.id).where(
        Alert.kind == "dr_instruction", Alert.enterprise_id == enterprise_id,
        Alert.period_start == start, Alert.message == message).limit(1))
    if exists is not None:
        return False
    session.add(Alert(kind="dr_instruction", enterprise_id=enterprise_id, period_start=start,
                      period_end=end, message=message))
    session.flush()
    return True


def all_resources(session: Session) -> Sequence[FlexResource]:
    """Every registered flexible resource of the park (plans and settlements are park-wide)."""
    return session.scalars(select(FlexResource).order_by(FlexResource.enterprise_id,
                                                         FlexResource.code)).all()


def all_arrays(session: Session) -> Sequence[PvArray]:
    return session.scalars(select(PvArray).order_by(PvArray.enterprise_id, PvArray.code)
                           ).unique().all()
