"""Ingest a batch end to end: parse, validate, store, refresh aggregates (one transaction)."""

from __future__ import annotations

import hashlib
import logging
import random
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from datetime import time as dtime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.auth import Principal
from app.config import Settings
from app.models import Meter
from app.problems import Problem, batch_too_large
from app.repositories import core as core_repo
from app.repositories import readings as repo
from app.repositories.readings import WriteCounts
from app.repositories.readings import revisions as revisions
from app.repositories.readings_store import ReadingsStore
from app.services.carbon import closed_periods_touched_by_readings
from app.services.ingest import (
    MeterInfo,
    PreparedBatch,
    RawBatch,
    parse_csv,
    parse_json,
    prepare,
)
from energy.site import PARK_TZ, PARK_ZONE
from energy.units import carrier_spec

log = logging.getLogger(__name__)


class AggregateRefresher:
    """Refreshes TimescaleDB continuous aggregates for ingested ranges in one worker thread."""

    def __init__(self, engine: Engine, store: ReadingsStore) -> None:
        self.engine = engine
        self.store = store
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="zcpark-cagg")
        self._pending: list[Future[None]] = []

    def submit(self, start: datetime, end: datetime) -> None:
        self._pending = [f for f in self._pending if not f.done()]
        self._pending.append(self._pool.submit(self._refresh, start, end))

    def _refresh(self, start: datetime, end: datetime) -> None:
        try:
            self.store.refresh(self.engine, start, end)
        except Exception:
            # The hourly policy job catches up later; say so instead of failing silently.
            log.exception("continuous aggregate refresh failed for %s .. %s", start, end)
            raise

    def wait(self) -> None:
        """Block until every submitted refresh has finished (tests, benchmarks, shutdown)."""
        for f in self._pending:
            f.result()
        self._pending = []


@dataclass
class IngestContext:
    engine: Engine
    settings: Settings
    store: ReadingsStore
    refresher: AggregateRefresher | None = None

    def __post_init__(self) -> None:
        if self.store.refreshes_after_commit and self.refresher is None:
            self.refresher = AggregateRefresher(self.engine, self.store)


def parse_body(body: bytes, content_type: str) -> RawBatch:
    """CSV (text/csv) or JSON (application/json) → the raw frame :func:`prepare` takes."""
    kind = content_type.split(";")[0].strip().lower()
    if kind in ("application/json", "application/problem+json") or kind.endswith("+json"):
        return parse_json(body)
    if kind in ("text/csv", "text/plain", "application/csv", ""):
        return parse_csv(body)
    raise Problem(415, f"Send text/csv or application/json, not {kind!r}.")


def ingest(
    ctx: IngestContext, principal: Principal, body: bytes, content_type: str
) -> dict[str, Any]:
    """Store one batch all-or-nothing; returns the upload answer."""
    raw = parse_body(body, content_type)
    if len(raw) > ctx.settings.max_batch_rows:
        raise batch_too_large(f"A batch may hold at most {ctx.settings.max_batch_rows} rows; "
                              f"this one has {len(raw)}. Split it.")
    return ingest_frame(ctx, principal, raw, content_type=content_type,
                        payload_sha256=hashlib.sha256(body).hexdigest())


RETRYABLE_SQLSTATES = ("40001", "40P01", "55P03")
"""Serialization failure, deadlock, lock timeout: the write transaction is run again."""


def _retryable(exc: DBAPIError) -> bool:
    return (getattr(exc.orig, "sqlstate", None) or "") in RETRYABLE_SQLSTATES and not (
        exc.connection_invalidated)


def upload_window(settings: Settings, now: datetime | None = None) -> tuple[pd.Timestamp,
                                                                            pd.Timestamp]:
    """The accepted ``ts`` range of an upload: from ``upload_earliest`` (local midnight) to now
    plus ``upload_future_tolerance_hours``."""
    earliest = pd.Timestamp(datetime.combine(settings.upload_earliest, dtime.min,
                                             tzinfo=PARK_ZONE))
    latest = (pd.Timestamp(now or datetime.now(UTC)) + pd.Timedelta(
        hours=settings.upload_future_tolerance_hours)).floor("s")
    return earliest, latest


