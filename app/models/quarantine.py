"""Rows removed from the books because they held a number that cannot be summed (non-finite or
beyond the bound), kept whole with the reason (migration 0006_finite_guards)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class QuarantinedRow(Base):
    """One quarantined row: its table, its data as JSON text and why it was removed."""

    __tablename__ = "quarantined_rows"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    table_name: Mapped[str] = mapped_column(Text)
    row_data: Mapped[str] = mapped_column(Text)
    """The row as JSON text (``row_to_json``)."""
    reason: Mapped[str] = mapped_column(Text)
    quarantined_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                     server_default=func.now())
    aggregates_refreshed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """TimescaleDB: when the continuous aggregates over a quarantined reading's day were
    re-materialised (None: not yet)."""
