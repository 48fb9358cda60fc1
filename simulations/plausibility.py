"""Plausibility of planning inputs: ranges in data/plausibility.yaml (with sources); a scenario
outside a range still runs and carries a warning naming the field, the value, the range and the
reason."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import yaml

from simulations.scenario import DATA_DIR, Scenario


@lru_cache(maxsize=1)
def plausible_ranges() -> dict[str, dict[str, Any]]:
    text = (DATA_DIR / "plausibility.yaml").read_text(encoding="utf-8")
    return dict(yaml.safe_load(text)["ranges"])


def _warning(field: str, key: str, value: float, what: str) -> dict[str, Any] | None:
    rng = plausible_ranges()[key]
    if rng["min"] <= value <= rng["max"]:
        return None
    side = "above" if value > rng["max"] else "below"
    reason = " ".join(rng["reason"].split())
    return {
        "field": field, "value": round(value, 3), "unit": rng["unit"],
        "plausible_min": rng["min"], "plausible_max": rng["max"],
        "message": f"{what} {value:,.3g} {rng['unit']} is {side} the plausible range "
                   f"{rng['min']:,}–{rng['max']:,} {rng['unit']}: {reason}",
        "sources": list(rng["sources"]),
    }


def input_warnings(scenario: Scenario) -> list[dict[str, Any]]:
    """Warnings on the scenario's own inputs (before it runs)."""
    from energy.storage import default_station

    out = []
    for i, line in enumerate(scenario.direct_lines):
        if line.shape == "solar" and line.annual_energy_mwh > 0:
            hours = line.annual_energy_mwh / line.power_mw
            out.append(_warning(f"direct_lines.{i}.annual_energy_mwh",
                                "solar_full_load_hours", hours,
                                "a solar-shaped direct line's full-load hours"))
    for i, unit in enumerate(scenario.storage):
        spec = default_station().with_(**unit.parameters)
        rte = spec.eta_charge * spec.eta_discharge
        if spec.aux_load_mw <= 0:
            out.append(_warning(f"storage.{i}.parameters", "storage_round_trip_efficiency", rte,
                                "round-trip efficiency with no auxiliary load"))
    return [w for w in out if w is not None]


def yield_warnings(pv_kwp: float, pv_mwh: float, year: int) -> list[dict[str, Any]]:
    """A warning when the simulated rooftop PV's specific yield leaves the plausible range."""
    if pv_kwp <= 0:
        return []
    w = _warning(f"years.{year}.pv_mwh", "pv_specific_yield", pv_mwh * 1000.0 / pv_kwp,
                 f"the rooftop PV specific yield in {year}")
    return [w] if w else []
