"""Answers of the dashboard's overview (一图统览): the first screen, its slower panels and an
enterprise's meters. Energy in kWh and tce, power in MW, times in the park's zone."""

from __future__ import annotations

import datetime as dt
from datetime import datetime
from typing import Any

from pydantic import Field

from app.schemas.answer import Answer
from app.schemas.carbon import Coverage, TargetOut, TargetStatusRow


class Scope(Answer):
    role: str
    enterprise: str | None


class Electricity(Answer):
    """``load_kwh`` = grid import + PV − grid export (electricity the park consumed)."""

    grid_import_kwh: float
    grid_export_kwh: float
    pv_kwh: float
    load_kwh: float
    energy_tce: float


class Tile(Electricity):
    start: datetime
    end: datetime
    pv_expected_kwh: float | None = None


class Tiles(Answer):
    today: Tile
    month: Tile


class BalancePoint(Electricity):
    start: datetime


class Balance(Answer):
    points: list[BalancePoint]
    totals: Electricity


class MixRow(Answer):
    carrier: str
    quantity: float
    unit: str
    energy_tce: float


class ZoneRow(Answer):
    zone: str
    energy_tce: float
    electricity_kwh: float
    enterprises: int
    series_tce: list[float]
    share_pct: float | None


class EnterpriseRow(Answer):
    code: str
    name: str
    zone: str
    industry: str | None
    energy_tce: float
    electricity_kwh: float
    series_tce: list[float]
    series_electricity_kwh: list[float]
    flagged_readings: int
    share_pct: float | None


class Modules(Answer):
    """Which panels have something to show for this key."""

    pv: bool
    storage: bool
    carbon: bool
    scenarios: bool


class PlanRow(Answer):
    start: datetime
    charge_mw: float | None = None
    discharge_mw: float | None = None
    soc_mwh: float | None = None


class StoragePlan(Answer):
    id: int
    strategy: str
    step_minutes: int
    created_at: datetime
    kpis: dict[str, Any]
    schedule: list[PlanRow]


class StoragePanel(Answer):
    """The first visible station, its plan for the day and the planned state of charge now;
    ``error`` alone when the panel could not be built."""

    error: str | None = None
    code: str | None = None
    name: str | None = None
    zone: str | None = None
    power_mw: float | None = None
    energy_mwh: float | None = None
    day: dt.date | None = None
    plan: StoragePlan | None = None
    soc_mwh: float | None = None
    soc_pct: float | None = None
    at: datetime | None = None


class OverviewOut(Answer):
    period: str = Field(description="day | week | month | year")
    date: dt.date
    timezone: str
    start: datetime
    end: datetime
    bucket: str = Field(description="hour | day | month")
    scope: Scope
    factor_set: str
    tiles: Tiles
    balance: Balance
    mix: list[MixRow]
    zones: list[ZoneRow]
    enterprises: list[EnterpriseRow]
    alerts: dict[str, int] = Field(description="open: how many alerts are open")
    modules: Modules
    storage: StoragePanel | None
    carbon: None = Field(default=None, description="in /v1/overview/modules")
    elapsed_ms: float


class PvPoint(Answer):
    start: datetime
    expected_kwh: float


class PvPanel(Answer):
    """Expected and measured output of the metered arrays; ``error`` alone when the panel
    could not be built."""

    error: str | None = None
    weather: Any = None
    capacity_kwp: float | None = None
    arrays: int | None = None
    today_expected_kwh: float | None = None
    month_expected_kwh: float | None = None
    today_measured_kwh: float | None = None
    month_measured_kwh: float | None = None
    series: list[PvPoint] | None = None


class IndicatorPanelRow(Answer):
    name: str
    value: float | None
    null_reason: str | None
    targets: list[TargetOut]


class CarbonPanel(Answer):
    """The year's ledger totals, headline indicators and phase status; ``error`` alone when the
    panel could not be built."""

    error: str | None = None
    scope: str | None = None
    code: str | None = None
    period: str | None = None
    factor_set: str | None = None
    ledger_status: str | None = None
    energy_tce: float | None = None
    co2_t: float | None = None
    co2_location_based_t: float | None = None
    co2_market_based_t: float | None = None
    indicators: list[IndicatorPanelRow] | None = None
    coverage: Coverage | None = None
    status: list[TargetStatusRow] | None = None
    history: dict[int, dict[str, Any]] | None = None
    warnings: list[str] | None = None


class OverviewModulesOut(Answer):
    period: str
    date: dt.date
    modules: Modules
    pv: PvPanel | None
    carbon: CarbonPanel | None
    elapsed_ms: float


class EnterpriseRef(Answer):
    code: str
    name: str
    zone: str
    industry: str | None


class MeterSeries(Answer):
    code: str
    name: str | None
    carrier: str
    unit: str
    total: float
    energy_tce: float
    series: list[float | None]
    flagged_readings: int


class EnterpriseOverviewOut(Answer):
    enterprise: EnterpriseRef
    period: str
    date: dt.date
    start: datetime
    end: datetime
    bucket: str
    buckets: list[datetime]
    meters: list[MeterSeries]
