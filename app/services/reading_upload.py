"""Store a readings batch read chunk by chunk, all-or-nothing, on one pooled connection in one
transaction (see :mod:`app.repositories.reading_staging`).

While the body is read each chunk is validated (:func:`app.services.ingest.check_chunk`) and,
as long as no chunk had an error, copied into the transaction's staging table; what a chunk
cannot decide alone is kept small in a :class:`BatchLedger` (one int64 key, value and row number
per interval row; cumulative readings) and decided at the end: keys repeated across chunks, the
month limit, the cumulative registers' intervals. Then, under the meter locks taken in id order,
the stage is merged into ``readings``; a lost race (deadlock, lock timeout, serialization
failure) rolls back to a savepoint taken before the locks and tries again, the stage kept.
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.auth import Principal
from app.config import Settings
from app.problems import Problem
from app.repositories import core as core_repo
from app.repositories import reading_staging as staging
from app.repositories import readings as repo
from app.repositories.pgcopy import encode_readings
from app.repositories.readings import WriteCounts
from app.services.ingest import (
    CheckedChunk,
    MeterInfo,
    RawBatch,
    _error,
    _gaps,
    check_chunk,
    convert_cumulative,
    gaps_from_keys,
    merge_month_firsts,
    month_span_errors,
    raise_rejected,
    row_keys_of,
)
from energy.meter_series import batch_duplicates
from energy.site import PARK_TZ

log = logging.getLogger(__name__)
TZ = PARK_TZ
RETRYABLE_SQLSTATES = ("40001", "40P01", "55P03")
"""Serialization failure, deadlock, lock timeout: the final write is run again."""


def _retryable(exc: DBAPIError) -> bool:
    return (getattr(exc.orig, "sqlstate", None) or "") in RETRYABLE_SQLSTATES and not (
        exc.connection_invalidated)


@dataclass
class BatchLedger:
    """What a batch's chunks leave for the end: errors, the earliest row of each month, and per
    interval row its key (meter id << 32 | start seconds), value and row number."""

    received_rows: int = 0
    errors: list[pd.DataFrame] = field(default_factory=list)
    month_firsts: pd.DataFrame | None = None
    keys: list[np.ndarray] = field(default_factory=list)
    values: list[np.ndarray] = field(default_factory=list)
    rows: list[np.ndarray] = field(default_factory=list)
    flags: Counter[str] = field(default_factory=Counter)
    cumulative: list[pd.DataFrame] = field(default_factory=list)

    def add(self, chunk: CheckedChunk) -> None:
        self.received_rows += chunk.received_rows
        self.errors += chunk.errors
        parts = [chunk.month_firsts] + ([self.month_firsts] if self.month_firsts is not None
                                        else [])
        self.month_firsts = merge_month_firsts(parts)
        if len(chunk.rows):
            self.keys.append(row_keys_of(chunk.rows))
            self.values.append(chunk.rows["value"].to_numpy(dtype="float64"))
            self.rows.append(chunk.rows["row"].to_numpy().astype("int32"))
            self.flags.update({str(k): int(v) for k, v in
                               chunk.rows["quality"].value_counts().items() if v})
        if len(chunk.cumulative):
            self.cumulative.append(chunk.cumulative)

    def repeats(self) -> tuple[list[pd.DataFrame], bool, np.ndarray]:
        """Keys repeated across chunks: errors for repeats with a different value, whether any
        repeat with the same value is left to drop, and the sorted distinct keys."""
        if not self.keys:
            return [], False, np.zeros(0, dtype="int64")
        keys = np.concatenate(self.keys)
        if len(keys) < 2 or (np.diff(keys) > 0).all():
            return [], False, keys
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        same = sorted_keys[1:] == sorted_keys[:-1]
        if not same.any():
            return [], False, sorted_keys
        repeated = np.zeros(len(keys), dtype=bool)
        repeated[1:] |= same
        repeated[:-1] |= same
        idx = order[repeated]
        sub = pd.DataFrame({"key": keys[idx], "value": np.concatenate(self.values)[idx],
                            "row": np.concatenate(self.rows)[idx].astype("int64")})
        conflicts, _ = batch_duplicates(sub, keys=("key",))
        errors = []
        if len(conflicts):
            first_row = conflicts.groupby("key")["row"].transform("min")
            errors.append(_error(conflicts["row"], "value", "same meter and ts as row "
                                 + first_row.astype(str) + " with a different value"))
        return errors, True, np.unique(sorted_keys)

    @property
    def flagged(self) -> int:
        return int(sum(v for k, v in self.flags.items() if k != "ok"))


@dataclass
class StoredBatch:
    """What the answer needs of a stored batch."""

    batch_id: int
    counts: WriteCounts
    received_rows: int
    flags: dict[str, int]
    gaps: list[dict[str, Any]]
    meter_ids: list[int]
    local_months: list[str]
    first: pd.Timestamp | None
    last: pd.Timestamp | None


@dataclass
class UploadLimits:
    """The settings an upload is checked against, fixed when it starts."""

    settings: Settings
    not_before: pd.Timestamp
    not_after: pd.Timestamp


def _lookup(conn: Connection, principal: Principal, codes: list[str]) -> dict[str, MeterInfo]:
    with Session(bind=conn) as session:
        return {
            m.code: MeterInfo(
                id=m.id, code=m.code, enterprise_id=m.enterprise_id, carrier=m.carrier,
                unit=m.unit, canonical_unit=m.canonical_unit, register=m.register,
                interval_minutes=m.interval_minutes, rollover_at=m.rollover_at,
                density_kg_per_l=m.density_kg_per_l,
                normal_volume_factor=m.normal_volume_factor, max_per_hour=m.max_per_hour)
            for m in core_repo.meters_by_code(session, principal, codes)
        }


def store_chunks(conn: Connection, principal: Principal, chunks: Iterable[RawBatch],
                 limits: UploadLimits, *, day_rollup: bool, content_type: str,
                 payload_sha256: str) -> StoredBatch:
    """Validate and stage every chunk, then merge, in one transaction on ``conn``; a 422 (every
    bad row and field of every chunk) or 413 leaves nothing behind. ``day_rollup``: keep the
    ``meter_days`` sums in the same transaction (the plain-partitions layout)."""
    settings = limits.settings
    ledger = BatchLedger()
    meters: dict[str, MeterInfo] = {}
    seen: set[str] = set()
    with conn.begin():
        staging.create_stage(conn)
        for raw in chunks:
            new = [str(c) for c in raw.frame["meter"].cat.categories if str(c) not in seen]
            if new:
                meters.update(_lookup(conn, principal, new))
                seen.update(new)
            if ledger.received_rows + len(raw) > settings.max_batch_rows:
                raise Problem(413, f"A batch may hold at most {settings.max_batch_rows} rows; "
                              "this one has more. Split it.", kind="batch-too-large")
            chunk = check_chunk(raw, meters,
                                ceilings_per_hour=settings.plausibility_ceilings_per_hour,
                                max_abs_value=settings.max_abs_value,
                                not_before=limits.not_before, not_after=limits.not_after)
            ledger.add(chunk)
            if not ledger.errors and len(chunk.rows):
                staging.copy_to_stage(conn, encode_readings(chunk.rows, 0))
            del raw, chunk
        repeat_errors, drop_repeats, keys = ledger.repeats()
        months = ledger.month_firsts if ledger.month_firsts is not None else pd.DataFrame(
            {"month": [], "ts": [], "row": []})
        raise_rejected(ledger.errors + repeat_errors
                       + month_span_errors(months, settings.upload_max_months))
        return _merge_with_retries(conn, principal, ledger, meters, keys, drop_repeats,
                                   settings=settings, day_rollup=day_rollup,
                                   content_type=content_type, payload_sha256=payload_sha256)


def _merge_with_retries(conn: Connection, principal: Principal, ledger: BatchLedger,
                        meters: dict[str, MeterInfo], keys: np.ndarray, drop_repeats: bool, *,
                        settings: Settings, day_rollup: bool, content_type: str,
                        payload_sha256: str) -> StoredBatch:
    """The end of the transaction, run again from a savepoint (a bounded number of times, with
    jittered back-off) when it loses a race; the last such error propagates (503)."""
    attempts = settings.upload_attempts
    for attempt in range(1, attempts + 1):
        try:
            with conn.begin_nested():
                return _merge(conn, principal, ledger, meters, keys, drop_repeats,
                              settings=settings, day_rollup=day_rollup,
                              content_type=content_type, payload_sha256=payload_sha256)
        except DBAPIError as exc:
            if attempt == attempts or not _retryable(exc):
                raise
            log.warning("upload transaction lost a race (%s), attempt %d of %d",
                        getattr(exc.orig, "sqlstate", "?"), attempt, attempts)
            time.sleep(random.uniform(0.05, 0.2) * 2 ** (attempt - 1))
    raise AssertionError("unreachable")


def _merge(conn: Connection, principal: Principal, ledger: BatchLedger,
           meters: dict[str, MeterInfo], keys: np.ndarray, drop_repeats: bool, *,
           settings: Settings, day_rollup: bool, content_type: str,
           payload_sha256: str) -> StoredBatch:
    cum = pd.concat(ledger.cumulative, ignore_index=True) if ledger.cumulative else None
    meter_ids = sorted({int(i) for i in np.unique(keys >> 32)}
                       | ({int(i) for i in cum["meter_id"].unique()} if cum is not None
                          else set()))
    repo.lock_meters(conn, meter_ids, timeout_s=settings.upload_lock_timeout_seconds)
    flags = Counter(ledger.flags)
    gaps = gaps_from_keys(keys, meters)
    if cum is not None:
        # The stored register before each meter's first reading, read under the lock.
        first = cum.groupby("meter_id")["ts"].min()
        first.index = first.index.astype("int64")
        previous = repo.previous_registers(conn, first)
        cum_rows = convert_cumulative(
            cum, meters, previous, ceilings_per_hour=settings.plausibility_ceilings_per_hour,
            max_abs_value=settings.max_abs_value)
        if len(cum_rows):
            cum_rows["meter_id"] = cum_rows["meter_id"].astype("int32")
            staging.copy_to_stage(conn, encode_readings(cum_rows, 0))
            keys = np.concatenate([keys, row_keys_of(cum_rows)])
            flags.update({str(k): int(v) for k, v in cum_rows["quality"].value_counts().items()
                          if v})
            gaps = (gaps + _gaps(cum_rows, meters))[:100]
    hours = np.unique((keys & 0xFFFFFFFF) // 3600)
    stamps = pd.to_datetime(hours * 3600, unit="s", utc=True)
    months = sorted({date(t.year, t.month, 1) for t in stamps})
    repo.create_partitions(conn, months)
    if drop_repeats:
        staging.drop_repeats(conn)
    flagged = int(sum(v for k, v in flags.items() if k != "ok"))
    batch_id = repo.create_batch(conn, {
        "api_key_id": principal.key_id, "enterprise_id": principal.enterprise_id,
        "content_type": content_type, "payload_sha256": payload_sha256,
        "rows": ledger.received_rows})
    firsts, lasts, ids = _ranges(keys)
    if not staging.any_stored(conn, ids, firsts, lasts):
        counts = WriteCounts(inserted=staging.insert_new(conn, batch_id), unchanged=0,
                             revised=0)
        if day_rollup and counts.inserted:
            staging.add_meter_days(conn)
    else:
        counts, written = staging.merge(conn, batch_id, principal.key_id)
        if day_rollup and written:
            staging.recompute_meter_days(conn)
    repo.finish_batch(conn, batch_id, counts, flagged)
    local = stamps.tz_convert(TZ)
    return StoredBatch(
        batch_id=batch_id, counts=counts, received_rows=ledger.received_rows,
        flags={k: v for k, v in flags.items() if k != "ok" and v}, gaps=gaps,
        meter_ids=meter_ids, local_months=sorted(set(local.strftime("%Y-%m"))),
        first=stamps.min() if len(stamps) else None,
        last=(stamps.max() + pd.Timedelta(hours=1) - pd.Timedelta(seconds=1)) if len(stamps)
        else None)


def _ranges(keys: np.ndarray) -> tuple[list[pd.Timestamp], list[pd.Timestamp], list[int]]:
    """Per meter, the first and last interval start among ``keys``."""
    if not len(keys):
        return [], [], []
    if not (np.diff(keys) > 0).all():
        keys = np.unique(keys)
    ids, secs = keys >> 32, keys & 0xFFFFFFFF
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    ends = np.r_[starts[1:] - 1, len(keys) - 1]
    first = pd.to_datetime(secs[starts], unit="s", utc=True)
    last = pd.to_datetime(secs[ends], unit="s", utc=True)
    return ([t.to_pydatetime() for t in first], [t.to_pydatetime() for t in last],
            [int(ids[i]) for i in starts])
