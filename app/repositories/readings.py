"""Readings SQL: batch writes (COPY + one merge statement), rollups and aggregated reads.

Write path (one connection; one transaction, all-or-nothing):
1. the monthly partitions of the months that receive rows are created first, in their own short
   transaction (nothing is locked when they exist);
2. the transaction takes a lock per meter, in ascending id order (:func:`lock_meters`), so
   writers of one meter take turns and no two batches deadlock; then the fast path when none
   of the batch's (meter, start) keys can exist yet (no stored reading of those meters inside
   the batch's time range): binary COPY straight into ``readings``;
3. otherwise binary COPY into a temporary table, then one statement that writes the audit rows
   of changed intervals and upserts, classifying inserted / revised (unchanged = the rest);
4. plain PostgreSQL: the meter-day rollup (Asia/Shanghai days) is updated in the same
   transaction; TimescaleDB: the continuous aggregates are refreshed for the touched range after
   commit, so data are readable at once either way.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from app.repositories.pgcopy import COLUMNS, encode_readings
from energy.site import PARK_TZ
from energy.units import CARRIERS

if TYPE_CHECKING:
    from app.repositories.readings_store import ReadingsStore as Rollups

log = logging.getLogger(__name__)
TZ = PARK_TZ
"""The park's zone: SQL takes it as the bound parameter ``:tz`` (every query below that buckets
by local day or hour passes ``"tz": TZ``)."""
LOCAL_ORIGIN = "(CAST('2000-01-01' AS timestamp) AT TIME ZONE :tz)"
"""Origin of ``date_bin`` buckets: a local midnight, so bins align with the park's clock."""
METER_LOCK_NAMESPACE = 0x7A63_5264
"""First key of the two-key advisory locks that serialise writers of one meter."""


@dataclass
class WriteCounts:
    inserted: int
    unchanged: int
    revised: int


def ensure_partitions(conn: Connection, months: list[date]) -> int:
    """Create the missing monthly (UTC) partitions among ``months`` in a short transaction of
    its own, committed before the write; returns how many were created (0 on TimescaleDB)."""
    if not months:
        return 0
    with conn.begin():
        return create_partitions(conn, months)


def create_partitions(conn: Connection, months: list[date]) -> int:
    """As :func:`ensure_partitions`, inside the caller's transaction."""
    if not months:
        return 0
    return int(conn.execute(text("SELECT zcpark_ensure_reading_months(CAST(:m AS date[]))"),
                            {"m": sorted(set(months))}).scalar_one())


def lock_meters(conn: Connection, meter_ids: list[int], *, timeout_s: float) -> None:
    """Take the transaction's per-meter write locks, in ascending id order.

    Writers of one meter take turns (so a batch's exists-check and audit rows see every earlier
    commit), and the fixed order means two batches over the same meters cannot deadlock."""
    conn.execute(text("SELECT set_config('lock_timeout', :t, true)"),
                 {"t": f"{int(timeout_s * 1000)}ms"})
    conn.execute(text(
        "SELECT count(pg_advisory_xact_lock(:ns, s.id)) FROM"
        " (SELECT DISTINCT id FROM unnest(CAST(:ids AS integer[])) AS id ORDER BY id) s"),
        {"ns": METER_LOCK_NAMESPACE, "ids": sorted({int(i) for i in meter_ids})})


def create_batch(conn: Connection, meta: dict[str, Any]) -> int:
    return int(conn.execute(text(
        "INSERT INTO ingest_batches (api_key_id, enterprise_id, content_type, payload_sha256, rows,"
        " inserted, unchanged, revised, flagged) VALUES (:api_key_id, :enterprise_id,"
        " :content_type, :payload_sha256, :rows, 0, 0, 0, 0) RETURNING id"), meta).scalar_one())


def finish_batch(conn: Connection, batch_id: int, counts: WriteCounts, flagged: int) -> None:
    conn.execute(text(
        "UPDATE ingest_batches SET inserted=:i, unchanged=:u, revised=:r, flagged=:f WHERE id=:id"),
        {"i": counts.inserted, "u": counts.unchanged, "r": counts.revised, "f": flagged,
         "id": batch_id})


def previous_registers(conn: Connection, first_ts: pd.Series) -> pd.DataFrame:
    """Per cumulative meter, the stored register reading just before its first batch reading."""
    if not len(first_ts):
        return pd.DataFrame(columns=["meter_id", "ts", "value"])
    rows = conn.execute(text(
        "SELECT f.meter_id, p.end_ts, p.register_value"
        " FROM unnest(:ids, :firsts) AS f(meter_id, t)"
        " CROSS JOIN LATERAL (SELECT r.start_ts + make_interval(mins => m.interval_minutes)"
        "   AS end_ts,"
        "   r.register_value FROM readings r JOIN meters m ON m.id = r.meter_id"
        "   WHERE r.meter_id = f.meter_id AND r.start_ts < f.t AND r.register_value IS NOT NULL"
        "   ORDER BY r.start_ts DESC LIMIT 1) p"),
        {"ids": [int(i) for i in first_ts.index], "firsts": [t.to_pydatetime() for t in first_ts]},
    ).all()
    frame = pd.DataFrame(rows, columns=["meter_id", "ts", "value"])
    if len(frame):
        frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
        frame = frame[frame["ts"] < frame["meter_id"].map(first_ts)]
    return frame


