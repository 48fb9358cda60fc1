"""The virtual power plant: flexible resources, demand-response events, plans and settlements.

The storage station(s) and PV arrays are flexible resources as well; they are derived from
``storage_assets`` and ``pv_arrays`` when read (codes ``storage:<code>`` and ``pv:<code>``), never
copied into ``flex_resources``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, check, one_of

FLEX_KINDS: tuple[str, ...] = ("curtailable", "shiftable", "storage", "pv_curtailment")
DR_DIRECTIONS: tuple[str, ...] = ("reduce", "increase")
DR_STATUSES: tuple[str, ...] = ("active", "cancelled")
DR_SOURCES: tuple[str, ...] = ("api", "openadr")


def _positive_finite(table: str, column: str) -> Any:
    return check(table, column, f"{column} > 0 AND {column} < 'Infinity'")


def _finite(table: str, column: str) -> Any:
    return check(table, column, f"abs({column}) < 'Infinity'")


class FlexResource(Base):
    """A flexible load registered behind one of its enterprise's meters."""

    __tablename__ = "flex_resources"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "code", name="flex_resources_enterprise_code_key"),
        Index("flex_resources_meter_idx", "meter_id"),
        one_of("flex_resources", "kind", FLEX_KINDS),
        _positive_finite("flex_resources", "max_reduction_kw"),
        check("flex_resources", "min_notice_minutes", "min_notice_minutes >= 0"),
        check("flex_resources", "max_duration_minutes", "max_duration_minutes > 0"),
        check("flex_resources", "max_events_per_month", "max_events_per_month >= 0"),
        check("flex_resources", "rebound_fraction",
              "rebound_fraction >= 0 AND rebound_fraction <= 1"),
        check("flex_resources", "cost_yuan_per_kwh",
              "cost_yuan_per_kwh >= 0 AND cost_yuan_per_kwh < 'Infinity'"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64))
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    kind: Mapped[str] = mapped_column(String(16))
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"))
    max_reduction_kw: Mapped[float] = mapped_column(Float)
    min_notice_minutes: Mapped[int] = mapped_column(Integer)
    max_duration_minutes: Mapped[int] = mapped_column(Integer)
    max_events_per_month: Mapped[int] = mapped_column(Integer)
    rebound_fraction: Mapped[float] = mapped_column(Float, server_default=text("0"))
    """Share of the shifted energy that returns after the event (0–1)."""
    cost_yuan_per_kwh: Mapped[float] = mapped_column(Float, server_default=text("0"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class DrEvent(Base):
    """The current version of a demand-response event (target at the park's grid connection)."""

    __tablename__ = "dr_events"
    __table_args__ = (
        Index("dr_events_start_idx", "start_ts"),
        check("dr_events", "version", "version > 0"),
        one_of("dr_events", "status", DR_STATUSES),
        one_of("dr_events", "direction", DR_DIRECTIONS),
        _positive_finite("dr_events", "target_kw"),
        check("dr_events", "price_yuan_per_kwh",
              "price_yuan_per_kwh >= 0 AND price_yuan_per_kwh < 'Infinity'"),
        one_of("dr_events", "source", DR_SOURCES),
        check("dr_events", None, "end_ts > start_ts"),
    )

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    start_ts: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    end_ts: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    direction: Mapped[str] = mapped_column(String(8))
    target_kw: Mapped[float] = mapped_column(Float)
    price_yuan_per_kwh: Mapped[float] = mapped_column(Float)
    notified_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.clock_timestamp())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.clock_timestamp())


class DrEventVersion(Base):
    """Every version of an event as received: the audit trail of ``dr_events``."""

    __tablename__ = "dr_event_versions"
    __table_args__ = (one_of("dr_event_versions", "status", DR_STATUSES),)

    event_id: Mapped[str] = mapped_column(ForeignKey("dr_events.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    start_ts: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    end_ts: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    direction: Mapped[str] = mapped_column(String(8))
    target_kw: Mapped[float] = mapped_column(Float)
    price_yuan_per_kwh: Mapped[float] = mapped_column(Float)
    notified_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(String(16))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    """Source details (OpenADR: VTN id, event modification number, signal payloads)."""
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                  server_default=func.clock_timestamp())


class DrPlan(Base):
    """A plan for one version of an event; at most one current plan per event."""

    __tablename__ = "dr_plans"
    __table_args__ = (
        ForeignKeyConstraint(["event_id", "event_version"],
                             ["dr_event_versions.event_id", "dr_event_versions.version"],
                             name="dr_plans_event_version_fkey"),
        Index("dr_plans_event_idx", "event_id", "event_version"),
        Index("dr_plans_one_current_idx", "event_id", unique=True,
              postgresql_where=text("superseded_at IS NULL")),
        check("dr_plans", "shortfall_kw", "shortfall_kw >= 0 AND shortfall_kw < 'Infinity'"),
        _finite("dr_plans", "objective"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128))
    event_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.clock_timestamp())
    status: Mapped[str] = mapped_column(String(16))
    shortfall_kw: Mapped[float] = mapped_column(Float, server_default=text("0"))
    """Largest step shortfall against the target, kW (0: the plan delivers the target)."""
    objective: Mapped[float | None] = mapped_column(Float)
    """The LP's objective, yuan (None when no plan could be solved)."""
    provenance: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    superseded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class DrInstruction(Base):
    """Power of one resource in one step of a plan (kW, positive = reduction at the meter)."""

    __tablename__ = "dr_instructions"
    __table_args__ = (
        Index("dr_instructions_line_idx", "plan_id", "enterprise_id", "resource_code",
              "step_start", unique=True, postgresql_nulls_not_distinct=True),
        Index("dr_instructions_enterprise_idx", "enterprise_id"),
        one_of("dr_instructions", "resource_kind", FLEX_KINDS),
        _finite("dr_instructions", "power_kw"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("dr_plans.id", ondelete="CASCADE"))
    resource_code: Mapped[str] = mapped_column(String(80))
    resource_kind: Mapped[str] = mapped_column(String(16))
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"))
    step_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    power_kw: Mapped[float] = mapped_column(Float)
    deadline: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    """When the enterprise must have acted (the step's start less the resource's notice)."""


class DrSettlement(Base):
    """One settlement line of an event version: a resource (``resource_code`` set), an
    enterprise (``enterprise_id`` only) or the park (both None)."""

    __tablename__ = "dr_settlements"
    __table_args__ = (
        ForeignKeyConstraint(["event_id", "event_version"],
                             ["dr_event_versions.event_id", "dr_event_versions.version"],
                             name="dr_settlements_event_version_fkey"),
        Index("dr_settlements_line_idx", "event_id", "event_version", "enterprise_id",
              "resource_code", unique=True, postgresql_nulls_not_distinct=True),
        Index("dr_settlements_enterprise_idx", "enterprise_id"),
        *(_finite("dr_settlements", c) for c in ("baseline_kwh", "actual_kwh", "delivered_kwh",
                                                  "revenue_yuan", "shortfall_kwh")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128))
    event_version: Mapped[int] = mapped_column(Integer)
    resource_code: Mapped[str | None] = mapped_column(String(80))
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"))
    baseline_kwh: Mapped[float | None] = mapped_column(Float)
    actual_kwh: Mapped[float | None] = mapped_column(Float)
    delivered_kwh: Mapped[float | None] = mapped_column(Float)
    revenue_yuan: Mapped[float | None] = mapped_column(Float)
    shortfall_kwh: Mapped[float | None] = mapped_column(Float)
    method: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    """Baseline method and days, data completeness, price used."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.clock_timestamp())
