"""Ingest a batch end to end: read in chunks, validate, store (one connection, one transaction),
refresh aggregates."""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import io
import logging
import sys
import time
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from datetime import time as dtime
from typing import IO, Any

import pandas as pd
import pyarrow as pa
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from app.auth import Principal
from app.config import Settings
from app.models import Meter
from app.repositories.readings import revisions as revisions
from app.repositories.readings_store import ReadingsStore
from app.services.carbon import closed_periods_touched_by_readings
from app.services.ingest import RawBatch
from app.services.reading_chunks import body_chunks
from app.services.reading_upload import UploadLimits, store_chunks
from energy.site import PARK_ZONE
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


def ingest(
    ctx: IngestContext, principal: Principal, body: bytes, content_type: str
) -> dict[str, Any]:
    """Store one batch held in memory (CSV or JSON) all-or-nothing; returns the upload answer."""
    return ingest_upload(ctx, principal, io.BytesIO(body), content_type,
                         hashlib.sha256(body).hexdigest())


def ingest_upload(ctx: IngestContext, principal: Principal, source: IO[bytes],
                  content_type: str, payload_sha256: str) -> dict[str, Any]:
    """Store one batch read in chunks from ``source`` (a seekable file of the body)."""
    settings = ctx.settings
    chunks = body_chunks(source, content_type, max_json_depth=settings.max_json_depth,
                         chunk_bytes=settings.upload_chunk_bytes,
                         chunk_rows=settings.upload_chunk_rows)
    return ingest_chunks(ctx, principal, chunks, content_type=content_type,
                         payload_sha256=payload_sha256)


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
    """Store one parsed batch held in memory (demo, telemetry): one chunk."""
    return ingest_chunks(ctx, principal, [raw], content_type=content_type,
                         payload_sha256=payload_sha256)


def ingest_chunks(ctx: IngestContext, principal: Principal, chunks: Iterable[RawBatch], *,
                  content_type: str, payload_sha256: str) -> dict[str, Any]:
    """Validate and store a batch chunk by chunk on one pooled connection, in one transaction
    (:func:`app.services.reading_upload.store_chunks`); aggregates are refreshed after the
    connection is returned."""
    t0 = time.perf_counter()
    settings = ctx.settings
    not_before, not_after = upload_window(settings)
    limits = UploadLimits(settings=settings, not_before=not_before, not_after=not_after)
    with ctx.engine.connect() as conn:
        stored = store_chunks(conn, principal, chunks, limits,
                              day_rollup=ctx.store.keeps_day_rollup,
                              content_type=content_type, payload_sha256=payload_sha256)
    counts = stored.counts
    t1 = time.perf_counter()
    touched = closed_periods_touched_by_readings(
        ctx.engine, stored.batch_id, stored.meter_ids, stored.local_months
    ) if counts.inserted or counts.revised else []
    aggregates = "current"
    if (ctx.store.refreshes_after_commit and stored.first is not None
            and (counts.inserted or counts.revised)):
        lo, hi = stored.first.to_pydatetime(), stored.last.to_pydatetime()
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
    release_memory()
    log.info("batch %s: %d rows; validate and store %.2f s, after %.2f s", stored.batch_id,
             stored.received_rows, t1 - t0, time.perf_counter() - t1)
    return {
        "batch": stored.batch_id, "inserted": counts.inserted, "unchanged": counts.unchanged,
        "revised": counts.revised, "flagged": sum(stored.flags.values()),
        "rows": stored.received_rows, "flags": stored.flags, "gaps": stored.gaps,
        "aggregates": aggregates, "closed_periods_touched": touched,
    }


def release_memory() -> None:
    """Give the memory a large batch used back to the system (Arrow's pool and the C heap), so
    the process returns close to its idle size after an upload."""
    pa.default_memory_pool().release_unused()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            ctypes.CDLL("libc.so.6").malloc_trim(0)


def meter_resolution(meter: Meter) -> float:
    """The step a meter's values are rounded to in answers (canonical unit): its own
    ``value_resolution`` or its carrier's default (energy/data/units.yaml)."""
    if meter.value_resolution is not None:
        return meter.value_resolution
    return carrier_spec(meter.carrier).resolution
