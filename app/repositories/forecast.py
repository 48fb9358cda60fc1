"""Forecast SQL: the history of a forecast's target as energy per bin, and the scope lookups
(zones, a zone's enterprises, the metered PV arrays of a scope). Scoping by the caller is done
with the core and PV repositories' scoped getters before these run."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import Connection, select, text
from sqlalchemy.orm import Session

from app.models import Enterprise, PvArray

LOAD_CARRIERS = ("electricity_import", "electricity_export", "pv_generation")


def zones(session: Session) -> list[str]:
    return list(session.scalars(select(Enterprise.zone).distinct().order_by(Enterprise.zone)))


def zone_enterprise_ids(session: Session, zone: str) -> list[int]:
    return list(session.scalars(select(Enterprise.id).where(Enterprise.zone == zone)
                                .order_by(Enterprise.id)))


def metered_arrays(session: Session, enterprise_ids: Sequence[int] | None) -> Sequence[PvArray]:
    """Arrays with a generation meter, of the given enterprises (None: the whole park)."""
    stmt = select(PvArray).where(PvArray.meter_id.is_not(None)).order_by(PvArray.id)
    if enterprise_ids is not None:
        stmt = stmt.where(PvArray.enterprise_id.in_(list(enterprise_ids)))
    return session.scalars(stmt).unique().all()


def _series(rows: Sequence[tuple[float, float]]) -> pd.Series:
    if not rows:
        return pd.Series(dtype=float, index=pd.DatetimeIndex([], tz="UTC"))
    epoch, value = np.asarray(rows, dtype=float).T
    index = pd.DatetimeIndex(pd.to_datetime(epoch.astype("int64"), unit="s", utc=True))
    return pd.Series(value, index=index)


def load_bins_kwh(conn: Connection, enterprise_ids: Sequence[int] | None, start: datetime,
                  end: datetime, step_minutes: int) -> tuple[pd.Series, pd.Series, int]:
    """(load, PV generation, meters) per ``step_minutes`` bin (Asia/Shanghai-aligned) in
    [start, end), kWh per bin, summed over the electricity meters of the enterprises (None: all):
    load = import + PV generation − export. A bin appears in ``load`` only when it holds an
    import reading; in PV only when it holds a PV reading. A meter with longer intervals spreads
    each reading evenly over its sub-bins."""
    scope = "AND m.enterprise_id = ANY(:e)" if enterprise_ids is not None else ""
    sql = f"""
        SELECT extract(epoch FROM bin)::bigint,
               sum(kwh) FILTER (WHERE carrier = 'electricity_import'),
               sum(kwh) FILTER (WHERE carrier = 'electricity_export'),
               sum(kwh) FILTER (WHERE carrier = 'pv_generation'),
               count(DISTINCT meter_id)
        FROM (
            SELECT date_bin(make_interval(mins => :s), r.start_ts + make_interval(mins => :s * g),
                            TIMESTAMPTZ '2000-01-01 00:00+08') AS bin,
                   m.carrier, m.id AS meter_id,
                   r.value / greatest(m.interval_minutes / :s, 1) AS kwh
            FROM readings r JOIN meters m ON m.id = r.meter_id
            CROSS JOIN LATERAL generate_series(0, greatest(m.interval_minutes / :s, 1) - 1) g
            WHERE m.carrier = ANY(:c) AND r.start_ts >= CAST(:a AS timestamptz) - interval '1 day'
                  AND r.start_ts < :b {scope}
        ) s WHERE bin >= :a AND bin < :b GROUP BY bin ORDER BY bin
    """
    rows = conn.execute(text(sql), {"c": list(LOAD_CARRIERS), "a": start, "b": end,
                                    "s": step_minutes, "e": list(enterprise_ids or [])}).all()
    load = [(t, imp + (pv or 0.0) - (exp or 0.0)) for t, imp, exp, pv, _n in rows
            if imp is not None]
    pv = [(t, pv) for t, _imp, _exp, pv, _n in rows if pv is not None]
    meters = max((n for *_, n in rows), default=0)
    return _series(load), _series(pv), int(meters)


def meter_bins(conn: Connection, meter_id: int, start: datetime, end: datetime,
               step_minutes: int) -> pd.Series:
    """One meter's values summed per ``step_minutes`` bin in [start, end) (its canonical unit)."""
    rows = conn.execute(text(
        "SELECT extract(epoch FROM date_bin(make_interval(mins => :s), start_ts,"
        " TIMESTAMPTZ '2000-01-01 00:00+08'))::bigint b, sum(value) FROM readings"
        " WHERE meter_id = :m AND start_ts >= :a AND start_ts < :b GROUP BY b ORDER BY b"),
        {"m": meter_id, "a": start, "b": end, "s": step_minutes}).all()
    return _series([(t, v) for t, v in rows])
