"""Answers of demand-response plans, settlements and the monthly VPP summary."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class PlanStepOut(BaseModel):
    start: str
    required_kw: float = Field(description="target less what the expected import already gives")
    delivered_kw: float
    shortfall_kw: float
    baseline_kw: float | None = Field(None, description="the park's similar-day baseline "
                                      "(None: insufficient data)")


class InstructionStepOut(BaseModel):
    start: datetime
    power_kw: float = Field(description="+ = less draw at the resource's meter (load shed, PV "
                            "curtailed, station discharging beyond its day-ahead plan); "
                            "- = more (rebound after the event, extra charging)")


class InstructionOut(BaseModel):
    code: str
    kind: str
    enterprise: str | None
    deadline: datetime = Field(description="act by: the first step's start less the notice "
                               "the resource needs")
    energy_kwh: float | None = Field(None, description="planned energy during the event")
    max_kw: float | None = None
    rebound_kwh: float | None = None
    cost_yuan: float | None = None
    steps: list[InstructionStepOut]


class UnavailableOut(BaseModel):
    code: str
    kind: str
    enterprise: str | None
    reason: str


class DrPlanOut(BaseModel):
    event_id: str
    event_version: int = Field(description="the event version this plan was made for")
    current_event_version: int
    plan_id: int
    created_at: datetime
    status: str = Field(description="'target met', 'shortfall' or 'failed'")
    direction: str
    target_kw: float
    shortfall_kw: float = Field(description="largest step shortfall")
    shortfall_kwh: float | None
    cost_yuan: float | None = Field(None, description="change in cost against the day-ahead "
                                    "plans (operators only)")
    steps: list[PlanStepOut]
    instructions: list[InstructionOut]
    unavailable: list[UnavailableOut]
    baseline: dict[str, Any] | None = Field(None, description="the park baseline's method and "
                                            "the days it used")
    notes: list[str]
    error: str | None = None


class SettlementLineOut(BaseModel):
    level: str | None = Field(description="resource, enterprise or park")
    enterprise: str | None
    resource: str | None
    status: str | None = Field(description="ok, incomplete or insufficient data")
    baseline_kwh: float | None
    actual_kwh: float | None
    delivered_kwh: float | None
    planned_kwh: float | None
    delivery_ratio: float | None
    revenue_yuan: float | None
    shortfall_kwh: float | None
    baseline_days: list[str]
    missing_steps: int | None


class SettlementStepOut(BaseModel):
    start: str
    baseline_kw: float | None
    actual_kw: float | None
    delivered_kw: float | None


class DrSettlementOut(BaseModel):
    event_id: str
    event_version: int
    direction: str
    start: datetime
    end: datetime
    target_kw: float
    price_yuan_per_kwh: float
    status: str | None
    target_kwh: float | None
    delivered_kwh: float | None
    delivery_ratio: float | None
    paid_kwh: float | None
    revenue_yuan: float | None
    shortfall_kwh: float | None
    method: dict[str, Any] | None
    settled_at: str | None
    steps: list[SettlementStepOut] = Field(default_factory=list, description="the park's "
                                           "curves per 15-minute step of the event")
    lines: list[SettlementLineOut]


class SummaryEventOut(BaseModel):
    event_id: str
    version: int
    status: str
    start: datetime
    end: datetime
    direction: str
    target_kw: float
    price_yuan_per_kwh: float
    settled: bool
    settlement_status: str | None
    delivered_kwh: float | None
    delivery_ratio: float | None
    revenue_yuan: float | None
    shortfall_kwh: float | None


class SummaryEnterpriseOut(BaseModel):
    enterprise: str
    events: int
    delivered_kwh: float
    revenue_yuan: float
    incomplete: int


class SummaryTotalsOut(BaseModel):
    events: int
    settled: int
    delivered_kwh: float
    revenue_yuan: float
    shortfall_kwh: float
    status: str


class VppSummaryOut(BaseModel):
    month: str
    events: list[SummaryEventOut]
    totals: SummaryTotalsOut
    enterprises: list[SummaryEnterpriseOut]
