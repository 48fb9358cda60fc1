"""Accounting settings for everything the sources leave open (carbon/data/policy_default.yaml)."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

POLICY_DIR = Path(__file__).parent / "data"
DEFAULT_POLICY_FILE = POLICY_DIR / "policy_default.yaml"

ELECTRICITY_TCE_BASES = ("equivalent", "coal_equivalent_of_generation")
ELECTRICITY_METHODS = ("market_based", "location_based")
INSTRUMENTS = ("direct_green_supply", "green_power_trades", "green_certificates")
CLEAN_SOURCES = ("onsite_pv", "green_electricity", "natural_gas", "heat")
ASSESSMENT_RULES = ("non_fossil_2024", "new_renewable_2022", "none")
"""How renewable electricity is deducted in the energy-consumption assessment (see
policy_default.yaml): from total and intensity (发改环资〔2024〕113号), from the total only
(发改运行〔2022〕1258号), or not at all."""


class PolicyError(ValueError):
    """A policy value is outside its documented options."""


@dataclass(frozen=True)
class AccountingPolicy:
    """Settings with documented defaults; see policy_default.yaml for each one's reason."""

    name: str
    version: str
    factor_set_version: str | None
    electricity_tce_basis: str
    natural_gas_standard_coal_key: str
    natural_gas_m3_per_nm3: float
    steam_net_enthalpy_gj_per_t: float | None
    fuel_factor_method: str
    electricity_province: str
    electricity_location_fallback: str
    electricity_factor_year: int | None
    electricity_export_netting: bool
    co2_total_electricity_method: str
    deductible_instruments: tuple[str, ...]
    direct_green_supply_zero_in_location_based: bool
    clean_energy_sources: tuple[str, ...]
    grid_electricity_clean_share_pct: float
    small_park_core_threshold_t_per_tce: float
    milestone_rule: str
    trend_method: str
    pool_instruments_in_park: bool = False
    energy_assessment_rule: str = "non_fossil_2024"

    def __post_init__(self) -> None:
        def check(field: str, value: Any, options: tuple[str, ...]) -> None:
            if value not in options:
                raise PolicyError(f"{field}={value!r}; options: {list(options)}")

        check("electricity_tce_basis", self.electricity_tce_basis, ELECTRICITY_TCE_BASES)
        check("co2_total_electricity_method", self.co2_total_electricity_method,
              ELECTRICITY_METHODS)
        check("fuel_factor_method", self.fuel_factor_method, ("cn_default", "ipcc_2006"))
        check("milestone_rule", self.milestone_rule, ("linear_from_base", "none"))
        check("trend_method", self.trend_method, ("compound", "linear"))
        check("energy_assessment_rule", self.energy_assessment_rule, ASSESSMENT_RULES)
        for inst in self.deductible_instruments:
            check("deductible_instruments", inst, INSTRUMENTS)
        for src in self.clean_energy_sources:
            check("clean_energy_sources", src, CLEAN_SOURCES)
        fb = self.electricity_location_fallback
        if fb != "national_average" and not fb.startswith("region:"):
            raise PolicyError(
                f"electricity_location_fallback={fb!r}; use 'national_average' or 'region:<name>'"
            )
        if not 0.0 <= self.grid_electricity_clean_share_pct <= 100.0:
            raise PolicyError("grid_electricity_clean_share_pct must be within 0..100")
        if self.natural_gas_m3_per_nm3 <= 0:
            raise PolicyError("natural_gas_m3_per_nm3 must be > 0")

    def to_dict(self) -> dict[str, Any]:
        return {
            f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v)
            for f in dataclasses.fields(self)
        }


def shipped_policies() -> list[str]:
    """Names of the policies shipped as carbon/data/policy_<name>.yaml ("default", ...)."""
    return sorted(p.stem.removeprefix("policy_") for p in POLICY_DIR.glob("policy_*.yaml"))


def shipped_policy_document(name: str) -> dict[str, Any]:
    """The mapping of shipped policy ``name``; PolicyError for any other name. Only listed names
    are read, so a name never reaches the file system as a path."""
    if name not in shipped_policies():
        raise PolicyError("unknown accounting policy")
    path = POLICY_DIR / f"policy_{name}.yaml"
    return dict(yaml.safe_load(path.read_text(encoding="utf-8")))


def parse_policy(raw: Mapping[str, Any], **overrides: Any) -> AccountingPolicy:
    """A policy from its mapping (each setting as ``{value: ..., doc: ...}`` like the shipped
    file, or the bare value) with keyword overrides; PolicyError naming the bad setting."""
    if not isinstance(raw, Mapping):
        raise PolicyError("a policy must be a mapping")
    values: dict[str, Any] = {"name": str(raw.get("name", "default")),
                              "version": str(raw.get("version", ""))}
    for f in dataclasses.fields(AccountingPolicy):
        if f.name in ("name", "version"):
            continue
        if f.name not in raw and f.default is not dataclasses.MISSING:
            continue
        if f.name not in raw:
            raise PolicyError(f"policy lacks {f.name!r}")
        entry = raw[f.name]
        values[f.name] = entry["value"] if isinstance(entry, Mapping) else entry
    unknown = set(overrides) - set(values)
    if unknown:
        raise PolicyError(f"unknown policy settings: {sorted(unknown)}")
    values.update(overrides)
    for key in ("deductible_instruments", "clean_energy_sources"):
        if not isinstance(values[key], list | tuple):
            raise PolicyError(f"{key} must be a list")
        values[key] = tuple(values[key])
    try:
        return AccountingPolicy(**values)
    except (TypeError, AttributeError) as exc:
        raise PolicyError(str(exc)) from None


def load_policy(path: str | Path | None = None, **overrides: Any) -> AccountingPolicy:
    """Read a policy file (default: the shipped defaults) and apply keyword overrides. A path is
    for local use (the command line); the API chooses policies by name."""
    file = Path(path or DEFAULT_POLICY_FILE)
    stat = file.stat()
    raw = _policy_document(str(file.resolve()), stat.st_mtime_ns, stat.st_size)
    return parse_policy(copy.deepcopy(raw), **overrides)


@lru_cache(maxsize=32)
def _policy_document(path: str, mtime_ns: int, size: int) -> Any:
    """A policy file's document, parsed once per file version (modification time and size)."""
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


def policy_by_name(name: str, **overrides: Any) -> AccountingPolicy:
    """Shipped policy ``name`` with keyword overrides."""
    return parse_policy(shipped_policy_document(name), **overrides)
