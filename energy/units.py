"""Energy carriers, their canonical units, and unit conversion.

Units and carriers are data (energy/data/units.yaml, with sources and a version); this module only
reads them. Conversions within one dimension (energy, volume, normal volume, mass) are exact SI
factors. Two conversions cross dimensions and need a property of the meter:

- liquid fuel in litres to tonnes needs the fuel's density (``density_kg_per_l``);
- gas volume at meter conditions (m3) to standard volume (Nm3, GB/T 2589's 101.325 kPa, 20 °C) needs
  the meter's volume correction factor (``normal_volume_factor`` = Nm3 per m3). At 3,650 m the air
  pressure is about 65 kPa, so a low-pressure gas meter's m3 are far from Nm3: never assume 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

import yaml


class UnitError(ValueError):
    """A unit is unknown, not allowed for a carrier, or needs a property the meter lacks."""


@dataclass(frozen=True)
class CarrierSpec:
    """One energy carrier (or metered quantity): stored unit and units meters may declare."""

    carrier: str
    canonical_unit: str
    resolution: float
    """Default smallest step of a reading, canonical unit (what meters of the carrier display)."""
    units: tuple[str, ...]
    summable: bool
    allows_negative: bool
    label_zh: str
    label_en: str


@cache
def _units_data() -> dict[str, Any]:
    text = resources.files("energy").joinpath("data/units.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def units_version() -> str:
    """Version of the units table (energy/data/units.yaml)."""
    return str(_units_data()["version"])


@cache
def _unit_dimension() -> dict[str, tuple[str, float]]:
    """unit -> (dimension, factor to the dimension's base unit)."""
    table: dict[str, tuple[str, float]] = {}
    for dim, spec in _units_data()["dimensions"].items():
        for unit, factor in spec["units"].items():
            table[str(unit)] = (dim, float(factor))
    return table


@cache
def _carriers() -> dict[str, CarrierSpec]:
    out: dict[str, CarrierSpec] = {}
    for name, spec in _units_data()["carriers"].items():
        out[name] = CarrierSpec(
            carrier=name,
            canonical_unit=spec["canonical_unit"],
            resolution=float(spec["resolution"]),
            units=tuple(str(u) for u in spec["units"]),
            summable=bool(spec["summable"]),
            allows_negative=bool(spec.get("allows_negative", False)),
            label_zh=spec["label_zh"],
            label_en=spec["label_en"],
        )
    return out


CARRIERS: dict[str, CarrierSpec] = _carriers()


def _factor(from_unit: str, to_unit: str) -> float:
    """Multiplier between two units of one dimension, from the units table."""
    dims = _unit_dimension()
    return dims[from_unit][1] / dims[to_unit][1]


KWH_PER_MWH: float = _factor("MWh", "kWh")
"""kWh in one MWh (1,000; SI, from energy/data/units.yaml)."""
KW_PER_MW: float = _factor("MW", "kW")
"""kW in one MW (1,000; SI, from energy/data/units.yaml)."""


def carrier_spec(carrier: str) -> CarrierSpec:
    """The spec of ``carrier``; raises UnitError naming the known carriers."""
    try:
        return CARRIERS[carrier]
    except KeyError:
        raise UnitError(
            f"unknown energy carrier {carrier!r}; known: {', '.join(sorted(CARRIERS))}"
        ) from None


def normalise_unit(unit: str) -> str:
    """The table's spelling of ``unit`` (accepts aliases such as 'm³', 'kwh', '吨')."""
    cleaned = unit.strip().replace(" ", "")
    dims = _unit_dimension()
    if cleaned in dims:
        return cleaned
    aliases: dict[str, str] = _units_data()["aliases"]
    if cleaned in aliases:
        return aliases[cleaned]
    raise UnitError(f"unknown unit {unit!r}; known: {', '.join(sorted(dims))}")


def check_unit_for_carrier(unit: str, carrier: str) -> str:
    """Normalised ``unit`` if a meter of ``carrier`` may declare it; UnitError otherwise."""
    spec = carrier_spec(carrier)
    norm = normalise_unit(unit)
    if norm not in spec.units:
        raise UnitError(
            f"unit {unit!r} is not allowed for {carrier}; allowed: {', '.join(spec.units)}"
        )
    return norm


def conversion_factor(
    from_unit: str,
    to_unit: str,
    *,
    density_kg_per_l: float | None = None,
    normal_volume_factor: float | None = None,
) -> float:
    """Multiplier turning a value in ``from_unit`` into ``to_unit``.

    Litres convert to a mass only with ``density_kg_per_l``; m3 to Nm3 only with
    ``normal_volume_factor`` (Nm3 per m3 at the meter's pressure and temperature).
    """
    src, dst = normalise_unit(from_unit), normalise_unit(to_unit)
    dims = _unit_dimension()
    src_dim, src_factor = dims[src]
    dst_dim, dst_factor = dims[dst]
    if src_dim == dst_dim:
        return src_factor / dst_factor
    if src_dim == "volume" and dst_dim == "mass":
        if density_kg_per_l is None or density_kg_per_l <= 0:
            raise UnitError(
                f"{src} converts to {dst} only with the fuel's density (density_kg_per_l)"
            )
        litres = src_factor / dims["L"][1]
        return litres * density_kg_per_l / dst_factor
    if src_dim == "volume" and dst_dim == "normal_volume":
        if normal_volume_factor is None or normal_volume_factor <= 0:
            raise UnitError(
                f"{src} converts to {dst} only with the meter's volume correction factor "
                "(normal_volume_factor, Nm3 per m3 at meter pressure and temperature)"
            )
        return src_factor * normal_volume_factor / dst_factor
    raise UnitError(f"cannot convert {src} ({src_dim}) to {dst} ({dst_dim})")


def to_canonical_factor(
    unit: str,
    carrier: str,
    *,
    density_kg_per_l: float | None = None,
    normal_volume_factor: float | None = None,
) -> float:
    """Multiplier from a meter's declared ``unit`` to its carrier's canonical unit."""
    norm = check_unit_for_carrier(unit, carrier)
    return conversion_factor(
        norm,
        carrier_spec(carrier).canonical_unit,
        density_kg_per_l=density_kg_per_l,
        normal_volume_factor=normal_volume_factor,
    )


def round_to_resolution(value: float, resolution: float) -> float:
    """``value`` rounded to the nearest multiple of ``resolution`` (ties to even; both in one
    unit), with no more decimals than ``resolution`` has: 35.199999999999996 at 0.01 is 35.2.
    Non-finite values and non-positive resolutions are returned unchanged."""
    if not (resolution > 0 and abs(value) < float("inf") and resolution < float("inf")):
        return value
    exponent = Decimal(repr(resolution)).normalize().as_tuple().exponent
    decimals = max(0, -exponent) if isinstance(exponent, int) else 0
    return round(round(value / resolution) * resolution, decimals) + 0.0
