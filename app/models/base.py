"""Declarative base shared by every domain's models."""

from __future__ import annotations

from sqlalchemy import CheckConstraint
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Base class of all ORM models; the schema itself is owned by Alembic migrations."""


def finite_checks(*columns: str) -> tuple[CheckConstraint, ...]:
    """``<column>_finite`` CHECKs refusing NaN and ±Infinity (NaN sorts above Infinity in
    PostgreSQL), as created by migration 0006_finite_guards."""
    return tuple(CheckConstraint(f"abs({c}) < 'Infinity'::float8", name=f"{c}_finite")
                 for c in columns)
