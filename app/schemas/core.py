"""Pydantic shapes of the API; fields may be added, never renamed."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field

OwnerQ = Annotated[str | None, Query(
    max_length=64, description="enterprise code: which enterprise's meter or array, when several "
    "enterprises use the code (operators and planners; an enterprise key always means its own)")]
Zone = Literal["A区", "B区", "综合保税区", "聂当工业园"]
Role = Literal["operator", "enterprise", "planner"]

MAX_ABS_VALUE = 1e15
"""Largest magnitude of a number the API accepts (a reading in its canonical unit, an activity
value, a meter or battery setting, a dispatch input). Far above any real park figure, and small
enough that no day, month or year sum of such numbers can overflow a float8 (~1.8e308)."""

FiniteFloat = Annotated[float, Field(allow_inf_nan=False, ge=-MAX_ABS_VALUE, le=MAX_ABS_VALUE)]
"""A request number: finite (no NaN, no ±Infinity, no 1e309) and within ±MAX_ABS_VALUE."""


class InputModel(BaseModel):
    """Base of request bodies: no float field of any subclass takes NaN or ±Infinity, even one
    declared as a plain ``float``."""

    model_config = ConfigDict(allow_inf_nan=False)


class EnterpriseIn(InputModel):
    code: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    name: str = Field(min_length=1)
    zone: Zone
    industry: str | None = None


class EnterpriseOut(BaseModel):
    code: str
    name: str
    zone: str
    industry: str | None


class MeterIn(InputModel):
    code: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    enterprise: str | None = Field(None, description="Enterprise code; an enterprise key: its own")
    carrier: str
    unit: str | None = Field(None, description="Unit the meter reports in; default canonical")
    model_config = ConfigDict(populate_by_name=True)

    register_type: Literal["interval", "cumulative"] = Field("interval", alias="register")
    interval_minutes: int = Field(15, gt=0, le=1440)
    green_direct_supply: bool = False
    rollover_at: FiniteFloat | None = Field(None, gt=0)
    density_kg_per_l: FiniteFloat | None = Field(None, gt=0)
    normal_volume_factor: FiniteFloat | None = Field(None, gt=0)
    max_per_hour: FiniteFloat | None = Field(None, gt=0)
    value_resolution: FiniteFloat | None = Field(
        None, gt=0, le=1e6,
        description="Smallest step of a reading in the carrier's canonical unit (e.g. 0.01 kWh); "
                    "answers round values to it. Default: the carrier's usual display step.")
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
    value_resolution: float = Field(description="Step answers round values to (canonical unit)")
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
    closed_periods_touched: list[str] = Field(
        default_factory=list,
        description="closed carbon months in which readings were inserted or revised: stored,"
                    " and an operator alert says the month needs a reopen to restate")


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


class EnergyTotal(BaseModel):
    """One group's total of one carrier over whole days, in the carrier's canonical unit."""

    model_config = ConfigDict(extra="allow")  # the group key: carrier, zone or enterprise

    carrier: str
    unit: str
    value: float
    readings: int


class ParkEnergyOut(BaseModel):
    start: datetime
    end: datetime
    by: Literal["carrier", "zone", "enterprise"]
    totals: list[EnergyTotal]


class RevisionOut(BaseModel):
    """A stored value a later batch replaced: old and new, which batches, who and when."""

    start: datetime
    old_value: float | None
    new_value: float | None
    old_quality: str | None
    new_quality: str | None
    old_batch: int | None
    batch: int | None
    revised_by_key: int | None
    revised_by_key_prefix: str | None
    revised_at: datetime


class HealthOut(BaseModel):
    status: Literal["ok"]
    database: Literal["ok"]
    timescaledb: bool
