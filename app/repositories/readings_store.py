"""The readings store: one interface over the two storage layouts the migrations can build.

- :class:`HypertableStore` (TimescaleDB): ``readings`` is a hypertable; hour and day sums come
  from the continuous aggregates ``readings_hourly`` / ``readings_daily``, refreshed for the
  written range after each commit.
- :class:`PartitionStore` (plain PostgreSQL 15): ``readings`` has native monthly partitions;
  day sums come from the ``meter_days`` rollup, kept in the write transaction; hour sums are a
  ``date_bin`` over the readings.

The layout is detected once (:func:`readings_store`) when the app, the scheduler or a CLI
command starts; services receive the store and never ask which one it is. The SQL that is the
same on both layouts lives in :mod:`app.repositories.readings` (and its siblings) and reads
the layout's rollups through :meth:`ReadingsStore.days_source` / :meth:`hours_source`.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from datetime import date, datetime
from typing import Any, ClassVar

import pandas as pd
from sqlalchemy import Connection, Engine

from app.db import readings_on_timescale
from app.repositories import carbon as carbon_repo
from app.repositories import data_version as data_version_repo
from app.repositories import overview as overview_repo
from app.repositories import readings as readings_repo
from app.repositories.overview import Bucket
from app.repositories.readings import WriteCounts
from energy.site import PARK_TZ

if not re.fullmatch(r"[A-Za-z0-9_/+\-]+", PARK_TZ):
    raise ValueError(f"not an IANA time zone name: {PARK_TZ!r}")
ZONE_SQL = f"'{PARK_TZ}'"
"""The park's zone as an SQL literal (an IANA name from the site data file, checked above)."""
HOUR_BIN = (f"date_bin('1 hour', start_ts, CAST('2000-01-01' AS timestamp) AT TIME ZONE"
            f" {ZONE_SQL})")
"""Hour buckets aligned on the park's hours (the continuous aggregate's alignment)."""


class ReadingsStore(ABC):
    """Where readings are written and where their hour and day sums are read from."""

    layout: ClassVar[str]
    """``timescaledb`` or ``partitions`` (shown by ``/health`` and the CLI, nothing branches
    on it)."""
    keeps_day_rollup: ClassVar[bool]
    """True when the day sums (``meter_days``) are written in the same transaction as the
    readings (a writer that merges readings itself must keep them too)."""
    refreshes_after_commit: ClassVar[bool]
    """True when sums become materialised by :meth:`refresh` after the write commits (the
    ingest answer then says ``aggregates: refreshing`` until the refresh has run)."""

    # -- layout-specific -------------------------------------------------------------------
    @abstractmethod
    def write(self, conn: Connection, rows: pd.DataFrame, batch_id: int,
              api_key_id: int) -> WriteCounts:
        """Store prepared rows inside the caller's transaction (see
        :func:`app.repositories.readings.write_readings`)."""

    @abstractmethod
    def refresh(self, engine: Engine, start: datetime, end: datetime) -> None:
        """Make the sums of readings in [start, end] materialised (no transaction open)."""

    @abstractmethod
    def days_source(self, first_day: str | None = None, end_day: str | None = None) -> str:
        """The meter-day rollup as an SQL source of ``(meter_id, day, value, n, n_flagged)``
        (the park's local days). ``first_day`` / ``end_day`` (SQL expressions of local dates, end
        exclusive) may bound what is read; the caller still filters on ``day``."""

    @abstractmethod
    def hours_source(self) -> str:
        """Hour sums as an SQL source of ``(meter_id, bucket, value, n, n_flagged)`` for the
        readings in [``:a``, ``:b``) (bound parameters of the enclosing statement)."""

    def data_version(self, conn: Connection) -> tuple[object, ...]:
        """A fingerprint of the stored data that changes with every committed write that can
        change a ledger or a park total (see :mod:`app.repositories.data_version`)."""
        return data_version_repo.data_version(conn, timescale=self.layout == "timescaledb")

    # -- reads (the same SQL on both layouts) ----------------------------------------------
    def meter_series(self, conn: Connection, meter_id: int, start: datetime, end: datetime,
                     resolution: str) -> list[tuple[datetime, float, str, int]]:
        return readings_repo.meter_series(conn, meter_id, start, end, resolution, rollups=self)

    def park_energy(self, conn: Connection, start: datetime, end: datetime, by: str,
                    enterprise_id: int | None) -> list[dict[str, Any]]:
        return readings_repo.park_energy(conn, start, end, by, enterprise_id, rollups=self)

    def meter_bucket_sums(self, conn: Connection, start: datetime, end: datetime, bucket: Bucket,
                          *, enterprise_id: int | None = None, meter_ids: list[int] | None = None
                          ) -> list[tuple[datetime, int, float, int, int]]:
        return overview_repo.meter_bucket_sums(conn, start, end, bucket, rollups=self,
                                               enterprise_id=enterprise_id, meter_ids=meter_ids)

    def energy_by_month(self, conn: Connection, start: date, end: date,
                        enterprise_id: int | None) -> list[dict[str, Any]]:
        return carbon_repo.energy_by_month(conn, start, end, enterprise_id, rollups=self)


