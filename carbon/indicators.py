"""Park indicators from a ledger (formulas: GB/T 2589-2020 and the zero-carbon park notice's
附件3 and 附件4, see carbon/README.md).

An indicator whose inputs were not recorded is None, never a fake 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from carbon.accounting import Ledger


@dataclass(frozen=True)
class Indicators:
    scope: str
    code: str
    period: str
    factor_set: str
    energy_tce: float
    co2_t: float
    value_added_10k_yuan: float | None
    energy_intensity_tce_per_10k_yuan: float | None
    energy_intensity_excl_renewable_electricity_tce_per_10k_yuan: float | None
    energy_intensity_assessed_tce_per_10k_yuan: float | None
    """Intensity as assessed under the policy's rule (113号: renewable electricity deducted)."""
    energy_intensity_base_tce_per_10k_yuan: float | None
    energy_intensity_change_vs_base_pct: float | None
    co2_per_energy_t_per_tce: float | None  # core indicator (co2_t, policy's scope-2 method)
    co2_per_energy_location_based_t_per_tce: float | None
    clean_energy_share_pct: float | None
    solid_waste_utilisation_pct: float | None
    waste_heat_utilisation_pct: float | None
    water_reuse_pct: float | None
    cod_intensity_kg_per_10k_yuan: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ratio(num: float | None, den: float | None, scale: float = 1.0) -> float | None:
    if num is None or den is None or den <= 0:
        return None
    return num / den * scale


def compute_indicators(
    ledger: Ledger,
    base: Ledger | float | None = None,
) -> Indicators:
    """Indicators of one ledger.

    base: the 2025 base-year ledger, or its energy intensity in tce/10k yuan; gives
    energy_intensity_change_vs_base_pct = (I / I_base − 1) × 100.
    Solid waste: utilised / (generated + utilised from storage) × 100; waste heat: used /
    available × 100; water reuse: reused / (reused + withdrawn) × 100.
    """
    a: Mapping[str, Any] = ledger.inputs["activity"]
    va = a.get("value_added_10k_yuan")
    intensity = _ratio(ledger.energy_tce, va)
    if isinstance(base, Ledger):
        base_intensity = _ratio(base.energy_tce, base.inputs["activity"]["value_added_10k_yuan"])
    else:
        base_intensity = base
    assessed = _ratio(ledger.energy_tce_for_intensity_assessed, va)
    change = None
    if intensity is not None and base_intensity is not None and base_intensity > 0:
        change = (intensity / base_intensity - 1.0) * 100.0

    sw_gen, sw_use = a.get("solid_waste_generated_t"), a.get("solid_waste_utilised_t")
    sw_den = None if sw_gen is None else sw_gen + (a.get("solid_waste_utilised_from_storage_t")
                                                    or 0.0)
    reused, withdrawn = a.get("water_reused_m3"), a.get("water_withdrawn_m3")
    water_den = None if reused is None or withdrawn is None else reused + withdrawn
    energy = ledger.energy_tce if ledger.energy_tce > 0 else None
    return Indicators(
        scope=ledger.scope,
        code=ledger.code,
        period=ledger.period,
        factor_set=ledger.factor_set,
        energy_tce=ledger.energy_tce,
        co2_t=ledger.co2_t,
        value_added_10k_yuan=va,
        energy_intensity_tce_per_10k_yuan=intensity,
        energy_intensity_excl_renewable_electricity_tce_per_10k_yuan=_ratio(
            ledger.energy_tce_excl_renewable_electricity, va
        ),
        energy_intensity_assessed_tce_per_10k_yuan=assessed,
        energy_intensity_base_tce_per_10k_yuan=base_intensity,
        energy_intensity_change_vs_base_pct=change,
        co2_per_energy_t_per_tce=_ratio(ledger.co2_t, energy),
        co2_per_energy_location_based_t_per_tce=_ratio(ledger.co2_location_based_t, energy),
        clean_energy_share_pct=_ratio(ledger.clean_energy_tce, energy, 100.0),
        solid_waste_utilisation_pct=_ratio(sw_use, sw_den, 100.0),
        waste_heat_utilisation_pct=_ratio(
            a.get("waste_heat_used_gj"), a.get("waste_heat_available_gj"), 100.0
        ),
        water_reuse_pct=_ratio(reused, water_den, 100.0),
        cod_intensity_kg_per_10k_yuan=_ratio(a.get("cod_kg"), va),
    )


_NEEDS: dict[str, str] = {
    "value_added_10k_yuan": "value_added_10k_yuan not recorded for the whole period",
    "energy_intensity_tce_per_10k_yuan": "needs value_added_10k_yuan for the whole period",
    "energy_intensity_assessed_tce_per_10k_yuan": "needs value_added_10k_yuan for the whole period",
    "energy_intensity_excl_renewable_electricity_tce_per_10k_yuan":
        "needs value_added_10k_yuan for the whole period",
    "energy_intensity_base_tce_per_10k_yuan":
        "no base-year ledger with energy and value added",
    "energy_intensity_change_vs_base_pct": "needs this period's and the base year's intensity",
    "co2_per_energy_t_per_tce": "no energy use in the period",
    "co2_per_energy_location_based_t_per_tce": "no energy use in the period",
    "clean_energy_share_pct": "no energy use in the period",
    "solid_waste_utilisation_pct":
        "needs solid_waste_generated_t and solid_waste_utilised_t for the whole period",
    "waste_heat_utilisation_pct":
        "needs waste_heat_available_gj (> 0) and waste_heat_used_gj for the whole period",
    "water_reuse_pct": "needs water_withdrawn_m3 and water_reused_m3 for the whole period",
    "cod_intensity_kg_per_10k_yuan": "needs cod_kg and value_added_10k_yuan for the whole period",
}


def null_reasons(ind: Indicators) -> dict[str, str]:
    """Why each None indicator is None (a None never stands alone)."""
    return {k: _NEEDS.get(k, "inputs not recorded") for k, v in ind.to_dict().items()
            if v is None}


def history_frame(indicators_by_year: Mapping[int, Indicators]) -> pd.DataFrame:
    """Yearly indicators as a DataFrame indexed by year (the input of `target_status`)."""
    rows = {int(y): ind.to_dict() for y, ind in indicators_by_year.items()}
    df = pd.DataFrame.from_dict(rows, orient="index").sort_index()
    df.index.name = "year"
    return df
