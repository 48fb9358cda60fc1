"""The storage station: assets, telemetry meters, published dispatch plans, capacity tests."""

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
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, check, finite_checks, one_of
from app.models.core import ZONES

TELEMETRY_QUANTITIES: dict[str, str] = {
    "power": "battery_power",
    "soc": "battery_soc",
    "temperature": "battery_temperature",
}
"""Telemetry quantity of a station -> carrier of its meter (energy/data/units.yaml)."""


class StorageAsset(Base):
    __tablename__ = "storage_assets"
    __table_args__ = (Index("storage_assets_enterprise_idx", "enterprise_id"),
                      one_of("storage_assets", "zone", ZONES))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(Text)
    zone: Mapped[str] = mapped_column(Text)
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"))
    battery: Mapped[dict[str, Any]] = mapped_column(JSONB)
    """``energy.storage.BatterySpec`` fields (MW, MWh, %, degC)."""
    tariff: Mapped[str] = mapped_column(Text)
    """Name of a tariff in the registry (shipped or uploaded; GET /v1/tariffs)."""
    safety: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    """Overrides of the safe operating window (energy/storage/data/safety_window_lfp.yaml)."""
    commissioned_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class StorageMeter(Base):
    __tablename__ = "storage_meters"
    __table_args__ = (one_of("storage_meters", "quantity", TELEMETRY_QUANTITIES),)

    asset_id: Mapped[int] = mapped_column(ForeignKey("storage_assets.id"), primary_key=True)
    quantity: Mapped[str] = mapped_column(String(16), primary_key=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"), unique=True)


class StoragePlan(Base):
    __tablename__ = "storage_plans"
    __table_args__ = (Index("storage_plans_current_idx", "asset_id", "day", text("created_at DESC"),
                            text("id DESC")),
                      Index("storage_plans_one_current_idx", "asset_id", "day", unique=True,
                            postgresql_where=text("superseded_at IS NULL")),
                      *finite_checks("objective"))

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("storage_assets.id"))
    day: Mapped[date] = mapped_column(Date)
    """Asia/Shanghai day the plan is for (its first interval starts that day at 00:00)."""
    start_ts: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    step_minutes: Mapped[int] = mapped_column(Integer)
    strategy: Mapped[str] = mapped_column(String(16))
    objective: Mapped[float] = mapped_column(Float)
    kpis: Mapped[dict[str, Any]] = mapped_column(JSONB)
    schedule: Mapped[dict[str, Any]] = mapped_column(JSONB)
    """Columns of the schedule (lists, one value a step) incl. the load and PV used."""
    inputs: Mapped[dict[str, Any]] = mapped_column(JSONB)
    """Provenance: which meters, how many readings, which forecaster, tariff version."""
    battery: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.clock_timestamp())
    superseded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """Set when a newer plan for the same station and day was published; at most one plan per
    station and day is current (``superseded_at`` NULL; partial unique index
    ``storage_plans_one_current_idx``, migration 0007_job_runs)."""


class StorageCapacityTest(Base):
    __tablename__ = "storage_capacity_tests"
    __table_args__ = (Index("storage_capacity_tests_asset_idx", "asset_id", "tested_on"),
                      check("storage_capacity_tests", "measured_capacity_mwh",
                            "measured_capacity_mwh > 0"),
                      *finite_checks("measured_capacity_mwh"))

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("storage_assets.id"))
    tested_on: Mapped[date] = mapped_column(Date)
    measured_capacity_mwh: Mapped[float] = mapped_column(Float)
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