class HypertableStore(ReadingsStore):
    """TimescaleDB: hypertable + continuous aggregates (the production layout)."""

    layout = "timescaledb"
    keeps_day_rollup = False
    refreshes_after_commit = True

    def write(self, conn: Connection, rows: pd.DataFrame, batch_id: int,
              api_key_id: int) -> WriteCounts:
        return readings_repo.write_readings(conn, rows, batch_id, api_key_id, day_rollup=False)

    def refresh(self, engine: Engine, start: datetime, end: datetime) -> None:
        readings_repo.refresh_aggregates(engine, start, end)

    def days_source(self, first_day: str | None = None, end_day: str | None = None) -> str:
        bound = ""
        if first_day is not None and end_day is not None:
            # Bounding the bucket column reads only those days' chunks (a filter on the
            # computed ``day`` alone reads every chunk).
            bound = (f" WHERE bucket >= CAST({first_day} AS timestamp) AT TIME ZONE"
                     f" {ZONE_SQL} AND bucket < CAST({end_day} AS timestamp) AT TIME ZONE"
                     f" {ZONE_SQL}")
        return (f"(SELECT meter_id, (bucket AT TIME ZONE {ZONE_SQL})::date AS day, value, n,"
                f" n_flagged FROM readings_daily{bound})")

    def hours_source(self) -> str:
        return ("(SELECT meter_id, bucket, value, n, n_flagged FROM readings_hourly"
                " WHERE bucket >= :a AND bucket < :b)")


class PartitionStore(ReadingsStore):
    """Plain PostgreSQL: native monthly partitions + the ``meter_days`` rollup."""

    layout = "partitions"
    keeps_day_rollup = True
    refreshes_after_commit = False

    def write(self, conn: Connection, rows: pd.DataFrame, batch_id: int,
              api_key_id: int) -> WriteCounts:
        return readings_repo.write_readings(conn, rows, batch_id, api_key_id, day_rollup=True)

    def refresh(self, engine: Engine, start: datetime, end: datetime) -> None:
        """Nothing to do: ``meter_days`` is kept in the write transaction."""

    def days_source(self, first_day: str | None = None, end_day: str | None = None) -> str:
        return "meter_days"

    def hours_source(self) -> str:
        return (f"(SELECT meter_id, {HOUR_BIN} AS bucket, sum(value) AS value, count(*) AS n,"
                " count(*) FILTER (WHERE quality <> 'ok') AS n_flagged FROM readings"
                " WHERE start_ts >= :a AND start_ts < :b GROUP BY 1, 2)")


def readings_store(bind: Engine | Connection) -> ReadingsStore:
    """The store of the layout the migrations built in this database."""
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            return readings_store(conn)
    return HypertableStore() if readings_on_timescale(bind) else PartitionStore()
