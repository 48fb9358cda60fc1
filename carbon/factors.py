"""Versioned reference factor sets (carbon/data/factor_sets/<version>.yaml).

Each value keeps the unit, source and year it was published with; lookups raise
`UnknownFactorError` (a `LookupError`) naming what is known, never a silent default.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

FACTOR_SET_DIR = Path(__file__).parent / "data" / "factor_sets"

#: Multipliers from a source unit to tce (tonne of standard coal) per canonical physical unit.
#: Canonical units: t (solid/liquid fuels, steam), m3 (gas), kWh (electricity), GJ (heat).
_TCE_PER_CANONICAL_UNIT: dict[str, tuple[float, str]] = {
    "kgce/kg": (1.0, "t"),  # kgce per kg == tce per t
    "kgce/t": (1e-3, "t"),
    "kgce/m3": (1e-3, "m3"),
    "kgce/kWh": (1e-3, "kWh"),
    "kgce/MJ": (1.0, "GJ"),  # kgce per MJ == tce per GJ
}

#: tC -> tCO2 (molar masses 44/12).
CO2_PER_C: float = 44.0 / 12.0


class UnknownFactorError(LookupError):
    """A factor, carrier, year, region or factor set is not in the factor set."""


class ProvinceFactorUnavailable(UnknownFactorError):
    """The MEE publishes no factor for this province (e.g. Tibet): use the policy's fallback."""


@dataclass(frozen=True)
class Factor:
    """One reference value as published: `value` in `unit`, with provenance."""

    key: str
    value: float
    unit: str
    source: str
    year: int
    confidence: str = ""
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = {
            "key": self.key,
            "value": self.value,
            "unit": self.unit,
            "source": self.source,
            "year": self.year,
            "confidence": self.confidence,
        }
        if self.note:
            out["note"] = self.note
        return out


@dataclass(frozen=True)
class FuelFactor:
    """Combustion CO2 parameters of one fuel, per canonical unit (`unit`: t or m3)."""

    carrier: str
    method: str  # "cn_default" or "ipcc_2006"
    unit: str
    ncv_gj_per_unit: float
    co2_t_per_unit: float
    parameters: dict[str, Any]
    source: str
    year: int
    confidence: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": f"fuel_co2.{self.method}.{self.carrier}",
            "value": self.co2_t_per_unit,
            "unit": f"tCO2/{self.unit}",
            "source": self.source,
            "year": self.year,
            "confidence": self.confidence,
            "parameters": dict(self.parameters),
        }


def _factor(key: str, raw: dict[str, Any], note: str = "") -> Factor:
    return Factor(
        key=key,
        value=float(raw["value"]),
        unit=str(raw["unit"]),
        source=str(raw["source"]),
        year=int(raw["year"]),
        confidence=str(raw.get("confidence", "")),
        note=note,
    )


