"""Declarative base shared by every domain's models."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import CheckConstraint
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Base class of all ORM models; the schema itself is owned by Alembic migrations."""


def finite_checks(*columns: str) -> tuple[CheckConstraint, ...]:
    """``<column>_finite`` CHECKs refusing NaN and ±Infinity (NaN sorts above Infinity in
    PostgreSQL), as created by migration 0006_finite_guards."""
    return tuple(CheckConstraint(f"abs({c}) < 'Infinity'::float8", name=f"{c}_finite")
                 for c in columns)


def check(table: str, column: str | None, sql: str) -> CheckConstraint:
    """A CHECK named as PostgreSQL names an unnamed one: ``<table>_<column>_check`` (or
    ``<table>_check`` for a table-level check)."""
    name = f"{table}_{column}_check" if column else f"{table}_check"
    return CheckConstraint(sql, name=name)


def one_of(table: str, column: str, values: Iterable[str | int]) -> CheckConstraint:
    """``CHECK (<column> IN (values…))``, named as PostgreSQL names it."""
    listed = ", ".join(str(v) if isinstance(v, int) else "'" + v.replace("'", "''") + "'"
                       for v in values)
    return check(table, column, f"{column} IN ({listed})")
