"""Readings (partitioned / hypertable), ingest batches, revisions and the meter-day rollup."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, finite_checks

QUALITIES: tuple[str, ...] = ("ok", "estimated", "implausible", "reset", "rollover", "after_gap")


class Reading(Base):
    """One interval [start_ts, start_ts + interval) of one meter, value in the canonical unit."""

    __tablename__ = "readings"
    __table_args__ = finite_checks("value", "register_value")

    meter_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    start_ts: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    value: Mapped[float] = mapped_column(Float)
    original_unit: Mapped[str] = mapped_column(String(16))
    quality: Mapped[str] = mapped_column(String(16), server_default="ok")
    register_value: Mapped[float | None] = mapped_column(Float)
    """For cumulative registers: the register reading at the interval's end (canonical unit)."""
    batch_id: Mapped[int] = mapped_column(BigInteger)


class IngestBatch(Base):
    __tablename__ = "ingest_batches"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                  server_default=func.now())
    content_type: Mapped[str] = mapped_column(Text)
    payload_sha256: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(Integer)
    inserted: Mapped[int] = mapped_column(Integer)
    unchanged: Mapped[int] = mapped_column(Integer)
    revised: Mapped[int] = mapped_column(Integer)
    flagged: Mapped[int] = mapped_column(Integer)


class ReadingRevision(Base):
    """Audit trail: the value an interval had before a later batch changed it."""

    __tablename__ = "reading_revisions"
    __table_args__ = (Index("reading_revisions_meter_idx", "meter_id", "start_ts"),
                      *finite_checks("old_value", "new_value"))

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    meter_id: Mapped[int] = mapped_column(Integer)
    start_ts: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    old_value: Mapped[float] = mapped_column(Float)
    new_value: Mapped[float] = mapped_column(Float)
    old_quality: Mapped[str] = mapped_column(String(16))
    new_quality: Mapped[str] = mapped_column(String(16))
    old_batch_id: Mapped[int] = mapped_column(BigInteger)
    batch_id: Mapped[int] = mapped_column(BigInteger)
    revised_by: Mapped[int | None] = mapped_column(Integer)
    revised_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class MeterDay(Base):
    """Rollup: one meter's sum over one Asia/Shanghai day, kept in the ingest transaction."""

    __tablename__ = "meter_days"
    __table_args__ = finite_checks("value")

    meter_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    value: Mapped[float] = mapped_column(Float)
    n: Mapped[int] = mapped_column(Integer)
    n_flagged: Mapped[int] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
