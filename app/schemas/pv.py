"""Pydantic shapes of the PV API; fields may be added, never renamed."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from app.schemas.core import FiniteFloat, InputModel

CODE_PATTERN = r"^[A-Za-z0-9_.\-]+$"
Mounting = Literal["roof_flush", "open_rack"]
Resolution = Literal["15min", "hour", "day", "month"]
WeatherKind = Literal["clearsky", "typical", "measured"]


class WeatherStationIn(InputModel):
    code: str = Field(min_length=1, max_length=64, pattern=CODE_PATTERN)
    name: str | None = None
    enterprise: str | None = Field(None, description="enterprise owning the meters (needed "
                                   "only when another enterprise uses the same meter codes)")
    ghi_meter: str = Field(description="Code of a meter of carrier 'ghi' (W/m²)")
    temp_air_meter: str = Field(description="Code of a meter of carrier 'temp_air' (°C)")
    wind_speed_meter: str | None = None
    dni_meter: str | None = None
    dhi_meter: str | None = None
    shared: bool = Field(False, description="park-shared: every key may list it and every "
                         "array use it; otherwise private to the enterprise owning its meters")


class WeatherStationPatch(BaseModel):
    shared: bool


class WeatherStationOut(BaseModel):
    code: str
    name: str | None
    enterprise: str | None
    """The enterprise owning its meters (shown to that enterprise, operators and planners)."""
    shared: bool = False
    meters: dict[str, str]
    """quantity (ghi, temp_air, wind_speed, dni, dhi) → meter code (owner's view only)"""


class ArrayIn(InputModel):
    code: str = Field(min_length=1, max_length=64, pattern=CODE_PATTERN)
    enterprise: str | None = Field(None, description="Enterprise code; an enterprise key: its own")
    name: str | None = None
    capacity_kwp: float = Field(gt=0, le=1_000_000, description="DC nameplate, kWp")
    ac_kw: float | None = Field(None, gt=0, le=1_000_000,
                                description="Inverter AC limit, kW; default DC/AC ratio 1.2")
    tilt_deg: float = Field(ge=0, le=90)
    azimuth_deg: float = Field(180.0, ge=0, le=360, description="clockwise from north, 180 = south")
    mounting: Mounting = "roof_flush"
    losses_pct: dict[str, FiniteFloat] = Field(
        default_factory=dict,
        description="Overrides of pvlib.pvsystem.pvwatts_losses defaults, percent (0..100)")
    gamma_pdc_per_c: float | None = Field(None, ge=-0.01, le=0.0,
                                          description="DC power temperature coefficient, 1/°C")
    degradation_pct_per_year: float | None = Field(None, ge=0, le=5)
    install_year: int | None = Field(None, ge=1990, le=2100)
    meter: str | None = Field(None, description="Generation meter (carrier pv_generation)")
    weather_station: str | None = Field(
        None, description="Station for measured weather; default: the park's first station")


class ArrayOut(BaseModel):
    code: str
    enterprise: str
    zone: str
    name: str | None
    capacity_kwp: float
    ac_kw: float
    tilt_deg: float
    azimuth_deg: float
    mounting: str
    losses_pct: dict[str, float]
    total_loss_pct: float
    gamma_pdc_per_c: float
    degradation_pct_per_year: float
    install_year: int | None
    meter: str | None
    weather_station: str | None


class EstimatePoint(BaseModel):
    start: datetime
    value: float


class EstimateOut(BaseModel):
    array: str
    unit: str = "kWh"
    resolution: str
    weather: str
    capacity_kwp: float
    total: float
    weather_station: str | None = None
    weather_intervals_missing: int = 0
    annual_year: int | None = Field(None, description="typical year of the P50/P90 figures")
    annual_p50_kwh: float | None = Field(
        None, description="weather=typical only: AC kWh over the whole typical year (P50)")
    annual_p90_kwh: float | None = Field(
        None, description="weather=typical only: annual AC kWh exceeded in 90 % of years")
    points: list[EstimatePoint]


class ZoneEstimate(BaseModel):
    zone: str
    arrays: int
    capacity_kwp: float
    total: float
    points: list[EstimatePoint]


class ParkEstimateOut(BaseModel):
    by: str
    unit: str = "kWh"
    resolution: str
    weather: str
    zones: list[ZoneEstimate]


class RoofIn(InputModel):
    enterprise: str | None = Field(None, description="Enterprise code; an enterprise key: its own")
    name: str = Field(min_length=1, max_length=200)
    roof_area_m2: float = Field(gt=0, le=10_000_000)
    usable_share: float | None = Field(None, ge=0, le=1,
                                       description="Share of the roof usable for modules")
    tilt_deg: float | None = Field(None, ge=0, le=90)
    azimuth_deg: float | None = Field(None, ge=0, le=360)


class RoofOut(BaseModel):
    id: int
    enterprise: str
    zone: str
    name: str
    roof_area_m2: float
    usable_share: float | None
    tilt_deg: float | None
    azimuth_deg: float | None


class PotentialRow(BaseModel):
    enterprise: str | None = None
    zone: str | None = None
    roofs: int
    roof_area_m2: float
    installable_kwp: float
    ac_kw: float
    annual_yield_kwh: float
    specific_yield_kwh_per_kwp: float
    p50_kwh: float = Field(description="annual AC kWh, typical year (P50)")
    p90_kwh: float = Field(description="annual AC kWh exceeded in 90 % of years")


class PotentialOut(BaseModel):
    by: str
    weather: str = "typical"
    year: int
    packing_kwp_per_m2: float
    rows: list[PotentialRow]
    total: PotentialRow


class PerformanceDay(BaseModel):
    day: date
    expected_kwh: float
    measured_kwh: float | None
    pr: float | None
    clear_day: bool | None
    complete: bool


class PerformanceOut(BaseModel):
    array: str
    meter: str
    weather: str
    alert_share_of_expected: float
    days: list[PerformanceDay]
