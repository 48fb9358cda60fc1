"""PV SQL: arrays, roofs and weather stations scoped by the caller, their readings, PV alerts.

Tenancy: an enterprise key sees only its own arrays and roofs (anything else reads as absent,
404); operators and planners see all. A weather station is park-shared (any key may list it and
any array may use it) or private to the enterprise owning its meters (only that enterprise sees
it and only its arrays use it); operators register stations.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Select, or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db import check_violation_name
from app.errors import Conflict, Invalid
from app.models import PvArray, Roof, WeatherStation
from app.principal import Principal
from app.repositories.core import one_by_code


def _scoped(stmt: Select, model: type[PvArray] | type[Roof], principal: Principal) -> Select:
    if principal.role == "enterprise":
        stmt = stmt.where(model.enterprise_id == principal.enterprise_id)
    return stmt


def _flush_unique(session: Session, what: str) -> None:
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        if check_violation_name(exc) is not None:  # a refused value, not a duplicate
            raise
        raise Conflict(f"{what} exists already.") from None


def create_array(session: Session, array: PvArray) -> PvArray:
    session.add(array)
    _flush_unique(session, f"This enterprise's PV array {array.code!r} (or an array on its meter)")
    session.refresh(array)
    return array


def list_arrays(session: Session, principal: Principal,
                enterprise_id: int | None = None) -> Sequence[PvArray]:
    stmt = _scoped(select(PvArray).order_by(PvArray.code), PvArray, principal)
    if enterprise_id is not None:
        stmt = stmt.where(PvArray.enterprise_id == enterprise_id)
    return session.scalars(stmt).unique().all()


def get_array(session: Session, principal: Principal, code: str,
              enterprise: str | None = None) -> PvArray:
    """Array ``code`` (codes are unique per enterprise; operators and planners name the
    enterprise when several use the code)."""
    stmt = _scoped(select(PvArray).where(PvArray.code == code), PvArray, principal)
    return one_by_code(session.scalars(stmt).unique().all(), code, "PV array", enterprise)


def all_metered_arrays(session: Session) -> Sequence[PvArray]:
    """Every array with a generation meter (the daily performance job)."""
    stmt = select(PvArray).where(PvArray.meter_id.is_not(None)).order_by(PvArray.code)
    return session.scalars(stmt).unique().all()


def create_station(session: Session, station: WeatherStation) -> WeatherStation:
    session.add(station)
    _flush_unique(session, f"Weather station {station.code!r}")
    session.refresh(station)
    return station


def _visible_to(stmt: Select, enterprise_id: int | None) -> Select:
    """Stations an enterprise may see and use: shared ones and its own (None: all)."""
    if enterprise_id is not None:
        stmt = stmt.where(or_(WeatherStation.shared.is_(True),
                              WeatherStation.enterprise_id == enterprise_id))
    return stmt


def list_stations(session: Session, principal: Principal) -> Sequence[WeatherStation]:
    viewer = principal.enterprise_id if principal.role == "enterprise" else None
    stmt = _visible_to(select(WeatherStation).order_by(WeatherStation.id), viewer)
    return session.scalars(stmt).unique().all()


def get_station(session: Session, code: str, for_enterprise_id: int,
                field: str = "weather_station") -> WeatherStation:
    """Station ``code`` if arrays of enterprise ``for_enterprise_id`` may use it (shared or its
    own); any other code, existing or not, gets the same 422."""
    stmt = _visible_to(select(WeatherStation).where(WeatherStation.code == code),
                       for_enterprise_id)
    station = session.scalars(stmt).unique().first()
    if station is None:
        raise Invalid("No such weather station for this enterprise.",
                      [(field, "unknown station")])
    return station


def station_by_code(session: Session, code: str) -> WeatherStation | None:
    """Any station (operators' administration)."""
    return session.scalars(select(WeatherStation).where(WeatherStation.code == code)
                           ).unique().first()


def default_station(session: Session) -> WeatherStation | None:
    """The park's station when an array names none: the first shared one created."""
    return session.scalars(select(WeatherStation).where(WeatherStation.shared.is_(True))
                           .order_by(WeatherStation.id).limit(1)).first()


def create_roof(session: Session, roof: Roof) -> Roof:
    session.add(roof)
    _flush_unique(session, f"Roof {roof.name!r} of this enterprise")
    session.refresh(roof)
    return roof


def list_roofs(session: Session, principal: Principal,
               enterprise_id: int | None = None) -> Sequence[Roof]:
    stmt = _scoped(select(Roof).order_by(Roof.enterprise_id, Roof.name), Roof, principal)
    if enterprise_id is not None:
        stmt = stmt.where(Roof.enterprise_id == enterprise_id)
    return session.scalars(stmt).unique().all()


def readings_frame(conn: Connection, meters: dict[str, int], start: datetime,
                   end: datetime) -> pd.DataFrame:
    """Raw readings of several meters in [start, end) as one frame: index = interval start (UTC),
    one column per key of ``meters`` (canonical units), NaN where a meter has no reading."""
    if not meters:
        return pd.DataFrame()
    # epoch microseconds: numeric columns convert ~10x faster than tz-aware datetime objects
    rows = conn.execute(text(
        "SELECT meter_id, (extract(epoch FROM start_ts) * 1000000)::bigint, value FROM readings"
        " WHERE meter_id = ANY(:ids) AND start_ts >= :a AND start_ts < :b"),
        {"ids": list(meters.values()), "a": start, "b": end}).all()
    name_of = {v: k for k, v in meters.items()}
    ids, us, values = (list(c) for c in zip(*rows, strict=True)) if rows else ([], [], [])
    frame = pd.DataFrame({"meter_id": np.asarray(ids, dtype="int64"),
                          "start_ts": pd.to_datetime(np.asarray(us, dtype="int64"), unit="us",
                                                     utc=True),
                          "value": np.asarray(values, dtype="float64")})
    wide = frame.pivot(index="start_ts", columns="meter_id", values="value")
    wide = wide.rename(columns=name_of).reindex(columns=list(meters)).sort_index()
    wide.columns.name = None
    return wide.astype(float)


def open_underperformance_alerts(session: Session, alerts: list[dict[str, Any]]) -> int:
    """Insert ``pv_underperformance`` alerts (one per meter and local day; re-runs add nothing).
    Each dict: meter_id, enterprise_id, period_start, period_end, message. Returns new alerts."""
    if not alerts:
        return 0
    result = session.execute(text(
        "INSERT INTO alerts (kind, meter_id, enterprise_id, period_start, period_end, message)"
        " SELECT 'pv_underperformance', m, e, a, b, msg FROM unnest(CAST(:m AS integer[]),"
        " CAST(:e AS integer[]), CAST(:a AS timestamptz[]), CAST(:b AS timestamptz[]),"
        " CAST(:msg AS text[])) AS t(m, e, a, b, msg)"
        " ON CONFLICT (kind, meter_id, period_start) DO NOTHING"),
        {k: [a[f] for a in alerts] for k, f in (("m", "meter_id"), ("e", "enterprise_id"),
                                                ("a", "period_start"), ("b", "period_end"),
                                                ("msg", "message"))})
    return int(result.rowcount or 0)
