"""Pydantic shapes of the API; fields may be added, never renamed."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Zone = Literal["A区", "B区", "综合保税区", "聂当工业园"]
Role = Literal["operator", "enterprise", "planner"]


class EnterpriseIn(BaseModel):
    code: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    name: str = Field(min_length=1)
    zone: Zone
    industry: str | None = None


class EnterpriseOut(BaseModel):
    code: str
    name: str
    zone: str
    industry: str | None


class MeterIn(BaseModel):
    code: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    enterprise: str | None = Field(None, description="Enterprise code; an enterprise key: its own")
    carrier: str
    unit: str | None = Field(None, description="Unit the meter reports in; default canonical")
    model_config = ConfigDict(populate_by_name=True)

    register_type: Literal["interval", "cumulative"] = Field("interval", alias="register")
    interval_minutes: int = Field(15, gt=0, le=1440)
    green_direct_supply: bool = False
    rollover_at: float | None = Field(None, gt=0)
    density_kg_per_l: float | None = Field(None, gt=0)
    normal_volume_factor: float | None = Field(None, gt=0)
    max_per_hour: float | None = Field(None, gt=0)
    name: str | None = None


class MeterOut(BaseModel):
    code: str
    enterprise: str
    carrier: str
    unit: str
    canonical_unit: str
    register_type: str = Field(serialization_alias="register")
    interval_minutes: int
    green_direct_supply: bool
    rollover_at: float | None
    density_kg_per_l: float | None
    max_per_hour: float | None
    name: str | None


class UploadOut(BaseModel):
    batch: int
    inserted: int
    unchanged: int
    revised: int
    flagged: int
    rows: int
    flags: dict[str, int]
    gaps: list[dict[str, object]]
    aggregates: str = "current"


class Point(BaseModel):
    start: datetime
    value: float
    quality: str
    count: int


class SeriesOut(BaseModel):
    meter: str
    unit: str
    resolution: str
    points: list[Point]


class AlertOut(BaseModel):
    id: int
    kind: str
    meter: str | None
    enterprise: str | None
    period_start: datetime
    period_end: datetime
    message: str
    opened_at: datetime
    acknowledged_by: int | None
    acknowledged_at: datetime | None
