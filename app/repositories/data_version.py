"""The version of the data ledgers and park totals are computed from, read from the database
(so every worker agrees): a key for answers cached per process.

It changes whenever a write that can change such an answer has committed:
- ``data_changes`` (migration 0015): triggers add a row per write statement on ingest batches
  (readings are written only with their batch row, in its transaction), meters, enterprises and
  the carbon inputs. Rows are only inserted, so their count and largest id change on any commit,
  whatever order concurrent writers commit in;
- TimescaleDB: the continuous aggregates' invalidation logs and thresholds. An upload of older
  data is visible in the day rollup only once the aggregate is refreshed (after the upload
  commits); the refresh rewrites those logs, so an answer cached in between is not reused;
- the database (oid, name, server start): a restored or another database is another version.

Read it *before* the data: statements see data at least as new as the version they are filed
under, never older.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

_BASE = (
    "SELECT (SELECT count(*) FROM data_changes), (SELECT coalesce(max(id), 0) FROM data_changes),"
    " (SELECT oid FROM pg_database WHERE datname = current_database()), current_database(),"
    " pg_postmaster_start_time()")
_LOG = ("(SELECT ARRAY[count(*), coalesce(sum(lowest_modified_value), 0),"
        " coalesce(sum(greatest_modified_value), 0)] FROM _timescaledb_catalog.{})")
_TIMESCALE = (
    ", " + _LOG.format("continuous_aggs_hypertable_invalidation_log")
    + ", " + _LOG.format("continuous_aggs_materialization_invalidation_log")
    + ", (SELECT array_agg(watermark ORDER BY hypertable_id)"
    " FROM _timescaledb_catalog.continuous_aggs_invalidation_threshold)"
    ", (SELECT array_agg(watermark ORDER BY mat_hypertable_id)"
    " FROM _timescaledb_catalog.continuous_aggs_watermark)")


def data_version(conn: Connection, *, timescale: bool) -> tuple[object, ...]:
    """A hashable fingerprint of the stored data (see the module docstring)."""
    row = conn.execute(text(_BASE + (_TIMESCALE if timescale else ""))).one()
    return tuple(tuple(v) if isinstance(v, list) else v for v in row)


def trim_data_changes(conn: Connection, keep: int) -> int:
    """Delete all but the newest ``keep`` rows of ``data_changes`` and add one row, in the
    caller's transaction; returns the rows deleted. The added row takes a sequence value above
    every id handed out before, so the largest id after the trim is one no earlier version had:
    a trim never makes the version equal to an earlier one (a delete alone could offset an
    insert committed at the same moment)."""
    deleted = conn.execute(text(
        "DELETE FROM data_changes WHERE id <= (SELECT max(id) FROM data_changes) - :keep"),
        {"keep": keep}).rowcount
    conn.execute(text("INSERT INTO data_changes (source) VALUES ('trim')"))
    return int(deleted or 0)