def ingest_frame(ctx: IngestContext, principal: Principal, raw: RawBatch, *,
                 content_type: str, payload_sha256: str) -> dict[str, Any]:
    """Validate and store one parsed batch on one pooled connection (see the repository's
    write path); aggregates are refreshed after the connection is returned."""
    t0 = time.perf_counter()
    settings = ctx.settings
    codes = [str(c) for c in raw.frame["meter"].cat.categories]
    not_before, not_after = upload_window(settings)
    with ctx.engine.connect() as conn:
        with Session(bind=conn) as session:
            meters = {
                m.code: MeterInfo(
                    id=m.id, code=m.code, enterprise_id=m.enterprise_id, carrier=m.carrier,
                    unit=m.unit, canonical_unit=m.canonical_unit, register=m.register,
                    interval_minutes=m.interval_minutes, rollover_at=m.rollover_at,
                    density_kg_per_l=m.density_kg_per_l,
                    normal_volume_factor=m.normal_volume_factor, max_per_hour=m.max_per_hour)
                for m in core_repo.meters_by_code(session, principal, codes)
            }
        # Cumulative meters: the stored register before each meter's first reading closes the
        # batch's first interval. It is read again under the meter locks; if another upload
        # changed it meanwhile, the batch is prepared again with the fresh one.
        used: dict[str, pd.DataFrame | pd.Series] = {}

        def previous(first: pd.Series, fixed: pd.DataFrame | None = None) -> pd.DataFrame:
            frame = repo.previous_registers(conn, first) if fixed is None else fixed
            used["first"], used["frame"] = first, frame
            return frame

        def run_prepare(fixed: pd.DataFrame | None = None) -> PreparedBatch:
            return prepare(
                raw, meters, ceilings_per_hour=settings.plausibility_ceilings_per_hour,
                max_abs_value=settings.max_abs_value,
                previous_registers=lambda _ids, first: previous(first, fixed),
                not_before=not_before, not_after=not_after,
                max_months=settings.upload_max_months)

        def prepare_again() -> PreparedBatch | None:
            if "first" not in used:
                return None
            fresh = repo.previous_registers(conn, used["first"])  # type: ignore[arg-type]
            if _same_frame(fresh, used["frame"]):  # type: ignore[arg-type]
                return None
            return run_prepare(fresh)

        prepared = run_prepare()
        conn.rollback()
        t1 = time.perf_counter()
        repo.ensure_partitions(conn, _months(prepared.rows))
        batch_id, counts, prepared = _write(conn, ctx, principal, prepared, prepare_again,
                                            content_type=content_type,
                                            payload_sha256=payload_sha256)
    rows = prepared.rows
    flags = {k: v for k, v in rows["quality"].value_counts().to_dict().items() if v} if len(
        rows) else {}
    flagged = int(sum(v for k, v in flags.items() if k != "ok"))
    t2 = time.perf_counter()
    touched = closed_periods_touched_by_readings(
        ctx.engine, batch_id, [int(i) for i in rows["meter_id"].unique()],
        sorted(set(rows["start_ts"].dt.tz_convert(PARK_TZ).dt.strftime("%Y-%m")))
    ) if counts.inserted or counts.revised else []
    aggregates = "current"
    if ctx.store.refreshes_after_commit and len(rows) and (counts.inserted or counts.revised):
        lo, hi = rows["start_ts"].min().to_pydatetime(), rows["start_ts"].max().to_pydatetime()
        if settings.aggregate_refresh == "sync" or ctx.refresher is None:
            try:
                ctx.store.refresh(ctx.engine, lo, hi)
            except DBAPIError:
                # Committed already; real-time aggregation reads the new rows meanwhile and the
                # hourly policy job materialises them.
                log.exception("continuous aggregate refresh failed for %s .. %s", lo, hi)
                aggregates = "refreshing"
        else:
            ctx.refresher.submit(lo, hi)
            aggregates = "refreshing"
    log.info("batch %s: %d rows; validate %.2f s, store %.2f s, refresh %.2f s", batch_id,
             len(rows), t1 - t0, t2 - t1, time.perf_counter() - t2)
    return {
        "batch": batch_id, "inserted": counts.inserted, "unchanged": counts.unchanged,
        "revised": counts.revised, "flagged": flagged, "rows": prepared.received_rows,
        "flags": {str(k): int(v) for k, v in flags.items() if k != "ok"},
        "gaps": prepared.gaps, "aggregates": aggregates, "closed_periods_touched": touched,
    }


