"""Scheduled jobs: one run per (job, period) and the scheduler's leader (migration 0007)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Float, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, check, one_of


class JobRun(Base):
    """A scheduled job's run for one period (e.g. ``storage_plan`` / ``2026-11-30 ST-01``). The
    unique (job, period_key) lets exactly one run do the work; a repeated run finds the row and
    does nothing. ``running`` rows only exist for jobs spanning several transactions."""

    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("job", "period_key", name="job_runs_once"),
                      one_of("job_runs", "status", ("running", "done", "failed")))

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    job: Mapped[str] = mapped_column(String(64))
    period_key: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(8))
    """running | done | failed"""
    runner: Mapped[str] = mapped_column(Text)
    """host:pid of the process that ran it."""
    attempts: Mapped[int] = mapped_column(Integer, server_default="1")
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.clock_timestamp())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class SchedulerLeaderRow(Base):
    """Who leads the scheduler (``holder``, None after a clean step-down) and its lease."""

    __tablename__ = "scheduler_leader"
    __table_args__ = (check("scheduler_leader", "lease_seconds",
                            "lease_seconds > 0 AND lease_seconds < 'Infinity'"),)

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str | None] = mapped_column(Text)
    since: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    lease_seconds: Mapped[float | None] = mapped_column(Float)
