"""The log of committed data changes that cached answers are keyed on (migration 0015)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class DataChange(Base):
    """One write statement on a table that ledgers and park totals read (written by triggers;
    see :mod:`app.repositories.data_version`). Insert-only."""

    __tablename__ = "data_changes"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    source: Mapped[str] = mapped_column(Text)
    """The table written."""
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.clock_timestamp())