def _copy(conn: Connection, table: str, payload: bytes) -> None:
    raw = conn.connection.driver_connection
    with raw.cursor() as cur, cur.copy(
        f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN (FORMAT binary)"
    ) as copy:
        view = memoryview(payload)
        step = 8 * 1024 * 1024
        for i in range(0, len(payload), step):
            copy.write(view[i : i + step])


def write_readings(conn: Connection, rows: pd.DataFrame, batch_id: int, api_key_id: int,
                   *, day_rollup: bool) -> WriteCounts:
    """Store prepared rows (see module docstring); returns the counts. ``day_rollup``: keep
    ``meter_days`` in this transaction (the plain-partition layout)."""
    n = len(rows)
    if n == 0:
        return WriteCounts(0, 0, 0)
    ids = [int(i) for i in rows["meter_id"].unique()]
    lo, hi = rows["start_ts"].min().to_pydatetime(), rows["start_ts"].max().to_pydatetime()
    exists = conn.execute(text(
        "SELECT EXISTS (SELECT 1 FROM readings WHERE meter_id = ANY(:ids)"
        " AND start_ts BETWEEN :lo AND :hi)"), {"ids": ids, "lo": lo, "hi": hi}).scalar()
    payload = encode_readings(rows, batch_id)
    if not exists:
        _copy(conn, "readings", payload)
        counts = WriteCounts(inserted=n, unchanged=0, revised=0)
        if day_rollup:
            _add_meter_days(conn, rows)
        return counts
    conn.execute(text(
        "CREATE TEMP TABLE _ingest (meter_id integer, start_ts timestamptz, value float8,"
        " original_unit varchar(16), quality varchar(16), register_value float8, batch_id bigint)"
        " ON COMMIT DROP"))
    _copy(conn, "_ingest", payload)
    revised, existing, written = conn.execute(text("""
        WITH existing AS (
            SELECT r.meter_id, r.start_ts, r.value AS old_value, r.quality AS old_quality,
                   r.batch_id AS old_batch_id, t.value AS new_value, t.quality AS new_quality
            FROM _ingest t JOIN readings r USING (meter_id, start_ts)
        ), rev AS (
            INSERT INTO reading_revisions (meter_id, start_ts, old_value, new_value, old_quality,
                                           new_quality, old_batch_id, batch_id, revised_by)
            SELECT meter_id, start_ts, old_value, new_value, old_quality, new_quality,
                   old_batch_id, :batch, :who FROM existing
            WHERE (old_value, old_quality) IS DISTINCT FROM (new_value, new_quality)
            RETURNING 1
        ), up AS (
            INSERT INTO readings AS r (meter_id, start_ts, value, original_unit, quality,
                                       register_value, batch_id)
            SELECT meter_id, start_ts, value, original_unit, quality, register_value, batch_id
            FROM _ingest
            ON CONFLICT (meter_id, start_ts) DO UPDATE
               SET value = EXCLUDED.value, quality = EXCLUDED.quality,
                   original_unit = EXCLUDED.original_unit,
                   register_value = EXCLUDED.register_value, batch_id = EXCLUDED.batch_id
               WHERE (r.value, r.quality) IS DISTINCT FROM (EXCLUDED.value, EXCLUDED.quality)
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM rev), (SELECT count(*) FROM existing),
               (SELECT count(*) FROM up)
    """), {"batch": batch_id, "who": api_key_id}).one()
    inserted = n - int(existing)
    if day_rollup and written:
        _recompute_meter_days(conn, rows)
    return WriteCounts(inserted=inserted, unchanged=int(existing) - int(revised),
                       revised=int(revised))


def _local_days(rows: pd.DataFrame) -> pd.Series:
    return rows["start_ts"].dt.tz_convert(TZ).dt.tz_localize(None).dt.normalize()


