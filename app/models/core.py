"""Enterprises, API keys and meters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
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
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, check, finite_checks, one_of

ZONES: tuple[str, ...] = ("A区", "B区", "综合保税区", "聂当工业园")
ROLES: tuple[str, ...] = ("operator", "enterprise", "planner")
REGISTERS: tuple[str, ...] = ("interval", "cumulative")


class Enterprise(Base):
    __tablename__ = "enterprises"
    __table_args__ = (one_of("enterprises", "zone", ZONES),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(Text)
    zone: Mapped[str] = mapped_column(Text)
    industry: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ApiKey(Base):
    __tablename__ = "api_keys"
    __table_args__ = (one_of("api_keys", "role", ROLES),
                      check("api_keys", None,
                            "(role = 'enterprise') = (enterprise_id IS NOT NULL)"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    role: Mapped[str] = mapped_column(String(16))
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"))
    label: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """After this instant the key is refused (None: never expires)."""
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """Last successful authentication, recorded at most once a minute per key."""

    enterprise: Mapped[Enterprise | None] = relationship(lazy="joined")


class RegistryDocument(Base):
    """A tariff or accounting policy an operator uploaded as content (chosen by name)."""

    __tablename__ = "registry_documents"
    __table_args__ = (UniqueConstraint("kind", "name", name="registry_documents_kind_name_key"),
                      one_of("registry_documents", "kind", ("tariff", "accounting_policy")))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    """'tariff' or 'accounting_policy'."""
    name: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(Text, server_default="")
    content: Mapped[dict[str, Any]] = mapped_column(JSONB)
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Meter(Base):
    """A meter; its code is unique within its enterprise (another enterprise may use it too)."""

    __tablename__ = "meters"
    __table_args__ = (UniqueConstraint("enterprise_id", "code",
                                       name="meters_enterprise_code_key"),
                      Index("meters_code_idx", "code"),
                      Index("meters_enterprise_idx", "enterprise_id"),
                      one_of("meters", "register", REGISTERS),
                      check("meters", "interval_minutes",
                            "interval_minutes > 0 AND 1440 % interval_minutes = 0"),
                      check("meters", "value_resolution", "value_resolution > 0"),
                      *finite_checks("rollover_at", "density_kg_per_l", "normal_volume_factor",
                                     "max_per_hour", "value_resolution"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64))
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    carrier: Mapped[str] = mapped_column(String(32))
    unit: Mapped[str] = mapped_column(String(16))
    """Unit the meter reports in (default for uploads without a unit)."""
    canonical_unit: Mapped[str] = mapped_column(String(16))
    """Canonical unit of the carrier; readings are stored in it."""
    register: Mapped[str] = mapped_column(String(16))
    interval_minutes: Mapped[int] = mapped_column(Integer)
    green_direct_supply: Mapped[bool] = mapped_column(Boolean, server_default="false")
    rollover_at: Mapped[float | None] = mapped_column(Float)
    """Register value at which a cumulative register wraps to zero (canonical unit)."""
    density_kg_per_l: Mapped[float | None] = mapped_column(Float)
    normal_volume_factor: Mapped[float | None] = mapped_column(Float)
    max_per_hour: Mapped[float | None] = mapped_column(Float)
    """Plausibility ceiling override (canonical unit per hour)."""
    value_resolution: Mapped[float | None] = mapped_column(Float)
    """Smallest step of a reading (canonical unit); None: the carrier's default."""
    name: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    enterprise: Mapped[Enterprise] = relationship(lazy="joined")
