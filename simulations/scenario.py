"""The scenario file (YAML or JSON), validated with pydantic; errors name the field.

A scenario says which park is simulated over which years (default 2026–2030 plus the 2025 base
year for accounting only) with which load, rooftop PV build-out, direct renewable line, storage,
dispatch strategy, tariff, grid emission factors, value added, green certificates and costs.
Paths inside a file (a load CSV, a tariff YAML) are relative to the file's folder.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

DATA_DIR = Path(__file__).parent / "data"

NonNegative = Annotated[float, Field(ge=0)]
Positive = Annotated[float, Field(gt=0)]
Year = Annotated[int, Field(ge=2000, le=2100)]


class ScenarioError(ValueError):
    """A scenario (or sweep) file is invalid. ``errors``: [{"field": dotted path, "message"}]."""

    def __init__(self, errors: list[dict[str, str]], source: str = "scenario") -> None:
        self.errors = errors
        self.source = source
        lines = [f"{e['field'] or '(root)'}: {e['message']}" for e in errors]
        super().__init__(f"invalid {source}:\n  " + "\n  ".join(lines))


@cache
def load_profiles() -> dict[str, Any]:
    """The industry load shapes (simulations/data/load_profiles.yaml)."""
    data: dict[str, Any] = yaml.safe_load(
        (DATA_DIR / "load_profiles.yaml").read_text(encoding="utf-8"))
    return data


class _Model(BaseModel):
    """Base of every part of a scenario: no float takes NaN or ±Infinity (YAML ``.inf``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


_T = TypeVar("_T")


def _finite_tree(value: _T) -> _T:
    """``value`` unchanged if every number in it (nested dicts/lists) is finite."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"numbers must be finite, not {value}")
    if isinstance(value, dict):
        for v in value.values():
            _finite_tree(v)
    elif isinstance(value, list | tuple):
        for v in value:
            _finite_tree(v)
    return value


class SiteSpec(_Model):
    """Site coordinates; ``None`` fields take the Lhasa ETDZ reference site (energy/data)."""

    latitude_deg: Annotated[float, Field(ge=-90, le=90)] | None = None
    longitude_deg: Annotated[float, Field(ge=-180, le=180)] | None = None
    altitude_m: Annotated[float, Field(ge=-500, le=9000)] | None = None
    tz: str | None = None


class PhaseSpec(_Model):
    id: str
    start_year: Year
    end_year: Year
    title: str = ""

    @model_validator(mode="after")
    def _order(self) -> PhaseSpec:
        if self.end_year < self.start_year:
            raise ValueError("end_year must be >= start_year")
        return self


class LoadSegment(_Model):
    """One zone × industry block of the synthetic park load (energy in the base year)."""

    zone: str = ""
    industry: str
    base_energy_mwh: NonNegative
    growth_pct_per_year: Annotated[float, Field(gt=-100)] = 0.0

    @field_validator("industry")
    @classmethod
    def _known_industry(cls, v: str) -> str:
        known = sorted(load_profiles()["industries"])
        if v not in known:
            raise ValueError(f"unknown industry {v!r}; known: {known}")
        return v


class SyntheticLoad(_Model):
    kind: Literal["synthetic"] = "synthetic"
    segments: Annotated[list[LoadSegment], Field(min_length=1)]


class SeriesLoad(_Model):
    """A load series given by the caller: ``csv`` (a file with a ``load_kw`` column, one value per
    step of one year) or inline ``values_kw``. Laid on each simulated year by position (repeated
    or cut to the year's length); scaled to ``base_energy_mwh`` in the base year if given, then
    grown by ``growth_pct_per_year``."""

    kind: Literal["series"]
    csv: str | None = None
    column: str = "load_kw"
    values_kw: list[NonNegative] | None = None
    base_energy_mwh: NonNegative | None = None
    growth_pct_per_year: Annotated[float, Field(gt=-100)] = 0.0

    @model_validator(mode="after")
    def _one_source(self) -> SeriesLoad:
        if (self.csv is None) == (self.values_kw is None):
            raise ValueError("give exactly one of csv, values_kw")
        if self.values_kw is not None and len(self.values_kw) < 24:
            raise ValueError("values_kw needs at least one day of values")
        return self


class FuelSpec(_Model):
    """Non-electric energy in the base year (keys of carbon.ENERGY_INPUTS) and its growth."""

    base: dict[str, NonNegative] = Field(default_factory=dict)
    growth_pct_per_year: Annotated[float, Field(gt=-100)] = 0.0

    @field_validator("base")
    @classmethod
    def _known_keys(cls, v: dict[str, float]) -> dict[str, float]:
        from carbon import ENERGY_INPUTS

        electric = {"electricity_import_kwh", "electricity_export_kwh", "pv_generation_kwh"}
        bad = sorted(k for k in v if k not in ENERGY_INPUTS or k in electric)
        if bad:
            allowed = sorted(set(ENERGY_INPUTS) - electric)
            raise ValueError(f"unknown fuel inputs {bad}; allowed: {allowed}")
        return v


class PVBuild(_Model):
    """Rooftop PV commissioned in ``year`` (in service from 1 January of that year)."""

    year: Year
    capacity_kwp: NonNegative
    zone: str = ""
    enterprise: str = ""
    tilt_deg: Annotated[float, Field(ge=0, le=90)] = 25.0
    azimuth_deg: Annotated[float, Field(ge=0, lt=360)] = 180.0
    mounting: Literal["roof_flush", "open_rack"] = "roof_flush"
    dc_ac_ratio: Annotated[float, Field(gt=0.5, le=2.0)] | None = None
    capex_yuan_per_kwp: NonNegative | None = None


class DirectLine(_Model):
    """A direct renewable supply line (绿电直连) delivering ``annual_energy_mwh`` a year at most
    ``power_mw``. Shape 'flat' (constant) or 'solar' (the rooftop PV shape of the typical year)."""

    power_mw: Positive
    annual_energy_mwh: NonNegative
    start_year: Year
    shape: Literal["flat", "solar"] = "flat"
    price_yuan_per_mwh: NonNegative = 0.0

    @model_validator(mode="after")
    def _fits(self) -> DirectLine:
        if self.annual_energy_mwh > self.power_mw * 8760:
            raise ValueError(
                f"annual_energy_mwh {self.annual_energy_mwh:g} exceeds power_mw × 8760 h "
                f"= {self.power_mw * 8760:g}")
        return self


class StorageUnit(_Model):
    """A storage station. Parameters not given come from energy.storage.default_station()."""

    power_mw: NonNegative
    energy_mwh: NonNegative
    in_service_year: Year
    parameters: dict[str, Any] = Field(default_factory=dict)
    capex_yuan_per_kwh: NonNegative | None = None

    @field_validator("parameters")
    @classmethod
    def _known_parameters(cls, v: dict[str, Any]) -> dict[str, Any]:
        from energy.storage import BatterySpec

        names = set(BatterySpec.__dataclass_fields__) - {
            "power_charge_mw", "power_discharge_mw", "energy_mwh",
            "grid_import_limit_mw", "grid_export_limit_mw"}
        bad = sorted(set(v) - names)
        if bad:
            raise ValueError(f"unknown storage parameters {bad}; allowed: {sorted(names)}")
        return _finite_tree(v)


def _default_storage() -> list[StorageUnit]:
    """The plan's 63 MW / 252 MWh station, in service from 2029 (size from the data file)."""
    from energy.storage import default_station

    spec = default_station()
    return [StorageUnit(power_mw=spec.power_discharge_mw, energy_mwh=spec.energy_mwh,
                        in_service_year=2029)]


class DispatchSpec(_Model):
    strategy: Literal["optimal", "rule", "none"] = "optimal"
    carbon_price_yuan_per_tco2: NonNegative = 0.0
    curtailment_penalty_yuan_per_mwh: NonNegative = 0.0


class GridSpec(_Model):
    import_limit_mw: Positive | None = None
    export_limit_mw: NonNegative | None = None


class GridEmissionFactors(_Model):
    """Grid CO2 factor paths, tCO2/MWh by year (linear between given years, flat outside).
    ``location_tco2_per_mwh`` replaces the national average (the location-based fallback for
    Tibet); ``residual_tco2_per_mwh`` the market-based residual (default: the location path).
    Empty = the published MEE factors of carbon/ (latest year ≤ the simulated year)."""

    location_tco2_per_mwh: dict[Year, NonNegative] = Field(default_factory=dict)
    residual_tco2_per_mwh: dict[Year, NonNegative] = Field(default_factory=dict)


class ValueAdded(_Model):
    """Industrial value added at comparable prices, 10k yuan: base year value and growth, or
    values by year (by_year wins where given)."""

    base_10k_yuan: Positive | None = None
    growth_pct_per_year: Annotated[float, Field(gt=-100)] = 0.0
    by_year: dict[Year, Positive] = Field(default_factory=dict)


class GreenCertificates(_Model):
    mwh_by_year: dict[Year, NonNegative] = Field(default_factory=dict)
    price_yuan_per_mwh: NonNegative = 0.0


class Costs(_Model):
    """Capex annuity inputs (optional): annuity = capex × r / (1 − (1 + r)^−n) per year in service
    within the lifetime; O&M per year. Per-build capex overrides the defaults here."""

    discount_rate_pct: Annotated[float, Field(ge=0, le=50)] = 6.0
    pv_capex_yuan_per_kwp: NonNegative = 0.0
    pv_lifetime_years: Annotated[int, Field(ge=1, le=60)] = 25
    pv_om_yuan_per_kwp_year: NonNegative = 0.0
    storage_capex_yuan_per_kwh: NonNegative = 0.0
    storage_lifetime_years: Annotated[int, Field(ge=1, le=60)] = 15
    storage_om_yuan_per_kwh_year: NonNegative = 0.0


class Scenario(_Model):
    """One planning scenario. Units are in the field names."""

    name: str = "scenario"
    description: str = ""
    site: SiteSpec = SiteSpec()
    start_year: Year = 2026
    end_year: Year = 2030
    base_year: Year = 2025
    step: Literal["1h", "15min"] = "1h"
    phases: list[PhaseSpec] | None = None
    target_sets: list[Literal["plan", "zero_carbon_park"]] = ["plan", "zero_carbon_park"]
    load: SyntheticLoad | SeriesLoad = Field(discriminator="kind")
    fuels: FuelSpec = FuelSpec()
    pv: list[PVBuild] = Field(default_factory=list)
    pv_scale: NonNegative = 1.0
    direct_lines: list[DirectLine] = Field(default_factory=list)
    storage: list[StorageUnit] = Field(default_factory=_default_storage)
    dispatch: DispatchSpec = DispatchSpec()
    grid: GridSpec = GridSpec()
    tariff: str | dict[str, Any] = "example_tou_illustrative"
    """A shipped tariff's name, a local YAML file (relative to the scenario file), or the
    tariff itself as a mapping."""
    grid_emission_factors: GridEmissionFactors = GridEmissionFactors()
    value_added: ValueAdded
    green_certificates: GreenCertificates = GreenCertificates()
    costs: Costs = Costs()
    accounting_policy: dict[str, Any] = Field(default_factory=dict)

    @field_validator("accounting_policy")
    @classmethod
    def _finite_policy(cls, v: dict[str, Any]) -> dict[str, Any]:
        return _finite_tree(v)

    @field_validator("end_year")
    @classmethod
    def _end_after_start(cls, v: int, info: ValidationInfo) -> int:
        start = info.data.get("start_year")
        if start is not None and v < start:
            raise ValueError(f"end_year {v} is before start_year {start}")
        return v

    @field_validator("base_year")
    @classmethod
    def _base_before_start(cls, v: int, info: ValidationInfo) -> int:
        start = info.data.get("start_year")
        if start is not None and v >= start:
            raise ValueError(f"base_year {v} must be before start_year {start}")
        return v

    @field_validator("value_added")
    @classmethod
    def _value_added_every_year(cls, va: ValueAdded, info: ValidationInfo) -> ValueAdded:
        base, end = info.data.get("base_year"), info.data.get("end_year")
        if va.base_10k_yuan is None and base is not None and end is not None:
            missing = [y for y in range(base, end + 1) if y not in va.by_year]
            if missing:
                raise ValueError(f"give base_10k_yuan or by_year for {missing}")
        return va

    @property
    def years(self) -> list[int]:
        return list(range(self.start_year, self.end_year + 1))

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def _field_path(loc: tuple[Any, ...]) -> str:
    # drop pydantic's union tags (e.g. 'synthetic' inside load) from the path
    parts = [str(p) for p in loc if not (isinstance(p, str) and p in ("synthetic", "series"))]
    return ".".join(parts)


def validation_errors(exc: ValidationError) -> list[dict[str, str]]:
    """pydantic errors as [{"field": "pv.0.capacity_kwp", "message": "..."}]."""
    out = []
    for e in exc.errors():
        msg = str(e["msg"]).removeprefix("Value error, ")
        out.append({"field": _field_path(tuple(e["loc"])), "message": msg})
    return out


def parse_scenario(data: Mapping[str, Any], base_dir: Path | None = None) -> Scenario:
    """Validate a scenario mapping; raise :class:`ScenarioError` naming each bad field.
    Relative file paths (load CSV, tariff YAML) are resolved against ``base_dir``."""
    if not isinstance(data, Mapping):
        raise ScenarioError([{"field": "", "message": "a scenario must be a mapping"}])
    raw = copy.deepcopy(dict(data))
    if base_dir is not None:
        load = raw.get("load")
        if isinstance(load, dict) and isinstance(load.get("csv"), str):
            load["csv"] = str((base_dir / load["csv"]).resolve())
        tariff = raw.get("tariff")
        if isinstance(tariff, str) and (base_dir / tariff).is_file():
            raw["tariff"] = str((base_dir / tariff).resolve())
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        raise ScenarioError(validation_errors(exc)) from None


def read_mapping(path: str | Path, what: str = "scenario") -> dict[str, Any]:
    """Read a YAML or JSON file into a mapping (ScenarioError on a syntax error)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError([{"field": "", "message": f"cannot read {p}: {exc}"}], what) from None
    try:
        data = json.loads(text) if p.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ScenarioError([{"field": "", "message": f"{p.name}: {exc}"}], what) from None
    if not isinstance(data, dict):
        raise ScenarioError([{"field": "", "message": f"{p.name}: top level must be a mapping"}],
                            what)
    return data


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file (``.yaml``/``.yml`` or ``.json``)."""
    p = Path(path)
    return parse_scenario(read_mapping(p), base_dir=p.parent)


def set_dotted(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``data`` with ``path`` ('storage.0.energy_mwh') set to ``value``.
    Missing mapping keys are created; list indices must exist."""
    out = copy.deepcopy(data)
    node: Any = out
    keys = path.split(".")
    for i, key in enumerate(keys):
        last = i == len(keys) - 1
        if isinstance(node, list):
            try:
                idx = int(key)
                node[idx]  # index check
            except (ValueError, IndexError):
                raise ScenarioError([{"field": ".".join(keys[: i + 1]),
                                      "message": f"no list item {key!r}"}], "sweep") from None
            if last:
                node[idx] = value
            else:
                node = node[idx]
        elif isinstance(node, dict):
            if last:
                node[key] = value
            else:
                node = node.setdefault(key, {})
        else:
            raise ScenarioError([{"field": ".".join(keys[:i]),
                                  "message": "not a mapping or list"}], "sweep")
    return out
