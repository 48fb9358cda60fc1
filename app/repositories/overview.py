"""Aggregated reads for the dashboard's overview: per-meter sums in Asia/Shanghai buckets.

Only rollups are read: the meter-day rollup (``meter_days``; TimescaleDB: the ``readings_daily``
continuous aggregate) for day and month buckets, and ``readings_hourly`` for hour buckets on
TimescaleDB. Plain PostgreSQL has no hourly rollup, so hour buckets there are a ``date_bin`` over
one day of readings (at most 96 rows a meter, read through the primary key).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Literal

from sqlalchemy import Connection, select, text
from sqlalchemy.orm import Session

from app.models import Enterprise, Meter
from energy.site import PARK_TZ, PARK_ZONE
from energy.units import CARRIERS

if TYPE_CHECKING:
    from app.repositories.readings_store import ReadingsStore

TZ = PARK_ZONE
Bucket = Literal["hour", "day", "month"]


def meter_bucket_sums(
    conn: Connection, start: datetime, end: datetime, bucket: Bucket, *,
    rollups: ReadingsStore,
    enterprise_id: int | None = None, meter_ids: list[int] | None = None,
) -> list[tuple[datetime, int, float, int, int]]:
    """``(bucket start, meter id, sum, readings, flagged readings)`` for [start, end).

    ``enterprise_id`` restricts to one enterprise's meters; ``meter_ids`` to those meters.
    Day and month buckets need ``start`` and ``end`` on Asia/Shanghai midnights.
    """
    where = ""
    if enterprise_id is not None:
        where += " AND m.enterprise_id = :e"
    if meter_ids is not None:
        where += " AND m.id = ANY(:ids)"
    p = {"a": start, "b": end, "e": enterprise_id, "ids": meter_ids, "tz": PARK_TZ}
    if bucket == "hour":
        sql = ("SELECT h.bucket, h.meter_id, h.value, h.n::int, h.n_flagged::int"
               f" FROM {rollups.hours_source()} h JOIN meters m ON m.id = h.meter_id"
               f" WHERE true{where}")
    else:
        trunc = "d.day" if bucket == "day" else "date_trunc('month', d.day)::date"
        sql = (f"SELECT ({trunc})::timestamp AT TIME ZONE :tz AS b, d.meter_id,"
               " sum(d.value), sum(d.n)::int, sum(d.n_flagged)::int"
               f" FROM {rollups.days_source('CAST(:da AS date)', 'CAST(:db AS date)')} d"
               " JOIN meters m ON m.id = d.meter_id"
               " WHERE d.day >= CAST(:da AS date) AND d.day < CAST(:db AS date)"
               f"{where} GROUP BY 1, 2")
        p.update({"da": _local_date(start), "db": _local_date(end)})
    return [(b, int(m), float(v), int(n), int(f))
            for b, m, v, n, f in conn.execute(text(sql), p).all()]


def _local_date(ts: datetime) -> date:
    return ts.astimezone(TZ).date()


def summable_meters(session: Session, enterprise_id: int | None
                    ) -> list[tuple[int, str, str, str, str, str]]:
    """``(id, code, name, carrier, unit, enterprise code)`` of the meters whose readings add up
    (weather and station telemetry are means and signed values, not energy); ``enterprise_id``
    restricts to one enterprise."""
    stmt = select(Meter.id, Meter.code, Meter.name, Meter.carrier, Meter.canonical_unit,
                  Enterprise.code).join(Enterprise, Enterprise.id == Meter.enterprise_id)
    stmt = stmt.where(Meter.carrier.in_([c for c, s in CARRIERS.items() if s.summable]))
    if enterprise_id is not None:
        stmt = stmt.where(Meter.enterprise_id == enterprise_id)
    return [tuple(r) for r in session.execute(stmt).all()]  # type: ignore[misc]


def open_alert_count(conn: Connection, enterprise_id: int | None) -> int:
    """Open (unacknowledged) alerts, only the enterprise's own for an enterprise key."""
    scope = " AND enterprise_id = :e" if enterprise_id is not None else ""
    return int(conn.execute(text(
        f"SELECT count(*) FROM alerts WHERE acknowledged_at IS NULL{scope}"),
        {"e": enterprise_id}).scalar_one())
