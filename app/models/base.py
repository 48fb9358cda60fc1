"""Declarative base shared by every domain's models."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Base class of all ORM models; the schema itself is owned by Alembic migrations."""
