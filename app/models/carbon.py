"""Carbon activity data, its batches and audit trail; closed periods and frozen ledgers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

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
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, check, finite_checks, one_of


class ActivityBatch(Base):
    __tablename__ = "carbon_activity_batches"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                  server_default=func.now())
    payload_sha256: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(Integer)
    inserted: Mapped[int] = mapped_column(Integer)
    unchanged: Mapped[int] = mapped_column(Integer)
    revised: Mapped[int] = mapped_column(Integer)


class ActivityRecord(Base):
    """One recorded quantity (e.g. value_added_10k_yuan) of one enterprise for one period."""

    __tablename__ = "carbon_activity"
    __table_args__ = (UniqueConstraint("enterprise_id", "period", "quantity",
                                       name="carbon_activity_enterprise_id_period_quantity_key"),
                      Index("carbon_activity_span_idx", "period_start", "period_end"),
                      one_of("carbon_activity", "months", (1, 3, 12)),
                      check("carbon_activity", "value", "value >= 0"),
                      *finite_checks("value"))

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    period: Mapped[str] = mapped_column(String(7))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    months: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[str] = mapped_column(String(48))
    value: Mapped[float] = mapped_column(Float)
    batch_id: Mapped[int] = mapped_column(ForeignKey("carbon_activity_batches.id"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())


class ActivityRevision(Base):
    __tablename__ = "carbon_activity_revisions"
    __table_args__ = (Index("carbon_activity_revisions_idx", "activity_id"),
                      *finite_checks("old_value", "new_value"))

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("carbon_activity.id"))
    old_value: Mapped[float] = mapped_column(Float)
    new_value: Mapped[float] = mapped_column(Float)
    old_batch_id: Mapped[int] = mapped_column(BigInteger)
    batch_id: Mapped[int] = mapped_column(BigInteger)
    revised_by: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    revised_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())


class CarbonPeriod(Base):
    """A month whose ledgers are closed (frozen) or were reopened."""

    __tablename__ = "carbon_periods"
    __table_args__ = (one_of("carbon_periods", "status", ("closed", "open")),)

    period: Mapped[str] = mapped_column(String(7), primary_key=True)
    status: Mapped[str] = mapped_column(String(8))
    version: Mapped[int] = mapped_column(Integer, server_default="0")  # latest closed version
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())


class PeriodEvent(Base):
    """Audit trail of closing and reopening a period."""

    __tablename__ = "carbon_period_events"
    __table_args__ = (Index("carbon_period_events_idx", "period", "id"),
                      one_of("carbon_period_events", "action", ("close", "reopen")))

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    period: Mapped[str] = mapped_column(String(7))
    action: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str | None] = mapped_column(Text)
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    actor: Mapped[str] = mapped_column(Text)
    ledgers: Mapped[int] = mapped_column(Integer, server_default="0")
    park_input_hash: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int | None] = mapped_column(Integer)  # the version a close made
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class FrozenLedger(Base):
    """One entity's ledger as frozen by one close (version) of a month; never deleted."""

    __tablename__ = "carbon_frozen_ledgers"
    __table_args__ = (one_of("carbon_frozen_ledgers", "scope", ("park", "enterprise")),)

    period: Mapped[str] = mapped_column(String(7), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True, server_default="1")
    scope: Mapped[str] = mapped_column(String(16), primary_key=True)
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("carbon_period_events.id"))
    input_hash: Mapped[str] = mapped_column(String(64))
    ledger: Mapped[dict[str, Any]] = mapped_column(JSONB)


class InstrumentBatch(Base):
    __tablename__ = "carbon_instrument_batches"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                  server_default=func.now())
    payload_sha256: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(Integer)
    inserted: Mapped[int] = mapped_column(Integer, server_default="0")
    unchanged: Mapped[int] = mapped_column(Integer, server_default="0")
    revised: Mapped[int] = mapped_column(Integer, server_default="0")


class Instrument(Base):
    """A green-electricity instrument (gec, green_power_trade, direct_supply); the id is claimed
    once in the whole park."""

    __tablename__ = "carbon_instruments"
    __table_args__ = (Index("carbon_instruments_span_idx", "period_start", "period_end"),
                      Index("carbon_instruments_ent_idx", "enterprise_id", "period"),
                      one_of("carbon_instruments", "kind",
                             ("direct_supply", "green_power_trade", "gec")),
                      check("carbon_instruments", "mwh", "mwh > 0 AND mwh < 'Infinity'"))

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    kind: Mapped[str] = mapped_column(String(24))
    period: Mapped[str] = mapped_column(String(7))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    mwh: Mapped[float] = mapped_column(Float)
    bundled_with: Mapped[str | None] = mapped_column(
        ForeignKey("carbon_instruments.id", deferrable=True, initially="DEFERRED"))
    source: Mapped[str] = mapped_column(Text, server_default="")
    batch_id: Mapped[int] = mapped_column(ForeignKey("carbon_instrument_batches.id"))
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())


class InstrumentRevision(Base):
    __tablename__ = "carbon_instrument_revisions"
    __table_args__ = (Index("carbon_instrument_revisions_idx", "instrument_id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    instrument_id: Mapped[str] = mapped_column(ForeignKey("carbon_instruments.id"))
    old: Mapped[dict[str, Any]] = mapped_column(JSONB)
    new: Mapped[dict[str, Any]] = mapped_column(JSONB)
    old_batch_id: Mapped[int] = mapped_column(BigInteger)
    batch_id: Mapped[int] = mapped_column(BigInteger)
    revised_by: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    revised_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
