"""Storage SQL: assets (scoped by the caller), telemetry meters, plans, capacity tests, the park
series a dispatch reads, telemetry frames and safety alerts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Select, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db import check_violation_name
from app.errors import Conflict, NotFound
from app.models import (
    Enterprise,
    Meter,
    StorageAsset,
    StorageCapacityTest,
    StorageMeter,
    StoragePlan,
)
from app.principal import Principal

TELEMETRY_COLUMNS = {"power": "power_mw", "soc": "soc_pct", "temperature": "temperature_c"}


def _scope(stmt: Select, principal: Principal) -> Select:
    """Enterprise keys see only stations of their own enterprise."""
    if principal.role == "enterprise":
        stmt = stmt.where(StorageAsset.enterprise_id == principal.enterprise_id)
    return stmt


def list_assets(session: Session, principal: Principal) -> Sequence[StorageAsset]:
    return session.scalars(_scope(select(StorageAsset).order_by(StorageAsset.code),
                                  principal)).all()


def all_assets(session: Session) -> Sequence[StorageAsset]:
    """Every station (scheduled jobs)."""
    return session.scalars(select(StorageAsset).order_by(StorageAsset.id)).all()


def get_asset(session: Session, principal: Principal, code: str) -> StorageAsset:
    """The station ``code`` if the caller may see it; 404 otherwise (existence is not leaked)."""
    asset = session.scalar(_scope(select(StorageAsset).where(StorageAsset.code == code),
                                  principal))
    if asset is None:
        raise NotFound(f"No storage station {code!r}.")
    return asset


def create_asset(session: Session, asset: StorageAsset, meters: dict[str, Meter]) -> StorageAsset:
    """Insert the station, its telemetry meters and their links in one transaction."""
    session.add(asset)
    try:
        session.flush()
        for meter in meters.values():
            session.add(meter)
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        if check_violation_name(exc) is not None:  # a refused value, not a duplicate
            raise
        raise Conflict(f"Storage station {asset.code!r} or one of its telemetry meter codes"
                       " exists already.") from None
    for quantity, meter in meters.items():
        session.add(StorageMeter(asset_id=asset.id, quantity=quantity, meter_id=meter.id))
    session.flush()
    return asset


def enterprise_by_code(session: Session, code: str) -> Enterprise | None:
    return session.scalar(select(Enterprise).where(Enterprise.code == code))


def enterprise_code(session: Session, enterprise_id: int | None) -> str | None:
    if enterprise_id is None:
        return None
    ent = session.get(Enterprise, enterprise_id)
    return ent.code if ent else None


def telemetry_meters(session: Session, asset_id: int) -> dict[str, Meter]:
    rows = session.execute(select(StorageMeter.quantity, Meter).join(
        Meter, Meter.id == StorageMeter.meter_id).where(StorageMeter.asset_id == asset_id)).all()
    return {q: m for q, m in rows}


# --- plans -----------------------------------------------------------------------------------
def add_plan(session: Session, plan: StoragePlan) -> StoragePlan:
    """Store ``plan`` as the current plan of its station and day. The plan it replaces stays,
    marked superseded. Publications for one station are serialised (a row lock on the station),
    and a unique index allows one current plan per station and day whatever happens."""
    session.execute(select(StorageAsset.id).where(StorageAsset.id == plan.asset_id)
                    .with_for_update(key_share=True))
    session.execute(update(StoragePlan).where(
        StoragePlan.asset_id == plan.asset_id, StoragePlan.day == plan.day,
        StoragePlan.superseded_at.is_(None)).values(superseded_at=func.clock_timestamp())
        .execution_options(synchronize_session=False))
    session.add(plan)
    session.flush()
    session.refresh(plan)
    return plan


def current_plan(session: Session, asset_id: int, day: date) -> StoragePlan | None:
    """The plan published last for ``day`` (Asia/Shanghai), the one not superseded."""
    return session.scalar(select(StoragePlan).where(
        StoragePlan.asset_id == asset_id, StoragePlan.day == day,
        StoragePlan.superseded_at.is_(None)))


def latest_plan(session: Session, asset_id: int) -> StoragePlan | None:
    """The current plan of the station's latest planned day."""
    return session.scalar(select(StoragePlan).where(
        StoragePlan.asset_id == asset_id, StoragePlan.superseded_at.is_(None))
        .order_by(StoragePlan.day.desc()).limit(1))


def plan_count(session: Session, asset_id: int, day: date) -> int:
    return len(session.scalars(select(StoragePlan.id).where(
        StoragePlan.asset_id == asset_id, StoragePlan.day == day)).all())


# --- capacity tests --------------------------------------------------------------------------
def add_capacity_test(session: Session, test: StorageCapacityTest) -> StorageCapacityTest:
    session.add(test)
    session.flush()
    return test


