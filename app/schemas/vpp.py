"""Pydantic shapes of the virtual power plant API: flexible resources, available flexibility and
demand-response events."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from app.params import Instant
from app.schemas.core import FiniteFloat, InputModel

FlexKind = Literal["curtailable", "shiftable", "storage", "pv_curtailment"]
Direction = Literal["reduce", "increase"]
CODE_PATTERN = r"^[A-Za-z0-9_.\-]+$"
EVENT_ID_PATTERN = r"^[A-Za-z0-9_.:\-]+$"
MAX_MINUTES = 366 * 24 * 60
"""Longest notice or duration a resource may declare (a year)."""
MAX_EVENTS_PER_MONTH = 31 * 96
"""At most one event a 15-minute step."""


class FlexResourceIn(InputModel):
    code: str = Field(min_length=1, max_length=64, pattern=CODE_PATTERN)
    enterprise: str | None = Field(None, max_length=64,
                                   description="enterprise code; an enterprise key: its own")
    kind: FlexKind
    meter: str = Field(min_length=1, max_length=64, pattern=CODE_PATTERN,
                       description="code of the enterprise's electricity meter behind which the "
                       "resource sits")
    max_reduction_kw: FiniteFloat = Field(gt=0)
    min_notice_minutes: int = Field(0, ge=0, le=MAX_MINUTES)
    max_duration_minutes: int = Field(240, gt=0, le=MAX_MINUTES)
    max_events_per_month: int = Field(10, ge=0, le=MAX_EVENTS_PER_MONTH)
    rebound_fraction: FiniteFloat = Field(0.0, ge=0, le=1, description=(
        "share of the shifted energy that returns after the event (shiftable loads)"))
    cost_yuan_per_kwh: FiniteFloat = Field(0.0, ge=0)


class FlexResourceOut(BaseModel):
    code: str
    enterprise: str | None
    kind: str
    meter: str | None
    max_reduction_kw: float
    min_notice_minutes: int
    max_duration_minutes: int | None
    max_events_per_month: int | None
    rebound_fraction: float
    cost_yuan_per_kwh: float
    derived_from: str | None = Field(None, description=(
        "'storage' or 'pv_array': a resource read from the station or array it stands for; "
        "None: registered through POST /v1/flex/resources"))


class FlexStep(BaseModel):
    start: datetime
    reduce_kw: float
    """Power the park's draw can be lowered by in this step."""
    increase_kw: float
    """Power the park's draw can be raised by in this step."""


class FlexKindOut(BaseModel):
    kind: str
    resources: int
    status: str
    """'ok', or 'insufficient data' when a resource lacks the readings its bound needs."""
    notes: list[str]
    steps: list[FlexStep]


class FlexAvailableOut(BaseModel):
    start: datetime
    end: datetime
    step_minutes: int
    kinds: list[FlexKindOut]


class DrEventIn(InputModel):
    id: str = Field(min_length=1, max_length=128, pattern=EVENT_ID_PATTERN)
    start: Instant
    end: Instant
    direction: Direction
    target_kw: FiniteFloat = Field(gt=0, description="change at the park's grid connection, kW")
    price_yuan_per_kwh: FiniteFloat = Field(ge=0)
    notified_at: Instant


class DrEventVersionOut(BaseModel):
    version: int
    status: str
    start: datetime
    end: datetime
    direction: str
    target_kw: float
    price_yuan_per_kwh: float
    notified_at: datetime
    source: str
    received_at: datetime


class DrEventOut(BaseModel):
    id: str
    version: int
    status: str
    start: datetime
    end: datetime
    direction: str
    target_kw: float
    price_yuan_per_kwh: float
    notified_at: datetime
    source: str
    created_at: datetime
    updated_at: datetime
    changed: bool | None = Field(None, description=(
        "POST only: false when the same event was already stored (nothing changed)"))
    versions: list[DrEventVersionOut] | None = Field(None, description="GET one: the audit trail")


class OpenAdrDecisionOut(BaseModel):
    event_id: str
    modification_number: int | None
    opt: str
    reason: str
    at: datetime


class OpenAdrStatusOut(BaseModel):
    enabled: bool
    vtn_url: str | None
    ven_id: str | None
    ven_name: str | None
    running: bool
    """This process runs the VEN (with several processes, the one leading the scheduler)."""
    registered: bool
    decisions: list[OpenAdrDecisionOut]
