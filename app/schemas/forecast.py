"""Pydantic shapes of the forecast API; fields may be added, never renamed."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

Target = Literal["park", "zone", "enterprise", "meter", "array"]


class ForecastPoint(BaseModel):
    start: datetime = Field(description="interval start (Asia/Shanghai)")
    p50: float = Field(description="median forecast, in ``unit`` per interval")
    p10: float | None = Field(description="10 % quantile (None: the method gives no interval)")
    p90: float | None = Field(description="90 % quantile (None: the method gives no interval)")


class ForecastSkill(BaseModel):
    """Rolling-origin backtest of the same method on this target's own history before the
    origin: each of the last whole days forecast from noon the day before."""

    status: Literal["ok", "insufficient data"]
    method: str
    origins: int = Field(description="day-ahead forecasts scored")
    points: int
    first_day: str | None
    last_day: str | None
    issue_hours_before: float = Field(description="hours before each day's midnight the "
                                      "backtest's forecast was issued")
    mase_week: float | None = Field(description="MAE over the weekly seasonal naive's MAE on "
                                    "the same targets (below 1: better than the naive)")
    mase_day: float | None = Field(description="MAE over the daily naive's MAE")
    nmae: float | None = Field(description="MAE over the mean actual")
    nmae_week_naive: float | None
    nmae_day_naive: float | None
    p10_p90_coverage: float | None = Field(description="share of actuals inside [p10, p90] "
                                           "(0.8 when calibrated)")


class ForecastHistory(BaseModel):
    start: datetime | None = Field(description="first interval read")
    end: datetime = Field(description="end of the history read (exclusive): the origin")
    intervals: int
    meters: int


class ForecastOut(BaseModel):
    target: Target
    code: str | None
    quantity: str = Field(description="load (import + PV generation − export), pv_generation "
                          "or the meter's carrier")
    unit: str = Field(description="unit of each point: energy (or the meter's canonical unit) "
                      "per interval")
    step_minutes: int
    start: datetime
    horizon_hours: float
    origin: datetime = Field(description="the forecast uses only readings before this instant: "
                             "min(start, now)")
    method: str
    notes: list[str]
    history: ForecastHistory
    skill: ForecastSkill
    points: list[ForecastPoint]