def _months(rows: pd.DataFrame) -> list[date]:
    """The distinct UTC calendar months (first days) of the rows' interval starts."""
    if not len(rows):
        return []
    utc = rows["start_ts"].dt.tz_convert("UTC")
    keys = np.unique((utc.dt.year * 12 + utc.dt.month - 1).to_numpy())
    return [date(int(k) // 12, int(k) % 12 + 1, 1) for k in keys]


def _same_frame(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    if not len(a) and not len(b):
        return True
    if len(a) != len(b):
        return False
    key = ["meter_id", "ts"]
    a, b = a.sort_values(key).reset_index(drop=True), b.sort_values(key).reset_index(drop=True)
    return bool((a["meter_id"].to_numpy() == b["meter_id"].to_numpy()).all()
                and (a["ts"].to_numpy() == b["ts"].to_numpy()).all()
                and (a["value"].to_numpy() == b["value"].to_numpy()).all())


def _write(conn: Connection, ctx: IngestContext, principal: Principal, prepared: PreparedBatch,
           prepare_again: Callable[[], PreparedBatch | None], *, content_type: str,
           payload_sha256: str) -> tuple[int, WriteCounts, PreparedBatch]:
    """The write transaction, under the batch's meter locks; run again (a bounded number of
    times, with jittered back-off) when it loses a race; the last such error propagates (the
    API answers it 503 with Retry-After). ``prepare_again`` (called under the locks) returns
    the batch prepared anew when what it was prepared from has changed, else None."""
    attempts = ctx.settings.upload_attempts
    for attempt in range(1, attempts + 1):
        try:
            with conn.begin():
                rows = prepared.rows
                meter_ids = sorted({int(i) for i in rows["meter_id"].unique()}) if len(
                    rows) else []
                repo.lock_meters(conn, meter_ids,
                                 timeout_s=ctx.settings.upload_lock_timeout_seconds)
                again = prepare_again()
                if again is not None:
                    prepared, rows = again, again.rows
                    repo.create_partitions(conn, _months(rows))
                flagged = int((rows["quality"] != "ok").sum()) if len(rows) else 0
                batch_id = repo.create_batch(conn, {
                    "api_key_id": principal.key_id, "enterprise_id": principal.enterprise_id,
                    "content_type": content_type, "payload_sha256": payload_sha256,
                    "rows": prepared.received_rows})
                counts = ctx.store.write(conn, rows, batch_id, principal.key_id)
                repo.finish_batch(conn, batch_id, counts, flagged)
            return batch_id, counts, prepared
        except DBAPIError as exc:
            if attempt == attempts or not _retryable(exc):
                raise
            log.warning("upload transaction lost a race (%s), attempt %d of %d",
                        getattr(exc.orig, "sqlstate", "?"), attempt, attempts)
            time.sleep(random.uniform(0.05, 0.2) * 2 ** (attempt - 1))
    raise AssertionError("unreachable")


def meter_resolution(meter: Meter) -> float:
    """The step a meter's values are rounded to in answers (canonical unit): its own
    ``value_resolution`` or its carrier's default (energy/data/units.yaml)."""
    if meter.value_resolution is not None:
        return meter.value_resolution
    return carrier_spec(meter.carrier).resolution
