"""Alerts SQL and the data-completeness check (used by the scheduler and by the API)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.errors import NotFound
from app.models import Alert
from app.principal import Principal


def check_completeness(session: Session, start: datetime, end: datetime,
                       enterprise_id: int | None = None) -> int:
    """Open a ``missing_data`` alert per meter with missing intervals in [start, end).

    Meters considered: those with at least one reading before ``end`` (a meter that never
    reported is a commissioning matter, not a data gap). One alert per (meter, period start);
    re-running the check does not duplicate it. Returns the number of new alerts.
    """
    scope = "AND m.enterprise_id = :e" if enterprise_id is not None else ""
    result = session.execute(text(f"""
        WITH expected AS (
            SELECT m.id, m.enterprise_id, m.code,
                   (extract(epoch FROM (CAST(:b AS timestamptz) - CAST(:a AS timestamptz)))
                    / 60 / m.interval_minutes)::int AS n_expected
            FROM meters m
            WHERE EXISTS (SELECT 1 FROM readings r WHERE r.meter_id = m.id AND r.start_ts < :b)
            {scope}
        ), have AS (
            SELECT e.*, (SELECT count(*) FROM readings r WHERE r.meter_id = e.id
                         AND r.start_ts >= :a AND r.start_ts < :b) AS n_have
            FROM expected e
        )
        INSERT INTO alerts (kind, meter_id, enterprise_id, period_start, period_end, message,
                            detail_count)
        SELECT 'missing_data', id, enterprise_id, :a, :b,
               format('meter %s: %s of %s intervals missing', code, n_expected - n_have,
                      n_expected), n_expected - n_have
        FROM have WHERE n_have < n_expected
        ON CONFLICT (kind, meter_id, period_start) DO NOTHING
    """), {"a": start, "b": end, "e": enterprise_id})
    return int(result.rowcount or 0)


def list_alerts(session: Session, principal: Principal, *, open_only: bool = False,
                meter_id: int | None = None) -> Sequence[Alert]:
    stmt = select(Alert).order_by(Alert.opened_at.desc(), Alert.id.desc())
    if principal.role == "enterprise":
        stmt = stmt.where(Alert.enterprise_id == principal.enterprise_id)
    if open_only:
        stmt = stmt.where(Alert.acknowledged_at.is_(None))
    if meter_id is not None:
        stmt = stmt.where(Alert.meter_id == meter_id)
    return session.scalars(stmt.limit(1000)).all()


def acknowledge(session: Session, principal: Principal, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None or (principal.role == "enterprise"
                         and alert.enterprise_id != principal.enterprise_id):
        raise NotFound(f"No alert {alert_id}.")
    if alert.acknowledged_at is None:
        alert.acknowledged_by = principal.key_id
        alert.acknowledged_at = session.scalar(select(text("now()")))
        session.flush()
    return alert
