"""Rooftop potential: roof areas per enterprise → installable kWp and annual yield on the typical
year.

Packing density (kWp per m² of usable roof), default usable share, tilt and mounting come from
energy/data/pv_defaults.yaml ('rooftop', with sources and assumptions stated there).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from energy.pv.arrays import PVArray, default_ac_kw, pv_defaults
from energy.pv.model import estimate_power_kw
from energy.site import Site
from energy.weather.typical_year import typical_year


def rooftop_arrays(roofs: pd.DataFrame, packing_kwp_per_m2: float | None = None) -> list[PVArray]:
    """One array per roof. ``roofs`` columns: ``enterprise``, ``roof_area_m2`` (required);
    ``code``, ``usable_share`` (0..1), ``tilt_deg``, ``azimuth_deg``, ``mounting``, ``zone``
    (optional; data-file defaults when absent or NaN). Capacity = area × usable share × packing;
    AC rating at the default DC/AC ratio."""
    d = pv_defaults()["rooftop"]
    packing = float(d["packing_kwp_per_m2"] if packing_kwp_per_m2 is None else packing_kwp_per_m2)

    def col(name: str, default: object) -> pd.Series:
        if name in roofs:
            return roofs[name].where(roofs[name].notna(), default)
        return pd.Series(default, index=roofs.index)

    codes = col("code", None)
    usable = col("usable_share", float(d["usable_share"])).astype(float)
    if ((usable < 0) | (usable > 1)).any():
        raise ValueError("usable_share must be within 0..1")
    kwp = roofs["roof_area_m2"].astype(float) * usable * packing
    arrays = []
    idx: Any  # a label of the roofs' index
    for i, (idx, row) in enumerate(roofs.iterrows()):
        if kwp[idx] <= 0:
            continue
        arrays.append(PVArray(
            code=f"{row['enterprise']}-roof{i + 1}" if pd.isna(codes[idx]) else str(codes[idx]),
            enterprise=str(row["enterprise"]),
            capacity_kwp=float(kwp[idx]),
            ac_kw=default_ac_kw(float(kwp[idx])),
            tilt_deg=float(col("tilt_deg", float(d["default_tilt_deg"]))[idx]),
            azimuth_deg=float(col("azimuth_deg", float(d["default_azimuth_deg"]))[idx]),
            mounting=str(col("mounting", d["default_mounting"])[idx]),  # type: ignore[arg-type]
            zone=str(col("zone", "")[idx]),
        ))
    return arrays


def rooftop_potential(roofs: pd.DataFrame, site: Site, year: int = 2025,
                      packing_kwp_per_m2: float | None = None) -> pd.DataFrame:
    """Per roof: ``code``, ``enterprise``, ``zone``, ``installable_kwp``, ``ac_kw``,
    ``annual_yield_kwh`` (typical year, AC) and ``specific_yield_kwh_per_kwp``."""
    arrays = rooftop_arrays(roofs, packing_kwp_per_m2)
    weather = typical_year(site, year)
    energy_kwh = estimate_power_kw(arrays, weather, site, year=year).sum()  # 1-h steps: kW → kWh
    kwp = np.array([a.capacity_kwp for a in arrays])
    return pd.DataFrame({
        "code": [a.code for a in arrays],
        "enterprise": [a.enterprise for a in arrays],
        "zone": [a.zone for a in arrays],
        "installable_kwp": kwp,
        "ac_kw": [a.ac_kw for a in arrays],
        "annual_yield_kwh": energy_kwh.to_numpy(),
        "specific_yield_kwh_per_kwp": energy_kwh.to_numpy() / kwp,
    })


def potential_by_enterprise(potential: pd.DataFrame) -> pd.DataFrame:
    """Sum :func:`rooftop_potential` per enterprise (kWp, kW, kWh) with the specific yield."""
    agg = potential.groupby("enterprise")[["installable_kwp", "ac_kw", "annual_yield_kwh"]].sum()
    agg["specific_yield_kwh_per_kwp"] = agg["annual_yield_kwh"] / agg["installable_kwp"]
    return agg
