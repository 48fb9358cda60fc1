"""Pydantic shapes of the storage API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from app.schemas.answer import Answer
from app.schemas.core import FiniteFloat, InputModel, UploadOut, Zone

Strategy = Literal["optimal", "rolling", "rule"]

TARIFF_NAME_MAX_CHARS = 4096
"""Longest tariff field read; unknown names of any length get the registry's one 422."""


class StorageIn(InputModel):
    code: str = Field(min_length=1, max_length=48, pattern=r"^[A-Za-z0-9_.\-]+$")
    name: str = Field(min_length=1)
    zone: Zone
    enterprise: str | None = Field(None, description="Owner enterprise code; none = the park's")
    battery: dict[str, FiniteFloat | None] = Field(default_factory=dict, description=(
        "energy.storage.BatterySpec fields overriding the 63 MW / 252 MWh default station"))
    # A name longer than any tariff's is answered like any unknown name by the registry (one
    # 422 whatever exists on the server); the bound only keeps absurd strings out.
    tariff: str = Field("example_tou_illustrative", max_length=TARIFF_NAME_MAX_CHARS,
                        description="tariff name (GET /v1/tariffs)")
    safety: dict[str, FiniteFloat] = Field(default_factory=dict, description=(
        "overrides of the safe window: soc_min_pct, soc_max_pct, temperature_min_c, "
        "temperature_max_c, power_charge_max_mw, power_discharge_max_mw"))
    commissioned_on: date | None = None


class StorageOut(BaseModel):
    code: str
    name: str
    zone: str
    enterprise: str | None
    battery: dict[str, Any]
    tariff: str
    safety_window: dict[str, float]
    commissioned_on: date | None
    telemetry_meters: dict[str, str]
    """quantity (power, soc, temperature) -> meter code; upload through /v1/readings too."""


class RollingIn(InputModel):
    window_hours: FiniteFloat = Field(48.0, gt=0, le=28 * 24)
    commit_hours: FiniteFloat = Field(24.0, gt=0)


class DispatchIn(InputModel):
    """Inline inputs (``load_mw`` given) or stored series (``load_mw`` omitted)."""

    start: datetime | None = Field(None, description="first interval start (ISO 8601, offset)")
    step_minutes: Literal[15, 30, 60] = 60
    horizon_hours: FiniteFloat | None = Field(None, gt=0,
                                              description="stored inputs only; default 24")
    strategy: Strategy = "optimal"
    load_mw: list[FiniteFloat] | None = None
    pv_mw: list[FiniteFloat] | None = None
    price_yuan_per_mwh: list[FiniteFloat] | None = None
    tariff: str | None = Field(None, max_length=TARIFF_NAME_MAX_CHARS,
                               description="tariff name (GET /v1/tariffs); default the station's")
    export_price_yuan_per_mwh: FiniteFloat | list[FiniteFloat] | None = None
    demand_charge_yuan_per_kw_month: FiniteFloat | None = Field(None, ge=0)
    grid_tco2_per_mwh: FiniteFloat | list[FiniteFloat] | None = None
    carbon_price_yuan_per_tco2: FiniteFloat = Field(0.0, ge=0)
    curtailment_penalty_yuan_per_mwh: FiniteFloat = Field(0.0, ge=0)
    temperature_c: list[FiniteFloat] | None = None
    battery: dict[str, FiniteFloat | None] = Field(default_factory=dict)
    rolling: RollingIn = Field(default_factory=RollingIn)
    pv_source: Literal["metered", "model", "none"] = "metered"
    pv_capacity_kwp: FiniteFloat | None = Field(None, gt=0, description="pv_source=model")
    forecast: Literal["auto", "actual", "forecast", "seasonal_naive"] = Field(
        "auto", description="auto: actuals for a past horizon, else the load and PV forecasts "
        "(GET /v1/forecasts); seasonal_naive: the weekly seasonal naive")


class ScheduleRow(BaseModel):
    start: datetime
    charge_mw: float
    discharge_mw: float
    soc_mwh: float
    grid_import_mw: float
    grid_export_mw: float
    pv_curtailed_mw: float
    load_mw: float | None = None
    pv_mw: float | None = None


class DispatchOut(BaseModel):
    asset: str
    strategy: str
    start: datetime
    step_minutes: int
    objective: float
    kpis: dict[str, float | None]
    schedule: list[ScheduleRow]
    inputs: dict[str, Any]


class PlanOut(DispatchOut):
    id: int
    day: date
    created_at: datetime
    published_by: str


class CapacityTestIn(InputModel):
    tested_on: date
    measured_capacity_mwh: FiniteFloat = Field(gt=0)
    note: str | None = None


class TelemetryRow(BaseModel):
    ts: datetime
    power_mw: float | None = None
    soc_pct: float | None = None
    temperature_c: float | None = None


class TelemetryUploadOut(UploadOut):
    """The ingest answer of the telemetry batch and how many safety alerts it opened."""

    safety_alerts_opened: int


class CapacityTestOut(BaseModel):
    id: int | None = None
    tested_on: date
    measured_capacity_mwh: float
    soh_pct: float = Field(description="measured capacity / nameplate, %")


class HealthOut(Answer):
    """State of health (SOH) from measured throughput and capacity tests, and its projection;
    ``soh`` null with a ``note`` when there is nothing to estimate from."""

    asset: str
    nameplate_mwh: float
    in_service_since: date | None
    throughput_mwh: float | None
    telemetry_readings: int | None
    mean_temperature_c: float | None
    mean_soc_pct: float | None
    capacity_tests: list[CapacityTestOut]
    end_of_life_soh_pct: float
    soh: dict[str, Any] | None
    note: str | None = None
    days_in_service: int | None = None
    soh_pct: float | None = None
    projection: dict[str, Any] | None = None


class ResilienceOut(Answer):
    asset: str
    start: datetime
    plan_id: int
    plan_day: date
    critical_load_mw: float
    soc_start_mwh: float
    hours: float = Field(description="hours the station carries the critical load")
    capped_at_hours: float
    capped: bool
    assumption: str