@dataclass(frozen=True)
class FactorSet:
    """A loaded factor set; `version` names the data file it came from."""

    version: str
    compiled: str
    description: str
    raw: dict[str, Any] = field(repr=False)

    # ---------- standard coal (GB/T 2589) ----------
    def standard_coal(self, key: str) -> Factor:
        """Published coefficient, e.g. `standard_coal("diesel")` -> 1.4571 kgce/kg."""
        table = self.raw["standard_coal"]
        if key not in table:
            raise UnknownFactorError(
                f"no standard-coal coefficient {key!r} in factor set {self.version}; "
                f"known: {sorted(table)}"
            )
        return _factor(f"standard_coal.{key}", table[key])

    def tce_per_unit(self, key: str) -> tuple[float, str, Factor]:
        """(tce per canonical unit, canonical unit, source factor) for a standard-coal key."""
        f = self.standard_coal(key)
        if f.unit not in _TCE_PER_CANONICAL_UNIT:
            raise UnknownFactorError(f"unit {f.unit!r} of {f.key} has no tce conversion")
        mult, unit = _TCE_PER_CANONICAL_UNIT[f.unit]
        return f.value * mult, unit, f

    def electricity_generation_coal(self, year: int) -> Factor:
        """Fossil-generation coal use (gce/kWh) for electricity at 等价值; latest year <= `year`."""
        series = self.raw["electricity_generation_coal"]
        y = self._year_at_or_before(series, year, "electricity_generation_coal")
        return _factor(f"electricity_generation_coal.{y}", series[y])

    # ---------- electricity CO2 (MEE/NBS) ----------
    def electricity_co2(self, kind: str, year: int) -> Factor:
        """National factor: kind in {national_average, national_residual, national_fossil};
        the latest published year <= `year` (the year used is `Factor.year`)."""
        table = self.raw["electricity_co2"]
        if kind not in table or kind in ("regions", "provinces", "unpublished_provinces"):
            known = [k for k in table if k.startswith("national")]
            raise UnknownFactorError(
                f"unknown national electricity factor {kind!r}; known: {known}"
            )
        y = self._year_at_or_before(table[kind], year, f"electricity_co2.{kind}")
        return _factor(f"electricity_co2.{kind}.{y}", table[kind][y])

    def electricity_co2_region(self, region: str, year: int) -> Factor:
        regions = self.raw["electricity_co2"]["regions"]
        if region not in regions:
            raise UnknownFactorError(f"unknown grid region {region!r}; known: {sorted(regions)}")
        y = self._year_at_or_before(regions[region], year, f"electricity_co2.regions.{region}")
        return _factor(f"electricity_co2.regions.{region}.{y}", regions[region][y])

    def electricity_co2_province(self, province: str, year: int) -> Factor:
        table = self.raw["electricity_co2"]
        if province in table.get("unpublished_provinces", []):
            raise ProvinceFactorUnavailable(
                f"the MEE publishes no provincial electricity factor for {province!r} "
                f"(factor set {self.version}); set a fallback in AccountingPolicy"
            )
        provinces = table["provinces"]
        if province not in provinces:
            raise UnknownFactorError(
                f"unknown province {province!r}; known: {sorted(provinces)}"
            )
        y = self._year_at_or_before(provinces[province], year, f"provinces.{province}")
        return _factor(f"electricity_co2.provinces.{province}.{y}", provinces[province][y])

    def heat_co2(self) -> Factor:
        return _factor("heat_co2.default", self.raw["heat_co2"]["default"])

    # ---------- fossil fuels ----------
    def fuel(self, carrier: str, method: str = "cn_default") -> FuelFactor:
        """CO2 per canonical unit of `carrier` (coal, diesel, gasoline, lpg, natural_gas)."""
        fuels = self.raw["fuels"]
        if method not in fuels:
            raise UnknownFactorError(
                f"unknown fuel-factor method {method!r}; known: {sorted(fuels)}"
            )
        if carrier not in fuels[method]:
            raise UnknownFactorError(
                f"no {method} fuel factor for carrier {carrier!r}; known: {sorted(fuels[method])}"
            )
        p = fuels[method][carrier]
        ncv = float(p["ncv"])
        if method == "cn_default":
            # tCO2/unit = NCV (GJ/unit) x CC (tC/TJ) / 1000 x OF x 44/12
            co2 = ncv * float(p["carbon_content"]) / 1000.0 * float(p["oxidation"]) * CO2_PER_C
        else:
            # tCO2/unit = NCV (GJ/unit) x EF (kgCO2/TJ) / 1e6 x OF
            co2 = ncv * float(p["emission_factor"]) / 1e6 * float(p["oxidation"])
        params = {k: v for k, v in p.items() if k not in ("source", "year", "confidence")}
        return FuelFactor(
            carrier=carrier,
            method=method,
            unit=str(p["unit"]),
            ncv_gj_per_unit=ncv,
            co2_t_per_unit=co2,
            parameters=params,
            source=str(p["source"]),
            year=int(p["year"]),
            confidence=str(p.get("confidence", "")),
        )

    # ---------- helpers ----------
    def _year_at_or_before(self, series: dict[int, Any], year: int, what: str) -> int:
        years = sorted(int(y) for y in series)
        usable = [y for y in years if y <= year]
        if not usable:
            raise UnknownFactorError(
                f"{what}: no factor published for {year} or earlier in factor set "
                f"{self.version}; available years: {years}"
            )
        return usable[-1]


def available_factor_sets() -> list[str]:
    """Versions of the factor-set files shipped with the package, sorted."""
    return sorted(p.stem for p in FACTOR_SET_DIR.glob("*.yaml"))


@cache
def load_factor_set(version: str | None = None) -> FactorSet:
    """Load a factor set by version (file stem); None = the newest (last in sorted order)."""
    versions = available_factor_sets()
    if not versions:
        raise UnknownFactorError(f"no factor sets in {FACTOR_SET_DIR}")
    chosen = versions[-1] if version is None else version
    if chosen not in versions:
        raise UnknownFactorError(f"unknown factor set {chosen!r}; available: {versions}")
    raw = yaml.safe_load((FACTOR_SET_DIR / f"{chosen}.yaml").read_text(encoding="utf-8"))
    if raw.get("version") != chosen:
        raise UnknownFactorError(
            f"factor-set file {chosen}.yaml declares version {raw.get('version')!r}"
        )
    return FactorSet(
        version=chosen,
        compiled=str(raw.get("compiled", "")),
        description=str(raw.get("description", "")),
        raw=raw,
    )
