"""Answers of the carbon routes: factor sets, activity data and instruments, the ledger,
indicators, target status and month closing. Energy in tce (tonnes of standard coal equivalent),
CO2 in tonnes, electricity in kWh unless a name says otherwise."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import Field

from app.schemas.answer import Answer


# --------------------------------------------------------------------------- reference data
class KeyFactor(Answer):
    key: str
    value: float
    unit: str
    source: str
    year: int | None = None
    confidence: str | None = None


class FactorSetOut(Answer):
    """A published, versioned factor set."""

    version: str
    compiled: str | None = None
    description: str | None = None
    default: bool
    electricity_factor_years: list[int] = Field(default_factory=list)
    key_factors: list[KeyFactor] = Field(default_factory=list)


# --------------------------------------------------------------------------- uploads
class ActivityUploadOut(Answer):
    """Counts of one stored activity batch (a repeated batch: everything ``unchanged``)."""

    batch: int
    inserted: int
    unchanged: int
    revised: int
    rows: int


class InstrumentUploadOut(ActivityUploadOut):
    closed_periods_touched: list[str] = Field(
        default=[], description="closed months the batch stored instruments for (reopen to "
                                "restate their ledgers)")


class InstrumentOut(Answer):
    id: str
    enterprise: str
    kind: str = Field(description="gec | green_power_trade | direct_supply")
    period: str
    mwh: float
    bundled_with: str | None
    source: str | None
    batch: int
    claimed_at: datetime
    updated_at: datetime
    revisions: int


class ActivityOut(Answer):
    enterprise: str
    period: str
    quantity: str
    value: float
    batch: int
    updated_at: datetime
    revisions: int


class ActivityRevisionOut(Answer):
    enterprise: str
    period: str
    quantity: str
    old_value: float | None
    new_value: float | None
    old_batch: int | None
    batch: int
    revised_by_key: int | None
    revised_by_key_prefix: str | None
    revised_at: datetime


# --------------------------------------------------------------------------- ledger
class CarrierEnergy(Answer):
    """One carrier's quantity (in ``unit``) and its tce; fuels also their CO2."""

    quantity: float | None = None
    unit: str | None = None
    tce: float
    co2_t: float | None = None
    factor: str | None = None


class FactorUsed(Answer):
    """A factor the ledger used, with its unit, source and year."""

    key: str | None = None
    value: float
    unit: str
    source: str
    year: int | None = None
    confidence: str | None = None


class LedgerProvenance(Answer):
    source: str | None = None
    factor_set: str | None = None
    policy_version: str | None = None
    meter_count: int
    readings: int
    flagged_readings: int | None = None


class ClosedBy(Answer):
    at: datetime | None = None
    by: str | None = None
    event: int | None = None
    version: int | None = None


class Recomputed(Answer):
    """Set when the ledger was recomputed under another factor set or basis (not closed)."""

    from_factor_set: str | None = None
    from_basis: str | None = None
    from_input_hash: str | None = None
    note: str | None = None


class LedgerOut(Answer):
    """Energy (tce) and CO2 of the park or an enterprise over a period, by carrier and by
    source, with its inputs, factor set, input hash and provenance."""

    scope: str = Field(description="park | enterprise")
    code: str
    period: str
    factor_set: str
    policy: dict[str, Any] = Field(description="the accounting policy's settings")
    energy_by_carrier: dict[str, CarrierEnergy]
    energy_tce: float
    energy_tce_excl_renewable_electricity: float | None = None
    energy_tce_assessed: float | None = None
    energy_tce_for_intensity_assessed: float | None = None
    electricity_consumed_kwh: float
    clean_energy_tce: float
    clean_energy_by_source_tce: dict[str, float] = Field(default_factory=dict)
    co2_by_source: dict[str, float] = Field(description="fuels, electricity, heat, process (t)")
    co2_fuels_by_carrier: dict[str, float] = Field(default_factory=dict)
    co2_bunkers_memo_t: float
    scope2_electricity: dict[str, Any] = Field(
        default={}, description="purchased electricity: kWh by basis, instruments applied, "
                                "location- and market-based CO2")
    co2_t: float
    co2_location_based_t: float
    co2_market_based_t: float
    inputs: dict[str, Any] = Field(description="energy quantities, activity data, instruments")
    factors_used: dict[str, FactorUsed]
    warnings: list[str] = Field(default_factory=list)
    unused_instruments_mwh: float | None = None
    instrument_claims: dict[str, Any] | None = None
    status: str | None = Field(default=None, description="open | closed | incomplete …")
    input_hash: str | None = None
    provenance: LedgerProvenance
    version: int | None = None
    latest_version: int | None = None
    restated: bool | None = None
    basis: str | None = Field(default=None, description="electricity tce basis")
    basis_zh: str | None = None
    recomputed: Recomputed | None = None
    closed: ClosedBy | None = None


