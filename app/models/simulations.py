"""Scenario runs queued through the API and their artifacts (migration 0004_simulations)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, one_of


class ScenarioRun(Base):
    """One scenario run: queued → running → done | failed. ``lease_until``: a running row whose
    lease has passed (its worker died) is claimed again."""

    __tablename__ = "scenario_runs"
    __table_args__ = (Index("scenario_runs_pending", "created_at", "id",
                            postgresql_where=text("status IN ('queued', 'running')")),
                      one_of("scenario_runs", "status", ("queued", "running", "done", "failed")))

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), server_default="queued")
    scenario: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    error: Mapped[str | None] = mapped_column(Text)
    kpis: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class ScenarioArtifact(Base):
    """A result file of a run, stored in the database as bytea: ``series.csv`` and the plots
    ``<name>.png``."""

    __tablename__ = "scenario_artifacts"

    run_id: Mapped[int] = mapped_column(ForeignKey("scenario_runs.id", ondelete="CASCADE"),
                                        primary_key=True)
    name: Mapped[str] = mapped_column(Text, primary_key=True)
    media_type: Mapped[str] = mapped_column(Text)
    content: Mapped[bytes] = mapped_column(LargeBinary)