def _add_meter_days(conn: Connection, rows: pd.DataFrame) -> None:
    """Fast path: every row is new, so the day sums add onto what is stored."""
    days = rows.assign(day=_local_days(rows), flagged=(rows["quality"] != "ok").astype("int64"))
    agg = days.groupby(["meter_id", "day"]).agg(value=("value", "sum"), n=("value", "size"),
                                                  n_flagged=("flagged", "sum")).reset_index()
    conn.execute(text("""
        INSERT INTO meter_days (meter_id, day, value, n, n_flagged)
        SELECT * FROM unnest(CAST(:m AS integer[]), CAST(:d AS date[]), CAST(:v AS float8[]),
                             CAST(:n AS integer[]), CAST(:f AS integer[]))
        ON CONFLICT (meter_id, day) DO UPDATE SET value = meter_days.value + EXCLUDED.value,
            n = meter_days.n + EXCLUDED.n, n_flagged = meter_days.n_flagged + EXCLUDED.n_flagged
    """), {"m": agg["meter_id"].astype(int).tolist(), "d": [d.date() for d in agg["day"]],
           "v": agg["value"].tolist(), "n": agg["n"].astype(int).tolist(),
           "f": agg["n_flagged"].astype(int).tolist()})


def _recompute_meter_days(conn: Connection, rows: pd.DataFrame) -> None:
    """Merge path: recompute the touched (meter, day) sums from the stored readings."""
    touched = rows.assign(day=_local_days(rows))[["meter_id", "day"]].drop_duplicates()
    conn.execute(text("""
        INSERT INTO meter_days (meter_id, day, value, n, n_flagged)
        SELECT d.meter_id, d.day, sum(r.value), count(*), count(*) FILTER (WHERE r.quality <> 'ok')
        FROM unnest(CAST(:m AS integer[]), CAST(:d AS date[])) AS d(meter_id, day)
        JOIN readings r ON r.meter_id = d.meter_id
             AND r.start_ts >= (d.day::timestamp AT TIME ZONE :tz)
             AND r.start_ts < ((d.day + 1)::timestamp AT TIME ZONE :tz)
        GROUP BY d.meter_id, d.day
        ON CONFLICT (meter_id, day) DO UPDATE SET value = EXCLUDED.value, n = EXCLUDED.n,
            n_flagged = EXCLUDED.n_flagged
    """), {"m": touched["meter_id"].astype(int).tolist(), "d": [d.date() for d in touched["day"]],
           "tz": TZ})


_REFRESH_LOCK = threading.Lock()
"""Refreshes of the continuous aggregates in this process take turns (worker and sync paths)."""
REFRESH_RETRY_DELAYS_S = (0.2, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0)
"""Back-off between attempts while another process (or TimescaleDB's policy job) refreshes."""


def _concurrent_refresh(exc: DBAPIError) -> bool:
    """True for TimescaleDB's "a concurrent refresh holds this aggregate" errors."""
    sqlstate = getattr(exc.orig, "sqlstate", None) or ""
    message = str(exc.orig).lower()
    return (sqlstate in ("55P03", "55006", "40001", "40P01")
            or "concurrent refresh" in message or "already in progress" in message)


def refresh_aggregates(engine: Engine, start: datetime, end: datetime) -> None:
    """TimescaleDB: materialise the continuous aggregates for [start, end] (no transaction).

    Refreshes in this process are serialised; a refresh that meets one of another process is
    retried with back-off (:data:`REFRESH_RETRY_DELAYS_S`), then the last error is raised."""
    for delay in (*REFRESH_RETRY_DELAYS_S, None):
        try:
            with _REFRESH_LOCK:
                _refresh_once(engine, start, end)
            return
        except DBAPIError as exc:
            if delay is None or not _concurrent_refresh(exc):
                raise
            log.info("continuous aggregate refresh met a concurrent one; again in %.1f s", delay)
            time.sleep(delay)


def _refresh_once(engine: Engine, start: datetime, end: datetime) -> None:
    # force => true (TimescaleDB >= 2.19): without it, the newest Asia/Shanghai day bucket, once
    # materialised, was not re-materialised when another meter's reading landed in it (the
    # refresh window is cut at the invalidation threshold and whole buckets only), so day and
    # month sums silently missed that reading. Forcing re-materialises the padded window.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for view, pad in (("readings_hourly", "1 hour"), ("readings_daily", "1 day")):
            conn.execute(text(
                f"CALL refresh_continuous_aggregate('{view}', "
                f"CAST(:a AS timestamptz) - interval '{pad}', "
                f"CAST(:b AS timestamptz) + interval '{pad}', force => true)"
            ), {"a": start, "b": end})


# ---------------------------------------------------------------------------------------------
# Reads
RESOLUTIONS = ("raw", "15min", "hour", "day", "month")