# --------------------------------------------------------------------------- indicators
class Coverage(Answer):
    """How much of the period the figures cover; ``complete`` false names why."""

    period: str
    months_expected: int
    months_with_data: list[str]
    months_missing: list[str]
    carriers_with_data: list[str] = Field(default_factory=list)
    readings: int
    readings_expected_so_far: int | None = None
    readings_pct: float | None = None
    value_added_present: bool | None = None
    complete: bool
    incomplete_because: list[str] = Field(default_factory=list)


class TargetOut(Answer):
    set: str
    id: str
    comparator: str
    value: float | None
    change_vs_base_pct: float | None = None
    bands: list[dict[str, Any]] | None = None
    year: int
    unit: str
    binding: bool


class IndicatorsOut(Answer):
    """Indicators (unit in every name) with their targets; nulls carry a reason."""

    scope: str
    code: str
    period: str
    factor_set: str
    basis: str | None = None
    basis_zh: str | None = None
    recomputed: Recomputed | None = None
    ledger_status: str | None = None
    version: int | None = None
    latest_version: int | None = None
    restated: bool | None = None
    base_year: int
    indicators: dict[str, Any] = Field(description="indicator name → value (unit in the name)")
    targets: dict[str, list[TargetOut]]
    coverage: Coverage
    null_reasons: dict[str, str] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)


class TargetStatusRow(Answer):
    target_id: str
    indicator: str
    phase: str
    evaluation_year: int
    comparator: str
    target_value: float | None
    target_basis: str | None = None
    binding: bool
    actual_year: int | None
    actual_value: float | None
    met_now: bool | None
    trend_method: str | None = None
    projected_value: float | None
    required_yearly_change_pct: float | None
    status: str = Field(description="achieved | missed | on_track | off_track | no_data | "
                                    "incomplete | insufficient_data")
    on_track: bool | None = None
    note: str | None = None
    coverage: Coverage | None = None
    null_reasons: dict[str, str] = Field(default_factory=dict)
    target_set: str | None = None


class TargetsStatusOut(Answer):
    scope: str
    code: str
    as_of_year: int
    as_of: date | str
    base_year: int
    history: dict[int, dict[str, Any]] = Field(
        description="year → its indicators and coverage")
    projection_rule: dict[str, Any] = Field(default_factory=dict)
    status: list[TargetStatusRow]


# --------------------------------------------------------------------------- closing
class CloseOut(Answer):
    period: str
    status: str
    event: int
    version: int | None = None
    ledgers: int | None = None
    park_input_hash: str | None = None
    reason: str | None = None


class PeriodEvent(Answer):
    event: int
    action: str
    reason: str | None
    actor: str | None
    api_key_id: int | None
    ledgers: int | None
    park_input_hash: str | None
    version: int | None
    at: datetime


class ClosedVersion(Answer):
    version: int
    closed_event: int
    closed_at: datetime
    closed_by: str | None
    reason: str | None
    reopened_by: str | None
    reopened_at: datetime | None
    park: dict[str, float | None]
    current: bool
    difference: dict[str, Any] | None


class Verification(Answer):
    all_same: bool
    ledgers: list[dict[str, Any]]


class PeriodDetailOut(Answer):
    """A month's status, its close/reopen events and closed versions; for a closed month the
    frozen input hashes against a recomputation."""

    period: str
    status: str
    events: list[PeriodEvent]
    versions: list[ClosedVersion]
    verification: Verification | None = None