def capacity_tests(session: Session, asset_id: int) -> Sequence[StorageCapacityTest]:
    return session.scalars(select(StorageCapacityTest).where(
        StorageCapacityTest.asset_id == asset_id).order_by(StorageCapacityTest.tested_on)).all()


# --- series ----------------------------------------------------------------------------------
def carrier_bins_kwh(conn: Connection, carriers: Sequence[str], start: datetime, end: datetime,
                     step_minutes: int, enterprise_id: int | None) -> pd.DataFrame:
    """Energy per ``step_minutes`` bin (Asia/Shanghai-aligned) and carrier, summed over meters.

    A meter with intervals longer than the step spreads each reading evenly over its sub-bins
    (the step must divide its interval). Columns: bin, carrier, kwh, readings, meters.
    """
    scope = "AND m.enterprise_id = :e" if enterprise_id is not None else ""
    sql = f"""
        SELECT bin, carrier, sum(kwh), count(*), count(DISTINCT meter_id) FROM (
            SELECT date_bin(make_interval(mins => :s), r.start_ts + make_interval(mins => :s * g),
                            TIMESTAMPTZ '2000-01-01 00:00+08') AS bin,
                   m.carrier, m.id AS meter_id,
                   r.value / greatest(m.interval_minutes / :s, 1) AS kwh
            FROM readings r JOIN meters m ON m.id = r.meter_id
            CROSS JOIN LATERAL generate_series(0, greatest(m.interval_minutes / :s, 1) - 1) g
            WHERE m.carrier = ANY(:c) AND r.start_ts >= CAST(:a AS timestamptz) - interval '1 day'
                  AND r.start_ts < :b {scope}
        ) s WHERE bin >= :a AND bin < :b GROUP BY 1, 2 ORDER BY 1, 2
    """
    rows = conn.execute(text(sql), {"c": list(carriers), "a": start, "b": end, "s": step_minutes,
                                    "e": enterprise_id}).all()
    return pd.DataFrame(rows, columns=["bin", "carrier", "kwh", "readings", "meters"])


def telemetry_frame(conn: Connection, meters: dict[str, Meter], start: datetime | None,
                    end: datetime | None) -> pd.DataFrame:
    """Raw telemetry readings of a station as columns power_mw, soc_pct, temperature_c."""
    if not meters:
        return pd.DataFrame(columns=list(TELEMETRY_COLUMNS.values()))
    ids = {m.id: TELEMETRY_COLUMNS[q] for q, m in meters.items()}
    cond = ""
    if start is not None:
        cond += " AND start_ts >= :a"
    if end is not None:
        cond += " AND start_ts < :b"
    rows = conn.execute(text(
        f"SELECT meter_id, start_ts, value FROM readings WHERE meter_id = ANY(:m){cond}"
        " ORDER BY start_ts"), {"m": list(ids), "a": start, "b": end}).all()
    frame = pd.DataFrame(rows, columns=["meter_id", "start_ts", "value"])
    if frame.empty:
        return pd.DataFrame(columns=list(TELEMETRY_COLUMNS.values()))
    frame["col"] = frame["meter_id"].map(ids)
    out = frame.pivot_table(index="start_ts", columns="col", values="value", aggfunc="mean")
    out.index = pd.DatetimeIndex(pd.to_datetime(out.index, utc=True))
    return out


def telemetry_summary(conn: Connection, meters: dict[str, Meter]) -> dict[str, Any]:
    """Throughput (MWh, |power| x interval), first/last reading and mean SOC/temperature."""
    out: dict[str, Any] = {"throughput_mwh": 0.0, "first": None, "last": None,
                           "mean_soc_pct": None, "mean_temperature_c": None, "readings": 0}
    if "power" in meters:
        m = meters["power"]
        row = conn.execute(text(
            "SELECT coalesce(sum(abs(value)), 0) * :h, min(start_ts), max(start_ts), count(*)"
            " FROM readings WHERE meter_id = :m"), {"m": m.id, "h": m.interval_minutes / 60.0}
        ).one()
        out.update(throughput_mwh=float(row[0]), first=row[1], last=row[2], readings=int(row[3]))
    for q, key in (("soc", "mean_soc_pct"), ("temperature", "mean_temperature_c")):
        if q in meters:
            out[key] = conn.execute(text("SELECT avg(value) FROM readings WHERE meter_id = :m"),
                                    {"m": meters[q].id}).scalar()
    return out


def open_safety_alerts(conn: Connection, alerts: list[dict[str, Any]]) -> int:
    """Insert ``storage_safety`` alerts; one per (meter, excursion start). Returns new ones."""
    opened = 0
    for a in alerts:
        res = conn.execute(text(
            "INSERT INTO alerts (kind, meter_id, enterprise_id, period_start, period_end, message,"
            " detail_count) VALUES ('storage_safety', :meter_id, :enterprise_id, :start, :end,"
            " :message, :steps) ON CONFLICT (kind, meter_id, period_start) DO NOTHING"), a)
        opened += int(res.rowcount or 0)
    return opened