def meter_series(conn: Connection, meter_id: int, start: datetime, end: datetime,
                 resolution: str, *, rollups: Rollups) -> list[tuple[datetime, float, str, int]]:
    """(bucket start, sum, quality, count) for one meter in [start, end); buckets in Asia/Shanghai.

    Quality of a bucket: the reading's own flag (raw), else "ok" when every reading in it is ok,
    "flagged" otherwise.
    """
    p = {"m": meter_id, "a": start, "b": end, "tz": TZ}
    if resolution == "raw":
        sql = ("SELECT start_ts, value, quality, 1 FROM readings WHERE meter_id = :m"
               " AND start_ts >= :a AND start_ts < :b ORDER BY start_ts")
    elif resolution == "15min":
        sql = (f"SELECT date_bin('15 minutes', start_ts, {LOCAL_ORIGIN}) b,"
               " sum(value), CASE WHEN bool_and(quality = 'ok') THEN 'ok' ELSE 'flagged' END,"
               " count(*) FROM readings WHERE meter_id = :m AND start_ts >= :a AND start_ts < :b"
               " GROUP BY b ORDER BY b")
    elif resolution == "hour":
        sql = ("SELECT h.bucket, h.value, CASE WHEN h.n_flagged = 0 THEN 'ok' ELSE 'flagged' END,"
               f" h.n::int FROM {rollups.hours_source()} h WHERE h.meter_id = :m"
               " ORDER BY h.bucket")
    else:
        src = rollups.days_source()
        trunc = "d.day" if resolution == "day" else "date_trunc('month', d.day)::date"
        sql = (f"SELECT ({trunc})::timestamp AT TIME ZONE :tz AS b, sum(d.value),"
               " CASE WHEN sum(d.n_flagged) = 0 THEN 'ok' ELSE 'flagged' END, sum(d.n)::int"
               f" FROM {src} d WHERE d.meter_id = :m"
               " AND d.day >= (CAST(:a AS timestamptz) AT TIME ZONE :tz)::date"
               " AND d.day < (CAST(:b AS timestamptz) AT TIME ZONE :tz)::date"
               " GROUP BY b ORDER BY b")
    return [tuple(r) for r in conn.execute(text(sql), p).all()]  # type: ignore[misc]


def park_energy(conn: Connection, start: datetime, end: datetime, by: str,
                enterprise_id: int | None, *, rollups: Rollups) -> list[dict[str, Any]]:
    """Totals per carrier (with unit), zone or enterprise over whole Asia/Shanghai days."""
    key = {"carrier": "m.carrier", "zone": "e.zone", "enterprise": "e.code"}[by]
    scope = "AND m.enterprise_id = :e" if enterprise_id is not None else ""
    first_day = "(CAST(:a AS timestamptz) AT TIME ZONE :tz)::date"
    end_day = "(CAST(:b AS timestamptz) AT TIME ZONE :tz)::date"
    sql = (f"SELECT {key} AS k, m.carrier, m.canonical_unit, sum(d.value), sum(d.n)::bigint"
           f" FROM {rollups.days_source(first_day, end_day)} d"
           " JOIN meters m ON m.id = d.meter_id JOIN enterprises e ON e.id = m.enterprise_id"
           f" WHERE d.day >= {first_day} AND d.day < {end_day}"
           " AND m.carrier = ANY(:summable)"
           f" {scope} GROUP BY 1, 2, 3 ORDER BY 1, 2")
    summable = [c for c, spec in CARRIERS.items() if spec.summable]
    rows = conn.execute(text(sql), {"a": start, "b": end, "e": enterprise_id,
                                    "summable": summable, "tz": TZ}).all()
    return [{by: k, "carrier": c, "unit": u, "value": v, "readings": n} for k, c, u, v, n in rows]


def revisions(conn: Connection, meter_id: int, start: datetime | None,
              end: datetime | None) -> list[dict[str, Any]]:
    rows = conn.execute(text(
        "SELECT v.start_ts, v.old_value, v.new_value, v.old_quality, v.new_quality,"
        " v.old_batch_id, v.batch_id, v.revised_by, k.prefix, v.revised_at"
        " FROM reading_revisions v LEFT JOIN api_keys k ON k.id = v.revised_by"
        " WHERE v.meter_id = :m AND (CAST(:a AS timestamptz) IS NULL OR v.start_ts >= :a)"
        " AND (CAST(:b AS timestamptz) IS NULL OR v.start_ts < :b) ORDER BY v.start_ts, v.id"),
        {"m": meter_id, "a": start, "b": end}).all()
    keys = ("start", "old_value", "new_value", "old_quality", "new_quality", "old_batch",
            "batch", "revised_by_key", "revised_by_key_prefix", "revised_at")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def last_starts(conn: Connection, meter_ids: list[int]) -> dict[int, datetime]:
    """The latest stored interval start of each meter (meters without readings are absent)."""
    rows = conn.execute(text(
        "SELECT m.id, (SELECT r.start_ts FROM readings r WHERE r.meter_id = m.id"
        " ORDER BY r.start_ts DESC LIMIT 1) FROM unnest(CAST(:ids AS bigint[])) AS m(id)"),
        {"ids": meter_ids}).all()
    return {int(i): ts for i, ts in rows if ts is not None}
