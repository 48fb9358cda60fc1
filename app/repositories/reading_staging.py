"""Readings SQL of a streamed upload: a staging table filled chunk by chunk, then one merge.

All of it runs in the upload's one transaction on its one connection:
1. :func:`create_stage` makes a temporary table (dropped at commit or rollback), and every
   validated chunk is copied into it with binary COPY (:func:`copy_to_stage`); nothing touches
   ``readings`` while the body is read, so a batch rejected in its last chunk leaves no trace;
2. at the end, under the meter locks (taken in id order), rows repeated across chunks are
   dropped (:func:`drop_repeats`), and the stage goes to ``readings`` either in one
   ``INSERT … SELECT`` when none of its keys can exist yet (:func:`insert_new`) or through the
   merge statement that writes the audit rows of changed intervals (:func:`merge`);
3. plain PostgreSQL: the meter-day rollup is added to (new rows) or recomputed for the touched
   days (merge), from the stage, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, text

from app.repositories.pgcopy import COLUMNS
from app.repositories.readings import WriteCounts
from energy.site import PARK_TZ

STAGE = "reading_stage"


def create_stage(conn: Connection) -> None:
    """The transaction's staging table (same columns as the COPY payload)."""
    conn.execute(text(
        f"CREATE TEMP TABLE {STAGE} (meter_id integer, start_ts timestamptz, value float8,"
        " original_unit varchar(16), quality varchar(16), register_value float8,"
        " batch_id bigint) ON COMMIT DROP"))


def copy_to_stage(conn: Connection, payload: bytes) -> None:
    """Binary COPY of one chunk's rows (see :func:`app.repositories.pgcopy.encode_readings`)."""
    raw = conn.connection.driver_connection
    with raw.cursor() as cur, cur.copy(
        f"COPY {STAGE} ({', '.join(COLUMNS)}) FROM STDIN (FORMAT binary)"
    ) as copy:
        view = memoryview(payload)
        step = 8 * 1024 * 1024
        for i in range(0, len(payload), step):
            copy.write(view[i : i + step])


def drop_repeats(conn: Connection) -> int:
    """Delete the later copies of a (meter, start) repeated in the stage (same value: rows with
    different values were rejected before); returns how many were deleted."""
    return int(conn.execute(text(
        f"DELETE FROM {STAGE} a USING {STAGE} b WHERE a.meter_id = b.meter_id"
        " AND a.start_ts = b.start_ts AND a.ctid > b.ctid")).rowcount)


def any_stored(conn: Connection, meter_ids: Sequence[int], firsts: Sequence[object],
               lasts: Sequence[object]) -> bool:
    """Whether ``readings`` holds any row of each meter inside its [first, last] range."""
    if not meter_ids:
        return False
    return bool(conn.execute(text(
        "SELECT EXISTS (SELECT 1 FROM unnest(CAST(:m AS integer[]), CAST(:a AS timestamptz[]),"
        " CAST(:b AS timestamptz[])) AS q(meter_id, a, b) WHERE EXISTS (SELECT 1 FROM readings r"
        " WHERE r.meter_id = q.meter_id AND r.start_ts BETWEEN q.a AND q.b))"),
        {"m": list(meter_ids), "a": list(firsts), "b": list(lasts)}).scalar())


def insert_new(conn: Connection, batch_id: int) -> int:
    """Every staged row into ``readings`` (none of their keys is stored); returns the count."""
    return int(conn.execute(text(
        f"INSERT INTO readings ({', '.join(COLUMNS)}) SELECT meter_id, start_ts, value,"
        f" original_unit, quality, register_value, :batch FROM {STAGE}"),
        {"batch": batch_id}).rowcount)


def merge(conn: Connection, batch_id: int, api_key_id: int) -> tuple[WriteCounts, int]:
    """Classify the staged rows against ``readings``: insert the new ones, revise the changed
    ones (each revision in the audit trail), leave the unchanged; returns the counts and how many
    rows were written (inserted or revised)."""
    conn.execute(text(f"ANALYZE {STAGE}"))
    staged, revised, existing, written = conn.execute(text(f"""
        WITH existing AS (
            SELECT r.meter_id, r.start_ts, r.value AS old_value, r.quality AS old_quality,
                   r.batch_id AS old_batch_id, t.value AS new_value, t.quality AS new_quality
            FROM {STAGE} t JOIN readings r USING (meter_id, start_ts)
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
            SELECT meter_id, start_ts, value, original_unit, quality, register_value, :batch
            FROM {STAGE}
            ON CONFLICT (meter_id, start_ts) DO UPDATE
               SET value = EXCLUDED.value, quality = EXCLUDED.quality,
                   original_unit = EXCLUDED.original_unit,
                   register_value = EXCLUDED.register_value, batch_id = EXCLUDED.batch_id
               WHERE (r.value, r.quality) IS DISTINCT FROM (EXCLUDED.value, EXCLUDED.quality)
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM {STAGE}), (SELECT count(*) FROM rev),
               (SELECT count(*) FROM existing), (SELECT count(*) FROM up)
    """), {"batch": batch_id, "who": api_key_id}).one()
    counts = WriteCounts(inserted=int(staged) - int(existing),
                         unchanged=int(existing) - int(revised), revised=int(revised))
    return counts, int(written)


def add_meter_days(conn: Connection) -> None:
    """Plain layout, every staged row new: its (meter, local day) sums add onto what
    is stored."""
    conn.execute(text(f"""
        INSERT INTO meter_days (meter_id, day, value, n, n_flagged)
        SELECT meter_id, (start_ts AT TIME ZONE :tz)::date, sum(value), count(*),
               count(*) FILTER (WHERE quality <> 'ok')
        FROM {STAGE} GROUP BY 1, 2
        ON CONFLICT (meter_id, day) DO UPDATE SET value = meter_days.value + EXCLUDED.value,
            n = meter_days.n + EXCLUDED.n, n_flagged = meter_days.n_flagged + EXCLUDED.n_flagged
    """), {"tz": PARK_TZ})


def recompute_meter_days(conn: Connection) -> None:
    """Plain layout, after a merge: the touched (meter, day) sums recomputed from ``readings``."""
    conn.execute(text(f"""
        INSERT INTO meter_days (meter_id, day, value, n, n_flagged)
        SELECT d.meter_id, d.day, sum(r.value), count(*), count(*) FILTER (WHERE r.quality <> 'ok')
        FROM (SELECT DISTINCT meter_id, (start_ts AT TIME ZONE :tz)::date AS day
              FROM {STAGE}) d
        JOIN readings r ON r.meter_id = d.meter_id
             AND r.start_ts >= (d.day::timestamp AT TIME ZONE :tz)
             AND r.start_ts < ((d.day + 1)::timestamp AT TIME ZONE :tz)
        GROUP BY d.meter_id, d.day
        ON CONFLICT (meter_id, day) DO UPDATE SET value = EXCLUDED.value, n = EXCLUDED.n,
            n_flagged = EXCLUDED.n_flagged
    """), {"tz": PARK_TZ})
