"""Ingest a batch end to end: parse, validate, store, refresh aggregates (one transaction)."""

from __future__ import annotations

import hashlib
import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.auth import Principal
from app.config import Settings
from app.problems import Problem
from app.repositories import core as core_repo
from app.repositories import readings as repo
from app.services.ingest import MeterInfo, RawBatch, parse_csv, parse_json, prepare

log = logging.getLogger(__name__)


class AggregateRefresher:
    """Refreshes TimescaleDB continuous aggregates for ingested ranges in one worker thread."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="zcpark-cagg")
        self._pending: list[Future[None]] = []

    def submit(self, start: datetime, end: datetime) -> None:
        self._pending = [f for f in self._pending if not f.done()]
        self._pending.append(self._pool.submit(self._refresh, start, end))

    def _refresh(self, start: datetime, end: datetime) -> None:
        try:
            repo.refresh_aggregates(self.engine, start, end)
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
    timescale: bool
    refresher: AggregateRefresher | None = None

    def __post_init__(self) -> None:
        if self.timescale and self.refresher is None:
            self.refresher = AggregateRefresher(self.engine)


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
        raise Problem(413, f"A batch may hold at most {ctx.settings.max_batch_rows} rows; "
                      f"this one has {len(raw)}. Split it.", kind="batch-too-large")
    return ingest_frame(ctx, principal, raw, content_type=content_type,
                        payload_sha256=hashlib.sha256(body).hexdigest())


def ingest_frame(ctx: IngestContext, principal: Principal, raw: RawBatch, *,
                 content_type: str, payload_sha256: str) -> dict[str, Any]:
    t0 = time.perf_counter()
    codes = [str(c) for c in raw.frame["meter"].cat.categories]
    with Session(ctx.engine) as session:
        meters = {
            m.code: MeterInfo(
                id=m.id, code=m.code, enterprise_id=m.enterprise_id, carrier=m.carrier,
                unit=m.unit, canonical_unit=m.canonical_unit, register=m.register,
                interval_minutes=m.interval_minutes, rollover_at=m.rollover_at,
                density_kg_per_l=m.density_kg_per_l, normal_volume_factor=m.normal_volume_factor,
                max_per_hour=m.max_per_hour)
            for m in core_repo.meters_by_code(session, principal, codes)
        }
    with ctx.engine.connect() as conn:
        prepared = prepare(
            raw, meters, ceilings_per_hour=ctx.settings.plausibility_ceilings_per_hour,
            previous_registers=lambda _ids, first: repo.previous_registers(conn, first),
        )
        conn.rollback()
    rows = prepared.rows
    t1 = time.perf_counter()
    if len(rows):
        lo, hi = rows["start_ts"].min().to_pydatetime(), rows["start_ts"].max().to_pydatetime()
        repo.ensure_partitions(ctx.engine, lo, hi)
    flags = {k: v for k, v in rows["quality"].value_counts().to_dict().items() if v} if len(
        rows) else {}
    flagged = int(sum(v for k, v in flags.items() if k != "ok"))
    with ctx.engine.begin() as conn:
        batch_id = repo.create_batch(conn, {
            "api_key_id": principal.key_id, "enterprise_id": principal.enterprise_id,
            "content_type": content_type, "payload_sha256": payload_sha256,
            "rows": prepared.received_rows})
        counts = repo.write_readings(conn, rows, batch_id, principal.key_id,
                                     timescale=ctx.timescale)
        repo.finish_batch(conn, batch_id, counts, flagged)
    t2 = time.perf_counter()
    aggregates = "current"
    if ctx.timescale and len(rows) and (counts.inserted or counts.revised):
        if ctx.settings.aggregate_refresh == "sync" or ctx.refresher is None:
            repo.refresh_aggregates(ctx.engine, lo, hi)
        else:
            ctx.refresher.submit(lo, hi)
            aggregates = "refreshing"
    log.info("batch %s: %d rows; validate %.2f s, store %.2f s, refresh %.2f s", batch_id,
             len(rows), t1 - t0, t2 - t1, time.perf_counter() - t2)
    return {
        "batch": batch_id, "inserted": counts.inserted, "unchanged": counts.unchanged,
        "revised": counts.revised, "flagged": flagged, "rows": prepared.received_rows,
        "flags": {str(k): int(v) for k, v in flags.items() if k != "ok"},
        "gaps": prepared.gaps, "aggregates": aggregates,
    }
