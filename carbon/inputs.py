"""Inputs of the ledger: metered energy by carrier (canonical physical units) and activity data."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

#: Accepted energy input keys -> (carrier, canonical unit). The unit is part of the key.
ENERGY_INPUTS: dict[str, tuple[str, str]] = {
    # all electricity received across the boundary, direct green lines included
    "electricity_import_kwh": ("electricity_import", "kWh"),
    "electricity_export_kwh": ("electricity_export", "kWh"),
    "pv_generation_kwh": ("pv_generation", "kWh"),  # on-site PV, total generated
    "natural_gas_m3": ("natural_gas", "m3"),  # standard-condition volume, see policy
    "natural_gas_nm3": ("natural_gas", "Nm3"),
    "heat_gj": ("heat", "GJ"),  # purchased heat (hot water etc.)
    "heat_export_gj": ("heat_export", "GJ"),
    "steam_gj": ("steam", "GJ"),  # purchased steam, metered as energy
    "steam_t": ("steam", "t"),  # purchased steam, metered as mass
    "water_m3": ("water", "m3"),  # not energy: reported in physical units only
    "diesel_t": ("diesel", "t"),
    "gasoline_t": ("gasoline", "t"),
    "lpg_t": ("lpg", "t"),
    "coal_t": ("coal", "t"),
}

FUEL_CARRIERS: tuple[str, ...] = ("natural_gas", "diesel", "gasoline", "lpg", "coal")

_PERIOD_RE = re.compile(r"^(\d{4})(-(0[1-9]|1[0-2])|-Q[1-4])?$")


class InputError(ValueError):
    """An input is unknown, negative, missing (NaN) or inconsistent."""


def _check_quantity(name: str, value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name}: not a number: {value!r}") from exc
    if math.isnan(v):
        raise InputError(f"{name}: missing value (NaN); fill the gap or leave the key out")
    if math.isinf(v) or v < 0:
        raise InputError(f"{name}: must be a finite value >= 0, got {v}")
    return v


def normalise_energy(energy_by_carrier: Mapping[str, Any]) -> dict[str, float]:
    """Validate keys/values (a dict or a pandas Series) and return {key: float}, sorted by key."""
    given = dict(energy_by_carrier.items())  # a pandas Series iterates values, not keys
    out: dict[str, float] = {}
    for key in sorted(given, key=str):
        if key not in ENERGY_INPUTS:
            raise InputError(f"unknown energy input {key!r}; known: {sorted(ENERGY_INPUTS)}")
        out[key] = _check_quantity(key, given[key])
    return out


def period_year(period: str) -> int:
    """Calendar year of a period 'YYYY', 'YYYY-MM' or 'YYYY-Qn'."""
    m = _PERIOD_RE.match(period)
    if not m:
        raise InputError(f"period {period!r}: use 'YYYY', 'YYYY-MM' or 'YYYY-Qn'")
    return int(m.group(1))


@dataclass(frozen=True)
class Activity:
    """Recorded activity data for one entity and period. None = not recorded (never a fake 0).

    green_certificates_mwh: unbundled 绿证 retired for this entity/period (1 certificate = 1 MWh);
    certificates that came with a recorded green-power trade belong in green_power_trades_mwh only.
    direct_green_supply_mwh: part of electricity_import_kwh delivered by a direct green line.
    value_added_10k_yuan: industrial value added at comparable prices (statistics bureau).
    bunker_fuels: part of the fuel inputs used for international aviation/shipping, keyed like the
    energy inputs (e.g. {"diesel_t": 2.0}); listed apart, not deducted (附件4).
    """

    green_certificates_mwh: float = 0.0
    green_power_trades_mwh: float = 0.0
    direct_green_supply_mwh: float = 0.0
    process_co2_t: float = 0.0
    value_added_10k_yuan: float | None = None
    solid_waste_generated_t: float | None = None
    solid_waste_utilised_t: float | None = None
    solid_waste_utilised_from_storage_t: float | None = None
    waste_heat_available_gj: float | None = None
    waste_heat_used_gj: float | None = None
    water_withdrawn_m3: float | None = None
    water_reused_m3: float | None = None
    cod_kg: float | None = None
    bunker_fuels: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if name == "bunker_fuels" or value is None:
                continue
            _check_quantity(name, value)
        for key, value in self.bunker_fuels.items():
            if key not in ENERGY_INPUTS or ENERGY_INPUTS[key][0] not in FUEL_CARRIERS:
                raise InputError(f"bunker_fuels: {key!r} is not a fuel input")
            _check_quantity(f"bunker_fuels.{key}", value)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d = {k: (None if v is None else float(v)) for k, v in d.items() if k != "bunker_fuels"}
        d["bunker_fuels"] = {k: float(v) for k, v in sorted(self.bunker_fuels.items())}
        return d


def sum_energy(inputs: list[Mapping[str, Any]]) -> dict[str, float]:
    """Sum energy inputs of several entities (e.g. a park from its enterprises' meters).

    Only valid when the entities' meters together form the park boundary: power one enterprise
    exports to another inside the park is then import and export at once, and netting removes it.
    """
    total: dict[str, float] = {}
    for item in inputs:
        for key, value in normalise_energy(item).items():
            total[key] = total.get(key, 0.0) + value
    return dict(sorted(total.items()))


def combine_activities(activities: list[Activity]) -> Activity:
    """Park activity from its enterprises': instruments, process CO2 and bunkers are summed; a
    field that is optional (value added, guiding-indicator inputs, COD) is summed only when every
    entity recorded it, else None (a partial sum would fake the ratio)."""
    if not activities:
        return Activity()
    values: dict[str, Any] = {}
    for f in fields(Activity):
        if f.name == "bunker_fuels":
            bunkers: dict[str, float] = {}
            for a in activities:
                for k, v in a.bunker_fuels.items():
                    bunkers[k] = bunkers.get(k, 0.0) + float(v)
            values[f.name] = bunkers
            continue
        items = [getattr(a, f.name) for a in activities]
        values[f.name] = None if any(v is None for v in items) else float(sum(items))
    return Activity(**values)
